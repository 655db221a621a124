package modem

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"multimsg/internal/poll"
)

// scriptedModem answers the bring-up and refresh commands of a SIM-ready modem on the far end of
// a net.Pipe. Registration follows registered; when urcOnCSQ is set, the next AT+CSQ is preceded
// by an unsolicited "+CREG: 1" (the modem registers while a refresh is in flight).
type scriptedModem struct {
	registered  atomic.Bool
	urcOnCSQ    atomic.Bool
	rebootOnCSQ atomic.Bool
}

func (s *scriptedModem) answer(cmd string) string {
	const ok = "\r\nOK\r\n"
	reg := "2"
	if s.registered.Load() {
		reg = "1"
	}
	switch cmd {
	case "AT+CPIN?":
		return "\r\n+CPIN: READY\r\n" + ok
	case "AT+CFUN?":
		return "\r\n+CFUN: 1\r\n" + ok
	case "AT+CREG?":
		return "\r\n+CREG: 2," + reg + "\r\n" + ok
	case "AT+CEREG?":
		return "\r\n+CEREG: 2," + reg + "\r\n" + ok
	case "AT+CSQ":
		pre := ""
		if s.urcOnCSQ.CompareAndSwap(true, false) {
			s.registered.Store(true)
			pre = "\r\n+CREG: 1\r\n"
		}
		if s.rebootOnCSQ.CompareAndSwap(true, false) {
			pre = "\r\nRDY\r\n"
		}
		return pre + "\r\n+CSQ: 20,99\r\n" + ok
	case "AT+COPS?":
		return "\r\n+COPS: 0,0,\"TestNet\"\r\n" + ok
	case "AT+CSCA?":
		return "\r\n+CSCA: \"+4917000000\",145\r\n" + ok
	}
	return ok
}

func (s *scriptedModem) serve(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\r')
		if err != nil {
			return
		}
		if _, err := io.WriteString(c, s.answer(strings.TrimSpace(line))); err != nil {
			return
		}
	}
}

func startScripted(t *testing.T, sm *scriptedModem) *Modem {
	t.Helper()
	m, err := New(Options{
		Open: func(context.Context) (io.ReadWriteCloser, error) {
			a, b := net.Pipe()
			go sm.serve(b)
			return a, nil
		},
		HealthEvery: time.Hour, CommandTimeout: 5 * time.Second, SendUnregisteredAfter: -1,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	poll.Until(t, 10*time.Second, "the bring-up", func() bool {
		h := m.Health()
		return h.Present && !h.Checked.IsZero()
	})
	return m
}

// refresh runs one health refresh as a send or the supervisor's tick does.
func (m *Modem) refreshForTest(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m.opMu.Lock()
	defer m.opMu.Unlock()
	eng := m.engine()
	if eng == nil {
		t.Fatal("no engine")
	}
	_ = m.refreshLocked(ctx, eng)
}

// TestRefreshKeepsURCRegistration: a modem that registers (unsolicited +CREG: 1) while a refresh
// is in flight, after the refresh read "searching", stays registered: the refresh does not
// write back its older reading over the newer line.
func TestRefreshKeepsURCRegistration(t *testing.T) {
	sm := &scriptedModem{}
	m := startScripted(t, sm)
	if h := m.Health(); h.Registered || h.RegStatus != "searching" {
		t.Fatalf("after bring-up Health = %v, want searching", h)
	}
	sm.urcOnCSQ.Store(true)
	m.refreshForTest(t)
	if sm.urcOnCSQ.Load() {
		t.Fatal("the refresh never asked AT+CSQ")
	}
	h := m.Health()
	if !h.Registered || h.RegStatus != "home" {
		t.Errorf("after a +CREG: 1 during the refresh Health = %v, want registered (home)", h)
	}
	if h.Operator != "TestNet" || !h.HasSignal || h.SignalDBM != -73 {
		t.Errorf("Health = %v, want the refresh's other readings (TestNet, -73 dBm)", h)
	}
	if h.Ready() != nil {
		t.Errorf("Ready() = %v, want ready", h.Ready())
	}
}

// TestRefreshKeepsURCRestart: a modem that announces a restart of its own during a refresh is
// not shown as ready from answers it gave before the restart.
func TestRefreshKeepsURCRestart(t *testing.T) {
	sm := &scriptedModem{}
	sm.registered.Store(true)
	m := startScripted(t, sm)
	if h := m.Health(); h.Ready() != nil {
		t.Fatalf("after bring-up Health = %v, want ready", h)
	}
	sm.rebootOnCSQ.Store(true)
	m.refreshForTest(t)
	h := m.Health()
	if h.Ready() == nil || !strings.Contains(h.LastError, "restarted by itself") {
		t.Errorf("after RDY during the refresh Health = %v, want not ready, restarted", h)
	}
}

// TestHealthJSONNames: the status JSON's facts of an SMS sender keep the names clients read
// (docs/ADMIN.md); signal_dbm is null when unknown; what is written reads back the same.
func TestHealthJSONNames(t *testing.T) {
	for _, h := range []Health{
		{},
		{Present: true, SIM: "READY", Radio: "on", Registered: true, RegStatus: "home", Operator: "TestNet",
			SignalDBM: -73, HasSignal: true, SMSC: "+4917000000", Model: "SIM7600G", LastError: "x",
			Checked: time.Date(2026, 12, 4, 7, 0, 0, 0, time.UTC)},
	} {
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var keys map[string]any
		if err := json.Unmarshal(b, &keys); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"present", "sim", "registered", "operator", "signal_dbm", "smsc", "last_error"} {
			if _, ok := keys[k]; !ok {
				t.Errorf("Marshal(%v) = %s: no %q", h, b, k)
			}
		}
		if h.HasSignal && keys["signal_dbm"] != float64(h.SignalDBM) || !h.HasSignal && keys["signal_dbm"] != nil {
			t.Errorf("Marshal(%v) signal_dbm = %v", h, keys["signal_dbm"])
		}
		if h.Model != "" && (keys["model"] != h.Model || keys["radio"] != h.Radio || keys["registration"] != h.RegStatus) {
			t.Errorf("Marshal(%v) = %s: model, radio or registration missing", h, b)
		}
		var back Health
		if err := json.Unmarshal(b, &back); err != nil || back != h {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", b, back, err, h)
		}
	}
}

// FuzzHealthJSON: any JSON reads without panic into a Health, and what that Health writes
// reads back to the same Health.
func FuzzHealthJSON(f *testing.F) {
	f.Add(`{"present":true,"sim":"READY","registered":true,"operator":"A","signal_dbm":-73,"smsc":"","last_error":""}`)
	f.Add(`{"signal_dbm":null,"checked":"2026-12-04T07:00:00Z"}`)
	f.Add(`{"signal_dbm":"x"}`)
	f.Fuzz(func(t *testing.T, in string) {
		var h Health
		if json.Unmarshal([]byte(in), &h) != nil {
			return
		}
		b, err := json.Marshal(h)
		if err != nil {
			return // a time outside what JSON can hold
		}
		var back Health
		if err := json.Unmarshal(b, &back); err != nil || !back.Checked.Equal(h.Checked) {
			t.Fatalf("round trip of %s: %v, %v", b, back, err)
		}
		back.Checked, h.Checked = time.Time{}, time.Time{}
		if back != h {
			t.Fatalf("round trip of %s = %v, want %v", b, back, h)
		}
	})
}
