package modemsim_test

import (
	"bufio"
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"multimsg/modem"
	"multimsg/modem/modemsim"
)

// host talks to the simulator like a terminal program would: raw lines over the pty.
type host struct {
	t  *testing.T
	rw io.ReadWriteCloser
	r  *bufio.Reader
}

func dial(t *testing.T, s *modemsim.Sim) *host {
	t.Helper()
	rw, err := s.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rw.Close() })
	return &host{t: t, rw: rw, r: bufio.NewReader(rw)}
}

// cmd sends line and returns everything up to and including the final result, lines trimmed.
func (h *host) cmd(line string) []string {
	h.t.Helper()
	if _, err := io.WriteString(h.rw, line+"\r"); err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for {
		l, err := h.r.ReadString('\n')
		if err != nil {
			h.t.Fatalf("after %q: %v (got %q)", line, err, out)
		}
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		out = append(out, l)
		if p := modem.ParseLine(l); p.Kind != modem.Info {
			return out
		}
	}
}

func TestSimEchoAndPINLock(t *testing.T) {
	s := modemsim.New(modemsim.Profile{PIN: "1111"}, nil)
	if err := s.Start(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := dial(t, s)
	if got := h.cmd("AT"); len(got) != 2 || got[0] != "AT" || got[1] != "OK" {
		t.Fatalf("AT with echo on = %q", got)
	}
	h.cmd("ATE0")
	if got := h.cmd("AT+CPIN?"); got[0] != "+CPIN: SIM PIN" {
		t.Fatalf("CPIN? = %q", got)
	}
	// Before AT+CMEE=1 errors are a bare ERROR.
	if got := h.cmd(`AT+CPIN="0000"`); got[len(got)-1] != "ERROR" {
		t.Fatalf("wrong PIN = %q", got)
	}
	h.cmd("AT+CMEE=1")
	if got := h.cmd(`AT+CPIN="0000"`); got[len(got)-1] != "+CME ERROR: 16" {
		t.Fatalf("wrong PIN = %q", got)
	}
	h.cmd(`AT+CPIN="0000"`)
	if got := h.cmd("AT+CPIN?"); got[0] != "+CPIN: SIM PUK" {
		t.Fatalf("after three wrong PINs = %q, want the PUK lock", got)
	}
	if got := s.PINAttempts(); len(got) != 3 {
		t.Errorf("PINAttempts = %q", got)
	}
}

func TestSimSubmitDecodes(t *testing.T) {
	s := modemsim.New(modemsim.Profile{}, nil)
	if err := s.Start(""); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := dial(t, s)
	h.cmd("ATE0")
	h.cmd("AT+CMGF=0")
	sub, err := modem.EncodeSubmit("491701234567", strings.Repeat("ü", 200)+"€", modem.SubmitOptions{}, func() (uint8, error) { return 77, nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sub.Parts {
		if _, err := io.WriteString(h.rw, "AT+CMGS="+strconv.Itoa(p.TPDULen)+"\r"); err != nil {
			t.Fatal(err)
		}
		prompt := make([]byte, 4)
		if _, err := io.ReadFull(h.r, prompt); err != nil || string(prompt) != "\r\n> " {
			t.Fatalf("prompt = %q, %v", prompt, err)
		}
		if _, err := io.WriteString(h.rw, p.Hex+"\x1a"); err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			l, _ := h.r.ReadString('\n')
			if l = strings.TrimSpace(l); l != "" {
				got = append(got, l)
			}
			if l == "OK" || strings.Contains(l, "ERROR") {
				break
			}
		}
		if !strings.HasPrefix(got[0], "+CMGS: ") {
			t.Fatalf("submit answered %q", got)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgs, err := s.WaitMessages(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.Text != strings.Repeat("ü", 200)+"€" || m.Parts != 2 || m.Ref != 77 || len(m.MRs) != 2 || m.Septets != 202 {
		t.Errorf("message = %+v", m)
	}
}

func TestSimNotRegisteredRefuses(t *testing.T) {
	s := modemsim.New(modemsim.Profile{Unregistered: true, NoCEREG: true}, nil)
	if err := s.Start(""); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := dial(t, s)
	h.cmd("ATE0")
	h.cmd("AT+CMEE=1")
	if got := h.cmd("AT+CREG?"); got[0] != "+CREG: 0,2" {
		t.Errorf("CREG? = %q", got)
	}
	if got := h.cmd("AT+CEREG?"); got[0] != "+CME ERROR: 4" {
		t.Errorf("CEREG? on a 2G modem = %q", got)
	}
	if got := h.cmd("AT+COPS?"); got[0] != "+COPS: 0" {
		t.Errorf("COPS? = %q", got)
	}
}
