package settings

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"multimsg/hw/serial"
	"multimsg/modem"
	"multimsg/provider/sms"
	"multimsg/web"
)

// probeTimeout bounds a whole probe: the page answers within the admin's patience and well
// inside the HTTP server's write timeout, even when a step hangs.
const probeTimeout = 25 * time.Second

// probeCommandTimeout bounds each command of a probe of a port no sender owns (the CLI's
// default); a live sender's probe uses the sender's own command timeout.
const probeCommandTimeout = 5 * time.Second

// maxKeptFields bounds the fieldset values a probe keeps for the page.
const maxKeptFields = 64

// maxDevicePath bounds a typed device path.
const maxDevicePath = 256

// probeResult is what one probe of a modem found, for the page.
type probeResult struct {
	Device string
	Sender string // the live sender the probe went through
	Opened bool   // no sender owns the port: it was opened for the probe
	Health modem.Health
	Steps  []modem.Step
	Err    error // nil: the modem can send
	Took   time.Duration
}

// timedOut says the probe's time ran out before the bring-up finished.
func (r *probeResult) timedOut() bool { return errors.Is(r.Err, context.DeadlineExceeded) }

// probe runs a modem's bring-up on demand and shows every step and the health it read: a
// live sender's modem through its driver (the driver owns the port; sends wait for the probe),
// a port no sender uses opened for the probe alone. The form names a live sender, or types a
// device (a port from the list, before a sender uses it).
func (m *Manager) probe(ctx *fasthttp.RequestCtx) error {
	args := ctx.PostArgs()
	sender := strings.TrimSpace(string(args.Peek("sender")))
	device := strings.TrimSpace(string(args.Peek("device")))
	pin := string(args.Peek("pin"))
	baudText := strings.TrimSpace(string(args.Peek("baud")))
	v := m.newView(ctx)
	v.Raw = map[string]string{"probe.device": device, "probe.sender": sender, "probe.baud": baudText}
	// A sender's fieldset as typed ("Probe this modem" sends it along): shown again as it was,
	// so an unsaved sender need not be typed twice. Secrets are never shown again anyway.
	n := 0
	for k, val := range args.All() {
		if bytes.HasPrefix(k, []byte(sms.ServiceName+".sender[")) && n < maxKeptFields {
			v.Raw[string(k)] = string(val)
			n++
		}
	}
	if !m.probing.TryLock() {
		v.Probe = &probeResult{Device: device}
		v.Probe.Err = errors.New("another probe is running; try again when it has finished")
	} else {
		v.Probe = m.runProbe(ctx, sender, device, pin, baudText)
		m.probing.Unlock()
	}
	m.o.Log.Info("settings: modem probe", "who", who(ctx), "sender", v.Probe.Sender, "device", v.Probe.Device,
		"took", v.Probe.Took.Round(time.Millisecond), "outcome", errText(v.Probe.Err))
	web.Render(ctx, http.StatusOK, func(p *web.Page) { render(p, v) })
	return nil
}

func errText(err error) string {
	if err == nil {
		return "ready"
	}
	return err.Error()
}

func (m *Manager) runProbe(ctx context.Context, sender, device, pin, baudText string) *probeResult {
	start := time.Now()
	r := &probeResult{Device: device}
	defer func() { r.Took = time.Since(start) }()
	// not derived from the request's cancellation: fasthttp reuses its RequestCtx (web/cost.go, take)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeTimeout)
	defer cancel()
	live := m.liveModems()
	var d *sms.Driver
	switch {
	case device != "":
		if err := checkDevice(device); err != nil {
			r.Err = err
			return r
		}
		for name, ld := range live {
			if samePort(ld.Device(), device) {
				d, r.Sender = ld, name
			}
		}
	case sender != "":
		if d = live[sender]; d == nil {
			r.Err = fmt.Errorf("no running SMS sender %q (save it first, or type its device)", sender)
			return r
		}
		r.Device, r.Sender = d.Device(), sender
	default:
		r.Err = errors.New("pick a sender or type a serial device")
		return r
	}
	if d != nil {
		r.Health, r.Steps, r.Err = d.Modem().Probe(ctx)
		return r
	}
	baud := sms.DefaultBaud
	if baudText != "" {
		n, err := strconv.Atoi(baudText)
		if err != nil || n < 1200 || n > 4000000 {
			r.Err = fmt.Errorf("baud %q: want a number from 1200 to 4000000", baudText)
			return r
		}
		baud = n
	}
	port, err := serial.Open(device, baud, 0)
	if err != nil {
		r.Err = err
		return r
	}
	defer port.Close()
	r.Opened = true
	r.Health, r.Steps, r.Err = modem.Probe(ctx, port, pin, probeCommandTimeout, m.o.Log.With("probe", device))
	return r
}

// liveModems are the running SMS senders' drivers by name.
func (m *Manager) liveModems() map[string]*sms.Driver {
	out := map[string]*sms.Driver{}
	svc, err := m.o.Registry.Service(sms.ServiceName)
	if err != nil {
		return out
	}
	for _, s := range svc.Senders {
		if d, ok := s.Driver.(*sms.Driver); ok {
			out[s.Name] = d
		}
	}
	return out
}

// ttyPatterns are the devices, links resolved, the probe may open: serial ports and
// pseudo-terminals. Opening other character devices has effects of its own (opening
// /dev/watchdog arms it), so a typed path must resolve to one of these.
var ttyPatterns = []string{"/dev/tty*", "/dev/pts/*", "/dev/rfcomm*"}

// checkDevice refuses, with a reason an admin can act on, a path that cannot be a modem's
// serial port: the probe opens it and writes AT commands to it.
func checkDevice(path string) error {
	switch {
	case len(path) > maxDevicePath:
		return fmt.Errorf("device path longer than %d bytes", maxDevicePath)
	case !filepath.IsAbs(path) || filepath.Clean(path) != path:
		return fmt.Errorf("device %q: want an absolute path such as /dev/ttyUSB0 or /dev/serial/by-id/…", path)
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("device %s does not exist: is the modem plugged in? (the list shows the ports the box sees)", path)
	case err != nil:
		return fmt.Errorf("device %s: %w", path, err)
	case fi.Mode()&os.ModeCharDevice == 0:
		return fmt.Errorf("%s is not a serial device (not a character device)", path)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("device %s: %w", path, err)
	}
	for _, g := range ttyPatterns {
		if ok, _ := filepath.Match(g, real); ok {
			return nil
		}
	}
	return fmt.Errorf("%s is not a serial device (%s): the probe opens only %s", path, real, strings.Join(ttyPatterns, ", "))
}

// samePort says a and b name the same device (a by-id link and its ttyUSB, say).
func samePort(a, b string) bool {
	if a == b {
		return true
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

// probeForm is the SMS card's "Probe a modem" form and, after a probe, what it found: the
// verdict, the health and every bring-up step.
func probeForm(p *web.Page, v *view) {
	p.Raw(`<form method="post" action="/admin/settings/probe#probe" class="probe-form" id="probe">`)
	hidden(p, "csrf", v.CSRF)
	p.Raw(`<h3>Probe a modem</h3><p class="help">Runs the modem's bring-up again and shows each command, its answer and the health it read. A running sender's sends wait for it (at most 25 s).</p><div class="row"><select name="sender" aria-label="Sender">`)
	names := []string{}
	if svc, err := v.Reg.Service(sms.ServiceName); err == nil {
		for _, s := range svc.Senders {
			names = append(names, s.Name)
		}
	}
	for _, n := range names {
		p.Raw(`<option`)
		p.Attr("value", n)
		if v.Raw["probe.sender"] == n {
			p.Raw(` selected`)
		}
		p.Raw(`>`)
		p.Text(n)
		p.Raw(`</option>`)
	}
	p.Raw(`<option value=""`)
	if len(names) == 0 || v.Raw["probe.device"] != "" {
		p.Raw(` selected`)
	}
	p.Raw(`>(the port typed here)</option></select><input type="text" name="device" aria-label="Serial device" spellcheck="false" list="probe-ports" placeholder="or a port: /dev/ttyUSB0"`)
	p.Attr("value", v.Raw["probe.device"])
	p.Raw(`><datalist id="probe-ports">`)
	for _, o := range v.Ports {
		p.Raw(`<option`)
		p.Attr("value", o)
		p.Raw(`>`)
	}
	p.Raw(`</datalist><input type="text" name="baud" aria-label="Baud" inputmode="numeric" class="short" placeholder="115200"`)
	p.Attr("value", v.Raw["probe.baud"])
	p.Raw(`><input type="password" name="pin" aria-label="SIM PIN" autocomplete="off" class="short" placeholder="PIN, if asked"><button type="submit">Probe</button></div></form>
`)
	if v.Probe != nil {
		probeOutcome(p, v.Probe)
	}
}

// took is a step's time as the page shows it.
func took(d time.Duration) string {
	if d < time.Millisecond {
		return "<1ms"
	}
	return d.Round(time.Millisecond).String()
}

func probeOutcome(p *web.Page, r *probeResult) {
	p.Raw(`<div class="probe-outcome" role="status"><p class="verdict `)
	if r.Err == nil {
		p.Raw(`ok">`)
	} else {
		p.Raw(`bad">`)
	}
	switch {
	case r.Sender != "":
		p.Text(r.Sender + " (" + r.Device + "), through the running sender: ")
	case r.Opened:
		p.Text(r.Device + ", opened for the probe: ")
	}
	switch {
	case r.Sender == "" && !r.Opened:
		p.Text("cannot probe: " + r.Err.Error())
	case r.Err == nil:
		p.Text("ready to send (probed in " + took(r.Took) + ").")
	case r.timedOut() && len(r.Steps) == 0:
		p.Text(fmt.Sprintf("not probed: a send held the modem for the probe's whole time (%s); try again.", probeTimeout))
	case r.timedOut():
		p.Text(fmt.Sprintf("timed out after %s: the steps below are as far as the modem got; a step with no answer in time is marked.", r.Took.Round(time.Second)))
	default:
		p.Text("not ready: " + r.Err.Error())
	}
	p.Raw(`</p>`)
	if len(r.Steps) == 0 {
		p.Raw(`</div>
`)
		return
	}
	h := r.Health
	p.Raw(`<dl class="probe-health">`)
	fact := func(label, value string) {
		p.Raw(`<dt>`)
		p.Text(label)
		p.Raw(`</dt><dd>`)
		p.Text(orNot(value))
		p.Raw(`</dd>`)
	}
	fact("Model", h.Model)
	fact("Radio", h.Radio)
	fact("SIM", h.SIM)
	reg := "no"
	if h.Registered {
		reg = "yes"
	}
	if h.RegStatus != "" {
		reg += " (" + h.RegStatus + ")"
	}
	fact("Registered", reg)
	fact("Operator", h.Operator)
	signal := "unknown"
	if h.HasSignal {
		signal = strconv.Itoa(h.SignalDBM) + " dBm"
	}
	fact("Signal", signal)
	fact("SMSC", h.SMSC)
	fact("Last error", h.LastError)
	p.Raw(`</dl><div class="scroll"><table class="probe-steps"><thead><tr><th>Command</th><th>Answer</th><th>Time</th><th>Note</th></tr></thead><tbody>`)
	for _, st := range r.Steps {
		p.Raw(`<tr`)
		if st.Err != nil {
			p.Raw(` class="failed"`)
		}
		p.Raw(`><td><code>`)
		p.Text(st.Cmd)
		p.Raw(`</code></td><td><code>`)
		p.Text(st.Answer)
		p.Raw(`</code></td><td>`)
		p.Text(took(st.Took))
		p.Raw(`</td><td>`)
		note := st.Note
		switch {
		case errors.Is(st.Err, context.DeadlineExceeded):
			note = "no answer before the probe's time was up"
		case errors.Is(st.Err, modem.ErrTimeout):
			note = strings.TrimPrefix(note+"; no answer in time", "; ")
		}
		p.Text(note)
		p.Raw(`</td></tr>`)
	}
	p.Raw(`</tbody></table></div></div>
`)
}

// probeButton is a sender fieldset's "Probe this modem": settings.js shows it and, on a click,
// posts the probe form with the device, baud and PIN as typed in the fieldset (saved or not).
// Without the script it stays hidden and the probe form below does the same.
func probeButton(p *web.Page, base string) {
	p.Raw(`<button type="button" class="probe-this" hidden`)
	p.Attr("data-base", base)
	p.Raw(`>Probe this modem</button>`)
}
