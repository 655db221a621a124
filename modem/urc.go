package modem

import "sync/atomic"

// urcStage is the one place where unsolicited result codes leave the stream, in the reader
// goroutine, before the goroutine that owns the port sees a line (as warthog618/modem's
// indication loop does). Two-line codes (+CMT, +CDS, +CBM: a header and the PDU) leave whole,
// so no command loop can take the PDU line for a reply or drop it as stale.
//
// A line whose prefix is the running command's reply prefix is the reply, not a URC: "+CREG:"
// while AT+CREG? runs. The owner sets running before it writes a command; it is cleared when
// the command's final result passes here, and by the owner once its settle time is over.
type urcStage struct {
	running atomic.Pointer[string] // the reply prefix of the command in flight; nil when idle
	pending *URC                   // a two-line code waiting for its PDU line; reader goroutine only
}

// setRunning records the reply prefix of the command about to be written ("" for none).
func (s *urcStage) setRunning(prefix string) {
	if prefix == "" {
		s.running.Store(nil)
		return
	}
	s.running.Store(&prefix)
}

func (s *urcStage) runningPrefix() string {
	if p := s.running.Load(); p != nil {
		return *p
	}
	return ""
}

// take sorts one line: an unsolicited code is handed to emit (a two-line one once its PDU line
// came) and take returns false; any other line is for the command loop and take returns true.
// A header whose next line is not a PDU (a modem that cut it off) is emitted without one, and
// that next line is sorted on its own.
func (s *urcStage) take(text string, emit func(URC)) bool {
	if p := s.pending; p != nil {
		s.pending = nil
		if isHexLine(text) {
			p.PDU = text
			emit(*p)
			return false
		}
		emit(*p)
	}
	l := ParseLine(text)
	if l.Kind != Info {
		// The command's final result: from here on its reply prefix is unsolicited again (a
		// "+CUSD:" right after AT+CUSD's OK is the network's answer), even before the owner
		// has taken the result and cleared running itself.
		s.running.Store(nil)
		return true
	}
	if !IsUnsolicited(l) || (l.Prefix != "" && l.Prefix == s.runningPrefix()) {
		return true
	}
	if pduURCs[l.Prefix] {
		s.pending = &URC{Line: l}
		return false
	}
	emit(URC{Line: l})
	return false
}

// isHexLine says s can be a PDU line: hex digits only.
func isHexLine(s string) bool {
	if s == "" || len(s) > maxLine {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
