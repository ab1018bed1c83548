// Package testfleet builds a real fleet of OpenSSH hosts on one Linux
// machine, for end-to-end tests and benchmarks. It needs root, iproute2
// (ip, tc), util-linux (unshare, nsenter) and Debian's openssh-server.
//
// Layout of a fleet named "e2e" (namespace names carry the owning process
// id and a sequence number, so parallel and leftover runs never clash):
//
//	         netns mf-e2e-<pid>x<seq>-sw   (the "switch": bridge br0)
//	     ┌────────────┬────────────┬── ... ──┐
//	veth ctl     veth h01     veth h02    veth hNN     <- tbf on egress (host's download)
//	     │            │            │          │
//	 eth0 .1      eth0 .11     eth0 .12   eth0 .(10+N) <- tbf on egress (host's upload)
//	netns -ctl   netns -h01   netns -h02   netns -hNN
//	(murderctl)   sshd :22     sshd :22     sshd :22
//	              private mount namespace per host:
//	              /root /tmp /var/tmp /srv /etc/ssh bind-mounted from <Dir>/hNN/...
//
// Nothing is added to the root network namespace: the bridge lives in its
// own switch namespace, and the control node (where murderctl, ssh and scp
// run, see ControlCommand, ControlDial and ControlListen) has its own veth,
// so its uplink can be rate limited and its bytes counted.
//
// Each host runs a small anchor process (sleep) that owns the host's mount
// namespace; sshd and HostCommand enter it with nsenter. Every host has its
// own generated ed25519 host key; one fleet user key is authorized for root
// everywhere, and KnownHostsFile lists every host key.
//
// Typical use in an end-to-end test:
//
//	f := testfleet.Start(t, testfleet.Options{N: 20, RateMbit: 50, Name: "e2e"})
//	f.WriteInventory(inv, testfleet.InventoryOptions{})
//	cmd := f.ControlCommand(ctx, murderctlBin, "deploy", "-i", inv, file, "--dest", "/srv/")
//	cmd.Env = f.ControlEnv() // ~/.ssh/known_hosts and the key
//	tx0, _ := f.ControlTxBytes(); err := cmd.Run(); tx1, _ := f.ControlTxBytes()
//	os.ReadFile(f.Hosts[3].Path("/srv/pkg.tar.gz"))
//
// Hosts are indexed from 0 (Hosts[0] is named "h01"). Cleanup is Close, which
// Start registers with t.Cleanup; New first sweeps namespaces left by runs
// whose process is gone, and HandleSignals closes live fleets on SIGINT.
package testfleet
