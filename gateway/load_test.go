package gateway_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"multimsg/store"
)

// TestLoad is the HTTP load benchmark behind `make bench` (MULTIMSG_LOAD=1): the real binary
// in its own process, driven over loopback by 64 concurrent clients, as a box on a busy LAN
// would be. It prints figures to compare between commits; it asserts nothing about speed
// (the machine it runs on decides that), only that every request was answered correctly.
//
//	MULTIMSG_LOAD=1              run it (otherwise it skips)
//	MULTIMSG_LOAD_DURATION=12s   how long the /send load lasts
//	MULTIMSG_LOAD_JOBS=1000000   jobs stored for the large /cons figure
func TestLoad(t *testing.T) {
	if os.Getenv("MULTIMSG_LOAD") != "1" {
		t.Skip("load benchmark: run with MULTIMSG_LOAD=1 (make bench)")
	}
	const clients = 64
	dur := envDuration(t, "MULTIMSG_LOAD_DURATION", 12*time.Second)
	big := 1_000_000
	if v := os.Getenv("MULTIMSG_LOAD_JOBS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			t.Fatalf("MULTIMSG_LOAD_JOBS=%q: want a number ≥ 1000", v)
		}
		big = n
	}
	bin := buildServer(t)
	var figures []string
	out := func(format string, args ...any) { figures = append(figures, fmt.Sprintf(format, args...)) }
	out("load: figures (%d cores, GOMAXPROCS %d; load average before: %s)", runtime.NumCPU(), runtime.GOMAXPROCS(0), loadavg())

	// 1. /send: ~1 KB jobs, accepted durably (each answer follows its fsync'd commit). Twice:
	// with delivery running (each message is a Maildir file, two fsyncs, and a second store
	// write for the outcome, competing for the same disk and cores), and with delivery held
	// back (the sender paced to one message every 10 s), which is how much a box absorbs in a
	// burst before it delivers the backlog.
	for _, run := range []struct{ name, extra string }{
		{"delivering", ""},
		{"delivery held", "rate = 0.1"},
	} {
		dir := t.TempDir()
		srv := startServer(t, bin, serverConfig(t, dir, run.extra))
		tmpl := newSendTemplate(1024)
		cpu0, self0 := cpuTime(srv.cmd.Process.Pid), selfCPU()
		res := drive(t, srv.addr, clients, dur, func(c, n int, req *fasthttp.Request) {
			tmpl.fill(req, srv.addr, c, n)
		}, func(status int, body []byte) error {
			if status != 200 || !store.ValidID(strings.TrimSpace(string(body))) {
				return fmt.Errorf("POST /send = %d %.200q", status, body)
			}
			return nil
		})
		cpu, self := cpuTime(srv.cmd.Process.Pid)-cpu0, selfCPU()-self0
		delivered := countDir(filepath.Join(dir, "outbox", "new"))
		rss := vmHWM(t, srv.cmd.Process.Pid)
		srv.stop(t)
		out("load: /send (%s) %d clients, %d-byte jobs, %s: %d accepted, %d errors, %d delivered into the Maildir (%.0f/s)",
			run.name, clients, tmpl.size, res.elapsed.Round(time.Millisecond), res.ok, res.errs, delivered, float64(delivered)/res.elapsed.Seconds())
		out("load: /send (%s) accepted durable jobs/s %.0f, latency p50 %s p99 %s max %s",
			run.name, float64(res.ok)/res.elapsed.Seconds(), res.pct(50), res.pct(99), res.max())
		out("load: /send (%s) server CPU %s = %.0f µs per accepted job (%.2f cores), peak RSS (VmHWM) %s; load generator %.0f µs per request",
			run.name, cpu.Round(time.Millisecond), float64(cpu.Microseconds())/float64(max(res.ok, 1)), cpu.Seconds()/res.elapsed.Seconds(), rss,
			float64(self.Microseconds())/float64(max(res.ok, 1)))
		if res.errs > 0 {
			t.Errorf("/send (%s): %d errors, first: %v", run.name, res.errs, res.firstErr)
		}
	}

	// 2. /cons with few and with many jobs stored: a B+tree lookup, so the two should be close.
	for _, n := range []int{1000, big} {
		dir := t.TempDir()
		cfg := serverConfig(t, dir, "")
		start := time.Now()
		ids := prefill(t, filepath.Join(dir, "data"), n)
		filled := time.Since(start)
		t0 := time.Now()
		srv := startServer(t, bin, cfg)
		up := time.Since(t0)
		res := drive(t, srv.addr, clients, min(dur, 6*time.Second), func(c, k int, req *fasthttp.Request) {
			req.Header.SetMethod(fasthttp.MethodPost)
			req.SetRequestURI("http://" + srv.addr + "/cons")
			req.Header.SetContentType("application/x-www-form-urlencoded")
			req.SetBodyString("id=" + ids[(c*7919+k)%len(ids)])
		}, func(status int, body []byte) error {
			if status != 200 || string(body) != string(store.Preprocess) {
				return fmt.Errorf("POST /cons = %d %.200q", status, body)
			}
			return nil
		})
		rss := vmHWM(t, srv.cmd.Process.Pid)
		srv.stop(t)
		out("load: /cons with %d jobs stored (filled in %s, db %s, server up in %s): %.0f lookups/s, p50 %s p99 %s max %s, server RSS %s",
			n, filled.Round(time.Millisecond), mib(fileSize(filepath.Join(dir, "data", "multimsg.db"))), up.Round(time.Millisecond),
			float64(res.ok)/res.elapsed.Seconds(), res.pct(50), res.pct(99), res.max(), rss)
		if res.errs > 0 {
			t.Errorf("/cons: %d errors, first: %v", res.errs, res.firstErr)
		}
	}
	out("load: load average after: %s", loadavg())
	for _, f := range figures {
		t.Log(f)
	}
}

// result is what one drive measured.
type result struct {
	ok, errs int
	firstErr error
	elapsed  time.Duration
	lat      []time.Duration // sorted
}

func (r *result) pct(p int) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, len(r.lat)*p/100)].Round(10 * time.Microsecond)
}

func (r *result) max() time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[len(r.lat)-1].Round(10 * time.Microsecond)
}

// drive runs clients goroutines, each sending requests one after another (build fills request
// number n of client c) for dur, and checks each answer.
func drive(t testing.TB, addr string, clients int, dur time.Duration,
	build func(c, n int, req *fasthttp.Request), check func(status int, body []byte) error) *result {
	t.Helper()
	hc := &fasthttp.HostClient{
		Addr:                addr,
		MaxConns:            clients,
		ReadTimeout:         30 * time.Second,
		WriteTimeout:        30 * time.Second,
		MaxIdleConnDuration: time.Minute,
	}
	defer hc.CloseIdleConnections()
	var (
		mu          sync.Mutex
		res         result
		wg, warm    sync.WaitGroup
		nerrs       atomic.Int64
		ctx         context.Context
		cancel      context.CancelFunc
		startSignal = make(chan struct{})
	)
	warm.Add(clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			lat := make([]time.Duration, 0, 1<<14)
			ok := 0
			var first error
			// One request to open the connection, not measured: 64 connects at once are
			// not what a steady load looks like.
			build(c, 0, req)
			err := hc.Do(req, resp)
			if err == nil {
				err = check(resp.StatusCode(), resp.Body())
			}
			if err != nil {
				first = err
				nerrs.Add(1)
			}
			warm.Done()
			<-startSignal
			for n := 1; ctx.Err() == nil && err == nil; n++ {
				req.Reset()
				build(c, n, req)
				t0 := time.Now()
				err := hc.Do(req, resp) // a new err: the loop goes on after one failed request
				d := time.Since(t0)
				if err == nil {
					err = check(resp.StatusCode(), resp.Body())
				}
				if err != nil {
					if first == nil {
						first = err
					}
					if nerrs.Add(1) > 100 {
						cancel() // something is broken: stop rather than spin
					}
					continue
				}
				ok++
				lat = append(lat, d)
			}
			mu.Lock()
			res.ok += ok
			res.lat = append(res.lat, lat...)
			if res.firstErr == nil {
				res.firstErr = first
			}
			mu.Unlock()
		}()
	}
	warm.Wait()
	ctx, cancel = context.WithTimeout(context.Background(), dur)
	defer cancel()
	start := time.Now()
	close(startSignal)
	wg.Wait()
	res.elapsed = time.Since(start)
	res.errs = int(nerrs.Load())
	slices.Sort(res.lat)
	return &res
}

// sendTemplate is a /send multipart body built once; each request writes a unique number into
// its text, so the load generator costs little next to the server.
type sendTemplate struct {
	body []byte
	ct   string
	at   int // offset of the unique number in body
	size int // bytes of text in the job
}

const uniqueWidth = 20

func newSendTemplate(size int) *sendTemplate {
	marker := strings.Repeat("#", uniqueWidth)
	text := "load " + marker + " " + strings.Repeat("lorem ipsum dolor sit amet ", size/27+1)
	text = text[:size]
	body, ct := sendBody(text)
	return &sendTemplate{body: body, ct: ct, at: strings.Index(string(body), marker), size: size}
}

func (s *sendTemplate) fill(req *fasthttp.Request, addr string, c, n int) {
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(sendURL(addr))
	req.Header.SetContentType(s.ct)
	req.SetBody(s.body) // copies
	b := req.Body()
	u := fmt.Sprintf("%0*d", uniqueWidth, c*1_000_000_000+n)
	copy(b[s.at:], u)
}

// prefill stores n small preprocess jobs of the device "local" (what loopback requests are)
// offline, in big transactions, and returns a sample of 1000 of their ids spread over all.
func prefill(t testing.TB, dataDir string, n int) []string {
	t.Helper()
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(filepath.Join(dataDir, "multimsg.db"), store.Options{Quota: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const per = 50_000
	step := max(1, n/1000)
	var sample []string
	batch := make([]store.NewJob, 0, per)
	for done := 0; done < n; {
		batch = batch[:0]
		for i := 0; i < per && done+i < n; i++ {
			batch = append(batch, store.NewJob{Device: "local", IP: "127.0.0.1",
				Files: []store.NewFile{{Name: "body", Filename: "body.txt", Data: []byte("prefilled job " + strconv.Itoa(done+i))}}})
		}
		ids, err := s.BulkLoad(context.Background(), batch)
		if err != nil {
			t.Fatalf("BulkLoad after %d jobs: %v", done, err)
		}
		for i := range ids {
			if (done+i)%step == 0 {
				sample = append(sample, ids[i])
			}
		}
		done += len(ids)
	}
	return sample
}

func sendURL(addr string) string { return "http://" + addr + "/send" }

// vmHWM is the peak resident set of process pid, and how much of the resident set is
// anonymous memory now (the rest is the database file's pages, mapped by bbolt: the kernel
// can drop those), from /proc/<pid>/status.
func vmHWM(t testing.TB, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	kb := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if f := strings.Fields(v); ok && len(f) == 2 && f[1] == "kB" {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			kb[k] = n
		}
	}
	return fmt.Sprintf("%s (anonymous now %s, file-backed now %s)", mib(kb["VmHWM"]<<10), mib(kb["RssAnon"]<<10), mib(kb["RssFile"]<<10))
}

// cpuTime is the user and system CPU time process pid has used, from /proc/<pid>/stat.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // utime: field 14 of the whole line
	st, _ := strconv.ParseInt(f[12], 10, 64) // stime: field 15
	return time.Duration(ut+st) * time.Second / clockTicks
}

// selfCPU is the CPU time (user and system) the test process, the load generator, has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux platform
// Go supports (the kernel fixes it for user space).
const clockTicks = 100

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func countDir(dir string) int {
	ents, _ := os.ReadDir(dir)
	return len(ents)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func envDuration(t testing.TB, key string, def time.Duration) time.Duration {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a duration like 12s", key, v)
	}
	return d
}
