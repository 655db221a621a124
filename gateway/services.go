package gateway

import (
	"errors"
	"fmt"
	"reflect"

	"multimsg/config"
	"multimsg/provider"
	"multimsg/provider/units"
)

// services builds every registered service from its table in cfg (or its defaults); a service
// with no sender is registered anyway, so /msg can say it is not available on this box. What
// each service opens is closed with it (closeService), on a reload or when the gateway stops.
func (g *Gateway) services(cfg *config.Config) ([]*provider.Service, error) {
	var out []*provider.Service
	for _, u := range units.All() {
		s, err := g.buildService(cfg, u.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// buildService builds one service and records what to close with it.
func (g *Gateway) buildService(cfg *config.Config, name string) (*provider.Service, error) {
	var closers []func() error
	env := provider.Env{DataDir: cfg.DataDir, Log: g.log, OnClose: func(f func() error) { closers = append(closers, f) }}
	s, err := cfg.Service(name).Build(env)
	if err != nil {
		closeAll(closers)
		return nil, err
	}
	g.svcClosers[name] = closers
	return s, nil
}

// closeService closes what the named service opened (its drivers: SMTP connections, modems).
func (g *Gateway) closeService(name string) error {
	err := closeAll(g.svcClosers[name])
	delete(g.svcClosers, name)
	return err
}

// closeServices closes every service's drivers (the gateway stops).
func (g *Gateway) closeServices() error {
	var errs []error
	for name := range g.svcClosers {
		errs = append(errs, g.closeService(name))
	}
	return errors.Join(errs...)
}

func closeAll(fs []func() error) error {
	var errs []error
	for i := len(fs) - 1; i >= 0; i-- {
		errs = append(errs, fs[i]())
	}
	return errors.Join(errs...)
}

// replaceServices makes the registry hold the services of next: a service whose table is
// unchanged keeps its drivers (and its senders' health); a changed one is closed first — a
// modem's port must be free before its replacement opens it — and built again. It runs inside
// dispatch.Dispatcher.Swap, with no send in flight. If a service cannot be built, the old
// table's is built again and the error says which.
func (g *Gateway) replaceServices(prev, next *config.Config) (rebuilt []string, err error) {
	var out []*provider.Service
	var errs []error
	for _, u := range units.All() {
		old, _ := g.Reg.Service(u.Name)
		if old != nil && reflect.DeepEqual(prev.Service(u.Name), next.Service(u.Name)) {
			out = append(out, old)
			continue
		}
		if err := g.closeService(u.Name); err != nil {
			g.log.Warn("closing a service's old drivers", "service", u.Name, "err", err)
		}
		s, err := g.buildService(next, u.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w (kept its previous settings)", u.Name, err))
			if s, err = g.buildService(prev, u.Name); err != nil {
				errs = append(errs, fmt.Errorf("%s: rebuilding its previous settings: %w", u.Name, err))
				continue
			}
		} else {
			rebuilt = append(rebuilt, u.Name)
		}
		for _, snd := range s.Senders { // the new modems deliver what they receive to the inbox
			if r, ok := snd.Driver.(provider.Receiving); ok && g.Inbox != nil {
				r.SetReceiver(g.Inbox)
			}
		}
		out = append(out, s)
	}
	if err := g.Reg.Replace(out...); err != nil {
		errs = append(errs, err)
	}
	return rebuilt, errors.Join(errs...)
}
