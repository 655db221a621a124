//go:build linux

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"multimsg/internal/phonesim"
)

// TestRunModemPhonesim: `multimsg modem` against oFono's phonesim (radio off at start, "not
// searching" until the report format is set) brings it up and says it is ready, showing why.
func TestRunModemPhonesim(t *testing.T) {
	ps := phonesim.Start(t)
	var out, errb bytes.Buffer
	code := RunModem(context.Background(), []string{"-device", ps.Path, "-timeout", "5s"}, &out, &errb)
	t.Logf("multimsg modem:\n%s", out.String())
	if code != 0 {
		t.Fatalf("RunModem = %d; stderr:\n%s", code, errb.String())
	}
	for _, want := range []string{"AT+CFUN? → +CFUN: 4 OK: radio off", "AT+CFUN=1 → OK", "AT+CREG? → +CREG: 2,1 OK: home",
		"operator:    T-MeeGo", "ready:       yes"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
