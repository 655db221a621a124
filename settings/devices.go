package settings

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"multimsg/config"
	"multimsg/identity"
	"multimsg/store"
	"multimsg/web"
)

// The device list of the settings page (issue 14, "Devices"): every device the box knows —
// seen by the registry, or named, allowed or blocked in the file — with its label and its
// access, and one form per device to name it, block it, unblock it or allow it. Each action
// changes device_names, block_macs or allow_macs through the same path as any save: validated,
// written with the previous file kept, applied live (gateway.Reload), audited.

// deviceActions are the actions a device's form posts (its button's value).
var deviceActions = []string{"name", "block", "unblock", "allow"}

// maxDeviceRows bounds the list: the registry holds up to store.max_devices, the file up to
// config.MaxDeviceMACs a list; past it the page says how many are left out.
const maxDeviceRows = 256

// newRow is the key of the list's last form: a device not seen yet, named or blocked ahead.
const newRow = "new"

// deviceRow is one device of the list.
type deviceRow struct {
	MAC, Name string
	Seen      *store.Device // nil: only in the file
	Blocked   bool
	Listed    bool   // in allow_macs
	Access    string // what the gateway does with its requests: identity.Policy.Refusal, or "allowed"
}

// deviceRows is the list: seen devices first (most recent first), then the file's other MACs
// in order. Devices known by their IP or the box itself have no MAC to name or block.
func deviceRows(cfg *config.Config, seen []store.Device) (rows []deviceRow, more int) {
	pol := identity.NewPolicy(false, cfg.AllowMACs, cfg.BlockMACs, nil) // the gateway's rule, not a copy
	at := map[string]int{}
	add := func(mac string, d *store.Device) {
		if _, ok := at[mac]; ok {
			return
		}
		at[mac] = len(rows)
		r := deviceRow{MAC: mac, Name: cfg.DeviceNames[mac], Seen: d, Blocked: pol.Block[mac], Listed: pol.Allow[mac],
			Access: pol.Refusal(mac)}
		if r.Access == "" {
			r.Access = "allowed"
		}
		rows = append(rows, r)
	}
	for i := range seen {
		if mac, err := config.ParseMAC(seen[i].MAC); err == nil && mac == seen[i].MAC {
			add(mac, &seen[i])
		}
	}
	var file []string
	for m := range cfg.DeviceNames {
		file = append(file, m)
	}
	file = append(append(file, cfg.BlockMACs...), cfg.AllowMACs...)
	slices.Sort(file)
	for _, m := range file {
		add(m, nil)
	}
	if len(rows) > maxDeviceRows {
		return rows[:maxDeviceRows], len(rows) - maxDeviceRows
	}
	return rows, 0
}

// device applies one device's action, then goes back to the device's row; a refused one shows
// the page again with the error in the row (422) and changes nothing.
func (m *Manager) device(ctx *fasthttp.RequestCtx) error {
	args := ctx.PostArgs()
	action := string(args.Peek("action"))
	if !slices.Contains(deviceActions, action) {
		return web.Errorf(http.StatusBadRequest, "no device action %q (want one of %s)", action, strings.Join(deviceActions, ", "))
	}
	raw, name := strings.TrimSpace(string(args.Peek("mac"))), string(args.Peek("name"))
	row := raw
	if string(args.Peek("row")) == newRow {
		row = newRow
	}
	typed := map[string]string{"mac:" + row: raw, "name:" + row: name}
	mac, err := config.ParseMAC(raw)
	if err == nil {
		// the audit says which device: the keys alone (block_macs, device_names) do not
		_, err = m.change(func(c *config.Config) { editDevice(c, mac, action, name) }, who(ctx), "devices: "+action+" "+mac)
	}
	if err != nil {
		return m.fail(ctx, &formError{section: "device-list", errs: map[string]string{"device:" + row: message(err)},
			top: "Not saved: " + message(err)}, typed)
	}
	ctx.Response.Header.Set("Location", "/admin/settings?saved=devices#"+rowID(mac))
	ctx.SetStatusCode(http.StatusSeeOther)
	return nil
}

// editDevice changes the device keys of c for one action on mac. A name is checked by
// config.Validate with the rest (one place, one strictness); an empty one removes the label.
func editDevice(c *config.Config, mac, action, name string) {
	without := func(l []string) []string { return slices.DeleteFunc(l, func(m string) bool { return m == mac }) }
	switch action {
	case "name":
		if strings.TrimSpace(name) == "" {
			delete(c.DeviceNames, mac)
			return
		}
		if c.DeviceNames == nil {
			c.DeviceNames = map[string]string{}
		}
		c.DeviceNames[mac] = name
	case "block":
		if !slices.Contains(c.BlockMACs, mac) {
			c.BlockMACs = append(c.BlockMACs, mac)
		}
	case "unblock":
		c.BlockMACs = without(c.BlockMACs)
	case "allow": // unblocked, and on the allow-list when there is one (an empty one admits all)
		c.BlockMACs = without(c.BlockMACs)
		if len(c.AllowMACs) > 0 && !slices.Contains(c.AllowMACs, mac) {
			c.AllowMACs = append(c.AllowMACs, mac)
		}
	}
}

// change applies edit to a copy of the running configuration, with m.mu held from the read to
// the apply, so that two admins' changes never undo each other.
func (m *Manager) change(edit func(*config.Config), who, how string) (Applied, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.o.Gateway.Config()
	next, err := Copy(&cur)
	if err != nil {
		return Applied{}, err
	}
	edit(&next)
	return m.apply(next, who, how)
}

// rowID is the HTML id of a device's row: the redirect after an action scrolls back to it.
func rowID(mac string) string { return "dev-" + strings.ReplaceAll(mac, ":", "") }

// deviceList renders the list.
func deviceList(p *web.Page, v *view) {
	rows, more := deviceRows(v.Cfg, v.Known)
	p.Raw(`<section class="card" id="device-list"><h2>Known devices</h2>
<p class="help">A name is shown beside the MAC on the status page and in its JSON. A blocked device's requests (HTTP and mail) are refused with 403 from the next one on.</p>
`)
	for i := range rows {
		deviceForm(p, v, &rows[i])
	}
	if more > 0 {
		p.Raw(`<p class="muted">`)
		p.Text(strconv.Itoa(more) + " more not shown: name or block them by MAC below, or in the file.")
		p.Raw(`</p>`)
	}
	if len(rows) == 0 {
		p.Raw(`<p class="muted">No device seen yet.</p>`)
	}
	p.Raw(`<form method="post" action="/admin/settings/devices" class="device new" id="dev-new"><h3>A device not seen yet</h3><div class="row">`)
	hidden(p, "csrf", v.CSRF)
	hidden(p, "row", newRow)
	p.Raw(`<input type="text" name="mac" aria-label="MAC address" placeholder="aa:bb:cc:dd:ee:ff" spellcheck="false" required`)
	p.Attr("value", v.Raw["mac:"+newRow])
	p.Raw(`><input type="text" name="name" aria-label="Name" placeholder="name (optional)" maxlength="64"`)
	p.Attr("value", v.Raw["name:"+newRow])
	p.Raw(`><button type="submit" name="action" value="name">Name</button><button type="submit" name="action" value="block" class="danger">Block</button></div>`)
	if e, ok := v.Errs["device:"+newRow]; ok {
		errLine(p, "device:"+newRow, e)
	}
	p.Raw(`</form>
</section>
`)
}

// deviceForm is one device: its MAC, what the registry knows, its access, a name field and
// the buttons its access calls for.
func deviceForm(p *web.Page, v *view, r *deviceRow) {
	key := "device:" + r.MAC
	e, bad := v.Errs[key]
	acc := r.Access
	p.Raw(`<form method="post" action="/admin/settings/devices" class="device`)
	if acc != "allowed" {
		p.Raw(` refused`)
	}
	p.Raw(`"`)
	p.Attr("id", rowID(r.MAC))
	p.Raw(`>`)
	hidden(p, "csrf", v.CSRF)
	hidden(p, "mac", r.MAC)
	p.Raw(`<div class="dev-head"><span class="mono">`)
	p.Text(r.MAC)
	p.Raw(`</span> <span class="access">`)
	p.Text(acc)
	p.Raw(`</span> <span class="muted small">`)
	if r.Seen != nil {
		jobs := strconv.FormatInt(r.Seen.Jobs, 10) + " jobs"
		if r.Seen.Jobs == 1 {
			jobs = "1 job"
		}
		p.Text(r.Seen.IP + " · seen " + r.Seen.LastSeen.UTC().Format("2006-01-02 15:04Z") + " · " + jobs)
	} else {
		p.Raw(`not seen since the start`)
	}
	p.Raw(`</span></div><div class="row"><input type="text" name="name" placeholder="name this device" maxlength="64"`)
	p.Attr("aria-label", "Name of "+r.MAC)
	name := r.Name
	if s, ok := v.Raw["name:"+r.MAC]; ok {
		name = s
	}
	p.Attr("value", name)
	if bad {
		p.Raw(` aria-invalid="true" autofocus`)
	}
	p.Raw(`><button type="submit" name="action" value="name">Save name</button>`)
	switch {
	case acc == "allowed":
		p.Raw(`<button type="submit" name="action" value="block" class="danger">Block</button>`)
	case r.Blocked && (len(v.Cfg.AllowMACs) == 0 || r.Listed):
		p.Raw(`<button type="submit" name="action" value="unblock">Unblock</button>`)
	default:
		p.Raw(`<button type="submit" name="action" value="allow">Allow</button>`)
	}
	p.Raw(`</div>`)
	if bad {
		errLine(p, key, e)
	}
	p.Raw(`</form>
`)
}

// knownDevices is the registry for the page, nil without one.
func (m *Manager) knownDevices() []store.Device {
	if m.o.Devices == nil {
		return nil
	}
	return m.o.Devices()
}
