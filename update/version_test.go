package update

import "testing"

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"2.0.0", "2.0.0", 0}, {"2.10.0", "2.9.1", 1}, {"1.9.0", "2.0.0", -1}, {"v2.0", "2.0", 0},
		{"2.0", "2.0.1", -1}, {"3.0.0-rc1", "3.0.0-rc2", -1}, {"2026.12.1", "2026.05.3", 1}, {"", "1", -1},
	} {
		if got := compareVersions(c.a, c.b); got != c.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// FuzzCompareVersions: versions come from bundle manifests (anyone can build a bundle; RAUC
// checks the signature after we read the version only when Info succeeded, but the order must
// be sane for any text): antisymmetric, reflexive, no panic.
func FuzzCompareVersions(f *testing.F) {
	for _, s := range [][2]string{{"2.0.0", "2.10.0"}, {"v1", "1.0"}, {"3.0.0-rc1", "3.0.0"}, {"", "."}, {"18446744073709551616", "1"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if compareVersions(a, a) != 0 {
			t.Fatalf("compareVersions(%q, itself) != 0", a)
		}
		if x, y := compareVersions(a, b), compareVersions(b, a); x != -y {
			t.Fatalf("compareVersions(%q, %q) = %d but (%q, %q) = %d", a, b, x, b, a, y)
		}
	})
}
