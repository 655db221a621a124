package whatsapp

import (
	"regexp"
	"strings"
	"testing"
)

// The loops that check template names and language codes replaced these regexps (compiled at
// init, they cost 2–2.5 ms and 365 KB at every start); they must say the same.
var (
	templateNameRe = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	languageRe     = regexp.MustCompile(`^[a-z]{2,3}(_[A-Za-z]{2,4})?$`)
)

func TestNameCheckersMatchRegexps(t *testing.T) {
	for _, s := range []string{"", "a", "door_alert", "Door", "a-b", "x y", strings.Repeat("a", 512), strings.Repeat("a", 513),
		"en", "en_US", "zh_Hant", "es_419", "e", "engl", "en_", "en_U", "en_USAB", "en_USABC", "EN", "en_us_x", "é", "en\n"} {
		if got, want := templateName(s), templateNameRe.MatchString(s); got != want {
			t.Errorf("templateName(%q) = %v, want %v", s, got, want)
		}
		if got, want := languageCode(s), languageRe.MatchString(s); got != want {
			t.Errorf("languageCode(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzNameCheckers(f *testing.F) {
	for _, s := range []string{"door_alert", "en_US", "zh_Hant", "en_", "a-b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := templateName(s), templateNameRe.MatchString(s); got != want {
			t.Errorf("templateName(%q) = %v, want %v", s, got, want)
		}
		if got, want := languageCode(s), languageRe.MatchString(s); got != want {
			t.Errorf("languageCode(%q) = %v, want %v", s, got, want)
		}
	})
}
