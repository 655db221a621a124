package modem

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/warthog618/sms/encoding/gsm7"
	"github.com/warthog618/sms/encoding/ucs2"
)

// USSD is one "+CUSD: <m>[,<str>[,<dcs>]]" line (3GPP TS 27.007 §7.15): the network's answer
// to a USSD request, or a request of its own.
type USSD struct {
	Status int    // <m>: see USSDOpen and the USSD* constants
	Text   string // <str> decoded to UTF-8 ("" when none came)
	DCS    int    // <dcs> as given (TS 23.038 §5, cell broadcast coding); -1 when absent
}

// The <m> values of +CUSD.
const (
	USSDDone        = 0 // no further user action required
	USSDOpen        = 1 // further user action required: the network keeps the session open
	USSDTerminated  = 2 // terminated by the network
	USSDOtherClient = 3 // another local client has responded
	USSDUnsupported = 4 // operation not supported
	USSDTimeout     = 5 // network time out
)

// maxUSSDText bounds a decoded answer: USSD strings are at most 182 characters (TS 23.038),
// which no modem's encoding of them makes longer than this.
const maxUSSDText = 1024

// ErrUSSD says a +CUSD line could not be read.
var ErrUSSD = errors.New("modem: malformed +CUSD")

// ParseCUSD reads the body of a "+CUSD:" line. Modems differ in how they hand <str> over, even
// for the same <dcs>: as text in the TE character set (most, with AT+CSCS="GSM" or "IRA"), as
// GSM 7-bit packed into hex octets (Huawei and others), or as UCS-2 hex (with AT+CSCS="UCS2",
// or for a UCS-2 <dcs>). ParseCUSD decides from <dcs> and from the string itself, and keeps
// the string as given when no decoding fits.
func ParseCUSD(body string) (USSD, error) {
	f := rawFields(body)
	if len(f) == 0 || f[0].quoted {
		return USSD{}, fmt.Errorf("%w: %q", ErrUSSD, clip(body))
	}
	m := IntField([]string{f[0].val}, 0, -1)
	if m < 0 || m > 5 {
		return USSD{}, fmt.Errorf("%w: status %q", ErrUSSD, clip(f[0].val))
	}
	u := USSD{Status: m, DCS: -1}
	if len(f) > 2 {
		u.DCS = IntField([]string{f[2].val}, 0, -1)
		if u.DCS > 255 {
			return USSD{}, fmt.Errorf("%w: dcs %q", ErrUSSD, clip(f[2].val))
		}
	}
	if len(f) > 1 {
		if len(f[1].val) > 2*maxUSSDText {
			return USSD{}, fmt.Errorf("%w: text of %d bytes", ErrUSSD, len(f[1].val))
		}
		u.Text = decodeUSSDText(f[1].val, u.DCS)
	}
	return u, nil
}

// ussdAlphabet is the alphabet a cell-broadcast data coding scheme names (TS 23.038 §5).
func ussdAlphabet(dcs int) string {
	switch {
	case dcs < 0:
		return "unknown"
	case dcs == 0x11:
		return "ucs2" // UCS-2 preceded by a language indication
	case dcs>>4 <= 3:
		return "gsm7" // language groups (0x10: GSM 7-bit with a language indication)
	case dcs>>6 == 1 || dcs>>4 == 9: // general data coding (01xx) and message with UDH (1001)
		switch (dcs >> 2) & 3 {
		case 1:
			return "8bit"
		case 2:
			return "ucs2"
		}
		return "gsm7"
	case dcs>>4 == 0xF:
		if dcs&4 != 0 {
			return "8bit"
		}
		return "gsm7"
	}
	return "unknown"
}

func decodeUSSDText(s string, dcs int) string {
	if !isHex(s) {
		return s
	}
	b, _ := hex.DecodeString(s)
	switch ussdAlphabet(dcs) {
	case "ucs2":
		if t, ok := decodeUCS2(b); ok {
			return t
		}
	case "8bit":
		if t, ok := printableLatin1(b); ok {
			return t
		}
	default:
		// A GSM 7-bit answer in hex is either UCS-2 (the modem converted it to AT+CSCS="UCS2")
		// or the septets packed as on the air. UCS-2 of a GSM text has a zero high octet in
		// (nearly) every character, which packed septets almost never show.
		if len(b)%2 == 0 && zeroHighOctets(b) {
			if t, ok := decodeUCS2(b); ok {
				return t
			}
		}
		if t, ok := decodePacked7(b); ok {
			return t
		}
	}
	return s
}

// isHex reports whether s is a non-empty, even-length string of hex digits long enough not to
// be an ordinary word ("CAFE" stays text).
func isHex(s string) bool {
	if len(s) < 8 || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func zeroHighOctets(b []byte) bool {
	zero := 0
	for i := 0; i < len(b); i += 2 {
		if b[i] == 0 {
			zero++
		}
	}
	return zero*4 >= len(b)/2*3 // three quarters or more
}

func decodeUCS2(b []byte) (string, bool) {
	if len(b)%2 != 0 {
		return "", false
	}
	r, err := ucs2.Decode(b)
	if err != nil {
		return "", false
	}
	return printable(string(r))
}

func decodePacked7(b []byte) (string, bool) {
	u := gsm7.Unpack7BitUSSD(b, 0)
	t, err := gsm7.Decode(u)
	if err != nil {
		return "", false
	}
	return printable(strings.TrimRight(string(t), "\r"))
}

func printableLatin1(b []byte) (string, bool) {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return printable(string(r))
}

// printable accepts a decoded text only when it reads as text: no control characters but line
// breaks, and some letters or digits.
func printable(s string) (string, bool) {
	if !utf8.ValidString(s) || s == "" {
		return "", false
	}
	seen := false
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' || r == utf8.RuneError {
			return "", false
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			seen = true
		}
	}
	return s, seen
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Errors of a USSD request.
var (
	// ErrUSSDUnsupported: the modem refuses AT+CUSD, or the network answered "+CUSD: 4".
	ErrUSSDUnsupported = errors.New("USSD not supported")
	// ErrUSSDTimeout: no answer came in time, or the network answered "+CUSD: 5".
	ErrUSSDTimeout = errors.New("no USSD answer from the network")
	// ErrBadUSSD: a code that is not a USSD string (digits, * and #, at most 160).
	ErrBadUSSD = errors.New("not a USSD code")
)

// DefaultUSSDTimeout bounds the wait for the network's answer: operators answer within a few
// seconds, and the network itself gives up on a session after about 30.
const DefaultUSSDTimeout = 30 * time.Second

// ussdSlot hands the one +CUSD a USSD request waits for from the URC stage to the request.
type ussdSlot struct {
	mu sync.Mutex
	ch chan string // the body of the next +CUSD line; nil when no request waits
}

func (s *ussdSlot) wait() chan string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ch = make(chan string, 1)
	return s.ch
}

func (s *ussdSlot) done() {
	s.mu.Lock()
	s.ch = nil
	s.mu.Unlock()
}

// deliver hands body to the waiting request; with none waiting (a late answer, a network
// initiated USSD) it reports false.
func (s *ussdSlot) deliver(body string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		return false
	}
	select {
	case s.ch <- body:
	default:
	}
	return true
}

// ValidUSSDCode reports whether code can be sent as a USSD string: digits, '*' and '#', ending
// in '#', at most 160 characters (TS 22.090 §4.5).
func ValidUSSDCode(code string) bool {
	if code == "" || len(code) > 160 || !strings.HasSuffix(code, "#") {
		return false
	}
	for _, c := range code {
		if !(c >= '0' && c <= '9' || c == '*' || c == '#') {
			return false
		}
	}
	return true
}

// USSD sends code (e.g. "*100#", a balance request) and returns the network's answer, decoded.
// It waits at most timeout (DefaultUSSDTimeout when 0) for the answer. A session the network
// leaves open (+CUSD: 1, "reply with 1 for...") is closed with AT+CUSD=2: the box never answers
// a menu. Some modems (Huawei's) take the code only packed as GSM 7-bit hex: when the plain code
// is refused, it is sent once more packed.
func (m *Modem) USSD(ctx context.Context, code string, timeout time.Duration) (USSD, error) {
	if !ValidUSSDCode(code) {
		return USSD{}, fmt.Errorf("%w: %q", ErrBadUSSD, clip(code))
	}
	if timeout <= 0 {
		timeout = DefaultUSSDTimeout
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(m.ctx, cancel)()
	eng, release, err := m.hold()
	if err != nil {
		return USSD{}, err
	}
	defer release()
	if err := m.Health().Ready(); err != nil && !m.tryAnyway(err) {
		return USSD{}, err
	}
	answer := m.ussd.wait()
	defer m.ussd.done()
	body, err := m.ussdRequest(ctx, eng, code)
	if err != nil {
		return USSD{}, err
	}
	if body == "" {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		select {
		case body = <-answer:
		case <-timer.C:
			m.ussdCancel(eng)
			return USSD{}, fmt.Errorf("%w after %s (code %s)", ErrUSSDTimeout, timeout, code)
		case <-ctx.Done():
			m.ussdCancel(eng)
			return USSD{}, ctx.Err()
		}
	}
	u, err := ParseCUSD(body)
	if err != nil {
		return USSD{}, err
	}
	switch u.Status {
	case USSDOpen:
		m.ussdCancel(eng)
	case USSDUnsupported:
		return u, fmt.Errorf("%w by the network (code %s)", ErrUSSDUnsupported, code)
	case USSDTimeout:
		return u, fmt.Errorf("%w: the network timed out (code %s)", ErrUSSDTimeout, code)
	case USSDOtherClient:
		return u, fmt.Errorf("modem: USSD answered by another client (code %s)", code)
	}
	return u, nil
}

// ussdRequest sends AT+CUSD=1 and returns the +CUSD body when the modem put the answer inside
// the command's reply ("" when it will come as an unsolicited line).
func (m *Modem) ussdRequest(ctx context.Context, eng *Engine, code string) (string, error) {
	r, err := eng.Command(ctx, `AT+CUSD=1,"`+code+`",15`, m.o.CommandTimeout)
	if err != nil && ctx.Err() == nil && !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrPort) {
		packed := strings.ToUpper(hex.EncodeToString(gsm7.Pack7BitUSSD([]byte(code), 0))) // '*', '#' and digits are the same septets as ASCII
		r, err = eng.Command(ctx, `AT+CUSD=1,"`+packed+`",15`, m.o.CommandTimeout)
		if err != nil && ctx.Err() == nil && !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrPort) {
			return "", fmt.Errorf("%w by the modem: %v", ErrUSSDUnsupported, err)
		}
	}
	if err != nil {
		return "", err
	}
	body, _ := r.Find("+CUSD")
	return body, nil
}

// ussdCancel ends a USSD session; a modem that has none open may answer ERROR, which is fine.
func (m *Modem) ussdCancel(eng *Engine) {
	ctx, cancel := context.WithTimeout(m.ctx, m.o.CommandTimeout)
	defer cancel()
	eng.Command(ctx, "AT+CUSD=2", m.o.CommandTimeout) //nolint:errcheck // best effort
}
