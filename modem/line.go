package modem

import (
	"strconv"
	"strings"
)

// LineKind is what one line from the modem is, before knowing which command it answers.
type LineKind int

const (
	// Info: an information line (a reply like "+CSQ: 20,99", an echo, or a bare value).
	Info LineKind = iota
	// OK: the final result of a successful command.
	OK
	// Fail: a final result that failed: ERROR, +CME ERROR, +CMS ERROR, NO CARRIER, ...
	Fail
)

// maxLine bounds one line from the modem; longer runs are cut (a PDU line is at most ~360).
const maxLine = 2048

// Line is one parsed line from the modem.
type Line struct {
	Kind   LineKind
	Text   string // the whole line, without CR/LF
	Prefix string // "+CMTI" for "+CMTI: "SM",3"; "RING" for RING; "" for a bare value
	Body   string // what follows "<prefix>:", trimmed
	Err    error  // for Fail: *CMEError, *CMSError or ErrError
}

// ParseLine classifies one line (without its line ending). It never fails: anything it does
// not know is Info.
func ParseLine(s string) Line {
	if len(s) > maxLine {
		s = s[:maxLine]
	}
	l := Line{Kind: Info, Text: s}
	switch s {
	case "OK":
		l.Kind = OK
		return l
	case "ERROR", "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE", "COMMAND NOT SUPPORT", "TOO MANY PARAMETERS":
		l.Kind = Fail
		l.Err = ErrError
		l.Prefix = s
		return l
	case "RING":
		l.Prefix = s
		return l
	}
	if strings.HasPrefix(s, "+") {
		if i := strings.IndexByte(s, ':'); i > 0 {
			l.Prefix = s[:i]
			l.Body = strings.TrimSpace(s[i+1:])
		}
	}
	switch l.Prefix {
	case "+CME ERROR":
		l.Kind = Fail
		l.Err = cmeError(l.Body)
	case "+CMS ERROR":
		l.Kind = Fail
		l.Err = cmsError(l.Body)
	}
	return l
}

func cmeError(body string) *CMEError {
	if n, err := strconv.Atoi(body); err == nil && n >= 0 && n < 1<<16 {
		return &CMEError{Code: n, Text: codeText(cmeCodes, n)}
	}
	return &CMEError{Code: codeByText(cmeCodes, body), Text: body}
}

func cmsError(body string) *CMSError {
	if n, err := strconv.Atoi(body); err == nil && n >= 0 && n < 1<<16 {
		return &CMSError{Code: n, Text: codeText(cmsCodes, n)}
	}
	return &CMSError{Code: codeByText(cmsCodes, body), Text: body}
}

// urcPrefixes are the unsolicited result codes we know. A "+CREG:" line is the reply while
// AT+CREG? runs, and unsolicited otherwise; the engine decides with the running command.
var urcPrefixes = map[string]bool{
	"RING": true, "+CRING": true, "+CLIP": true, "+CMTI": true, "+CMT": true, "+CDS": true,
	"+CDSI": true, "+CBM": true, "+CREG": true, "+CGREG": true, "+CEREG": true, "+CUSD": true,
	"+CPIN": true, "+CFUN": true, "^BOOT": true, "^RSSI": true, "^MODE": true, "+QIND": true,
	"+CIEV": true, "+PBREADY": true, "^SMMEMFULL": true,
}

// pduURCs are followed by a second line carrying a PDU.
var pduURCs = map[string]bool{"+CMT": true, "+CDS": true, "+CBM": true}

// IsUnsolicited reports whether l is an unsolicited result code when no command with the same
// prefix is running.
func IsUnsolicited(l Line) bool {
	if l.Kind != Info {
		return false
	}
	if urcPrefixes[l.Prefix] {
		return true
	}
	switch l.Text {
	case "RDY", "SMS DONE", "Call Ready", "PB DONE", "^SYSSTART", "NORMAL POWER DOWN":
		return true
	}
	return false
}

// Fields splits a reply body into its comma-separated fields, removing the quotes around
// quoted ones (a comma inside quotes does not split). At most 32 fields are returned.
func Fields(body string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
			if len(out) == 32 {
				return out
			}
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

// IntField is field i of fields as an integer, or def.
func IntField(fields []string, i, def int) int {
	if i >= len(fields) {
		return def
	}
	n, err := strconv.Atoi(fields[i])
	if err != nil {
		return def
	}
	return n
}
