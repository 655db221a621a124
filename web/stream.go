package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"multimsg/envelope"
	"multimsg/store"
)

// Streamed uploads (issue 11). A /data body larger than streamAbove, or chunked, is not read
// into memory: the handler parses it with mime/multipart straight off the connection and hands
// each file part to the store as a stream (store.Upload), which writes it in 1 MiB pieces. An
// upload then holds about a piece of memory whatever its size, and the budget of bodies in
// flight charges it streamCost instead of three times its body.
//
// /send still reads its body whole: the drivers' checks (Registry.Resolve) look at the files'
// contents before the job is stored, and /send carries messages, not bulk files.

const (
	// streamAbove: /data bodies larger than this (or chunked) are streamed; smaller ones take
	// the fast path of a body read whole (fastMultipart), which small-job ingest depends on.
	streamAbove = 1 << 20
	// streamCost is what a streamed upload is charged in the budget: a piece being read, the
	// piece bbolt copies at commit, and the parser's buffers.
	streamCost = 4 << 20
	// maxKeyPart bounds the "key" part of a streamed upload (an RSA-4096 wrapped key is 512
	// bytes, base64 or not).
	maxKeyPart = 16 << 10
)

// streamingKey marks a request whose body readBody left on the connection for dataStream.
const streamingKey = "multimsg.streaming"

// streams reports whether the body of a request under rule r with Content-Length cl (-1:
// chunked) is streamed.
func (r bodyRule) streams(cl int) bool { return r.stream && (cl < 0 || cl > streamAbove) }

// limitedBody counts a body as it is read and stops at max.
type limitedBody struct {
	r    io.Reader
	max  int
	left int
	over bool // the body went past max
	err  error
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte more tells a body of exactly max bytes from a larger one.
		var b [1]byte
		if n, _ := l.r.Read(b[:]); n > 0 {
			l.over = true
			return 0, errTooLargeBody
		}
		return 0, io.EOF
	}
	if len(p) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= n
	if err != nil && !errors.Is(err, io.EOF) {
		l.err = err
	}
	return n, err
}

var errTooLargeBody = errors.New("request body too large")

// partReader is a part being read; it keeps the last failure for the handler to word.
type partReader struct {
	r   io.Reader
	max int64
	n   int64
	err error
}

func (p *partReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n > p.max {
		p.err = errTooLargeBody
		return n, p.err
	}
	if err != nil && !errors.Is(err, io.EOF) {
		p.err = err
	}
	return n, err
}

// dataStream is POST /data for a streamed body.
func (s *Server) dataStream(ctx *fasthttp.RequestCtx) error {
	dev := DeviceOf(ctx)
	rule := s.rule(&Route{Body: BodyFiles})
	body := &limitedBody{r: ctx.RequestBodyStream(), max: rule.max, left: rule.max}
	u := s.o.Store.BeginUpload(dev.ID, dev.IP)
	defer u.Abort() // a no-op once committed
	key, err := streamParts(ctx, string(ctx.Request.Header.ContentType()), s.o.Limits, body, u)
	if err != nil {
		ctx.SetConnectionClose() // the rest of the body is unread
		return err
	}
	if key != nil {
		if err := s.openStreamed(ctx, dev.ID, key, u); err != nil {
			return err
		}
	}
	j, err := u.Commit(ctx, nil, keyDigest(key), "")
	if err != nil {
		return err
	}
	reply(ctx, 200, j.ID, map[string]string{"id": j.ID, "state": string(j.State)})
	return nil
}

// streamParts reads the multipart body, storing each file part as it arrives, under the same
// rules as parseMultipartSlow (without /send's fields); it returns the key part, if any.
func streamParts(ctx context.Context, contentType string, lim Limits, body *limitedBody, u *store.Upload) ([]byte, error) {
	boundary, err := multipartBoundary(contentType)
	if err != nil {
		return nil, err
	}
	cause := func(err error) error {
		if body.over {
			return tooLarge("request body too large: at most %d bytes on /data", body.max)
		}
		if body.err != nil {
			return badRequest("request body cut short: %v", body.err)
		}
		return badRequest("malformed multipart body: %v", err)
	}
	mr := multipart.NewReader(body, boundary)
	seen := map[string]bool{}
	var key []byte
	var scratch []byte
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, cause(err)
		}
		name := p.FormName()
		if err := checkPartName(name, seen); err != nil {
			return nil, err
		}
		if name == "key" {
			if key, err = readLimited(p, maxKeyPart, &scratch); err != nil {
				if body.over || body.err != nil {
					return nil, cause(err)
				}
				return nil, tooLarge("part %q is larger than %d bytes", name, maxKeyPart)
			}
			continue
		}
		if len(u.Files()) == lim.MaxFiles {
			return nil, tooLarge("too many files: at most %d per job", lim.MaxFiles)
		}
		fn, err := partFilename(name, p.FileName())
		if err != nil {
			return nil, err
		}
		pr := &partReader{r: p, max: int64(lim.MaxBody)}
		err = u.AddFile(ctx, store.NewFile{Name: name, Filename: fn, MIME: partType(p.Header.Get("Content-Type"))}, pr)
		var se *store.SourceError
		switch {
		case err == nil:
		case errors.As(err, &se) && errors.Is(pr.err, errTooLargeBody) && !body.over:
			return nil, tooLarge("part %q is larger than %d bytes", name, lim.MaxBody)
		case errors.As(err, &se):
			return nil, cause(se.Err)
		default:
			return nil, err // the store's: quota, disk full…
		}
	}
	if body.err != nil { // the parser ended without its closing boundary
		return nil, cause(body.err)
	}
	if len(u.Files()) == 0 {
		return nil, badRequest("no files: upload at least one file part (curl -F name=@file)")
	}
	return key, nil
}

// openStreamed decrypts the files of an encrypted streamed upload, one at a time: AES-GCM
// authenticates a file only once all of it is read, so its ciphertext and plain text are both
// held while it is opened — charged to the budget as such, the rest of the upload stays on
// disk.
func (s *Server) openStreamed(ctx *fasthttp.RequestCtx, dev string, key []byte, u *store.Upload) error {
	var op *envelope.Opener
	err := s.crypto.rsa(ctx, dev, func() (err error) {
		op, err = s.o.Key.Unwrap(key)
		return err
	})
	if err != nil {
		return err
	}
	for i, f := range u.Files() {
		cost := min(2*f.Size, s.budget.size-streamCost)
		if err := s.budget.take(ctx, cost); err != nil {
			return err
		}
		err := func() error {
			defer s.budget.sem.Release(cost)
			sealed, err := u.FileData(i)
			if err != nil {
				return err
			}
			plain, err := op.Open(f.Name, sealed)
			if err != nil {
				return err
			}
			return u.Replace(ctx, i, bytes.NewReader(plain))
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// multipartBoundary is the boundary of a multipart/form-data Content-Type, or the error that
// says this route takes nothing else.
func multipartBoundary(contentType string) (string, error) {
	mt, ps, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || ps["boundary"] == "" {
		if contentType == "" {
			contentType = "none"
		}
		return "", unsupported("this route takes multipart/form-data (got Content-Type %s); with curl: -F name=@file", contentType)
	}
	return ps["boundary"], nil
}

// checkPartName refuses a part without a usable, unique form name.
func checkPartName(name string, seen map[string]bool) error {
	if name == "" {
		return badRequest("a multipart part has no form field name (Content-Disposition: form-data; name=...)")
	}
	if len(name) > maxNameLen || !utf8.ValidString(name) {
		return badRequest("part name %.40q...: names are at most %d bytes of UTF-8", name, maxNameLen)
	}
	if seen[name] {
		return badRequest("part %q appears twice; every file needs its own name", name)
	}
	seen[name] = true
	return nil
}

// partFilename is a file part's uploaded name as kept: its base name, at most 255 bytes of UTF-8.
func partFilename(name, fn string) (string, error) {
	if fn == "" {
		return "", nil
	}
	fn = path.Base(strings.ReplaceAll(fn, `\`, "/"))
	if len(fn) > 255 || !utf8.ValidString(fn) {
		return "", badRequest("file %q: its filename is not at most 255 bytes of UTF-8", name)
	}
	return fn, nil
}
