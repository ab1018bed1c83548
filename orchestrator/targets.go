package orchestrator

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-shellwords"

	"github.com/murderctl/murderctl/inventory"
	"github.com/murderctl/murderctl/sshx"
)

// TargetOptions are what applies beyond a host's own variables.
type TargetOptions struct {
	ConnectTimeout  time.Duration
	KnownHostsFiles []string // default ~/.ssh/known_hosts
	Home            string   // for ~ expansion; default $HOME
}

// TargetFromHost resolves an inventory host into a Target, as Ansible's ssh
// connection plugin would. It refuses what it cannot honour (a Jinja
// template, an unsupported ssh option, become) rather than ignore it.
func TargetFromHost(h *inventory.Host, d inventory.ConnDefaults, o TargetOptions) (Target, error) {
	c, err := h.Connection(d)
	if err != nil {
		return Target{}, err
	}
	if len(c.Templated) > 0 {
		return Target{}, fmt.Errorf("host %s: %s holds a Jinja template ({{ ... }}); murderctl does not expand templates, set the value literally",
			h.Name, strings.Join(c.Templated, ", "))
	}
	if conn, _ := h.Vars["ansible_connection"].(string); conn != "" && conn != "ssh" && conn != "smart" && conn != "paramiko" {
		return Target{}, fmt.Errorf("host %s: ansible_connection=%s is not supported: murderctl connects over ssh", h.Name, conn)
	}
	cfg := sshx.Config{
		Host:                  c.Address,
		Port:                  c.Port,
		User:                  c.User,
		Password:              c.Password,
		UseAgent:              true,
		KnownHostsFiles:       o.KnownHostsFiles,
		InsecureIgnoreHostKey: !c.HostKeyChecking,
		ConnectTimeout:        o.ConnectTimeout,
	}
	if c.PrivateKeyFile != "" {
		cfg.KeyFiles = []string{c.PrivateKeyFile}
	}
	if args := strings.TrimSpace(c.SSHCommonArgs + " " + c.SSHExtraArgs); args != "" {
		if err := applySSHArgs(&cfg, args, o.Home); err != nil {
			return Target{}, fmt.Errorf("host %s: ansible_ssh_common_args/extra_args: %w", h.Name, err)
		}
	}
	t := Target{Name: h.Name, SSH: cfg, Vars: h.Vars}
	if c.Become {
		if err := checkBecome(c); err != nil {
			return Target{}, fmt.Errorf("host %s: %w", h.Name, err)
		}
		t.BecomeUser = c.BecomeUser
		t.BecomePassword = c.BecomePassword
	}
	return t, nil
}

// checkBecome accepts what the peer launch can honour: sudo, to any user,
// with or without a password (see become.go). Errors never quote the
// password.
func checkBecome(c inventory.Connection) error {
	switch {
	case c.BecomeMethod != "sudo":
		return fmt.Errorf("ansible_become_method=%s is not supported: murderctl becomes with sudo only", c.BecomeMethod)
	case strings.TrimSpace(c.BecomeUser) == "":
		return fmt.Errorf("ansible_become_user is empty: name the user to become (default root)")
	case strings.ContainsAny(c.BecomeUser, "\n\x00"):
		return fmt.Errorf("ansible_become_user holds a newline or NUL")
	case strings.ContainsAny(c.BecomePassword, "\n\r\x00"):
		return fmt.Errorf("ansible_become_password holds a newline or NUL: sudo reads the password as one line")
	}
	return nil
}

func expandHome(p, home string) string {
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	if p == "~" {
		return home
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(home, p[2:])
	}
	return p
}

// applySSHArgs honours the OpenSSH options operators put in
// ansible_ssh_common_args. Unknown options are refused, not ignored.
func applySSHArgs(cfg *sshx.Config, args, home string) error {
	words, err := shellwords.Parse(args)
	if err != nil {
		return fmt.Errorf("cannot split %q: %w", args, err)
	}
	var st sshArgState
	for i := 0; i < len(words); i++ {
		w := words[i]
		next := func() (string, error) {
			if i+1 >= len(words) {
				return "", fmt.Errorf("%s needs a value", w)
			}
			i++
			return words[i], nil
		}
		switch {
		case w == "-o" || (strings.HasPrefix(w, "-o") && len(w) > 2):
			opt := strings.TrimPrefix(w, "-o")
			if opt == "" {
				if opt, err = next(); err != nil {
					return err
				}
			}
			if err := applySSHOption(cfg, &st, opt, home); err != nil {
				return err
			}
		case w == "-J":
			val, err := next()
			if err != nil {
				return err
			}
			if err := applySSHOption(cfg, &st, "ProxyJump="+val, home); err != nil {
				return err
			}
		case w == "-p" || w == "-l" || w == "-i":
			val, err := next()
			if err != nil {
				return err
			}
			opt := map[string]string{"-p": "Port", "-l": "User", "-i": "IdentityFile"}[w]
			if err := applySSHOption(cfg, &st, opt+"="+val, home); err != nil {
				return err
			}
		case w == "-C" || w == "-q" || w == "-v" || w == "-T" || w == "-x" || w == "-4" || w == "-6":
			// Flags with no bearing on what murderctl does.
		default:
			return fmt.Errorf("unsupported ssh argument %q", w)
		}
	}
	st.finish(cfg, home)
	return nil
}
