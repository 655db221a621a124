package web

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"multimsg/dispatch"
	"multimsg/sim"
	"multimsg/store"
)

// Prometheus metrics, kept in a metrics.Set of this server (not the library's global set, so
// several servers in one process — tests — do not mix their numbers). Gauges that mirror
// state (jobs by state, store bytes, queue depth, senders, the modem) are read when scraped;
// counters and histograms are fed by the dispatcher's Observe hook and by the HTTP handler.
type serverMetrics struct {
	set *metrics.Set

	mu   sync.Mutex // guards the lazily made per-label series below
	http map[httpKey]*metrics.Counter
	del  map[sndKey]*deliveryMetrics
	acc  map[string]*metrics.Counter
}

type httpKey struct {
	route string
	code  int
}

type sndKey struct{ service, sender string }

type deliveryMetrics struct {
	delivered, failed, retries *metrics.Counter
	latency, sendTime          *metrics.PrometheusHistogram
}

// Latency buckets (seconds): a LAN relay answers in milliseconds, an SMS in seconds, a retried
// job in minutes to hours.
var latencyBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 24 * 3600}

// label quotes a label value the Prometheus way.
func label(v string) string {
	v = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
	return `"` + v + `"`
}

func (s *Server) initMetrics() {
	m := &serverMetrics{set: metrics.NewSet(), http: map[httpKey]*metrics.Counter{},
		del: map[sndKey]*deliveryMetrics{}, acc: map[string]*metrics.Counter{}}
	s.met = m
	for _, st := range append(append([]store.State{}, store.States...), "archived") {
		st := st
		m.set.NewGauge(`multimsg_jobs{state=`+label(string(st))+`}`, func() float64 {
			counts, archived := s.o.Store.Counts()
			if st == "archived" {
				return float64(archived)
			}
			return float64(counts[st])
		})
	}
	m.set.NewGauge("multimsg_store_bytes", func() float64 { u, _ := s.o.Store.Bytes(); return float64(u) })
	m.set.NewGauge("multimsg_store_quota_bytes", func() float64 { _, q := s.o.Store.Bytes(); return float64(q) })
	m.set.NewGauge("multimsg_store_file_bytes", func() float64 { return float64(s.o.Store.FileSize()) })
	m.set.NewGauge("multimsg_uptime_seconds", func() float64 { return time.Since(s.started).Seconds() })
	if s.o.Dispatcher != nil {
		m.set.NewGauge("multimsg_queue_depth", func() float64 { return float64(s.o.Dispatcher.QueueDepth()) })
	}
	m.set.RegisterMetricsWriter(s.writeDynamicMetrics)
	for _, w := range s.o.Metrics {
		m.set.RegisterMetricsWriter(w)
	}
}

// writeDynamicMetrics writes the series read at scrape time whose label sets are only known
// then: senders' health and the modems' facts, and the free disk.
func (s *Server) writeDynamicMetrics(w io.Writer) {
	if d := diskStatus(s.o.DataDir); d != nil {
		metrics.WriteGaugeUint64(w, "multimsg_disk_free_bytes", uint64(max(d.Free, 0)))
	}
	sp := s.o.Store.Space() // one sample for the lot (issue 12)
	for _, g := range []struct {
		name string
		v    int64
	}{
		{"multimsg_store_file_alloc_bytes", sp.FileAlloc}, {"multimsg_store_in_use_bytes", sp.InUse},
		{"multimsg_store_free_in_file_bytes", sp.FreeInFile}, {"multimsg_store_headroom_bytes", sp.Headroom},
		{"multimsg_disk_floor_bytes", sp.DiskFloor},
	} {
		metrics.WriteGaugeUint64(w, g.name, uint64(max(g.v, 0)))
	}
	if s.o.SIM != nil {
		writeSIMMetrics(w, s.o.SIM())
	}
	if s.o.Dispatcher == nil {
		return
	}
	for _, st := range s.o.Dispatcher.Senders() {
		l := `{service=` + label(st.Service) + `,sender=` + label(st.Name) + `}`
		metrics.WriteGaugeUint64(w, "multimsg_sender_healthy"+l, b2u(st.Healthy))
		metrics.WriteGaugeUint64(w, "multimsg_sender_paused"+l, b2u(st.Paused))
		h, ok := modemHealth(&st)
		if !ok {
			continue
		}
		if h.HasSignal {
			metrics.WriteGaugeFloat64(w, "multimsg_modem_signal_dbm"+l, float64(h.SignalDBM))
		}
		metrics.WriteGaugeUint64(w, "multimsg_modem_registered"+l, b2u(h.Registered))
		metrics.WriteGaugeUint64(w, "multimsg_modem_sim_ready"+l, b2u(strings.EqualFold(h.SIM, "ready")))
		metrics.WriteGaugeUint64(w, "multimsg_modem_present"+l, b2u(h.Present))
	}
}

// writeSIMMetrics: the SIM's credit (absent until an answer held an amount) and the watch's
// counts, so an alert rule can fire on credit or on checks that keep failing.
func writeSIMMetrics(w io.Writer, c sim.Status) {
	if c.Amount != nil {
		metrics.WriteGaugeFloat64(w, "multimsg_sim_credit", *c.Amount)
	}
	metrics.WriteGaugeUint64(w, "multimsg_sim_credit_low", b2u(c.Below))
	metrics.WriteCounterUint64(w, "multimsg_sim_credit_checks_total", uint64(c.Checks))
	metrics.WriteCounterUint64(w, "multimsg_sim_credit_failed_total", uint64(c.Failed))
	metrics.WriteCounterUint64(w, "multimsg_sim_credit_unparsed_total", uint64(c.Unparsed))
	metrics.WriteCounterUint64(w, "multimsg_sim_credit_alerts_total", uint64(c.Alerts))
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func (m *serverMetrics) delivery(service, sender string) *deliveryMetrics {
	k := sndKey{service, sender}
	m.mu.Lock()
	defer m.mu.Unlock()
	if d := m.del[k]; d != nil {
		return d
	}
	l := `{service=` + label(service) + `,sender=` + label(sender) + `}`
	d := &deliveryMetrics{
		delivered: m.set.GetOrCreateCounter("multimsg_delivered_total" + l),
		failed:    m.set.GetOrCreateCounter("multimsg_failed_total" + l),
		retries:   m.set.GetOrCreateCounter("multimsg_retries_total" + l),
		latency:   m.set.GetOrCreatePrometheusHistogramExt("multimsg_delivery_latency_seconds"+l, latencyBuckets),
		sendTime:  m.set.GetOrCreatePrometheusHistogramExt("multimsg_send_duration_seconds"+l, latencyBuckets),
	}
	m.del[k] = d
	return d
}

// Observe takes the dispatcher's report of one attempt (wire it as dispatch.Options.Observe).
func (s *Server) Observe(e dispatch.Event) {
	d := s.met.delivery(e.Service, e.Sender)
	now := time.Now()
	switch {
	case e.OK:
		d.delivered.Inc()
		d.latency.Update(e.Latency.Seconds())
		d.sendTime.Update(e.SendTime.Seconds())
		s.hist.add(histDelivered, now, 1)
	case e.Final:
		d.failed.Inc()
		s.hist.add(histFailed, now, 1)
	case e.Retry:
		d.retries.Inc()
	}
}

// acceptedKey marks a request that queued a job (/send, /msg), with its service and sender.
const acceptedKey = "multimsg.accepted"

type accepted struct{ service, sender string }

// CountAccepted counts a job accepted by another door of the box (route "smtp": mailin), in
// the same multimsg_jobs_accepted_total as the HTTP routes.
func (s *Server) CountAccepted(route, service, sender string) {
	m := s.met
	key := route + "\x00" + service + "\x00" + sender
	m.mu.Lock()
	acc := m.acc[key]
	if acc == nil {
		acc = m.set.GetOrCreateCounter(`multimsg_jobs_accepted_total{route=` + label(route) +
			`,service=` + label(service) + `,sender=` + label(sender) + `}`)
		m.acc[key] = acc
	}
	m.mu.Unlock()
	acc.Inc()
}

// countRequest runs after every request: requests by route and code, and jobs accepted.
func (s *Server) countRequest(ctx *fasthttp.RequestCtx) {
	code := ctx.Response.StatusCode()
	k := httpKey{s.table.label(ctx.Path()), code}
	m := s.met
	m.mu.Lock()
	c := m.http[k]
	if c == nil {
		c = m.set.GetOrCreateCounter(`multimsg_http_requests_total{route=` + label(k.route) + `,code="` + strconv.Itoa(code) + `"}`)
		m.http[k] = c
	}
	var acc *metrics.Counter
	if a, ok := ctx.UserValue(acceptedKey).(accepted); ok && code == 200 {
		key := k.route + "\x00" + a.service + "\x00" + a.sender
		if acc = m.acc[key]; acc == nil {
			acc = m.set.GetOrCreateCounter(`multimsg_jobs_accepted_total{route=` + label(k.route) +
				`,service=` + label(a.service) + `,sender=` + label(a.sender) + `}`)
			m.acc[key] = acc
		}
	}
	m.mu.Unlock()
	c.Inc()
	if acc != nil {
		acc.Inc()
		s.hist.add(histAccepted, time.Now(), 1)
	}
}

// instrument wraps the router: every answer is counted.
func (s *Server) instrument(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		h(ctx)
		s.countRequest(ctx)
	}
}

// metricsHandler answers GET /metrics in the Prometheus text format.
func (s *Server) metricsHandler(ctx *fasthttp.RequestCtx) error {
	var b bytes.Buffer
	s.met.set.WritePrometheus(&b)
	metrics.WriteProcessMetrics(&b)
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBody(b.Bytes())
	return nil
}
