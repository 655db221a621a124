package client

import (
	"testing"
	"unicode/utf8"
)

// FuzzAnswer: whatever a server answers, reading it as a value or an error reason
// never panics, and the reason is valid UTF-8 of bounded length.
func FuzzAnswer(f *testing.F) {
	f.Add([]byte("queued\n"), "text/plain")
	f.Add([]byte(`{"id":"abc"}`), "application/json")
	f.Add([]byte(`{"error":"file \"a\": truncated"}`), "application/json; charset=utf-8")
	f.Add([]byte(`"delivered"`), "")
	f.Add([]byte("<html>"), "text/html")
	f.Add([]byte("\xff\xfe{"), "application/problem+json")
	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		value(body, ctype, "id", "state")
		msg := errorMessage(body, ctype)
		if !utf8.ValidString(msg) {
			t.Fatalf("errorMessage = %q, not UTF-8", msg)
		}
		if len(msg) > maxMessage+len("…") {
			t.Fatalf("errorMessage is %d bytes", len(msg))
		}
	})
}
