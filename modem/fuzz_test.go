package modem

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseLine: any line classifies without panic; finals carry an error; the prefix is a
// prefix of the line; Fields never returns more than 32 fields.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"OK", "ERROR", "+CMS ERROR: 500", "+CME ERROR: SIM PIN required", "+CSQ: 20,99",
		`+CMTI: "SM",3`, "RING", `+COPS: 0,0,"Voda, fone",7`, "+CREG: 1", "> ", "+:", `+CSCA: "+4917",145`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l := ParseLine(s)
		if l.Kind == Fail && l.Err == nil {
			t.Fatalf("ParseLine(%q): Fail without error", s)
		}
		if l.Kind != Fail && l.Err != nil {
			t.Fatalf("ParseLine(%q): error on a non-final line", s)
		}
		if !strings.HasPrefix(l.Text, l.Prefix) {
			t.Fatalf("ParseLine(%q): prefix %q is not a prefix", s, l.Prefix)
		}
		if l.Err != nil {
			_ = KindOf(l.Err)
			_ = CodeOf(l.Err)
			_ = l.Err.Error()
		}
		_ = IsUnsolicited(l)
		if fs := Fields(l.Body); len(fs) > 32 {
			t.Fatalf("Fields(%q) = %d fields", l.Body, len(fs))
		}
		_ = commandPrefix(s)
	})
}

// FuzzEngineStream feeds arbitrary modem output to the engine while a command runs: no
// panic, no hang beyond the command timeout, and the command ends one way or another.
func FuzzEngineStream(f *testing.F) {
	f.Add([]byte("\r\nOK\r\n"))
	f.Add([]byte("AT\r\r\nRING\r\n\r\n+CDS: 25\r\n0791\r\n\r\n+CMS ERROR: 42\r\n"))
	f.Add([]byte("\r\n> \r\n+CMGS: 1\r\nOK\r\n"))
	f.Add([]byte(">>>\r\r\r\n\n\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		rw := &scripted{out: bytes.NewReader(out)}
		e := NewEngine(rw, nil, EngineOptions{OnURC: func(URC) {}})
		defer e.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, _ = e.SubmitPDU(ctx, 7, "00010000000000", 20*time.Millisecond)
	})
}

// scripted answers reads from out, then reports the port closed.
type scripted struct{ out io.Reader }

func (s *scripted) Read(b []byte) (int, error)  { return s.out.Read(b) }
func (s *scripted) Write(b []byte) (int, error) { return len(b), nil }

// FuzzDecodeSubmit: the PDU decoder (ours around the library's) never panics, and a PDU it
// accepts re-encodes to a text that decodes the same.
func FuzzDecodeSubmit(f *testing.F) {
	for _, text := range []string{"hello", strings.Repeat("€", 90), "😀 emoji", strings.Repeat("x", 200)} {
		s, err := EncodeSubmit("491701234567", text, SubmitOptions{Flash: true, Validity: time.Hour}, fixedRef(3))
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range s.Parts {
			f.Add(p.Hex)
		}
	}
	f.Add("0011000B916407281553F80000AA0AE8329BFD4697D9EC37")
	f.Add("07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07")
	f.Fuzz(func(t *testing.T, h string) {
		d, err := DecodeSubmit(h, 0)
		if err != nil {
			return
		}
		if !utf8.ValidString(d.Text) {
			return // the library maps undecodable septets/units to replacement-free bytes
		}
		if d.Text == "" || d.Dest == "" || !validNumber(d.Dest) {
			return
		}
		s, err := EncodeSubmit(d.Dest, d.Text, SubmitOptions{}, fixedRef(1))
		if err != nil {
			return
		}
		var got strings.Builder
		for _, p := range s.Parts {
			d2, err := DecodeSubmit(p.Hex, p.TPDULen)
			if err != nil {
				t.Fatalf("re-encoded %q does not decode: %v", d.Text, err)
			}
			got.WriteString(d2.Text)
		}
		if got.String() != d.Text {
			t.Fatalf("round trip %q → %q", d.Text, got.String())
		}
	})
}

// deliverSeeds: the published example (dreamfabric.com), one hand-made part with a broken
// concatenation element; testdata/fuzz/FuzzDecodeDeliver holds parts encoded by
// github.com/warthog618/sms through modemsim (GSM 7-bit with escapes and an 8-bit reference,
// UCS-2 with a 16-bit reference, an alphanumeric originator, 8-bit data).
var deliverSeeds = []string{
	"07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37",
	"07919471173254F60007D0C2B07B0D00006221409003004009C337B90C8AC96634",
	"00440B919471103254F600005220302140944009050003FF0300E8329BFD06",
}

// FuzzDecodeDeliver: any input decodes or fails with ErrPDU, never panics; what decodes is
// text (valid UTF-8) or data, with a concatenation element that makes sense.
func FuzzDecodeDeliver(f *testing.F) {
	for _, s := range deliverSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		d, err := DecodeDeliver(h)
		if err != nil {
			if !errors.Is(err, ErrPDU) {
				t.Fatalf("DecodeDeliver(%q) = %v, not ErrPDU", h, err)
			}
			return
		}
		if !utf8.ValidString(d.Text) || !utf8.ValidString(d.From) {
			t.Fatalf("DecodeDeliver(%q): text %q from %q not UTF-8", h, d.Text, d.From)
		}
		if d.Alphabet == Bit8 && d.Text != "" || d.Alphabet != Bit8 && d.Data != nil {
			t.Fatalf("DecodeDeliver(%q): %s with text %q data %x", h, d.Alphabet, d.Text, d.Data)
		}
		if c := d.Concat; c != nil && (c.Seq < 1 || c.Seq > c.Parts || (c.RefBits != 8 && c.RefBits != 16)) {
			t.Fatalf("DecodeDeliver(%q): concat %+v", h, c)
		}
		if d.Sent.IsZero() || len(d.TPDU) == 0 {
			t.Fatalf("DecodeDeliver(%q): no time stamp or TPDU", h)
		}
	})
}

// FuzzDecodeStatusReport: never panics; what decodes has a reference and status in range.
func FuzzDecodeStatusReport(f *testing.F) {
	f.Add("0006D60B911326880736F4111011719551401110117195714000")
	f.Add("0006D60B911326880736F41110117195514011101171957140000100")
	f.Fuzz(func(t *testing.T, h string) {
		r, err := DecodeStatusReport(h)
		if err != nil {
			if !errors.Is(err, ErrPDU) {
				t.Fatalf("DecodeStatusReport(%q) = %v, not ErrPDU", h, err)
			}
			return
		}
		if r.Ref < 0 || r.Ref > 255 || r.Status < 0 || r.Status > 255 || StatusText(r.Status) == "" || !utf8.ValidString(r.Recipient) {
			t.Fatalf("DecodeStatusReport(%q) = %+v", h, r)
		}
	})
}
