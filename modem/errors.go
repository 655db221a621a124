package modem

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinels. Each is matched with errors.Is, never by its text.
var (
	// ErrError: the modem answered a plain ERROR (no code: AT+CMEE is off or unsupported).
	ErrError = errors.New("modem answered ERROR")
	// ErrTimeout: no final result code within the command's timeout. The modem may be silent.
	ErrTimeout = errors.New("modem did not answer in time")
	// ErrClosed: the engine was closed (shutdown, or the port was lost).
	ErrClosed = errors.New("modem engine closed")
	// ErrPort: reading or writing the port failed (unplugged, hung up). The port must be reopened.
	ErrPort = errors.New("serial port failed")
	// ErrNoPrompt: AT+CMGS ended without the "> " prompt the PDU must wait for.
	ErrNoPrompt = errors.New("modem gave no \"> \" prompt for the PDU")
	// ErrBadReply: a reply the parser could not read (e.g. +CMGS without a number).
	ErrBadReply = errors.New("unexpected reply from modem")
	// ErrNotReady: the modem is not usable now (absent, initialising, recovering). Jobs wait.
	ErrNotReady = errors.New("modem not ready")
	// ErrNotRegistered: the modem is not registered on a network; sending waits.
	ErrNotRegistered = errors.New("modem not registered on a network")
	// ErrSIM: the SIM needs an operator (absent, PIN without a configured pin, PUK, wrong PIN).
	ErrSIM = errors.New("SIM needs attention")
	// ErrTooLong: a text needs more segments than allowed.
	ErrTooLong = errors.New("text too long for the segment limit")
	// ErrBadNumber: a destination that is not 1-20 digits.
	ErrBadNumber = errors.New("invalid destination number")
	// ErrPDU: a PDU that does not decode.
	ErrPDU = errors.New("invalid PDU")
)

// CMEError is a "+CME ERROR: <n>" final result (3GPP TS 27.007 §9.2): an equipment or SIM error.
type CMEError struct {
	Code int    // -1 when the modem answered only a text
	Text string // the modem's text when verbose, else the standard meaning of Code
}

func (e *CMEError) Error() string { return resultText("CME", e.Code, e.Text) }

// ProviderCode is the short code kept with a failed delivery, e.g. "CME 11".
func (e *CMEError) ProviderCode() string { return shortCode("CME", e.Code) }

// CMSError is a "+CMS ERROR: <n>" final result (3GPP TS 27.005 §3.2.5): a message service
// error, including network causes (0-127, TS 24.011) and TP-FCS values (128-255, TS 23.040).
type CMSError struct {
	Code int
	Text string
}

func (e *CMSError) Error() string { return resultText("CMS", e.Code, e.Text) }

// ProviderCode is the short code kept with a failed delivery, e.g. "CMS 330".
func (e *CMSError) ProviderCode() string { return shortCode("CMS", e.Code) }

// resultText is a +CME/+CMS ERROR as the modem meant it; a negative code is a verbose-only
// answer (text, no number).
func resultText(kind string, code int, text string) string {
	if code < 0 {
		return "+" + kind + " ERROR: " + text
	}
	return fmt.Sprintf("+%s ERROR: %d (%s)", kind, code, text)
}

func shortCode(kind string, code int) string {
	if code < 0 {
		return kind
	}
	return kind + " " + strconv.Itoa(code)
}

// CommandError says which command failed; it wraps the modem's answer (CMEError, CMSError,
// ErrError, ErrTimeout, ErrPort, ...).
type CommandError struct {
	Cmd string
	Err error
}

func (e *CommandError) Error() string { return e.Cmd + ": " + e.Err.Error() }
func (e *CommandError) Unwrap() error { return e.Err }

// StateError is the modem's own state that keeps it from sending, with the reason an admin
// reads on the status page. It wraps ErrNotReady, ErrNotRegistered or ErrSIM.
type StateError struct {
	Reason string
	Err    error
}

func (e *StateError) Error() string { return e.Reason }
func (e *StateError) Unwrap() error { return e.Err }

// Kind is what an error means for the message being sent.
type Kind int

const (
	// Retry: try again later (network busy, SMSC unreachable, memory full, unknown).
	Retry Kind = iota
	// Operator: the modem or SIM needs an operator (no SIM, PIN/PUK, SMSC unknown).
	Operator
	// Reject: this message can never be sent as it is (invalid number or PDU).
	Reject
)

func (k Kind) String() string {
	switch k {
	case Retry:
		return "retry"
	case Operator:
		return "operator"
	case Reject:
		return "reject"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// KindOf decides what err means; the table is in codes.go. Errors it does not know are Retry:
// at-least-once delivery prefers a retry to a loss.
func KindOf(err error) Kind {
	var cms *CMSError
	if errors.As(err, &cms) {
		return cmsKind(cms.Code)
	}
	var cme *CMEError
	if errors.As(err, &cme) {
		return cmeKind(cme.Code)
	}
	switch {
	case errors.Is(err, ErrSIM):
		return Operator
	case errors.Is(err, ErrTooLong), errors.Is(err, ErrBadNumber), errors.Is(err, ErrPDU):
		return Reject
	}
	return Retry
}

// CodeOf is the modem's code in err ("CMS 330", "CME 11"), or "".
func CodeOf(err error) string {
	var cms *CMSError
	if errors.As(err, &cms) {
		return cms.ProviderCode()
	}
	var cme *CMEError
	if errors.As(err, &cme) {
		return cme.ProviderCode()
	}
	return ""
}

// maskedPIN is how a PIN entry appears anywhere but on the wire.
const maskedPIN = `AT+CPIN="****"`

// Redact masks what follows "+CPIN=" (a PIN, or a PUK and a new PIN) up to the end of each
// line of s, so a trace, a log line or an error never carries a SIM secret.
func Redact(s string) string {
	const key = "+CPIN="
	if len(s) < len(key) {
		return s
	}
	var b strings.Builder
	rest := s
	for {
		i := indexFold(rest, key)
		if i < 0 {
			if b.Len() == 0 {
				return s
			}
			b.WriteString(rest)
			return b.String()
		}
		b.WriteString(rest[:i+len(key)])
		rest = rest[i+len(key):]
		end := strings.IndexAny(rest, "\r\n\x1a")
		if end < 0 {
			end = len(rest)
		}
		if end > 0 {
			b.WriteString(`"****"`)
		}
		rest = rest[end:]
	}
}

// indexFold is strings.Index, ignoring ASCII case.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}
