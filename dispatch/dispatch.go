// Package dispatch delivers queued jobs: it picks due files from the store, sends them through
// their service's sender with per-sender concurrency and pacing, classifies errors (SPEC §2),
// retries temporary ones with capped, jittered exponential backoff, moves files to a fallback
// service when theirs keeps failing, enforces the time to live, and tracks each sender's health.
//
// The store decides job states; the dispatcher only reports outcomes to it (store.Record).
// Delivery is at least once: an outcome is recorded after the send returns, so a crash in
// between repeats that one send after restart, and nothing accepted is dropped. A store that
// fails to take the outcome (disk full, I/O error) does not repeat it: the outcome waits in
// memory and its record is retried, not the send.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"multimsg/internal/backoff"
	"multimsg/provider"
	"multimsg/store"
)

// Options configure a Dispatcher. Zero values take SPEC §2's defaults.
type Options struct {
	RetryMin    time.Duration // first backoff; default 5s
	RetryMax    time.Duration // backoff cap; default 10m
	Workers     int           // jobs worked on at once; default 64
	SendTimeout time.Duration // bound on one Send; default 2m
	// Window is how many queued jobs the dispatcher holds in memory at most (about; see
	// window.go); the rest of the backlog stays in the store's due index. Default 1024.
	Window int
	Now    func() time.Time
	Log    *slog.Logger
	// Observe, if set, is told about every attempt (metrics).
	Observe func(Event)
	// SwapGrace is how long Swap lets sends in flight finish before it interrupts them: the
	// sends of the services being replaced after one grace, every other one after a second
	// (see Swap). Default 5s.
	SwapGrace time.Duration
}

// Event is one finished attempt, for metrics.
type Event struct {
	Service, Sender string
	OK              bool
	Final           bool          // failed for good
	Retry           bool          // will be retried (or moved to a fallback)
	Latency         time.Duration // from the job's parameters to delivery (OK only)
	SendTime        time.Duration
}

// Dispatcher runs deliveries. Create it with New, start it with Run.
type Dispatcher struct {
	st  *store.Store
	reg *provider.Registry
	o   Options
	log *slog.Logger

	// senders is each sender's state by "service/sender"; a map is read-only once stored, and
	// Swap stores a new one while no work runs.
	senders atomic.Pointer[map[string]*senderState]
	// A replacement of the services (Swap) holds new turns back and waits for the turns being
	// worked on to end. A gate of channels rather than an RWMutex: a Swap's wait is then one a
	// synctest bubble sees as blocked, and its clock can run the grace.
	swapMu sync.Mutex // one Swap at a time

	mu      sync.Mutex // guards win, state, beat, fillNow
	win     window
	state   map[string]jobMark // jobs in the window or running (at most Window + Workers)
	wake    chan struct{}
	beat    time.Time
	fillNow bool // read the due index again at the next turn (after a Swap)
	// pending holds outcomes of sends the store failed to record: the job's next turn retries
	// the record, not the send (guarded by mu).
	pending map[string]pendingOutcome
	// sends are the sends in flight, by a sequence number, so that Swap can interrupt them
	// (guarded by mu); swapping counts the Swaps waiting, during which jobs end their turn
	// after the send they are on instead of starting another.
	sends    map[uint64]inflight
	sendSeq  uint64
	swapping atomic.Int32
	turns    int           // jobs being worked on (guarded by mu)
	gate     chan struct{} // non-nil while a Swap runs; closed when it ends (guarded by mu)
	drained  chan struct{} // closed when turns falls to 0 while a Swap waits (guarded by mu)
}

// inflight is a send being made, as Swap sees it.
type inflight struct {
	service string
	cancel  context.CancelCauseFunc
}

// ErrInterrupted is the cause of a send Swap interrupted: its files are due again at once,
// through the new settings, and no attempt is counted.
var ErrInterrupted = errors.New("send interrupted by a settings change")

// pendingOutcome is a send's outcome waiting to be recorded.
type pendingOutcome struct {
	idx []int
	o   store.Outcome
}

type jobMark uint8

const (
	markQueued  jobMark = 1 << iota // in the window
	markRunning                     // a worker has it
	markAgain                       // woken while running: look again when done
)

// New builds a dispatcher for the services in reg.
func New(st *store.Store, reg *provider.Registry, o Options) *Dispatcher {
	if o.RetryMin <= 0 {
		o.RetryMin = 5 * time.Second
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(10*time.Minute, o.RetryMin)
	}
	if o.Workers <= 0 {
		o.Workers = 64
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 2 * time.Minute
	}
	if o.Window <= 0 {
		o.Window = 1024
	}
	if o.SwapGrace <= 0 {
		o.SwapGrace = 5 * time.Second
	}
	o.Window = max(o.Window, 2*o.Workers) // a page must hold more than the running jobs
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{st: st, reg: reg, o: o, log: o.Log,
		state: map[string]jobMark{}, wake: make(chan struct{}, 1), beat: o.Now(),
		pending: map[string]pendingOutcome{}, sends: map[uint64]inflight{}}
	d.win.items = map[string]*item{}
	d.bindSenders(nil)
	st.OnQueued(d.Enqueue)
	return d
}

// bindSenders makes the sender states of the registry's services: a sender whose driver is
// in old keeps its state (health, pause, pacing), a new one starts afresh.
func (d *Dispatcher) bindSenders(old map[string]*senderState) {
	m := map[string]*senderState{}
	for _, name := range d.reg.Names() {
		svc, _ := d.reg.Service(name)
		for i := range svc.Senders {
			key := name + "/" + svc.Senders[i].Name
			if ss, ok := old[key]; ok && ss.drv == svc.Senders[i].Driver {
				m[key] = ss
				continue
			}
			ss := newSenderState(svc, &svc.Senders[i])
			m[key] = ss
			if rn, ok := svc.Senders[i].Driver.(provider.ReadyNotifier); ok {
				rn.NotifyReady(func() { d.senderReady(ss) })
			}
		}
	}
	d.senders.Store(&m)
}

func (d *Dispatcher) senderMap() map[string]*senderState { return *d.senders.Load() }

// Swap replaces the services while no send is in flight, in bounded time: it holds new work
// back and waits for the jobs being worked on to end their turn (each ends it after the send it
// is on). A send still in flight after Options.SwapGrace is interrupted if its service is in
// rebuild (nil: every service), and any other after a second grace: an interrupted send's
// files are due again at once, through the new settings, with ErrInterrupted in their history
// and no attempt counted (the relay may have taken the message all the same: delivery is at
// least once). Then Swap runs replace — which calls the registry's Replace, closing the drivers
// it drops — and binds the sender states of the registry's services. Queued jobs stay queued:
// a file whose sender is gone goes to its service's default sender, and one whose service has
// no sender left waits with that reason (attempt). An error from replace is returned; the
// senders are bound to whatever the registry holds then.
func (d *Dispatcher) Swap(rebuild []string, replace func() error) error {
	d.swapMu.Lock()
	defer d.swapMu.Unlock()
	d.swapping.Add(1)
	gate, drained := make(chan struct{}), make(chan struct{})
	d.mu.Lock()
	d.gate = gate
	if d.turns == 0 {
		close(drained)
	} else {
		d.drained = drained
	}
	d.mu.Unlock()
	stop := d.interruptAfter(rebuild)
	<-drained
	stop()
	d.swapping.Add(-1)
	defer func() {
		d.mu.Lock()
		d.gate = nil
		d.mu.Unlock()
		close(gate)
	}()
	err := replace()
	d.bindSenders(d.senderMap())
	d.mu.Lock()
	d.beat = d.o.Now()
	d.mu.Unlock()
	d.refillSoon()
	return err
}

// interruptAfter interrupts the sends of the services in rebuild (nil: all) still in flight
// after one grace, and every send after two, until stop is called.
func (d *Dispatcher) interruptAfter(rebuild []string) (stop func()) {
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTimer(d.o.SwapGrace)
		defer t.Stop()
		for round := range 2 {
			select {
			case <-done:
				return
			case <-t.C:
			}
			d.mu.Lock()
			for _, s := range d.sends {
				if round > 0 || rebuild == nil || slices.Contains(rebuild, s.service) {
					s.cancel(ErrInterrupted)
				}
			}
			d.mu.Unlock()
			t.Reset(d.o.SwapGrace)
		}
	}()
	return func() { close(done); <-exited }
}

// track registers a send of service made under ctx, for Swap to interrupt; done unregisters it.
func (d *Dispatcher) track(ctx context.Context, service string) (sctx context.Context, done func()) {
	sctx, cancel := context.WithCancelCause(ctx)
	d.mu.Lock()
	d.sendSeq++
	n := d.sendSeq
	d.sends[n] = inflight{service: service, cancel: cancel}
	d.mu.Unlock()
	return sctx, func() {
		d.mu.Lock()
		delete(d.sends, n)
		d.mu.Unlock()
		cancel(nil)
	}
}

// noSenderWait is how often files of a service without senders look again.
const noSenderWait = time.Minute

// refillSoon has the loop read the due index again at once.
func (d *Dispatcher) refillSoon() {
	d.mu.Lock()
	d.fillNow = true
	d.mu.Unlock()
	d.poke()
}

// Enqueue says job id has work now (a new queued job, an admin retry).
func (d *Dispatcher) Enqueue(id string) { d.schedule(id, d.o.Now()) }

// schedule says job id next has work at at. A job beyond what the window covers is left to
// the store's due index, where a later page finds it.
func (d *Dispatcher) schedule(id string, at time.Time) {
	d.mu.Lock()
	m := d.state[id]
	switch {
	case m&markRunning != 0:
		d.state[id] = m | markAgain
	case m&markQueued != 0:
		d.win.earlier(id, at)
	default:
		k := store.Due{At: at, ID: id}
		switch {
		case !d.win.covers(k):
			d.win.turnedAway(k) // the index has it; a later page finds it
		case d.win.len() >= 2*d.o.Window:
			d.win.shrink(k) // full (a burst): leave it, and what comes after, to the index
			d.win.turnedAway(k)
		default:
			d.state[id] = m | markQueued
			d.win.push(id, at)
		}
	}
	d.mu.Unlock()
	d.poke()
}

func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is done, paging due work from the store's due index (restart resumes
// from there: nothing is loaded up front). It waits for the sends in flight to return before
// it returns.
func (d *Dispatcher) Run(ctx context.Context) error {
	if err := d.refill(); err != nil {
		return fmt.Errorf("dispatch: reading the due index: %w", err)
	}
	if n := d.QueueDepth(); n > 0 {
		d.log.Info("dispatch: resuming queued jobs", "jobs", n)
	}
	slots := make(chan struct{}, d.o.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	lastFill := d.o.Now()
	for {
		now := d.o.Now()
		d.mu.Lock()
		d.beat = now
		stale := d.win.stale() || now.Sub(lastFill) >= heartbeat || d.fillNow
		d.fillNow = false
		d.mu.Unlock()
		filled := false
		if stale {
			filled = true
			// the window ran out of what it covers, or a heartbeat passed: read the head of
			// the due index again (it also repairs anything the window lost track of)
			if err := d.refill(); err != nil {
				d.log.Error("dispatch: reading the due index", "err", err)
			}
			lastFill = now
		}
		d.mu.Lock()
		var ready []string
		for len(ready) < cap(slots) {
			id, ok := d.win.popDue(now)
			if !ok {
				break
			}
			d.state[id] = markRunning
			ready = append(ready, id)
		}
		wait := heartbeat // wake up at least this often, so Alive can tell a wedged loop
		if at, ok := d.win.next(); ok && len(ready) == 0 {
			wait = min(wait, at.Sub(now))
		}
		stale = d.win.stale() && !filled // a failed read waits for the timer, not a spin
		d.mu.Unlock()
		for _, id := range ready {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				d.work(ctx, id)
			}()
		}
		if len(ready) > 0 || stale {
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		timer.Reset(max(wait, 0))
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-timer.C:
		}
	}
}

// refill reads the head of the due index (Window entries) into the window. It reads from the
// start, not from where the window ends: what the window lost track of, or what became due
// earlier, is found again, and jobs that are running or already held are skipped.
func (d *Dispatcher) refill() error {
	d.mu.Lock()
	d.win.reading, d.win.missed = true, nil
	d.mu.Unlock()
	page, err := d.st.DueAfter(store.Due{}, d.o.Window)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		d.win.reading, d.win.missed = false, nil
		return err
	}
	d.win.cover(page, len(page) < d.o.Window)
	for _, e := range page {
		m := d.state[e.ID]
		switch {
		case m&markRunning != 0:
		case m&markQueued != 0:
			d.win.earlier(e.ID, e.At)
		default:
			d.state[e.ID] = markQueued
			d.win.push(e.ID, e.At)
		}
	}
	// keep the window bounded: what it holds beyond what it covers is in the index anyway
	for _, id := range d.win.trim(d.o.Window) {
		delete(d.state, id)
	}
	return nil
}

// heartbeat is the longest the scheduling loop sleeps, and how often it reads the head of
// the due index again.
const heartbeat = 5 * time.Second

// Alive reports whether the scheduling loop ran within the last within (at least its
// heartbeat): the watchdog's question.
func (d *Dispatcher) Alive(within time.Duration) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.beat.IsZero() && d.o.Now().Sub(d.beat) < max(within, 2*heartbeat)
}

// QueueDepth is the number of queued jobs waiting for a worker or their next attempt (the
// store's count of queued jobs, less those being worked on).
func (d *Dispatcher) QueueDepth() int {
	counts, _ := d.st.Counts()
	d.mu.Lock()
	running := 0
	for _, m := range d.state {
		if m&markRunning != 0 {
			running++
		}
	}
	d.mu.Unlock()
	return max(int(counts[store.Queued])-running, 0)
}

// work delivers the due files of one job, then reschedules it.
func (d *Dispatcher) work(ctx context.Context, id string) {
	d.mu.Lock()
	for d.gate != nil { // a Swap runs: wait for it to end
		g := d.gate
		d.mu.Unlock()
		<-g
		d.mu.Lock()
	}
	d.turns++
	d.mu.Unlock()
	next := d.deliverDue(ctx, id)
	d.mu.Lock()
	if d.turns--; d.turns == 0 && d.drained != nil {
		close(d.drained)
		d.drained = nil
	}
	m := d.state[id]
	delete(d.state, id)
	d.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	switch {
	case m&markAgain != 0:
		d.schedule(id, d.o.Now())
	case !next.IsZero():
		d.schedule(id, next)
	}
}

// deliverDue sends every due file of job id and returns when the job next has work (zero:
// never — finished, gone, or shutting down).
func (d *Dispatcher) deliverDue(ctx context.Context, id string) time.Time {
	if !d.recordPending(ctx, id) {
		return d.o.Now().Add(d.o.RetryMin)
	}
	j, err := d.st.Get(id)
	if err != nil || j.State != store.Queued {
		return time.Time{}
	}
	var data []store.NewFile
	for ctx.Err() == nil && j.State == store.Queued {
		now := d.o.Now()
		if d.swapping.Load() > 0 {
			// a Swap waits for this turn to end: the rest goes out after it, when it is due
			// (not now: a file waiting its retry must not jump the wait because a save came)
			return j.NextDue()
		}
		if data == nil {
			if data, err = d.st.Data(id); err != nil {
				d.log.Error("dispatch: reading job files", "job", id, "err", err)
				return now.Add(d.o.RetryMin)
			}
		}
		group := d.nextGroup(j, now)
		if group == nil {
			return j.NextDue()
		}
		nj, err := d.attempt(ctx, j, group, data)
		if group.snd != nil {
			group.snd.picked.Add(-1)
		}
		if err != nil {
			if ctx.Err() == nil {
				d.log.Error("dispatch: recording outcome", "job", id, "err", err)
			}
			return now.Add(d.o.RetryMin)
		}
		if nj == nil { // shutdown mid-send: leave it for the restart
			return time.Time{}
		}
		j = nj
	}
	return time.Time{}
}

// record stores the outcome of a send that happened. The provider has the message (or has
// answered): if the store cannot take the outcome now (disk full, I/O error), the outcome is
// kept in memory and the job's next turn retries the record, not the send (issue 11). The
// write is not cancelled by shutdown either: a send whose outcome is lost is repeated after
// the restart. Only a crash, or a store that never takes the record again, repeats it.
func (d *Dispatcher) record(ctx context.Context, id string, idx []int, o store.Outcome) (*store.Job, error) {
	j, err := d.st.Record(context.WithoutCancel(ctx), id, idx, o)
	if err != nil {
		d.mu.Lock()
		d.pending[id] = pendingOutcome{idx: idx, o: o}
		d.mu.Unlock()
		d.log.Error("dispatch: sent, but recording the outcome failed; the record will be retried, not the send",
			"job", id, "ok", o.OK, "err", err)
	}
	return j, err
}

// recordPending records job id's pending outcome, if it has one, and reports whether the job
// may be worked on (false: the record failed again).
func (d *Dispatcher) recordPending(ctx context.Context, id string) bool {
	d.mu.Lock()
	p, ok := d.pending[id]
	d.mu.Unlock()
	if !ok {
		return true
	}
	if _, err := d.st.Record(context.WithoutCancel(ctx), id, p.idx, p.o); err != nil {
		d.log.Error("dispatch: recording a pending outcome failed again; will retry", "job", id, "err", err)
		return false
	}
	d.mu.Lock()
	delete(d.pending, id)
	d.mu.Unlock()
	d.log.Info("dispatch: pending outcome recorded", "job", id, "ok", p.o.OK)
	return true
}

// group is files of one job that go out in one delivery.
type group struct {
	svc *provider.Service
	snd *senderState
	idx []int
}

// nextGroup picks the first due delivery of j: one file for a per-file service, every due
// file of the same service and sender for a per-job one (mail).
func (d *Dispatcher) nextGroup(j *store.Job, now time.Time) *group {
	var g *group
	for i, f := range j.Files {
		if f.State != store.FilePending || f.NextAt.After(now) && !d.expedited(f) {
			continue
		}
		if g == nil {
			svc, err := d.reg.Service(f.Service)
			if err != nil {
				svc, _ = d.reg.Service(j.Service)
			}
			if svc == nil {
				return nil
			}
			ss := d.sender(svc, f.Sender)
			if ss != nil {
				ss.picked.Add(1) // released in deliverDue once the attempt is over
			}
			g = &group{svc: svc, snd: ss, idx: []int{i}}
			if svc.PerFile {
				return g
			}
			continue
		}
		// g.snd is nil when the service has no sender left (an admin removed them all): the
		// service's files then wait together in attempt (so that they go out together once a
		// sender is back, one message as before), and must not panic here first.
		// A file whose sender is gone (renamed or removed) goes with its default sender's group.
		if f.Service == g.svc.Name && (g.snd == nil || f.Sender == g.snd.name || !g.svc.ShareLoad && d.sender(g.svc, f.Sender) == g.snd) {
			g.idx = append(g.idx, i)
		}
	}
	return g
}

// sender returns the state of the named sender of svc; for "" in a load-sharing service, the
// least busy sender that is not held; else (or when the name is no longer configured) the
// default sender.
func (d *Dispatcher) sender(svc *provider.Service, name string) *senderState {
	senders := d.senderMap()
	if ss, ok := senders[svc.Name+"/"+name]; ok {
		return ss
	}
	if len(svc.Senders) == 0 {
		return nil
	}
	first := senders[svc.Name+"/"+svc.Senders[0].Name]
	if name != "" || !svc.ShareLoad {
		return first
	}
	now := d.o.Now()
	var best *senderState
	bestFailing := false
	for i := range svc.Senders {
		ss := senders[svc.Name+"/"+svc.Senders[i].Name]
		if ss == nil {
			continue
		}
		if wait, _, _ := ss.blocked(now); wait > 0 {
			continue
		}
		// a sender whose last attempt failed comes after every one that is working
		failing := ss.failing()
		switch {
		case best == nil, bestFailing && !failing:
		case failing && !bestFailing:
			continue
		case int(ss.picked.Load())*cap(best.slots) >= int(best.picked.Load())*cap(ss.slots):
			continue
		}
		best, bestFailing = ss, failing
	}
	if best == nil {
		return first // every sender is held: wait on the default
	}
	return best
}

// attempt sends one group and records the outcome. It returns the job as recorded, or nil
// when ctx ended before an outcome was known.
func (d *Dispatcher) attempt(ctx context.Context, j *store.Job, g *group, data []store.NewFile) (*store.Job, error) {
	now := d.o.Now()
	first := &j.Files[g.idx[0]]
	log := d.log.With("job", j.ID, "service", g.svc.Name, "file", first.Name)
	if !j.Expires.IsZero() && !now.Before(j.Expires) {
		return d.st.Record(ctx, j.ID, g.idx, store.Outcome{At: now, Service: g.svc.Name, Final: true,
			Err: fmt.Sprintf("not delivered within its time to live (%s)", j.Expires.Sub(j.ParamsAt).Round(time.Second))})
	}
	if g.snd == nil {
		// every sender was removed (settings page, SIGHUP): the files wait, without counting
		// an attempt, for a sender to be configured again or their time to live to end
		return d.st.Record(ctx, j.ID, g.idx, store.Outcome{At: now, Service: g.svc.Name,
			Err: fmt.Sprintf("service %s has no sender configured on this box; waiting for one to be added", g.svc.Name), NextAt: now.Add(noSenderWait)})
	}
	if wait, why, down := g.snd.blocked(now); wait > 0 {
		// the sender is down or paused: the files wait (or fall back), no attempt is counted;
		// time spent waiting on a down sender counts toward fallback_after
		o := store.Outcome{At: now, Service: g.svc.Name, Sender: g.snd.name, Err: why, NextAt: now.Add(wait), Failing: down}
		if fb := d.fallback(j, g, now, false); fb != nil {
			o.MoveTo, o.MoveSnd, o.NextAt = fb.svc, fb.snd, now
			log.Warn("dispatch: sender unavailable, falling back", "sender", g.snd.name, "to", fb.svc, "why", why)
		} else if down && len(g.svc.Fallback) > 0 {
			// look again when the files may fall back, if that comes before the sender's probe
			since := first.FailingFrom
			if since.IsZero() {
				since = now
			}
			if at := since.Add(g.svc.FallbackAfter); at.Before(o.NextAt) {
				o.NextAt = at
			}
		}
		return d.st.Record(ctx, j.ID, g.idx, o)
	}
	files := make([]provider.File, len(g.idx))
	for k, i := range g.idx {
		f := j.Files[i]
		files[k] = provider.File{Name: f.Name, Filename: f.Filename, Type: f.Type, MIME: f.MIME, Data: data[i].Data}
	}
	del := provider.Delivery{JobID: j.ID, Device: j.Device, Service: g.svc.Name, Sender: g.snd.name,
		Dest: j.Dest, Info: decodeInfo(j.Info), Files: files, Attempt: first.Attempts + 1}
	if g.svc.Name != j.Service {
		del.Info = nil // a fallback service never sees the first service's parameters
	}
	start := d.o.Now()
	sctx, done := d.track(ctx, g.svc.Name)
	rc, err := g.snd.send(sctx, del, d.o.SendTimeout, d.o.Now)
	interrupted := errors.Is(context.Cause(sctx), ErrInterrupted)
	done()
	took := d.o.Now().Sub(start)
	if err != nil && provider.IsContext(err) && ctx.Err() != nil {
		return nil, nil
	}
	now = d.o.Now()
	if err != nil && interrupted {
		// not the sender's fault nor the message's: no attempt counted, no health change;
		// due at once, through whatever the Swap put in place
		log.Info("dispatch: send interrupted by a settings change; due again now", "sender", g.snd.name, "took", took, "err", err)
		return d.record(ctx, j.ID, g.idx, store.Outcome{At: now, Service: g.svc.Name, Sender: g.snd.name,
			Class: "interrupted", Err: ErrInterrupted.Error() + "; sent again through the new settings", NextAt: now, Interrupted: true})
	}
	if err == nil {
		g.snd.succeeded(now)
		log.Info("dispatch: delivered", "sender", g.snd.name, "attempt", del.Attempt, "took", took)
		d.observe(Event{Service: g.svc.Name, Sender: g.snd.name, OK: true, Latency: now.Sub(j.ParamsAt), SendTime: took})
		return d.record(ctx, j.ID, g.idx, store.Outcome{At: now, Service: g.svc.Name, Sender: g.snd.name,
			OK: true, MessageID: rc.MessageID, Attempted: true, Parts: partRefs(rc.Parts)})
	}
	return d.fail(ctx, j, g, now, log, err)
}

// fail classifies err (the one place that decides retry versus give up) and records it.
func (d *Dispatcher) fail(ctx context.Context, j *store.Job, g *group, now time.Time, log *slog.Logger, err error) (*store.Job, error) {
	class := provider.ClassOf(err)
	sndName := ""
	if g.snd != nil {
		sndName = g.snd.name
		g.snd.failed(now, class, err, d.o.RetryMax)
	}
	first := &j.Files[g.idx[0]]
	o := store.Outcome{At: now, Service: g.svc.Name, Sender: sndName, Class: class.String(), Err: err.Error(), Attempted: true}
	ev := Event{Service: g.svc.Name, Sender: sndName}
	if class == provider.Permanent {
		o.Final = true
	} else {
		back := backoff.Policy{Min: d.o.RetryMin, Max: d.o.RetryMax}.Delay(first.Attempts + 1)
		back = max(back, provider.RetryAfterOf(err))
		o.NextAt = now.Add(back)
		if !j.Expires.IsZero() && o.NextAt.After(j.Expires) {
			o.NextAt = j.Expires // one last look at the deadline, where it fails for good
		}
	}
	if fb := d.fallback(j, g, now, class == provider.Permanent); fb != nil {
		o.Final, o.MoveTo, o.MoveSnd, o.NextAt = false, fb.svc, fb.snd, now
	}
	ev.Final, ev.Retry = o.Final, !o.Final
	d.observe(ev)
	if log != nil {
		log.Warn("dispatch: delivery failed", "sender", sndName, "class", class, "attempt", first.Attempts+1,
			"err", err, "final", o.Final, "fallback", o.MoveTo, "next", o.NextAt)
	}
	return d.record(ctx, j.ID, g.idx, o)
}

type target struct{ svc, snd string }

// fallback says where the group's files go when their service cannot deliver: the first
// fallback service that takes their type and accepts dest, once the files have been failing
// for the service's fallback_after (or at once when they failed for good).
func (d *Dispatcher) fallback(j *store.Job, g *group, now time.Time, permanent bool) *target {
	if len(g.svc.Fallback) == 0 {
		return nil
	}
	if !permanent {
		since := j.Files[g.idx[0]].FailingFrom
		if since.IsZero() || now.Sub(since) < g.svc.FallbackAfter {
			return nil
		}
	}
	for _, name := range g.svc.Fallback {
		fs, err := d.reg.Service(name)
		if err != nil || len(fs.Senders) == 0 || name == j.Service && g.svc.Name != j.Service {
			continue
		}
		ok := true
		files := make([]provider.File, 0, len(g.idx))
		for _, i := range g.idx {
			f := j.Files[i]
			if !fs.Takes(f.Type) {
				ok = false
				break
			}
			files = append(files, provider.File{Name: f.Name, Filename: f.Filename, Type: f.Type, MIME: f.MIME})
		}
		if !ok {
			continue
		}
		data, err := d.st.Data(j.ID)
		if err != nil {
			return nil
		}
		for k, i := range g.idx {
			files[k].Data = data[i].Data
		}
		if err := fs.Senders[0].Driver.Check(provider.Request{Dest: j.Dest, Files: files}); err != nil {
			d.log.Info("dispatch: fallback refused", "job", j.ID, "to", name, "err", err)
			continue
		}
		snd := fs.Senders[0].Name
		if fs.ShareLoad {
			snd = "" // the fallback's senders share the load too
		}
		return &target{svc: name, snd: snd}
	}
	return nil
}

func (d *Dispatcher) observe(e Event) {
	if d.o.Observe != nil {
		d.o.Observe(e)
	}
}

// ErrPaused is the reason recorded for files waiting on a sender an admin paused.
var ErrPaused = errors.New("sender paused by an admin")

// partRefs carries a receipt's parts to the store, which keeps them for the status reports.
func partRefs(ps []provider.PartRef) []store.PartRef {
	if len(ps) == 0 {
		return nil
	}
	out := make([]store.PartRef, len(ps))
	for i, p := range ps {
		out[i] = store.PartRef{Ref: p.Ref, Recipient: p.Recipient}
	}
	return out
}
