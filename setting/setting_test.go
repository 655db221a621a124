package setting

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

type sender struct {
	Name  string   `toml:"name" setting:"label=Name,required"`
	Port  int      `toml:"port" setting:"label=Port,default=25,min=1,max=65535"`
	TLS   string   `toml:"tls" setting:"default=none,choices=none|starttls|tls"`
	Pass  string   `toml:"password" setting:"secret"`
	Every Duration `toml:"every" setting:"default=1m,positive,help=How often, roughly, it runs."`
	Quota Size     `toml:"quota" setting:"default=1MiB,min=1KiB,max=1GiB"`
	Rate  float64  `toml:"rate" setting:"min=0,max=80"`
}

type common struct {
	Fallback []string `toml:"fallback" setting:"choices=a|b"`
}

type table struct {
	common
	On     bool     `toml:"on" setting:"default=true"`
	Sender []sender `toml:"sender"`
	Nested nested   `toml:"nested"`
	//lint:ignore U1000 an unexported field is there for the describer to skip
	skipped int
	Ignored int `toml:"-"`
}

type nested struct {
	Max int `toml:"max" setting:"default=3,max=10"`
}

func (t *table) Validate() error {
	if len(t.Sender) > 2 {
		return Errorf("sender", "at most 2, got %d", len(t.Sender))
	}
	return nil
}

func TestFields(t *testing.T) {
	fs := Fields(&table{})
	var keys []string
	for _, f := range fs {
		keys = append(keys, f.Key+":"+string(f.Kind))
	}
	if got, want := strings.Join(keys, " "), "fallback:list on:bool sender:tables nested:table"; got != want {
		t.Fatalf("Fields(table) = %s, want %s", got, want)
	}
	s := fs[2]
	if !s.Repeated || len(s.Fields) != 7 {
		t.Fatalf("sender = %+v, want repeated with 7 fields", s)
	}
	port, pass, every := s.Fields[1], s.Fields[3], s.Fields[4]
	if port.Label != "Port" || port.Default != "25" || port.Min != "1" || port.Max != "65535" || port.Kind != Int {
		t.Errorf("port = %+v", port)
	}
	if !pass.Secret || pass.Label != "password" {
		t.Errorf("password = %+v, want secret labelled by its key", pass)
	}
	if every.Help != "How often, roughly, it runs." || every.Kind != Dur || !every.Positive {
		t.Errorf("every = %+v: help takes the rest of the tag, commas and all", every)
	}
	if c := s.Fields[2].Choices; len(c) != 3 || c[1] != "starttls" {
		t.Errorf("tls choices = %q", c)
	}
}

func TestDefaults(t *testing.T) {
	var v table
	ApplyDefaults(&v)
	if !v.On || v.Nested.Max != 3 {
		t.Fatalf("ApplyDefaults = %+v", v)
	}
	v.On = false // a zero the file wrote stays
	v.Sender = []sender{{Name: "a"}, {Name: "b", Port: 587, Every: Duration(time.Second)}}
	ApplyElementDefaults(&v)
	if v.On {
		t.Error("ApplyElementDefaults changed a field of the table itself")
	}
	a, b := v.Sender[0], v.Sender[1]
	if a.Port != 25 || a.TLS != "none" || a.Every.D() != time.Minute || a.Quota != 1<<20 {
		t.Errorf("element defaults = %+v", a)
	}
	if b.Port != 587 || b.Every.D() != time.Second {
		t.Errorf("element's own values = %+v, want kept", b)
	}
}

func TestCheck(t *testing.T) {
	ok := func() table {
		var v table
		ApplyDefaults(&v)
		v.Sender = []sender{{Name: "a"}}
		ApplyElementDefaults(&v)
		return v
	}
	for _, tc := range []struct {
		name string
		edit func(*table)
		key  string // "" = no error
		msg  string
	}{
		{"valid", func(*table) {}, "", ""},
		{"port high", func(v *table) { v.Sender[0].Port = 70000 }, "sender[0].port", "70000, want 1..65535"},
		{"choice", func(v *table) { v.Sender[0].TLS = "ssl" }, "sender[0].tls", `"ssl", want none, starttls, tls`},
		{"required", func(v *table) { v.Sender[0].Name = "" }, "sender[0].name", "must be set"},
		{"positive", func(v *table) { v.Sender[0].Every = 0 }, "sender[0].every", "positive duration"},
		{"size low", func(v *table) { v.Sender[0].Quota = 10 }, "sender[0].quota", "10 bytes, want 1KiB..1GiB"},
		{"float", func(v *table) { v.Sender[0].Rate = 81 }, "sender[0].rate", "81, want 0..80"},
		{"max only", func(v *table) { v.Nested.Max = 11 }, "nested.max", "11, want at most 10"},
		{"list element", func(v *table) { v.Fallback = []string{"a", "c"} }, "fallback[1]", `"c"`},
		{"second element", func(v *table) {
			v.Sender = append(v.Sender, sender{Name: "b", Port: 0, TLS: "none", Every: 1, Quota: 1 << 10})
		}, "sender[1].port", "0, want 1..65535"},
		{"validate", func(v *table) { v.Sender = append(v.Sender, v.Sender[0], v.Sender[0]) }, "sender", "at most 2"},
	} {
		v := ok()
		tc.edit(&v)
		err := Check(&v)
		if tc.key == "" {
			if err != nil {
				t.Errorf("%s: Check = %v, want nil", tc.name, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Key != tc.key || !strings.Contains(e.Msg, tc.msg) {
			t.Errorf("%s: Check = %v, want key %s and %q", tc.name, err, tc.key, tc.msg)
		}
	}
}

func TestPrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		err    error
		want   string
	}{
		{"mail", Errorf("sender[0].port", "x"), "mail.sender[0].port: x"},
		{"mail.sender", Errorf("[1].name", "x"), "mail.sender[1].name: x"},
		{"mail", errors.New("plain"), "mail: plain"},
		{"", Errorf("k", "x"), "k: x"},
	} {
		if got := Prefix(tc.prefix, tc.err).Error(); got != tc.want {
			t.Errorf("Prefix(%q, %v) = %q, want %q", tc.prefix, tc.err, got, tc.want)
		}
	}
	if Prefix("x", nil) != nil {
		t.Error("Prefix(x, nil) != nil")
	}
}

func TestBadTags(t *testing.T) {
	for _, v := range []any{
		&struct {
			X int `toml:"x" setting:"bogus"`
		}{},
		&struct {
			X int `toml:"x" setting:"min=lots"`
		}{},
		&struct {
			X Duration `toml:"x" setting:"default=soon"`
		}{},
		&struct {
			X bool `toml:"x" setting:"min=1"`
		}{},
		&struct {
			X chan int `toml:"x"`
		}{},
	} {
		if _, err := Describe(structType(typeOf(v))); err == nil {
			t.Errorf("Describe(%T) = nil error, want the bad tag named", v)
		}
	}
}

func TestUnits(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{{"1024", 1024}, {"64KiB", 64 << 10}, {"256MiB", 256 << 20}, {"1GiB", 1 << 30}, {"32MB", 32e6}, {"5 kB", 5000}} {
		if got, err := ParseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v, want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "lots", "-1", "1.5MiB", "99999999999GiB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = nil error", bad)
		}
	}
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{{"90s", 90 * time.Second}, {"7d", 7 * 24 * time.Hour}, {"1.5d", 36 * time.Hour}, {"-1h", -time.Hour}} {
		if got, err := ParseDuration(tc.in); err != nil || got.D() != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v, want %v", tc.in, got.D(), err, tc.want)
		}
	}
	var s Size
	if err := s.UnmarshalTOML(int64(-1)); err == nil {
		t.Error("Size.UnmarshalTOML(-1) = nil error")
	}
}

// FuzzParse: sizes and durations never panic, and what MarshalText writes reads back.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1024", "64KiB", "256MiB", "7d", "90s", "1.5d", "-1h", "lots", "9999999999999GiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseSize(s)
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		b, _ := d.MarshalText()
		back, err := ParseDuration(string(b))
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v, written %q, read back %v, %v", s, d.D(), b, back.D(), err)
		}
	})
}

func typeOf(v any) reflect.Type { return reflect.TypeOf(v) }
