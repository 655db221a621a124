package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"multimsg/store"
)

// TestStartup is the footprint benchmark behind `make bench` (MULTIMSG_LOAD=1): the stripped
// binary as `make cross` builds it, started over an empty store and over one holding 50 k
// queued jobs (created just before, so all of them fall in the admin chart's last 24 hours).
// It prints the time from exec to the first 200 from /healthz (the request is sent as soon
// as the server logs its address; it waits in the listen backlog until the server accepts),
// the anonymous resident memory 2 s after that answer (RssAnon: the heap, stacks and runtime;
// the database's mapped pages are file-backed and not in it), and the package init time
// (GODEBUG=inittrace=1). Each start is repeated and the best and median shown; the page cache
// is warm (the database file is read before each start). It asserts nothing about speed.
//
//	MULTIMSG_STARTUP_JOBS=50000   queued jobs of the second figure
//	MULTIMSG_STARTUP_RUNS=3       starts per figure
func TestStartup(t *testing.T) {
	if os.Getenv("MULTIMSG_LOAD") != "1" {
		t.Skip("start-up benchmark: run with MULTIMSG_LOAD=1 (make bench)")
	}
	jobs, runs := envInt(t, "MULTIMSG_STARTUP_JOBS", 50_000), envInt(t, "MULTIMSG_STARTUP_RUNS", 3)
	bin := filepath.Join(t.TempDir(), "multimsg")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "../cmd/multimsg")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var figures []string
	out := func(format string, args ...any) { figures = append(figures, fmt.Sprintf(format, args...)) }
	out("startup: figures (%d cores; load average before: %s)", runtime.NumCPU(), loadavg())
	if fi, err := os.Stat(bin); err == nil {
		out("startup: binary %s (%s/%s, stripped)", mib(fi.Size()), runtime.GOOS, runtime.GOARCH)
	}
	out("startup: init %s (GODEBUG=inittrace=1, sum over packages, `multimsg version`)", initTime(t, bin))

	dir := t.TempDir()
	cfg := serverConfig(t, dir, "rate = 0.1") // hold delivery back: the queue stays as loaded
	first(t, bin, cfg)                        // makes the key and the admin password, not measured
	db := filepath.Join(dir, "data", "multimsg.db")
	measure := func(name string) {
		var ttl, ttfh []time.Duration
		var anon []int64
		for range runs {
			warm(t, db)
			l, d, rss := startOnce(t, bin, cfg)
			ttl, ttfh, anon = append(ttl, l), append(ttfh, d), append(anon, rss)
		}
		slices.Sort(ttl)
		slices.Sort(ttfh)
		slices.Sort(anon)
		ms := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
		out("startup: %-20s listening (logged) after: median %v; /healthz 200 after: best %v, median %v; RssAnon 2 s later: best %s, median %s",
			name, ms(ttl[len(ttl)/2]), ms(ttfh[0]), ms(ttfh[len(ttfh)/2]), mib(anon[0]), mib(anon[len(anon)/2]))
	}
	measure("empty store")
	queue(t, db, jobs)
	measure(fmt.Sprintf("%d k queued jobs", jobs/1000))
	out("startup: load average after: %s", loadavg())
	for _, f := range figures {
		t.Log(f)
	}
}

// first runs the server once to set up its data directory (key pair, admin password).
func first(t *testing.T, bin, cfg string) {
	t.Helper()
	srv := startServer(t, bin, cfg)
	srv.stop(t)
}

// startOnce starts the server, times its log line saying it serves and its first 200 from
// /healthz, reads its RssAnon 2 s later and stops it.
func startOnce(t *testing.T, bin, cfg string) (listening, healthy time.Duration, anon int64) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "-config", cfg, "-log-level", "info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, " addr="); i >= 0 && strings.Contains(line, `msg="multimsg: serving"`) {
				a, _, _ := strings.Cut(line[i+len(" addr="):], " ")
				addr <- a
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-done
		_ = cmd.Wait()
	}()
	var a string
	select {
	case a = <-addr:
		listening = time.Since(t0)
	case <-done:
		t.Fatalf("server exited before listening")
	case <-time.After(time.Minute):
		t.Fatalf("server did not log its address within a minute")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for healthy == 0 {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+a+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("/healthz: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			healthy = time.Since(t0)
		}
	}
	// The figure is defined as RssAnon two seconds after the first 200: idle, after the
	// start-up work that follows the listener (the chart's read back, the queue's load).
	<-time.After(2 * time.Second)
	return listening, healthy, rssAnon(t, cmd.Process.Pid)
}

// rssAnon is the anonymous resident memory of pid in bytes.
func rssAnon(t testing.TB, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			f := strings.Fields(v)
			n, _ := strconv.ParseInt(f[0], 10, 64)
			return n << 10
		}
	}
	t.Fatalf("no RssAnon in /proc/%d/status", pid)
	return 0
}

// warm reads the database file, so the figure is for a warm page cache.
func warm(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	io.Copy(io.Discard, f)
}

// queue stores n small queued mail jobs of the device "local" offline.
func queue(t *testing.T, db string, n int) {
	t.Helper()
	s, err := store.Open(db, store.Options{Quota: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const per = 10_000
	for done := 0; done < n; {
		batch := make([]store.NewJob, 0, per)
		for i := 0; i < per && done+i < n; i++ {
			batch = append(batch, store.NewJob{Device: "local", IP: "127.0.0.1",
				Files:  []store.NewFile{{Name: "body", Filename: "body.txt", Data: []byte("queued job " + strconv.Itoa(done+i))}},
				Params: &store.Params{Service: "mail", Sender: "default", Dest: "ops@example.com", Types: []string{"text"}}})
		}
		ids, err := s.BulkLoad(context.Background(), batch)
		if err != nil {
			t.Fatalf("BulkLoad after %d jobs: %v", done, err)
		}
		done += len(ids)
	}
}

// initTime sums the init clock times GODEBUG=inittrace=1 prints for `bin version`.
func initTime(t *testing.T, bin string) string {
	cmd := exec.Command(bin, "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	b, _ := cmd.CombinedOutput()
	var ms float64
	var heap int64
	var top []string
	for _, line := range strings.Split(string(b), "\n") {
		// init <pkg> @<t> ms, <n> ms clock, <b> bytes, <a> allocs
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != "init" {
			continue
		}
		c, _ := strconv.ParseFloat(f[4], 64)
		by, _ := strconv.ParseInt(f[7], 10, 64)
		ms += c
		heap += by
		if c >= 0.3 || by >= 64<<10 {
			top = append(top, fmt.Sprintf("%s %.2f ms %d KB", f[1], c, by>>10))
		}
	}
	s := fmt.Sprintf("%.1f ms, %d KB allocated", ms, heap>>10)
	if len(top) > 0 {
		s += "; largest: " + strings.Join(top, ", ")
	}
	return s
}

func envInt(t *testing.T, key string, def int) int {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", key, v)
	}
	return n
}
