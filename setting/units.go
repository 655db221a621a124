package setting

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as a string in TOML ("24h", "2m", "500ms", "7d").
type Duration time.Duration

// ParseDuration parses a Go duration, with "d" allowed for days ("7d").
func ParseDuration(s string) (Duration, error) {
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return Duration(n * float64(24*time.Hour)), nil
	}
	x, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (want e.g. \"90s\", \"2m\", \"24h\", \"7d\")", s)
	}
	return Duration(x), nil
}

// UnmarshalText parses a duration as ParseDuration does.
func (d *Duration) UnmarshalText(b []byte) error {
	x, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = x
	return nil
}

// MarshalText writes the duration back in Go's notation, which UnmarshalText reads.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Size is a byte count written as an integer or with a unit ("256MiB", "32MB", "64KiB").
type Size int64

// UnmarshalTOML accepts an integer or a string with a unit.
func (s *Size) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return fmt.Errorf("bad size %d (negative)", x)
		}
		*s = Size(x)
		return nil
	case string:
		n, err := ParseSize(x)
		if err != nil {
			return err
		}
		*s = Size(n)
		return nil
	}
	return fmt.Errorf("bad size %v (want bytes or e.g. \"256MiB\")", v)
}

// ParseSize parses "256MiB", "32MB", "64KiB", "1024".
func ParseSize(x string) (int64, error) {
	units := []struct {
		suf string
		m   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3}, {"B", 1}}
	t := strings.TrimSpace(x)
	mul := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suf) {
			t, mul = strings.TrimSpace(strings.TrimSuffix(t, u.suf)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || (mul > 1 && n > (1<<62)/mul) {
		return 0, fmt.Errorf("bad size %q (want bytes or e.g. \"256MiB\")", x)
	}
	return n * mul, nil
}
