package client

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"multimsg/envelope"
)

const (
	// maxAnswer bounds what we read of any answer; the longest legitimate one is the
	// public key (under 1 KiB) or a JSON error.
	maxAnswer = 64 << 10
	// maxMessage bounds the error text we keep from a non-JSON answer (an HTML page).
	maxMessage = 512
	// maxID bounds an id; the box's are 22-32 characters.
	maxID = 256
)

// File is one file of a job. Field is its form field, the name `type` refers to;
// Filename is kept by the box for attachment names (Field when empty); ContentType
// describes the plaintext (application/octet-stream when empty), also when the file
// is sent encrypted.
type File struct {
	Field       string
	Filename    string
	ContentType string
	Data        []byte
}

// Params are the delivery parameters of a job (POST /msg, or the fields of /send).
type Params struct {
	Service string            // serv: wpp1, mail, sms
	Dest    string            // dest
	Types   map[string]string // type: form field → type; nil omits it (only /send may)
	Info    map[string]any    // info: service-specific, nil omits it
	Sender  string            // sender: "" for the service's default
}

// State is a job's state as /cons answers it.
type State string

// The states of SPEC §1 /cons.
const (
	Preprocess State = "preprocess" // files uploaded, no parameters yet
	Queued     State = "queued"     // parameters given, not every file delivered yet
	Partial    State = "partial"    // finished: some files delivered, the rest failed
	Delivered  State = "delivered"  // finished: every file delivered
	Failed     State = "failed"     // finished: nothing delivered
)

// Finished reports whether s is final; the box archives a job once it has answered a
// finished state, so it cannot be consulted again.
func (s State) Finished() bool { return s == Partial || s == Delivered || s == Failed }

// Client talks to one box. It is safe for concurrent use.
type Client struct {
	base string
	hc   *http.Client

	mu      sync.Mutex
	pub     *rsa.PublicKey // the box's key, fetched once (guarded by mu)
	onRetry func(error)    // see SetRetryHook (guarded by mu)
}

// SetRetryHook makes WaitFinished call f with each temporary error it retries (the box
// restarting, over quota), so a user is not left staring at silence. f may be nil.
func (c *Client) SetRetryHook(f func(error)) {
	c.mu.Lock()
	c.onRetry = f
	c.mu.Unlock()
}

// New returns a client of the box at baseURL (e.g. "http://192.168.1.10:8080"; a URL
// without a scheme, "192.168.1.10:8080", means http). hc nil means a client with no
// overall timeout: bound each call with its ctx.
func New(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{}
	}
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc}
}

// SetPublicKey sets the box's public key so encrypted uploads skip GET /key (a load
// generator sending many jobs, or a key pinned out of band).
func (c *Client) SetPublicKey(pub *rsa.PublicKey) {
	c.mu.Lock()
	c.pub = pub
	c.mu.Unlock()
}

// Key fetches the box's public key (GET /key): parsed, and the PEM as served.
func (c *Client) Key(ctx context.Context) (*rsa.PublicKey, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/key", nil)
	if err != nil {
		return nil, nil, err
	}
	// Not JSON: the seed answers PEM, and PEM is what a person saving it wants.
	req.Header.Set("Accept", "application/x-pem-file, text/plain;q=0.9, */*;q=0.1")
	body, ctype, err := c.do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("GET /key: %w", err)
	}
	pemBytes := body
	if isJSON(ctype, body) {
		// A server that answers JSON anyway: take the string that holds the PEM.
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			for _, v := range m {
				if s, ok := v.(string); ok && strings.Contains(s, "PUBLIC KEY") {
					pemBytes = []byte(s)
					break
				}
			}
		}
	}
	pub, err := envelope.ParsePublicPEM(pemBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("GET /key: %w", err)
	}
	return pub, pemBytes, nil
}

func (c *Client) publicKey(ctx context.Context) (*rsa.PublicKey, error) {
	c.mu.Lock()
	pub := c.pub
	c.mu.Unlock()
	if pub != nil {
		return pub, nil
	}
	pub, _, err := c.Key(ctx)
	if err != nil {
		return nil, err
	}
	c.SetPublicKey(pub)
	return pub, nil
}

// Upload sends the files of a new job (POST /data) and returns its id. With encrypt,
// the box's key is fetched (once per Client), each file is sealed with a fresh AES-256
// key and the wrapped key goes as the "key" part.
func (c *Client) Upload(ctx context.Context, files []File, encrypt bool) (string, error) {
	body, ctype, err := c.multipart(ctx, files, nil, encrypt)
	if err != nil {
		return "", fmt.Errorf("POST /data: %w", err)
	}
	id, err := c.postID(ctx, "/data", ctype, body)
	if err != nil {
		return "", fmt.Errorf("POST /data: %w", err)
	}
	return id, nil
}

// Send uploads the files and sets the parameters in one request (POST /send) and
// returns the id of the queued job. p.Types may be nil where the box can infer the
// types. encrypt as for Upload.
func (c *Client) Send(ctx context.Context, files []File, p Params, encrypt bool) (string, error) {
	fields, err := p.values()
	if err != nil {
		return "", fmt.Errorf("POST /send: %w", err)
	}
	body, ctype, err := c.multipart(ctx, files, fields, encrypt)
	if err != nil {
		return "", fmt.Errorf("POST /send: %w", err)
	}
	id, err := c.postID(ctx, "/send", ctype, body)
	if err != nil {
		return "", fmt.Errorf("POST /send: %w", err)
	}
	return id, nil
}

// SetParams gives job id its delivery parameters (POST /msg, urlencoded).
func (c *Client) SetParams(ctx context.Context, id string, p Params) error {
	v, err := p.values()
	if err != nil {
		return fmt.Errorf("POST /msg: %w", err)
	}
	v.Set("id", id)
	s, err := c.postState(ctx, "/msg", v)
	if err != nil {
		return fmt.Errorf("POST /msg: %w", err)
	}
	if s != Queued {
		return fmt.Errorf("POST /msg: %w: %q, want %q", ErrAnswer, s, Queued)
	}
	return nil
}

// Consult asks for job id's state (POST /cons). A finished state archives the job on
// the box: after that, Consult answers an *APIError matching ErrNotFound.
func (c *Client) Consult(ctx context.Context, id string) (State, error) {
	s, err := c.postState(ctx, "/cons", url.Values{"id": {id}})
	if err != nil {
		return "", fmt.Errorf("POST /cons: %w", err)
	}
	switch s {
	case Preprocess, Queued, Partial, Delivered, Failed:
		return s, nil
	}
	return "", fmt.Errorf("POST /cons: %w: state %q", ErrAnswer, s)
}

// WaitFinished consults job id every poll until it is finished, calling progress (if
// not nil) with the first state and each change. Temporary failures (network errors,
// 429, 5xx: the box restarting, say) are retried at the same pace until ctx is done;
// other errors end the wait. Since the box archives a job when it answers a finished
// state, a finished answer lost on the way shows up as ErrNotFound.
func (c *Client) WaitFinished(ctx context.Context, id string, poll time.Duration, progress func(State)) (State, error) {
	if poll <= 0 {
		poll = time.Second
	}
	var last State
	var lastErr error
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return last, fmt.Errorf("%w (last error: %w)", context.Cause(ctx), lastErr)
			}
			return last, context.Cause(ctx)
		case <-t.C:
		}
		s, err := c.Consult(ctx, id)
		switch {
		case err == nil:
			lastErr = nil
			if s != last {
				last = s
				if progress != nil {
					progress(s)
				}
			}
			if s.Finished() {
				return s, nil
			}
		case temporary(err) && ctx.Err() == nil:
			lastErr = err
			c.mu.Lock()
			hook := c.onRetry
			c.mu.Unlock()
			if hook != nil {
				hook(err)
			}
		default:
			return last, err
		}
		t.Reset(poll)
	}
}

func temporary(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Temporary()
	}
	// Anything that is not an answer of the box (connection refused or reset while it
	// restarts) but not the caller's own cancellation.
	return !errors.Is(err, ErrAnswer) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// values encodes p as form fields; `type` and `info` as JSON objects.
func (p Params) values() (url.Values, error) {
	v := url.Values{}
	v.Set("serv", p.Service)
	v.Set("dest", p.Dest)
	if p.Types != nil {
		b, err := json.Marshal(p.Types)
		if err != nil {
			return nil, fmt.Errorf("type: %w", err)
		}
		v.Set("type", string(b))
	}
	if p.Info != nil {
		b, err := json.Marshal(p.Info)
		if err != nil {
			return nil, fmt.Errorf("info: %w", err)
		}
		v.Set("info", string(b))
	}
	if p.Sender != "" {
		v.Set("sender", p.Sender)
	}
	return v, nil
}

// reserved are the form fields of /send that are not files.
var reserved = map[string]bool{"id": true, "serv": true, "dest": true, "type": true, "info": true, "sender": true}

// multipart builds a /data or /send body: fields first, then the key part (so a box
// that streams can unwrap before the files arrive), then the files.
func (c *Client) multipart(ctx context.Context, files []File, fields url.Values, encrypt bool) (*bytes.Buffer, string, error) {
	if len(files) == 0 {
		return nil, "", fmt.Errorf("%w: no files", ErrFile)
	}
	seen := make(map[string]bool, len(files))
	for _, f := range files {
		switch {
		case f.Field == "":
			return nil, "", fmt.Errorf("%w: a file has no field name", ErrFile)
		case f.Field == envelope.KeyPart:
			return nil, "", fmt.Errorf("%w: field name %q is reserved for the encryption key; rename the file", ErrFile, f.Field)
		case fields != nil && reserved[f.Field]:
			return nil, "", fmt.Errorf("%w: field name %q is a parameter of /send; rename the file", ErrFile, f.Field)
		case seen[f.Field]:
			return nil, "", fmt.Errorf("%w: two files named %q", ErrFile, f.Field)
		case !utf8.ValidString(f.Field) || strings.ContainsAny(f.Field, "\r\n\x00"):
			return nil, "", fmt.Errorf("%w: field name %q has control characters", ErrFile, f.Field)
		}
		seen[f.Field] = true
	}
	var sealer *envelope.Sealer
	if encrypt {
		pub, err := c.publicKey(ctx)
		if err != nil {
			return nil, "", err
		}
		if sealer, err = envelope.NewSealer(pub); err != nil {
			return nil, "", err
		}
	}

	size := 1024
	for _, f := range files {
		size += len(f.Data) + envelope.Overhead + 256
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	mw := multipart.NewWriter(buf)
	for _, k := range []string{"serv", "dest", "type", "info", "sender"} {
		if v, ok := fields[k]; ok {
			if err := mw.WriteField(k, v[0]); err != nil {
				return nil, "", err
			}
		}
	}
	if sealer != nil {
		if err := writePart(mw, envelope.KeyPart, envelope.KeyPart, "application/octet-stream", sealer.WrappedKey()); err != nil {
			return nil, "", err
		}
	}
	for _, f := range files {
		data := f.Data
		if sealer != nil {
			data = sealer.Seal(data)
		}
		name := f.Filename
		if name == "" {
			name = f.Field
		}
		ct := f.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		if err := writePart(mw, f.Field, name, ct, data); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf, mw.FormDataContentType(), nil
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "%0D", "\n", "%0A")

func writePart(mw *multipart.Writer, field, filename, ctype string, data []byte) error {
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`,
		quoteEscaper.Replace(field), quoteEscaper.Replace(filename)))
	h.Set("Content-Type", ctype)
	w, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

func (c *Client) postID(ctx context.Context, path, ctype string, body *bytes.Buffer) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body.Bytes()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	answer, atype, err := c.do(req)
	if err != nil {
		return "", err
	}
	id, err := value(answer, atype, "id")
	if err != nil {
		return "", err
	}
	if len(id) == 0 || len(id) > maxID || strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~") != "" {
		return "", fmt.Errorf("%w: %.80q is not a job id", ErrAnswer, id)
	}
	return id, nil
}

func (c *Client) postState(ctx context.Context, path string, form url.Values) (State, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	answer, atype, err := c.do(req)
	if err != nil {
		return "", err
	}
	s, err := value(answer, atype, "state", "status")
	return State(s), err
}

// do sends req and returns the body of a 2xx answer, or an *APIError.
func (c *Client) do(req *http.Request) ([]byte, string, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, "", fmt.Errorf("reading the answer: %w", err)
	}
	ctype := resp.Header.Get("Content-Type")
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, "", &APIError{Status: resp.StatusCode, Message: errorMessage(body, ctype)}
	}
	if len(body) > maxAnswer {
		return nil, "", fmt.Errorf("%w: answer longer than %d bytes", ErrAnswer, maxAnswer)
	}
	return body, ctype, nil
}

func isJSON(ctype string, body []byte) bool {
	if mt, _, err := mime.ParseMediaType(ctype); err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return true
	}
	b := bytes.TrimSpace(body)
	return len(b) > 0 && (b[0] == '{' || b[0] == '"')
}

// value reads a one-value answer: plain text (the seed's), a JSON string, or a JSON
// object holding it under one of keys.
func value(body []byte, ctype string, keys ...string) (string, error) {
	if !isJSON(ctype, body) {
		s := strings.TrimSpace(string(body))
		if mt, _, _ := mime.ParseMediaType(ctype); mt == "text/html" || strings.HasPrefix(s, "<") {
			return "", fmt.Errorf("%w: an HTML page (is the URL the box's API?)", ErrAnswer)
		}
		return s, nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return "", fmt.Errorf("%w: bad JSON: %v", ErrAnswer, err)
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case map[string]any:
		for _, k := range keys {
			if s, ok := v[k].(string); ok {
				return s, nil
			}
		}
	}
	return "", fmt.Errorf("%w: JSON %.120s has no %q", ErrAnswer, bytes.TrimSpace(body), keys[0])
}

// errorMessage is the reason of a non-2xx answer: JSON {"error": ...}, else the text;
// valid UTF-8, at most maxMessage bytes and an ellipsis.
func errorMessage(body []byte, ctype string) string {
	s := string(body)
	if isJSON(ctype, body) {
		var m struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &m) == nil && m.Error != "" {
			s = m.Error
		}
	}
	s = strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
