//go:build !linux

package swarm

// startWriteback is a no-op where sync_file_range does not exist: the
// final fsync does all the writing.
func startWriteback(uintptr) {}
