package modem

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"multimsg/internal/backoff"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Modem. Zero values take the defaults noted.
type Options struct {
	// Open opens the port (required): hw/serial.Opener for a device path, a pty in tests.
	// It is called again after the port fails or the modem is reset.
	Open func(ctx context.Context) (io.ReadWriteCloser, error)
	// PIN is entered once when the SIM asks for it (never again after a rejection).
	PIN string
	// ResetCommand is sent to a modem that stopped answering, before the port is reopened.
	// Default "AT+CFUN=1,1".
	ResetCommand string
	// StateDir keeps the concatenation reference counter and the PIN verdict ("" memory only).
	StateDir string
	// CommandTimeout bounds each ordinary command. Default 10s.
	CommandTimeout time.Duration
	// SendTimeout bounds one AT+CMGS exchange (prompt, PDU, +CMGS). Default 60s.
	SendTimeout time.Duration
	// PowerTimeout bounds AT+CFUN=1 (a radio powering up can take many seconds). Default 30s.
	PowerTimeout time.Duration
	// RegisterTimeout bounds AT+COPS=0 (some modems answer only once registered). Default 2m,
	// as ModemManager allows.
	RegisterTimeout time.Duration
	// SendUnregisteredAfter is how long the modem may say "not registered" before a send is
	// tried anyway, letting the network answer (+CMS ERROR 331 and the like are temporary):
	// registration is a hint, not a gate that can hold the queue forever. Default 1m;
	// negative: never.
	SendUnregisteredAfter time.Duration
	// ReadyWait is how long Send waits for a modem that is present but not ready yet (setting
	// up, registering) before it gives up with a temporary error. Default 10s.
	ReadyWait time.Duration
	// HealthEvery is how often health is refreshed. Default 60s.
	HealthEvery time.Duration
	// ReopenMin and ReopenMax bound the backoff between attempts to open the port. Defaults
	// 500ms and 30s.
	ReopenMin, ReopenMax time.Duration
	// OnURC, if set, sees unsolicited lines (+CMTI, RING...); it must not block.
	OnURC func(URC)
	// Inbox, if set, turns receiving on: new-message indications are asked for at bring-up
	// (AT+CNMI), the store is polled (AT+CMGL) at start and every PollEvery, and each message
	// or status report is handed to Inbox before it is deleted from the modem.
	Inbox Inbox
	// PollEvery is how often the store is polled for what an indication did not announce.
	// Default 5m.
	PollEvery time.Duration

	// Trace logs the wire at debug level.
	Trace bool
}

func (o *Options) defaults() {
	if o.ResetCommand == "" {
		o.ResetCommand = "AT+CFUN=1,1"
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 10 * time.Second
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 60 * time.Second
	}
	if o.HealthEvery <= 0 {
		o.HealthEvery = 60 * time.Second
	}
	if o.PowerTimeout <= 0 {
		o.PowerTimeout = 30 * time.Second
	}
	if o.RegisterTimeout <= 0 {
		o.RegisterTimeout = 2 * time.Minute
	}
	if o.SendUnregisteredAfter == 0 {
		o.SendUnregisteredAfter = time.Minute
	}
	if o.ReadyWait <= 0 {
		o.ReadyWait = 10 * time.Second
	}
	if o.PollEvery <= 0 {
		o.PollEvery = DefaultPollEvery
	}
	if o.ReopenMin <= 0 {
		o.ReopenMin = 500 * time.Millisecond
	}
	if o.ReopenMax <= 0 {
		o.ReopenMax = 30 * time.Second
	}
}

// Modem supervises one modem: it opens the port, initialises the modem, keeps its health,
// sends messages, resets it when it stops answering and reopens it when it comes back. Its
// goroutine (run) is the only one that opens and closes the port.
type Modem struct {
	o    Options
	log  *slog.Logger
	refs *RefStore
	pin  *pinGuard

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	done   chan struct{}
	kick   chan struct{} // a send saw silence: check the modem now

	arrived chan arrival  // indications (+CMTI, +CMT...) for the supervisor to take
	pollNow chan struct{} // poll the store as soon as the port is free

	// opMu serialises operations that take several commands (a concatenated message, a
	// health refresh), so parts of two messages never interleave.
	opMu sync.Mutex

	link linkState // what the bring-up set on the open port; guarded by opMu
	// powered is when the bring-up last sent AT+CFUN=1 (unix ns): the "+CFUN: 1" many modems
	// then announce is our doing, not a restart of their own.
	powered atomic.Int64

	mu  sync.Mutex // guards eng, health, urcs, change, notReg, steps, trustTold, readyFns, reboot
	eng *Engine    // nil while the port is closed
	// health has one writer, update: every change is applied to it under mu, never a copy
	// written back (docs/DESIGN.md, "Typed health").
	health Health
	urcs   urcMarks  // changes unsolicited lines made, so a refresh knows what is newer than its reading
	notReg time.Time // since when the modem has said "not registered" (zero: registered or unknown)
	steps  []Step    // the last bring-up, for logs and the status page
	// trustTold: NotifyReady callers were told that sends are tried despite "not registered"
	trustTold bool
	readyFns  []func()
	change    chan struct{} // closed and replaced at every health change (tests wait on it)
	reboot    bool          // the modem announced a restart of its own: run the full setup again

	pollTimer *time.Timer // the next poll of the store; the supervisor's goroutine only
	ussd      ussdSlot    // the +CUSD a USSD request waits for
}

// New starts supervising a modem. It returns at once; the port is opened in the background
// and Health says how far it got.
func New(o Options, log *slog.Logger) (*Modem, error) {
	if o.Open == nil {
		return nil, errors.New("modem: Options.Open is required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o.defaults()
	refs, err := OpenRefStore(o.StateDir)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Modem{
		o: o, log: log, refs: refs,
		ctx: ctx, cancel: cancel,
		done:   make(chan struct{}),
		kick:   make(chan struct{}, 1),
		change: make(chan struct{}),

		arrived: make(chan arrival, arrivedQueue),
		pollNow: make(chan struct{}, 1),
	}
	m.pin = newPinGuard(o.PIN, o.StateDir, log)
	m.health.LastError = "opening"
	go m.run()
	return m, nil
}

// Close stops the supervisor and closes the port (idempotent).
func (m *Modem) Close() error {
	m.cancel()
	<-m.done
	return nil
}

// Run ties the supervisor New started to ctx: it returns when ctx is done (after closing the
// modem, so its goroutines are gone) or when Close stopped it. A service runs it in its
// errgroup; standalone users (tests, tools) need only New and Close.
func (m *Modem) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return m.Close()
	case <-m.done:
		return nil
	}
}

// Health is a snapshot of the modem's health.
func (m *Modem) Health() Health {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.health
}

// Changed is closed at the next change of health (tests and the status page wait on it).
func (m *Modem) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.change
}

// update applies fn to the modem's health under mu. It is the only way health changes: fn sees
// the current value, so what another goroutine changed meanwhile (an unsolicited +CREG read by
// the port's owner during a refresh) is never overwritten by a stale copy.
func (m *Modem) update(fn func(h *Health)) {
	m.mu.Lock()
	was := m.health.Ready() == nil
	fn(&m.health)
	h := m.health
	switch {
	case h.Present && h.SIM == "READY" && !h.Registered && h.RegStatus != "":
		if m.notReg.IsZero() {
			m.notReg = time.Now()
		}
	case h.Registered:
		m.notReg, m.trustTold = time.Time{}, false
	}
	close(m.change)
	m.change = make(chan struct{})
	fns := m.readyFns
	m.mu.Unlock()
	if !was && h.Ready() == nil {
		m.tellReady(fns)
	}
}

// urcMarks count the health changes unsolicited lines made. A bring-up or refresh notes them
// before it asks (mark) and publish keeps the line's change where the count moved since.
type urcMarks struct {
	reg  uint64 // registration from +CREG/+CEREG
	boot uint64 // restarts the modem announced (RDY, +CFUN: 1, ...)
}

func (m *Modem) marks() urcMarks {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.urcs
}

// publish writes what a session read (h) into the modem's health. full: h comes from a full
// bring-up, which probes presence; a refresh does not, so the current Present stays. Where an
// unsolicited line changed a fact after the session noted the marks (before it asked for that
// fact), the line is newer than the reading and stays.
func (m *Modem) publish(h Health, mark urcMarks, full bool) {
	m.update(func(cur *Health) {
		if !full {
			h.Present = cur.Present
		}
		h.SMSMemoryFull = cur.SMSMemoryFull // the store's poll owns it (storeUse)
		if m.urcs.reg != mark.reg {
			stated := h.Ready() != nil && h.LastError == h.Ready().Error()
			h.Registered, h.RegStatus = cur.Registered, cur.RegStatus
			if stated && h.Ready() == nil {
				h.LastError = "" // it only restated the registration the line has since changed
			}
		}
		if m.urcs.boot != mark.boot {
			// Restarted while we asked: the SIM answers may be from before (a PIN it forgot).
			h.SIM, h.LastError = cur.SIM, cur.LastError
		}
		*cur = h
	})
}

// NotifyReady has fn called each time the modem becomes able to send (ready again, or
// "not registered" has lasted SendUnregisteredAfter), so waiting work can go at once.
func (m *Modem) NotifyReady(fn func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.readyFns = append(m.readyFns, fn)
}

// tellReady calls fns in a goroutine of their own: health changes come from the goroutine that
// owns the port (unsolicited +CREG), which must not wait on the dispatcher.
func (m *Modem) tellReady(fns []func()) {
	if len(fns) == 0 {
		return
	}
	go func() {
		for _, fn := range fns {
			fn()
		}
	}()
}

// tellTrust tells the NotifyReady callers, once per stretch of "not registered", that sends
// are now tried anyway.
func (m *Modem) tellTrust() {
	d, ok := m.untilTryAnyway(m.Health().Ready())
	if !ok || d > 0 {
		return
	}
	m.mu.Lock()
	told := m.trustTold
	m.trustTold = true
	fns := m.readyFns
	m.mu.Unlock()
	if !told {
		m.tellReady(fns)
	}
}

func (m *Modem) engine() *Engine {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.eng
}

// Sent is the outcome of a successful Send.
type Sent struct {
	Refs     []int // the +CMGS message reference (TP-MR) of each part
	Alphabet Alphabet
	Parts    int
}

// Send encodes text for dest and submits every part, waiting for each +CMGS. It returns at
// once with an error wrapping ErrNotReady, ErrSIM or ErrNotRegistered when the modem cannot
// send now; modem errors come back as *CMSError / *CMEError inside a *CommandError (KindOf
// classifies them). A concatenated message whose later part fails is sent whole again on the
// next attempt (with a new reference): at least once, never partly lost.
func (m *Modem) Send(ctx context.Context, dest, text string, opt SubmitOptions) (Sent, error) {
	if !validNumber(dest) {
		return Sent{}, fmt.Errorf("%w: %q", ErrBadNumber, dest)
	}
	if _, _, err := Segments(text); err != nil {
		return Sent{}, err
	}
	// Close must not wait out a minute-long AT+CMGS: tie the send to the supervisor too.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(m.ctx, cancel)()
	m.waitReady(ctx)
	eng, release, err := m.hold()
	if err != nil {
		return Sent{}, err
	}
	defer release()
	h := m.Health()
	if h.Ready() != nil {
		// Health may be stale (registered since the last tick): look again before refusing.
		if err := m.refreshLocked(ctx, eng); err != nil && !m.tryAnyway(err) {
			return Sent{}, err
		}
	} else if _, err := eng.Command(ctx, "AT+CMGF=0", m.o.CommandTimeout); err != nil {
		// PDU mode again: a modem that rebooted by itself is back in its default mode.
		return Sent{}, m.noteSendError(err)
	}
	sub, err := EncodeSubmit(dest, text, opt, m.refs.Next)
	if err != nil {
		return Sent{}, err
	}
	out := Sent{Alphabet: sub.Alphabet, Parts: len(sub.Parts)}
	for i, p := range sub.Parts {
		mr, err := eng.SubmitPDU(ctx, p.TPDULen, p.Hex, m.o.SendTimeout)
		if err != nil {
			if len(sub.Parts) > 1 {
				err = fmt.Errorf("part %d of %d: %w", i+1, len(sub.Parts), err)
			}
			return out, m.noteSendError(err)
		}
		out.Refs = append(out.Refs, mr)
	}
	if m.Health().LastError != "" {
		m.update(func(h *Health) { h.LastError = "" }) // it sends: an old problem would only mislead the status page
	}
	return out, nil
}

// hold takes the modem for one operation of several commands (a send, a USSD request): the
// open port's engine, with opMu held until release. A closed port is the health's error.
func (m *Modem) hold() (eng *Engine, release func(), err error) {
	m.opMu.Lock()
	return m.held()
}

// held is hold's answer once opMu is taken.
func (m *Modem) held() (eng *Engine, release func(), err error) {
	if eng = m.engine(); eng == nil {
		m.opMu.Unlock()
		h := m.Health()
		h.Present = false
		return nil, nil, h.Ready()
	}
	return eng, m.opMu.Unlock, nil
}

// holdWithin is hold for a caller that gives up when ctx ends (a probe from the page must
// answer in time, even behind a minute-long send): the lock is taken in a goroutine that lets
// it go again at once if the caller has left.
func (m *Modem) holdWithin(ctx context.Context) (eng *Engine, release func(), err error) {
	got := make(chan struct{})
	go func() {
		m.opMu.Lock()
		select {
		case got <- struct{}{}:
		case <-ctx.Done():
			m.opMu.Unlock()
		}
	}()
	select {
	case <-got:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("modem busy: %w", ctx.Err())
	}
	return m.held()
}

// waitReady waits, at most ReadyWait, for a modem that is coming up (opening, setting up,
// registering) to become able to send, so a message queued at start-up goes out as soon as
// the modem is ready instead of after the dispatcher's backoff. It returns at once when the
// SIM needs an operator or the port cannot be opened (no short wait helps those).
func (m *Modem) waitReady(ctx context.Context) {
	timer := time.NewTimer(m.o.ReadyWait)
	defer timer.Stop()
	for {
		ch := m.Changed()
		h := m.Health()
		err := h.Ready()
		if err == nil || errors.Is(err, ErrSIM) || m.tryAnyway(err) {
			return
		}
		if !h.Present && h.LastError != "opening" {
			return // no port (unplugged, wrong path): the dispatcher's backoff is the wait
		}
		trust := time.NewTimer(time.Hour) // when "not registered" has lasted long enough to try anyway
		if d, ok := m.untilTryAnyway(err); ok {
			trust.Reset(d)
		} else {
			trust.Stop()
		}
		select {
		case <-ctx.Done():
		case <-timer.C:
		case <-trust.C:
		case <-ch:
			trust.Stop()
			continue
		}
		trust.Stop()
		return
	}
}

// tryAnyway says err is only "not registered" and has lasted SendUnregisteredAfter: the send
// is tried and the network answers (a modem's registration report can be wrong or late).
func (m *Modem) tryAnyway(err error) bool {
	if m.o.SendUnregisteredAfter < 0 || !errors.Is(err, ErrNotRegistered) {
		return false
	}
	m.mu.Lock()
	since := m.notReg
	m.mu.Unlock()
	if since.IsZero() || time.Since(since) < m.o.SendUnregisteredAfter {
		return false
	}
	m.log.Info("modem: not registered for a while; trying the send anyway", "since", since.Format(time.RFC3339))
	return true
}

// untilTryAnyway is how long until tryAnyway(err) holds; ok false when it never will.
func (m *Modem) untilTryAnyway(err error) (time.Duration, bool) {
	if m.o.SendUnregisteredAfter < 0 || !errors.Is(err, ErrNotRegistered) {
		return 0, false
	}
	m.mu.Lock()
	since := m.notReg
	m.mu.Unlock()
	if since.IsZero() {
		return 0, false
	}
	return max(0, m.o.SendUnregisteredAfter-time.Since(since)), true
}

// noteSendError records err for the status page and, when the modem went silent, asks the
// supervisor to check it (and reset it) now rather than at the next health tick.
func (m *Modem) noteSendError(err error) error {
	m.update(func(h *Health) {
		h.LastError = err.Error()
		if KindOf(err) != Operator {
			return
		}
		// The modem says the SIM needs attention: make Ready refuse until a refresh says otherwise.
		var cms *CMSError
		var cme *CMEError
		if errors.As(err, &cms) && cms.Code == 330 {
			h.SMSC = ""
		}
		if errors.As(err, &cms) || errors.As(err, &cme) {
			switch code := CodeOf(err); code {
			case "CMS 310", "CME 10":
				h.SIM = "not inserted"
			case "CMS 311", "CME 11":
				h.SIM = "SIM PIN"
			case "CMS 316", "CME 12":
				h.SIM = "SIM PUK"
			}
		}
	})
	m.checkSoon(err)
	if CodeOf(err) == "CMS 322" && m.receiving() {
		m.PollNow() // memory full: empty the store
	}
	return err
}

// rebootURC says l announces a modem (re)start.
func rebootURC(l Line) bool {
	switch {
	case l.Text == "RDY", l.Text == "^SYSSTART": // not Huawei's ^BOOT: that one is periodic
		return true
	case l.Prefix == "+CPIN":
		return l.Body != "READY" // "+CPIN: SIM PIN" unsolicited: the SIM was reset
	case l.Prefix == "+CFUN":
		return l.Body == "1"
	}
	return false
}

// refreshLocked reads the modem's health again (a full bring-up after the modem restarted by
// itself) and publishes it; the caller holds opMu.
func (m *Modem) refreshLocked(ctx context.Context, eng *Engine) error {
	m.mu.Lock()
	h := m.health // the session's starting point; publish merges what it read into the live one
	mark := m.urcs
	reboot := m.reboot
	m.reboot = false
	m.mu.Unlock()
	s := m.newSession(eng, nil, &mark)
	var err error
	if reboot {
		err = s.setup(ctx, &h)
	} else {
		err = s.refresh(ctx, &h)
	}
	if err != nil {
		var st *StateError
		if !errors.As(err, &st) {
			h.LastError = err.Error()
		}
	} else {
		h.LastError = ""
	}
	m.publish(h, mark, reboot)
	m.checkSoon(err)
	return err
}

func (m *Modem) onURC(u URC) {
	if m.o.OnURC != nil {
		m.o.OnURC(u)
	}
	l := u.Line
	if l.Prefix == "+CFUN" && time.Since(time.Unix(0, m.powered.Load())) < 2*m.o.PowerTimeout {
		m.log.Debug("modem: radio powered up", "urc", l.Text)
		return
	}
	if rebootURC(l) {
		// Restarted by itself (brown-out, watchdog): echo, error mode, PIN and PDU mode are
		// back at their defaults. Make the next send (or tick) set it up again first.
		m.update(func(h *Health) {
			m.reboot = true
			m.urcs.boot++
			h.SIM = ""
			h.LastError = "modem restarted by itself (" + l.Text + ")"
		})
		m.log.Warn("modem: restarted by itself; setting it up again", "urc", l.Text)
		return
	}
	switch l.Prefix {
	case "+CREG", "+CEREG", "+CGREG":
		// Unsolicited form: +CREG: <stat>[,<lac>,<ci>...]. Only a CREG/CEREG "registered" is
		// trusted here; losing registration shows at the next refresh.
		stat, ok := ParseReg(l.Body)
		if !ok {
			m.log.Debug("modem: unreadable registration report", "urc", l.Text)
			return
		}
		if st, reg := regStatus(stat); reg && l.Prefix != "+CGREG" {
			m.update(func(h *Health) {
				m.urcs.reg++
				h.Registered, h.RegStatus = true, st
			})
		}
	case "+CUSD":
		if !m.ussd.deliver(l.Body) {
			m.log.Info("modem: USSD from the network with no request waiting (ignored)", "urc", Redact(l.Text))
		}
	case "+CMTI", "+CDS", "+CDSI", "+CMT":
		if !m.receiving() {
			m.log.Info("modem: incoming message or report (receiving is off)", "urc", l.Text)
			return
		}
		m.noteArrival(l, u.PDU)
	case "^SMMEMFULL":
		if m.receiving() {
			m.PollNow()
		}
	default:
		m.log.Debug("modem: unsolicited", "urc", l.Text)
	}
}

// newSession makes a session on eng. mark, if not nil, is moved forward to the registration
// changes seen just before the session asks for registration (publish then knows which
// unsolicited lines are newer than its reading).
func (m *Modem) newSession(eng *Engine, steps *[]Step, mark *urcMarks) *session {
	s := &session{eng: eng, timeout: m.o.CommandTimeout, powerTimeout: m.o.PowerTimeout,
		registerTimeout: m.o.RegisterTimeout, pin: m.pin, link: &m.link, steps: steps, powered: &m.powered,
		receive: m.receiving()}
	if mark != nil {
		s.beforeReg = func() { mark.reg = m.marks().reg }
	}
	return s
}

// Steps returns the commands of the last bring-up and what came of each.
func (m *Modem) Steps() []Step {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Step(nil), m.steps...)
}

func stepsText(steps []Step) []string {
	out := make([]string, len(steps))
	for i, st := range steps {
		out[i] = st.String()
	}
	return out
}

// bringUp runs the full setup on eng, keeps its steps for Steps, and returns the health it read
// with the reason the modem cannot send as LastError. The caller holds opMu and publishes h.
func (m *Modem) bringUp(ctx context.Context, eng *Engine, mark *urcMarks) (h Health, steps []Step, err error) {
	err = m.newSession(eng, &steps, mark).setup(ctx, &h)
	m.mu.Lock()
	m.steps = steps
	m.mu.Unlock()
	m.log.Info("modem: brought up", "steps", stepsText(steps))
	var st *StateError
	switch {
	case err == nil:
	case errors.As(err, &st):
		if h.LastError == "" {
			h.LastError = st.Reason
		}
		m.log.Warn("modem: not ready", "reason", err)
	default:
		h.LastError = "setup: " + err.Error()
		m.log.Warn("modem: setup failed", "err", err)
	}
	return h, steps, err
}

// checkSoon asks the supervisor to check the modem now when err says it went silent or its
// port failed (it resets and reopens it), rather than at the next health tick.
func (m *Modem) checkSoon(err error) {
	if errors.Is(err, ErrTimeout) || errors.Is(err, ErrPort) {
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
}

// notReadyEvery is how often health is read while the modem cannot send (registering): a
// queued message then goes as soon as it can, even from a modem that reports nothing by itself.
const notReadyEvery = 5 * time.Second

// run is the supervisor: open, set up, serve until the port fails or the modem goes silent,
// reset and reopen, with capped, jittered backoff between attempts.
func (m *Modem) run() {
	defer close(m.done)
	retry := backoff.New(m.o.ReopenMin, m.o.ReopenMax)
	for m.ctx.Err() == nil {
		ok := m.session()
		if m.ctx.Err() != nil {
			return
		}
		if ok {
			retry.Reset()
		}
		if !backoff.Sleep(m.ctx, retry.Next()) {
			return
		}
	}
}

// session opens the port once and serves it until it fails. ok reports that the modem
// answered at all (so the next reopen starts with a short backoff).
func (m *Modem) session() (ok bool) {
	rwc, err := m.o.Open(m.ctx)
	if err != nil {
		m.update(func(h *Health) {
			h.Present = false
			h.LastError = "open: " + err.Error()
		})
		m.log.Warn("modem: cannot open port", "err", err)
		return false
	}
	eng := NewEngine(rwc, m.log, EngineOptions{OnURC: m.onURC, Trace: m.o.Trace})
	m.mu.Lock()
	m.eng = eng
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.eng = nil
		m.mu.Unlock()
		m.opMu.Lock() // let a send in flight finish or fail before the port goes
		eng.Close()
		rwc.Close()
		m.opMu.Unlock()
		m.update(func(h *Health) { h.Present = false })
	}()

	m.opMu.Lock()
	mark := m.marks()
	h, _, err := m.bringUp(m.ctx, eng, &mark)
	var st *StateError
	// Published before the port is let go: a Send waiting on opMu must find the modem present
	// (a refresh does not probe presence; only setup does).
	m.publish(h, mark, true)
	m.opMu.Unlock()
	if errors.Is(err, ErrTimeout) {
		m.reset(eng)
		return false
	}
	if err != nil && !errors.As(err, &st) {
		return false
	}
	m.log.Info("modem: ready to serve", "sim", h.SIM, "registered", h.Registered, "operator", h.Operator, "signal_dbm", h.SignalDBM)

	tick := time.NewTimer(m.o.HealthEvery)
	defer tick.Stop()
	var polls <-chan time.Time // nil while receiving is off
	if m.receiving() {
		pt := time.NewTimer(0) // at once: what arrived while the box was down
		defer pt.Stop()
		polls = pt.C
		m.pollTimer = pt
	}
	for {
		next := m.o.HealthEvery
		if m.Health().Ready() != nil {
			next = min(next, notReadyEvery)
		}
		tick.Reset(next)
		select {
		case <-m.ctx.Done():
			return true
		case <-eng.Done():
			m.noteLost(eng.Err())
			return true
		case <-m.kick:
			if m.silent(eng) {
				m.reset(eng)
				return true
			}
		case <-polls:
			if m.receive(eng, nil) {
				return true
			}
		case <-m.pollNow:
			if m.receive(eng, nil) {
				return true
			}
		case a := <-m.arrived:
			if m.receive(eng, &a) {
				return true
			}
		case <-tick.C:
			m.opMu.Lock()
			err := m.refreshLocked(m.ctx, eng)
			m.opMu.Unlock()
			m.tellTrust()
			if errors.Is(err, ErrTimeout) && m.silent(eng) {
				m.reset(eng)
				return true
			}
		}
	}
}

// receive takes one indication (a) or polls the store (a nil), in the supervisor's goroutine;
// true when the modem went silent and was reset.
func (m *Modem) receive(eng *Engine, a *arrival) (reset bool) {
	var err error
	switch {
	case m.Health().SIM != "READY":
		// Nothing can be read: try again soon (a poll), or when the SIM is ready (the poll
		// after bring-up finds what the indication announced).
		m.pollTimer.Reset(notReadyEvery)
		return false
	case a != nil:
		m.opMu.Lock()
		err = m.arrivedLocked(m.ctx, eng, *a)
		m.opMu.Unlock()
	default:
		err = m.poll(m.ctx)
		m.pollTimer.Reset(m.o.PollEvery)
	}
	if err != nil {
		m.log.Warn("modem: receiving failed", "err", err)
	}
	if errors.Is(err, ErrTimeout) && m.silent(eng) {
		m.reset(eng)
		return true
	}
	return false
}

func (m *Modem) noteLost(err error) {
	m.update(func(h *Health) {
		h.Present = false
		if err != nil {
			h.LastError = "port lost: " + err.Error()
		}
	})
	m.log.Warn("modem: port lost; reopening", "err", err)
}

// silent probes the modem; true when it gives no final result to a few ATs.
func (m *Modem) silent(eng *Engine) bool {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	s := &session{eng: eng, timeout: m.o.CommandTimeout}
	err := s.alive(m.ctx, 2)
	return err != nil && errors.Is(err, ErrTimeout)
}

// reset sends the reset command to a modem that stopped answering; the caller then closes
// and reopens the port (a USB modem drops off the bus and comes back, by the same path).
func (m *Modem) reset(eng *Engine) {
	m.log.Warn("modem: not answering; resetting", "command", m.o.ResetCommand)
	m.update(func(h *Health) {
		h.Present = false
		h.LastError = "modem stopped answering; sent " + m.o.ResetCommand + " and reopening"
	})
	m.opMu.Lock()
	_, _ = eng.Command(m.ctx, m.o.ResetCommand, min(m.o.CommandTimeout, 2*time.Second))
	m.opMu.Unlock()
}

// newPinGuard loads the PIN verdict from stateDir: a PIN rejected before (same PIN, compared
// by hash) is not tried again after a restart.
func newPinGuard(pin, stateDir string, log *slog.Logger) *pinGuard {
	g := &pinGuard{pin: pin}
	if stateDir == "" || pin == "" {
		return g
	}
	sum := sha256.Sum256([]byte("multimsg sim pin\x00" + pin))
	tag := hex.EncodeToString(sum[:8])
	path := filepath.Join(stateDir, "sms-pin-rejected")
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == tag {
		g.rejected = true
		log.Warn("modem: the configured PIN was rejected by the SIM before; it will not be entered (change the pin to try again)", "file", path)
	}
	g.remember = func(rejected bool) {
		if !rejected {
			os.Remove(path)
			return
		}
		if err := writeAtomic(path, []byte(tag+"\n")); err != nil {
			log.Error("modem: cannot remember the PIN rejection", "err", err)
		}
	}
	return g
}

// String names the modem's state in a line, for logs and the probe command.
func (h Health) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "present=%t sim=%q registered=%t", h.Present, h.SIM, h.Registered)
	if h.RegStatus != "" {
		fmt.Fprintf(&b, " (%s)", h.RegStatus)
	}
	fmt.Fprintf(&b, " operator=%q", h.Operator)
	if h.HasSignal {
		b.WriteString(" signal=" + strconv.Itoa(h.SignalDBM) + "dBm")
	} else {
		b.WriteString(" signal=unknown")
	}
	fmt.Fprintf(&b, " smsc=%q", h.SMSC)
	if h.LastError != "" {
		fmt.Fprintf(&b, " last_error=%q", h.LastError)
	}
	return b.String()
}
