#!/bin/sh
# Regenerates the golden files of the inventory corpus with the real Ansible.
# Run from anywhere where ansible-core is installed (Debian: apt-get install
# ansible-core); `go test ./inventory` then compares murderctl against these
# goldens without needing Ansible.
#
# For each case in corpus/NAME/ (sources listed in SOURCES, host patterns in
# the optional PATTERNS), it writes:
#   golden/list.json      ansible-inventory --list
#   golden/graph.txt      ansible-inventory --graph
#   golden/patterns.json  {"pattern": [hosts...]} from ansible PATTERN --list-hosts
#   golden/error          instead of the above, when Ansible refuses the inventory
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v ansible-inventory >/dev/null || { echo "regen.sh: ansible-inventory not found (apt-get install ansible-core)" >&2; exit 1; }
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT INT TERM
# A clean, strict Ansible: no user config, every unparsable source an error.
export HOME="$home" ANSIBLE_INVENTORY_UNPARSED_FAILED=True ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED=True \
	ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_INVENTORY_UNPARSED_WARNING=False ANSIBLE_DEPRECATION_WARNINGS=False
unset ANSIBLE_CONFIG ANSIBLE_INVENTORY 2>/dev/null || true
for dir in "$here"/corpus/*/; do
	name=$(basename "$dir")
	cd "$dir"
	rm -rf golden && mkdir golden
	set --
	while IFS= read -r src; do
		[ -n "$src" ] && set -- "$@" -i "$src"
	done < SOURCES
	if ! ansible-inventory "$@" --list > golden/list.json 2> golden/stderr; then
		rm -f golden/list.json
		grep -v '^\s*$' golden/stderr | head -n 5 > golden/error
		rm -f golden/stderr
		echo "$name: error"
		continue
	fi
	rm -f golden/stderr
	ansible-inventory "$@" --graph > golden/graph.txt 2>/dev/null
	if [ -f PATTERNS ]; then
		python3 - "$@" <<'PY' > golden/patterns.json
import json, subprocess, sys
args = sys.argv[1:]
out = {}
for pat in open("PATTERNS").read().splitlines():
    if not pat:
        continue
    r = subprocess.run(["ansible"] + args + ["--list-hosts", "--", pat], capture_output=True, text=True)
    hosts = [l.strip() for l in r.stdout.splitlines()[1:] if l.strip()] if r.returncode == 0 else []
    out[pat] = hosts
print(json.dumps(out, indent=4, sort_keys=True))
PY
	fi
	echo "$name: ok"
done
