package modem

import (
	"slices"
	"testing"
	"time"
)

// urcItem is one thing a modem says: an unsolicited code (with its PDU line for two-line
// ones) or a line of the running command's answer.
type urcItem struct {
	lines []string
	urc   *URC // nil: a reply line
}

var urcItems = []urcItem{
	{lines: []string{`+CMTI: "SM",3`}, urc: &URC{Line: ParseLine(`+CMTI: "SM",3`)}},
	{lines: []string{`+CDSI: "SR",1`}, urc: &URC{Line: ParseLine(`+CDSI: "SR",1`)}},
	{lines: []string{`+CUSD: 0,"Saldo 5.00",15`}, urc: &URC{Line: ParseLine(`+CUSD: 0,"Saldo 5.00",15`)}},
	{lines: []string{"RING"}, urc: &URC{Line: ParseLine("RING")}},
	{lines: []string{"+CMT: ,24", "07919471173254F6040B919471103254F60000522030214094400441E19008"},
		urc: &URC{Line: ParseLine("+CMT: ,24"), PDU: "07919471173254F6040B919471103254F60000522030214094400441E19008"}},
	{lines: []string{"+CDS: 25", "0006D60B911326880736F4111011719551401110117195714000"},
		urc: &URC{Line: ParseLine("+CDS: 25"), PDU: "0006D60B911326880736F4111011719551401110117195714000"}},
	{lines: []string{"+CBM: 88", "001000DD001133DAED46ABD56AB5186CD668341A8D46A3D168341A8D46A3D1"},
		urc: &URC{Line: ParseLine("+CBM: 88"), PDU: "001000DD001133DAED46ABD56AB5186CD668341A8D46A3D168341A8D46A3D1"}},
	{lines: []string{"+CMGL: 1,0,,24"}},
	{lines: []string{"07919471173254F6040B919471103254F60000522030214094400441E19008"}},
	{lines: []string{"+CREG: 0,1"}}, // the reply: AT+CREG? runs
	{lines: []string{"+CSQ: 20,99"}},
	{lines: []string{"OK"}},
	{lines: []string{"+CMS ERROR: 322"}},
}

// FuzzURCStage interleaves unsolicited codes (two-line ones included) with the lines of a
// command's answer, in the order the fuzzer picks: every code comes out whole, with its PDU,
// in order, and every answer line goes on to the command loop, in order, none taken.
func FuzzURCStage(f *testing.F) {
	f.Add([]byte{0, 7, 8, 4, 9, 11})          // +CMTI, a CMGL entry, +CMT in the middle, OK
	f.Add([]byte{4, 5, 6, 4, 10, 12})         // two-line codes back to back, a reply, an error
	f.Add([]byte{7, 4, 8, 1, 2, 3, 9, 5, 11}) // +CMT between a CMGL header and its PDU
	f.Add([]byte{11, 9, 2, 12, 9})            // replies after the previous command's final result
	f.Fuzz(func(t *testing.T, picks []byte) {
		var s urcStage
		s.setRunning("+CREG")
		var want, got []URC
		var wantPass, gotPass []string
		emit := func(u URC) { got = append(got, u) }
		for _, b := range picks {
			it := urcItems[int(b)%len(urcItems)]
			if it.urc != nil {
				want = append(want, *it.urc)
			}
			for _, l := range it.lines {
				if it.urc == nil {
					wantPass = append(wantPass, l)
				}
				if s.take(l, emit) {
					gotPass = append(gotPass, l)
				}
				if ParseLine(l).Kind != Info {
					s.setRunning("+CREG") // the next command (the owner writes it) runs
				}
			}
		}
		// A two-line code cut off at the end of the stream is still pending: the next line
		// completes it; nothing was lost.
		if s.pending != nil {
			got = append(got, *s.pending)
		}
		if !slices.EqualFunc(got, want, func(a, b URC) bool { return a.Line.Text == b.Line.Text && a.PDU == b.PDU }) {
			t.Fatalf("URCs out = %+v\nwant %+v", got, want)
		}
		if !slices.Equal(gotPass, wantPass) {
			t.Fatalf("lines to the command = %q, want %q", gotPass, wantPass)
		}
	})
}

// TestURCStageHeaderWithoutPDU: a +CMT whose PDU line never came (a modem that cut it off)
// is handed on without one, and the line that came instead is sorted on its own.
func TestURCStageHeaderWithoutPDU(t *testing.T) {
	var s urcStage
	var got []URC
	emit := func(u URC) { got = append(got, u) }
	if s.take("+CMT: ,24", emit) {
		t.Fatal("+CMT went to the command loop")
	}
	if !s.take("OK", emit) {
		t.Fatal("OK after a cut-off +CMT was taken")
	}
	if len(got) != 1 || got[0].Line.Prefix != "+CMT" || got[0].PDU != "" {
		t.Fatalf("URCs = %+v", got)
	}
}

// TestEngineTwoLineURCsEverywhere: a +CMT/+CDS with its PDU reaches OnURC whole whether it
// comes while no command runs, before a command's reply, inside it, or after a command whose
// caller gave up (the four places a line used to be sorted in).
func TestEngineTwoLineURCsEverywhere(t *testing.T) {
	const pdu = "07919471173254F6040B919471103254F60000522030214094400441E19008"
	e, _, urcs := newPeer(t, func(cmd string) string {
		switch cmd {
		case "AT+A": // inside the reply
			return "\r\n+CSQ: 1,99\r\n\r\n+CMT: ,24\r\n" + pdu + "\r\n\r\nOK\r\n"
		case "AT+B": // a final result, then (idle) a +CDS
			return "\r\nOK\r\n\r\n+CDS: 25\r\n" + pdu + "\r\n"
		}
		return "\r\nOK\r\n"
	})
	for _, cmd := range []string{"AT+A", "AT+B"} {
		r, err := e.Command(ctxT(t), cmd, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range r.Lines {
			if l.Text == pdu {
				t.Errorf("%s: the PDU line of a URC went into the reply", cmd)
			}
		}
	}
	for _, prefix := range []string{"+CMT", "+CDS"} {
		select {
		case u := <-urcs:
			if u.Line.Prefix != prefix || u.PDU != pdu {
				t.Errorf("URC = %+v, want %s with its PDU", u, prefix)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s URC", prefix)
		}
	}
}

// TestURCStageFinalEndsTheReply: once the running command's final result has passed, a line
// with its reply prefix is unsolicited again ("+CUSD:" right after AT+CUSD's OK), even before
// the owner clears the running prefix.
func TestURCStageFinalEndsTheReply(t *testing.T) {
	var s urcStage
	var got []URC
	emit := func(u URC) { got = append(got, u) }
	s.setRunning("+CUSD")
	if !s.take(`+CUSD: 0,"early",15`, emit) || !s.take("OK", emit) {
		t.Fatal("reply or final result taken as unsolicited")
	}
	if s.take(`+CUSD: 0,"Saldo 5.00",15`, emit) || len(got) != 1 {
		t.Fatalf("+CUSD after OK went to the command loop; URCs %+v", got)
	}
}
