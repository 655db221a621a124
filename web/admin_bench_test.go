package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/valyala/fasthttp"

	"multimsg/dispatch"
	"multimsg/provider"
	"multimsg/store"
)

type nopDriver struct{}

func (nopDriver) Check(provider.Request) error { return nil }
func (nopDriver) Send(context.Context, provider.Delivery) (provider.Receipt, error) {
	return provider.Receipt{}, nil
}

// benchServer is a server over a store holding n jobs.
func benchServer(b *testing.B, n int) *Server {
	st, err := store.Open(filepath.Join(b.TempDir(), "b.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	for i := range n {
		_, err := st.Create(context.Background(), store.NewJob{Device: "aa:bb:cc:dd:ee:ff", IP: "192.0.2.7",
			Files:  []store.NewFile{{Name: "body", Data: []byte("alert")}},
			Params: &store.Params{Service: "mail", Sender: "default", Dest: fmt.Sprintf("ops%d@example.com", i), Types: []string{"text"}}})
		if err != nil {
			b.Fatal(err)
		}
	}
	reg, _ := provider.NewRegistry(&provider.Service{Name: "mail", Types: []string{"text"},
		Senders: []provider.Sender{{Name: "default", Driver: nopDriver{}}}})
	return New(Options{Store: st, Registry: reg, Dispatcher: dispatch.New(st, reg, dispatch.Options{}), DataDir: b.TempDir()})
}

// BenchmarkStatusJSON is one refresh of an open admin page: the snapshot (50 recent jobs of
// 5000) and its JSON.
func BenchmarkStatusJSON(b *testing.B) {
	s := benchServer(b, 5000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(s.Snapshot()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAdminPage is the first load: snapshot and page.
func BenchmarkAdminPage(b *testing.B) {
	s := benchServer(b, 5000)
	b.ReportAllocs()
	p := page{b: make([]byte, 0, 64<<10)}
	for b.Loop() {
		p.b = p.b[:0]
		adminPage(&p, &pageData{Status: s.Snapshot(), CSRF: "x"})
	}
}

// BenchmarkAdminPageRender is the page alone, from a snapshot taken once.
func BenchmarkAdminPageRender(b *testing.B) {
	s := benchServer(b, 5000)
	d := pageData{Status: s.Snapshot(), CSRF: "x"}
	b.ReportAllocs()
	p := page{b: make([]byte, 0, 64<<10)}
	for b.Loop() {
		p.b = p.b[:0]
		adminPage(&p, &d)
	}
}

// BenchmarkCountRequest is what instrumentation adds to every device request.
func BenchmarkCountRequest(b *testing.B) {
	s := benchServer(b, 0)
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/cons")
	ctx.Response.SetStatusCode(200)
	b.ReportAllocs()
	for b.Loop() {
		s.countRequest(&ctx)
	}
}

// BenchmarkMetrics is one Prometheus scrape.
func BenchmarkMetrics(b *testing.B) {
	s := benchServer(b, 100)
	for _, snd := range []string{"a", "b", "c"} {
		s.Observe(dispatch.Event{Service: "mail", Sender: snd, OK: true})
	}
	b.ReportAllocs()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		s.met.set.WritePrometheus(&buf)
	}
}
