package mailin

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"mime/multipart"
	"net/textproto"
	"strings"
	"testing"
	"unicode/utf8"

	"multimsg/provider"
	"multimsg/provider/mail"
	"multimsg/provider/whatsapp"
)

// cameraMail is a typical NVR alert: multipart/mixed with an alternative text/HTML body and a
// base64 JPEG.
func cameraMail() []byte {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	b2 := &bytes.Buffer{}
	alt := multipart.NewWriter(b2)
	tw, _ := alt.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=iso-8859-1"}, "Content-Transfer-Encoding": {"quoted-printable"}})
	tw.Write([]byte("Alarme cam=E9ra 1\r\n"))
	hw, _ := alt.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/html"}})
	hw.Write([]byte("<p>Alarme cam&eacute;ra 1</p>"))
	alt.Close()
	pw, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/alternative; boundary=" + alt.Boundary()}})
	pw.Write(b2.Bytes())
	iw, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"image/jpeg; name=\"../../etc/snap.jpg\""},
		"Content-Transfer-Encoding": {"base64"}, "Content-Disposition": {"attachment; filename=\"../../etc/snap.jpg\""}})
	iw.Write([]byte(base64.StdEncoding.EncodeToString([]byte{0xff, 0xd8, 1, 2, 3, 0xff, 0xd9})))
	mw.Close()
	return []byte("From: NVR <nvr@lan>\r\nTo: 15551234567@wpp1\r\nSubject: =?ISO-8859-1?Q?Cam=E9ra_1?=\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=" + mw.Boundary() + "\r\n\r\n" + b.String())
}

func TestParse(t *testing.T) {
	m, err := Parse(cameraMail())
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Caméra 1" || m.Text != "Alarme caméra 1" || m.From != "nvr@lan" || !strings.Contains(m.HTML, "<p>") {
		t.Errorf("Parse = subject %q text %q from %q html %q", m.Subject, m.Text, m.From, m.HTML)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "snap.jpg" || m.Attachments[0].MIME != "image/jpeg" ||
		!bytes.Equal(m.Attachments[0].Data, []byte{0xff, 0xd8, 1, 2, 3, 0xff, 0xd9}) {
		t.Errorf("attachments = %+v", m.Attachments)
	}
}

func TestParseBounds(t *testing.T) {
	// nesting deeper than maxDepth
	var body string
	for i := maxDepth + 1; i >= 0; i-- {
		b := "b" + strings.Repeat("x", i)
		body = "--" + b + "\r\nContent-Type: " + map[bool]string{true: "text/plain", false: "multipart/mixed; boundary=b" + strings.Repeat("x", i+1)}[body == ""] + "\r\n\r\n" + body + "\r\n--" + b + "--\r\n"
	}
	raw := "Subject: deep\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + body
	if _, err := Parse([]byte(raw)); err == nil {
		t.Errorf("Parse of %d nested multiparts: no error", maxDepth+2)
	}
	// too many parts
	var b strings.Builder
	b.WriteString("Subject: many\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n")
	for i := 0; i < maxParts+5; i++ {
		b.WriteString("--B\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n")
	}
	b.WriteString("--B--\r\n")
	if _, err := Parse([]byte(b.String())); err == nil {
		t.Errorf("Parse of %d parts: no error", maxParts+5)
	}
	// a plain mail with bare LF and no MIME headers is fine
	m, err := Parse([]byte("Subject: UPS\n\nOn battery\n"))
	if err != nil || m.Text != "On battery" || m.Subject != "UPS" {
		t.Errorf("Parse(bare LF) = %+v, %v", m, err)
	}
}

func TestCompose(t *testing.T) {
	m := &Message{Subject: "Door open", Text: "Door 4 opened at 03:12.\nBy badge 118."}
	for _, tc := range []struct {
		rule TextRule
		note string
		want string
	}{
		{TextRule{}, "", "Door open\n\nDoor 4 opened at 03:12.\nBy badge 118."},
		{TextRule{Content: SubjectOnly}, "", "Door open"},
		{TextRule{Content: BodyOnly}, "", "Door 4 opened at 03:12.\nBy badge 118."},
		{TextRule{MaxChars: 20}, "", "Door open\n\nDoor 4..."},
		{TextRule{Content: SubjectOnly}, "[1 attachment(s) not sent by sms: a.jpg]", "Door open\n[1 attachment(s) not sent by sms: a.jpg]"},
		{TextRule{MaxChars: 30}, "[1 attachment(s)]", "Door open...\n[1 attachment(s)]"},
		{TextRule{MaxChars: 5}, "[1 attachment(s)]", "[1 at"},
	} {
		got := compose(m, tc.rule, tc.note)
		if got != tc.want {
			t.Errorf("compose(%+v, %q) = %q, want %q", tc.rule, tc.note, got, tc.want)
		}
		if tc.rule.MaxChars > 0 && runeLen(got) > tc.rule.MaxChars {
			t.Errorf("compose(%+v) is %d characters", tc.rule, runeLen(got))
		}
	}
}

func TestHTMLText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"<p>a</p><p>b</p>", "\na\n\nb\n"},
		{"x<br>y<script>alert(1)</script>z", "x\nyz"},
		{`<a href="http://cam/1">live view</a>`, "live view (http://cam/1)"},
		{"<ul><li>one<li>two</ul>", "\n\n- one\n- two\n"},
		{"a &amp; b &lt;c&gt;", "a & b <c>"},
		{"<!-- hidden -->shown", "shown"},
		{"unterminated <b", "unterminated "},
	} {
		if got := HTMLText(tc.in); got != tc.want {
			t.Errorf("HTMLText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRecipients(t *testing.T) {
	s := fuzzServer(t)
	for _, tc := range []struct {
		addr string
		want string // targets, or "" for an error
	}{
		{"15551234567@wpp1", "[wpp1:15551234567]"},
		{"15551234567@WPP1", "[wpp1:15551234567]"},
		{"ops@example.com", "[mail:ops@example.com]"},
		{"OnCall@Box", "[wpp1:15557654321 mail:ops@example.com]"},
		{"nobody@box", ""},
		{"12@wpp1", ""},
		{"15551234567@sms", ""}, // no SMS sender in this registry: not available
		{"x@mail", ""},
		{"noat", ""},
	} {
		ts, err := s.rcpt.resolve(tc.addr)
		got := ""
		if err == nil {
			got = strings.ReplaceAll(strings.Trim(strings.ReplaceAll(strings.Join(targetStrings(ts), " "), "  ", " "), " "), "\n", "")
			got = "[" + got + "]"
		}
		if got != tc.want {
			t.Errorf("resolve(%q) = %s (%v), want %s", tc.addr, got, err, tc.want)
		}
	}
}

func targetStrings(ts []Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return out
}

// fuzzServer is a Server with a registry of real drivers whose Check needs no peer: mail into a
// Maildir and WhatsApp (Check validates without calling the API).
func fuzzServer(t testing.TB) *Server {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	md, err := mail.New(mail.Options{Name: "m", Maildir: t.TempDir(), From: "gw@localhost"}, log)
	if err != nil {
		t.Fatal(err)
	}
	wd, err := whatsapp.New(whatsapp.Options{Name: "w", APIURL: "http://127.0.0.1:1/v21.0", PhoneNumberID: "1065", Token: "t"}, log)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := provider.NewRegistry(
		mail.Service([]provider.Sender{{Name: "m", Driver: md}}, nil, 0),
		whatsapp.Service([]provider.Sender{{Name: "w", Driver: wd}}, nil, 0),
		&provider.Service{Name: "sms", Types: []string{"text"}, PerFile: true},
	)
	if err != nil {
		t.Fatal(err)
	}
	aliases := map[string][]Target{"oncall@box": {{"wpp1", "15557654321"}, {"mail", "ops@example.com"}}}
	return &Server{o: Options{Registry: reg, Text: map[string]TextRule{"wpp1": {MaxChars: 4096}}},
		rcpt: recipients{reg: reg, aliases: aliases, relay: true}}
}

// FuzzMessageToJobs feeds arbitrary bytes through what DATA does before the commit: the MIME
// parse and the jobs for a WhatsApp number and a relayed address. Nothing may panic; what comes
// out is valid UTF-8 text within the rule's bound, safe file names, and never more bytes than
// came in (decoding only shrinks).
func FuzzMessageToJobs(f *testing.F) {
	f.Add(cameraMail())
	f.Add([]byte("Subject: UPS on battery\r\n\r\nInput power lost.\r\n"))
	f.Add([]byte("Subject: x\nContent-Type: text/html\n\n<p>a<br>b</p><a href=x>y</a>"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--B\r\nContent-Disposition: attachment; filename*=UTF-8''%E2%82%AC.txt\r\n\r\neuro\r\n--B--\r\n"))
	f.Add([]byte("Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody"))
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 1<<20 {
			return
		}
		m, err := Parse(raw)
		if err != nil {
			return
		}
		if !utf8.ValidString(m.Text) || !utf8.ValidString(m.Subject) || !utf8.ValidString(m.HTML) {
			t.Fatalf("invalid UTF-8 out of Parse: %q %q", m.Subject, m.Text)
		}
		total := 0
		for _, a := range m.Attachments {
			if strings.ContainsAny(a.Filename, "/\\\x00") || a.Filename == "" || len(a.Filename) > maxFilename+16 {
				t.Fatalf("unsafe attachment name %q", a.Filename)
			}
			total += len(a.Data)
		}
		if total > len(raw) {
			t.Fatalf("attachments hold %d bytes from a %d-byte message", total, len(raw))
		}
		for _, tg := range []Target{{"wpp1", "15551234567"}, {"mail", "ops@example.com"}} {
			p, err := s.plan("local", "127.0.0.1", m, tg)
			if err != nil {
				continue
			}
			for i, f := range p.job.Files {
				if f.Name == "text" {
					if !utf8.Valid(f.Data) || (tg.Service == "wpp1" && utf8.RuneCount(f.Data) > 4096) {
						t.Fatalf("%s text: %d runes, valid %v", tg, utf8.RuneCount(f.Data), utf8.Valid(f.Data))
					}
				}
				if p.job.Params.Types[i] == "" {
					t.Fatalf("%s file %s has no type", tg, f.Name)
				}
			}
		}
	})
}
