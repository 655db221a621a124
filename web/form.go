package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"strings"
	"time"

	"multimsg/store"
)

// Limits bound what one request may carry.
type Limits struct {
	MaxBody  int // bytes in a request body; default 32 MiB
	MaxFiles int // files in one upload; default 16
	MaxField int // bytes in one non-file field (type, info, dest…); default 64 KiB

	// The cost of a request (issue 11; cost.go).
	MaxForm       int           // bytes in a form body (/msg, /cons, admin routes); default 64 KiB
	MaxArgs       int           // fields in an urlencoded body; default 64
	BodyBudget    int           // bytes of upload bodies held at once, all requests; default 64 MiB
	BodyWait      time.Duration // how long an upload waits for room in BodyBudget before 503; default 5s
	MaxConnsPerIP int           // open connections from one client address; default 32
	Concurrency   int           // connections served at once; default 256
}

const maxNameLen = 128

// form is a parsed request: its files and its fields. Everything in it is a copy owned by the
// handler, safe to keep after the request ends.
type form struct {
	files  []store.NewFile
	key    []byte // the encrypted AES key part, when present
	fields map[string]string
}

// paramFields are the /msg parameters; in /send they are fields, every other part is a file.
var paramFields = map[string]bool{"serv": true, "dest": true, "type": true, "info": true, "sender": true, "id": true}

// parseMultipart reads a multipart/form-data body. With params, the parts named like /msg's
// parameters are fields; every other part (with or without a filename) is a file, except
// "key", the encrypted AES key.
func parseMultipart(contentType string, body []byte, lim Limits, params bool) (*form, error) {
	boundary, err := multipartBoundary(contentType)
	if err != nil {
		return nil, err
	}
	if f, ok := fastMultipart(body, boundary, lim, params); ok {
		return f, nil
	}
	return parseMultipartSlow(body, boundary, lim, params)
}

// parseMultipartSlow parses any multipart/form-data body with mime/multipart, and words the
// errors.
func parseMultipartSlow(body []byte, boundary string, lim Limits, params bool) (*form, error) {
	f := &form{fields: map[string]string{}}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	seen := map[string]bool{}
	scratch := make([]byte, 0, min(len(body), 16<<10))
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, badRequest("malformed multipart body: %v", err)
		}
		name := p.FormName()
		if err := checkPartName(name, seen); err != nil {
			return nil, err
		}
		if params && paramFields[name] {
			v, err := readLimited(p, lim.MaxField, &scratch)
			if err != nil {
				return nil, tooLarge("field %q is larger than %d bytes", name, lim.MaxField)
			}
			f.fields[name] = string(v)
			continue
		}
		data, err := readLimited(p, lim.MaxBody, &scratch)
		if err != nil {
			return nil, tooLarge("part %q is larger than %d bytes", name, lim.MaxBody)
		}
		if name == "key" {
			f.key = data
			continue
		}
		if len(f.files) == lim.MaxFiles {
			return nil, tooLarge("too many files: at most %d per job", lim.MaxFiles)
		}
		fn, err := partFilename(name, p.FileName())
		if err != nil {
			return nil, err
		}
		f.files = append(f.files, store.NewFile{Name: name, Filename: fn, MIME: partType(p.Header.Get("Content-Type")), Data: data})
	}
	return f, nil
}

// maxPartType bounds a part's Content-Type as stored.
const maxPartType = 255

// partType is the part's Content-Type as the job keeps it: the media type and its charset,
// nothing else, at most maxPartType bytes; "" when there is none worth keeping (absent,
// unparsable, too long), as if the client had sent none — the type then follows from the
// filename. The header is the client's, kept for as long as the job and handed to providers
// (an attachment's type): without this a part could carry kilobytes of parameters, outside
// the quota, into every mail (issue 11).
func partType(ct string) string {
	if ct == "" {
		return ""
	}
	mt, ps, err := mime.ParseMediaType(ct)
	if err != nil || !strings.Contains(mt, "/") {
		return ""
	}
	var out string
	if cs := ps["charset"]; cs != "" {
		out = mime.FormatMediaType(mt, map[string]string{"charset": strings.ToLower(cs)})
	} else {
		out = mime.FormatMediaType(mt, nil)
	}
	if len(out) > maxPartType {
		return ""
	}
	return out
}

// readLimited reads all of r, at most n bytes. It reads into scratch (grown as needed and
// handed back for the next part) and returns an exact-size copy: one allocation per part
// rather than io.ReadAll's doubling from 512 bytes.
func readLimited(r io.Reader, n int, scratch *[]byte) ([]byte, error) {
	buf := (*scratch)[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		k, err := r.Read(buf[len(buf):min(cap(buf), n+1)])
		buf = buf[:len(buf)+k]
		if len(buf) > n {
			*scratch = buf
			return nil, errors.New("too large")
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			*scratch = buf
			return nil, err
		}
	}
	*scratch = buf
	return bytes.Clone(buf), nil
}

// parseTypes decodes /msg's type: a JSON object of file name → type.
func parseTypes(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, badRequest("type: missing; give a JSON object naming a type for every file, e.g. {\"report\": \"file\"}")
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
		return nil, badRequest("type: not a JSON object of file name to type (e.g. {\"report\": \"file\"}): %s", jsonReason(err))
	}
	return m, nil
}

// parseInfo decodes /msg's info: a JSON object of service-specific parameters.
func parseInfo(s string) (map[string]json.RawMessage, json.RawMessage, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
		return nil, nil, badRequest("info: not a JSON object (e.g. {\"subject\": \"alarm\"}): %s", jsonReason(err))
	}
	raw, _ := json.Marshal(m) // compact, canonical: what is stored
	return m, raw, nil
}

func jsonReason(err error) string {
	if err == nil {
		return "null"
	}
	return err.Error()
}
