package dispatch

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"multimsg/provider"
	"multimsg/store"
)

// The tests run the dispatcher on a real store in t.TempDir(), inside a synctest bubble: the
// clock is fake (time.Now, timers and the dispatcher's Options.Now all follow it) and advances
// only when every goroutine waits, so timing rules are checked to the nanosecond without
// sleeping. step moves the fake clock; synctest.Wait lets everything settle.

// fakeDriver is a sender in the test: it records each delivery and answers with script
// (nil: success).
type fakeDriver struct {
	name   string
	mu     sync.Mutex
	sends  []sent
	script func(n int, d provider.Delivery) error // n: this driver's 0-based send count
	gate   chan struct{}                          // if set, each Send waits for a value
	check  func(r provider.Request) error
	health *provider.Health
	parts  []provider.PartRef // returned with every success (a modem with status reports)
}

type sent struct {
	at    time.Time
	job   string
	snd   string
	svc   string
	files int
	n     int // attempt number the dispatcher gave
}

func (f *fakeDriver) Check(r provider.Request) error {
	if f.check != nil {
		return f.check(r)
	}
	return nil
}

func (f *fakeDriver) Send(ctx context.Context, d provider.Delivery) (provider.Receipt, error) {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return provider.Receipt{}, ctx.Err()
		}
	}
	f.mu.Lock()
	n := len(f.sends)
	f.sends = append(f.sends, sent{at: time.Now(), job: d.JobID, snd: f.name, svc: d.Service, files: len(d.Files), n: d.Attempt})
	script := f.script
	f.mu.Unlock()
	if script != nil {
		if err := script(n, d); err != nil {
			return provider.Receipt{}, err
		}
	}
	return provider.Receipt{MessageID: fmt.Sprintf("%s-%d", f.name, n), Parts: f.parts}, nil
}

func (f *fakeDriver) Health() provider.Health {
	if f.health != nil {
		return *f.health
	}
	return provider.Health{OK: true}
}

func (f *fakeDriver) log() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sends)
}

// harness is a dispatcher running on a real store.
type harness struct {
	t  *testing.T
	st *store.Store
	d  *Dispatcher
}

// start opens a store and runs a dispatcher for services until the test ends. It must be
// called inside the bubble.
func start(t *testing.T, o Options, services ...*provider.Service) *harness {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jobs.db")
	return startAt(t, path, o, services...)
}

func startAt(t *testing.T, path string, o Options, services ...*provider.Service) *harness {
	t.Helper()
	h := prepare(t, path, o, services...)
	h.run()
	return h
}

// prepare opens the store and builds the dispatcher without running it.
func prepare(t *testing.T, path string, o Options, services ...*provider.Service) *harness {
	t.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := provider.NewRegistry(services...)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st}
	h.d = New(st, reg, o)
	return h
}

// run runs the dispatcher until the test ends.
func (h *harness) run() {
	t, st := h.t, h.st
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
		if err := st.Check(); err != nil {
			t.Errorf("store consistency: %v", err)
		}
		st.Close()
	})
	synctest.Wait()
}

// queue stores a queued job of plain-text files for service (and sender) and returns its id.
func (h *harness) queue(service, sender string, ttl time.Duration, files ...string) string {
	h.t.Helper()
	var nf []store.NewFile
	var types []string
	for i, f := range files {
		nf = append(nf, store.NewFile{Name: fmt.Sprintf("f%d", i), Data: []byte(f)})
		types = append(types, "text")
	}
	j, err := h.st.Create(context.Background(), store.NewJob{Device: "dev", Files: nf,
		Params: &store.Params{Service: service, Sender: sender, Dest: "someone", Types: types, TTL: ttl}})
	if err != nil {
		h.t.Fatal(err)
	}
	return j.ID
}

func (h *harness) job(id string) *store.Job {
	h.t.Helper()
	j, err := h.st.Get(id)
	if err != nil {
		h.t.Fatal(err)
	}
	return j
}

// step advances the fake clock by d and lets everything due run.
func step(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// runUntil advances the fake clock in steps of d until cond holds, at most limit.
func runUntil(t *testing.T, d, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	synctest.Wait()
	for waited := time.Duration(0); !cond(); waited += d {
		if waited >= limit {
			t.Fatalf("after %v: %s", limit, what)
		}
		step(d)
	}
}

func svc(name string, perFile bool, drivers ...*fakeDriver) *provider.Service {
	s := &provider.Service{Name: name, Types: []string{"text"}, PerFile: perFile}
	for _, d := range drivers {
		s.Senders = append(s.Senders, provider.Sender{Name: d.name, Driver: d, Concurrency: 1})
	}
	return s
}

func TestDeliverPerJobAndPerFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		relay, modem := &fakeDriver{name: "relay"}, &fakeDriver{name: "m1"}
		h := start(t, Options{}, svc("mail", false, relay), svc("sms", true, modem))
		mail := h.queue("mail", "", 0, "a", "b")
		sms := h.queue("sms", "", 0, "a", "b")
		synctest.Wait()
		for _, id := range []string{mail, sms} {
			if j := h.job(id); j.State != store.Delivered {
				t.Errorf("job %s state = %s, want delivered", id, j.State)
			}
		}
		if l := relay.log(); len(l) != 1 || l[0].files != 2 {
			t.Errorf("mail deliveries = %+v, want one with both files", l)
		}
		if l := modem.log(); len(l) != 2 || l[0].files != 1 {
			t.Errorf("sms deliveries = %+v, want one per file", l)
		}
		if j := h.job(mail); j.Files[0].MessageID != "relay-0" {
			t.Errorf("message id = %q, want relay-0", j.Files[0].MessageID)
		}
	})
}

func TestRetryAndGiveUp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		errs     []error // per attempt; then success
		want     store.State
		attempts int
	}{
		{"temporary twice then ok", []error{provider.Temp("421", errors.New("busy")), errors.New("unclassified")}, store.Delivered, 3},
		{"permanent", []error{provider.Perm("550", errors.New("no such user"))}, store.Failed, 1},
		{"retry-after hint", []error{&provider.Error{Class: provider.Temporary, Err: errors.New("slow down"), RetryAfter: time.Hour}}, store.Delivered, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var events []Event
				var mu sync.Mutex
				drv := &fakeDriver{name: "relay", script: func(n int, _ provider.Delivery) error {
					if n < len(tc.errs) {
						return tc.errs[n]
					}
					return nil
				}}
				h := start(t, Options{RetryMin: 5 * time.Second, RetryMax: time.Minute,
					Observe: func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() }}, svc("mail", false, drv))
				id := h.queue("mail", "", 0, "x")
				runUntil(t, time.Second, 2*time.Hour, "job finished", func() bool { return h.job(id).State.Finished() })
				j := h.job(id)
				if j.State != tc.want || j.Files[0].Attempts != tc.attempts {
					t.Fatalf("job = %s after %d attempts, want %s after %d", j.State, j.Files[0].Attempts, tc.want, tc.attempts)
				}
				l := drv.log()
				for i := 1; i < len(l); i++ {
					gap := l[i].at.Sub(l[i-1].at)
					lo := 5 * time.Second << (i - 1) / 2
					if rh := provider.RetryAfterOf(tc.errs[i-1]); rh > 0 {
						lo = rh
					}
					if gap < lo {
						t.Errorf("attempt %d came %v after the previous, want at least %v", i+1, gap, lo)
					}
					if l[i].n != i+1 {
						t.Errorf("attempt %d was numbered %d", i+1, l[i].n)
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if len(events) != tc.attempts || events[len(events)-1].OK != (tc.want == store.Delivered) {
					t.Errorf("events = %+v", events)
				}
			})
		})
	}
}

func TestFallback(t *testing.T) {
	down := errors.New("relay unreachable")
	for _, tc := range []struct {
		name             string
		err              error
		refuse           bool          // the fallback's Check refuses dest
		after            time.Duration // fallback_after
		wantSvc          string        // who delivered ("" : nobody within the test)
		earliest, latest time.Duration
	}{
		{"temporary waits fallback_after", provider.Temp("", down), false, 2 * time.Minute, "sms", 2 * time.Minute, 3 * time.Minute},
		{"permanent falls back at once", provider.Perm("550", down), false, time.Hour, "sms", 0, 0},
		{"sender down waits fallback_after", provider.SenderDown("535", down), false, 2 * time.Minute, "sms", 2 * time.Minute, 3 * time.Minute},
		{"refused by the fallback", provider.Perm("550", down), true, 0, "", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				relay := &fakeDriver{name: "relay", script: func(int, provider.Delivery) error { return tc.err }}
				modem := &fakeDriver{name: "m1"}
				if tc.refuse {
					modem.check = func(provider.Request) error { return errors.New("not a phone number") }
				}
				mail := svc("mail", false, relay)
				mail.Fallback, mail.FallbackAfter = []string{"sms"}, tc.after
				h := start(t, Options{RetryMin: 5 * time.Second, RetryMax: 20 * time.Second}, mail, svc("sms", true, modem))
				t0 := time.Now()
				id := h.queue("mail", "", time.Hour, "x")
				runUntil(t, time.Second, 10*time.Minute, "job finished", func() bool {
					return h.job(id).State.Finished() || tc.wantSvc == "" && len(relay.log()) > 0
				})
				j := h.job(id)
				if tc.wantSvc == "" {
					if len(modem.log()) != 0 || j.State != store.Failed {
						t.Errorf("fallback refused: job %s, sms sends %v; want failed, none", j.State, modem.log())
					}
					return
				}
				l := modem.log()
				if j.State != store.Delivered || len(l) != 1 || j.Files[0].Service != tc.wantSvc {
					t.Fatalf("job %s via %s, sms sends %v; want delivered via %s", j.State, j.Files[0].Service, l, tc.wantSvc)
				}
				if took := l[0].at.Sub(t0); took < tc.earliest || took > tc.latest {
					t.Errorf("fell back after %v, want within [%v, %v]", took, tc.earliest, tc.latest)
				}
			})
		})
	}
}

func TestSenderDownHoldsWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		healthy := false
		relay := &fakeDriver{name: "relay", script: func(int, provider.Delivery) error {
			if healthy {
				return nil
			}
			return provider.SenderDown("535", errors.New("authentication failed"))
		}}
		h := start(t, Options{RetryMin: 5 * time.Second, RetryMax: 10 * time.Minute}, svc("mail", false, relay))
		first := h.queue("mail", "", 0, "x")
		synctest.Wait()
		st := h.d.Senders()
		if len(st) != 1 || st[0].Healthy || st[0].Problem == "" || st[0].Failures != 1 {
			t.Fatalf("Senders() = %+v, want relay unhealthy with its problem", st)
		}
		// while held, new work is not attempted: it waits for the probe
		second := h.queue("mail", "", 0, "y")
		step(30 * time.Second)
		if n := len(relay.log()); n != 1 {
			t.Errorf("%d attempts while the sender is held, want 1", n)
		}
		if j := h.job(second); j.Files[0].Attempts != 0 || j.Files[0].LastError == "" {
			t.Errorf("held job: %+v, want no attempt and the reason", j.Files[0])
		}
		healthy = true
		runUntil(t, time.Second, 5*time.Minute, "both delivered", func() bool {
			return h.job(first).State == store.Delivered && h.job(second).State == store.Delivered
		})
		if st := h.d.Senders(); !st[0].Healthy || st[0].Sent != 2 {
			t.Errorf("Senders() after recovery = %+v", st)
		}
	})
}

func TestLeastBusySender(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		m1 := &fakeDriver{name: "m1", gate: gate}
		m2 := &fakeDriver{name: "m2", gate: gate}
		m3 := &fakeDriver{name: "m3", gate: gate, script: func(int, provider.Delivery) error {
			return provider.Temp("", errors.New("no signal"))
		}}
		sms := svc("sms", true, m1, m2, m3)
		sms.ShareLoad = true
		h := start(t, Options{RetryMin: time.Second, RetryMax: time.Second}, sms)
		// m3 fails once: after that, it comes after the working senders
		h.queue("sms", "m3", 0, "warm-up")
		gate <- struct{}{}
		synctest.Wait()
		a := h.queue("sms", "", 0, "a")
		b := h.queue("sms", "", 0, "b")
		synctest.Wait()
		gate <- struct{}{}
		gate <- struct{}{}
		synctest.Wait()
		got := map[string]string{}
		for _, d := range []*fakeDriver{m1, m2} {
			for _, s := range d.log() {
				got[s.job] = s.snd
			}
		}
		if got[a] == "" || got[b] == "" || got[a] == got[b] {
			t.Errorf("senders = %v, want a and b on different working modems", got)
		}
		close(gate)
	})
}

func TestPacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		drv := &fakeDriver{name: "m1"}
		sms := svc("sms", true, drv)
		sms.Senders[0].Rate, sms.Senders[0].Concurrency = 0.5, 4 // one every 2 s
		h := start(t, Options{}, sms)
		for i := 0; i < 4; i++ {
			h.queue("sms", "", 0, "x")
		}
		runUntil(t, 100*time.Millisecond, time.Minute, "4 sent", func() bool { return len(drv.log()) == 4 })
		l := drv.log()
		for i := 1; i < len(l); i++ {
			if gap := l[i].at.Sub(l[i-1].at); gap < 2*time.Second {
				t.Errorf("send %d came %v after the previous, want ≥ 2s", i, gap)
			}
		}
	})
}

func TestTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		drv := &fakeDriver{name: "relay", script: func(int, provider.Delivery) error { return provider.Temp("", errors.New("busy")) }}
		h := start(t, Options{RetryMin: 10 * time.Second, RetryMax: time.Hour}, svc("mail", false, drv))
		t0 := time.Now()
		id := h.queue("mail", "", 3*time.Minute, "x")
		runUntil(t, time.Second, time.Hour, "job failed", func() bool { return h.job(id).State == store.Failed })
		j := h.job(id)
		if took := time.Since(t0); took < 3*time.Minute || took > 3*time.Minute+2*time.Second {
			t.Errorf("failed after %v, want at its time to live (3m)", took)
		}
		if f := j.Files[0]; f.LastError == "" || !strings.Contains(f.LastError, "time to live") {
			t.Errorf("last error = %q, want the time to live", f.LastError)
		}
	})
}

// An Enqueue while a job is being sent (an admin action, a new file's notification) looks at
// the job again when the send returns, and does not cause an early retry.
func TestEnqueueWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		drv := &fakeDriver{name: "relay", gate: gate, script: func(n int, _ provider.Delivery) error {
			if n == 0 {
				return provider.Temp("", errors.New("busy"))
			}
			return nil
		}}
		h := start(t, Options{RetryMin: time.Minute, RetryMax: time.Minute}, svc("mail", false, drv))
		id := h.queue("mail", "", 0, "x")
		synctest.Wait() // the send is waiting on the gate
		h.d.Enqueue(id)
		h.d.mu.Lock()
		m := h.d.state[id]
		h.d.mu.Unlock()
		if m&markAgain == 0 {
			t.Errorf("state while running = %b, want markAgain", m)
		}
		gate <- struct{}{}
		step(time.Second)
		if n := len(drv.log()); n != 1 {
			t.Fatalf("%d attempts right after a failure, want 1 (the retry waits its backoff)", n)
		}
		close(gate)
		runUntil(t, time.Second, 2*time.Minute, "delivered", func() bool { return h.job(id).State == store.Delivered })
		if l := drv.log(); l[1].at.Sub(l[0].at) < 30*time.Second {
			t.Errorf("retried after %v, want its backoff", l[1].at.Sub(l[0].at))
		}
	})
}

func TestPauseResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		drv := &fakeDriver{name: "relay"}
		h := start(t, Options{}, svc("mail", false, drv))
		if h.d.Pause("mail", "nobody", true) {
			t.Errorf("Pause(unknown sender) = true")
		}
		if !h.d.Pause("mail", "relay", true) {
			t.Fatal("Pause(relay) = false")
		}
		id := h.queue("mail", "", 0, "x")
		step(10 * time.Second)
		if j := h.job(id); j.State != store.Queued || j.Files[0].LastError != ErrPaused.Error() || len(drv.log()) != 0 {
			t.Fatalf("paused: job %s (%q), %d sends; want queued, waiting on the pause, none", j.State, j.Files[0].LastError, len(drv.log()))
		}
		if st := h.d.Senders(); !st[0].Paused {
			t.Errorf("Senders() = %+v, want paused", st)
		}
		h.d.Pause("mail", "relay", false)
		t0 := time.Now()
		runUntil(t, time.Second, 2*time.Minute, "delivered after resume", func() bool { return h.job(id).State == store.Delivered })
		if took := time.Since(t0); took > pausedWait {
			t.Errorf("delivered %v after resume, want within %v", took, pausedWait)
		}
	})
}

// Restart: jobs queued (some with retries recorded for later) are found from the due index
// by a new dispatcher, and none goes out before its time.
func TestRestartWithDueWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "jobs.db")
		st, err := store.Open(path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		var ids []string
		for i := 0; i < 10; i++ {
			j, err := st.Create(context.Background(), store.NewJob{Device: "d", Files: []store.NewFile{{Name: "f", Data: []byte("x")}},
				Params: &store.Params{Service: "mail", Dest: "x", Types: []string{"text"}}})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, j.ID)
			if i%2 == 1 { // odd ones were tried and wait for a retry in i minutes
				if _, err := st.Record(context.Background(), j.ID, []int{0}, store.Outcome{At: now, Err: "busy", Attempted: true,
					NextAt: now.Add(time.Duration(i) * time.Minute)}); err != nil {
					t.Fatal(err)
				}
			}
		}
		st.Close()
		drv := &fakeDriver{name: "relay"}
		h := startAt(t, path, Options{Window: 2, Workers: 1}, svc("mail", false, drv))
		runUntil(t, time.Second, 15*time.Minute, "all delivered", func() bool { return len(drv.log()) == 10 })
		byJob := map[string]time.Time{}
		for _, s := range drv.log() {
			byJob[s.job] = s.at
		}
		for i, id := range ids {
			due := now
			if i%2 == 1 {
				due = now.Add(time.Duration(i) * time.Minute)
			}
			if at, ok := byJob[id]; !ok || at.Before(due) || at.After(due.Add(heartbeat+time.Second)) {
				t.Errorf("job %d sent at %v, want at %v (within a heartbeat)", i, at.Sub(now), due.Sub(now))
			}
		}
		if n := h.d.QueueDepth(); n != 0 {
			t.Errorf("QueueDepth() = %d, want 0", n)
		}
	})
}

// Paging: a backlog many times the window goes out whole and in due order, and the window
// never holds more than its bound.
func TestPagingBeyondWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, win = 300, 16
		var h *harness
		maxHeld := 0
		drv := &fakeDriver{name: "relay"}
		drv.script = func(int, provider.Delivery) error {
			h.d.mu.Lock()
			maxHeld = max(maxHeld, h.d.win.len(), len(h.d.state))
			h.d.mu.Unlock()
			return nil
		}
		// the backlog is in the store before the dispatcher starts (a restart after an outage)
		path := filepath.Join(t.TempDir(), "jobs.db")
		st, err := store.Open(path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var jobs []store.NewJob
		for i := 0; i < n; i++ {
			jobs = append(jobs, store.NewJob{Device: "d", Files: []store.NewFile{{Name: "f", Data: []byte("x")}},
				Params: &store.Params{Service: "mail", Dest: "x", Types: []string{"text"}}})
		}
		ids, err := st.BulkLoad(context.Background(), jobs)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		h = prepare(t, path, Options{Window: win, Workers: 4}, svc("mail", false, drv))
		h.run()
		if d := h.d.QueueDepth(); d > n {
			t.Errorf("QueueDepth() = %d, want ≤ %d", d, n)
		}
		runUntil(t, time.Second, time.Minute, "backlog delivered", func() bool { return len(drv.log()) == n })
		if maxHeld > 2*win+4 {
			t.Errorf("the dispatcher held %d jobs at once, want ≤ %d", maxHeld, 2*win+4)
		}
		// due order: all were due at the same instant, so by id (the index's order); with 4
		// workers, a job may overtake by at most the jobs in flight
		sorted := slices.Sorted(slices.Values(ids))
		pos := map[string]int{}
		for i, id := range sorted {
			pos[id] = i
		}
		for i, s := range drv.log() {
			if p := pos[s.job]; p < i-4 || p > i+4 {
				t.Errorf("send %d was job %d in due order", i, p)
				break
			}
		}
		if !h.d.Alive(time.Second) {
			t.Errorf("Alive() = false while running")
		}
	})
}

// A burst of new jobs beyond the window's bound is left to the index and still delivered.
func TestBurstOverflowsWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		drv := &fakeDriver{name: "relay", gate: gate}
		h := start(t, Options{Window: 4, Workers: 1}, svc("mail", false, drv))
		const n = 40
		for i := 0; i < n; i++ {
			h.queue("mail", "", 0, "x")
		}
		synctest.Wait()
		h.d.mu.Lock()
		held := h.d.win.len()
		h.d.mu.Unlock()
		if held > 2*h.d.o.Window {
			t.Errorf("window holds %d, want ≤ %d", held, 2*h.d.o.Window)
		}
		close(gate)
		runUntil(t, time.Second, time.Minute, "all delivered", func() bool { return len(drv.log()) == n })
	})
}

func TestSendersStatusAndDriverHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &fakeDriver{name: "a", health: &provider.Health{OK: false, Detail: "no SIM"}}
		b := &fakeDriver{name: "b"}
		h := start(t, Options{}, svc("sms", true, b, a), svc("mail", false, &fakeDriver{name: "relay"}))
		st := h.d.Senders()
		var names []string
		for _, s := range st {
			names = append(names, s.Service+"/"+s.Name)
		}
		if !slices.Equal(names, []string{"mail/relay", "sms/a", "sms/b"}) {
			t.Errorf("Senders() order = %v", names)
		}
		if st[1].Healthy || st[1].Problem != "no SIM" || st[1].Driver == nil {
			t.Errorf("sms/a = %+v, want unhealthy from its driver", st[1])
		}
		if !st[2].Healthy {
			t.Errorf("sms/b = %+v, want healthy", st[2])
		}
	})
}

// A file whose sender name is no longer configured goes through the service's default.
func TestUnknownSenderUsesDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		drv := &fakeDriver{name: "relay"}
		h := start(t, Options{}, svc("mail", false, drv))
		id := h.queue("mail", "gone", 0, "x")
		synctest.Wait()
		if j := h.job(id); j.State != store.Delivered {
			t.Errorf("job = %s, want delivered through the default sender", j.State)
		}
	})
}

func TestDecodeInfo(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{{"", 0}, {"{", 0}, {`{"subject":"x","cc":["a"]}`, 2}} {
		if got := decodeInfo([]byte(tc.in)); len(got) != tc.want {
			t.Errorf("decodeInfo(%q) = %v, want %d keys", tc.in, got, tc.want)
		}
	}
}

// TestSenderStatusRule: the one rule that makes a sender's health from the dispatcher's record
// of outcomes and the driver's own view.
func TestSenderStatusRule(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 7, 0, 0, 0, time.UTC)
	errAuth, errNet, errAddr := errors.New("auth refused"), errors.New("connection reset"), errors.New("no such user")
	for _, tc := range []struct {
		name    string
		drv     *provider.Health
		do      func(s *senderState)
		at      time.Duration // after t0
		healthy bool
		problem string
	}{
		{name: "new", healthy: true},
		{name: "sent", do: func(s *senderState) { s.succeeded(t0) }, healthy: true},
		{name: "permanent refusal is the message's fault", do: func(s *senderState) { s.failed(t0, provider.Permanent, errAddr, time.Minute) }, healthy: true},
		{name: "temporary failure", do: func(s *senderState) { s.failed(t0, provider.Temporary, errNet, time.Minute) }, healthy: false},
		{name: "down until a success", do: func(s *senderState) { s.failed(t0, provider.Down, errAuth, time.Minute) }, at: time.Hour, problem: "auth refused"},
		{name: "down then sent", do: func(s *senderState) {
			s.failed(t0, provider.Down, errAuth, time.Minute)
			s.succeeded(t0.Add(time.Second))
		}, at: 2 * time.Second, healthy: true},
		{name: "driver cannot send", drv: &provider.Health{Detail: "SIM PIN"}, problem: "SIM PIN"},
		{name: "down wins over the driver's words", drv: &provider.Health{Detail: "SIM PIN"},
			do: func(s *senderState) { s.failed(t0, provider.Down, errAuth, time.Minute) }, problem: "auth refused"},
		{name: "driver fine", drv: &provider.Health{OK: true, Detail: "connected"}, healthy: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			drv := &fakeDriver{name: "x", health: tc.drv}
			s := newSenderState(&provider.Service{Name: "svc"}, &provider.Sender{Name: "x", Driver: drv})
			if tc.do != nil {
				tc.do(s)
			}
			st := s.status(t0.Add(tc.at))
			if st.Healthy != tc.healthy || st.Problem != tc.problem || st.Driver == nil {
				t.Errorf("status = healthy %t, problem %q, driver %v; want %t, %q", st.Healthy, st.Problem, st.Driver, tc.healthy, tc.problem)
			}
		})
	}
}
