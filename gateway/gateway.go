// Package gateway wires the parts of multimsg into one running service from a config.Config:
// the store, the box key, the provider registry and its drivers, the dispatcher, the device
// identity, and the HTTP server. cmd/multimsg runs it; end-to-end tests run it in-process on a
// loopback port, so they exercise exactly what the binary runs.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/errgroup"

	"multimsg/config"
	"multimsg/dispatch"
	"multimsg/envelope"
	"multimsg/hw/arp"
	"multimsg/hw/clock"
	"multimsg/hw/watchdog"
	"multimsg/identity"
	"multimsg/inbox"
	"multimsg/internal/atomicfile"
	"multimsg/mailin"
	"multimsg/provider"
	"multimsg/settings"
	"multimsg/sim"
	"multimsg/smscommand"
	"multimsg/store"
	"multimsg/update"
	"multimsg/web"
)

// Options are what the caller adds to the configuration.
type Options struct {
	Log     *slog.Logger
	Version string
	// Console receives the one-time admin password on first start (default os.Stderr).
	Console io.Writer
	// RebootCommand restarts the box from the page (default /sbin/reboot: init stops us first).
	RebootCommand []string
	// ConfigPath is the configuration file the settings pages write and SIGHUP reads again
	// (default config.DefaultPath).
	ConfigPath string
	// FromFlags are the keys the command line set over the file (settings.Options).
	FromFlags []string
}

// Gateway is a configured, listening, not yet running multimsg.
type Gateway struct {
	cfg    config.Config
	log    *slog.Logger
	Store  *store.Store
	Key    *envelope.Key
	Reg    *provider.Registry
	Disp   *dispatch.Dispatcher
	Web    *web.Server
	Update *update.Updater
	Mail   *mailin.Server       // nil unless smtp_in.listen is set
	Inbox  *inbox.Inbox         // inbound SMS and status reports (issue 13)
	SIM    *sim.Watch           // nil unless sim.balance_ussd is set and a modem exists
	cmds   *smscommand.Commands // nil unless [sms.commands] is set
	// Settings changes the configuration from the page and on SIGHUP (ReloadFile).
	Settings *settings.Manager
	neigh    *lan // the ARP watcher; its interface changes live (Reload)
	ln       net.Listener
	mailLn   net.Listener
	clock    *clock.File // nil unless restore_clock
	closers  []func() error
	// svcClosers are each service's drivers to close, by service (services.go); guarded by
	// reloadMu once the gateway runs.
	svcClosers map[string][]func() error

	id       *identity.Identity
	admin    *web.AdminAuth
	cur      atomic.Pointer[config.Config] // the configuration applied now (reload.go)
	reloadMu sync.Mutex                    // one Reload at a time; guards svcClosers, stopped, restarting, stopRun
	stopped  bool
	// restarting: Restart was called; stopRun ends Run's context (restart.go).
	restarting bool
	stopRun    context.CancelFunc

	dogArmed, dogPetted atomic.Bool // the watchdog is open / has been petted since start (health.go)
}

// New opens everything the config names and starts listening; Run serves.
func New(cfg config.Config, o Options) (g *Gateway, err error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Console == nil {
		o.Console = os.Stderr
	}
	g = &Gateway{cfg: cfg, log: o.Log, svcClosers: map[string][]func() error{}}
	g.cur.Store(&cfg)
	defer func() {
		if err != nil {
			g.close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir %s: %w", cfg.DataDir, err)
	}
	if cfg.RestoreClock {
		g.clock = clock.New(cfg.DataDir)
		behind, err := g.clock.Restore()
		switch {
		case err != nil:
			o.Log.Error("clock not restored: job times and deadlines may be in the past until NTP sets it", "err", err)
		case behind > 0:
			o.Log.Warn("system clock was behind the last time this box saw; moved forward (no RTC?)", "by", behind.Round(time.Second))
		}
	}
	if g.Key, err = envelope.LoadOrCreate(cfg.DataDir); err != nil {
		return nil, err
	}
	hash, err := adminHash(cfg, o.Console, o.Log)
	if err != nil {
		return nil, err
	}
	g.Store, err = store.Open(filepath.Join(cfg.DataDir, "multimsg.db"), store.Options{
		Quota:           int64(cfg.Store.QuotaBytes),
		Unparameterised: cfg.Store.Unparameterised.D(),
		Unconsulted:     cfg.Store.Unconsulted.D(),
		KeepArchived:    cfg.Store.KeepArchived.D(),
		TTL:             cfg.Delivery.TTL.D(),
		FileQuota:       int64(cfg.Store.QuotaBytes), // the quota bounds the file too (issue 12)
		DiskFloor:       float64(cfg.Store.DiskFloor) / 100,
		MaxPreprocess:   cfg.Store.MaxPreprocess,
		MaxDevices:      cfg.Store.MaxDevices,
		DeviceIdle:      cfg.Store.DeviceIdle.D(),
		InboxMax:        cfg.Store.InboxMax,
		InboxBytes:      int64(cfg.Store.InboxBytes),
		Log:             o.Log,
	})
	if err != nil {
		return nil, err
	}
	g.closers = append(g.closers, g.Store.Close)
	g.closers = append(g.closers, g.closeServices)
	services, err := g.services(&cfg)
	if err != nil {
		return nil, err
	}
	if g.Reg, err = provider.NewRegistry(services...); err != nil {
		return nil, err
	}
	if err := g.receive(); err != nil {
		return nil, err
	}
	if err := g.simWatch(); err != nil {
		return nil, err
	}
	g.Disp = dispatch.New(g.Store, g.Reg, dispatch.Options{
		RetryMin: cfg.Delivery.RetryMin.D(), RetryMax: cfg.Delivery.RetryMax.D(),
		Workers: cfg.Delivery.Workers, SendTimeout: cfg.Delivery.SendTimeout.D(), Log: o.Log,
		Observe: func(e dispatch.Event) { g.Web.Observe(e) }, // metrics, admin chart; g.Web is set before Run
	})
	// Device identity (SPEC §3): ARP capture on cfg.Interface ("" = kernel table only), opened
	// here and run by Run under its context (the closer covers a New that fails later). Devices
	// enter the registry by their requests (web), not by the ARP frames the watcher learns
	// from: any host on the LAN can forge those by the thousand (issue 11).
	neigh, err := openLAN(cfg.Interface, o.Log)
	if err != nil {
		return nil, err
	}
	g.neigh = neigh
	g.closers = append(g.closers, neigh.Close)
	// Firmware updates through RAUC on the system bus; on a system without it (a laptop) the
	// updater says so and the routes answer 503. ctx bounds the first dial only: the updater
	// has no goroutine but the reader of its D-Bus connection's signals, which Close ends.
	g.Update = update.New(context.Background(), update.Options{
		SpoolDir: cfg.Update.SpoolDir, MaxBundle: int64(cfg.Update.MaxBundle), RebootCommand: o.RebootCommand, Log: o.Log,
	})
	g.closers = append(g.closers, g.Update.Close)
	g.admin = &web.AdminAuth{Hash: hash}
	id := &identity.Identity{Neighbors: neigh}
	id.SetPolicy(policy(&cfg))
	g.id = id
	if o.ConfigPath == "" {
		o.ConfigPath = config.DefaultPath
	}
	g.Settings = settings.New(settings.Options{Path: o.ConfigPath, FromFlags: o.FromFlags, Gateway: g,
		Registry: g.Reg, DataDir: cfg.DataDir, Log: o.Log, Restart: g.Restart, Devices: g.Store.Devices})
	g.Web = web.New(web.Options{
		Update: g.Update,
		Store:  g.Store, Registry: g.Reg, Dispatcher: g.Disp, Key: g.Key,
		Identity: id,
		Status:   func() map[string]any { return arpStatus(neigh.Entries()) },
		Limits: web.Limits{MaxBody: int(cfg.Limits.MaxBody), MaxFiles: cfg.Limits.MaxFiles, MaxField: int(cfg.Limits.MaxField),
			MaxForm: int(cfg.Limits.MaxForm), MaxArgs: cfg.Limits.MaxArgs, BodyBudget: int(cfg.Limits.BodyBudget),
			BodyWait: cfg.Limits.BodyWait.D(), MaxConnsPerIP: cfg.Limits.MaxConnsPerIP, Concurrency: cfg.Limits.Concurrency},
		HostNames: cfg.HostNames,
		Admin:     g.admin, Version: o.Version, ReadTimeout: cfg.Limits.ReadTime.D(), Log: o.Log,
		DataDir: cfg.DataDir, MetricsPublic: cfg.Admin.MetricsPublic,
		ReportWait: g.receiving().ReportWait.D(), InboxDevices: g.receiving().Inbox.Devices,
		SIM: g.simStatus(), Routes: append([]web.Route{g.ussdRoute()}, g.Settings.Routes()...),
		Metrics: []func(io.Writer){g.commandMetrics},
	})
	if g.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	if cfg.SMTPIn.Listen != "" {
		if err := g.mailIn(id); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// arpStatusLimit bounds the ARP entries the status lists: the table holds up to 4096, which a
// host forging ARP fills in seconds, and the page is refreshed every few seconds.
const arpStatusLimit = 256

// arpStatus is the ARP table for /admin/api/status: the most recently seen entries, sorted by
// address, and how many there are in all.
func arpStatus(es []arp.Entry) map[string]any {
	n := len(es)
	if n > arpStatusLimit {
		slices.SortFunc(es, func(a, b arp.Entry) int { return b.LastSeen.Compare(a.LastSeen) })
		es = es[:arpStatusLimit]
		slices.SortFunc(es, func(a, b arp.Entry) int { return a.IP.Compare(b.IP) })
	}
	return map[string]any{"arp": es, "arp_total": n}
}

// Addr is where the gateway listens.
func (g *Gateway) Addr() net.Addr { return g.ln.Addr() }

// MailAddr is where the SMTP listener listens (nil when smtp_in is off).
func (g *Gateway) MailAddr() net.Addr {
	if g.mailLn == nil {
		return nil
	}
	return g.mailLn.Addr()
}

// Run serves until ctx is done, then shuts down cleanly: no new requests, requests in flight
// finish (up to 10 s), sends in flight return, the store commits and closes. After Restart it
// stops the same way and returns ErrRestart, once everything is closed.
func (g *Gateway) Run(ctx context.Context) (err error) {
	ctx, cancel := g.runContext(ctx)
	defer cancel()
	defer func() {
		g.close()
		if err == nil && g.restartRequested() {
			err = ErrRestart
		}
	}()
	g.log.Info("multimsg: serving", "addr", g.ln.Addr().String(), "data_dir", g.cfg.DataDir, "services", strings.Join(g.available(), ","))
	if g.mailLn != nil {
		g.log.Info("multimsg: smtp_in listening", "smtp", g.mailLn.Addr().String())
	}
	// One shutdown path: every long-lived goroutine of the gateway runs in this errgroup, so
	// when Wait returns they are gone; close then releases what is left (the store last). The
	// order: ectx ends HTTP and SMTP in, then the dispatcher (dctx), then the drivers' own work
	// (rctx: a modem stays up for the sends the dispatcher is finishing).
	eg, ectx := errgroup.WithContext(ctx)
	dctx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDispatch()
	rctx, stopRunners := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRunners()
	eg.Go(func() error {
		defer stopRunners()
		return g.Disp.Run(dctx)
	})
	for _, r := range g.runners() {
		eg.Go(func() error { return r.Run(rctx) })
	}
	eg.Go(func() error { return g.neigh.Run(ectx) })
	eg.Go(func() error { return g.Inbox.Run(ectx) })
	eg.Go(func() error {
		err := g.Web.Serve(g.ln)
		if err != nil && ectx.Err() == nil {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	if g.Mail != nil {
		eg.Go(func() error {
			err := g.Mail.Serve(g.mailLn)
			if err != nil && ectx.Err() == nil {
				return fmt.Errorf("smtp_in: %w", err)
			}
			return nil
		})
	}
	eg.Go(func() error {
		t := time.NewTicker(g.cfg.Store.SweepEvery.D())
		defer t.Stop()
		for {
			select {
			case <-ectx.Done():
				return nil
			case <-t.C:
				g.saveClock()
				st, err := g.Store.Sweep(ectx)
				if err != nil && ectx.Err() == nil {
					g.log.Error("retention sweep failed", "err", err)
				} else if st != (store.SweepStats{}) {
					g.log.Info("retention sweep", "stats", st.String())
				}
				// Idle time after an outage drained: give the free pages back to the partition.
				if _, _, err := g.Store.CompactIfSparse(ectx); err != nil && ectx.Err() == nil {
					g.log.Error("store compaction failed", "err", err)
				}
			}
		}
	})
	eg.Go(func() error {
		<-ectx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ectx), 10*time.Second)
		defer cancel()
		var merr error
		if g.Mail != nil {
			merr = g.Mail.Shutdown(sctx)
		}
		err := g.Web.Shutdown(sctx)
		stopDispatch()
		return errors.Join(err, merr)
	})
	if g.cfg.Watchdog != "" {
		g.runWatchdog(ctx, ectx, eg)
	}
	eg.Go(func() error { g.commitWhenHealthy(ectx); return nil })
	if g.SIM != nil {
		eg.Go(func() error { return g.SIM.Run(ectx) })
	}
	g.saveClock()
	err = eg.Wait()
	g.saveClock()
	g.log.Info("multimsg: stopped")
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// runWatchdog pets the hardware watchdog while the store is writable and the dispatcher's loop
// runs; on a clean stop it disarms it (magic close). A box without the device runs without it.
// stop is the caller's context: only when it ends (a signal) is the stop clean; when another
// part of the gateway failed, the watchdog stays armed and resets the board unless the
// supervisor restarts the service in time.
func (g *Gateway) runWatchdog(stop, ctx context.Context, eg *errgroup.Group) {
	const interval = 5 * time.Second // well under the usual 15 s or more of SoC watchdogs
	dog, err := watchdog.Open(g.cfg.Watchdog, watchdog.Options{Logger: g.log})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			g.log.Warn("no watchdog device; running without it", "path", g.cfg.Watchdog)
		} else {
			g.log.Error("watchdog unusable; running without it", "err", err)
		}
		return
	}
	g.log.Info("watchdog armed", "path", g.cfg.Watchdog, "interval", interval)
	eg.Go(func() error {
		g.dogArmed.Store(true)
		err := dog.Run(ctx, interval, func(ctx context.Context) error {
			if !g.Disp.Alive(3 * interval) {
				return errors.New("dispatcher loop is not running")
			}
			// A full partition is not a hung box: a reset would not free a byte, and the store
			// answers (507) and takes writes again once space is freed (issue 12).
			if err := g.Store.Ping(ctx); err != nil && !errors.Is(err, store.ErrDiskFull) {
				return err
			}
			g.dogPetted.Store(true) // Run pets right after a nil
			return nil
		})
		if err != nil {
			return err // the device refused a pet: exit non-zero so the supervisor restarts us
		}
		if stop.Err() == nil {
			g.log.Error("stopping on an error: the watchdog stays armed")
			return nil
		}
		// a clean stop: disarm, so the board does not reset while the service is down on purpose
		return dog.Close()
	})
}

// saveClock records the wall time for the next start (restore_clock).
func (g *Gateway) saveClock() {
	if g.clock != nil {
		if err := g.clock.Save(); err != nil {
			g.log.Error("saving the clock", "err", err)
		}
	}
}

func (g *Gateway) close() {
	g.reloadMu.Lock()
	g.stopped = true
	g.reloadMu.Unlock()
	if g.ln != nil {
		g.ln.Close()
	}
	for i := len(g.closers) - 1; i >= 0; i-- {
		if err := g.closers[i](); err != nil {
			g.log.Error("close", "err", err)
		}
	}
	g.closers = nil
}

// runners are the senders' drivers with background work of their own (provider.Runner).
func (g *Gateway) runners() []provider.Runner {
	var out []provider.Runner
	for _, n := range g.Reg.Names() {
		s, _ := g.Reg.Service(n)
		for _, snd := range s.Senders {
			if r, ok := snd.Driver.(provider.Runner); ok {
				out = append(out, r)
			}
		}
	}
	return out
}

func (g *Gateway) available() []string {
	var out []string
	for _, n := range g.Reg.Names() {
		if s, _ := g.Reg.Service(n); len(s.Senders) > 0 {
			out = append(out, n)
		}
	}
	return out
}

// adminHash returns the configured admin hash or, when none is configured, the one made on
// first start: a random password is generated, only its hash is kept (data_dir/admin.bcrypt),
// and the password is printed once on the console. A hash file that cannot be read, or that
// holds something else than a bcrypt hash, stops the start: replacing it would silently change
// the admin's password. An empty one (its write never reached the disk) is made again.
func adminHash(cfg config.Config, console io.Writer, log *slog.Logger) (string, error) {
	if cfg.Admin.PasswordHash != "" {
		return cfg.Admin.PasswordHash, nil
	}
	path := filepath.Join(cfg.DataDir, "admin.bcrypt")
	b, err := os.ReadFile(path)
	switch h := strings.TrimSpace(string(b)); {
	case err == nil && strings.HasPrefix(h, "$2"):
		return h, nil
	case err == nil && h != "":
		return "", fmt.Errorf("admin password: %s holds no bcrypt hash; remove it to have a new password generated, or set admin.password_hash", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("admin password: %w (not replaced: fix the file, remove it to have a new password generated, or set admin.password_hash)", err)
	}
	var raw [12]byte
	_, _ = rand.Read(raw[:])
	pass := base64.RawURLEncoding.EncodeToString(raw[:])
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.DefaultCost)
	if err != nil {
		return "", err
	}
	// the password is printed once, so its hash must not be lost to a power cut
	if err := atomicfile.Write(path, append(h, '\n')); err != nil {
		return "", fmt.Errorf("admin password: %w", err)
	}
	fmt.Fprintf(console, "\n*** multimsg first start: the admin password is %s\n*** (shown once; only its hash is kept in %s; set admin.password_hash with `multimsg passwd` to choose your own)\n\n", pass, path)
	log.Info("admin password generated and printed on the console", "hash_file", path)
	return string(h), nil
}
