package modem

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/gsm7"
	"github.com/warthog618/sms/encoding/tpdu"
)

func fixedRef(n uint8) RefSource { return func() (uint8, error) { return n, nil } }

// Hand-computed vectors (3GPP TS 23.038 §6.1.2.1 packing, TS 23.040 §9.2.2.2 SMS-SUBMIT).
func TestEncodeSubmitVectors(t *testing.T) {
	tests := []struct {
		name string
		dest string
		text string
		opt  SubmitOptions
		want string // SMSC "00" + TPDU
	}{
		// The classic "hellohello" example: TP-VPF relative (0x11), VP 0xAA = 4 days,
		// septets packed E8329BFD4697D9EC37.
		{"hellohello", "46708251358", "hellohello", SubmitOptions{Validity: 96 * time.Hour},
			"0011000B916407281553F80000AA0AE8329BFD4697D9EC37"},
		// No VP: first octet 0x01. "€" is ESC 0x65: two septets, 1B 65 packed to 9B 32.
		{"euro escape", "491701234567", "€", SubmitOptions{},
			"0001000C9194711032547600" + "00" + "02" + "9B32"},
		// Extension "[]" = septets 1B 3C 1B 3E, packed by hand: 1B|(3C<<7)=1B,
		// (3C>>1)|(1B<<6)=1E|C0=DE, (1B>>2)|(3E<<5)=06|C0=C6, 3E>>3=07.
		{"brackets", "491701234567", "[]", SubmitOptions{},
			"0001000C9194711032547600" + "00" + "04" + "1BDEC607"},
		// Flash (class 0) 7-bit: DCS 0x10.
		{"flash", "491701234567", "A", SubmitOptions{Flash: true},
			"0001000C9194711032547600" + "10" + "01" + "41"},
		// UCS-2 with an emoji: U+1F600 is the surrogate pair D83D DE00; DCS 0x08, UDL 4 octets.
		{"emoji", "491701234567", "😀", SubmitOptions{},
			"0001000C9194711032547600" + "08" + "04" + "D83DDE00"},
		// Flash UCS-2: DCS 0x18.
		{"flash ucs2", "491701234567", "Ж", SubmitOptions{Flash: true},
			"0001000C9194711032547600" + "18" + "02" + "0416"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := EncodeSubmit(tt.dest, tt.text, tt.opt, fixedRef(1))
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Parts) != 1 {
				t.Fatalf("parts = %d", len(s.Parts))
			}
			if got := s.Parts[0].Hex; got != tt.want {
				t.Errorf("EncodeSubmit(%q) = %s, want %s", tt.text, got, tt.want)
			}
			if s.Parts[0].TPDULen != len(tt.want)/2-1 {
				t.Errorf("TPDULen = %d, want %d", s.Parts[0].TPDULen, len(tt.want)/2-1)
			}
			// And independently back through the library's decoder.
			d, err := DecodeSubmit(s.Parts[0].Hex, s.Parts[0].TPDULen)
			if err != nil {
				t.Fatal(err)
			}
			if d.Text != tt.text || d.Dest != tt.dest || d.Class0 != tt.opt.Flash || d.Validity != tt.opt.Validity {
				t.Errorf("decoded %+v", d)
			}
		})
	}
}

// decodeAll decodes the parts with the library alone (no code of ours) and reassembles them.
func decodeAll(t *testing.T, s *Submit) string {
	t.Helper()
	var pdus []*tpdu.TPDU
	for _, p := range s.Parts {
		pdu, err := sms.Unmarshal(p.TPDU, sms.AsMO)
		if err != nil {
			t.Fatalf("library Unmarshal: %v", err)
		}
		pdus = append(pdus, pdu)
	}
	if !sms.IsCompleteMessage(pdus) {
		t.Fatalf("library says the parts are not a complete message")
	}
	msg, err := sms.Decode(pdus)
	if err != nil {
		t.Fatalf("library Decode: %v", err)
	}
	return string(msg)
}

func TestSegmentBoundaries(t *testing.T) {
	euro := "€"  // two septets
	emoji := "😀" // two UTF-16 units
	tests := []struct {
		name      string
		text      string
		alpha     Alphabet
		parts     int
		firstUnit int // units in part 1 (septets or UTF-16 units), 0: don't check
	}{
		{"gsm7 160", strings.Repeat("a", 160), GSM7, 1, 160},
		{"gsm7 161", strings.Repeat("a", 161), GSM7, 2, 153},
		{"gsm7 306", strings.Repeat("a", 306), GSM7, 2, 153},
		{"gsm7 307", strings.Repeat("a", 307), GSM7, 3, 153},
		{"gsm7 escapes 80", strings.Repeat(euro, 80), GSM7, 1, 160},
		{"gsm7 escapes 81", strings.Repeat(euro, 81), GSM7, 2, 152},
		{"gsm7 escape at 153", strings.Repeat("a", 152) + euro + strings.Repeat("b", 10), GSM7, 2, 152},
		{"gsm7 escape before 153", strings.Repeat("a", 151) + euro + strings.Repeat("b", 10), GSM7, 2, 153},
		{"gsm7 918 = 6 parts", strings.Repeat("a", 918), GSM7, 6, 153},
		{"gsm7 919 = 7 parts", strings.Repeat("a", 919), GSM7, 7, 153},
		{"ucs2 70", strings.Repeat("ж", 70), UCS2, 1, 70},
		{"ucs2 71", strings.Repeat("ж", 71), UCS2, 2, 67},
		{"ucs2 134", strings.Repeat("ж", 134), UCS2, 2, 67},
		{"ucs2 135", strings.Repeat("ж", 135), UCS2, 3, 67},
		{"ucs2 emoji 35", strings.Repeat(emoji, 35), UCS2, 1, 70},
		{"ucs2 emoji 36", strings.Repeat(emoji, 36), UCS2, 2, 66},
		{"ucs2 surrogate at 67", strings.Repeat("ж", 66) + emoji + strings.Repeat("ж", 10), UCS2, 2, 66},
		{"ucs2 surrogate before 67", strings.Repeat("ж", 65) + emoji + strings.Repeat("ж", 10), UCS2, 2, 67},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := EncodeSubmit("491701234567", tt.text, SubmitOptions{}, fixedRef(7))
			if err != nil {
				t.Fatal(err)
			}
			if s.Alphabet != tt.alpha || len(s.Parts) != tt.parts {
				t.Fatalf("EncodeSubmit = %s %d parts, want %s %d", s.Alphabet, len(s.Parts), tt.alpha, tt.parts)
			}
			if n, a, _ := Segments(tt.text); n != tt.parts || a != tt.alpha {
				t.Errorf("Segments = %d %s, want %d %s", n, a, tt.parts, tt.alpha)
			}
			d, err := DecodeSubmit(s.Parts[0].Hex, s.Parts[0].TPDULen)
			if err != nil {
				t.Fatalf("part 1 does not decode on its own (split escape or surrogate?): %v", err)
			}
			units := len(d.TPDU.UD)
			if tt.alpha == UCS2 {
				units /= 2
			}
			if tt.firstUnit != 0 && units != tt.firstUnit {
				t.Errorf("part 1 has %d units, want %d", units, tt.firstUnit)
			}
			if got := decodeAll(t, s); got != tt.text {
				t.Errorf("library decode of all parts differs from the text")
			}
			for i, p := range s.Parts {
				if len(p.TPDU) > 140+2+12+1+1+7 { // header octets + 140 octets of UD at most
					t.Errorf("part %d is %d octets", i+1, len(p.TPDU))
				}
				d, err := DecodeSubmit(p.Hex, p.TPDULen)
				if err != nil {
					t.Fatalf("part %d: %v", i+1, err)
				}
				if tt.parts > 1 && (d.Parts != tt.parts || d.Seq != i+1 || d.Ref != 7) {
					t.Errorf("part %d: concat %d/%d ref %d", i+1, d.Seq, d.Parts, d.Ref)
				}
			}
		})
	}
}

// TestConcatUDH checks the user data header octets by hand: UDHL 05, IEI 00 (8-bit
// reference), IEDL 03, reference, count, sequence (TS 23.040 §9.2.3.24.1).
func TestConcatUDH(t *testing.T) {
	s, err := EncodeSubmit("491701234567", strings.Repeat("a", 200), SubmitOptions{}, fixedRef(0xA5))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range s.Parts {
		b := p.TPDU
		if b[0]&0x40 == 0 {
			t.Errorf("part %d: TP-UDHI not set in first octet %02X", i+1, b[0])
		}
		// first octet, MR, DA (len 0C: 6 octets + TOA), PID, DCS, UDL → UDH at 2+1+1+6+2+1 = 13
		udh := hex.EncodeToString(b[13:19])
		want := fmt.Sprintf("050003a502%02x", i+1)
		if udh != want {
			t.Errorf("part %d UDH = %s, want %s", i+1, udh, want)
		}
	}
	// Part 1: UDL counts the header too: 7 septets of header + fill, + 153.
	if udl := s.Parts[0].TPDU[12]; udl != 160 {
		t.Errorf("part 1 UDL = %d septets, want 160", udl)
	}
	// The first text septet sits after one fill bit: 'a' (0x61) << 1 = 0xC2.
	if b := s.Parts[0].TPDU[19]; b != 0xC2 {
		t.Errorf("first octet after the UDH = %02X, want C2 (one fill bit)", b)
	}
}

func TestRefOnlyForConcatenated(t *testing.T) {
	calls := 0
	src := func() (uint8, error) { calls++; return 9, nil }
	if _, err := EncodeSubmit("491701234567", "short", SubmitOptions{}, src); err != nil {
		t.Fatal(err)
	}
	if calls != 0 {
		t.Errorf("a single-part message used a reference")
	}
	s, err := EncodeSubmit("491701234567", strings.Repeat("b", 170), SubmitOptions{}, src)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || s.Ref != 9 {
		t.Errorf("calls = %d ref = %d", calls, s.Ref)
	}
}

func TestEncodeRejects(t *testing.T) {
	for _, tc := range []struct{ dest, text string }{
		{"49170x", "a"}, {"", "a"}, {"491701234567", ""}, {"491701234567", "\xff\xfe"},
	} {
		if _, err := EncodeSubmit(tc.dest, tc.text, SubmitOptions{}, fixedRef(1)); err == nil {
			t.Errorf("EncodeSubmit(%q, %q) succeeded", tc.dest, tc.text)
		} else if KindOf(err) != Reject {
			t.Errorf("EncodeSubmit(%q, %q) = %v, kind %v, want reject", tc.dest, tc.text, err, KindOf(err))
		}
	}
}

func TestRefStorePersists(t *testing.T) {
	dir := t.TempDir()
	r, err := OpenRefStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := r.Next()
	b, _ := r.Next()
	r2, err := OpenRefStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := r2.Next()
	if a == b || b == c || c != b+1 {
		t.Errorf("refs %d %d %d, want consecutive across a reopen", a, b, c)
	}
	r2.last = 255
	if n, _ := r2.Next(); n != 1 {
		t.Errorf("after 255 came %d, want 1 (0 is skipped)", n)
	}
}

// sampleTexts are what the box sends: alarms, reports, in the languages of its users.
var sampleTexts = []struct{ name, text string }{
	{"short alarm", "ALARM: door 3 open at 02:14"},
	{"german report", strings.Repeat("Temperatur im Serverraum über Grenzwert (31,5 °C). ", 5)},
	{"json-ish with escapes", strings.Repeat(`{"sensor":"t1","value":[21.5,22.0]} | `, 8)},
	{"spanish", strings.Repeat("Corte de energía en la sede: batería al 40 %, ¿reinicio? ", 4)},
	{"emoji ucs2", strings.Repeat("Feuer 🔥 im Keller, bitte sofort prüfen! ", 4)},
	{"cyrillic", strings.Repeat("Внимание: датчик движения сработал. ", 5)},
	{"exact 160", strings.Repeat("x", 160)},
	{"escape heavy", strings.Repeat("€[]{}", 61)},
	{"emoji heavy", strings.Repeat("😀", 100)},
}

// TestSegmentsTable logs the parts used for sample texts against two bounds: the fewest
// parts any standard encoder can use (escapes and surrogate pairs unsplit, computed here
// independently), and the plain units/payload bound that ignores that rule.
func TestSegmentsTable(t *testing.T) {
	t.Logf("%-22s %-5s %6s %6s %8s %8s", "text", "alpha", "units", "parts", "minimum", "units/pp")
	for _, s := range sampleTexts {
		sub, err := EncodeSubmit("491701234567", s.text, SubmitOptions{}, fixedRef(1))
		if err != nil {
			t.Fatal(err)
		}
		min, alpha := minParts(s.text)
		t.Logf("%-22s %-5s %6d %6d %8d %8d", s.name, sub.Alphabet, sub.Units, len(sub.Parts), min, MinSegments(sub.Units, sub.Alphabet))
		if len(sub.Parts) != min || sub.Alphabet != alpha {
			t.Errorf("%s: %d parts %s, minimum %d %s", s.name, len(sub.Parts), sub.Alphabet, min, alpha)
		}
	}
}

// minParts is the fewest parts for text when no character is split: GSM 7-bit if every rune
// is in the default alphabet or its extension (cost 1 or 2 septets), else UCS-2 (1 or 2
// units); greedy packing is optimal for a sequence.
func minParts(text string) (int, Alphabet) {
	var costs []int
	alpha := GSM7
	for _, r := range text {
		enc, err := gsm7.Encode([]byte(string(r)))
		if err != nil {
			alpha = UCS2
			break
		}
		costs = append(costs, len(enc))
	}
	single, multi := 160, 153
	if alpha == UCS2 {
		single, multi = 70, 67
		costs = costs[:0]
		for _, r := range text {
			costs = append(costs, len(utf16.Encode([]rune{r})))
		}
	}
	total := 0
	for _, c := range costs {
		total += c
	}
	if total <= single {
		return 1, alpha
	}
	parts, used := 1, 0
	for _, c := range costs {
		if used+c > multi {
			parts++
			used = 0
		}
		used += c
	}
	return parts, alpha
}
