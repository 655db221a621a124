//go:build linux

package main

import (
	"bytes"
	"context"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"multimsg/internal/phonesim"
)

// TestRunModemPhonesim: `multimsg modem` against oFono's phonesim (radio off at start, "not
// searching" until the report format is set) brings it up and says it is ready, showing why.
func TestRunModemPhonesim(t *testing.T) {
	ps := phonesim.Start(t)
	// The bring-up is bounded (5 ATs, each command's timeout, 30 s for the radio, 2 min for
	// operator selection); should it ever hang all the same, crash with every goroutine's stack
	// rather than sit until the suite's timeout.
	watchdog := time.AfterFunc(4*time.Minute, func() {
		debug.SetTraceback("all")
		panic("TestRunModemPhonesim: multimsg modem still running after 4 minutes")
	})
	defer watchdog.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := RunModem(ctx, []string{"-device", ps.Path, "-timeout", "5s"}, &out, &errb)
	t.Logf("multimsg modem:\n%s", out.String())
	if code != 0 {
		t.Fatalf("RunModem = %d; stderr:\n%s", code, errb.String())
	}
	// a step that took 100 ms or more shows it ("→ OK (130ms)"): not part of what is checked
	shown := regexp.MustCompile(` \([0-9.]+µ?m?s\)`).ReplaceAllString(out.String(), "")
	for _, want := range []string{"AT+CFUN? → +CFUN: 4 OK: radio off", "AT+CFUN=1 → OK", "AT+CREG? → +CREG: 2,1 OK: home",
		"operator:    T-MeeGo", "ready:       yes"} {
		if !strings.Contains(shown, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
