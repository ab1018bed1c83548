package inventory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Options tunes Load.
type Options struct {
	// Logger receives warnings (nil: discard).
	Logger *slog.Logger
	// ScriptTimeout bounds each dynamic inventory script run (0: 60s).
	ScriptTimeout time.Duration
}

// ErrNoSources is returned when Load is given no sources.
var ErrNoSources = errors.New("no inventory sources given")

// Load reads the inventory sources in order, as `ansible-inventory -i S1 -i
// S2 ...` does. A source is a file (YAML, JSON or INI), a directory of
// sources, an executable dynamic-inventory script, or a comma-separated host
// list ("a,b,"). Unlike Ansible, which warns and carries on with what it
// could read, any source that cannot be read fails the whole load: murderctl
// never deploys to a partial inventory.
func Load(ctx context.Context, sources []string, opts Options) (*Inventory, error) {
	if len(sources) == 0 {
		return nil, ErrNoSources
	}
	if opts.ScriptTimeout == 0 {
		opts.ScriptTimeout = 60 * time.Second
	}
	inv := newInventory()
	l := &loader{inv: inv, opts: opts}
	for _, src := range sources {
		if strings.TrimSpace(src) == "" {
			continue
		}
		if !strings.Contains(src, ",") {
			abs, err := filepath.Abs(src)
			if err != nil {
				return nil, fmt.Errorf("inventory source %s: %w", src, err)
			}
			src = abs
		}
		if err := l.source(ctx, src); err != nil {
			return nil, err
		}
		if _, err := os.Stat(src); err == nil || !strings.Contains(src, ",") {
			dir := src
			if st, err := os.Stat(src); err != nil || !st.IsDir() {
				dir = filepath.Dir(src)
			}
			inv.varsDirs = append(inv.varsDirs, dir)
		}
	}
	inv.reconcile()
	if err := inv.resolveVars(); err != nil {
		return nil, err
	}
	if opts.Logger != nil {
		for _, w := range inv.Warnings {
			opts.Logger.Warn("inventory", "warning", w)
		}
	}
	return inv, nil
}

type loader struct {
	inv  *Inventory
	opts Options
}

// ignoredEntry matches the directory entries Ansible skips: dotfiles,
// host_vars, group_vars, vars_plugins and INVENTORY_IGNORE_EXTS.
var ignoredEntry = regexp.MustCompile(`^\.|^host_vars$|^group_vars$|^vars_plugins$|` +
	`(?:\.pyc|\.pyo|\.swp|\.bak|~|\.rpm|\.md|\.txt|\.rst|\.orig|\.ini|\.cfg|\.retry)$`)

func (l *loader) source(ctx context.Context, src string) error {
	st, err := os.Stat(src)
	if err != nil {
		if strings.Contains(src, ",") {
			return l.hostList(src)
		}
		return fmt.Errorf("inventory source %s: %w", src, err)
	}
	if st.IsDir() {
		entries, err := os.ReadDir(src)
		if err != nil {
			return fmt.Errorf("read inventory directory %s: %w", src, err)
		}
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		for _, n := range names {
			if ignoredEntry.MatchString(n) {
				continue
			}
			if err := l.source(ctx, filepath.Join(src, n)); err != nil {
				return err
			}
		}
		return nil
	}
	return l.file(ctx, src, st)
}

// file tries Ansible's plugins in order (script, yaml, ini) and keeps the
// first that parses the file.
func (l *loader) file(ctx context.Context, path string, st fs.FileInfo) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read inventory %s: %w", path, err)
	}
	var failures []error
	if st.Mode().Perm()&0o111 != 0 || bytes.HasPrefix(data, []byte("#!")) {
		err := l.script(ctx, path)
		if err == nil {
			return nil
		}
		failures = append(failures, fmt.Errorf("as a script: %w", err))
	}
	ext := filepath.Ext(path)
	if ext == "" || ext == ".yml" || ext == ".yaml" || ext == ".json" {
		err := parseYAMLInventory(l.inv, path, data)
		if err == nil {
			return nil
		}
		failures = append(failures, fmt.Errorf("as YAML: %w", err))
	}
	err = parseINI(l.inv, path, string(data))
	if err == nil {
		return nil
	}
	failures = append(failures, fmt.Errorf("as INI: %w", err))
	// Report the parser the file was most likely meant for first.
	if ext == ".ini" || !(ext == ".yml" || ext == ".yaml" || ext == ".json" || looksLikeYAML(data)) {
		last := len(failures) - 1
		failures = append([]error{failures[last]}, failures[:last]...)
	} else if len(failures) > 1 {
		last := len(failures) - 2 // the YAML attempt
		failures = append([]error{failures[last]}, append(failures[:last:last], failures[last+1:]...)...)
	}
	return fmt.Errorf("cannot parse inventory %s: %w", path, errors.Join(failures...))
}

// looksLikeYAML guesses whether a file without an extension was meant as
// YAML, to order the error messages.
func looksLikeYAML(data []byte) bool {
	for _, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' || t[0] == ';' {
			continue
		}
		return t == "---" || strings.HasSuffix(t, ":") || strings.Contains(t, ": ")
	}
	return false
}

// hostList parses a comma-separated host list, as the host_list plugin.
func (l *loader) hostList(src string) error {
	for _, h := range strings.Split(src, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		host, port, err := parseAddress(h)
		if err != nil || strings.Contains(host, "[") {
			host, port = h, nil
		}
		if l.inv.hosts[host] == nil {
			if _, err := l.inv.addHost(host, "ungrouped", port); err != nil {
				return fmt.Errorf("host list %q: %w", src, err)
			}
		}
	}
	return nil
}
