package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"net/mail"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"multimsg/provider"
)

func testHeader(subject string) *header {
	return &header{
		From:      &mail.Address{Name: "Gateway", Address: "gw@example.com"},
		To:        []*mail.Address{{Address: "a@x.test"}},
		Subject:   subject,
		Date:      time.Date(2026, 11, 27, 4, 30, 0, 0, time.UTC),
		MessageID: "<multimsg.j@example.com>",
		JobID:     "j",
	}
}

// checkLines: CRLF only, no line over 998 bytes (RFC 5322 §2.1.1), 7-bit.
func checkLines(t testing.TB, raw []byte) {
	t.Helper()
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		t.Errorf("message does not end with CRLF")
	}
	for i, line := range bytes.Split(raw, []byte("\r\n")) {
		if len(line) > 998 {
			t.Errorf("line %d is %d bytes", i, len(line))
		}
		for _, c := range line {
			if c == '\r' || c == '\n' || c >= 0x80 || c == 0 {
				t.Fatalf("line %d has byte %#x: %q", i, c, line)
			}
		}
	}
}

func TestBuildShapes(t *testing.T) {
	html := provider.File{Name: "h", Type: "html", Data: []byte("<p>x</p>\n")}
	att := provider.File{Name: "f", Filename: "a.png", Type: "file", Data: []byte{0x89, 'P', 'N', 'G'}}
	cases := []struct {
		name  string
		files []provider.File
		paths []string
		first string // decoded body of the first part
	}{
		{"one text", []provider.File{textFile("t", "hello\r\nworld")}, []string{"text/plain"}, "hello\r\nworld"},
		{"texts joined by a blank line", []provider.File{textFile("a", "one"), textFile("b", "two\n"), textFile("c", ""), textFile("d", "four")}, []string{"text/plain"}, "one\r\n\r\ntwo\r\n\r\n\r\nfour"},
		{"html only", []provider.File{html}, []string{"text/html"}, "<p>x</p>\r\n"},
		{"attachment only", []provider.File{att}, []string{"multipart/mixed/image/png"}, "\x89PNG"},
		{"text and attachment", []provider.File{textFile("t", "x"), att}, []string{"multipart/mixed/text/plain", "multipart/mixed/image/png"}, "x"},
		{"alternative", []provider.File{html, textFile("t", "x")}, []string{"multipart/alternative/text/plain", "multipart/alternative/text/html"}, "x"},
		{"empty attachment", []provider.File{{Name: "e", Type: "file"}}, []string{"multipart/mixed/application/octet-stream"}, ""},
		{"trailing spaces and dots", []provider.File{textFile("t", "a  \n.\n..x\nFrom me")}, []string{"text/plain"}, "a  \r\n.\r\n..x\r\nFrom me"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, err := build(testHeader("s"), c.files)
			if err != nil {
				t.Fatal(err)
			}
			checkLines(t, raw)
			_, leaves := parseMessage(t, raw)
			var paths []string
			for _, l := range leaves {
				paths = append(paths, l.path)
			}
			if strings.Join(paths, " ") != strings.Join(c.paths, " ") {
				t.Fatalf("parts = %v, want %v\n%s", paths, c.paths, raw)
			}
			if string(leaves[0].body) != c.first {
				t.Errorf("first part = %q, want %q", leaves[0].body, c.first)
			}
		})
	}
}

func TestSubjectRoundTrip(t *testing.T) {
	for _, s := range []string{
		"",
		"plain ASCII subject",
		"Ünïcödé ✓ and 日本語",
		"  leading and  double  spaces ",
		"looks like =?utf-8?q?an_encoded_word?= but is not",
		"tab\there",
		strings.Repeat("word ", 150),
		strings.Repeat("x", 998),
		strings.Repeat("é", 998),
		strings.Repeat("😀", 300),
		"under_score and ?question= marks",
	} {
		raw, err := build(testHeader(s), []provider.File{textFile("t", "x")})
		if err != nil {
			t.Fatal(err)
		}
		checkLines(t, raw)
		m, _ := parseMessage(t, raw)
		if got := decodeSubject(t, m); got != s {
			t.Errorf("subject %q came back as %q", s, got)
		}
		for _, line := range strings.Split(string(raw[:bytes.Index(raw, []byte("\r\n\r\n"))]), "\r\n") {
			if len(line) > 78 && (strings.HasPrefix(line, "Subject") || strings.HasPrefix(line, " ")) {
				t.Errorf("subject %.20q: header line of %d bytes: %q", s, len(line), line)
			}
		}
	}
}

func TestAttachmentNames(t *testing.T) {
	for _, c := range []struct{ filename, name, want string }{
		{"report.pdf", "f", "report.pdf"},
		{"Überblick – 2026.pdf", "f", "Überblick – 2026.pdf"},
		{"../../etc/passwd", "f", "passwd"},
		{`C:\Users\ann\photo.jpg`, "f", "photo.jpg"},
		{"evil\r\nContent-Type: text html", "f", "evil\r\nContent-Type: text html"},
		{`quote"and'more;x=y`, "f", `quote"and'more;x=y`},
		{"", "fieldname", "fieldname"},
		{"dir/", "", "attachment"},
		{strings.Repeat("ü", 120) + ".txt", "f", strings.Repeat("ü", 120) + ".txt"},
		{strings.Repeat("ü", 200) + ".txt", "f", strings.Repeat("ü", 125) + ".txt"},
		{strings.Repeat("x", 300), "f", strings.Repeat("x", 255)},
		{"tab\there.txt", "f", "tab\there.txt"},
		{strings.Repeat("y", 50), "f", strings.Repeat("y", 50)},
		{"Quarterly report of the north-east sensor array 2026.pdf", "f", "Quarterly report of the north-east sensor array 2026.pdf"},
	} {
		data := []byte("data of " + c.filename)
		raw, err := build(testHeader("s"), []provider.File{{Name: c.name, Filename: c.filename, Type: "file", Data: data}})
		if err != nil {
			t.Fatal(err)
		}
		checkLines(t, raw)
		for _, line := range strings.Split(string(raw), "\r\n") {
			if len(line) > 78 {
				t.Errorf("attachment %.20q: line of %d bytes: %q", c.filename, len(line), line)
			}
		}
		_, leaves := parseMessage(t, raw)
		if len(leaves) != 1 || leaves[0].filename != c.want || !bytes.Equal(leaves[0].body, data) {
			t.Errorf("attachment %q: parts %+v, want filename %q", c.filename, leaves, c.want)
		}
	}
}

func TestMessageIDAndDefaultSubject(t *testing.T) {
	d, err := New(Options{From: "gw@example.com", Maildir: t.TempDir(), DefaultSubject: "Alert from {device} (job {job})"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for job, want := range map[string]string{
		"Ab-9_x":   "<multimsg.Ab-9_x@example.com>",
		"a b<c>@d": "<multimsg.a=20b=3Cc=3E=40d@example.com>",
	} {
		if got := d.messageID(job); got != want {
			t.Errorf("messageID(%q) = %q, want %q", job, got, want)
		}
		if _, err := mail.ParseAddress(strings.Trim(d.messageID(job), "<>")); err != nil {
			t.Errorf("messageID(%q) is not a valid msg-id: %v", job, err)
		}
	}
	rc, err := d.Send(context.Background(), delivery("J1", "a@x.test", nil, textFile("t", "x")))
	if err != nil {
		t.Fatal(err)
	}
	raw := readMaildir(t, d, rc.MessageID)
	m, _ := parseMessage(t, raw)
	if got := decodeSubject(t, m); got != "Alert from aa:bb:cc:dd:ee:ff (job J1)" {
		t.Errorf("default subject = %q", got)
	}
}

func readMaildir(t testing.TB, d *Driver, name string) []byte {
	t.Helper()
	b, err := readFile(d.md.dir + "/new/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzBuild: whatever a client may send (a subject Check accepts, any attachment name and bytes,
// any UTF-8 text) builds a message that parses back to the same subject, text and attachment.
func FuzzBuild(f *testing.F) {
	f.Add("Alarme: température élevée ✓", "Überblick 2026.pdf", "line one\nline two", []byte{0, 1, 2, 0xff})
	f.Add("", "", "", []byte{})
	f.Add("=?utf-8?q?x?=", "a\r\nb", "a\r\n.\r\n", []byte("--=_mm_m_0\r\n"))
	f.Fuzz(func(t *testing.T, subject, filename, text string, data []byte) {
		in := provider.Info{}
		in["subject"], _ = json.Marshal(subject)
		if _, err := decodeInfo(in); err != nil || !utf8.ValidString(subject) || !utf8.ValidString(text) {
			return // Check refuses these; Send never sees them
		}
		files := []provider.File{textFile("t", text), {Name: "f", Filename: filename, Type: "file", Data: data}}
		raw, err := build(testHeader(subject), files)
		if err != nil {
			t.Fatal(err)
		}
		checkLines(t, raw)
		for _, line := range bytes.Split(raw, []byte("\r\n")) {
			if len(line) > 78 {
				t.Fatalf("line of %d bytes: %q", len(line), line)
			}
		}
		m, leaves := parseMessage(t, raw)
		if got := decodeSubject(t, m); got != subject {
			t.Fatalf("subject %q came back as %q", subject, got)
		}
		if len(leaves) != 2 {
			t.Fatalf("%d parts, want 2", len(leaves))
		}
		if got, want := normalizeEOL(string(leaves[0].body)), normalizeEOL(text); got != want {
			t.Fatalf("text %q came back as %q", want, got)
		}
		if leaves[1].filename != attachmentName(files[1]) || !bytes.Equal(leaves[1].body, data) {
			t.Fatalf("attachment %q came back as %q (%d bytes, want %d)", attachmentName(files[1]), leaves[1].filename, len(leaves[1].body), len(data))
		}
	})
}

func normalizeEOL(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// FuzzCheck: Check never panics, and what it accepts builds a message whose To and Cc parse back
// to the same addresses.
func FuzzCheck(f *testing.F) {
	f.Add("a@x.test", `{"subject":"s","cc":"c@x.test","reply_to":"r@x.test"}`)
	f.Add(`"Doe, Ann" <ann@x.test>, bob@x.test`, `{"cc":["c@x.test","D <d@x.test>"]}`)
	f.Add("=?utf-8?q?J=C3=BCrgen?= <j@x.test>", `{}`)
	f.Add("nope, a@x.test", `{"bcc":"x"}`)
	f.Add(`"quoted\"name" <"odd local"@x.test>`, `{"subject":"a\u0000b"}`)
	d, err := New(Options{Host: "127.0.0.1", From: "gw@example.com"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, dest, infoJSON string) {
		var in provider.Info
		if json.Unmarshal([]byte(infoJSON), &in) != nil {
			in = nil
		}
		files := []provider.File{textFile("t", "x")}
		req, err := d.o.check(dest, files, in)
		if err != nil {
			if _, ok := err.(*provider.CheckError); !ok {
				t.Fatalf("Check error %T %v is not a *provider.CheckError", err, err)
			}
			return
		}
		h := testHeader("s")
		h.To, h.Cc, h.ReplyTo = req.to, req.info.Cc, req.info.ReplyTo
		raw, err := build(h, files)
		if err != nil {
			t.Fatal(err)
		}
		checkLines(t, raw)
		m, _ := parseMessage(t, raw)
		for _, hd := range []struct {
			name string
			want []*mail.Address
		}{{"To", req.to}, {"Cc", req.info.Cc}} {
			if len(hd.want) == 0 {
				continue
			}
			got, err := m.Header.AddressList(hd.name)
			if err != nil {
				t.Fatalf("%s %q does not parse: %v", hd.name, m.Header.Get(hd.name), err)
			}
			if len(got) != len(hd.want) {
				t.Fatalf("%s: %d addresses, want %d", hd.name, len(got), len(hd.want))
			}
			for i := range got {
				if got[i].Address != hd.want[i].Address || got[i].Name != hd.want[i].Name {
					t.Fatalf("%s[%d] = %q, want %q", hd.name, i, got[i], hd.want[i])
				}
			}
		}
	})
}

func TestAttachmentType(t *testing.T) {
	for _, c := range []struct{ name, uploaded, want string }{
		{"a.PDF", "", "application/pdf"},
		{"log.txt", "", "text/plain"},
		{"data.csv", "application/octet-stream", "text/csv"},
		{"blob.unknownext", "application/x-custom; charset=latin1", "application/x-custom; charset=latin1"},
		{"blob", "", "application/octet-stream"},
		{"blob", "not a type", "application/octet-stream"},
		{"nested", "multipart/mixed; boundary=x", "application/octet-stream"},
	} {
		if got := attachmentType(provider.File{Filename: c.name, MIME: c.uploaded, Type: "file"}); got != c.want {
			t.Errorf("attachmentType(%q, %q) = %q, want %q", c.name, c.uploaded, got, c.want)
		}
	}
}
