package web

import (
	"fmt"
	"strings"

	"multimsg/dispatch"
	"multimsg/modem"
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

// modemBlock is what the page shows of a sender that is a modem: its driver's facts are the
// modem's typed health (modem.Health), rows from its fields.
type modemBlock struct {
	Show bool
	Bars int
	Rows []modemRow
}

type modemRow struct{ Label, Value, Class string }

// modemHealth returns the modem's health when the sender is a modem.
func modemHealth(st *dispatch.SenderStatus) (modem.Health, bool) {
	if st.Driver == nil {
		return modem.Health{}, false
	}
	h, ok := st.Driver.Facts.(modem.Health)
	return h, ok
}

func modemRows(st *dispatch.SenderStatus) modemBlock {
	var m modemBlock
	h, ok := modemHealth(st)
	if !ok {
		return m
	}
	m.Show = true
	// A modem that is not present answers nothing: what its health says is the last known
	// state, shown greyed, not as good news.
	gone := !h.Present
	cls := func(ok bool) string {
		if gone {
			return "stale"
		}
		return okClass(ok)
	}
	sig := "unknown"
	if h.HasSignal && !gone {
		m.Bars = signalBars(float64(h.SignalDBM))
		sig = fmt.Sprintf("%d dBm (%d/4)", h.SignalDBM, m.Bars)
	} else if h.HasSignal {
		sig = fmt.Sprintf("%d dBm (last known)", h.SignalDBM)
	}
	m.Rows = append(m.Rows, modemRow{"signal", sig, map[bool]string{true: "stale"}[gone]})
	m.Rows = append(m.Rows, modemRow{"modem", map[bool]string{true: "not present", false: "present"}[gone], okClass(!gone)})
	if h.Radio != "" {
		m.Rows = append(m.Rows, modemRow{"radio", h.Radio, cls(h.Radio == "on")})
	}
	m.Rows = append(m.Rows, modemRow{"SIM", orDash(h.SIM), cls(strings.EqualFold(h.SIM, "ready"))})
	reg := yesNo(h.Registered)
	if h.RegStatus != "" {
		reg += " (" + h.RegStatus + ")"
	}
	m.Rows = append(m.Rows, modemRow{"registered", reg, cls(h.Registered)})
	for _, r := range []struct{ label, v string }{{"operator", h.Operator}, {"SMSC", h.SMSC}, {"model", h.Model}} {
		if r.v != "" {
			m.Rows = append(m.Rows, modemRow{r.label, r.v, ""})
		}
	}
	if v := h.LastError; v != "" && !strings.Contains(st.LastError+"\n"+st.Problem+"\n"+st.Driver.Detail, v) {
		m.Rows = append(m.Rows, modemRow{"last problem", v, "bad"})
	}
	return m
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func okClass(ok bool) string {
	if ok {
		return "ok"
	}
	return "bad"
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
