package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"multimsg/internal/poll"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"multimsg/store"
)

// TestCrashSafety is SPEC §1's promise under a real crash: every id a client was answered
// survives a SIGKILL of the server in the middle of a load of concurrent /send requests, is
// delivered after the restart (at least once), and the bbolt file is consistent.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	const (
		clients  = 64
		requests = 3000
		killAt   = 1200 // answered ids before the SIGKILL: mid-load, not after a sleep
	)
	bin := buildServer(t)
	dir := t.TempDir()
	cfg := serverConfig(t, dir, "")
	outbox := filepath.Join(dir, "outbox")
	srv := startServer(t, bin, cfg)

	hc := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients},
	}
	defer hc.CloseIdleConnections()

	var (
		mu       sync.Mutex
		answered = map[string]string{} // id → the unique body text sent with it
		killed   = make(chan struct{})
		once     sync.Once
		next     atomic.Int64
		errs     atomic.Int64
	)
	kill := func() {
		once.Do(func() {
			srv.kill()
			close(killed)
		})
	}
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > requests {
					return
				}
				select {
				case <-killed:
					return
				default:
				}
				text := fmt.Sprintf("crash test message %d, unique text %d-%d", n, n, time.Now().UnixNano())
				body, ct := sendBody(text)
				resp, err := hc.Post(srv.url("/send"), ct, bytes.NewReader(body))
				if err != nil {
					errs.Add(1) // the kill cut it: no answer, no promise
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					select {
					case <-killed:
					default:
						t.Errorf("POST /send = %d %q before the kill", resp.StatusCode, b)
					}
					continue
				}
				id := strings.TrimSpace(string(b))
				if !store.ValidID(id) {
					t.Errorf("POST /send answered %q, not an id", b)
					continue
				}
				mu.Lock()
				answered[id] = text
				got := len(answered)
				mu.Unlock()
				if got == killAt {
					kill()
				}
			}
		}()
	}
	wg.Wait()
	kill() // in case fewer than killAt were answered (the errors above say why)
	hc.CloseIdleConnections()
	if t.Failed() {
		t.FailNow()
	}
	mu.Lock()
	ids := make([]string, 0, len(answered))
	for id := range answered {
		ids = append(ids, id)
	}
	mu.Unlock()
	sort.Strings(ids)
	t.Logf("answered %d ids (%d requests cut by the kill) before SIGKILL", len(ids), errs.Load())
	if len(ids) < killAt {
		t.Fatalf("only %d of %d requests answered before the kill:\n%s", len(ids), requests, srv.stderr())
	}

	// The file as the crash left it must be consistent before anything repairs it.
	checkStore(t, filepath.Join(dir, "data", "multimsg.db"))

	srv = startServer(t, bin, cfg)

	// Every answered id reaches the Maildir (again, perhaps: at least once).
	var count map[string]int
	var bodies map[string]string
	missing := 0
	done := poll.Wait(45*time.Second, func() bool {
		var err error
		if count, bodies, err = maildirJobs(outbox); err != nil {
			t.Fatal(err)
		}
		missing = 0
		for _, id := range ids {
			if count[id] == 0 {
				missing++
			}
		}
		return missing == 0
	})
	if !done {
		t.Fatalf("%d of %d answered ids not in the Maildir 45s after the restart:\n%s", missing, len(ids), srv.stderr())
	}
	dups, msgs := 0, 0
	for _, n := range count {
		msgs += n
	}
	for _, id := range ids {
		if !strings.Contains(bodies[id], answered[id]) {
			t.Errorf("job %s: message body %q does not carry the text sent, %q", id, bodies[id], answered[id])
		}
		dups += count[id] - 1
	}
	t.Logf("Maildir: %d messages for %d jobs, %d answered ids among them (%d answered ids sent more than once: at least once)", msgs, len(count), len(ids), dups)

	// /cons knows every answered id and says delivered (it may lag the Maildir by one commit).
	for _, id := range ids {
		st := ""
		poll.Wait(30*time.Second, func() bool {
			st = consult(t, hc, srv, id)
			return st != string(store.Queued) // a queued answer changes nothing: ask again
		})
		if st != string(store.Delivered) {
			t.Fatalf("POST /cons %s = %s, want delivered", id, st)
		}
	}

	srv.stop(t)
	checkStore(t, filepath.Join(dir, "data", "multimsg.db"))
}

// consult asks /cons for id (JSON) and returns the state, or "404" / the status for errors.
func consult(t testing.TB, hc *http.Client, srv *server, id string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.url("/cons"), strings.NewReader(url.Values{"id": {id}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST /cons %s: %v", id, err)
	}
	defer resp.Body.Close()
	var v struct {
		State string `json:"state"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("POST /cons %s: %d, undecodable JSON: %v", id, resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("%d %s", resp.StatusCode, v.Error)
	}
	return v.State
}

// checkStore opens the database file of a stopped (or killed) server and runs bbolt's
// consistency check on it.
func checkStore(t testing.TB, path string) {
	t.Helper()
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("store.Open %s: %v", path, err)
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Fatalf("bbolt consistency check of %s: %v", path, err)
	}
}
