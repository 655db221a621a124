package mailin

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Message is what a device's e-mail says, decoded: the parts the jobs are made of.
type Message struct {
	From        string // the From header's address ("" when absent or unparsable)
	Subject     string // decoded (RFC 2047), one line
	Text        string // the text/plain body, or the HTML body as text when there is no plain one
	HTML        string // the text/html body as sent, when there is one (relayed mail keeps it)
	Attachments []Attachment
}

// Attachment is one file the mail carried (a camera's snapshot, a UPS's log).
type Attachment struct {
	Filename string // a plain base name, never a path
	MIME     string // media type without parameters, e.g. image/jpeg
	Data     []byte
}

// Bounds of the MIME walk. The message itself is bounded by the listener's size limit; these
// bound the work and the bookkeeping a crafted structure could make out of it.
const (
	maxParts    = 64  // MIME parts of any kind in one message
	maxDepth    = 6   // multipart nesting
	maxFilename = 120 // bytes of an attachment's name
	maxSubject  = 998 // RFC 5322's line length
)

// Parse decodes a message as received after DATA. It is lenient with what devices send in
// practice (bare LF, a missing MIME-Version, an undeclared charset, a truncated last part) and
// strict only about the bounds: a structure nested too deep or with too many parts is
// ErrMessage. It never keeps a slice of raw.
func Parse(raw []byte) (*Message, error) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: headers: %v", ErrMessage, err)
	}
	msg := &Message{Subject: decodeHeader(m.Header.Get("Subject"))}
	if len(msg.Subject) > maxSubject {
		msg.Subject = trimRunes(msg.Subject, maxSubject)
	}
	if a, err := mail.ParseAddress(m.Header.Get("From")); err == nil {
		msg.From = a.Address
	}
	w := walker{msg: msg}
	if err := w.part(textproto.MIMEHeader(m.Header), m.Body, 0); err != nil {
		return nil, err
	}
	msg.Text = cleanText(msg.Text)
	if msg.Text == "" && msg.HTML != "" {
		msg.Text = cleanText(HTMLText(msg.HTML))
	}
	return msg, nil
}

type walker struct {
	msg   *Message
	parts int
}

func (w *walker) part(h textproto.MIMEHeader, body io.Reader, depth int) error {
	w.parts++
	if w.parts > maxParts {
		return fmt.Errorf("%w: more than %d MIME parts", ErrMessage, maxParts)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt == "" {
		mt, params = "text/plain", map[string]string{}
	}
	if strings.HasPrefix(mt, "multipart/") {
		if depth >= maxDepth {
			return fmt.Errorf("%w: multipart nested deeper than %d", ErrMessage, maxDepth)
		}
		b := params["boundary"]
		if b == "" {
			return nil // a multipart without boundary cannot be split: nothing in it is readable
		}
		mr := multipart.NewReader(body, b)
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				// io.EOF, or a truncated or malformed rest: keep what was read (a device's mail
				// is taken as far as it makes sense; its text is usually first)
				return nil
			}
			if err := w.part(p.Header, p, depth+1); err != nil {
				return err
			}
		}
	}
	data, _ := io.ReadAll(decodeTransfer(h.Get("Content-Transfer-Encoding"), body)) // a broken encoding keeps what decoded
	disp, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	isFile := disp == "attachment" || name != ""
	switch {
	case !isFile && mt == "text/plain" && w.msg.Text == "":
		w.msg.Text = toUTF8(data, params["charset"])
		return nil
	case !isFile && mt == "text/html" && w.msg.HTML == "":
		w.msg.HTML = toUTF8(data, params["charset"])
		return nil
	case !isFile && strings.HasPrefix(mt, "text/") && len(data) == 0:
		return nil
	}
	if mt == "message/rfc822" && name == "" {
		name = "message.eml"
	}
	w.msg.Attachments = append(w.msg.Attachments, Attachment{Filename: cleanFilename(decodeHeader(name), mt, len(w.msg.Attachments)+1), MIME: mt, Data: data})
	return nil
}

func decodeTransfer(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &base64Clean{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// base64Clean drops what base64.NewDecoder does not skip itself: devices wrap lines with
// spaces or tabs, and some end the data with a stray character.
type base64Clean struct{ r io.Reader }

func (b *base64Clean) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' {
			p[j] = c
			j++
		}
	}
	return j, err
}

var wordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(input)
	if err != nil {
		return nil, err
	}
	return strings.NewReader(toUTF8(b, charset)), nil
}}

// decodeHeader decodes RFC 2047 words; a header that does not decode is kept as it came.
func decodeHeader(s string) string {
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		d = s
	}
	d = strings.ToValidUTF8(d, "\uFFFD")
	return strings.Join(strings.Fields(d), " ")
}

// toUTF8 turns a body in a declared charset into UTF-8: UTF-8 and ASCII as they are, the
// Latin-1 family byte for rune; anything else keeps its valid UTF-8 and marks the rest.
func toUTF8(b []byte, charset string) string {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "iso-8859-1", "latin1", "iso-8859-15", "windows-1252", "cp1252":
		if !utf8.Valid(b) || bytes.IndexFunc(b, func(r rune) bool { return r >= 0x80 }) < 0 {
			rs := make([]rune, len(b))
			for i, c := range b {
				rs[i] = rune(c)
			}
			return string(rs)
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// cleanText normalises line ends and blank runs, and drops control characters.
func cleanText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return -1
	}, s)
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// cleanFilename makes an attachment name safe to pass on: a base name without control
// characters or separators, bounded, and a made-up one when the mail gave none.
func cleanFilename(name, mt string, n int) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '/' || r == '\\' || r == '"' {
			return '_'
		}
		return r
	}, path.Base(strings.ReplaceAll(name, "\\", "/")))
	name = strings.Trim(name, ". ")
	if len(name) > maxFilename {
		ext := path.Ext(name)
		if len(ext) > 16 {
			ext = ""
		}
		name = trimBytes(name, maxFilename-len(ext)) + ext
	}
	if name == "" {
		ext := ".bin"
		if exts, _ := mime.ExtensionsByType(mt); len(exts) > 0 {
			ext = exts[0]
		}
		switch mt {
		case "image/jpeg":
			ext = ".jpg"
		case "text/plain":
			ext = ".txt"
		}
		name = fmt.Sprintf("attachment-%d%s", n, ext)
	}
	return name
}

// trimBytes cuts s to at most n bytes on a rune boundary.
func trimBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// trimRunes cuts s to at most n runes.
func trimRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
