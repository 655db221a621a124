package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"multimsg/modem/modemsim"
)

func TestRunModemProbe(t *testing.T) {
	sim := modemsim.New(modemsim.Profile{PIN: "1234", CMEEError: true}, nil)
	if err := sim.Start(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	var out, errb bytes.Buffer
	code := RunModem(context.Background(), []string{"-device", sim.Path(), "-pin", "1234", "-timeout", "1s"}, &out, &errb)
	if code != 0 {
		t.Fatalf("RunModem = %d, stdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"present:     yes", "sim:         READY", "registered:  yes (home)", "operator:    SimNet", "signal:      -73 dBm", "smsc:        +4917000000", "ready:       yes"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if got := sim.PINAttempts(); len(got) != 1 {
		t.Errorf("PIN attempts = %q", got)
	}
}

// TestRunModemPrintsBringUp: a field technician sees each step, here a modem that boots with
// the radio off and not looking for a network, and what the driver did about it.
func TestRunModemPrintsBringUp(t *testing.T) {
	sim := modemsim.New(modemsim.Profile{RadioOff: true, NotSearching: true, PIN: "1234"}, nil)
	if err := sim.Start(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	var out, errb bytes.Buffer
	code := RunModem(context.Background(), []string{"-device", sim.Path(), "-pin", "1234", "-timeout", "1s"}, &out, &errb)
	if code != 0 {
		t.Fatalf("RunModem = %d, stdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{
		"AT+CFUN? → +CFUN: 4 OK: radio off (flight mode, CFUN 4): powering it up",
		"AT+CFUN=1 → OK",
		`AT+CPIN="****" → OK`,
		"AT+COPS=0 → OK: not registered and not searching: automatic operator selection requested",
		"radio:       on",
		"ready:       yes",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String()+errb.String(), `"1234"`) {
		t.Errorf("the PIN is printed:\n%s%s", out.String(), errb.String())
	}
}

func TestRunModemJSONNotReady(t *testing.T) {
	sim := modemsim.New(modemsim.Profile{Unregistered: true}, nil)
	if err := sim.Start(""); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	var out, errb bytes.Buffer
	code := RunModem(context.Background(), []string{"-device", sim.Path(), "-json", "-timeout", "1s"}, &out, &errb)
	if code != 1 {
		t.Fatalf("RunModem = %d, want 1 (not registered); stderr %s", code, errb.String())
	}
	var facts map[string]any
	if err := json.Unmarshal(out.Bytes(), &facts); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if facts["registered"] != false || facts["present"] != true || facts["ready"] != false || facts["sim"] != "READY" {
		t.Errorf("facts = %v", facts)
	}
	if steps, _ := facts["steps"].([]any); len(steps) < 5 {
		t.Errorf("steps = %v, want the bring-up's commands", facts["steps"])
	}
}

func TestRunModemAbsentAndUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := RunModem(context.Background(), []string{"-device", "/nonexistent/tty"}, &out, &errb); code != 3 {
		t.Errorf("missing device: RunModem = %d, want 3", code)
	}
	if code := RunModem(context.Background(), nil, &out, &errb); code != 2 {
		t.Errorf("no -device: RunModem = %d, want 2", code)
	}
}
