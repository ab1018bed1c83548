package testfleet

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// MaxHosts is the largest fleet a /24 subnet holds (hosts use .11 upwards).
const MaxHosts = 240

// Options configure a fleet. The zero value plus N is a working fleet.
type Options struct {
	// N is the number of hosts, 1..MaxHosts.
	N int
	// RateMbit, when positive, puts a tc tbf limit of that many Mbit/s on
	// both directions of every host link (the egress of both veth ends).
	RateMbit float64
	// ControlRateMbit limits the control node's link the same way. Zero
	// means "same as RateMbit"; negative means no limit.
	ControlRateMbit float64
	// Name is a short prefix ([a-z0-9]{1,12}, default "t") for namespace and
	// directory names.
	Name string
	// Subnet is an IPv4 prefix of at most /24 bits holding the control node
	// (.1) and the hosts (.11 upwards). Default: a 10.x.y.0/24 derived from
	// the fleet's unique id. Only namespaces the fleet creates use it.
	Subnet netip.Prefix
	// Dir is where the fleet keeps its files; a private 0700 directory is
	// created inside it. Default: os.TempDir().
	Dir string
	// Logger receives progress; nil discards.
	Logger *slog.Logger
	// Parallel bounds how many hosts are set up at once (default 8).
	Parallel int
}

// Fleet is a running set of hosts. Its methods are safe for concurrent use.
type Fleet struct {
	// Hosts are the fleet's hosts; Hosts[i] is named h%02d of i+1.
	Hosts []*Host
	// ControlIP is the control node's address, as the hosts see it.
	ControlIP netip.Addr

	opts      Options
	log       *slog.Logger
	id        string // e.g. "e2e-1234x1"
	dir       string
	keyFile   string
	khFile    string
	ctlHome   string
	prefixLen int
	userPub   []byte

	cancelBuild context.CancelFunc // lets HandleSignals abort New
	built       chan struct{}      // closed when New is done building

	closeOnce sync.Once
	closeErr  error
}

// Host is one member of the fleet.
type Host struct {
	// Name is the inventory name: h01, h02, ...
	Name string
	// IP is the host's address on the fleet subnet; sshd listens on IP:22.
	IP netip.Addr
	// Netns is the name of the host's network namespace (see `ip netns`).
	Netns string
	// Dir is the backing directory of the host's private mounts.
	Dir string

	index   int
	hostKey []byte // authorized_keys form of the host's public key

	mu     sync.Mutex
	anchor *proc // owns the host's mount namespace
	sshd   *proc
}

var seq atomic.Int64

var nameRE = regexp.MustCompile(`^[a-z0-9]{1,12}$`)

func (o *Options) applyDefaults(id string) error {
	if o.N < 1 || o.N > MaxHosts {
		return fmt.Errorf("testfleet: N=%d, want 1..%d", o.N, MaxHosts)
	}
	if o.RateMbit < 0 {
		return fmt.Errorf("testfleet: RateMbit=%v is negative", o.RateMbit)
	}
	if o.ControlRateMbit == 0 {
		o.ControlRateMbit = o.RateMbit
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.Dir == "" {
		o.Dir = os.TempDir()
	}
	if !o.Subnet.IsValid() {
		h := fnv.New32a()
		h.Write([]byte(id))
		v := h.Sum32()
		o.Subnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(64 + v%128), byte(v >> 8), 0}), 24)
	}
	o.Subnet = o.Subnet.Masked()
	if !o.Subnet.Addr().Is4() || o.Subnet.Bits() > 24 || o.Subnet.Bits() < 8 {
		return fmt.Errorf("testfleet: subnet %s: want an IPv4 prefix between /8 and /24", o.Subnet)
	}
	return nil
}

// nthAddr returns the n-th address of the prefix (n < 256).
func nthAddr(p netip.Prefix, n int) netip.Addr {
	a := p.Addr().As4()
	a[3] += byte(n)
	return netip.AddrFrom4(a)
}

// New builds and starts a fleet. It returns only when every host's sshd
// accepts connections. On error, everything already built is torn down.
// Call Close when done (Start does that for tests).
func New(ctx context.Context, opts Options) (*Fleet, error) {
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	if opts.Name == "" {
		opts.Name = "t"
	}
	if !nameRE.MatchString(opts.Name) {
		return nil, fmt.Errorf("testfleet: name %q: want [a-z0-9]{1,12}", opts.Name)
	}
	id := opts.Name + "-" + strconv.Itoa(os.Getpid()) + "x" + strconv.FormatInt(seq.Add(1), 10)
	if err := opts.applyDefaults(id); err != nil {
		return nil, err
	}
	if err := checkTools(); err != nil {
		return nil, err
	}
	Sweep(ctx, opts.Logger)

	dir, err := os.MkdirTemp(opts.Dir, nsPrefix+id+"-")
	if err != nil {
		return nil, fmt.Errorf("testfleet: make fleet dir: %w", err)
	}
	f := &Fleet{
		opts:      opts,
		log:       opts.Logger.With("fleet", id),
		id:        id,
		dir:       dir,
		ControlIP: nthAddr(opts.Subnet, 1),
		prefixLen: opts.Subnet.Bits(),
		built:     make(chan struct{}),
	}
	ctx, f.cancelBuild = context.WithCancel(ctx)
	defer f.cancelBuild()
	register(f)
	start := time.Now()
	err = f.build(ctx)
	close(f.built)
	if err != nil {
		return nil, errors.Join(err, f.Close())
	}
	f.log.Info("fleet up", "hosts", opts.N, "rate_mbit", opts.RateMbit, "took", time.Since(start).Round(time.Millisecond))
	return f, nil
}

func (f *Fleet) build(ctx context.Context) error {
	if err := f.writeClientFiles(); err != nil {
		return err
	}
	f.Hosts = make([]*Host, f.opts.N)
	width := max(2, len(strconv.Itoa(f.opts.N)))
	for i := range f.Hosts {
		name := fmt.Sprintf("h%0*d", width, i+1)
		f.Hosts[i] = &Host{
			Name:  name,
			IP:    nthAddr(f.opts.Subnet, 11+i),
			Netns: f.nsName(name),
			Dir:   filepath.Join(f.dir, name),
			index: i,
		}
	}
	if err := f.buildSwitch(ctx); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(f.opts.Parallel)
	for _, h := range f.Hosts {
		g.Go(func() error { return f.buildHost(gctx, h) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return f.writeKnownHosts()
}

// Dir is the fleet's private base directory.
func (f *Fleet) Dir() string { return f.dir }

// KeyFile is the fleet user's private key (ed25519, 0600), authorized for
// root on every host.
func (f *Fleet) KeyFile() string { return f.keyFile }

// KnownHostsFile lists every host's key by IP, in OpenSSH known_hosts form.
func (f *Fleet) KnownHostsFile() string { return f.khFile }

// ControlHome is a home directory for programs run on the control node:
// .ssh/id_ed25519 is the fleet key and .ssh/known_hosts the fleet's hosts.
// See ControlEnv.
func (f *Fleet) ControlHome() string { return f.ctlHome }

// ControlEnv is os.Environ() with HOME set to ControlHome, so a program
// that reads ~/.ssh finds the fleet's key and known_hosts.
func (f *Fleet) ControlEnv() []string {
	env := []string{"HOME=" + f.ctlHome}
	for _, kv := range os.Environ() {
		if len(kv) < 5 || kv[:5] != "HOME=" {
			env = append(env, kv)
		}
	}
	return env
}

// ControlNetns is the name of the control node's network namespace.
func (f *Fleet) ControlNetns() string { return f.nsName("ctl") }

// Host returns host i (0-based), or an error naming the valid range.
func (f *Fleet) host(i int) (*Host, error) {
	if i < 0 || i >= len(f.Hosts) {
		return nil, fmt.Errorf("testfleet: host index %d out of range [0,%d)", i, len(f.Hosts))
	}
	return f.Hosts[i], nil
}

// Close stops every process in the fleet's namespaces, deletes the
// namespaces (and with them every link) and removes the fleet's directory.
// It is safe to call more than once.
func (f *Fleet) Close() error {
	f.closeOnce.Do(func() {
		unregister(f)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var errs []error
		for _, h := range f.Hosts {
			if h != nil {
				h.mu.Lock()
				h.stopProcs()
				h.mu.Unlock()
			}
		}
		names, err := listNetns()
		if err != nil {
			errs = append(errs, err)
		}
		for _, ns := range names {
			if hasPrefix(ns, nsPrefix+f.id+"-") {
				if err := removeNetns(ctx, ns); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if err := os.RemoveAll(f.dir); err != nil {
			errs = append(errs, fmt.Errorf("testfleet: remove %s: %w", f.dir, err))
		}
		f.closeErr = errors.Join(errs...)
		f.log.Info("fleet closed", "err", f.closeErr)
	})
	return f.closeErr
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }
