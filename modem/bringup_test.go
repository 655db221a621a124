package modem

import (
	"strings"
	"testing"
)

// regCases are the +CREG/+CGREG/+CEREG bodies modems send, read answers and unsolicited lines,
// with the <stat> each carries (-1: none can be read).
var regCases = []struct {
	body string
	stat int
}{
	{"0,1", 1},                          // read, n 0
	{"1,5", 5},                          // read, n 1, roaming
	{"2,1", 1},                          // read, n 2, no location (phonesim)
	{`2,1,"00C3","0000A13B"`, 1},        // read, n 2
	{`2,1,"00C3","0000A13B",7`, 1},      // read, n 2, with AcT
	{`2,5,"00C3","0000A13B",7,"01"`, 5}, // +CGREG read with rac
	{"1", 1},                            // unsolicited, n 1 (or a read leaving out n)
	{"2", 2},                            // searching
	{`1,"00C3","0000A13B"`, 1},          // unsolicited, n 2
	{`5,"00C3","0000A13B",7`, 5},        // unsolicited, n 2, with AcT
	{`0,"",""`, 0},                      // unsolicited with empty location
	{"2,1,00C3,0000A13B,7", 1},          // read, location unquoted
	{"1,00C3,0000A13B", 1},              // unsolicited, location unquoted
	{"1,0,1", 0},                        // phonesim's read before AT+CREG=2: n 1, stat 0
	{`4,1,"1A2B","01A2B3C4",7,,,"00000101"`, 1}, // +CEREG read, n 4
	{"2,6", 6}, // home, SMS only
	{"", -1},
	{"x", -1},
	{`"00C3"`, -1},
	{"12", -1},
}

func TestParseReg(t *testing.T) {
	for _, tc := range regCases {
		stat, ok := ParseReg(tc.body)
		if !ok {
			stat = -1
		}
		if stat != tc.stat {
			t.Errorf("ParseReg(%q) = %d, %t; want %d", tc.body, stat, ok, tc.stat)
		}
	}
}

func TestRegStatusForSMS(t *testing.T) {
	for stat, want := range map[int]bool{0: false, 1: true, 2: false, 3: false, 4: false, 5: true, 6: true, 7: true, 8: false, 9: true, 10: true, 11: false} {
		if _, reg := regStatus(stat); reg != want {
			t.Errorf("regStatus(%d) registered = %t, want %t", stat, reg, want)
		}
	}
}

// FuzzParseReg: any body parses without panic, and a stat it returns is one TS 27.007 defines.
func FuzzParseReg(f *testing.F) {
	for _, tc := range regCases {
		f.Add(tc.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		stat, ok := ParseReg(body)
		if ok && (stat < 0 || stat > 11) {
			t.Fatalf("ParseReg(%q) = %d", body, stat)
		}
		if !ok && stat != 0 {
			t.Fatalf("ParseReg(%q) = %d with ok false", body, stat)
		}
	})
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		`AT+CPIN="1234"` + "\r":                  `AT+CPIN="****"` + "\r",
		`at+cpin=1234`:                           `at+cpin="****"`,
		`AT+CPIN="12345678","0000"` + "\r\nAT\r": `AT+CPIN="****"` + "\r\nAT\r",
		"ATE0\r\nAT+CPIN?\r":                     "ATE0\r\nAT+CPIN?\r",
		"+CPIN: SIM PIN":                         "+CPIN: SIM PIN",
		`x AT+CPIN="1" y AT+CPIN="2"`:            `x AT+CPIN="****"`,
		"AT+CPIN=":                               "AT+CPIN=",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzRedact: whatever surrounds it, a PIN after "+CPIN=" never survives Redact.
func FuzzRedact(f *testing.F) {
	f.Add("ATE0\r", "1234", "\rAT\r")
	f.Add("", "87654321", "")
	f.Fuzz(func(t *testing.T, before, pin, after string) {
		if len(pin) < 4 || strings.ContainsAny(pin, "\r\n\x1a") {
			return
		}
		out := Redact(before + "AT+CPIN=\"" + pin + "\"" + after)
		if strings.Contains(out, "AT+CPIN=\""+pin) {
			t.Fatalf("Redact left the PIN in %q", out)
		}
	})
}
