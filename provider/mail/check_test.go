package mail

import (
	"errors"
	"strings"
	"testing"

	"multimsg/provider"
)

func checkDriver(t testing.TB) *Driver {
	d, err := New(Options{Host: "127.0.0.1", From: "gw@example.com", MaxSize: 1000, MaxRecipients: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCheck(t *testing.T) {
	d := checkDriver(t)
	text := []provider.File{textFile("t", "hello")}
	cases := []struct {
		name  string
		dest  string
		info  map[string]any
		files []provider.File
		field string // "" = valid
		msg   string // a piece of the message
	}{
		{"one address", "a@x.test", nil, text, "", ""},
		{"list with display names", `"Doe, Ann" <ann@x.test>, Bob <bob@x.test>`, nil, text, "", ""},
		{"all keys", "a@x.test", map[string]any{"subject": "Ünïcödé ✓", "cc": "c@x.test", "reply_to": "r@x.test"}, text, "", ""},
		{"cc as array", "a@x.test", map[string]any{"cc": []string{"c@x.test", "d@x.test"}}, text, "", ""},
		{"html and file only", "a@x.test", nil, []provider.File{{Name: "h", Type: "html", Data: []byte("<p>")}, {Name: "f", Type: "file", Data: []byte{0xff, 0}}}, "", ""},
		{"empty dest", "  ", nil, text, "dest", "no address"},
		{"empty info values are absent", "a@x.test", map[string]any{"subject": "", "cc": "", "reply_to": " "}, text, "", ""},
		{"empty cc array", "a@x.test", map[string]any{"cc": []string{}}, text, "", ""},
		{"bad address named", "a@x.test, nope", nil, text, "dest", `"nope" is not an e-mail address`},
		{"empty list element is skipped (obs-addr-list)", "a@x.test,,b@x.test", nil, text, "", ""},
		{"only commas", ",,", nil, text, "dest", ""},
		{"non-ASCII address", "ünï@x.test", nil, text, "dest", "internationalized"},
		{"too many recipients", "a@x.test, b@x.test", map[string]any{"cc": "c@x.test, d@x.test"}, text, "dest", "4 recipients"},
		{"duplicates count once", "a@x.test, A@x.test", map[string]any{"cc": "a@x.test, b@x.test, c@x.test"}, text, "", ""},
		{"unknown info key", "a@x.test", map[string]any{"subject": "s", "caption": "c", "bcc": "x@y.z"}, text, "info", `unknown key(s) bcc, caption`},
		{"subject with newline", "a@x.test", map[string]any{"subject": "a\r\nBcc: victim@x.test"}, text, "info", "one line"},
		{"subject with control char", "a@x.test", map[string]any{"subject": "a\x00b"}, text, "info", "control character"},
		{"subject too long", "a@x.test", map[string]any{"subject": strings.Repeat("é", 999)}, text, "info", "999 characters"},
		{"subject longest", "a@x.test", map[string]any{"subject": strings.Repeat("é", 998)}, text, "", ""},
		{"subject not a string", "a@x.test", map[string]any{"subject": 42}, text, "info", `"subject"`},
		{"bad cc named", "a@x.test", map[string]any{"cc": "c@x.test, <broken"}, text, "info", `cc: "<broken"`},
		{"cc not a string", "a@x.test", map[string]any{"cc": 1}, text, "info", "string or an array"},
		{"two reply_to", "a@x.test", map[string]any{"reply_to": "a@x.test, b@x.test"}, text, "info", "one address"},
		{"no file", "a@x.test", nil, nil, "type", "at least one"},
		{"text not UTF-8", "a@x.test", nil, []provider.File{{Name: "latin1", Type: "text", Data: []byte("caf\xe9")}}, "type", `file "latin1" is of type text but is not UTF-8`},
		{"html not UTF-8", "a@x.test", nil, []provider.File{{Name: "page", Type: "html", Data: []byte("\xff")}}, "type", `"page"`},
		{"type mail does not take", "a@x.test", nil, []provider.File{{Name: "pic", Type: "image", Data: []byte("x")}}, "type", `type "image"`},
		{"too large", "a@x.test", nil, []provider.File{{Name: "f", Type: "file", Data: make([]byte, 1001)}}, "type", "at most 1000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := d.Check(provider.Request{Dest: c.dest, Files: c.files, Info: infoOf(t, c.info)})
			if c.field == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var ce *provider.CheckError
			if !errors.As(err, &ce) || ce.Field != c.field || !strings.Contains(ce.Msg, c.msg) {
				t.Fatalf("Check = %v, want a CheckError on %s containing %q", err, c.field, c.msg)
			}
		})
	}
}

// The registry's /msg validation reaches the driver's Check.
func TestServiceInRegistry(t *testing.T) {
	d := checkDriver(t)
	reg, err := provider.NewRegistry(Service([]provider.Sender{{Name: "default", Driver: d}}, nil, 0))
	if err != nil {
		t.Fatal(err)
	}
	files := []provider.File{{Name: "body", Filename: "body.txt", Data: []byte("hi")}, {Name: "doc", Filename: "r.pdf", Data: []byte("%PDF")}}
	typed, s, snd, err := reg.Resolve(provider.Params{Service: "mail", Dest: "a@x.test", Types: map[string]string{"body": "text", "r.pdf": "file"}}, files)
	if err != nil || s.PerFile || snd.Name != "default" || typed[1].Type != "file" {
		t.Fatalf("Resolve = %v, %+v, %v", typed, s, err)
	}
	_, _, _, err = reg.Resolve(provider.Params{Service: "mail", Dest: "a@x.test, x", Types: map[string]string{"body": "text", "doc": "file"}}, files)
	var ce *provider.CheckError
	if !errors.As(err, &ce) || ce.Field != "dest" {
		t.Fatalf("Resolve(bad dest) = %v, want a dest CheckError", err)
	}
}

func TestEmptySubjectTakesDefault(t *testing.T) {
	in := infoOf(t, map[string]any{"subject": "  ", "cc": ""})
	got, err := decodeInfo(in)
	if err != nil || got.Subject != nil || got.Cc != nil {
		t.Fatalf("decodeInfo(empty subject and cc) = %+v, %v; want both absent", got, err)
	}
}
