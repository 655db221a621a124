package web

import (
	"bytes"
	"mime"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"multimsg/store"
)

// fastMultipart parses the multipart bodies that clients actually send (curl, Go, Python: no
// preamble, CRLF lines, Content-Disposition and Content-Type headers only) straight from the
// body, without mime/multipart's buffered reader and header maps, which cost about a sixth
// of the server's CPU per /send. It returns ok=false for anything else, valid or not: the
// caller then parses with mime/multipart, which also words every error. When it returns ok,
// its form is the one parseMultipartSlow makes; FuzzFastMultipart holds it to that.
func fastMultipart(body []byte, boundary string, lim Limits, params bool) (*form, bool) {
	delim := "--" + boundary
	rest, ok := bytes.CutPrefix(body, []byte(delim+"\r\n"))
	if !ok {
		return nil, false
	}
	sep := []byte("\r\n" + delim)
	f := &form{fields: map[string]string{}}
	seen := map[string]bool{}
	for {
		hdr, after, ok := bytes.Cut(rest, []byte("\r\n\r\n"))
		if !ok || len(hdr) > maxFastHeader {
			return nil, false
		}
		disp, ctype, ok := partHeaders(hdr)
		if !ok {
			return nil, false
		}
		// The part's data ends at the first CRLF--boundary, which must be followed by CRLF
		// (another part) or -- (the end). A body that begins with the bare --boundary, or a
		// delimiter followed by anything else (transport padding), is left to mime/multipart.
		if bytes.HasPrefix(after, []byte(delim)) {
			return nil, false
		}
		i := bytes.Index(after, sep)
		if i < 0 {
			return nil, false
		}
		data, next := after[:i], after[i+len(sep):]
		last := false
		switch {
		case bytes.HasPrefix(next, []byte("\r\n")):
			rest = next[2:]
		case bytes.HasPrefix(next, []byte("--")):
			if tail := next[2:]; len(tail) != 0 && string(tail) != "\r\n" {
				return nil, false
			}
			last = true
		default:
			return nil, false
		}

		d, dp, err := mime.ParseMediaType(disp)
		if err != nil || d != "form-data" {
			return nil, false
		}
		name := dp["name"]
		if name == "" || len(name) > maxNameLen || !utf8.ValidString(name) || seen[name] {
			return nil, false
		}
		seen[name] = true
		switch {
		case params && paramFields[name]:
			if len(data) > lim.MaxField {
				return nil, false
			}
			f.fields[name] = string(data)
		case len(data) > lim.MaxBody:
			return nil, false
		case name == "key":
			f.key = bytes.Clone(data)
		default:
			if len(f.files) == lim.MaxFiles {
				return nil, false
			}
			fn := dp["filename"]
			if fn != "" {
				fn = path.Base(strings.ReplaceAll(filepath.Base(fn), `\`, "/"))
				if len(fn) > 255 || !utf8.ValidString(fn) {
					return nil, false
				}
			}
			f.files = append(f.files, store.NewFile{Name: name, Filename: fn, MIME: partType(ctype), Data: bytes.Clone(data)})
		}
		if last {
			return f, true
		}
	}
}

// maxFastHeader bounds a part's header block on the fast path (mime/multipart has its own,
// larger limits, and words the error).
const maxFastHeader = 8 << 10

// partHeaders returns a part's Content-Disposition and Content-Type (empty if absent) when its
// header block holds those and nothing else, each once, on one line, with bytes that
// net/textproto takes as they are.
func partHeaders(hdr []byte) (disp, ctype string, ok bool) {
	var haveDisp, haveType bool
	for len(hdr) > 0 {
		line, more, _ := bytes.Cut(hdr, []byte("\r\n"))
		hdr = more
		k, v, found := bytes.Cut(line, []byte(":"))
		if !found {
			return "", "", false
		}
		v = bytes.TrimLeft(v, " \t")
		if len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
			return "", "", false
		}
		for _, c := range v {
			if c < 0x20 && c != '\t' || c == 0x7f {
				return "", "", false
			}
		}
		switch {
		case strings.EqualFold(string(k), "Content-Disposition") && !haveDisp:
			disp, haveDisp = string(v), true
		case strings.EqualFold(string(k), "Content-Type") && !haveType:
			ctype, haveType = string(v), true
		default:
			return "", "", false
		}
	}
	return disp, ctype, haveDisp
}
