package mail

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"multimsg/provider"
)

// header is everything of a message that is not a file.
type header struct {
	From      *mail.Address
	To, Cc    []*mail.Address
	ReplyTo   *mail.Address
	Subject   string
	Date      time.Time
	MessageID string // with the angle brackets
	JobID     string
}

// build renders the complete RFC 5322 message, CRLF line endings, 7-bit clean: text and html
// parts quoted-printable UTF-8, attachments base64.
func build(h *header, files []provider.File) ([]byte, error) {
	var texts, htmls, atts []provider.File
	size := 2048
	for _, f := range files {
		switch f.Type {
		case "text":
			texts = append(texts, f)
			size += len(f.Data)*11/10 + 2
		case "html":
			htmls = append(htmls, f)
			size += len(f.Data)*11/10 + 2
		case "file":
			atts = append(atts, f)
			size += (len(f.Data)+2)/3*4*78/76 + 512
		default:
			return nil, fmt.Errorf("mail: file %q has type %q, which mail does not take", f.Name, f.Type)
		}
	}
	var b bytes.Buffer
	b.Grow(size)

	writeHeader(&b, "Date", h.Date.Format(time.RFC1123Z))
	writeHeader(&b, "From", h.From.String())
	writeAddressList(&b, "To", h.To)
	if len(h.Cc) > 0 {
		writeAddressList(&b, "Cc", h.Cc)
	}
	if h.ReplyTo != nil {
		writeHeader(&b, "Reply-To", h.ReplyTo.String())
	}
	writeFolded(&b, "Subject", encodeText("Subject", h.Subject))
	writeHeader(&b, "Message-ID", h.MessageID)
	writeHeader(&b, "MIME-Version", "1.0")
	writeFolded(&b, "X-Multimsg-Job", encodeText("X-Multimsg-Job", h.JobID))

	body := len(texts) > 0 || len(htmls) > 0
	if len(atts) == 0 {
		if err := writeBody(&b, texts, htmls); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	mw := multipart.NewWriter(&b)
	mw.SetBoundary(boundary("m"))
	writeHeader(&b, "Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\nThis is a multi-part message in MIME format.\r\n")
	if body {
		if err := writeBodyPart(mw, texts, htmls); err != nil {
			return nil, err
		}
	}
	for _, f := range atts {
		if err := writeAttachment(mw, f); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeBodyPart writes the text/html body as one part of a multipart/mixed.
func writeBodyPart(mw *multipart.Writer, texts, htmls []provider.File) error {
	hdr := textproto.MIMEHeader{}
	if len(texts) == 0 || len(htmls) == 0 {
		setTextHeaders(hdr, len(htmls) > 0)
		w, err := mw.CreatePart(hdr)
		if err != nil {
			return err
		}
		return writeQP(w, pick(texts, htmls))
	}
	bound := boundary("a")
	hdr.Set("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": bound}))
	w, err := mw.CreatePart(hdr)
	if err != nil {
		return err
	}
	alt := multipart.NewWriter(w)
	alt.SetBoundary(bound)
	return writeAlternative(alt, texts, htmls)
}

// writeBody writes the body of a message that has no attachment: its Content-Type header,
// the blank line, and the content.
func writeBody(b *bytes.Buffer, texts, htmls []provider.File) error {
	if len(texts) > 0 && len(htmls) > 0 {
		alt := multipart.NewWriter(b)
		alt.SetBoundary(boundary("a"))
		writeHeader(b, "Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": alt.Boundary()}))
		b.WriteString("\r\n")
		return writeAlternative(alt, texts, htmls)
	}
	hdr := textproto.MIMEHeader{}
	setTextHeaders(hdr, len(htmls) > 0)
	writeHeader(b, "Content-Type", hdr.Get("Content-Type"))
	writeHeader(b, "Content-Transfer-Encoding", hdr.Get("Content-Transfer-Encoding"))
	b.WriteString("\r\n")
	files := pick(texts, htmls)
	if err := writeQP(b, files); err != nil {
		return err
	}
	// A message ends with CRLF (SMTP's DATA adds one otherwise). When the text does not, a
	// soft line break ends it, so the decoded text is exactly what was uploaded. The writer
	// leaves a last line of at most 75 characters, so the "=" fits within 76.
	if last := files[len(files)-1].Data; len(last) == 0 || last[len(last)-1] != '\n' {
		b.WriteString("=\r\n")
	}
	return nil
}

func pick(texts, htmls []provider.File) []provider.File {
	if len(htmls) > 0 {
		return htmls
	}
	return texts
}

func writeAlternative(alt *multipart.Writer, texts, htmls []provider.File) error {
	// Plain text first, richest last (RFC 2046 §5.1.4).
	for _, group := range []struct {
		files []provider.File
		html  bool
	}{{texts, false}, {htmls, true}} {
		hdr := textproto.MIMEHeader{}
		setTextHeaders(hdr, group.html)
		w, err := alt.CreatePart(hdr)
		if err != nil {
			return err
		}
		if err := writeQP(w, group.files); err != nil {
			return err
		}
	}
	return alt.Close()
}

func setTextHeaders(hdr textproto.MIMEHeader, html bool) {
	if html {
		hdr.Set("Content-Type", "text/html; charset=utf-8")
	} else {
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
	}
	hdr.Set("Content-Transfer-Encoding", "quoted-printable")
}

// writeQP writes the files' texts quoted-printable, in order, separated by a blank line. Line
// breaks (CRLF, LF, or a lone CR) become CRLF.
func writeQP(w io.Writer, files []provider.File) error {
	qpw := quotedprintable.NewWriter(w)
	qp := &lfWriter{w: qpw}
	for i, f := range files {
		if _, err := qp.Write(f.Data); err != nil {
			return err
		}
		if i == len(files)-1 {
			break
		}
		sep := "\n\n"
		if bytes.HasSuffix(f.Data, []byte("\n")) || len(f.Data) == 0 {
			sep = "\n"
		}
		if _, err := qp.Write([]byte(sep)); err != nil {
			return err
		}
	}
	return qpw.Close()
}

// lfWriter turns CRLF and lone CR into LF before quotedprintable.Writer sees the text: the
// writer loses a LF that follows "CR, an encoded byte" (it takes it for the LF of a CRLF).
type lfWriter struct {
	w  io.Writer
	cr bool // the last byte written was a CR, already written as LF
}

func (l *lfWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if l.cr && p[0] == '\n' {
			p = p[1:]
		}
		l.cr = false
		i := bytes.IndexByte(p, '\r')
		if i < 0 {
			if _, err := l.w.Write(p); err != nil {
				return 0, err
			}
			break
		}
		if _, err := l.w.Write(p[:i]); err != nil {
			return 0, err
		}
		if _, err := l.w.Write([]byte{'\n'}); err != nil {
			return 0, err
		}
		l.cr = true
		p = p[i+1:]
	}
	return n, nil
}

// writeAttachment writes f as a base64 attachment under its uploaded name.
func writeAttachment(mw *multipart.Writer, f provider.File) error {
	name := attachmentName(f)
	hdr := textproto.MIMEHeader{}
	hdr.Set("Content-Type", attachmentType(f)+";"+nameParam("name", name))
	hdr.Set("Content-Disposition", "attachment;"+nameParam("filename", name))
	hdr.Set("Content-Transfer-Encoding", "base64")
	w, err := mw.CreatePart(hdr)
	if err != nil {
		return err
	}
	const chunk = 57 // 57 bytes → 76 base64 characters, the RFC 2045 line limit
	var line [78]byte
	data := f.Data
	for len(data) > 0 {
		n := min(chunk, len(data))
		m := base64.StdEncoding.EncodedLen(n)
		base64.StdEncoding.Encode(line[:m], data[:n])
		line[m], line[m+1] = '\r', '\n'
		if _, err := w.Write(line[:m+2]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// maxNameBytes bounds an attachment's name; longer names are cut, keeping the extension.
const maxNameBytes = 255

// attachmentName is the uploaded file name (its last path element), else the form field name,
// else "attachment"; at most maxNameBytes, cut at a character boundary before the extension.
func attachmentName(f provider.File) string {
	name := f.Filename
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if name == "" || name == "." || name == ".." {
		name = f.Name
	}
	if name == "" {
		name = "attachment"
	}
	if len(name) <= maxNameBytes {
		return name
	}
	ext := path.Ext(name)
	if len(ext) > 16 {
		ext = ""
	}
	stem := name[:maxNameBytes-len(ext)]
	for len(stem) > 0 && !utf8.RuneStart(name[len(stem)]) {
		stem = stem[:len(stem)-1] // do not split a character
	}
	return stem + ext
}

// nameParam renders a file name parameter (filename, name) for a part header, with its leading
// space: `filename="a.pdf"` for short plain names, else RFC 2231 percent-encoded UTF-8 in
// continuations of at most 50 characters (filename*0*=utf-8 then two single quotes, then
// %C3%9Cber; filename*1*=...),
// folded onto their own lines, so no header line exceeds 78 characters and CR, LF or quotes in a
// name can never escape the parameter.
func nameParam(attr, name string) string {
	plain := len(name) <= 50
	for i := 0; i < len(name) && plain; i++ {
		c := name[i]
		plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\'
	}
	if plain && len(name) <= 20 {
		return " " + attr + `="` + name + `"`
	}
	if plain {
		return "\r\n " + attr + `="` + name + `"`
	}
	var b strings.Builder
	seg, n := 0, 0
	start := func() {
		if seg > 0 {
			b.WriteByte(';')
		}
		b.WriteString("\r\n ")
		b.WriteString(attr)
		b.WriteByte('*')
		b.WriteString(strconv.Itoa(seg))
		b.WriteString("*=")
		if seg == 0 {
			b.WriteString("utf-8''")
		}
		seg++
		n = 0
	}
	start()
	for i := 0; i < len(name); i++ {
		c := name[i]
		w := 3
		if attrChar(c) {
			w = 1
		}
		if n+w > 50 {
			start()
		}
		if w == 1 {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&15])
		}
		n += w
	}
	return b.String()
}

// attrChar: RFC 2231/5987 attr-char, which needs no percent-encoding.
func attrChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}

// commonTypes are looked up before mime.TypeByExtension, whose answer depends on the machine's
// /etc/mime.types (a Buildroot image may have none; Go's own table lacks .txt, .csv, .zip).
var commonTypes = map[string]string{
	".txt": "text/plain", ".log": "text/plain", ".csv": "text/csv", ".json": "application/json",
	".xml": "application/xml", ".pdf": "application/pdf", ".zip": "application/zip",
	".gz": "application/gzip", ".tar": "application/x-tar", ".png": "image/png",
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
	".svg": "image/svg+xml", ".bmp": "image/bmp", ".mp3": "audio/mpeg", ".wav": "audio/wav",
	".ogg": "audio/ogg", ".mp4": "video/mp4", ".html": "text/html", ".htm": "text/html",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

// attachmentType is the media type from the name's extension, else the uploaded part's
// Content-Type, else application/octet-stream; with its charset, if any.
func attachmentType(f provider.File) string {
	name := attachmentName(f)
	mt := ""
	if ext := strings.ToLower(path.Ext(name)); ext != "" {
		if mt = commonTypes[ext]; mt == "" {
			mt = mime.TypeByExtension(ext)
		}
	}
	if mt == "" {
		mt = f.MIME
	}
	t, params, err := mime.ParseMediaType(mt)
	if err != nil || t == "" || !strings.Contains(t, "/") || strings.HasPrefix(t, "multipart/") {
		return "application/octet-stream"
	}
	keep := map[string]string{}
	if cs, ok := params["charset"]; ok && len(cs) < 40 {
		keep["charset"] = cs
	}
	if s := mime.FormatMediaType(t, keep); s != "" && len(s) < 200 {
		return s
	}
	return "application/octet-stream"
}

// boundary is a fresh multipart boundary. It contains "=_", which neither quoted-printable nor
// base64 output can contain, so no part can ever collide with it.
func boundary(kind string) string {
	var r [8]byte
	binary.LittleEndian.PutUint64(r[:], rand.Uint64())
	return "=_mm_" + kind + "_" + hex.EncodeToString(r[:])
}

// writeHeader writes "Name: value" CRLF as it is (values of at most a few hundred bytes).
func writeHeader(b *bytes.Buffer, name, value string) {
	b.WriteString(name)
	b.WriteString(": ")
	b.WriteString(value)
	b.WriteString("\r\n")
}

// writeFolded writes an unstructured header whose value has only single spaces (encodeText's
// output), folding at spaces so that lines stay within 78 characters. Unfolding (RFC 5322
// §2.2.3) gives the value back exactly, because a fold replaces exactly one space.
func writeFolded(b *bytes.Buffer, name, value string) {
	b.WriteString(name)
	b.WriteByte(':')
	col := len(name) + 1
	for i, word := range strings.Split(value, " ") {
		if i > 0 && col+1+len(word) > 78 {
			b.WriteString("\r\n")
			col = 0
		}
		b.WriteByte(' ')
		b.WriteString(word)
		col += 1 + len(word)
	}
	b.WriteString("\r\n")
}

// writeAddressList writes an address-list header, one address per line when they do not fit.
func writeAddressList(b *bytes.Buffer, name string, list []*mail.Address) {
	b.WriteString(name)
	b.WriteString(": ")
	col := len(name) + 2
	for i, a := range list {
		s := a.String()
		if i > 0 {
			if col+2+len(s) > 78 {
				b.WriteString(",\r\n ")
				col = 1
			} else {
				b.WriteString(", ")
				col += 2
			}
		}
		b.WriteString(s)
		col += len(s)
	}
	b.WriteString("\r\n")
}

// encodeText makes s safe as the value of the unstructured header name (Subject): printable ASCII
// that survives folding and unfolding unchanged is kept as it is; anything else becomes RFC 2047
// Q-encoded words. Either way every word fits a 78-character line, the first one after the name.
func encodeText(name, s string) string {
	first := 78 - len(name) - 2
	if plainText(s, first) {
		return s
	}
	return qEncode(s, first)
}

// plainText: printable ASCII, single spaces between words, no space at either end, nothing that
// looks like an encoded word, and every word short enough for a line of its own (the first
// after the header name).
func plainText(s string, first int) bool {
	if strings.Contains(s, "=?") || strings.Contains(s, "  ") || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		return false
	}
	word, max := 0, first
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return false
		}
		if c == ' ' {
			word, max = 0, 77
			continue
		}
		if word++; word > max {
			return false
		}
	}
	return true
}

// qEncode renders s as space-separated "=?utf-8?q?…?=" words of at most 75 characters (the first
// at most first), split only between characters (RFC 2047 §5: a word never splits a character).
func qEncode(s string, first int) string {
	const prefix, suffix = "=?utf-8?q?", "?="
	room := min(75, first) - len(prefix) - len(suffix)
	var out, word strings.Builder
	flush := func() {
		if out.Len() > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(prefix)
		out.WriteString(word.String())
		out.WriteString(suffix)
		word.Reset()
		room = 75 - len(prefix) - len(suffix)
	}
	for i := 0; i < len(s); {
		_, n := utf8.DecodeRuneInString(s[i:])
		var enc [12]byte
		e := enc[:0]
		for _, c := range []byte(s[i : i+n]) {
			switch {
			case c == ' ':
				e = append(e, '_')
			case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!*+-/", c) >= 0:
				e = append(e, c)
			default:
				e = append(e, '=', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
			}
		}
		if word.Len()+len(e) > room && word.Len() > 0 {
			flush()
		}
		word.Write(e)
		i += n
	}
	if word.Len() > 0 || out.Len() == 0 {
		flush()
	}
	return out.String()
}
