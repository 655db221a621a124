package modem_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"multimsg/modem"
	"multimsg/modem/modemsim"
)

// Published vectors. The SMS-DELIVER is the classic example of "PDU mode for GSM" (Lars
// Pettersson, dreamfabric.com): SMSC +27381000015, originator 27838890001 (national
// numbering), 1999-03-29 15:16:59 +02:00, "hellohello". The status report is the worked
// example of developershome.com's AT command tutorial: MR 0xD6 to +31628870634, delivered.
func TestDecodeDeliverPublishedVector(t *testing.T) {
	d, err := modem.DecodeDeliver("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37")
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(1999, 3, 29, 15, 16, 59, 0, time.FixedZone("", 2*3600))
	if d.SMSC != "+27381000015" || d.From != "27838890001" || d.Text != "hellohello" || !d.Sent.Equal(want) || d.Alphabet != modem.GSM7 || d.Concat != nil {
		t.Errorf("DecodeDeliver = %+v", d)
	}
	if _, off := d.Sent.Zone(); off != 2*3600 {
		t.Errorf("zone offset = %d, want +2h", off)
	}
}

func TestDecodeStatusReportPublishedVector(t *testing.T) {
	r, err := modem.DecodeStatusReport("0006D60B911326880736F4111011719551401110117195714000")
	if err != nil {
		t.Fatal(err)
	}
	if r.Ref != 0xD6 || r.Recipient != "+31628870634" || r.Status != 0 || r.SMSC != "" {
		t.Errorf("DecodeStatusReport = %+v", r)
	}
	if want := time.Date(2011, 1, 11, 17, 59, 15, 0, time.FixedZone("", 3600)); !r.SCTime.Equal(want) {
		t.Errorf("SCTS = %v, want %v", r.SCTime, want)
	}
	if want := time.Date(2011, 1, 11, 17, 59, 17, 0, time.FixedZone("", 3600)); !r.Discharged.Equal(want) {
		t.Errorf("DT = %v, want %v", r.Discharged, want)
	}
	if k, _ := modem.MTKindOf("0006D60B911326880736F4111011719551401110117195714000"); k != modem.KindStatusReport {
		t.Errorf("MTKindOf = %v", k)
	}
}

// TestDecodeDeliverFromIndependentEncoder decodes what github.com/warthog618/sms encodes
// (through modemsim.DeliverPDUs): every alphabet, the extension table, both reference sizes,
// alphanumeric and international originators, a zone west of Greenwich.
func TestDecodeDeliverFromIndependentEncoder(t *testing.T) {
	west := time.Date(2026, 7, 1, 23, 59, 58, 0, time.FixedZone("", -(4*3600+30*60)))
	long := strings.Repeat("Alarm {Zone 3} ~ 20€ [ok] | ^\\ ", 8) // escapes across part boundaries
	cases := []struct {
		name  string
		in    modemsim.Incoming
		alpha modem.Alphabet
		bits  int
	}{
		{"gsm7 single", modemsim.Incoming{From: "+491701234567", Text: "Hallo @ £$¥ èéùìò ÄÖÑÜ§ äöñüà ¿¡ ΔΦΓΛΩΠΨΣΘΞ"}, modem.GSM7, 0},
		{"gsm7 extension, 8-bit ref", modemsim.Incoming{From: "+491701234567", Text: long, Ref: 200}, modem.GSM7, 8},
		{"ucs2 emoji, 16-bit ref", modemsim.Incoming{From: "+34600111222", Text: strings.Repeat("Feuer 🔥 im Serverraum — ", 5), Ref: 0xBEEF, Ref16: true}, modem.UCS2, 16},
		{"ucs2 single, west zone", modemsim.Incoming{From: "+4930123456", Text: "Привет", SCTS: west}, modem.UCS2, 0},
		{"alphanumeric originator", modemsim.Incoming{From: "Bank", Text: "Code 1234"}, modem.GSM7, 0},
		{"8-bit data", modemsim.Incoming{From: "+491701234567", Data: []byte{0, 1, 2, 0xfe, 0xff}}, modem.Bit8, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pdus, err := modemsim.DeliverPDUs(c.in)
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			var data []byte
			for i, p := range pdus {
				d, err := modem.DecodeDeliver(p)
				if err != nil {
					t.Fatalf("part %d %s: %v", i+1, p, err)
				}
				if d.From != c.in.From || d.Alphabet != c.alpha || d.SMSC != "+49177123456" {
					t.Errorf("part %d: from %q alphabet %s smsc %q", i+1, d.From, d.Alphabet, d.SMSC)
				}
				wantTime := c.in.SCTS
				if wantTime.IsZero() {
					wantTime = modemsim.DefaultSCTS
				}
				_, wantOff := wantTime.Zone()
				if _, off := d.Sent.Zone(); !d.Sent.Equal(wantTime) || off != wantOff {
					t.Errorf("part %d: sent %v, want %v", i+1, d.Sent, wantTime)
				}
				switch {
				case len(pdus) == 1 && d.Concat != nil:
					t.Errorf("single part with concat %+v", d.Concat)
				case len(pdus) > 1 && (d.Concat == nil || d.Concat.Parts != len(pdus) || d.Concat.Seq != i+1 || d.Concat.RefBits != c.bits || d.Concat.Ref != c.in.Ref):
					t.Errorf("part %d: concat %+v, want ref %d (%d-bit) of %d", i+1, d.Concat, c.in.Ref, c.bits, len(pdus))
				}
				text.WriteString(d.Text)
				data = append(data, d.Data...)
			}
			if c.in.Data != nil {
				if !bytes.Equal(data, c.in.Data) {
					t.Errorf("data = % x, want % x", data, c.in.Data)
				}
				return
			}
			if text.String() != c.in.Text {
				t.Errorf("text = %q\nwant %q", text.String(), c.in.Text)
			}
		})
	}
}

func TestDecodeStatusReportFromIndependentEncoder(t *testing.T) {
	for _, st := range []int{0x00, 0x30, 0x41, 0x46} {
		p, err := modemsim.StatusReportPDU(17, "+491701234567", st, modemsim.DefaultSCTS)
		if err != nil {
			t.Fatal(err)
		}
		r, err := modem.DecodeStatusReport(p)
		if err != nil {
			t.Fatalf("TP-ST %#x: %v", st, err)
		}
		if r.Ref != 17 || r.Recipient != "+491701234567" || r.Status != st || !r.SCTime.Equal(modemsim.DefaultSCTS) {
			t.Errorf("DecodeStatusReport = %+v", r)
		}
		if modem.StatusText(st) == "" {
			t.Errorf("StatusText(%#x) empty", st)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, h := range []string{
		"", "zz", "00", "0C", // no TPDU, SMSC longer than the PDU
		"0004",                     // DELIVER cut after the first octet
		"00040B91",                 // cut in the originator
		"00040B919471103254F60000", // cut before the time stamp
		"00040B919471103254F60000AA20301240944004",                // cut in the SCTS
		"00040B919471103254F60000522030214094400AFF",              // UDL 255 > 160
		"00440B919471103254F600005220302140944005050003FF0201",    // UDH longer than the UDL allows
		"00040B919471103254F6000052203021409440" + "05E8329BFD06", // "hello": fine
		"00040B919471103254F6000052203021409440" + "2041E19008",   // UDL 32 septets, 4 octets there
		"00040B919471103254F60000" + "99999999999999" + "0141",    // not a date (month 99)
		strings.Repeat("00", 300),
	} {
		_, err := modem.DecodeDeliver(h)
		if h == "00040B919471103254F6000052203021409440"+"05E8329BFD06" {
			if err != nil {
				t.Errorf("DecodeDeliver(%s) = %v, want ok", h, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, modem.ErrPDU) {
			t.Errorf("DecodeDeliver(%s) = %v, want ErrPDU", h, err)
		}
	}
	if _, err := modem.DecodeStatusReport("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37"); !errors.Is(err, modem.ErrPDU) {
		t.Errorf("a DELIVER decoded as a status report: %v", err)
	}
}
