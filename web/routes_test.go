package web

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"multimsg/provider"
	"multimsg/store"
)

// routeBox is a Server with routes another package added (Options.Routes), on loopback.
type routeBox struct {
	t    *testing.T
	base string
	logs *strings.Builder
}

func startRouteBox(t *testing.T, extra []Route) *routeBox {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "jobs.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := provider.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	logs := &strings.Builder{}
	s := New(Options{Store: st, Registry: reg, MetricsPublic: true, Routes: extra,
		Limits: Limits{MaxForm: 1 << 10}, Log: slog.New(slog.NewTextHandler(logs, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Shutdown(t.Context())
		<-done
	})
	return &routeBox{t: t, base: "http://" + ln.Addr().String(), logs: logs}
}

func (b *routeBox) do(method, path, body string, hdr ...string) (int, http.Header, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer r.Body.Close()
	raw, _ := io.ReadAll(r.Body)
	return r.StatusCode, r.Header, string(raw)
}

// TestRoutesFromOutside (with made-up routes: /inbox is the server's own since issue 13): a
// route another package adds is routed, answers 405 with Allow for
// the methods it lacks, gets its auth, its body limit and its metric label from its entry, and
// its errors are written by the server (status from the error, 5xx logged, the text hidden).
func TestRoutesFromOutside(t *testing.T) {
	b := startRouteBox(t, []Route{
		{Method: "GET", Path: "/example", Auth: AuthDevice, Handle: func(ctx *fasthttp.RequestCtx) error {
			ctx.SetBodyString("example of " + DeviceOf(ctx).ID)
			return nil
		}},
		{Method: "POST", Path: "/example/ack", Auth: AuthDevice, Body: BodyForm, Handle: func(ctx *fasthttp.RequestCtx) error {
			if string(ctx.PostArgs().Peek("id")) == "" {
				return Errorf(http.StatusConflict, "id: missing")
			}
			return errors.New("disk on fire at /secret/path")
		}},
		{Method: "GET", Path: "/admin/api/example", Auth: AuthAdmin, JSON: true, Handle: func(ctx *fasthttp.RequestCtx) error { return nil }},
		// Not taken over: the server's own entry comes first.
		{Method: "GET", Path: "/healthz", Handle: func(ctx *fasthttp.RequestCtx) error { ctx.SetBodyString("hijacked"); return nil }},
	})
	form := "Content-Type"
	for _, c := range []struct {
		method, path, body string
		hdr                []string
		code               int
		want               string // in the body
		allow              string
	}{
		{"GET", "/example", "", nil, 200, "example of local", ""},
		{"HEAD", "/example", "", nil, 200, "", ""},
		{"POST", "/example", "", nil, 405, "method POST not allowed on /example", "GET, HEAD"},
		{"GET", "/example/ack", "", nil, 405, "not allowed", "POST"},
		{"POST", "/example/ack", "x=1", []string{form, "application/x-www-form-urlencoded"}, 409, "id: missing", ""},
		{"POST", "/example/ack", "id=1", []string{form, "application/x-www-form-urlencoded"}, 500, "internal error", ""},
		{"POST", "/example/ack", "id=" + strings.Repeat("a", 2<<10), []string{form, "application/x-www-form-urlencoded"}, 413, "at most 1024 bytes", ""},
		{"GET", "/example", "", []string{"Origin", "http://evil.example"}, 403, "web pages are refused", ""},
		{"GET", "/admin/api/example", "", nil, 401, `{"error":"admin login required`, ""},
		{"PUT", "/admin/api/example", "", nil, 405, `{"error":"method PUT not allowed`, "GET, HEAD"},
		{"GET", "/healthz", "", nil, 200, "ok", ""},
		{"PUT", "/healthz", "", nil, 405, "not allowed", "GET, HEAD"},
		{"GET", "/nowhere", "", nil, 404, "no such route", ""},
		{"GET", "/admin/nowhere", "", nil, 404, "no such admin route", ""},
	} {
		code, hdr, body := b.do(c.method, c.path, c.body, c.hdr...)
		if code != c.code || !strings.Contains(body, c.want) || hdr.Get("Allow") != c.allow {
			t.Errorf("%s %s = %d %q Allow %q, want %d %q Allow %q", c.method, c.path, code, body, hdr.Get("Allow"), c.code, c.want, c.allow)
		}
	}
	if strings.Count(b.logs.String(), "disk on fire") != 1 {
		t.Errorf("the 500 is logged once with its cause; logs:\n%s", b.logs)
	}
	_, _, metrics := b.do("GET", "/metrics", "")
	for _, want := range []string{
		`multimsg_http_requests_total{route="/example",code="200"} 2`,
		`multimsg_http_requests_total{route="/example",code="405"} 1`,
		`multimsg_http_requests_total{route="/example/ack",code="409"} 1`,
		`multimsg_http_requests_total{route="other",code="404"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestRouteTableLookup: the table's answers without a server: exact paths before prefixes,
// HEAD on GET routes, labels, Allow.
func TestRouteTableLookup(t *testing.T) {
	h := func(*fasthttp.RequestCtx) error { return nil }
	tb := newTable([]Route{
		{Method: "GET", Path: "/a", Handle: h},
		{Method: "POST", Path: "/a", Body: BodyForm, Handle: h},
		{Method: "GET", Path: "/s/", Prefix: true, Label: "static", Handle: h},
	})
	for _, c := range []struct {
		method, path string
		found        bool
		label, allow string
	}{
		{"GET", "/a", true, "/a", "GET, HEAD, POST"},
		{"HEAD", "/a", true, "/a", "GET, HEAD, POST"},
		{"PUT", "/a", false, "/a", "GET, HEAD, POST"},
		{"GET", "/s/x.css", true, "static", "GET, HEAD"},
		{"GET", "/b", false, "other", ""},
	} {
		r, rs := tb.lookup([]byte(c.method), []byte(c.path))
		if (r != nil) != c.found || tb.label([]byte(c.path)) != c.label || allow(rs) != c.allow {
			t.Errorf("lookup(%s %s) = %v, label %q, Allow %q; want found %v, %q, %q", c.method, c.path, r != nil, tb.label([]byte(c.path)), allow(rs), c.found, c.label, c.allow)
		}
	}
}
