package web

import (
	"multimsg/dispatch"
)

// The admin pages, written with page (admin_html.go). Each card of the status page is one
// method; adminPage lists them in order. A new panel is a method of its own (in its own file
// if it is more than a few lines) and one line in adminPage — docs/DESIGN.md, "Adding a panel".

var stateOrder = []string{"queued", "delivered", "partial", "failed", "preprocess", "archived"}

type pageData struct {
	Status
	CSRF string
}

func adminPage(p *page, d *pageData) {
	p.raw(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf"`)
	p.attr("content", d.CSRF)
	p.raw(`>
<title>multimsg — status</title>
<link rel="icon" href="/admin/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/admin/static/admin.css">
<script src="/admin/static/admin.js" defer></script>
<link rel="stylesheet" href="/admin/static/update.css">
<script src="/admin/static/update.js" defer></script>
<script src="/admin/static/sim.js" defer></script>
</head>
<body>
<header>
  <h1>multimsg</h1>
  <span class="muted" id="hdr">`)
	p.text(orDash(d.Version))
	p.raw(` · up <span id="uptime">`)
	p.text(d.Uptime)
	p.raw(`</span></span>
  <span class="live" id="live" title="refreshes every 5 s">live</span>
  <a class="nav" href="/admin/settings">Settings</a>
  <form method="post" action="/admin/logout" class="logout">`)
	csrfField(p, d.CSRF)
	p.raw(`<button type="submit" class="link">Log out</button></form>
</header>
<main>
<p id="toast" class="toast" role="status" hidden></p>
`)
	jobsCard(p, d)
	dayCard(p, d)
	sendersCard(p, d)
	simCard(p, d)
	recentCard(p, d)
	inboundCard(p, d)
	devicesCard(p, d)
	boxCard(p, d)
	// The Firmware panel (docs/UPDATE.md): update.js fills it from GET /admin/api/update.
	p.raw(`<section class="card" id="update-card" hidden><h2>Firmware</h2><div id="update"></div></section>
`)
	p.raw(`<noscript><p class="muted">JavaScript is off: reload the page to refresh it.</p></noscript>
</main>
</body>
</html>
`)
}

func csrfField(p *page, csrf string) {
	p.raw(`<input type="hidden" name="csrf"`)
	p.attr("value", csrf)
	p.raw(`>`)
}

func hiddenField(p *page, name, value string) {
	p.raw(`<input type="hidden"`)
	p.attr("name", name)
	p.attr("value", value)
	p.raw(`>`)
}

func jobsCard(p *page, d *pageData) {
	p.raw(`
<section class="card" id="jobs">
  <h2>Jobs</h2>
  <div class="counts" id="counts">
  `)
	for _, k := range stateOrder {
		p.printf(`<div class="count st-%s"><b data-k="%s">%d</b><span>%s</span></div>`, k, k, d.Jobs[k], k)
	}
	p.printf(`
  <div class="count"><b data-k="queue_depth">%d</b><span>waiting</span></div>
  </div>
</section>
`, d.Queue)
}

func dayCard(p *page, d *pageData) {
	p.raw(`
<section class="card" id="day">
  <h2>Last 24 hours <span class="legend"><i class="s0"></i>accepted <i class="s1"></i>delivered <i class="s2"></i>failed</span></h2>
  <div id="chart">`)
	chartSVG(p, d.History)
	p.raw(`</div>
  <p class="caption">hours in UTC · newest on the right<span id="chart-loading"`)
	if !d.HistoryLoading {
		p.raw(` hidden`)
	}
	p.raw(`> · the hours before the last start are still being read</span></p>
</section>
`)
}

func sendersCard(p *page, d *pageData) {
	p.raw(`
<section class="card" id="senders-card">
  <h2>Services and senders</h2>
  <div id="senders" class="senders">
  `)
	for i := range d.Senders {
		senderBlock(p, d, &d.Senders[i])
	}
	if len(d.Senders) == 0 {
		p.raw(`<p class="muted">No sender configured.</p>`)
	}
	p.raw(`
  </div>
</section>
`)
}

func senderBlock(p *page, d *pageData, s *dispatch.SenderStatus) {
	m := modemRows(s)
	state := "unhealthy"
	switch {
	case s.Paused:
		state = "paused"
	case s.Healthy:
		state = "healthy"
	}
	act, label := "pause", "Pause"
	if s.Paused {
		act, label = "resume", "Resume"
	}
	p.printf(`
  <div class="sender %s">
    <div class="row"><b>%s / %s</b>
      <span class="badge">%s</span>
      <form method="post" action="/admin/api/%s" class="act">`, state, s.Service, s.Name, state, act)
	csrfField(p, d.CSRF)
	hiddenField(p, "service", s.Service)
	hiddenField(p, "sender", s.Name)
	p.printf(`<button type="submit">%s</button></form>
    </div>
    <dl>
      <dt>last success</dt><dd title="%s">%s</dd>
      <dt>last error</dt><dd>`, label, stamp(s.LastOK), ago(s.LastOK, d.Now))
	if s.LastError != "" {
		cls := "err"
		if s.LastOK.After(s.LastErrorAt) {
			cls = "muted"
		}
		p.printf(`<span class="%s">%s</span> <span class="muted" title="%s">(%s)</span>`, cls, s.LastError, stamp(s.LastErrorAt), ago(s.LastErrorAt, d.Now))
	} else {
		p.raw(`none`)
	}
	p.raw(`</dd>`)
	if s.Problem != "" {
		p.printf(`<dt>problem</dt><dd class="err">%s</dd>`, s.Problem)
	}
	p.printf(`<dt>sent / failed</dt><dd>%d / %d</dd>`, s.Sent, s.Failures)
	if dr := s.Driver; dr != nil {
		if dr.Detail != "" && dr.Detail != s.LastError && dr.Detail != s.Problem && !m.Show {
			p.printf(`<dt>driver</dt><dd>%s</dd>`, dr.Detail)
		}
		if dr.Facts != nil && !m.Show { // a modem's facts are its block
			dr.Facts.Each(func(label, value string) {
				if value != "" && value != s.LastError {
					p.printf(`<dt>%s</dt><dd>%s</dd>`, label, value)
				}
			})
		}
	}
	p.raw(`
    </dl>`)
	if m.Show {
		p.raw(`
    <div class="modem">
      `)
		barsSVG(p, m.Bars)
		p.raw(`
      <dl>`)
		for _, r := range m.Rows {
			p.printf(`<dt>%s</dt><dd`, r.Label)
			if r.Class != "" {
				p.attr("class", r.Class)
			}
			p.printf(`>%s</dd>`, r.Value)
		}
		p.raw(`</dl>
    </div>`)
	}
	p.raw(`
  </div>
  `)
}

func recentCard(p *page, d *pageData) {
	p.raw(`
<section class="card" id="recent-card">
  <h2>Recent jobs</h2>
  <div class="scroll">
  <table class="jobs">
    <thead><tr><th>job</th><th>created</th><th>device</th><th>service</th><th>destination</th><th>state</th><th class="num">tries</th><th>last error</th><th></th></tr></thead>
    <tbody id="recent">
    `)
	for i := range d.Recent {
		recentRow(p, d, &d.Recent[i])
	}
	if len(d.Recent) == 0 {
		p.raw(`<tr><td colspan="9" class="muted">No jobs yet.</td></tr>`)
	}
	p.raw(`
    </tbody>
  </table>
  </div>
</section>
`)
}

func recentRow(p *page, d *pageData, j *RecentJob) {
	p.printf(`
    <tr data-id="%s" class="st-%s">
      <td class="c-id id" title="%s">%s</td>
      <td class="c-when" title="%s">%s</td>
      <td class="c-dev">`, j.ID, j.State, j.ID, shortID(j.ID), stamp(j.Created), ago(j.Created, d.Now))
	deviceCell(p, j.DeviceName, j.Device)
	if j.Via == "mail" {
		p.raw(`<span class="via" title="arrived by e-mail (SMTP)">via mail</span>`)
	}
	p.printf(`</td>
      <td class="c-svc">%s`, j.Service)
	if j.Sender != "" {
		p.printf(`/%s`, j.Sender)
	}
	arch := ""
	if j.Archived {
		arch = " (archived)"
	}
	p.printf(`</td>
      <td class="c-dest">%s</td>
      <td class="c-state"><span class="state">%s%s</span></td>
      <td class="c-tries num">%d</td>
      <td class="c-err err">%s</td>
      <td class="c-acts acts">`, j.Dest, j.State+reportSuffix(j.Report), arch, j.Attempts, j.Error)
	if j.CanRetry {
		p.raw(`<form method="post" action="/admin/api/retry" class="act">`)
		csrfField(p, d.CSRF)
		hiddenField(p, "id", j.ID)
		p.raw(`<button type="submit">Retry</button></form>`)
	}
	if j.CanCancel {
		p.raw(`<form method="post" action="/admin/api/cancel" class="act">`)
		csrfField(p, d.CSRF)
		hiddenField(p, "id", j.ID)
		p.raw(`<button type="submit" class="danger">Cancel</button></form>`)
	}
	p.raw(`</td>
    </tr>
    `)
}

func devicesCard(p *page, d *pageData) {
	p.raw(`
<section class="card" id="devices-card">
  <h2>Devices <a class="small" href="/admin/settings#device-list">name, allow or block</a></h2>
  <div class="scroll">
  <table>
    <thead><tr><th>device</th><th>IP</th><th>last seen</th><th class="num">jobs</th><th>access</th></tr></thead>
    <tbody id="devices">
    `)
	for i := range d.Devices {
		deviceRow(p, d, &d.Devices[i])
	}
	if len(d.Devices) == 0 {
		p.raw(`<tr><td colspan="5" class="muted">No device seen yet.</td></tr>`)
	}
	p.raw(`
    </tbody>
  </table>
  </div>
</section>
`)
}

// access is a device's access as the devices table shows it.
func access(refused string) string {
	if refused == "" {
		return "allowed"
	}
	return refused
}

// deviceCell is a device as the admin sees it wherever it is shown: the admin's label above
// its MAC (device_names), or the MAC alone.
func deviceCell(p *page, name, mac string) {
	if name != "" {
		p.printf(`<span class="dname">%s</span> `, name)
	}
	p.printf(`<span class="mono">%s</span>`, mac)
}

func deviceRow(p *page, d *pageData, dv *DeviceView) {
	p.raw(`<tr`)
	if dv.Refused != "" {
		p.raw(` class="refused"`)
	}
	p.raw(`><td class="c-device">`)
	deviceCell(p, dv.Name, dv.MAC)
	p.printf(`</td><td class="mono">%s</td><td title="%s">%s</td><td class="num">%d</td><td class="c-access">%s</td></tr>
    `, dv.IP, stamp(dv.LastSeen), ago(dv.LastSeen, d.Now), dv.Jobs, access(dv.Refused))
}

func boxCard(p *page, d *pageData) {
	st := d.Store
	p.printf(`
<section class="card" id="box">
  <h2>Box</h2>
  <dl id="facts">
    <dt>store</dt><dd><span data-k="store">%s of %s (%d%%)</span><meter min="0" max="100" value="%d" data-k="store_meter"></meter></dd>
    <dt>database file</dt><dd data-k="file">%s (%s in use, %s free)</dd>
    <dt>headroom</dt><dd data-k="headroom">%s (floor %s kept free)</dd>
    <dt>free disk</dt><dd data-k="disk">`, humanBytes(st.Bytes), humanBytes(st.Quota), pct(st.Bytes, st.Quota), pct(st.Bytes, st.Quota),
		humanBytes(st.FileBytes), humanBytes(st.InUse), humanBytes(st.FreeInFile), humanBytes(st.Headroom), humanBytes(st.DiskFloor))
	if d.Disk != nil {
		p.printf(`%s of %s`, humanBytes(d.Disk.Free), humanBytes(d.Disk.Total))
	} else {
		p.raw(`—`)
	}
	p.printf(`</dd>
    <dt>uptime</dt><dd data-k="uptime">%s</dd>
    <dt>version</dt><dd>%s</dd>
    <dt>started</dt><dd>%s</dd>
  </dl>
</section>
`, d.Uptime, orDash(d.Version), stamp(d.Started))
}

type loginData struct {
	Version string
	Error   string
}

func loginPage(p *page, d *loginData) {
	p.raw(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>multimsg — admin login</title>
<link rel="icon" href="/admin/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/admin/static/admin.css">
</head>
<body class="login">
<main>
<form method="post" action="/admin/login" class="card" id="login">
  <h1>multimsg</h1>
  <p class="muted">Message gateway administration`)
	if d.Version != "" {
		p.printf(` · %s`, d.Version)
	}
	p.raw(`</p>
  `)
	if d.Error != "" {
		p.printf(`<p class="error" role="alert">%s</p>`, d.Error)
	}
	p.raw(`
  <label for="password">Admin password</label>
  <input type="password" id="password" name="password" autocomplete="current-password" required autofocus>
  <button type="submit">Log in</button>
  <p class="muted small">No password configured? The box printed one on its console at first start
  (only its hash is kept). Set your own with <code>multimsg passwd</code>.</p>
</form>
</main>
</body>
</html>
`)
}
