// Package ansiblecfg finds and reads ansible.cfg the way Ansible does, so that
// murderctl honours the settings operators already have: the inventory
// sources, remote_user, private_key_file, forks, host_key_checking and
// timeout, each overridable by its ANSIBLE_* environment variable.
//
// The search order is Ansible's: $ANSIBLE_CONFIG (a file, or a directory
// holding ansible.cfg), ./ansible.cfg (skipped when the working directory is
// world-writable, as Ansible does), ~/.ansible.cfg, /etc/ansible/ansible.cfg.
// The first readable file wins; none is fine and yields the defaults.
package ansiblecfg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Ansible's defaults for the settings this package reads.
const (
	DefaultForks           = 5
	DefaultTimeout         = 10 * time.Second
	DefaultHostKeyChecking = true
	// DefaultInventory is Ansible's DEFAULT_HOST_LIST.
	DefaultInventory = "/etc/ansible/hosts"
)

// Config holds the resolved settings.
type Config struct {
	// Path is the ansible.cfg that was read, or "" when none was found.
	Path string
	// Inventory lists the inventory sources from ANSIBLE_INVENTORY or
	// [defaults] inventory (comma-separated), paths resolved as Ansible does:
	// ~ and $VARS expanded, relative paths against the config file's
	// directory (or the working directory for the environment variable).
	// Comma host lists ("a,b,") are kept verbatim. Empty when neither is set;
	// callers may then fall back to DefaultInventory.
	Inventory       []string
	RemoteUser      string
	PrivateKeyFile  string
	Forks           int
	HostKeyChecking bool
	Timeout         time.Duration
	// Warnings are non-fatal notes (for example a skipped world-writable
	// ./ansible.cfg), for the caller to log.
	Warnings []string
}

// Options supplies the process context. Zero fields are taken from the
// real process (os.Getwd, the HOME variable).
type Options struct {
	Cwd  string
	Home string
}

// Load finds ansible.cfg, reads it and applies the ANSIBLE_* overrides.
// env looks variables up (os.Getenv in production; nil means no variables).
func Load(env func(string) string) (*Config, error) {
	return LoadWith(env, Options{})
}

// LoadWith is Load with an explicit working and home directory.
func LoadWith(env func(string) string, o Options) (*Config, error) {
	if env == nil {
		env = func(string) string { return "" }
	}
	if o.Cwd == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("ansible.cfg: working directory: %w", err)
		}
		o.Cwd = wd
	}
	if o.Home == "" {
		o.Home = env("HOME")
		if o.Home == "" {
			o.Home, _ = os.UserHomeDir()
		}
	}
	cfg := &Config{Forks: DefaultForks, HostKeyChecking: DefaultHostKeyChecking, Timeout: DefaultTimeout}
	path, warn := find(env, o)
	if warn != "" {
		cfg.Warnings = append(cfg.Warnings, warn)
	}
	ini := map[string]string{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read ansible config %s: %w", path, err)
		}
		sections, err := parseINI(path, string(data))
		if err != nil {
			return nil, err
		}
		ini = sections["defaults"]
		cfg.Path = path
	}
	get := func(key, envName string) (val, origin string, ok bool) {
		if v, set := lookup(env, envName); set {
			return v, "env", true
		}
		if v, set := ini[key]; set {
			return v, "ini", true
		}
		return "", "", false
	}
	where := func(origin, key, envName string) string {
		if origin == "env" {
			return envName
		}
		return fmt.Sprintf("%s [defaults] %s", path, key)
	}
	cfgDir := filepath.Dir(path)
	if v, origin, ok := get("inventory", "ANSIBLE_INVENTORY"); ok {
		base := o.Cwd
		if origin == "ini" {
			base = cfgDir
		}
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				cfg.Inventory = append(cfg.Inventory, resolvePath(item, base, o.Home, env))
			}
		}
	}
	if v, _, ok := get("remote_user", "ANSIBLE_REMOTE_USER"); ok {
		cfg.RemoteUser = v
	}
	if v, origin, ok := get("private_key_file", "ANSIBLE_PRIVATE_KEY_FILE"); ok && v != "" {
		base := o.Cwd
		if origin == "ini" {
			base = cfgDir
		}
		cfg.PrivateKeyFile = resolvePath(v, base, o.Home, env)
	}
	if v, origin, ok := get("forks", "ANSIBLE_FORKS"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s: forks must be a positive integer, got %q", where(origin, "forks", "ANSIBLE_FORKS"), v)
		}
		cfg.Forks = n
	}
	if v, _, ok := get("host_key_checking", "ANSIBLE_HOST_KEY_CHECKING"); ok {
		cfg.HostKeyChecking = Boolean(v)
	}
	if v, origin, ok := get("timeout", "ANSIBLE_TIMEOUT"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s: timeout must be a whole number of seconds, got %q", where(origin, "timeout", "ANSIBLE_TIMEOUT"), v)
		}
		cfg.Timeout = time.Duration(n) * time.Second
	}
	return cfg, nil
}

// lookup reports a variable as set when it is non-empty. Ansible treats an
// empty environment value as set, but an empty value is never useful here and
// os.Getenv cannot tell the two apart.
func lookup(env func(string) string, name string) (string, bool) {
	v := env(name)
	return v, v != ""
}

// Boolean parses a value as Ansible's config does (non-strict): y, yes, on,
// 1, true and t are true, case-insensitively and ignoring surrounding space;
// everything else is false.
func Boolean(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "y", "yes", "on", "1", "true", "t", "1.0":
		return true
	}
	return false
}

// find returns the first readable candidate config file.
func find(env func(string) string, o Options) (path, warning string) {
	var candidates []string
	if p, ok := lookup(env, "ANSIBLE_CONFIG"); ok {
		p = resolvePath(p, o.Cwd, o.Home, env)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			p = filepath.Join(p, "ansible.cfg")
		}
		candidates = append(candidates, p)
	}
	cwdCfg := filepath.Join(o.Cwd, "ansible.cfg")
	if st, err := os.Stat(o.Cwd); err == nil {
		if st.Mode().Perm()&0o002 != 0 {
			if _, err := os.Stat(cwdCfg); err == nil {
				warning = fmt.Sprintf("ignoring %s: the working directory is world-writable", cwdCfg)
			}
		} else {
			candidates = append(candidates, cwdCfg)
		}
	}
	if o.Home != "" {
		candidates = append(candidates, filepath.Join(o.Home, ".ansible.cfg"))
	}
	candidates = append(candidates, "/etc/ansible/ansible.cfg")
	for _, c := range candidates {
		if f, err := os.Open(c); err == nil {
			st, serr := f.Stat()
			f.Close()
			if serr == nil && !st.IsDir() {
				return c, warning
			}
		} else if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, os.ErrPermission) {
			continue
		}
	}
	return "", warning
}

// resolvePath expands $VARS and a leading ~, then makes the path absolute
// against base, as Ansible's unfrackpath does (without following symlinks).
func resolvePath(p, base, home string, env func(string) string) string {
	p = os.Expand(p, func(k string) string {
		if v := env(k); v != "" {
			return v
		}
		return "$" + k
	})
	if p == "~" {
		p = home
	} else if strings.HasPrefix(p, "~/") {
		p = filepath.Join(home, p[2:])
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(base, p)
	}
	return filepath.Clean(p)
}
