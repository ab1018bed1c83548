// Package orchestrator composes inventory targets, the SSH transport, the
// tracker and the swarm into a deploy, and is the public Go API for
// Fabric-like scripting: a Group of hosts that can Run commands and Put
// files, and Deploy to push one file peer-to-peer.
//
// Every per-host outcome is a Result value; nothing here prints. The
// command-line front end renders Results and maps them to exit codes.
package orchestrator
