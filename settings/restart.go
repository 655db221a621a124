package settings

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/valyala/fasthttp"

	"multimsg/config"
	"multimsg/web"
)

// Pending lists the keys changed since the process started that only a start reads: they
// wait for a restart (the page says so until the process restarts).
func (m *Manager) Pending() []string {
	cur := m.o.Gateway.Config()
	var out []string
	for _, k := range config.Changed(&m.start, &cur) {
		if !m.o.Gateway.Live(k) {
			out = append(out, k)
		}
	}
	return out
}

// heldNote says what a restart will not do for a pending key ("" when nothing needs saying):
// a key the command line sets keeps the command line's value; a new data_dir moves nothing.
func (m *Manager) heldNote(key string) string {
	if !slices.Contains(m.o.FromFlags, key) {
		if key != "data_dir" {
			return ""
		}
		cur := m.o.Gateway.Config()
		return fmt.Sprintf("data_dir: a restart moves nothing. The jobs, the box's key and the audit log stay in %s; the service starts on %s as a new box (no jobs, a new key that devices must fetch again). To keep them, stop the service and copy %s to %s first, or set data_dir back.",
			m.start.DataDir, cur.DataDir, m.start.DataDir, cur.DataDir)
	}
	flag := map[string]string{"listen": "-listen", "data_dir": "-data"}[key]
	was, _ := getKey(&m.start, key)
	cur := m.o.Gateway.Config()
	now, _ := getKey(&cur, key)
	return fmt.Sprintf("%s is set on the command line (%s %s): a restart keeps %s; the saved %s is used once the service starts without %s.",
		key, flag, was, was, now, flag)
}

// nextStart is the configuration a start would run now: the file as a start reads it, with
// the keys the command line sets kept (a restart keeps the arguments).
func (m *Manager) nextStart() (config.Config, error) {
	next, err := config.Load(m.o.Path)
	if errors.Is(err, config.ErrNoFile) {
		next, err = config.LoadDefault()
	}
	if err != nil {
		return next, err
	}
	for _, k := range m.o.FromFlags {
		v, err := getKey(&m.start, k)
		if err == nil {
			err = setKey(&next, k, v)
		}
		if err != nil {
			return next, err
		}
	}
	return next, next.Validate()
}

// restartCheck refuses a restart that would not come back: a file that does not load, or a
// new listen address this box cannot bind (taken, or not one of its addresses). The old
// address is ours until the stop, so it is not tried.
func (m *Manager) restartCheck() (config.Config, error) {
	next, err := m.nextStart()
	if err != nil {
		return next, fmt.Errorf("the configuration a start would read is not valid: %w", err)
	}
	for _, l := range []struct{ key, now, was string }{
		{"listen", next.Listen, m.start.Listen},
		{"smtp_in.listen", next.SMTPIn.Listen, m.start.SMTPIn.Listen},
	} {
		if l.now == "" || l.now == l.was {
			continue
		}
		ln, err := net.Listen("tcp", l.now)
		if err != nil {
			return next, fmt.Errorf("%s %s: %w", l.key, l.now, err)
		}
		ln.Close()
	}
	return next, nil
}

// restart stops the service cleanly and starts it again (Options.Restart): checked first,
// audited, answered with a page that points at the address the service comes back on.
func (m *Manager) restart(ctx *fasthttp.RequestCtx) error {
	if m.o.Restart == nil {
		return web.Errorf(http.StatusServiceUnavailable, "this gateway cannot restart itself; restart the service")
	}
	m.mu.Lock() // no save half-done while the service stops
	defer m.mu.Unlock()
	next, err := m.restartCheck()
	if err != nil {
		m.audit.add(Entry{At: time.Now(), Who: who(ctx), How: "restart", Keys: m.Pending(), Err: "not restarted: " + err.Error()})
		v := m.newView(ctx)
		v.Top = "Not restarted: " + err.Error()
		web.Render(ctx, http.StatusConflict, func(p *web.Page) { render(p, v) })
		return nil
	}
	m.audit.add(Entry{At: time.Now(), Who: who(ctx), How: "restart", Keys: m.Pending()})
	url := "http://" + hostPort(string(ctx.Host()), next.Listen) + "/admin/settings"
	web.Render(ctx, http.StatusOK, func(p *web.Page) { restarting(p, url) })
	// The answer goes out first (the server's shutdown waits for it), and the browser gets a
	// moment to load the page's stylesheets before the server stops answering.
	time.AfterFunc(restartDelay, m.o.Restart)
	return nil
}

// restartDelay is how long the restart waits after its answer.
const restartDelay = time.Second

// hostPort is where the browser finds the service after the restart: the host it used now,
// unless the new address names one, and the new address's port.
func hostPort(reqHost, listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return reqHost
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = reqHost
		if h, _, err := net.SplitHostPort(reqHost); err == nil {
			host = h
		}
	}
	return net.JoinHostPort(host, port)
}

func restarting(p *web.Page, url string) {
	p.Raw(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh"`)
	p.Attr("content", "8;url="+url)
	p.Raw(`>
<title>multimsg — restarting</title>
<link rel="icon" href="/admin/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/admin/static/admin.css">
<link rel="stylesheet" href="/admin/settings/settings.css">
</head>
<body>
<header>
  <h1>multimsg</h1>
</header>
<main class="settings">
<section class="card" id="restarting"><h2>Restarting</h2>
<p class="notice" role="status">The service is stopping (requests answered, sends in flight finished or left queued, the store closed) and starting again with the saved settings.</p>
<p>It answers again in a few seconds at <a`)
	p.URL("href", url)
	p.Raw(`>`)
	p.Text(url)
	p.Raw(`</a>; this page goes there by itself. Log in again: sessions do not survive a restart.</p>
</section>
</main>
</body>
</html>
`)
}

// restartCard lists the keys waiting for a restart and offers one.
func restartCard(p *web.Page, v *view) {
	if len(v.Pending) == 0 {
		return
	}
	p.Raw(`<section class="card" id="restart"><h2>Restart</h2><p>Pending restart: <strong>`)
	for i, k := range v.Pending {
		if i > 0 {
			p.Raw(`, `)
		}
		p.Text(k)
	}
	p.Raw(`</strong>. Saved in the file; they take effect when the service starts again.</p>`)
	for _, n := range v.Held {
		p.Raw(`<p class="alert">`)
		p.Text(n)
		p.Raw(`</p>`)
	}
	if v.CanRestart {
		p.Raw(`<form method="post" action="/admin/settings/restart" class="settings-form">`)
		hidden(p, "csrf", v.CSRF)
		p.Raw(`<div class="actions"><button type="submit">Restart the service now</button></div></form>`)
	} else {
		p.Raw(`<p class="muted">Restart the service to apply them.</p>`)
	}
	p.Raw(`</section>
`)
}
