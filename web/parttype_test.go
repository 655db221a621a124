package web

import (
	"strings"
	"testing"
)

// A part's Content-Type is kept as type/subtype and charset only, at most 255 bytes (issue 11,
// item 6).
func TestPartType(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct{ in, want string }{
		{"", ""},
		{"text/plain", "text/plain"},
		{"Text/Plain; Charset=UTF-8", "text/plain; charset=utf-8"},
		{`text/plain; charset="iso-8859-1"; format=flowed; x-junk=` + long, "text/plain; charset=iso-8859-1"},
		{"image/png; name=" + long, "image/png"},
		{"application/" + long, ""},
		{"text/plain; charset=" + long, ""},
		{"not a type", ""},
		{"text", ""},
		{"text/plain; charset", ""},
	}
	for _, tc := range tests {
		if got := partType(tc.in); got != tc.want {
			t.Errorf("partType(%.60q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzPartType(f *testing.F) {
	for _, s := range []string{"", "text/plain", "Text/Plain; Charset=UTF-8", `text/html; charset="a b"`, "image/png; name=x.png", "a/b; c=d; e=f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := partType(in)
		if len(out) > maxPartType {
			t.Fatalf("partType(%q) = %d bytes", in, len(out))
		}
		if again := partType(out); again != out {
			t.Fatalf("partType(%q) = %q, but partType of that = %q", in, out, again)
		}
	})
}
