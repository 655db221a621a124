package settings

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"multimsg/config"
	"multimsg/provider"
	"multimsg/store"
)

// Applier is the running gateway as the settings see it.
type Applier interface {
	// Config is the configuration applied now.
	Config() config.Config
	// Reload applies a valid configuration live (docs/DESIGN.md, "Applying settings live").
	Reload(next config.Config) (Applied, error)
	// Live says whether a change of key takes effect without a restart.
	Live(key string) bool
	// Check says what only the running box can tell of a valid next configuration (an ARP
	// interface it does not have): a *setting.Error naming the key, before anything is written.
	Check(next *config.Config) error
}

// Options configure a Manager.
type Options struct {
	// Path is the configuration file: written by the page, read again on SIGHUP.
	Path string
	// FromFlags are keys the command line sets over the file (-listen, -data): the file keeps
	// its own values for them when the page writes it, and a reload of the file sets them
	// again from the running configuration.
	FromFlags []string
	Gateway   Applier
	Registry  *provider.Registry // the live services, for test messages and health
	DataDir   string             // the audit log lives here
	Log       *slog.Logger
	// Devices lists the device registry, for the page's device list (nil: none).
	Devices func() []store.Device
	// TestTimeout bounds a test message (default 60 s: a modem may take that long).
	TestTimeout time.Duration
	// Restart stops the service cleanly and starts it again with the same arguments
	// (gateway.Gateway.Restart; cmd/multimsg re-executes itself). nil: the page only says
	// which keys wait for a restart.
	Restart func()
}

// Manager changes the configuration: one change at a time, validated, written, applied, audited.
type Manager struct {
	o     Options
	mu    sync.Mutex // one change at a time
	audit *audit
	start config.Config // the configuration the process started with (Pending)

	// probing: one modem probe at a time (each may hold a modem for probeTimeout)
	probing sync.Mutex
}

// New makes a Manager.
func New(o Options) *Manager {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.TestTimeout <= 0 {
		o.TestTimeout = time.Minute
	}
	m := &Manager{o: o, audit: openAudit(filepath.Join(o.DataDir, "settings-audit.jsonl"), o.Log)}
	cur := o.Gateway.Config()
	var err error
	if m.start, err = Copy(&cur); err != nil {
		m.start = cur // its service tables are never changed in place (gateway.Config)
	}
	return m
}

// Apply validates next, writes it to the file (the previous one kept as .bak) and applies it.
// Nothing is written or applied unless the whole of next is valid; the error then is the
// config's own (a *setting.Error naming the key, for the page).
func (m *Manager) Apply(next config.Config, who, how string) (Applied, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.apply(next, who, how)
}

// apply is Apply with m.mu held.
func (m *Manager) apply(next config.Config, who, how string) (Applied, error) {
	if err := next.Validate(); err != nil {
		return Applied{}, err
	}
	if err := m.o.Gateway.Check(&next); err != nil {
		return Applied{}, err
	}
	cur := m.o.Gateway.Config()
	keys := config.Changed(&cur, &next)
	if len(keys) == 0 {
		return Applied{}, nil
	}
	file, err := m.fileView(&cur, &next)
	if err != nil {
		return Applied{}, err
	}
	if err := writeFile(m.o.Path, &file); err != nil {
		m.audit.add(Entry{At: time.Now(), Who: who, How: how, Keys: keys, Err: "not saved: " + err.Error()})
		return Applied{}, err
	}
	a, err := m.o.Gateway.Reload(next)
	e := Entry{At: time.Now(), Who: who, How: how, Keys: keys, Restart: a.Restart}
	if err != nil {
		e.Err = err.Error()
	}
	m.audit.add(e)
	return a, err
}

// fileView is next as the file should hold it: the keys the command line sets keep the file's
// values (or the defaults, with no file yet), unless this change sets them (next differs from
// cur there): the admin's new value is then saved, and the page says that the command line's
// value wins while it is given (heldNote).
func (m *Manager) fileView(cur, next *config.Config) (config.Config, error) {
	out, err := Copy(next)
	if err != nil || len(m.o.FromFlags) == 0 {
		return out, err
	}
	disk, err := config.Load(m.o.Path)
	if errors.Is(err, config.ErrNoFile) {
		disk, err = config.LoadDefault()
	}
	if err != nil {
		return out, fmt.Errorf("reading %s for the keys the command line sets: %w", m.o.Path, err)
	}
	for _, k := range m.o.FromFlags {
		was, _ := getKey(cur, k)
		if v, _ := getKey(next, k); v != was {
			continue // changed by the admin now: saved
		}
		v, err := getKey(&disk, k)
		if err == nil {
			err = setKey(&out, k, v)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// ReloadFile reads the file again and applies it (SIGHUP: an edit by hand): the same checks
// and the same apply as the page, without writing.
func (m *Manager) ReloadFile(who string) (Applied, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	next, err := config.Load(m.o.Path)
	if err != nil {
		m.audit.add(Entry{At: time.Now(), Who: who, How: "file", Err: "not applied: " + err.Error()})
		return Applied{}, err
	}
	cur := m.o.Gateway.Config()
	for _, k := range m.o.FromFlags {
		v, err := getKey(&cur, k)
		if err == nil {
			err = setKey(&next, k, v)
		}
		if err != nil {
			return Applied{}, err
		}
	}
	err = next.Validate()
	if err == nil {
		err = m.o.Gateway.Check(&next)
	}
	if err != nil {
		m.audit.add(Entry{At: time.Now(), Who: who, How: "file", Err: "not applied: " + err.Error()})
		return Applied{}, err
	}
	keys := config.Changed(&cur, &next)
	a, err := m.o.Gateway.Reload(next)
	e := Entry{At: time.Now(), Who: who, How: "file", Keys: keys, Restart: a.Restart}
	if err != nil {
		e.Err = err.Error()
	}
	m.audit.add(e)
	return a, err
}
