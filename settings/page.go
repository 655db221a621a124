package settings

import (
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"multimsg/config"
	"multimsg/provider"
	"multimsg/provider/sms"
	"multimsg/provider/units"
	"multimsg/setting"
	"multimsg/store"
	"multimsg/web"
)

// A box section is a group of box-level keys on the page; every field is rendered from its
// setting description (label, kind, choices, help), so no field is written twice.
type boxSection struct {
	ID, Title string
	Keys      []string
}

var boxSections = []boxSection{
	{"devices", "Devices", []string{"unknown_device", "allow_macs", "block_macs", "interface"}},
	{"delivery", "Delivery", []string{"delivery.ttl", "delivery.retry_min", "delivery.retry_max", "delivery.send_timeout", "delivery.workers"}},
	{"store", "Retention and quota", []string{"store.quota", "store.unparameterised", "store.unconsulted", "store.keep_archived", "store.max_devices"}},
	{"box", "Box", []string{"listen", "data_dir", "watchdog"}},
}

// serialGlobs are where the box's serial ports appear; by-id names first (stable across
// re-plugging).
var serialGlobs = []string{"/dev/serial/by-id/*", "/dev/ttyUSB*", "/dev/ttyACM*", "/dev/ttyAMA*", "/dev/ttyS*"}

// maxPorts bounds the list (a PC has 32 ttyS).
const maxPorts = 64

// serialPorts lists the serial ports that exist now.
func serialPorts() []string {
	var out []string
	for _, g := range serialGlobs {
		m, _ := filepath.Glob(g)
		sort.Strings(m)
		out = append(out, m...)
	}
	if len(out) > maxPorts {
		out = out[:maxPorts]
	}
	return out
}

// view is what one rendering of the settings page shows.
type view struct {
	CSRF    string
	Cfg     *config.Config
	Raw     map[string]string // values posted with an error, shown as typed (never secrets)
	Errs    map[string]string // error by full key
	Section string            // the section the errors are in
	Top     string            // an error naming no field
	Notice  string
	Tests   map[string]string // outcome of a test message, by service
	Probe   *probeResult      // what a modem probe found (probe.go)
	Audit   []Entry
	Ports   []string
	Known   []store.Device // the device registry (devices.go)
	Reg     *provider.Registry
	Live    func(string) bool
	// Pending are the keys waiting for a restart; Held says which of them the command line
	// sets (a restart keeps its value); CanRestart offers the restart button.
	Pending    []string
	Held       []string
	CanRestart bool
	focused    bool // the first field in error has autofocus
}

// describe finds the description of key (indices ignored) among fs.
func describe(fs []setting.Field, key string) (setting.Field, bool) {
	head, rest, _ := strings.Cut(key, ".")
	if i := strings.IndexByte(head, '['); i >= 0 {
		head = head[:i]
	}
	for _, f := range fs {
		if f.Key != head {
			continue
		}
		if rest == "" {
			return f, true
		}
		return describe(f.Fields, rest)
	}
	return setting.Field{}, false
}

func (v *view) value(target any, key, sub string) string {
	if s, ok := v.Raw[key]; ok {
		return s
	}
	s, _ := setting.Get(target, sub)
	return s
}

func render(p *web.Page, v *view) {
	p.Raw(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>multimsg — settings</title>
<link rel="icon" href="/admin/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/admin/static/admin.css">
<link rel="stylesheet" href="/admin/settings/settings.css">
<script src="/admin/settings/settings.js" defer></script>
</head>
<body>
<header>
  <h1>multimsg</h1>
  <nav><a href="/admin">Status</a> · <strong>Settings</strong></nav>
</header>
<main class="settings">
`)
	if v.Top != "" {
		p.Raw(`<p class="alert" role="alert">`)
		p.Text(v.Top)
		p.Raw(`</p>
`)
	}
	if v.Notice != "" {
		p.Raw(`<p class="notice" role="status">`)
		p.Text(v.Notice)
		p.Raw(`</p>
`)
	}
	restartCard(p, v)
	for _, u := range units.All() {
		serviceCard(p, v, u)
	}
	for _, s := range boxSections {
		boxCard(p, v, s)
		if s.ID == "devices" {
			deviceList(p, v) // devices.go
		}
	}
	adminCard(p, v)
	backupCard(p, v)
	auditCard(p, v)
	p.Raw(`</main>
</body>
</html>
`)
}

// formHead opens a section's form.
func formHead(p *web.Page, v *view, id, title string) {
	p.Raw(`<section class="card"`)
	p.Attr("id", id)
	p.Raw(`><h2>`)
	p.Text(title)
	p.Raw(`</h2>
<form method="post" action="/admin/settings" class="settings-form">`)
	hidden(p, "csrf", v.CSRF)
	hidden(p, "section", id)
}

func hidden(p *web.Page, name, value string) {
	p.Raw(`<input type="hidden"`)
	p.Attr("name", name)
	p.Attr("value", value)
	p.Raw(`>`)
}

func formFoot(p *web.Page) {
	p.Raw(`<div class="actions"><button type="submit">Save and apply</button></div>
</form>
`)
}

func boxCard(p *web.Page, v *view, s boxSection) {
	fs := setting.Fields(&config.Config{})
	formHead(p, v, s.ID, s.Title)
	for _, k := range s.Keys {
		f, ok := describe(fs, k)
		if !ok {
			continue
		}
		field(p, v, f, k, v.value(v.Cfg, k, k), v.Live(k), nil)
	}
	formFoot(p)
	p.Raw(`</section>
`)
}

// serviceCard is one service's form: its common keys, each sender as a fieldset (with a
// remove box), an empty fieldset to add one; then its test form and its senders' health.
func serviceCard(p *web.Page, v *view, u provider.Unit) {
	svc := v.Cfg.Service(u.Name)
	fs := setting.Fields(u.New())
	formHead(p, v, u.Name, serviceTitle(u.Name))
	var tables []setting.Field
	for _, f := range fs {
		switch f.Kind {
		case setting.Tables:
			tables = append(tables, f)
		case setting.Table, setting.Map:
		default:
			k := u.Name + "." + f.Key
			field(p, v, f, k, v.value(svc, k, f.Key), v.Live(k), nil)
		}
	}
	for _, t := range tables {
		n := count(svc, t.Key)
		for i := 0; i <= n; i++ {
			senderFieldset(p, v, u.Name, svc, t, i, i == n)
		}
	}
	formFoot(p)
	testForm(p, v, u.Name)
	if u.Name == sms.ServiceName {
		probeForm(p, v)
	}
	p.Raw(`</section>
`)
}

// count is the number of elements of the repeated table key in *svc.
func count(svc any, key string) int {
	n := 0
	for ; n < maxSenders; n++ {
		if _, err := setting.Get(svc, key+"["+itoa(n)+"].name"); err != nil {
			break
		}
	}
	return n
}

// maxSenders bounds the senders of one service the page handles.
const maxSenders = 64

func serviceTitle(name string) string {
	switch name {
	case "mail":
		return "Mail"
	case "wpp1":
		return "WhatsApp (wpp1)"
	case "sms":
		return "SMS (modems)"
	}
	return name
}

func senderFieldset(p *web.Page, v *view, unit string, svc any, t setting.Field, i int, isNew bool) {
	base := t.Key + "[" + itoa(i) + "]"
	full := unit + "." + base
	if isNew {
		// collapsed unless the admin typed into it (a refused save shows it again)
		p.Raw(`<details class="add"`)
		if v.Raw[full+".name"] != "" {
			p.Raw(` open`)
		}
		p.Raw(`><summary>Add one</summary>`)
	}
	p.Raw(`<fieldset class="snd`)
	if isNew {
		p.Raw(` new`)
	}
	p.Raw(`"><legend>`)
	if isNew {
		p.Raw(`New (fill in a name)`)
	} else {
		name, _ := setting.Get(svc, base+".name")
		p.Text(name)
		if i == 0 {
			p.Raw(` <small>(default)</small>`)
		}
	}
	p.Raw(`</legend>`)
	if e, ok := v.Errs[full]; ok {
		errLine(p, full, e)
	}
	for _, f := range t.Fields {
		if f.Kind == setting.Table || f.Kind == setting.Tables || f.Kind == setting.Map {
			continue
		}
		k := full + "." + f.Key
		val, typed := v.Raw[k]
		switch {
		case typed:
		case isNew:
			val = f.Default // a new sender starts from the defaults
		default:
			val, _ = setting.Get(svc, base+"."+f.Key)
		}
		var list []string
		if unit == "sms" && f.Key == "device" {
			list = v.Ports
		}
		field(p, v, f, k, val, v.Live(k), list)
	}
	if unit == sms.ServiceName {
		probeButton(p, full)
	}
	if !isNew {
		p.Raw(`<label class="remove"><input type="checkbox" name="remove"`)
		p.Attr("value", full)
		p.Raw(`> Remove</label>`)
	}
	p.Raw(`</fieldset>`)
	if isNew {
		p.Raw(`</details>`)
	}
	p.Raw(`
`)
}

// field writes one setting's label, input, help and error.
func field(p *web.Page, v *view, f setting.Field, key, val string, live bool, list []string) {
	e, bad := fieldOpen(p, v, key, f.Label)
	switch {
	case f.Secret:
		p.Raw(`<input type="password" autocomplete="new-password"`)
		focus(p, v, bad)
		p.Attr("id", key)
		p.Attr("name", key)
		p.Raw(` value=""`)
		if val != "" {
			p.Raw(` placeholder="set — leave empty to keep it"`)
		} else {
			p.Raw(` placeholder="not set"`)
		}
		p.Raw(`>`)
	case len(f.Choices) > 0 && f.Kind == setting.String:
		p.Raw(`<select`)
		focus(p, v, bad)
		p.Attr("id", key)
		p.Attr("name", key)
		p.Raw(`>`)
		for _, c := range f.Choices {
			p.Raw(`<option`)
			p.Attr("value", c)
			if c == val {
				p.Raw(` selected`)
			}
			p.Raw(`>`)
			if c == "" {
				p.Raw(`(none)`)
			}
			p.Text(c)
			p.Raw(`</option>`)
		}
		p.Raw(`</select>`)
	case f.Kind == setting.Bool:
		hidden(p, key, "false")
		p.Raw(`<input type="checkbox" value="true"`)
		p.Attr("id", key)
		p.Attr("name", key)
		if val == "true" {
			p.Raw(` checked`)
		}
		p.Raw(`>`)
	case f.Kind == setting.List:
		p.Raw(`<textarea rows="2"`)
		focus(p, v, bad)
		p.Attr("id", key)
		p.Attr("name", key)
		p.Raw(`>`)
		p.Text(val)
		p.Raw(`</textarea>`)
	default:
		p.Raw(`<input type="text" spellcheck="false"`)
		focus(p, v, bad)
		p.Attr("id", key)
		p.Attr("name", key)
		p.Attr("value", val)
		if f.Default != "" {
			p.Attr("placeholder", f.Default)
		}
		if len(list) > 0 {
			p.Attr("list", key+"-ports")
		}
		p.Raw(`>`)
		if len(list) > 0 {
			p.Raw(`<datalist`)
			p.Attr("id", key+"-ports")
			p.Raw(`>`)
			for _, o := range list {
				p.Raw(`<option`)
				p.Attr("value", o)
				p.Raw(`>`)
			}
			p.Raw(`</datalist>`)
		}
	}
	if bad {
		errLine(p, key, e)
	}
	if f.Help != "" || !live {
		p.Raw(`<small class="help">`)
		p.Text(f.Help)
		if !live {
			p.Raw(` <em>Applies at the next start.</em>`)
		}
		p.Raw(`</small>`)
	}
	p.Raw(`</div>
`)
}

// fieldOpen opens a field's block with its label; it returns the key's error, if any.
func fieldOpen(p *web.Page, v *view, key, label string) (string, bool) {
	e, bad := v.Errs[key]
	p.Raw(`<div class="field`)
	if bad {
		p.Raw(` invalid`)
	}
	p.Raw(`"><label`)
	p.Attr("for", key)
	p.Raw(`>`)
	p.Text(label)
	p.Raw(`</label>`)
	return e, bad
}

// focus gives the first field in error the focus, so the browser scrolls to it.
func focus(p *web.Page, v *view, bad bool) {
	if bad && !v.focused {
		v.focused = true
		p.Raw(` autofocus`)
	}
}

func errLine(p *web.Page, key, msg string) {
	p.Raw(`<p class="error" role="alert"`)
	p.Attr("data-key", key)
	p.Raw(`>`)
	p.Text(msg)
	p.Raw(`</p>`)
}

// testForm sends a test message through one of the service's live senders, and shows the
// senders' own health (a modem's bring-up and signal).
func testForm(p *web.Page, v *view, service string) {
	svc, err := v.Reg.Service(service)
	if err != nil || len(svc.Senders) == 0 {
		return
	}
	p.Raw(`<form method="post" action="/admin/settings/test" class="test-form">`)
	hidden(p, "csrf", v.CSRF)
	hidden(p, "service", service)
	p.Raw(`<h3>Send a test message</h3><div class="row"><select name="sender" aria-label="Sender">`)
	for _, s := range svc.Senders {
		p.Raw(`<option`)
		p.Attr("value", s.Name)
		p.Raw(`>`)
		p.Text(s.Name)
		p.Raw(`</option>`)
	}
	p.Raw(`</select><input type="text" name="dest" aria-label="Destination" required`)
	if service == "mail" {
		p.Raw(` placeholder="someone@example.com"`)
	} else {
		p.Raw(` placeholder="number, e.g. 15551234567"`)
	}
	p.Raw(`><button type="submit">Send test</button></div></form>
`)
	if out, ok := v.Tests[service]; ok {
		p.Raw(`<pre class="test-outcome" role="status">`)
		p.Text(out)
		p.Raw(`</pre>
`)
	}
	for _, s := range svc.Senders {
		hr, ok := s.Driver.(provider.HealthReporter)
		if !ok {
			continue
		}
		h := hr.Health()
		p.Raw(`<details class="health"><summary>`)
		p.Text(s.Name)
		if h.OK {
			p.Raw(`: healthy`)
		} else {
			p.Raw(`: `)
			p.Text(orNot(h.Detail))
		}
		p.Raw(`</summary><dl>`)
		if h.Facts != nil {
			h.Facts.Each(func(label, value string) {
				p.Raw(`<dt>`)
				p.Text(label)
				p.Raw(`</dt><dd>`)
				p.Text(orNot(value))
				p.Raw(`</dd>`)
			})
		}
		p.Raw(`</dl></details>
`)
	}
}

func orNot(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func adminCard(p *web.Page, v *view) {
	formHead(p, v, "admin", "Admin password")
	for _, k := range []string{"admin.password", "admin.confirm"} {
		label := "New password"
		if k == "admin.confirm" {
			label = "Again"
		}
		e, bad := fieldOpen(p, v, k, label)
		p.Raw(`<input type="password" autocomplete="new-password" value=""`)
		focus(p, v, bad)
		p.Attr("id", k)
		p.Attr("name", k)
		p.Raw(`>`)
		if bad {
			errLine(p, k, e)
		}
		p.Raw(`</div>
`)
	}
	p.Raw(`<small class="help">At least 10 characters; only its bcrypt hash is kept. Open sessions stay open.</small>`)
	formFoot(p)
	p.Raw(`</section>
`)
}

func backupCard(p *web.Page, v *view) {
	p.Raw(`<section class="card" id="backup"><h2>Backup and restore</h2>
<p><a href="/admin/settings/backup" download>Download the configuration</a> (passwords, tokens and PINs left out).</p>
<form method="post" action="/admin/settings/backup" class="row">`)
	hidden(p, "csrf", v.CSRF)
	p.Raw(`<label><input type="checkbox" name="secrets" value="1" required> Include passwords, tokens and PINs: anyone with the file can use them.</label>
<button type="submit">Download with secrets</button></form>
<form method="post" action="/admin/settings/restore">`)
	hidden(p, "csrf", v.CSRF)
	p.Raw(`<label for="restore-toml">Restore: paste a backup (or pick its file). Secrets left empty in it keep their current values.</label>
<input type="file" id="restore-file" accept=".toml,text/plain" hidden>
<textarea id="restore-toml" name="toml" rows="6" spellcheck="false">`)
	p.Text(v.Raw["toml"])
	p.Raw(`</textarea>`)
	if e, ok := v.Errs["toml"]; ok {
		errLine(p, "toml", e)
	}
	p.Raw(`<div class="actions"><button type="submit">Restore and apply</button></div></form>
</section>
`)
}

func auditCard(p *web.Page, v *view) {
	p.Raw(`<section class="card" id="audit"><h2>Changes</h2>`)
	if len(v.Audit) == 0 {
		p.Raw(`<p class="muted">No change yet.</p></section>
`)
		return
	}
	p.Raw(`<div class="scroll"><table><thead><tr><th>When</th><th>Who</th><th>How</th><th>Keys</th></tr></thead><tbody>`)
	for _, e := range v.Audit {
		p.Raw(`<tr><td>`)
		p.Text(e.At.UTC().Format("2006-01-02 15:04:05Z"))
		p.Raw(`</td><td>`)
		p.Text(e.Who)
		p.Raw(`</td><td>`)
		p.Text(e.How)
		p.Raw(`</td><td>`)
		p.Text(strings.Join(e.Keys, ", "))
		if len(e.Restart) > 0 {
			p.Raw(` <em>(next start: `)
			p.Text(strings.Join(e.Restart, ", "))
			p.Raw(`)</em>`)
		}
		if e.Err != "" {
			p.Raw(` <span class="error">`)
			p.Text(e.Err)
			p.Raw(`</span>`)
		}
		p.Raw(`</td></tr>`)
	}
	p.Raw(`</tbody></table></div></section>
`)
}

func itoa(i int) string { return strconv.Itoa(i) }
