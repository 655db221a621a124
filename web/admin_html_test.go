package web

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"multimsg/dispatch"
	"multimsg/modem"
	"multimsg/provider"
	"multimsg/sim"
	"multimsg/store"
)

// TestRawTakesLiterals keeps the page writer's promise: markup (raw), formats (printf) and
// attribute names (attr, url) are string literals in the source, so data only ever goes
// through an escaping method. Every call of a method with one of those names in the package
// is checked, whatever its receiver is called.
func TestRawTakesLiterals(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || name == "admin_html.go" { // the writer itself
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			switch sel.Sel.Name {
			case "raw", "printf", "attr", "url":
			default:
				return true
			}
			checked++
			if lit, ok := call.Args[0].(*ast.BasicLit); !ok || lit.Kind != token.STRING {
				t.Errorf("%s: .%s with a non-literal first argument: data must go through text, attr's value or printf's arguments", fset.Position(call.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
	if checked < 20 {
		t.Errorf("checked %d page-writer calls; the page code seems to have moved (update this test)", checked)
	}
}

func TestSafeURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/admin/static/x.css", "/admin/static/x.css"},
		{"x?y=javascript:1", "x?y=javascript:1"},
		{"https://example.com/a", "https://example.com/a"},
		{"HTTP://example.com", "HTTP://example.com"},
		{"mailto:ops@example.com", "mailto:ops@example.com"},
		{"javascript:alert(1)", blockedURL},
		{"JavaScript:alert(1)", blockedURL},
		{" java\tscript:alert(1)", blockedURL},
		{"\x01javascript:alert(1)", blockedURL},
		{"data:text/html,<script>", blockedURL},
		{"vbscript:x", blockedURL},
		{"#frag", "#frag"},
	} {
		if got := safeURL(c.in); got != c.want {
			t.Errorf("safeURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	var p page
	p.url("href", `javascript:alert("x")`)
	if got := string(p.b); got != ` href="about:invalid#blocked"` {
		t.Errorf(`url("href", javascript:…) wrote %s`, got)
	}
	p = page{}
	p.url("href", `/a?b="c"&d`)
	if got := string(p.b); got != ` href="/a?b=&#34;c&#34;&amp;d"` {
		t.Errorf(`url("href", /a?b="c"&d) wrote %s`, got)
	}
}

// hostile is device-, provider- and modem-supplied text that would change the page if it
// reached markup unescaped: tags, attribute breakouts both quotes, an entity, a URL scheme.
var hostile = []string{
	`<script>alert(1)</script>`,
	`"><img src=x onerror=alert(1)>`,
	`' onmouseover='alert(1)`,
	`javascript:alert(document.cookie)`,
	`</td></tr></table><svg onload=alert(1)>`,
	`&lt;b&gt;`,
}

// pageFixture is a page holding s in every field that carries text from outside.
func pageFixture(s string) pageData {
	now := time.Date(2026, 12, 4, 3, 30, 0, 0, time.UTC)
	hist := make([]Hour, historyHours)
	for i := range hist {
		hist[i] = Hour{Start: now.Add(time.Duration(i-23) * time.Hour).Truncate(time.Hour), Accepted: int64(i)}
	}
	return pageData{CSRF: s, Status: Status{Version: s, Now: now, Started: now, Uptime: s,
		Jobs: map[string]int64{"queued": 1}, History: hist,
		Store: StoreStatus{Bytes: 1, Quota: 2}, Disk: &DiskStatus{Path: s, Free: 1, Total: 2},
		Senders: []dispatch.SenderStatus{
			{Service: s, Name: s, LastOK: now, LastError: s, LastErrorAt: now, Problem: s,
				Driver: &provider.Health{Detail: s + "d", Facts: fixtureFacts(s)}},
			{Service: "sms", Name: s, Paused: true, LastError: s, Problem: s + "p",
				Driver: &provider.Health{Facts: modem.Health{Present: true, SIM: s, Registered: true, RegStatus: s, Operator: s, SMSC: s, Model: s, LastError: s + "m", SignalDBM: -70, HasSignal: true}}},
		},
		Devices: []DeviceView{{Device: store.Device{MAC: s, IP: s, LastSeen: now, Jobs: 1}, Name: s + "n", Refused: s + "r"}},
		Recent: []RecentJob{{ID: s + "0123456789", Created: now, Device: s, DeviceName: s + "n", Service: s, Sender: s, Dest: s,
			State: s, Archived: true, Attempts: 2, Error: s, CanRetry: true, CanCancel: true}},
		SIM: &sim.Status{Code: s, Answer: s, Amount: &fixtureAmount, At: now, Error: s, ErrorAt: now, Low: 5, Below: true, Checks: 3, NextCheck: now},
	}}
}

var fixtureAmount = 4.5

var (
	tagRe     = regexp.MustCompile(`<[^>]*>`)
	urlAttrRe = regexp.MustCompile(`(?i)(href|src|action)="\s*(javascript|data|vbscript):`)
	attrRe    = regexp.MustCompile(`\s+([a-zA-Z][a-zA-Z0-9-]*)(="[^"<]*")?`)
)

// shape is a page's markup with the attribute values and the text left out: tag names and
// attribute names in order. Escaping is right when hostile text gives the shape benign text
// gives.
func shape(html string) ([]string, error) {
	var out []string
	for _, tag := range tagRe.FindAllString(html, -1) {
		body := strings.TrimSuffix(strings.TrimPrefix(tag, "<"), ">")
		body = strings.TrimSuffix(body, "/")
		name, rest, _ := strings.Cut(body, " ")
		if strings.HasPrefix(name, "!") {
			out = append(out, name)
			continue
		}
		rest = " " + rest
		ms := attrRe.FindAllStringSubmatchIndex(rest, -1)
		end := 0
		s := name
		for _, m := range ms {
			if m[0] != end {
				return nil, fmt.Errorf("tag %s: unparsed text %q", tag, rest[end:m[0]])
			}
			end = m[1]
			s += " " + rest[m[2]:m[3]]
		}
		if strings.TrimSpace(rest[end:]) != "" {
			return nil, fmt.Errorf("tag %s: unparsed text %q", tag, rest[end:])
		}
		out = append(out, s)
	}
	return out, nil
}

func mustShape(t *testing.T, html string) string {
	t.Helper()
	s, err := shape(html)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(s, "\n")
}

// TestPageEscapes renders both pages with hostile text in every field that carries outside
// text: the markup keeps the shape it has with plain text, and the text never appears raw.
func TestPageEscapes(t *testing.T) {
	render := func(s string) (string, string) {
		var p, l page
		d := pageFixture(s)
		adminPage(&p, &d)
		loginPage(&l, &loginData{Version: s, Error: s})
		return string(p.b), string(l.b)
	}
	plainPage, plainLogin := render("plain")
	want, wantLogin := mustShape(t, plainPage), mustShape(t, plainLogin)
	for _, h := range hostile {
		gotPage, gotLogin := render(h)
		for _, c := range []struct {
			name       string
			html       string
			want, got  string
			wantScript int
		}{
			{"admin page", gotPage, want, mustShape(t, gotPage), 3}, // admin.js, update.js (the Firmware panel), sim.js (the SIM panel)
			{"login page", gotLogin, wantLogin, mustShape(t, gotLogin), 0},
		} {
			if c.got != c.want {
				t.Errorf("%s with %q: markup changed:\n got %q\nwant %q", c.name, h, c.got, c.want)
			}
			if html.EscapeString(h) != h && strings.Contains(c.html, h) {
				t.Errorf("%s with %q: the text appears unescaped", c.name, h)
			}
			if m := urlAttrRe.FindString(c.html); m != "" {
				t.Errorf("%s with %q: a URL attribute runs code: %s", c.name, h, m)
			}
			if n := strings.Count(strings.ToLower(c.html), "<script"); n != c.wantScript {
				t.Errorf("%s with %q: %d <script> tags, want %d", c.name, h, n, c.wantScript)
			}
		}
	}
	if os.Getenv("MULTIMSG_DUMP_PAGE") != "" { // to look at it: MULTIMSG_DUMP_PAGE=1 go test -run PageEscapes -v
		got, _ := render(hostile[1])
		t.Log(got)
	}
}

// FuzzPageText: any text in every field leaves the page's markup as plain text leaves it.
func FuzzPageText(f *testing.F) {
	for _, h := range hostile {
		f.Add(h)
	}
	f.Add("plain")
	var base page
	d := pageFixture("plain")
	adminPage(&base, &d)
	want, err := shape(string(base.b))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return // empty fields are left out of the page: another shape, rightly
		}
		var p page
		d := pageFixture(s)
		adminPage(&p, &d)
		got, err := shape(string(p.b))
		if err != nil {
			t.Fatalf("text %q: %v", s, err)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("text %q changed the markup", s)
		}
	})
}

// fixtureFacts is a driver's facts whose labels and values are all outside text.
type fixtureFacts string

func (f fixtureFacts) Each(fn func(label, value string)) {
	fn(string(f), string(f))
	fn("x", string(f)+"x")
}
