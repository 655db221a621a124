package arp

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"multimsg/internal/backoff"
)

// Defaults for Options.
const (
	// DefaultMaxAge is how long a pair stays after it was last seen. Active devices re-ARP every
	// few minutes (Linux re-validates a neighbour after ~30 s of use), and a reused address is
	// corrected the moment its new owner ARPs, so aging only needs to drop departed devices;
	// 4 h outlasts an idle device's quiet spells without keeping a departed one for a day.
	DefaultMaxAge = 4 * time.Hour
	// DefaultResolveTimeout is how long Resolve waits for an answer to its who-has: a LAN host
	// answers within a millisecond; 300 ms covers a busy Wi-Fi bridge while bounding the wait a
	// request from an unknown device adds.
	DefaultResolveTimeout = 300 * time.Millisecond
	// DefaultProcPath is the kernel's IPv4 neighbour table.
	DefaultProcPath = "/proc/net/arp"
	// DefaultMaxEntries bounds the table against a flood of forged ARP senders.
	DefaultMaxEntries = 4096

	// neighMaxAge bounds how long a pair taken from the kernel's table is trusted: without
	// capture nothing tells the table that the address moved, so it asks the kernel again.
	neighMaxAge = time.Minute
	// negativeTTL is how long a failed who-has is remembered, so that an address that never
	// answers (off the LAN, or gone) does not cost every request ResolveTimeout.
	negativeTTL = 10 * time.Second
	maxNegative = 1024
)

// Sources of an entry.
const (
	SourceARP   = "arp"   // seen in an ARP frame on the interface
	SourceNeigh = "neigh" // read from the kernel's neighbour table
)

// Options configure a Table. The zero value watches nothing and answers from /proc/net/arp.
type Options struct {
	// Interface is the LAN interface to watch; "" means no capture, neighbour table only.
	Interface string
	// MaxAge is how long an entry lives after it was last seen (default DefaultMaxAge).
	MaxAge time.Duration
	// ResolveTimeout bounds Resolve's wait for a who-has answer (default DefaultResolveTimeout).
	ResolveTimeout time.Duration
	// ProcPath is the kernel neighbour table (default DefaultProcPath).
	ProcPath string
	// MaxEntries bounds the table; when full the least recently seen entry goes
	// (default DefaultMaxEntries).
	MaxEntries int
	// OnLearn, if set, is called when a pair is learned or an address changes MAC. It runs on
	// the capture goroutine (or the caller of Resolve), after the table is updated, and must not
	// block long: capture stops while it runs.
	OnLearn func(ip netip.Addr, mac string)
}

func (o Options) withDefaults() Options {
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.ResolveTimeout <= 0 {
		o.ResolveTimeout = DefaultResolveTimeout
	}
	if o.ProcPath == "" {
		o.ProcPath = DefaultProcPath
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	return o
}

// Entry is one IP→MAC pair, for the status page.
type Entry struct {
	IP       netip.Addr `json:"ip"`
	MAC      string     `json:"mac"`
	LastSeen time.Time  `json:"last_seen"`
	Source   string     `json:"source"` // SourceARP or SourceNeigh
}

// entry is what the table stores per address. mac, hw and source never change once stored (a
// new MAC is a new entry); seen is refreshed in place.
type entry struct {
	mac    string
	hw     [6]byte
	source string
	seen   atomic.Int64 // monotonic nanoseconds since Table.epoch
}

// link is a capture socket and the interface it is bound to.
type link struct {
	ifi  *net.Interface
	conn FrameConn
}

// Table is the IP→MAC table. Lookup is safe for concurrent use with everything else.
type Table struct {
	o     Options
	log   *slog.Logger
	epoch time.Time // carries the monotonic clock reading every entry's seen is relative to

	// link is the capture socket and its interface: nil without capture, replaced (by the
	// capture goroutine, under drainMu) when the interface is re-created.
	link atomic.Pointer[link]
	// redial opens a new socket on a re-created interface; nil when the caller gave the conn.
	redial func(*net.Interface) (FrameConn, error)

	// entries maps netip.Addr → *entry. Readers load without locking; writers hold mu.
	entries sync.Map

	mu       sync.Mutex                   // guards the fields below and serialises writers of entries
	n        int                          // number of entries
	learned  chan struct{}                // closed and replaced whenever a pair becomes known
	negative map[netip.Addr]time.Duration // failed who-has: address → when (since epoch)

	closed    atomic.Bool  // no more who-has once set
	drainMu   sync.Mutex   // one drainer of conn at a time (capture goroutine or Sync)
	dec       *decoder     // guarded by drainMu
	observeFn func([]byte) // t.observe, bound once

	startMu   sync.Mutex         // guards started, life and cancel
	started   bool               // start ran: the goroutines below exist
	life      context.Context    // theirs
	cancel    context.CancelFunc // ends them
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Watch starts a Table on o.Interface: Open, then the table learns in the background until ctx
// is cancelled or Close is called. For callers without an errgroup (tests, tools); a service
// uses Open and runs Run in its errgroup.
func Watch(ctx context.Context, o Options, log *slog.Logger) (*Table, error) {
	t, err := Open(o, log)
	if err != nil {
		return nil, err
	}
	t.start(ctx)
	return t, nil
}

// Open makes a Table on o.Interface and opens its ARP socket (a missing interface or a missing
// permission is an *InterfaceError wrapping ErrNoInterface or ErrPermission), without starting
// anything: Run learns from it. With o.Interface == "" there is no capture and Resolve answers
// from the kernel's neighbour table. Lookup and Resolve answer before Run, from what is known.
func Open(o Options, log *slog.Logger) (*Table, error) {
	if o.Interface == "" {
		return newTable(o, nil, nil, log, nil)
	}
	ifi, err := interfaceByName(o.Interface)
	if err != nil {
		return nil, &InterfaceError{Interface: o.Interface, Op: "find", Err: err}
	}
	conn, err := Dial(ifi)
	if err != nil {
		return nil, err
	}
	if ifi.Flags&net.FlagUp == 0 && log != nil {
		log.Warn("arp: interface is down; watching anyway", "interface", ifi.Name)
	}
	return newTable(o, ifi, conn, log, func(ifi *net.Interface) (FrameConn, error) {
		c, err := Dial(ifi)
		if err != nil {
			return nil, err
		}
		return c, nil
	})
}

// interfaceByName is net.InterfaceByName with "not found" told apart from failing to ask (net
// does not export its not-found error).
func interfaceByName(name string) (*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifs {
		if ifs[i].Name == name {
			return &ifs[i], nil
		}
	}
	return nil, ErrNoInterface
}

// New starts a Table that reads frames from conn, which belongs to interface ifi (its MAC and
// addresses are used for who-has requests). The Table owns conn and closes it on shutdown. With a
// nil conn there is no capture.
func New(ctx context.Context, o Options, ifi *net.Interface, conn FrameConn, log *slog.Logger) (*Table, error) {
	t, err := newTable(o, ifi, conn, log, nil)
	if err != nil {
		return nil, err
	}
	t.start(ctx)
	return t, nil
}

func newTable(o Options, ifi *net.Interface, conn FrameConn, log *slog.Logger,
	redial func(*net.Interface) (FrameConn, error)) (*Table, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if conn != nil && ifi == nil {
		return nil, errors.New("arp: New: a frame connection needs its interface")
	}
	o = o.withDefaults()
	if conn != nil {
		o.Interface = ifi.Name
	}
	t := &Table{
		o:        o,
		log:      log,
		redial:   redial,
		epoch:    time.Now(),
		learned:  make(chan struct{}),
		negative: make(map[netip.Addr]time.Duration),
	}
	t.dec = newDecoder()
	t.observeFn = t.observe
	if conn != nil {
		t.link.Store(&link{ifi: ifi, conn: conn})
	}
	return t, nil
}

// Run learns until ctx is done or Close is called, then closes the table and returns once its
// goroutines (the sweeper, the capture) are gone: the gateway runs it in its errgroup.
func (t *Table) Run(ctx context.Context) error {
	ctx = t.start(ctx)
	<-ctx.Done()
	return t.Close()
}

// start starts the sweeper and, with a socket, the capture, under a context Close cancels; it
// returns that context. A second start returns the first one's context and starts nothing;
// after Close it returns a done context.
func (t *Table) start(parent context.Context) context.Context {
	t.startMu.Lock()
	defer t.startMu.Unlock()
	if t.started {
		return t.life
	}
	ctx, cancel := context.WithCancel(parent)
	if t.closed.Load() {
		cancel()
		return ctx
	}
	t.started, t.life, t.cancel = true, ctx, cancel
	t.wg.Add(1)
	go t.sweep(ctx)
	if l := t.link.Load(); l != nil {
		t.wg.Add(2)
		go t.capture(ctx)
		go func() {
			// Closing the socket is what unblocks capture's wait. Set closed first: a
			// concurrent reopen closes its new socket itself if it sees it.
			defer t.wg.Done()
			<-ctx.Done()
			t.closed.Store(true)
			t.link.Load().conn.Close()
		}()
	}
	return ctx
}

// Close stops capture and waits for the table's goroutines; it returns promptly, and again
// at once when called again. A table that never ran closes its socket. The table still
// answers Lookup and Resolve (from memory and the kernel table) afterwards.
func (t *Table) Close() error {
	t.closeOnce.Do(func() {
		t.startMu.Lock()
		t.closed.Store(true)
		started, cancel := t.started, t.cancel
		t.startMu.Unlock()
		if !started {
			if l := t.link.Load(); l != nil {
				l.conn.Close()
			}
			return
		}
		cancel()
		t.wg.Wait()
	})
	return nil
}

// now is the monotonic time since the table started, immune to the wall clock being set (boards
// boot in 1970 and jump when NTP answers).
func (t *Table) now() time.Duration { return time.Since(t.epoch) }

func (t *Table) maxAge(e *entry) time.Duration {
	if e.source == SourceNeigh && neighMaxAge < t.o.MaxAge {
		return neighMaxAge
	}
	return t.o.MaxAge
}

func (t *Table) expired(e *entry, now time.Duration) bool {
	return now-time.Duration(e.seen.Load()) > t.maxAge(e)
}

// Lookup returns the MAC known for ip. It reads memory only: no allocation, no system call, not
// even the clock — expired entries are removed by the sweeper, so one may answer for up to
// sweepInterval after its MaxAge.
func (t *Table) Lookup(ip netip.Addr) (mac string, ok bool) {
	v, ok := t.entries.Load(ip.Unmap())
	if !ok {
		return "", false
	}
	return v.(*entry).mac, true
}

// Entries returns every live pair, for the status page.
func (t *Table) Entries() []Entry {
	now := t.now()
	wall := time.Now()
	var out []Entry
	t.entries.Range(func(k, v any) bool {
		e := v.(*entry)
		if t.expired(e, now) {
			return true
		}
		seen := time.Duration(e.seen.Load())
		out = append(out, Entry{IP: k.(netip.Addr), MAC: e.mac, LastSeen: wall.Add(seen - now), Source: e.source})
		return true
	})
	slices.SortFunc(out, func(a, b Entry) int { return a.IP.Compare(b.IP) })
	return out
}

// learn records ip→hw as seen now. The common case — a known pair seen again — only refreshes
// the entry's time; a new pair, a pair back from expiry or an address that changed MAC replaces
// the entry, wakes Resolve waiters, logs a change and calls OnLearn.
func (t *Table) learn(ip netip.Addr, hw [6]byte, source string) {
	now := t.now()
	if v, ok := t.entries.Load(ip); ok {
		e := v.(*entry)
		if e.hw == hw && (e.source == source || source == SourceNeigh) && !t.expired(e, now) {
			e.seen.Store(int64(now))
			return
		}
	}

	t.mu.Lock()
	var old *entry
	if v, ok := t.entries.Load(ip); ok {
		old = v.(*entry)
	}
	oldLive := old != nil && !t.expired(old, now)
	if oldLive && old.hw == hw && (old.source == source || source == SourceNeigh) {
		old.seen.Store(int64(now)) // raced with another writer for the same pair
		t.mu.Unlock()
		return
	}
	if old == nil && t.n >= t.o.MaxEntries {
		t.evictLocked(now)
	}
	e := &entry{mac: formatMAC(hw), hw: hw, source: source}
	e.seen.Store(int64(now))
	t.entries.Store(ip, e)
	if old == nil {
		t.n++
	}
	delete(t.negative, ip)
	close(t.learned)
	t.learned = make(chan struct{})
	t.mu.Unlock()

	switch {
	case old != nil && old.hw != hw:
		// DHCP gave the address to another device (or someone is spoofing it): newest wins.
		t.log.Info("arp: address moved to another MAC", "ip", ip, "old_mac", old.mac, "mac", e.mac,
			"source", source, "old_last_seen_ago", (now - time.Duration(old.seen.Load())).Round(time.Millisecond))
	case old == nil || !oldLive:
		t.log.Debug("arp: learned", "ip", ip, "mac", e.mac, "source", source)
	default:
		// Same pair, now confirmed by ARP rather than the kernel table: no news for OnLearn.
		return
	}
	if t.o.OnLearn != nil {
		t.o.OnLearn(ip, e.mac)
	}
}

// evictLocked makes room: expired entries go first, else the least recently seen eighth of the
// table, so that under a flood of forged senders the O(n) scan is paid once per n/8 new pairs.
func (t *Table) evictLocked(now time.Duration) {
	if t.sweepLocked(now) > 0 {
		return
	}
	type aged struct {
		ip   netip.Addr
		seen int64
	}
	all := make([]aged, 0, t.n)
	t.entries.Range(func(k, v any) bool {
		all = append(all, aged{k.(netip.Addr), v.(*entry).seen.Load()})
		return true
	})
	slices.SortFunc(all, func(a, b aged) int { return cmp.Compare(a.seen, b.seen) })
	drop := all[:min(len(all), max(1, t.o.MaxEntries/8))]
	for _, a := range drop {
		t.entries.Delete(a.ip)
	}
	t.n -= len(drop)
	t.log.Warn("arp: table full, dropped the least recently seen entries", "dropped", len(drop), "max_entries", t.o.MaxEntries)
}

// sweepLocked deletes expired entries and returns how many went.
func (t *Table) sweepLocked(now time.Duration) int {
	gone := 0
	t.entries.Range(func(k, v any) bool {
		if t.expired(v.(*entry), now) {
			t.entries.Delete(k)
			gone++
		}
		return true
	})
	t.n -= gone
	for ip, at := range t.negative {
		if now-at > negativeTTL {
			delete(t.negative, ip)
		}
	}
	return gone
}

// sweepInterval is how often expired entries are removed: an eighth of MaxAge, and often enough
// that a pair from the kernel table does not outlive neighMaxAge by much.
func (t *Table) sweepInterval() time.Duration {
	return max(min(t.o.MaxAge/8, neighMaxAge/4), time.Second)
}

// sweep removes expired entries now and then; until it does, Lookup still answers with them.
func (t *Table) sweep(ctx context.Context) {
	defer t.wg.Done()
	tick := time.NewTicker(t.sweepInterval())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.mu.Lock()
			t.sweepLocked(t.now())
			t.mu.Unlock()
		}
	}
}

// capture waits for ARP frames and drains them until ctx is done. Errors other than shutdown
// are logged and retried with a capped backoff; after one, reopen checks the interface is still
// the one the socket is bound to.
func (t *Table) capture(ctx context.Context) {
	defer t.wg.Done()
	retry := backoff.New(10*time.Millisecond, 10*time.Second)
	for {
		l := t.link.Load()
		err := l.conn.Wait()
		if err == nil {
			err = t.drain()
		}
		if err == nil {
			retry.Reset()
			continue
		}
		if ctx.Err() != nil || t.closed.Load() {
			return
		}
		wait := retry.Next()
		t.log.Warn("arp: read failed", "interface", t.o.Interface, "err", err, "retry_in", wait)
		if !backoff.Sleep(ctx, wait) {
			return
		}
		if t.redial != nil && !t.reopen(ctx, l) {
			return
		}
	}
}

// reopen makes sure the socket still belongs to the interface. After the link went down and up
// it does (same index: the kernel resumes delivery). If the interface was removed — a USB
// adapter unplugged — the socket is dead: reopen waits for an interface of the same name and
// opens a new socket on it. It returns false when ctx ends.
func (t *Table) reopen(ctx context.Context, l *link) bool {
	retry := backoff.New(100*time.Millisecond, 10*time.Second)
	reported := false
	for {
		wait := retry.Next()
		ifi, err := interfaceByName(t.o.Interface)
		switch {
		case err == nil && ifi.Index == l.ifi.Index:
			return true
		case err == nil:
			conn, err := t.redial(ifi)
			if err == nil {
				t.drainMu.Lock()
				t.link.Store(&link{ifi: ifi, conn: conn})
				t.drainMu.Unlock()
				l.conn.Close()
				if t.closed.Load() {
					conn.Close()
				}
				t.log.Info("arp: interface re-created; capture re-opened", "interface", ifi.Name, "index", ifi.Index)
				return true
			}
			t.log.Warn("arp: re-opening capture failed", "interface", ifi.Name, "err", err, "retry_in", wait)
		case !reported:
			t.log.Warn("arp: interface is gone; capture resumes when it is back", "interface", t.o.Interface, "err", err)
			reported = true
		}
		if !backoff.Sleep(ctx, wait) {
			return false
		}
	}
}

// Sync processes every ARP frame the kernel has already queued for the table, so that a Lookup
// after it reflects every ARP frame the box received before Sync was called. Without it a device
// that has just taken over an address could be looked up — as the address's previous owner —
// before the capture goroutine got to its ARP: the kernel queues that frame before it answers,
// so before the device can open a connection, but the capture goroutine may not have run yet.
// When nothing is pending it costs one non-blocking recv (about a microsecond, no allocation).
// Without capture it does nothing.
func (t *Table) Sync() {
	if t.link.Load() == nil || t.closed.Load() {
		return
	}
	if err := t.drain(); err != nil && !errors.Is(err, ErrClosed) {
		t.log.Debug("arp: sync failed", "err", err)
	}
}

// drain hands every queued frame to observe; drainMu makes it one drainer at a time, so when
// it returns no frame is in flight in another goroutine.
func (t *Table) drain() error {
	t.drainMu.Lock()
	defer t.drainMu.Unlock()
	return t.link.Load().conn.Drain(t.observeFn)
}

// observe learns from one frame; it runs under drainMu.
func (t *Table) observe(frame []byte) {
	p, err := t.dec.decode(frame)
	if err != nil || !p.learnable() {
		return
	}
	// A frame whose Ethernet source is not its ARP sender MAC vouches for a MAC that did not
	// send it: a host forging another's identity, or a flood of made-up senders from one port.
	// Ordinary hosts always send their own ARP (docs/ARP.md).
	if p.ethSrc != p.senderMAC {
		return
	}
	// Requests, replies and gratuitous ARP (sender == target) all vouch for their sender.
	t.learn(p.senderIP, p.senderMAC, SourceARP)
}
