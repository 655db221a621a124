package web

import (
	"fmt"
	"strings"

	"multimsg/dispatch"
)

// chartSVG draws the 24-hour chart as inline SVG: per hour, three bars (accepted, delivered,
// failed). The page's script redraws the same picture from /admin/api/status (admin.js, chart).
func chartSVG(p *page, hours []Hour) {
	const w, h, top, bottom = 480.0, 150.0, 8.0, 18.0
	var peak int64 = 1
	for _, x := range hours {
		peak = max(peak, x.Accepted, x.Delivered, x.Failed)
	}
	p.printf(`<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="jobs accepted, delivered and failed per hour over the last 24 hours">`, w, h)
	p.printf(`<line class="axis" x1="0" y1="%g" x2="%g" y2="%g"/>`, h-bottom, w, h-bottom)
	p.printf(`<text class="peak" x="2" y="%g">%d</text>`, top+2, peak)
	slot := w / float64(max(len(hours), 1))
	plot := h - bottom - top
	for i, x := range hours {
		x0 := float64(i) * slot
		p.printf(`<g><title>%s UTC: %d accepted, %d delivered, %d failed</title>`, x.Start.Format("15:04"), x.Accepted, x.Delivered, x.Failed)
		p.printf(`<rect class="hit" x="%g" y="0" width="%g" height="%g"/>`, x0, slot, h-bottom)
		for k, v := range []int64{x.Accepted, x.Delivered, x.Failed} {
			bh := plot * float64(v) / float64(peak)
			if v > 0 && bh < 1.5 {
				bh = 1.5
			}
			p.printf(`<rect class="s%d" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, k, x0+slot*(0.1+0.27*float64(k)), h-bottom-bh, slot*0.25, bh)
		}
		p.raw(`</g>`)
		if x.Start.Hour()%6 == 0 && i > 0 && i < len(hours)-1 { // not at the edges, where it would be cut
			p.printf(`<text class="tick" x="%.1f" y="%g">%02dh</text>`, x0+slot/2, h-4, x.Start.Hour())
		}
	}
	p.raw(`</svg>`)
}

// modem is what the page shows of an SMS sender's modem, from its driver's Health facts
// (modem.Health.Facts: present, radio, sim, registered, registration, operator, signal_dbm,
// smsc, model, last_error).
type modem struct {
	Show bool
	Bars int
	Rows []modemRow
}

type modemRow struct{ Label, Value, Class string }

func modemFacts(st dispatch.SenderStatus) modem {
	var m modem
	if st.Driver == nil || len(st.Driver.Facts) == 0 {
		return m
	}
	f := st.Driver.Facts
	m.Show = st.Service == "sms"
	for k := range f {
		m.Show = m.Show || modemKey(k) && k != "last_error" && k != "model"
	}
	if !m.Show {
		return m
	}
	// A modem that is not present answers nothing: what the facts say is the last known state,
	// shown greyed, not as good news.
	present, known := f["present"]
	gone := known && !truthy(present)
	cls := func(ok bool) string {
		if gone {
			return "stale"
		}
		return okClass(ok)
	}
	sig := "unknown"
	if v, ok := number(f["signal_dbm"]); ok && !gone {
		m.Bars = signalBars(v)
		sig = fmt.Sprintf("%.0f dBm (%d/4)", v, m.Bars)
	} else if ok {
		sig = fmt.Sprintf("%.0f dBm (last known)", v)
	}
	m.Rows = append(m.Rows, modemRow{"signal", sig, map[bool]string{true: "stale"}[gone]})
	if known {
		m.Rows = append(m.Rows, modemRow{"modem", map[bool]string{true: "not present", false: "present"}[gone], okClass(!gone)})
	}
	if v, ok := f["radio"].(string); ok && v != "" {
		m.Rows = append(m.Rows, modemRow{"radio", v, cls(v == "on")})
	}
	if v, ok := f["sim"]; ok {
		m.Rows = append(m.Rows, modemRow{"SIM", factText(v), cls(simReady(v))})
	}
	if v, ok := f["registered"]; ok {
		reg := factText(v)
		if r, ok := f["registration"].(string); ok && r != "" {
			reg += " (" + r + ")"
		}
		m.Rows = append(m.Rows, modemRow{"registered", reg, cls(truthy(v))})
	}
	for _, k := range []struct{ key, label string }{{"operator", "operator"}, {"smsc", "SMSC"}, {"model", "model"}} {
		if v, ok := f[k.key]; ok && v != nil && v != "" {
			m.Rows = append(m.Rows, modemRow{k.label, factText(v), ""})
		}
	}
	if v, ok := f["last_error"].(string); ok && v != "" && !strings.Contains(st.LastError+"\n"+st.Problem+"\n"+st.Driver.Detail, v) {
		m.Rows = append(m.Rows, modemRow{"last problem", v, "bad"})
	}
	return m
}

func okClass(ok bool) string {
	if ok {
		return "ok"
	}
	return "bad"
}

// simReady reads the sim fact: modems say "READY" (TS 27.007 +CPIN), anything else is a problem.
func simReady(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "ready")
	}
	return false
}

// barsSVG draws n of 4 signal bars.
func barsSVG(p *page, n int) {
	p.printf(`<svg class="bars" viewBox="0 0 20 16" role="img" aria-label="%d of 4 bars">`, n)
	for i := range 4 {
		cls := "off"
		if i < n {
			cls = "on"
		}
		p.printf(`<rect class="%s" x="%d" y="%d" width="4" height="%d"/>`, cls, i*5, 12-i*4, 4+i*4)
	}
	p.raw(`</svg>`)
}

// modemKey reports whether a Health fact is one of the modem's (shown in the modem block; the
// other facts are listed as they are).
func modemKey(k string) bool {
	switch k {
	case "present", "radio", "sim", "registered", "registration", "operator", "signal_dbm", "smsc", "model", "last_error":
		return true
	}
	return false
}

// showFact says whether a driver's fact is listed with the sender: not a modem's own (they are
// in the modem block when it is shown), not an empty one, not a repeat of the last error.
func showFact(k string, v any, lastError string, modemShown bool) bool {
	if modemShown && modemKey(k) || v == nil || v == "" {
		return false
	}
	return fmt.Sprint(v) != lastError
}

// signalBars maps dBm to 0–4 bars, as phones do for GSM (−113 dBm none … −73 dBm or more full).
func signalBars(dbm float64) int {
	switch {
	case dbm >= -73:
		return 4
	case dbm >= -83:
		return 3
	case dbm >= -93:
		return 2
	case dbm >= -105:
		return 1
	}
	return 0
}

func factText(v any) string {
	switch x := v.(type) {
	case nil:
		return "—"
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case string:
		return orDash(x)
	}
	return fmt.Sprint(v)
}
