package setting

import (
	"reflect"
	"slices"
	"testing"
)

type keysInner struct {
	Name string   `toml:"name" setting:"required"`
	Port int      `toml:"port" setting:"default=25,min=1,max=65535"`
	Pass string   `toml:"pass" setting:"secret"`
	Tags []string `toml:"tags"`
}

type keysOuter struct {
	TTL   Duration    `toml:"ttl" setting:"default=24h"`
	Quota Size        `toml:"quota"`
	On    bool        `toml:"on"`
	Rate  float64     `toml:"rate"`
	Sub   keysInner   `toml:"sub"`
	List  []keysInner `toml:"sender"`
}

func TestGetSetRemove(t *testing.T) {
	var v keysOuter
	ApplyDefaults(&v)
	for _, c := range []struct{ key, in, want string }{
		{"ttl", "90m", "1h30m"},
		{"ttl", "7d", "168h"},
		{"quota", "1KiB", "1024"},
		{"on", "on", "true"},
		{"rate", "2.5", "2.5"},
		{"sub.port", "587", "587"},
		{"sub.tags", "a, b\nc", "a\nb\nc"},
		{"sender[0].name", "first", "first"}, // one past the end: appended, with defaults
		{"sender[1].name", "second", "second"},
	} {
		if err := Set(&v, c.key, c.in); err != nil {
			t.Fatalf("Set(%s, %q) = %v", c.key, c.in, err)
		}
		if got, err := Get(&v, c.key); err != nil || got != c.want {
			t.Errorf("Get(%s) after Set(%q) = %q, %v; want %q", c.key, c.in, got, err, c.want)
		}
	}
	if v.List[1].Port != 25 {
		t.Errorf("an appended element's port = %d, want its default 25", v.List[1].Port)
	}
	for _, c := range []struct{ key, in string }{{"sender[5].name", "x"}, {"nope", "1"}, {"ttl", "soon"}, {"quota", "-1"}} {
		err := Set(&v, c.key, c.in)
		if e, ok := err.(*Error); !ok || e.Key != c.key {
			t.Errorf("Set(%s, %q) = %v; want an *Error naming %s", c.key, c.in, err, c.key)
		}
	}
	if err := Remove(&v, "sender[0]"); err != nil || len(v.List) != 1 || v.List[0].Name != "second" {
		t.Errorf("Remove(sender[0]) = %v, list %+v", err, v.List)
	}
	v.List[0].Pass = "x"
	if got, want := SecretKeys(&v), []string{"sub.pass", "sender[0].pass"}; !slices.Equal(got, want) {
		t.Errorf("SecretKeys = %v, want %v", got, want)
	}
}

func TestChanged(t *testing.T) {
	var a, b keysOuter
	ApplyDefaults(&a)
	ApplyDefaults(&b)
	a.List = []keysInner{{Name: "x", Port: 25}}
	b.List = []keysInner{{Name: "x", Port: 26, Pass: "s"}, {Name: "y"}}
	b.Sub.Tags = []string{"t"}
	got := Changed(&a, &b)
	want := []string{"sub.tags", "sender[0].port", "sender[0].pass", "sender[1]"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Changed = %v, want %v", got, want)
	}
	if c := Changed(&a, &a); len(c) != 0 {
		t.Errorf("Changed(a, a) = %v, want none", c)
	}
}

// FuzzSet: whatever a form posts, Set does not panic, and a value it took reads back (Get)
// as text that sets the same value again.
func FuzzSet(f *testing.F) {
	for _, s := range [][2]string{{"ttl", "7d"}, {"quota", "256MiB"}, {"on", "on"}, {"rate", "1e3"},
		{"sub.port", "65535"}, {"sub.tags", "a,b"}, {"sender[0].name", "n"}, {"sender[1].port", "1"}, {"sender[-1].name", ""}, {"sub", "x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, key, text string) {
		var v keysOuter
		ApplyDefaults(&v)
		if Set(&v, key, text) != nil {
			return
		}
		got, err := Get(&v, key)
		if err != nil {
			return // a table element set by its key ("sender[0]") has no one value
		}
		w := v
		w.List = slices.Clone(v.List)
		if err := Set(&w, key, got); err != nil {
			t.Fatalf("Set(%s, Get = %q) = %v", key, got, err)
		}
		if !reflect.DeepEqual(v, w) {
			t.Fatalf("Set(%s, %q) then Get = %q does not set the same value", key, text, got)
		}
	})
}
