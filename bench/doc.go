// Package bench holds the fleet benchmarks of issue 3: murderctl deploy on
// the real OpenSSH test fleet (package testfleet) against one scp, Ansible
// copy and an aria2 + opentracker swarm, on tc-limited links. The code is
// all in _test files; run it as root with `make bench`, which prints one
// markdown table (see docs/benchmarks.md). It is not part of CI.
package bench
