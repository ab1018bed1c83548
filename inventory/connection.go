package inventory

import (
	"fmt"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// ConnDefaults are the settings that apply when a host sets none: from
// ansible.cfg / ANSIBLE_* (see package ansiblecfg) and the command line.
type ConnDefaults struct {
	RemoteUser      string // remote_user; "" means the local user
	PrivateKeyFile  string // private_key_file
	Port            int    // 0 means 22
	HostKeyChecking bool   // host_key_checking (Ansible's default is true)
	Home            string // for ~ expansion; "" means the current user's home
}

// Connection is how to reach one host, resolved from its variables.
type Connection struct {
	Host           string // inventory name
	Address        string // ansible_host / ansible_ssh_host, else the name
	Port           int    // ansible_port / ansible_ssh_port, else 22
	User           string // ansible_user / ansible_ssh_user, else defaults
	PrivateKeyFile string // ansible_ssh_private_key_file / ansible_private_key_file, ~ expanded
	Password       string // ansible_password / ansible_ssh_pass (empty when unset)
	SSHCommonArgs  string // ansible_ssh_common_args, verbatim
	SSHExtraArgs   string // ansible_ssh_extra_args, verbatim
	// HostKeyChecking is false when ansible_host_key_checking /
	// ansible_ssh_host_key_checking or the defaults turn it off.
	HostKeyChecking bool
	Become          bool   // ansible_become
	BecomeUser      string // ansible_become_user (default root)
	BecomeMethod    string // ansible_become_method (default sudo)
	BecomePassword  string // ansible_become_password / ansible_become_pass
	// Templated lists variables whose values hold Jinja ("{{" or "{%"),
	// which murderctl does not expand: callers must refuse or warn rather
	// than send them to a host.
	Templated []string
}

// Connection resolves the host's connection settings. It fails when a
// connection variable has a value of the wrong type (a port that is not a
// number, a user that is a list).
func (h *Host) Connection(d ConnDefaults) (Connection, error) {
	c := Connection{Host: h.Name, Address: h.Name, Port: 22, HostKeyChecking: d.HostKeyChecking,
		BecomeUser: "root", BecomeMethod: "sudo"}
	if d.Port != 0 {
		c.Port = d.Port
	}
	// As in Ansible's connection plugins, the last listed variable that is
	// defined wins (ansible_ssh_user over ansible_user).
	str := func(names ...string) (string, bool, error) {
		for i := len(names) - 1; i >= 0; i-- {
			n := names[i]
			v, ok := h.Vars[n]
			if !ok || v == nil {
				continue
			}
			switch x := v.(type) {
			case string:
				if strings.Contains(x, "{{") || strings.Contains(x, "{%") {
					c.Templated = append(c.Templated, n)
				}
				return x, true, nil
			case int64, float64, bool:
				return fmt.Sprint(x), true, nil
			}
			return "", false, fmt.Errorf("host %s: %s must be a string, got %T", h.Name, n, v)
		}
		return "", false, nil
	}
	var err error
	set := func(dst *string, names ...string) {
		if err != nil {
			return
		}
		if v, ok, e := str(names...); e != nil {
			err = e
		} else if ok {
			*dst = v
		}
	}
	set(&c.Address, "ansible_host", "ansible_ssh_host")
	c.User = d.RemoteUser
	set(&c.User, "ansible_user", "ansible_ssh_user")
	c.PrivateKeyFile = d.PrivateKeyFile
	set(&c.PrivateKeyFile, "ansible_private_key_file", "ansible_ssh_private_key_file")
	set(&c.Password, "ansible_password", "ansible_ssh_pass", "ansible_ssh_password")
	set(&c.SSHCommonArgs, "ansible_ssh_common_args")
	set(&c.SSHExtraArgs, "ansible_ssh_extra_args")
	set(&c.BecomeUser, "ansible_become_user")
	set(&c.BecomeMethod, "ansible_become_method")
	set(&c.BecomePassword, "ansible_become_pass", "ansible_become_password")
	var port, become, hkc string
	var havePort, haveBecome, haveHKC bool
	if err == nil {
		port, havePort, err = str("ansible_port", "ansible_ssh_port")
	}
	if err == nil {
		become, haveBecome, err = str("ansible_become")
	}
	if err == nil {
		hkc, haveHKC, err = str("ansible_host_key_checking", "ansible_ssh_host_key_checking")
	}
	if err != nil {
		return Connection{}, err
	}
	if havePort {
		p, perr := strconv.Atoi(strings.TrimSpace(port))
		if perr != nil || p < 1 || p > 65535 {
			return Connection{}, fmt.Errorf("host %s: ansible_port %q is not a valid port", h.Name, port)
		}
		c.Port = p
	}
	if haveBecome {
		c.Become = pyBool(become)
	}
	if haveHKC {
		c.HostKeyChecking = pyBool(hkc)
	}
	if c.User == "" {
		if u, uerr := user.Current(); uerr == nil {
			c.User = u.Username
		}
	}
	if c.PrivateKeyFile != "" {
		c.PrivateKeyFile = expandHome(c.PrivateKeyFile, d.Home)
	}
	if c.Address == "" {
		return Connection{}, fmt.Errorf("host %s: ansible_host is empty", h.Name)
	}
	return c, nil
}

// pyBool is Ansible's boolean() for connection variables (non-strict).
func pyBool(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "y", "yes", "on", "1", "true", "t", "1.0":
		return true
	}
	return false
}

func expandHome(p, home string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	if home == "" {
		if u, err := user.Current(); err == nil {
			home = u.HomeDir
		}
	}
	return filepath.Join(home, strings.TrimPrefix(p, "~"))
}
