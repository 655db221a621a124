package web_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	dto "github.com/prometheus/client_model/go"

	"multimsg/web"
)

func basic(pass string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth("admin", pass)
	return req.Header.Get("Authorization")
}

// status reads /admin/api/status with HTTP Basic.
func (b *box) status() web.Status {
	b.t.Helper()
	r := b.do("GET", "/admin/api/status", nil, "Authorization", basic(testPassword))
	if r.code != 200 {
		b.t.Fatalf("/admin/api/status: %d %s", r.code, r.body)
	}
	var st web.Status
	if err := json.Unmarshal([]byte(r.body), &st); err != nil {
		b.t.Fatalf("/admin/api/status: %v in %s", err, r.body)
	}
	return st
}

func TestAdminNeedsLogin(t *testing.T) {
	b := startBox(t, "")
	r := b.do("GET", "/admin", nil)
	if r.code != http.StatusSeeOther || r.hdr.Get("Location") != "/admin/login" {
		t.Errorf("GET /admin without a session = %d Location %q, want 303 to /admin/login", r.code, r.hdr.Get("Location"))
	}
	for _, p := range []string{"/admin/api/status", "/metrics"} {
		r := b.do("GET", p, nil)
		if r.code != http.StatusUnauthorized || !strings.HasPrefix(r.hdr.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("GET %s without auth = %d (WWW-Authenticate %q), want 401 with a Basic challenge", p, r.code, r.hdr.Get("WWW-Authenticate"))
		}
		if r := b.do("GET", p, nil, "Authorization", basic("wrong password")); r.code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong Basic password = %d, want 401", p, r.code)
		}
	}
	for _, p := range []string{"/admin/api/retry", "/admin/api/cancel", "/admin/api/pause", "/admin/api/resume"} {
		if r := b.do("POST", p, form("id", "x"), "Content-Type", formCT, "Authorization", basic(testPassword)); r.code != http.StatusUnauthorized {
			t.Errorf("POST %s with Basic auth and no session = %d, want 401 (actions need a session and its CSRF token)", p, r.code)
		}
	}
	// actions are POST only
	for _, p := range []string{"/admin/api/retry", "/admin/api/pause", "/admin/logout"} {
		if r := b.do("GET", p, nil); r.code != http.StatusMethodNotAllowed {
			t.Errorf("GET %s = %d, want 405", p, r.code)
		}
	}
	// the login page and the assets are public
	for _, p := range []string{"/admin/login", "/admin/static/admin.css", "/admin/static/admin.js"} {
		if r := b.do("GET", p, nil); r.code != 200 {
			t.Errorf("GET %s = %d, want 200", p, r.code)
		}
	}
	if r := b.do("GET", "/admin/static/admin.html.tmpl", nil); r.code != 404 {
		t.Errorf("GET a template as a static file = %d, want 404", r.code)
	}
}

func TestAdminLogin(t *testing.T) {
	b := startBox(t, "")
	r := b.do("POST", "/admin/login", form("password", "not it"), "Content-Type", formCT)
	if r.code != http.StatusUnauthorized || len(r.cookies) != 0 || !strings.Contains(r.body, "Wrong password") {
		t.Errorf("login with a wrong password = %d, cookies %v; want 401, no cookie, and the form saying so", r.code, r.cookies)
	}
	r = b.do("POST", "/admin/login", form("password", testPassword), "Content-Type", formCT)
	if r.code != http.StatusSeeOther || r.hdr.Get("Location") != "/admin" {
		t.Fatalf("login = %d Location %q, want 303 to /admin", r.code, r.hdr.Get("Location"))
	}
	var c *http.Cookie
	for _, x := range r.cookies {
		if x.Name == "multimsg_admin" {
			c = x
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.MaxAge != 12*3600 || len(c.Value) < 43 {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, Max-Age 12h, a 256-bit value", c)
	}
	cookie := c.Name + "=" + c.Value
	page := b.do("GET", "/admin", nil, "Cookie", cookie)
	if page.code != 200 || !strings.Contains(page.body, `<meta name="csrf"`) {
		t.Fatalf("GET /admin with the session = %d, want the page", page.code)
	}
	if csp := page.hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("admin page CSP = %q, want script-src 'self'", csp)
	}
	if r := b.do("GET", "/admin/api/status", nil, "Cookie", cookie); r.code != 200 {
		t.Errorf("status with the session cookie = %d, want 200", r.code)
	}
	// logout needs the CSRF token, then ends the session
	if r := b.do("POST", "/admin/logout", form(), "Content-Type", formCT, "Cookie", cookie); r.code != http.StatusForbidden {
		t.Errorf("logout without the CSRF token = %d, want 403", r.code)
	}
	tok := csrfOf(t, page.body)
	if r := b.do("POST", "/admin/logout", form("csrf", tok), "Content-Type", formCT, "Cookie", cookie); r.code != http.StatusSeeOther {
		t.Errorf("logout = %d, want 303", r.code)
	}
	if r := b.do("GET", "/admin", nil, "Cookie", cookie); r.code != http.StatusSeeOther {
		t.Errorf("GET /admin after logout = %d, want 303 to the login", r.code)
	}
	if r := b.do("GET", "/admin", nil, "Cookie", "multimsg_admin=forged"); r.code != http.StatusSeeOther {
		t.Errorf("GET /admin with a forged cookie = %d, want 303 to the login", r.code)
	}
}

var csrfRe = regexp.MustCompile(`<meta name="csrf" content="([^"]+)">`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token in the admin page")
	}
	return m[1]
}

func TestAdminCSRF(t *testing.T) {
	b := startBox(t, "")
	b.relay.refuse.Store(true)
	id := b.send("relay", "ops@example.com", "boiler 3 pressure high")
	b.waitFor("the job to fail", func() bool { return b.state(id) == "failed" })
	cookie := b.login()
	tok := csrfOf(t, b.do("GET", "/admin", nil, "Cookie", cookie).body)
	cases := []struct {
		name string
		hdr  []string
		body []string
		want int
	}{
		{"no token", nil, []string{"id", id}, http.StatusForbidden},
		{"wrong token", nil, []string{"id", id, "csrf", tok[:len(tok)-2] + "xx"}, http.StatusForbidden},
		{"wrong header token", []string{"X-CSRF-Token", "nope"}, []string{"id", id}, http.StatusForbidden},
		{"right token, foreign Origin", []string{"Origin", "http://evil.example"}, []string{"id", id, "csrf", tok}, http.StatusForbidden},
		{"right token, foreign Referer", []string{"Referer", "http://evil.example/x"}, []string{"id", id, "csrf", tok}, http.StatusForbidden},
		{"right token, null Origin", []string{"Origin", "null"}, []string{"id", id, "csrf", tok}, http.StatusForbidden},
	}
	for _, c := range cases {
		hdr := append([]string{"Content-Type", formCT, "Cookie", cookie, "Accept", "application/json"}, c.hdr...)
		if r := b.do("POST", "/admin/api/retry", form(c.body...), hdr...); r.code != c.want {
			t.Errorf("%s: retry = %d %s, want %d", c.name, r.code, r.body, c.want)
		}
	}
	if got := b.state(id); got != "failed" {
		t.Fatalf("after refused retries the job is %q, want still failed", got)
	}
	// the right token in the header, from the page's own origin: the retry happens
	b.relay.refuse.Store(false)
	r := b.do("POST", "/admin/api/retry", form("id", id), "Content-Type", formCT, "Cookie", cookie,
		"X-CSRF-Token", tok, "Origin", b.base, "Accept", "application/json")
	if r.code != 200 || !strings.Contains(r.body, `"state":"queued"`) {
		t.Fatalf("retry with the token = %d %s, want 200 queued", r.code, r.body)
	}
	b.waitFor("the retried job to be delivered", func() bool { return b.state(id) == "delivered" })
	// a form post without script: token in the field, answered by a redirect to the page
	if r := b.do("POST", "/admin/api/pause", form("csrf", tok, "service", "mail", "sender", "relay"), "Content-Type", formCT, "Cookie", cookie); r.code != http.StatusSeeOther {
		t.Errorf("pause by form = %d %s, want 303", r.code, r.body)
	}
	st := b.status()
	for _, s := range st.Senders {
		if s.Name == "relay" && !s.Paused {
			t.Errorf("relay not paused after the pause action: %+v", s)
		}
	}
	if r := b.do("POST", "/admin/api/resume", form("csrf", tok, "service", "mail", "sender", "nosuch"), "Content-Type", formCT, "Cookie", cookie); r.code != http.StatusNotFound {
		t.Errorf("resume of an unknown sender = %d, want 404", r.code)
	}
	// a job for the paused relay waits queued; the admin cancels it: it fails, once
	held := b.send("relay", "ops@example.com", "held")
	b.waitFor("the held job to be queued", func() bool { return b.state(held) == "queued" })
	r = b.do("POST", "/admin/api/cancel", form("csrf", tok, "id", held), "Content-Type", formCT, "Cookie", cookie, "Accept", "application/json")
	if r.code != 200 || !strings.Contains(r.body, `"state":"failed"`) {
		t.Errorf("cancel = %d %s, want 200 failed", r.code, r.body)
	}
	if r := b.do("POST", "/admin/api/cancel", form("csrf", tok, "id", held), "Content-Type", formCT, "Cookie", cookie, "Accept", "application/json"); r.code != http.StatusConflict {
		t.Errorf("second cancel = %d %s, want 409", r.code, r.body)
	}
	if r := b.do("POST", "/admin/api/retry", form("csrf", tok, "id", "AAAAAAAAAAAAAAAAAAAAAA"), "Content-Type", formCT, "Cookie", cookie, "Accept", "application/json"); r.code != http.StatusNotFound {
		t.Errorf("retry of an unknown job = %d %s, want 404", r.code, r.body)
	}
	// the page's own fetch gets no Basic challenge (no browser password dialog)
	if r := b.do("GET", "/admin/api/status", nil, "Sec-Fetch-Mode", "cors"); r.code != http.StatusUnauthorized || r.hdr.Get("WWW-Authenticate") != "" {
		t.Errorf("status from a page fetch without a session = %d, challenge %q; want 401 without a challenge", r.code, r.hdr.Get("WWW-Authenticate"))
	}
}

func TestAdminLoginRateLimit(t *testing.T) {
	b := startBox(t, "")
	for i := 0; i < 5; i++ {
		if r := b.do("POST", "/admin/login", form("password", "guess"+strconv.Itoa(i)), "Content-Type", formCT); r.code != http.StatusUnauthorized {
			t.Fatalf("failed login %d = %d, want 401", i+1, r.code)
		}
	}
	r := b.do("POST", "/admin/login", form("password", testPassword), "Content-Type", formCT)
	if r.code != http.StatusTooManyRequests || len(r.cookies) != 0 {
		t.Fatalf("6th login (right password) = %d, want 429 and no session", r.code)
	}
	if ra, err := strconv.Atoi(r.hdr.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After = %q, want 1..60 seconds", r.hdr.Get("Retry-After"))
	}
	// HTTP Basic is under the same limit
	if r := b.do("GET", "/admin/api/status", nil, "Authorization", basic(testPassword)); r.code != http.StatusTooManyRequests {
		t.Errorf("Basic auth while limited = %d, want 429", r.code)
	}
}

func TestAdminStatusJSON(t *testing.T) {
	b := startBox(t, "")
	id := b.send("", "5491112345678@example.com, ops@example.com", "secret file contents")
	b.waitFor("the job to be delivered", func() bool { return b.state(id) == "delivered" })
	// the store's counters are updated just after its commit, so they may trail the job's record
	b.waitFor("the delivery to be counted", func() bool { return b.status().Jobs["delivered"] == 1 })
	r := b.do("GET", "/admin/api/status", nil, "Authorization", basic(testPassword))
	if ct := r.hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if strings.Contains(r.body, "secret file contents") || strings.Contains(r.body, "ops@example.com") {
		t.Errorf("status leaks file contents or a full destination: %s", r.body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "now", "started", "uptime", "uptime_seconds", "jobs", "queue_depth", "store", "disk",
		"history", "senders", "devices", "devices_total", "recent", "services"} {
		if _, ok := m[k]; !ok {
			t.Errorf("status has no %q", k)
		}
	}
	st := b.status()
	if st.Version != "test-1.0" || st.Jobs["delivered"] != 1 || len(st.History) != 24 || st.Disk == nil || st.Disk.Free <= 0 {
		t.Errorf("status = version %q, delivered %d, %d hours, disk %+v; want test-1.0, 1, 24, free space", st.Version, st.Jobs["delivered"], len(st.History), st.Disk)
	}
	last := st.History[23]
	if last.Accepted != 1 || last.Delivered != 1 {
		t.Errorf("this hour = %+v, want 1 accepted, 1 delivered", last)
	}
	if len(st.Recent) != 1 || st.Recent[0].ID != id || st.Recent[0].Dest != "5•••@example.com, o•••@example.com" || st.Recent[0].Device != "local" {
		t.Errorf("recent = %+v, want the job with its destination masked", st.Recent)
	}
	if len(st.Senders) != 2 || st.Senders[0].Name != "default" || st.Senders[0].Sent != 1 || !st.Senders[0].Healthy {
		t.Errorf("senders = %+v, want default (1 sent, healthy) and relay", st.Senders)
	}
}

func TestMaskDest(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"5491112345678", "54911•••••78"},
		{"ops@example.com", "o•••@example.com"},
		{"Ops Team <ops@example.com>", "o•••@example.com"},
		{"a@x.org,b@y.org", "a•••@x.org, b•••@y.org"},
		{"123", "•••"},
		{"", ""},
	} {
		if got := web.MaskDest(c.in); got != c.want {
			t.Errorf("MaskDest(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// scrape reads /metrics and parses it with Prometheus's own text parser.
func (b *box) scrape(hdr ...string) map[string]*dto.MetricFamily {
	b.t.Helper()
	r := b.do("GET", "/metrics", nil, hdr...)
	if r.code != 200 {
		b.t.Fatalf("/metrics = %d %s", r.code, r.body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(r.body))
	if err != nil {
		b.t.Fatalf("/metrics does not parse: %v\n%s", err, r.body)
	}
	return fams
}

// value returns the value of the series name{labels} (0 and false when absent).
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

func TestMetrics(t *testing.T) {
	b := startBox(t, "")
	auth := []string{"Authorization", basic(testPassword)}
	before := b.scrape(auth...)
	for _, want := range []string{"multimsg_jobs", "multimsg_queue_depth", "multimsg_store_bytes", "multimsg_store_quota_bytes",
		"multimsg_sender_healthy", "multimsg_disk_free_bytes", "multimsg_uptime_seconds"} {
		if _, ok := before[want]; !ok {
			t.Errorf("/metrics has no %s", want)
		}
	}
	if v, ok := value(before, "multimsg_jobs", "state", "delivered"); !ok || v != 0 {
		t.Errorf("multimsg_jobs{state=delivered} before any job = %v, %v; want 0", v, ok)
	}
	// two delivered through the Maildir, one refused by the relay (550: failed for good)
	b.relay.refuse.Store(true)
	ids := []string{b.send("", "ops@example.com", "one"), b.send("", "ops@example.com", "two"), b.send("relay", "ops@example.com", "three")}
	b.waitFor("every job to finish", func() bool {
		st := b.status()
		return st.Jobs["delivered"] == 2 && st.Jobs["failed"] == 1
	})
	after := b.scrape(auth...)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"multimsg_jobs", []string{"state", "delivered"}, 2},
		{"multimsg_jobs", []string{"state", "failed"}, 1},
		{"multimsg_delivered_total", []string{"service", "mail", "sender", "default"}, 2},
		{"multimsg_failed_total", []string{"service", "mail", "sender", "relay"}, 1},
		{"multimsg_jobs_accepted_total", []string{"route", "/send", "service", "mail", "sender", "default"}, 2},
		{"multimsg_jobs_accepted_total", []string{"route", "/send", "service", "mail", "sender", "relay"}, 1},
		{"multimsg_http_requests_total", []string{"route", "/send", "code", "200"}, 3},
		{"multimsg_delivery_latency_seconds_count", []string{"service", "mail", "sender", "default"}, 2},
		{"multimsg_queue_depth", nil, 0},
		{"multimsg_sender_healthy", []string{"service", "mail", "sender", "default"}, 1},
	}
	for _, c := range checks {
		if v, ok := value(after, c.name, c.labels...); !ok || v != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	if v, _ := value(after, "multimsg_store_bytes"); v <= 0 {
		t.Errorf("multimsg_store_bytes = %v, want the stored files' size", v)
	}
	if v, _ := value(after, "multimsg_delivery_latency_seconds_bucket", "service", "mail", "sender", "default", "le", "+Inf"); v != 2 {
		t.Errorf("latency histogram +Inf bucket = %v, want 2", v)
	}
	_ = ids
}

func TestMetricsPublic(t *testing.T) {
	b := startBox(t, "metrics_public = true")
	fams := b.scrape()
	if _, ok := fams["multimsg_jobs"]; !ok {
		t.Error("public /metrics has no multimsg_jobs")
	}
	if r := b.do("GET", "/admin/api/status", nil); r.code != http.StatusUnauthorized {
		t.Errorf("metrics_public opened /admin/api/status too: %d", r.code)
	}
}
