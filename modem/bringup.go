package modem

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The bring-up follows what ModemManager (mm-broadband-modem.c: power up with +CFUN=1, errors
// ignored; +CREG=2/+CGREG=2/+CEREG=2 with a fallback to =1; +COPS=3,x before +COPS?; +COPS=0
// to register), oFono (atmodem: +CFUN=1 at enable, +CREG=2, +COPS=3,0;+COPS?, +COPS=0) and
// Gammu (ATGEN: +CMEE with a fallback, +CREG=2 before +CREG?) do when they enable a modem. Only
// what SMS needs and what only the modem can tell must succeed (a final result to AT, the SIM,
// PDU mode); everything else is asked for and may be refused with ERROR.

// Step is one command of the bring-up and what came of it: what `multimsg modem` prints so a
// field technician sees why a modem is not ready.
type Step struct {
	Cmd    string        // as sent (a PIN masked)
	Answer string        // the information lines, "OK", or the final result that failed
	Note   string        // what it meant for the bring-up ("radio off: powering up")
	Took   time.Duration // from writing the command to its final result
	Err    error         // nil when the modem answered OK
}

func (st Step) String() string {
	var b strings.Builder
	b.WriteString(st.Cmd)
	b.WriteString(" → ")
	b.WriteString(st.Answer)
	if st.Took >= 100*time.Millisecond {
		fmt.Fprintf(&b, " (%s)", st.Took.Round(10*time.Millisecond))
	}
	if st.Note != "" {
		b.WriteString(": " + st.Note)
	}
	return b.String()
}

// linkState is what the bring-up remembers between refreshes of one opened port: the
// reporting formats already set, and when automatic operator selection was last asked for.
type linkState struct {
	reporting  bool      // +CREG/+CGREG/+CEREG report formats and +COPS=3,0 are set
	autoSelect time.Time // when AT+COPS=0 was last sent
	// indications is the AT+CNMI mode set ("" not yet), mem the store messages are read
	// from (AT+CPMS mem1; "" unknown).
	indications string
	mem         string
}

// autoSelectEvery is how often AT+COPS=0 is repeated while a modem stays "not registered,
// not searching" (a modem left in manual selection, or one that gave up).
const autoSelectEvery = 5 * time.Minute

// run sends cmd and records it as a step; shown replaces cmd in the step and in errors.
func (s *session) run(ctx context.Context, cmd string, timeout time.Duration) (Reply, error) {
	return s.runShown(ctx, cmd, cmd, timeout)
}

func (s *session) runShown(ctx context.Context, cmd, shown string, timeout time.Duration) (Reply, error) {
	start := time.Now()
	r, err := s.eng.command(ctx, cmd, shown, timeout)
	if s.steps != nil {
		st := Step{Cmd: shown, Took: time.Since(start), Err: err}
		switch {
		case err == nil && len(r.Lines) > 0:
			texts := make([]string, len(r.Lines))
			for i, l := range r.Lines {
				texts[i] = l.Text
			}
			st.Answer = strings.Join(texts, " | ") + " OK"
		case err == nil:
			st.Answer = "OK"
		default:
			var ce *CommandError
			if errors.As(err, &ce) {
				st.Answer = ce.Err.Error()
			} else {
				st.Answer = err.Error()
			}
		}
		*s.steps = append(*s.steps, st)
	}
	return r, err
}

// note annotates the last step.
func (s *session) note(format string, args ...any) {
	if s.steps == nil || len(*s.steps) == 0 {
		return
	}
	(*s.steps)[len(*s.steps)-1].Note = fmt.Sprintf(format, args...)
}

// optionalCmd runs a command the modem may refuse (ERROR, +CME ERROR): only silence or a lost
// port stops the caller. ok reports an OK.
func (s *session) optionalCmd(ctx context.Context, cmd string, timeout time.Duration) (r Reply, ok bool, err error) {
	r, err = s.run(ctx, cmd, timeout)
	if err != nil {
		if isFinal(err) {
			s.note("refused; optional, going on")
			return r, false, nil
		}
		return r, false, err
	}
	return r, true, nil
}

// power makes sure the radio is on: AT+CFUN? and, unless it says 1 (full functionality),
// AT+CFUN=1, waited for as long as modems take to power the radio up. A modem that knows
// neither is taken as it is.
func (s *session) power(ctx context.Context, h *Health) error {
	r, ok, err := s.optionalCmd(ctx, "AT+CFUN?", s.timeout)
	if err != nil || !ok {
		h.Radio = ""
		return err
	}
	b, found := r.Find("+CFUN")
	fun := IntField(Fields(b), 0, -1)
	if !found || fun < 0 {
		s.note("unreadable answer; assuming the radio is on")
		return nil
	}
	if fun == 1 {
		h.Radio = "on"
		return nil
	}
	h.Radio = cfunName(fun)
	s.note("radio %s: powering it up", h.Radio)
	if s.powered != nil {
		s.powered.Store(time.Now().UnixNano())
	}
	if _, ok, err := s.optionalCmd(ctx, "AT+CFUN=1", s.powerTimeout); err != nil {
		return err
	} else if ok {
		h.Radio = "on"
	}
	return nil
}

func cfunName(n int) string {
	switch n {
	case 0:
		return "off (minimum functionality, CFUN 0)"
	case 4:
		return "off (flight mode, CFUN 4)"
	}
	return "not fully on (CFUN " + strconv.Itoa(n) + ")"
}

// reporting sets the registration report formats (2: stat with location, so both the read
// answer and the unsolicited line have a known form; 1 where 2 is refused) and the operator
// format (long alphanumeric), once per opened port.
func (s *session) reporting(ctx context.Context) error {
	if s.link != nil && s.link.reporting {
		return nil
	}
	for _, c := range []string{"+CREG", "+CGREG", "+CEREG"} {
		_, ok, err := s.optionalCmd(ctx, "AT"+c+"=2", s.timeout)
		if err != nil {
			return err
		}
		if !ok {
			if _, _, err := s.optionalCmd(ctx, "AT"+c+"=1", s.timeout); err != nil {
				return err
			}
		}
	}
	if _, _, err := s.optionalCmd(ctx, "AT+COPS=3,0", s.timeout); err != nil {
		return err
	}
	if s.link != nil {
		s.link.reporting = true
	}
	return nil
}

// regStatus names a <stat> of +CREG/+CGREG/+CEREG (TS 27.007 §7.2, §10.1.20, §10.1.22) and says
// whether it allows sending SMS.
func regStatus(stat int) (string, bool) {
	switch stat {
	case 0:
		return "not searching", false
	case 1:
		return "home", true
	case 2:
		return "searching", false
	case 3:
		return "denied", false
	case 5:
		return "roaming", true
	case 6:
		return "home, SMS only", true
	case 7:
		return "roaming, SMS only", true
	case 8, 11:
		return "emergency only", false
	case 9:
		return "home, CSFB not preferred", true
	case 10:
		return "roaming, CSFB not preferred", true
	}
	return "unknown", false
}

// ParseReg reads the <stat> of a +CREG/+CGREG/+CEREG body, read answer or unsolicited, in any
// of the forms modems use:
//
//	<n>,<stat>                      read answer (n 0 or 1)
//	<n>,<stat>,<lac>,<ci>[,<act>…]  read answer with n 2 or more
//	<stat>                          unsolicited (n 1), or a read answer that leaves out <n>
//	<stat>,<lac>,<ci>[,<act>…]      unsolicited with n 2
//
// The location fields tell the forms apart: <lac>/<tac> is quoted hex (some modems leave out the
// quotes), so the field before the first one that is quoted or not a small number is <stat>.
// ok is false when no <stat> can be read.
func ParseReg(body string) (stat int, ok bool) {
	fs := rawFields(body)
	if len(fs) == 0 || (len(fs) == 1 && fs[0].val == "") {
		return 0, false
	}
	loc := -1
	for i, f := range fs {
		if n, err := strconv.Atoi(f.val); f.quoted || err != nil || n < 0 || n > 11 {
			loc = i
			break
		}
	}
	idx := 1
	switch {
	case loc == 0:
		return 0, false
	case loc > 0:
		idx = loc - 1
	case len(fs) == 1:
		idx = 0
	}
	n, err := strconv.Atoi(fs[idx].val)
	if err != nil || n < 0 || n > 11 {
		return 0, false
	}
	return n, true
}

type rawField struct {
	val    string
	quoted bool
}

// rawFields is Fields keeping whether each field was quoted.
func rawFields(body string) []rawField {
	var out []rawField
	var cur strings.Builder
	quoted, wasQuoted := false, false
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '"':
			quoted = !quoted
			wasQuoted = true
		case c == ',' && !quoted:
			out = append(out, rawField{strings.TrimSpace(cur.String()), wasQuoted})
			cur.Reset()
			wasQuoted = false
			if len(out) == 32 {
				return out
			}
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, rawField{strings.TrimSpace(cur.String()), wasQuoted})
}

// registration reads +CREG? and +CEREG? (+CGREG? only for the record: SMS goes over CS or EPS)
// and, when every answer says "not registered, not searching", asks for automatic operator
// selection (AT+COPS=0, bounded by registerTimeout) and reads again.
func (s *session) registration(ctx context.Context, h *Health) error {
	if err := s.readRegistration(ctx, h); err != nil {
		return err
	}
	if h.Registered || h.RegStatus != "not searching" {
		return nil
	}
	if s.link != nil && !s.link.autoSelect.IsZero() && time.Since(s.link.autoSelect) < autoSelectEvery {
		return nil
	}
	if s.link != nil {
		s.link.autoSelect = time.Now()
	}
	_, ok, err := s.optionalCmd(ctx, "AT+COPS=0", s.registerTimeout)
	if err != nil {
		return err
	}
	if ok {
		s.note("not registered and not searching: automatic operator selection requested")
	}
	return s.readRegistration(ctx, h)
}

func (s *session) readRegistration(ctx context.Context, h *Health) error {
	if s.beforeReg != nil {
		s.beforeReg()
	}
	h.Registered, h.RegStatus = false, "unknown"
	for _, c := range []string{"+CREG", "+CEREG"} {
		r, ok, err := s.optionalCmd(ctx, "AT"+c+"?", s.timeout)
		if err != nil {
			return err
		}
		if !ok {
			continue // AT+CEREG? on a 2G/3G modem
		}
		b, found := r.Find(c)
		if !found {
			s.note("no %s line in the answer", c)
			continue
		}
		stat, ok := ParseReg(b)
		if !ok {
			s.note("unreadable %s answer", c)
			continue
		}
		st, reg := regStatus(stat)
		s.note("%s", st)
		if reg || h.RegStatus == "unknown" || h.RegStatus == "not searching" {
			h.RegStatus = st
		}
		if reg {
			h.Registered = true
			return nil
		}
	}
	return nil
}
