package orchestrator

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-shellwords"

	"github.com/murderctl/murderctl/sshx"
)

// ignoredSSHOptions change nothing murderctl's SSH client does (connection
// sharing, logging, agent and auth-method preferences), so they are accepted.
var ignoredSSHOptions = map[string]bool{
	"controlmaster": true, "controlpersist": true, "controlpath": true,
	"serveraliveinterval": true, "serveralivecountmax": true, "compression": true,
	"loglevel": true, "forwardagent": true, "pubkeyauthentication": true,
	"passwordauthentication": true, "kbdinteractiveauthentication": true,
	"gssapiauthentication": true, "identitiesonly": true, "addkeystoagent": true,
	"hashknownhosts": true, "checkhostip": true, "batchmode": true,
	"preferredauthentications": true, "tcpkeepalive": true,
}

// sshArgState is what one ansible_ssh_*_args string sets that only makes
// sense once every option has been read.
type sshArgState struct {
	globals []string // GlobalKnownHostsFile entries
}

// finish adds the global known_hosts files beside the user's (murderctl
// reads no system-wide file by default).
func (st *sshArgState) finish(cfg *sshx.Config, home string) {
	if len(st.globals) == 0 {
		return
	}
	if len(cfg.KnownHostsFiles) == 0 {
		cfg.KnownHostsFiles = []string{expandHome("~/.ssh/known_hosts", home)}
	}
	cfg.KnownHostsFiles = append(cfg.KnownHostsFiles, st.globals...)
}

// applySSHOption applies one `-o Key=Value` (or `Key Value`) option.
func applySSHOption(cfg *sshx.Config, st *sshArgState, opt, home string) error {
	key, val, ok := strings.Cut(opt, "=")
	if !ok {
		key, val, ok = strings.Cut(strings.TrimSpace(opt), " ")
	}
	key, val = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(val)
	if !ok || val == "" {
		return fmt.Errorf("ssh option %q has no value", opt)
	}
	switch key {
	case "userknownhostsfile":
		cfg.KnownHostsFiles = nil
		for _, f := range strings.Fields(val) {
			cfg.KnownHostsFiles = append(cfg.KnownHostsFiles, expandHome(f, home))
		}
	case "globalknownhostsfile":
		// Kept apart so a later UserKnownHostsFile does not drop them;
		// applySSHArgs adds them beside the user's files at the end.
		st.globals = nil
		for _, f := range strings.Fields(val) {
			if f != "/dev/null" {
				st.globals = append(st.globals, expandHome(f, home))
			}
		}
	case "stricthostkeychecking":
		switch strings.ToLower(val) {
		case "yes", "ask", "true":
			cfg.InsecureIgnoreHostKey = false
		case "no", "off", "false":
			cfg.InsecureIgnoreHostKey = true
		default:
			return fmt.Errorf("StrictHostKeyChecking=%s is not supported (use yes or no)", val)
		}
	case "port":
		p, err := strconv.Atoi(val)
		if err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("Port=%s is not a port number", val)
		}
		cfg.Port = p
	case "user":
		cfg.User = val
	case "identityfile":
		cfg.KeyFiles = append([]string{expandHome(val, home)}, cfg.KeyFiles...)
	case "connecttimeout":
		s, err := strconv.Atoi(val)
		if err != nil || s < 0 {
			return fmt.Errorf("ConnectTimeout=%s is not a number of seconds", val)
		}
		cfg.ConnectTimeout = time.Duration(s) * time.Second
	case "proxyjump":
		if strings.EqualFold(val, "none") {
			cfg.Jump = nil
			return nil
		}
		return setJumps(cfg, strings.Split(val, ","))
	case "proxycommand":
		jump, err := jumpFromProxyCommand(val)
		if err != nil {
			return err
		}
		return setJumps(cfg, []string{jump})
	default:
		if !ignoredSSHOptions[key] {
			return fmt.Errorf("unsupported ssh option %q", opt)
		}
	}
	return nil
}

// setJumps chains ProxyJump hops: the first hop is dialled directly, each
// later one through the one before. Hops inherit keys and host-key policy.
func setJumps(cfg *sshx.Config, hops []string) error {
	var chain *sshx.Config
	for _, hop := range hops {
		j, err := parseJump(strings.TrimSpace(hop), *cfg)
		if err != nil {
			return err
		}
		j.Jump = chain
		chain = &j
	}
	cfg.Jump = chain
	return nil
}

// parseJump reads [user@]host[:port] (or ssh://user@host:port).
func parseJump(s string, base sshx.Config) (sshx.Config, error) {
	s = strings.TrimPrefix(s, "ssh://")
	j := sshx.Config{
		User: base.User, KeyFiles: base.KeyFiles, UseAgent: base.UseAgent,
		KnownHostsFiles: base.KnownHostsFiles, InsecureIgnoreHostKey: base.InsecureIgnoreHostKey,
		ConnectTimeout: base.ConnectTimeout,
	}
	if u, h, ok := strings.Cut(s, "@"); ok {
		j.User, s = u, h
	}
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		if end := strings.Index(s, "]"); end > 0 {
			host, port = s[1:end], strings.TrimPrefix(s[end+1:], ":")
		}
	} else if h, p, ok := strings.Cut(s, ":"); ok && !strings.Contains(p, ":") {
		host, port = h, p
	}
	if host == "" {
		return j, fmt.Errorf("ProxyJump %q names no host", s)
	}
	j.Host = host
	if port != "" {
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return j, fmt.Errorf("ProxyJump %q: bad port", s)
		}
		j.Port = p
	}
	return j, nil
}

// jumpFromProxyCommand understands the usual `ssh -W %h:%p [user@]jump`
// form and turns it into a jump host; anything else is refused.
func jumpFromProxyCommand(cmd string) (string, error) {
	words, err := shellwords.Parse(cmd)
	if err != nil || len(words) == 0 || !strings.HasSuffix(words[0], "ssh") {
		return "", fmt.Errorf("ProxyCommand %q is not supported; only `ssh -W %%h:%%p [user@]host` (or use ProxyJump)", cmd)
	}
	var host, port, user string
	sawW := false
	for i := 1; i < len(words); i++ {
		switch w := words[i]; {
		case w == "-W" && i+1 < len(words) && words[i+1] == "%h:%p":
			sawW = true
			i++
		case (w == "-p" || w == "-l") && i+1 < len(words):
			if w == "-p" {
				port = words[i+1]
			} else {
				user = words[i+1]
			}
			i++
		case w == "-q" || w == "-C" || w == "-4" || w == "-6":
		case strings.HasPrefix(w, "-"):
			return "", fmt.Errorf("ProxyCommand %q: unsupported ssh argument %q", cmd, w)
		default:
			if host != "" {
				return "", fmt.Errorf("ProxyCommand %q: more than one host", cmd)
			}
			host = w
		}
	}
	if !sawW || host == "" {
		return "", fmt.Errorf("ProxyCommand %q is not supported; only `ssh -W %%h:%%p [user@]host`", cmd)
	}
	if u, h, ok := strings.Cut(host, "@"); ok {
		user, host = u, h
	}
	if port != "" {
		host = "[" + host + "]:" + port
	}
	if user != "" {
		host = user + "@" + host
	}
	return host, nil
}
