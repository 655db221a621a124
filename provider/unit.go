package provider

import (
	"fmt"
	"log/slog"

	"multimsg/setting"
)

// Unit is one service as the configuration file and the gateway see it: its name (the /msg
// serv, and the TOML table its settings live in) and a constructor of its settings. Each
// provider/<service> package declares one; provider/units lists them.
type Unit struct {
	Name string
	// New returns the service's settings with their defaults: a pointer to the package's
	// Config struct, tagged for package setting (which describes, defaults and checks it).
	New func() Settings
}

// Defaults is a Unit's New for a Config struct C whose tags say all its defaults.
func Defaults[C any, P interface {
	*C
	Settings
}]() Settings {
	p := P(new(C))
	setting.ApplyDefaults(p)
	return p
}

// Settings is one service's table, decoded.
type Settings interface {
	// Fallbacks names the services this one falls back to, so that the configuration can
	// refuse a name no unit has before anything starts.
	Fallbacks() []string
	// Build makes the service from its settings.
	Build(env Env) (*Service, error)
}

// Env is what a service is built with besides its own settings.
type Env struct {
	DataDir string // the box's data directory: relative paths and per-sender state live under it
	Log     *slog.Logger
	// OnClose registers what to close when the gateway stops, last registered first.
	OnClose func(func() error)
}

// Common are the keys every service table has; a service's Config embeds it.
type Common struct {
	Fallback      []string         `toml:"fallback" setting:"label=Fall back to,help=Services tried, in order, when this one cannot deliver."`
	FallbackAfter setting.Duration `toml:"fallback_after" setting:"label=Fall back after,default=2m,positive,help=How long work waits on this service before it falls back."`
}

// Fallbacks implements Settings.
func (c *Common) Fallbacks() []string { return c.Fallback }

// CheckSenderNames refuses an empty or repeated sender name, naming its key ("sender[1].name").
func CheckSenderNames(names []string) error {
	seen := map[string]bool{}
	for i, n := range names {
		key := fmt.Sprintf("sender[%d].name", i)
		if n == "" {
			return setting.Errorf(key, "must not be empty")
		}
		if seen[n] {
			return setting.Errorf(key, "%q is used twice", n)
		}
		seen[n] = true
	}
	return nil
}

// Names lists the names of things that have one, for CheckSenderNames.
func Names[T any](xs []T, name func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = name(x)
	}
	return out
}
