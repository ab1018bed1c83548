package sshserver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// signals maps SSH signal names (RFC 4254 6.9) to Unix signals.
var signals = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "FPE": syscall.SIGFPE,
	"HUP": syscall.SIGHUP, "ILL": syscall.SIGILL, "INT": syscall.SIGINT,
	"KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE, "QUIT": syscall.SIGQUIT,
	"SEGV": syscall.SIGSEGV, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2, "STOP": syscall.SIGSTOP, "CONT": syscall.SIGCONT,
}

func signalName(sig syscall.Signal) string {
	for n, s := range signals {
		if s == sig {
			return n
		}
	}
	return "SIG" + strconv.Itoa(int(sig))
}

// outputGrace is how long a session's output may still flow after its shell
// exited (from background processes holding stdout) before it is cut off.
const outputGrace = 5 * time.Second

// session is one "session" channel: at most one exec or subsystem.
type session struct {
	s   *Server
	ch  ssh.Channel
	log *slog.Logger

	mu      sync.Mutex
	started bool
	pgid    int // process group of the running command, 0 when none
}

func (s *Server) serveSession(nch ssh.NewChannel, log *slog.Logger) {
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	ss := &session{s: s, ch: ch, log: log}
	var wg sync.WaitGroup
	for req := range reqs {
		ok := false
		switch req.Type {
		case "exec":
			var p struct{ Command string }
			if ssh.Unmarshal(req.Payload, &p) == nil && ss.claim() {
				// Reply before starting, so a command that ends at once
				// cannot close the channel ahead of the reply.
				req.Reply(true, nil)
				ss.startExec(p.Command, &wg)
				continue
			}
		case "subsystem":
			var p struct{ Name string }
			if ssh.Unmarshal(req.Payload, &p) == nil && p.Name == "sftp" && ss.claim() {
				ok = true
				wg.Add(1)
				go func() {
					defer wg.Done()
					ss.serveSFTP()
				}()
			}
		case "signal":
			var p struct{ Signal string }
			if ssh.Unmarshal(req.Payload, &p) == nil {
				ok = ss.signal(p.Signal)
			}
		}
		// env, pty-req, shell, x11-req and the rest are refused.
		if req.WantReply {
			req.Reply(ok, nil)
		}
	}
	// The client closed the channel: no orphans.
	ss.kill()
	ch.Close()
	wg.Wait()
}

func (ss *session) claim() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.started {
		return false
	}
	ss.started = true
	return true
}

// startExec runs command; when it cannot start, the session reports exit
// status 127 as a shell would.
func (ss *session) startExec(command string, wg *sync.WaitGroup) {
	home := ss.s.opts.Home
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Dir = home
	cmd.Env = append([]string{"HOME=" + home, "USER=" + userName(), "PATH=" + os.Getenv("PATH"), "SHELL=/bin/sh"}, ss.s.opts.Env...)
	cmd.Stdout = ss.ch
	cmd.Stderr = ss.ch.Stderr()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A process that left the group but still holds stdout must not keep the
	// session (and Server.Close) waiting forever once the shell has exited.
	cmd.WaitDelay = outputGrace
	stdin, err := cmd.StdinPipe()
	if err == nil {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		err = cmd.Start()
	}
	if err != nil {
		ss.log.Warn("sshserver exec", "err", err)
		fmt.Fprintf(ss.ch.Stderr(), "sshserver: %v\n", err)
		ss.ch.SendRequest("exit-status", false, []byte{0, 0, 0, 127})
		ss.ch.Close()
		return
	}
	ss.pgid = cmd.Process.Pid
	if !ss.s.addGroup(ss.pgid) {
		syscall.Kill(-ss.pgid, syscall.SIGKILL)
	}
	ss.log.Debug("sshserver exec", "pid", cmd.Process.Pid, "cmd", command)
	go func() {
		io.Copy(stdin, ss.ch) // ends at the client's EOF or channel close
		stdin.Close()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := cmd.Wait() // also waits for stdout and stderr to drain
		ss.mu.Lock()
		ss.s.dropGroup(ss.pgid)
		ss.mu.Unlock()
		ss.sendExit(cmd.ProcessState, err)
		ss.ch.CloseWrite()
		ss.ch.Close()
	}()
}

func (ss *session) sendExit(ps *os.ProcessState, err error) {
	if ps == nil {
		ss.log.Warn("sshserver wait", "err", err)
		return
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		ss.ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
			Signal     string
			CoreDumped bool
			Error      string
			Lang       string
		}{signalName(ws.Signal()), ws.CoreDump(), "", ""}))
		return
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(ps.ExitCode()))
	ss.ch.SendRequest("exit-status", false, b[:])
}

// signal forwards a "signal" request to the command's process group.
func (ss *session) signal(name string) bool {
	sig, ok := signals[name]
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if !ok || ss.pgid == 0 {
		return false
	}
	return syscall.Kill(-ss.pgid, sig) == nil
}

// kill ends the command's whole process group, if it may still exist.
func (ss *session) kill() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.pgid != 0 {
		syscall.Kill(-ss.pgid, syscall.SIGKILL)
	}
}

func (ss *session) serveSFTP() {
	defer ss.ch.Close()
	srv, err := sftp.NewServer(ss.ch, sftp.WithServerWorkingDirectory(ss.s.opts.Home))
	if err != nil {
		ss.log.Warn("sshserver sftp", "err", err)
		return
	}
	if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
		ss.log.Debug("sshserver sftp ended", "err", err)
	}
	srv.Close()
}

// forward serves a direct-tcpip channel (ssh -J through this server).
func (s *Server) forward(nch ssh.NewChannel, connDone <-chan struct{}, log *slog.Logger) {
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &p); err != nil {
		nch.Reject(ssh.ConnectionFailed, "bad direct-tcpip request")
		return
	}
	addr := net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port)))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		conn.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	log.Debug("sshserver forward", "to", addr)
	done := make(chan struct{}, 2)
	go func() { io.Copy(conn, ch); conn.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(ch, conn); ch.CloseWrite(); done <- struct{}{} }()
	for range 2 {
		select {
		case <-done:
		case <-connDone:
		}
	}
	conn.Close()
	ch.Close()
}

func userName() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "user"
}
