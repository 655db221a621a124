package gateway

import (
	"multimsg/provider"
	"multimsg/provider/units"
)

// services builds every registered service from its table in the config (or its defaults); a
// service with no sender is registered anyway, so /msg can say it is not available on this box.
func (g *Gateway) services() ([]*provider.Service, error) {
	env := provider.Env{DataDir: g.cfg.DataDir, Log: g.log, OnClose: func(f func() error) { g.closers = append(g.closers, f) }}
	var out []*provider.Service
	for _, u := range units.All() {
		s, err := g.cfg.Service(u.Name).Build(env)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
