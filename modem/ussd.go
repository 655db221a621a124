package modem

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
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
