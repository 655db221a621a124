package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"multimsg/internal/poll"
	"multimsg/provider/mail/smtptest"
	"multimsg/store"
)

// TestBacklog is the outage benchmark behind `make bench` (MULTIMSG_LOAD=1): a box whose mail
// relay never answers holds a large backlog of queued ~1 KB jobs, restarts, keeps accepting,
// and drains the backlog once the relay answers again. The relay is a real SMTP server
// (smtptest) that stalls every session at MAIL, as an unreachable uplink does, until told to
// answer. The backlog is written straight into the store (BulkLoad) with the server stopped:
// filling it over HTTP would take many minutes on two cores. It prints figures and asserts
// only that the server answers correctly.
//
//	MULTIMSG_LOAD=1                 run it (otherwise it skips)
//	MULTIMSG_LOAD_BACKLOG=500000    queued jobs
//	MULTIMSG_LOAD_DURATION=12s      each /send load lasts half of this (at least 3 s)
//	MULTIMSG_LOAD_ROUNDS=3          empty/backlog ingest pairs, alternated (the median ratio is given)
//	MULTIMSG_LOAD_BIN=path          run this multimsg binary instead of building ./cmd/multimsg
func TestBacklog(t *testing.T) {
	if os.Getenv("MULTIMSG_LOAD") != "1" {
		t.Skip("load benchmark: run with MULTIMSG_LOAD=1 (make bench)")
	}
	n := 500_000
	if v := os.Getenv("MULTIMSG_LOAD_BACKLOG"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("MULTIMSG_LOAD_BACKLOG=%q: want a number", v)
		}
	}
	dur := max(envDuration(t, "MULTIMSG_LOAD_DURATION", 12*time.Second)/2, 3*time.Second)
	rounds := 3
	if v := os.Getenv("MULTIMSG_LOAD_ROUNDS"); v != "" {
		var err error
		if rounds, err = strconv.Atoi(v); err != nil || rounds < 1 {
			t.Fatalf("MULTIMSG_LOAD_ROUNDS=%q: want a number", v)
		}
	}
	bin := os.Getenv("MULTIMSG_LOAD_BIN") // a binary built elsewhere: the before of a before/after
	if bin == "" {
		bin = buildServer(t)
	}
	relay := smtptest.New(t, smtptest.Options{ReadTimeout: time.Minute})
	relay.SetStall("MAIL") // the uplink is down: sessions hang until the sender's timeout
	go func() {
		for range relay.Stalled() { // keep the stall channel from filling
		}
	}()
	extra := fmt.Sprintf("host = %q\nport = %d\ntimeout = \"3s\"\nconcurrency = 4\n", relay.Host(), relay.Port())
	var figures []string
	out := func(format string, args ...any) { figures = append(figures, fmt.Sprintf(format, args...)) }
	defer func() {
		for _, f := range figures {
			t.Log(f)
		}
	}()

	// The same server, empty and with the backlog: start time, memory, ingest.
	type run struct {
		up, upWarm   time.Duration
		chart        time.Duration // start to the chart's read-back done
		anon, anonAf string
		rate         float64
		cpu          float64 // the server's CPU µs per accepted job: what a busy machine does not skew
		ok           int     // jobs accepted by the /send load
	}
	measure := func(dir string, backlog bool) run {
		var r run
		if backlog {
			if err := dropCaches(); err != nil {
				out("backlog: page cache not dropped (%v): the cold start is warm", err)
			}
		}
		cfg := smtpConfig(t, dir, extra)
		t0 := time.Now()
		srv := startServer(t, bin, cfg)
		r.up = healthy(t, srv, t0)
		time.Sleep(2 * time.Second) // the moment RssAnon "after start" is read (as TestStartup: 2 s), not a wait for a condition
		r.anon = anonMiB(t, srv.cmd.Process.Pid)
		// Ingest is measured in the steady state: after the admin chart has read the last 24 h
		// back from the store (a one-off after each start, in the background; it competes for
		// the CPU and the disk while it runs, and takes longer the more jobs there are).
		poll.Until(t, 3*time.Minute, "the admin chart's read-back (log line)", func() bool {
			return strings.Contains(srv.stderr(), "24-hour chart read back")
		})
		r.chart = time.Since(t0)
		cpu0 := cpuTime(srv.cmd.Process.Pid)
		r.rate, r.ok = ingestRate(t, srv, dur)
		r.cpu = float64((cpuTime(srv.cmd.Process.Pid) - cpu0).Microseconds()) / float64(max(r.ok, 1))
		r.anonAf = anonMiB(t, srv.cmd.Process.Pid)
		srv.stop(t)
		t0 = time.Now()
		srv = startServer(t, bin, cfg)
		r.upWarm = healthy(t, srv, t0)
		srv.stop(t)
		return r
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "data", "multimsg.db")
	t0 := time.Now()
	live := fillBacklog(t, db, n, 1024)
	out("backlog: filled %d queued 1 KB jobs in %s: db file %s for %s of files stored (%.1f× )",
		n, time.Since(t0).Round(time.Millisecond), mib(fileSize(db)), mib(live), float64(fileSize(db))/float64(live))
	// Empty and backlog runs alternate, each empty run on a new store: on a shared machine the
	// CPU the server gets drifts over a minute, and a pair taken side by side shares the drift.
	// The ratio reported is the median of the rounds'.
	var ratios, cpus []float64
	queued := n // the backlog grows by what each round's /send load adds
	for round := 1; round <= rounds; round++ {
		empty := measure(t.TempDir(), false)
		full := measure(dir, true)
		label := fmt.Sprintf("%d queued", queued)
		queued += full.ok
		for _, c := range []struct {
			name string
			r    run
		}{{"empty store", empty}, {label, full}} {
			out("backlog: round %d, %-15s start to /healthz cold %s, warm %s; chart read back after %s; RssAnon after start %s, after %s of /send %s; /send accepted %.0f jobs/s, %.0f µs server CPU a job",
				round, c.name, c.r.up.Round(time.Millisecond), c.r.upWarm.Round(time.Millisecond), c.r.chart.Round(time.Millisecond), c.r.anon, dur, c.r.anonAf, c.r.rate, c.r.cpu)
		}
		ratios = append(ratios, 100*full.rate/max(empty.rate, 1))
		cpus = append(cpus, 100*full.cpu/max(empty.cpu, 1))
	}
	out("backlog: ingest with the backlog = %.0f%% of the empty store's, median of %d rounds %s (server CPU a job: %.0f%%, rounds %s); load average %s",
		median(ratios), rounds, percents(ratios), median(cpus), percents(cpus), loadAvg())
	out("backlog: %s", freePages(t, db))

	// The relay answers again: how fast the backlog drains.
	srv := startServer(t, bin, smtpConfig(t, dir, extra))
	relay.SetStall("")
	drainFor := 2 * dur
	got := 0
	t1 := time.Now()
	deadline := time.After(drainFor)
drain:
	for {
		select {
		case <-relay.Received():
			got++
		case <-deadline:
			break drain
		}
	}
	out("backlog: drain once the relay answers: %d messages in %s = %.0f/s (relay concurrency 4); RssAnon %s",
		got, drainFor, float64(got)/time.Since(t1).Seconds(), anonMiB(t, srv.cmd.Process.Pid))
	srv.kill()
	if got == 0 {
		t.Errorf("nothing drained in %s:\n%s", drainFor, srv.stderr())
	}
}

// smtpConfig is serverConfig with the mail sender on an SMTP relay instead of a Maildir.
func smtpConfig(t testing.TB, dir, senderExtra string) string {
	t.Helper()
	path := serverConfig(t, dir, senderExtra)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "maildir = ") {
			keep = append(keep, l)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(keep, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// healthy is the time from t0 until the server answers /healthz with 200.
func healthy(t testing.TB, srv *server, t0 time.Time) time.Duration {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	var up time.Duration
	poll.Until(t, time.Minute, "/healthz 200", func() bool {
		resp, err := c.Get(srv.url("/healthz"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		up = time.Since(t0)
		return resp.StatusCode == 200
	})
	return up
}

// ingestRate drives /send with 64 clients for d and returns the accepted jobs/s and their
// number.
func ingestRate(t testing.TB, srv *server, d time.Duration) (float64, int) {
	tmpl := newSendTemplate(1024)
	res := drive(t, srv.addr, 64, d, func(c, k int, req *fasthttp.Request) {
		tmpl.fill(req, srv.addr, c, k)
	}, func(status int, body []byte) error {
		if status != 200 || !store.ValidID(strings.TrimSpace(string(body))) {
			return fmt.Errorf("POST /send = %d %.200q", status, body)
		}
		return nil
	})
	if res.errs > 0 {
		t.Errorf("/send: %d errors, first: %v", res.errs, res.firstErr)
	}
	return float64(res.ok) / res.elapsed.Seconds(), res.ok
}

// loadAvg is the machine's 1-minute load average, printed with every figure.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// freePages opens the stopped server's database and says how many pages its freelist holds:
// with the freelist written at every commit, that is what each commit writes of it.
func freePages(t testing.TB, path string) string {
	t.Helper()
	s, err := store.Open(path, store.Options{Quota: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sp := s.Space()
	return fmt.Sprintf("db file %s, of which free pages %s (the freelist written at each commit: 8 bytes a free page)", mib(sp.FileBytes), mib(sp.FreeInFile))
}

// fillBacklog stores n queued mail jobs of size bytes each, offline, and returns the file
// bytes stored.
func fillBacklog(t testing.TB, path string, n, size int) int64 {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(path, store.Options{Quota: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const per = 20_000
	batch := make([]store.NewJob, 0, per)
	for done := 0; done < n; {
		batch = batch[:0]
		for i := 0; i < per && done+i < n; i++ {
			text := fmt.Appendf(make([]byte, 0, size+32), "backlog job %d ", done+i)
			for len(text) < size {
				text = append(text, "lorem ipsum dolor sit amet "...)
			}
			batch = append(batch, store.NewJob{Device: "local", IP: "127.0.0.1",
				Files:  []store.NewFile{{Name: "body", Filename: "body.txt", MIME: "text/plain", Data: text[:size]}},
				Params: &store.Params{Service: "mail", Dest: "backlog@example.com", Types: []string{"text"}}})
		}
		ids, err := s.BulkLoad(context.Background(), batch)
		if err != nil {
			t.Fatalf("BulkLoad after %d jobs: %v", done, err)
		}
		done += len(ids)
	}
	used, _ := s.Bytes()
	return used
}

// anonMiB is process pid's anonymous resident memory (the heap, not the mapped file).
func anonMiB(t *testing.T, pid int) string { return mib(rssAnon(t, pid)) }

// dropCaches empties the kernel's page cache (root only), for a cold start.
func dropCaches() error {
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200)
}

// median is the middle of xs (the mean of the two middle ones for an even count).
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percents formats xs as "(94%, 75%, 91%)".
func percents(xs []float64) string {
	var b strings.Builder
	for i, x := range xs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%.0f%%", x)
	}
	return "(" + b.String() + ")"
}
