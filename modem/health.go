package modem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Health is what the modem says about itself, for admins and for deciding whether to send.
type Health struct {
	Present    bool   // the port is open and the modem answers
	SIM        string // "READY", "SIM PIN", "SIM PUK", "not inserted", ... ("" unknown)
	Radio      string // "on", "off (flight mode, CFUN 4)", ...; "" when AT+CFUN? is refused
	Registered bool   // home network or roaming (CREG or CEREG stat 1, 5, 6, 7, 9, 10)
	RegStatus  string // "home", "roaming", "searching", "denied", "not searching", "unknown"
	Operator   string // from AT+COPS?
	SignalDBM  int    // from AT+CSQ; valid when HasSignal
	HasSignal  bool   // false when the modem reports 99 (unknown)
	SMSC       string // from AT+CSCA?; "" none configured (or not asked)
	Model      string // from AT+CGMM, when the modem answers it
	LastError  string // the last problem seen (open, init, send), for the status page
	// SMSMemoryFull: the modem's message store was full at the last look (AT+CPMS used ==
	// total): new messages wait at the service centre until it is emptied, which it is being.
	SMSMemoryFull bool
	Checked       time.Time // when these facts were last refreshed
}

// Ready says whether a message can be sent now, and if not why (an error wrapping ErrNotReady,
// ErrSIM or ErrNotRegistered).
func (h Health) Ready() error {
	switch {
	case !h.Present:
		reason := "modem not present"
		if h.LastError != "" {
			reason += ": " + h.LastError
		}
		return &StateError{Reason: reason, Err: ErrNotReady}
	case h.SIM != "READY":
		sim := h.SIM
		if sim == "" {
			sim = "state unknown"
		}
		reason := "SIM " + strings.TrimPrefix(sim, "SIM ")
		if h.LastError != "" {
			reason += ": " + h.LastError
		}
		if sim == "state unknown" || sim == "busy" {
			return &StateError{Reason: reason, Err: ErrNotReady}
		}
		return &StateError{Reason: reason, Err: ErrSIM}
	case !h.Registered:
		return &StateError{Reason: "not registered on a network (" + h.RegStatus + ")", Err: ErrNotRegistered}
	}
	return nil
}

// healthJSON is Health on the wire: the "facts" of an SMS sender in /admin/api/status, whose
// names clients read (docs/ADMIN.md). signal_dbm is null when the modem does not know it.
type healthJSON struct {
	Present    bool      `json:"present"`
	Radio      string    `json:"radio,omitempty"`
	SIM        string    `json:"sim"`
	Registered bool      `json:"registered"`
	RegStatus  string    `json:"registration,omitempty"`
	Operator   string    `json:"operator"`
	SignalDBM  *int      `json:"signal_dbm"`
	SMSC       string    `json:"smsc"`
	Model      string    `json:"model,omitempty"`
	LastError  string    `json:"last_error"`
	Checked    time.Time `json:"checked,omitzero"`
	// SMSMemoryFull: the message store is full (new messages wait at the network).
	SMSMemoryFull bool `json:"sms_memory_full,omitempty"`
}

// MarshalJSON writes h with the status page's names.
func (h Health) MarshalJSON() ([]byte, error) {
	w := healthJSON{Present: h.Present, Radio: h.Radio, SIM: h.SIM, Registered: h.Registered, RegStatus: h.RegStatus,
		Operator: h.Operator, SMSC: h.SMSC, Model: h.Model, LastError: h.LastError, Checked: h.Checked,
		SMSMemoryFull: h.SMSMemoryFull}
	if h.HasSignal {
		w.SignalDBM = &h.SignalDBM
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON wrote (clients of the status JSON, tests).
func (h *Health) UnmarshalJSON(b []byte) error {
	var w healthJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*h = Health{Present: w.Present, Radio: w.Radio, SIM: w.SIM, Registered: w.Registered, RegStatus: w.RegStatus,
		Operator: w.Operator, SMSC: w.SMSC, Model: w.Model, LastError: w.LastError, Checked: w.Checked,
		SMSMemoryFull: w.SMSMemoryFull}
	if w.SignalDBM != nil {
		h.SignalDBM, h.HasSignal = *w.SignalDBM, true
	}
	return nil
}

// Each lists h's facts by their JSON names, as text (provider.Facts; the status page shows a
// modem in a block of its own and uses the fields themselves).
func (h Health) Each(fn func(label, value string)) {
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	fn("present", yes(h.Present))
	fn("radio", h.Radio)
	fn("sim", h.SIM)
	fn("registered", yes(h.Registered))
	fn("registration", h.RegStatus)
	fn("operator", h.Operator)
	if h.HasSignal {
		fn("signal_dbm", strconv.Itoa(h.SignalDBM))
	} else {
		fn("signal_dbm", "")
	}
	fn("smsc", h.SMSC)
	fn("model", h.Model)
	fn("last_error", h.LastError)
	if h.SMSMemoryFull {
		fn("sms_memory_full", "yes: being emptied; new messages wait at the network")
	}
}

// CSQToDBM converts AT+CSQ's rssi (TS 27.007 §8.5) to dBm; ok is false for 99 (unknown).
func CSQToDBM(rssi int) (dbm int, ok bool) {
	switch {
	case rssi == 0:
		return -113, true
	case rssi >= 1 && rssi <= 31:
		return -113 + 2*rssi, true
	}
	return 0, false
}

// session runs the initialisation and health queries on one engine.
type session struct {
	eng             *Engine
	timeout         time.Duration // ordinary commands
	powerTimeout    time.Duration // AT+CFUN=1 (0: timeout)
	registerTimeout time.Duration // AT+COPS=0 (0: timeout)
	pin             *pinGuard
	link            *linkState    // nil: nothing remembered between calls (the probe)
	steps           *[]Step       // nil: not recorded
	powered         *atomic.Int64 // set to the time AT+CFUN=1 is sent; nil: not kept
	beforeReg       func()        // called before registration is asked for; nil: nothing
	receive         bool          // receiving is on: ask for new-message indications
}

// alive sends a bare AT until the modem gives any final result code: OK, or ERROR (some
// simulators answer ERROR even to a bare AT). Only silence is a failure.
func (s *session) alive(ctx context.Context, tries int) error {
	var err error
	for i := 0; i < tries; i++ {
		_, err = s.run(ctx, "AT", s.probeTimeout())
		if err == nil || isFinal(err) {
			return nil
		}
		if !errors.Is(err, ErrTimeout) {
			return err
		}
		s.note("no answer")
	}
	return err
}

func (s *session) probeTimeout() time.Duration {
	if s.timeout < 2*time.Second {
		return s.timeout
	}
	return 2 * time.Second
}

// isFinal says err is the modem's own final result code (so the modem is alive).
func isFinal(err error) bool {
	var cme *CMEError
	var cms *CMSError
	return errors.Is(err, ErrError) || errors.As(err, &cme) || errors.As(err, &cms)
}

// optional runs a command whose failure does not matter (ATE0 and AT+CMEE=1 on modems that
// answer ERROR), but a silent modem or a lost port still stops the caller.
func (s *session) optional(ctx context.Context, cmd string) error {
	_, _, err := s.optionalCmd(ctx, cmd, s.timeout)
	return err
}

// setup prepares a freshly opened (or freshly reset) modem: echo off, numeric errors, radio on,
// SIM PIN (entered at most once, see pinGuard), PDU mode, registration reporting, automatic
// operator selection when the modem is not looking for a network. It fills h with what it
// learns and returns the first reason the modem cannot send, if any.
func (s *session) setup(ctx context.Context, h *Health) error {
	if s.link != nil {
		*s.link = linkState{} // a fresh (or restarted) modem has forgotten every setting
	}
	// A modem just opened (powered, enumerated, or phonesim setting up a connection) can take
	// several seconds to answer its first AT: five tries, as ModemManager's port probing allows.
	if err := s.alive(ctx, 5); err != nil {
		h.Present = false
		return err
	}
	h.Present = true
	for _, cmd := range []string{"ATE0", "AT+CMEE=1"} {
		if err := s.optional(ctx, cmd); err != nil {
			return err
		}
	}
	r, ok, err := s.optionalCmd(ctx, "AT+CGMM", s.timeout)
	if err != nil {
		return err
	}
	if ok && len(r.Lines) > 0 {
		h.Model = r.Lines[0].Text
	}
	// The radio first: in CFUN 0 many modems power the SIM down too, so AT+CPIN? would say
	// "not inserted" about a SIM that is there.
	if err := s.power(ctx, h); err != nil {
		return err
	}
	return s.refresh(ctx, h)
}

// refresh re-reads SIM, registration, signal, operator and SMSC into h, entering the PIN
// if the SIM asks for it and the guard allows, and sets PDU mode.
func (s *session) refresh(ctx context.Context, h *Health) error {
	if err := s.sim(ctx, h); err != nil {
		return err
	}
	if h.SIM != "READY" {
		return h.Ready()
	}
	if _, err := s.run(ctx, "AT+CMGF=0", s.timeout); err != nil {
		return err
	}
	if err := s.reporting(ctx); err != nil {
		return err
	}
	if s.receive {
		if err := s.indications(ctx); err != nil {
			return err
		}
	}
	if err := s.registration(ctx, h); err != nil {
		return err
	}
	if r, ok, err := s.optionalCmd(ctx, "AT+CSQ", s.timeout); err != nil {
		return err
	} else if ok {
		if b, found := r.Find("+CSQ"); found {
			h.SignalDBM, h.HasSignal = CSQToDBM(IntField(Fields(b), 0, 99))
		}
	}
	if r, ok, err := s.optionalCmd(ctx, "AT+COPS?", s.timeout); err != nil {
		return err
	} else if ok {
		if b, found := r.Find("+COPS"); found {
			f := Fields(b)
			h.Operator = ""
			if len(f) >= 3 {
				h.Operator = f[2]
			}
		}
	}
	if r, ok, err := s.optionalCmd(ctx, "AT+CSCA?", s.timeout); err != nil {
		return err
	} else if ok {
		if b, found := r.Find("+CSCA"); found {
			h.SMSC = Fields(b)[0]
		}
	}
	h.Checked = time.Now()
	return h.Ready()
}

func (s *session) sim(ctx context.Context, h *Health) error {
	r, err := s.run(ctx, "AT+CPIN?", s.timeout)
	if err != nil {
		var cme *CMEError
		if errors.As(err, &cme) {
			switch cme.Code {
			case 10:
				h.SIM = "not inserted"
			case 13, 15:
				h.SIM = "failure"
			case 14:
				h.SIM = "busy"
			case 11:
				h.SIM = "SIM PIN"
			case 12:
				h.SIM = "SIM PUK"
			default:
				h.SIM = ""
			}
			h.LastError = cme.Error()
			return nil
		}
		if isFinal(err) {
			h.SIM = ""
			h.LastError = "AT+CPIN? answered ERROR"
			return nil
		}
		return err
	}
	b, _ := r.Find("+CPIN")
	h.SIM = strings.ToUpper(strings.TrimSpace(b))
	if h.SIM != "SIM PIN" {
		return nil
	}
	return s.pin.enter(ctx, s, h)
}

// pinGuard enters the configured PIN at most once per PIN value: a rejected PIN is never sent
// again (three wrong PINs lock the SIM behind its PUK), not after a reopen, nor after a
// restart when a state dir is given (the rejection is remembered there).
type pinGuard struct {
	pin      string
	rejected bool
	remember func(rejected bool) // persists the verdict; nil: memory only
}

func (g *pinGuard) enter(ctx context.Context, s *session, h *Health) error {
	switch {
	case g == nil || g.pin == "":
		h.LastError = "SIM asks for a PIN and none is configured"
		return h.Ready()
	case g.rejected:
		h.LastError = "the configured PIN was rejected before; not entered again (fix the pin, or the SIM locks behind its PUK)"
		return h.Ready()
	}
	// The PIN goes to the modem and nowhere else: errors, steps and traces show it masked.
	_, err := s.runShown(ctx, fmt.Sprintf("AT+CPIN=%q", g.pin), maskedPIN, s.timeout)
	if err != nil {
		if !isFinal(err) {
			return err // no verdict: the PIN may not have reached the SIM; it counts as not tried
		}
		g.rejected = true
		if g.remember != nil {
			g.remember(true)
		}
		h.LastError = "SIM rejected the configured PIN (" + err.Error() + "); it will not be entered again"
		return h.Ready()
	}
	if g.remember != nil {
		g.remember(false)
	}
	// The SIM takes a moment after a PIN: ask again.
	r, err := s.run(ctx, "AT+CPIN?", s.timeout)
	if err == nil {
		b, _ := r.Find("+CPIN")
		h.SIM = strings.ToUpper(strings.TrimSpace(b))
	} else if !isFinal(err) {
		return err
	}
	return nil
}
