# murderctl's build, test and benchmark entry points. `make test` is what CI
# runs (see .ci/run); it needs root for the end-to-end fleet tests.

GO        ?= go
BIN       ?= bin
GOFLAGS_STATIC = CGO_ENABLED=0
LDFLAGS   = -s -w
# anacrolix/torrent options we never use: no bolt/sqlite piece stores, no cgo uTP.
TAGS      = noboltdb,nosqlite,disable_libutp
PLATFORMS ?= linux/amd64 linux/arm64

.PHONY: deps build cross test test-steps test-unit test-vendored test-e2e fuzz bench demo goldens vet clean

build:
	$(GOFLAGS_STATIC) $(GO) build -tags $(TAGS) -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/murderctl ./cmd/murderctl
	$(GOFLAGS_STATIC) $(GO) build -tags $(TAGS) -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/murderctl-peer ./cmd/murderctl-peer

# Peer binaries for other platforms, found by murderctl beside itself.
cross:
	@for p in $(PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; \
	  echo "murderctl-peer-$$os-$$arch"; \
	  GOOS=$$os GOARCH=$$arch $(GOFLAGS_STATIC) $(GO) build -tags $(TAGS) -trimpath -ldflags '$(LDFLAGS)' \
	    -o $(BIN)/murderctl-peer-$$os-$$arch ./cmd/murderctl-peer || exit 1; done

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

# Everything: vet, unit tests with the race detector (which also run every
# fuzz seed), a short fuzz run bounded by inputs, not time (a time budget can
# expire mid-input and fail the run with "context deadline exceeded"),
# the README's demo command as written, and the end-to-end tests on the real
# OpenSSH fleet (root).
test: deps vet
	bash scripts/scratch-tmp $(MAKE) test-steps

test-steps:
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v -e /e2e -e /bench)
	$(MAKE) test-vendored
	$(MAKE) fuzz FUZZTIME=3000x
	$(GO) run ./cmd/murderctl demo
	$(GO) test -count=1 -v -timeout 40m ./e2e/

# What the tests need from Debian's packages, installed when missing.
deps:
	bash scripts/test-deps

test-unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v -e /e2e -e /bench)
	$(MAKE) test-vendored

# The tests of murderctl's patches to the vendored anacrolix/torrent, a module
# of its own, so ./... above does not reach them.
test-vendored:
	cd third_party/anacrolix-torrent && $(GO) test -race -count=1 .

test-e2e:
	$(GO) test -count=1 -v -timeout 40m ./e2e/

FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseAnnounce$$' -fuzztime $(FUZZTIME) ./tracker/
	$(GO) test -run '^$$' -fuzz '^FuzzParseINI$$' -fuzztime $(FUZZTIME) ./inventory/
	$(GO) test -run '^$$' -fuzz '^FuzzParseYAML$$' -fuzztime $(FUZZTIME) ./inventory/
	$(GO) test -run '^$$' -fuzz '^FuzzParseConfigLine$$' -fuzztime $(FUZZTIME) ./swarm/

# The fleet benchmark of issue 3 (root; see docs/benchmarks.md). It builds
# its own static binaries and prints one markdown table at the end. One case:
# make bench BENCH='BenchmarkMurderctl/N=50$$'
BENCH ?= .
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime 1x -timeout 120m -v ./bench/

demo:
	$(GO) run ./cmd/murderctl demo

# Regenerate the inventory goldens with the real ansible-inventory.
goldens:
	./inventory/testdata/regen.sh

clean:
	rm -rf $(BIN)
