//go:build linux

package sms_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"multimsg/client"
	"multimsg/gateway/gatewaytest"
	"multimsg/internal/phonesim"
)

// TestPhonesimEndToEnd sends through oFono's phonesim, a modem implementation nobody here wrote,
// on a pty bridged by socat: the whole gateway (as `multimsg serve` wires it) brings it up from
// radio off, and three texts — GSM 7-bit in two parts, UCS-2 with an emoji in two parts, and a
// short one — are each delivered. Every PDU on the wire is decoded by the test's own decoder
// (pdudecode_test.go) and checked: reassembled text, DCS, UDH reference and part numbers.
func TestPhonesimEndToEnd(t *testing.T) {
	ps := phonesim.Start(t)
	start := time.Now()
	g := gatewaytest.Start(t, fmt.Sprintf(`
[delivery]
retry_min = "200ms"
retry_max = "1s"
[[sms.sender]]
name = "phonesim"
device = %q
timeout = "5s"
`, ps.Path))

	gsm := "Alarm Lager 2: Tür offen seit 03:12 {Zone B}. Bitte sofort prüfen und den Zugang sichern; " +
		"Kamera 4 zeigt Bewegung im Gang. Wachdienst ist informiert, Rückruf an die Leitstelle erbeten. Ende."
	ucs := "Feueralarm 🔥 im Serverraum: Temperatur 61 °C, Löschanlage bereit. Bitte sofort Zutritt sperren."
	short := "Test OK"
	texts := []string{gsm, ucs, short}
	ids := make([]string, len(texts))
	var first time.Duration
	for i, text := range texts {
		id, err := g.Client.Send(context.Background(),
			[]client.File{{Field: "t", Filename: "t.txt", ContentType: "text/plain", Data: []byte(text)}},
			client.Params{Service: "sms", Dest: "4917012345" + fmt.Sprint(i)}, false)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
		sent := time.Now()
		if st := g.WaitState(t, id, 90*time.Second); st != client.Delivered {
			t.Fatalf("text %d: state = %s, want delivered\n%s\nwire (to modem):\n%q\nwire (from modem):\n%q",
				i, st, g.Explain(id), ps.Sent(), ps.Answered())
		}
		if i == 0 {
			first = time.Since(start)
		} else {
			t.Logf("text %d delivered %v after it was queued", i, time.Since(sent).Round(time.Millisecond))
		}
	}
	t.Logf("first SMS accepted by phonesim %v after the gateway started", first.Round(time.Millisecond))

	// The bring-up on the wire: the radio powered, the report format set, the operator format set.
	cmds := ps.Commands()
	t.Logf("commands sent: %q", cmds)
	for _, want := range []string{"AT+CFUN?", "AT+CFUN=1", "AT+CREG=2", "AT+COPS=3,0", "AT+CMGF=0"} {
		if !contains(cmds, want) {
			t.Errorf("the driver never sent %s", want)
		}
	}

	// Every PDU, decoded independently.
	type msg struct {
		parts map[int]submitPDU
		n     int
	}
	byDest := map[string]*msg{}
	for _, c := range cmds {
		if !strings.HasSuffix(c, "\x1a") {
			continue
		}
		p, err := decodeSubmitHex(c)
		if err != nil {
			t.Fatalf("PDU %q: %v", c, err)
		}
		m := byDest[p.Dest]
		if m == nil {
			m = &msg{parts: map[int]submitPDU{}}
			byDest[p.Dest] = m
		}
		m.parts[p.Seq] = p
		m.n = p.Parts
	}
	for i, text := range texts {
		dest := "4917012345" + fmt.Sprint(i)
		m := byDest[dest]
		if m == nil {
			t.Errorf("no PDU to %s", dest)
			continue
		}
		wantParts, wantDCS, wantAlpha := 2, byte(0x00), "gsm7"
		if i == 1 {
			wantDCS, wantAlpha = 0x08, "ucs2"
		}
		if i == 2 {
			wantParts = 0
		}
		if m.n != wantParts || len(m.parts) != max(wantParts, 1) {
			t.Errorf("text %d: %d PDUs announcing %d parts, want %d", i, len(m.parts), m.n, wantParts)
			continue
		}
		var got strings.Builder
		ref := -1
		for seq := range max(wantParts, 1) {
			if wantParts > 0 {
				seq++
			}
			p, ok := m.parts[seq]
			if !ok {
				t.Errorf("text %d: part %d missing", i, seq)
				continue
			}
			if p.DCS != wantDCS || p.Alphabet != wantAlpha {
				t.Errorf("text %d part %d: DCS %#02x (%s), want %#02x (%s)", i, seq, p.DCS, p.Alphabet, wantDCS, wantAlpha)
			}
			if ref >= 0 && p.Ref != ref {
				t.Errorf("text %d: part %d has reference %d, part 1 had %d", i, seq, p.Ref, ref)
			}
			ref = p.Ref
			got.WriteString(p.Text)
		}
		if got.String() != text {
			t.Errorf("text %d reassembled = %q, want %q", i, got.String(), text)
		}
	}
	if a, b := byDest["49170123450"], byDest["49170123451"]; a != nil && b != nil && a.parts[1].Ref == b.parts[1].Ref {
		t.Errorf("two concatenated messages share reference %d", a.parts[1].Ref)
	}
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if strings.EqualFold(l, s) {
			return true
		}
	}
	return false
}
