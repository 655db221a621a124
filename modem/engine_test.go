package modem

import (
	"bufio"
	"context"
	"errors"
	"multimsg/internal/poll"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// peer is a tiny scripted modem on the other end of a net.Pipe: for each command line it
// receives it writes the scripted answer. It exists to pin down the engine's line handling
// byte by byte; the behaviour of whole modems is tested against modemsim.
type peer struct {
	conn net.Conn
	mu   sync.Mutex
	got  []string
}

func newPeer(t *testing.T, script func(cmd string) string) (*Engine, *peer, chan URC) {
	t.Helper()
	a, b := net.Pipe()
	p := &peer{conn: b}
	urcs := make(chan URC, 16)
	e := NewEngine(a, nil, EngineOptions{OnURC: func(u URC) {
		select {
		case urcs <- u:
		default:
		}
	}})
	go func() {
		r := bufio.NewReader(b)
		var cur []byte
		for {
			c, err := r.ReadByte()
			if err != nil {
				return
			}
			if c != '\r' && c != 0x1a {
				cur = append(cur, c)
				continue
			}
			if c == 0x1a {
				cur = append(cur, c)
			}
			line := strings.TrimSpace(string(cur))
			cur = cur[:0]
			p.mu.Lock()
			p.got = append(p.got, line)
			p.mu.Unlock()
			if out := script(line); out != "" {
				if _, err := b.Write([]byte(out)); err != nil {
					return
				}
			}
		}
	}()
	t.Cleanup(func() { e.Close(); a.Close(); b.Close() })
	return e, p, urcs
}

func (p *peer) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.got...)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestEngineEchoAndURCs(t *testing.T) {
	e, _, urcs := newPeer(t, func(cmd string) string {
		switch cmd {
		case "AT+CSQ":
			// echo, a RING and a +CMTI in the middle of the reply
			return "AT+CSQ\r\r\nRING\r\n\r\n+CSQ: 17,99\r\n\r\n+CMTI: \"SM\",2\r\n\r\nOK\r\n"
		case "AT+CREG?":
			return "\r\n+CREG: 0,1\r\n\r\nOK\r\n"
		}
		return "\r\nERROR\r\n"
	})
	r, err := e.Command(ctxT(t), "AT+CSQ", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := r.Find("+CSQ"); !ok || b != "17,99" {
		t.Errorf("Find(+CSQ) = %q %v; lines %+v", b, ok, r.Lines)
	}
	if len(r.Lines) != 1 {
		t.Errorf("reply lines = %+v, want only +CSQ (echo and URCs peeled off)", r.Lines)
	}
	got := []string{(<-urcs).Line.Text, (<-urcs).Line.Text}
	if got[0] != "RING" || got[1] != `+CMTI: "SM",2` {
		t.Errorf("URCs = %q", got)
	}
	// +CREG: is the reply while AT+CREG? runs, not a URC.
	r, err = e.Command(ctxT(t), "AT+CREG?", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := r.Find("+CREG"); b != "0,1" {
		t.Errorf("+CREG reply = %q", b)
	}
	// Any other command failing with ERROR.
	_, err = e.Command(ctxT(t), "AT+FOO", time.Second)
	if !errors.Is(err, ErrError) {
		t.Errorf("AT+FOO = %v, want ErrError", err)
	}
}

func TestEngineCMSAndCME(t *testing.T) {
	e, _, _ := newPeer(t, func(cmd string) string {
		switch cmd {
		case "AT+A":
			return "\r\n+CMS ERROR: 330\r\n"
		case "AT+B":
			return "\r\n+CME ERROR: SIM PIN required\r\n"
		}
		return "\r\n+CME ERROR: 10\r\n"
	})
	_, err := e.Command(ctxT(t), "AT+A", time.Second)
	var cms *CMSError
	if !errors.As(err, &cms) || cms.Code != 330 || KindOf(err) != Operator || CodeOf(err) != "CMS 330" {
		t.Errorf("AT+A = %v", err)
	}
	_, err = e.Command(ctxT(t), "AT+B", time.Second)
	var cme *CMEError
	if !errors.As(err, &cme) || cme.Code != 11 || KindOf(err) != Operator {
		t.Errorf("verbose CME = %v (code %d)", err, cme.Code)
	}
}

func TestEngineSubmitPDU(t *testing.T) {
	var mu sync.Mutex
	var pdu string
	e, p, urcs := newPeer(t, func(cmd string) string {
		if strings.HasPrefix(cmd, "AT+CMGS=") {
			return "\r\n> "
		}
		mu.Lock()
		pdu = cmd
		mu.Unlock()
		// An unsolicited +CDS status report (two lines) arrives before the answer.
		return "\r\n+CDS: 25\r\n07911326040000F0\r\n\r\n+CMGS: 42\r\n\r\nOK\r\n"
	})
	mr, err := e.SubmitPDU(ctxT(t), 18, "0001000C9194711032547600000541", 2*time.Second)
	if got := p.lines(); len(got) != 2 || got[0] != "AT+CMGS=18" {
		t.Errorf("peer got %q", got)
	}
	if err != nil || mr != 42 {
		t.Fatalf("SubmitPDU = %d, %v", mr, err)
	}
	mu.Lock()
	if !strings.HasPrefix(pdu, "0001000C9194711032547600000541\x1a") {
		t.Errorf("PDU written = %q", pdu)
	}
	mu.Unlock()
	u := <-urcs
	if u.Line.Prefix != "+CDS" || u.PDU != "07911326040000F0" {
		t.Errorf("URC = %+v, want +CDS with its PDU line", u)
	}
}

func TestEngineTimeoutThenRecovers(t *testing.T) {
	var mu sync.Mutex
	silent := true
	e, _, _ := newPeer(t, func(cmd string) string {
		mu.Lock()
		defer mu.Unlock()
		if silent {
			return ""
		}
		return "\r\nOK\r\n"
	})
	_, err := e.Command(ctxT(t), "AT", 50*time.Millisecond)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("silent AT = %v, want ErrTimeout", err)
	}
	mu.Lock()
	silent = false
	mu.Unlock()
	if _, err := e.Command(ctxT(t), "AT", time.Second); err != nil {
		t.Fatalf("AT after silence = %v", err)
	}
}

func TestEngineCancelSettles(t *testing.T) {
	// The caller gives up; the late OK of that command must not answer the next one.
	release := make(chan struct{})
	e, p, _ := newPeer(t, func(cmd string) string {
		if cmd == "AT+SLOW" {
			<-release
			return "\r\nOK\r\n"
		}
		return "\r\n+CSQ: 5,99\r\n\r\nOK\r\n"
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := e.Command(ctx, "AT+SLOW", 2*time.Second)
		errc <- err
	}()
	waitFor(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.got) == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled command = %v", err)
	}
	close(release)
	r, err := e.Command(ctxT(t), "AT+CSQ", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Find("+CSQ"); !ok {
		t.Errorf("AT+CSQ got the late OK of AT+SLOW: %+v", r)
	}
}

func TestEnginePortLost(t *testing.T) {
	e, p, _ := newPeer(t, func(string) string { return "" })
	p.conn.Close()
	select {
	case <-e.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("engine did not stop when the port went away")
	}
	if !errors.Is(e.Err(), ErrPort) {
		t.Errorf("Err() = %v, want ErrPort", e.Err())
	}
	if _, err := e.Command(ctxT(t), "AT", time.Second); err == nil {
		t.Errorf("command on a dead engine succeeded")
	}
}

// waitFor polls cond (there is no signal to wait on in the pipe peer) with a deadline.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	poll.Until(t, 5*time.Second, "the condition", cond)
}

func TestCommandPrefix(t *testing.T) {
	for in, want := range map[string]string{"AT+CSQ": "+CSQ", "AT+CREG?": "+CREG", "AT+CMGS=23": "+CMGS", "ATE0": "", "AT": "", "at+cops?": "+COPS", "AT^SYSINFO": "^SYSINFO"} {
		if got := commandPrefix(in); got != want {
			t.Errorf("commandPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		in     string
		kind   LineKind
		prefix string
		body   string
		urc    bool
	}{
		{"OK", OK, "", "", false},
		{"ERROR", Fail, "ERROR", "", false},
		{"+CMS ERROR: 500", Fail, "+CMS ERROR", "500", false},
		{"+CME ERROR: 11", Fail, "+CME ERROR", "11", false},
		{"+CSQ: 20,99", Info, "+CSQ", "20,99", false},
		{`+CMTI: "SM",3`, Info, "+CMTI", `"SM",3`, true},
		{"RING", Info, "RING", "", true},
		{"+CREG: 1", Info, "+CREG", "1", true},
		{"RDY", Info, "", "", true},
		{"Quectel", Info, "", "", false},
		{"+", Info, "", "", false},
		{"+:", Info, "+", "", false},
	}
	for _, tt := range tests {
		l := ParseLine(tt.in)
		if l.Kind != tt.kind || l.Prefix != tt.prefix || l.Body != tt.body || IsUnsolicited(l) != tt.urc {
			t.Errorf("ParseLine(%q) = %+v urc=%v, want kind %v prefix %q body %q urc %v", tt.in, l, IsUnsolicited(l), tt.kind, tt.prefix, tt.body, tt.urc)
		}
	}
}

func TestFields(t *testing.T) {
	got := Fields(`0,0,"Voda, fone",7`)
	if len(got) != 4 || got[2] != "Voda, fone" || got[3] != "7" {
		t.Errorf("Fields = %q", got)
	}
	if IntField(got, 3, -1) != 7 || IntField(got, 9, -1) != -1 || IntField(got, 2, -1) != -1 {
		t.Errorf("IntField wrong")
	}
}

func TestCSQToDBM(t *testing.T) {
	for rssi, want := range map[int]int{0: -113, 1: -111, 2: -109, 20: -73, 30: -53, 31: -51} {
		if got, ok := CSQToDBM(rssi); !ok || got != want {
			t.Errorf("CSQToDBM(%d) = %d %v, want %d", rssi, got, ok, want)
		}
	}
	if _, ok := CSQToDBM(99); ok {
		t.Errorf("CSQToDBM(99) is known")
	}
}

func TestKindTable(t *testing.T) {
	tests := []struct {
		err  error
		kind Kind
	}{
		{&CMSError{Code: 500}, Retry},
		{&CMSError{Code: 332}, Retry},
		{&CMSError{Code: 322}, Retry},
		{&CMSError{Code: 42}, Retry},
		{&CMSError{Code: 330}, Operator},
		{&CMSError{Code: 310}, Operator},
		{&CMSError{Code: 311}, Operator},
		{&CMSError{Code: 316}, Operator},
		{&CMSError{Code: 1}, Reject},
		{&CMSError{Code: 304}, Reject},
		{&CMSError{Code: 195}, Reject},
		{&CMSError{Code: 9999}, Retry},
		{&CMEError{Code: 10}, Operator},
		{&CMEError{Code: 16}, Operator},
		{&CMEError{Code: 30}, Retry},
		{&CommandError{Cmd: "AT+CMGS=20", Err: &CMSError{Code: 96}}, Reject},
		{ErrTimeout, Retry},
		{ErrError, Retry},
	}
	for _, tt := range tests {
		if got := KindOf(tt.err); got != tt.kind {
			t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.kind)
		}
	}
}
