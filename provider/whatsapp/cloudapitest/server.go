// Package cloudapitest is a local HTTP server that behaves like the WhatsApp Business Cloud API
// for the parts a sender uses, written from Meta's documentation (not from our driver):
//
//   - POST /{version}/{phone-number-id}/messages — send a message
//     https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
//     https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages
//     (request: messaging_product, recipient_type, to, type and the type's object; answer:
//     {"messaging_product":"whatsapp","contacts":[{"input","wa_id"}],"messages":[{"id":"wamid…"}]})
//   - POST /{version}/{phone-number-id}/media — upload media (multipart/form-data: file with its
//     Content-Type, type = the MIME type, messaging_product = whatsapp; answer {"id": "<MEDIA_ID>"})
//     https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media
//     (supported media types and sizes: the same page, "Supported media types")
//   - template messages: https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates
//   - errors: the Graph error object with Meta's codes and HTTP statuses, see errors.go.
//
// It listens on 127.0.0.1 only. Tests turn knobs (expire a token, fail the next sends with a
// code, go down, close a recipient's 24-hour window) and read back what it received. It is a
// stand-in for a service we cannot reach from tests, shared by every package's end-to-end tests.
package cloudapitest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Account is a business phone number id and the access token allowed to use it.
type Account struct {
	PhoneNumberID string
	Token         string
}

// Template is an approved template: name, language code, and how many body parameters
// ({{1}}…{{n}}) its body has.
type Template struct {
	Name     string
	Language string
	Params   int
}

// Options configure a Server.
type Options struct {
	Version  string    // the Graph version segment served, "v21.0" when empty
	Accounts []Account // the phone numbers and tokens it knows; at least one
	// Templates are the approved templates; nil accepts any name and parameter count.
	Templates []Template
	// PairRateGap, when > 0, answers 131056 to a message that follows the previous one from
	// the same phone number to the same recipient by less than this.
	PairRateGap time.Duration
	// Logf, when set, gets a line per request (t.Logf).
	Logf func(format string, args ...any)
}

// DownMode is how the server fails when it is down.
type DownMode int

const (
	Up         DownMode = iota
	Down5xx             // every request: 502 with an HTML body, as a load balancer answers
	DownHangUp          // every request: the connection is closed without an answer
	DownRefuse          // the listener is closed: connection refused
)

// Upload is a media file the server received.
type Upload struct {
	PhoneNumberID string
	ID            string
	Type          string // the form's type field
	ContentType   string // the file part's Content-Type
	Filename      string // the file part's filename
	Data          []byte
	At            time.Time
}

// SentTemplate is a template message as received.
type SentTemplate struct {
	Name       string
	Language   string
	Policy     string
	BodyParams []string
}

// Message is a message the server accepted.
type Message struct {
	PhoneNumberID string
	To            string
	Type          string
	WAMID         string
	Text          string // text.body
	PreviewURL    bool
	MediaID       string
	Link          string
	Caption       string
	Filename      string
	Media         *Upload // the upload MediaID names
	Template      *SentTemplate
	Raw           []byte
	At            time.Time
}

// Rejection is an error answer the server gave.
type Rejection struct {
	Path    string
	Status  int
	Code    int
	Message string
	Details string
}

// Server is the fake Cloud API. Its methods are safe for concurrent use.
type Server struct {
	opt  Options
	addr string
	srv  *http.Server

	mu          sync.Mutex // guards everything below
	ln          net.Listener
	conns       map[net.Conn]struct{}
	closed      bool
	down        DownMode
	delay       time.Duration
	expired     map[string]bool
	failMsg     []Failure
	failUpload  []Failure
	closedWin   map[string]bool
	openWin     map[string]bool
	closedAll   bool
	unreachable map[string]bool
	lastPair    map[string]time.Time
	media       map[string]*Upload
	messages    []Message
	uploads     []Upload
	rejections  []Rejection
	requests    int
	changed     chan struct{} // closed and replaced whenever something is recorded
}

// New starts a server on 127.0.0.1 on a free port.
func New(o Options) (*Server, error) {
	if o.Version == "" {
		o.Version = "v21.0"
	}
	if len(o.Accounts) == 0 {
		return nil, errors.New("cloudapitest: no accounts")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		opt:         o,
		addr:        ln.Addr().String(),
		conns:       map[net.Conn]struct{}{},
		expired:     map[string]bool{},
		closedWin:   map[string]bool{},
		openWin:     map[string]bool{},
		unreachable: map[string]bool{},
		lastPair:    map[string]time.Time{},
		media:       map[string]*Upload{},
		changed:     make(chan struct{}),
	}
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		ConnState:         s.connState,
	}
	s.ln = ln
	go s.srv.Serve(ln)
	return s, nil
}

// Start is New for tests: it fails t on error and closes the server when t ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Logf == nil {
		o.Logf = t.Logf
	}
	s, err := New(o)
	if err != nil {
		t.Fatalf("cloudapitest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// URL is the API base a driver is configured with: "http://127.0.0.1:port/v21.0".
func (s *Server) URL() string { return "http://" + s.addr + "/" + s.opt.Version }

// Addr is host:port.
func (s *Server) Addr() string { return s.addr }

// Close stops the server and drops its connections.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	s.srv.Close()
}

func (s *Server) connState(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		s.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

// SetDown makes the server fail every request in mode m (Up: serve again). DownRefuse closes
// the listener and every open connection; Up listens on the same address again.
func (s *Server) SetDown(m DownMode) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.down
	s.down = m
	if m == DownRefuse && prev != DownRefuse {
		if s.ln != nil {
			s.ln.Close()
			s.ln = nil
		}
		for c := range s.conns {
			c.Close()
		}
	}
	if m != DownRefuse && s.ln == nil && !s.closed {
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			return fmt.Errorf("cloudapitest: listening again on %s: %w", s.addr, err)
		}
		s.ln = ln
		go s.srv.Serve(ln)
	}
	return nil
}

// SetDelay delays every answer by d (or until the client gives up).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// ExpireToken makes token answer 401, code 190 subcode 463 ("Session has expired").
func (s *Server) ExpireToken(token string) {
	s.mu.Lock()
	s.expired[token] = true
	s.mu.Unlock()
}

// RestoreToken undoes ExpireToken (the operator put in a fresh token).
func (s *Server) RestoreToken(token string) {
	s.mu.Lock()
	delete(s.expired, token)
	s.mu.Unlock()
}

// FailNext makes the next n messages (from any account) fail with Meta's documented error
// for code, e.g. FailNext(1, 130429) for a throughput error followed by success.
func (s *Server) FailNext(n int, code int) { s.FailNextWith(n, Failure{Code: code}) }

// FailNextWith makes the next n messages (or uploads, with f.Upload) fail with f.
func (s *Server) FailNextWith(n int, f Failure) {
	f = f.filled()
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		if f.Upload {
			s.failUpload = append(s.failUpload, f)
		} else {
			s.failMsg = append(s.failMsg, f)
		}
	}
}

// CloseWindow puts numbers outside the 24-hour customer service window: only template
// messages reach them (others: 131047).
func (s *Server) CloseWindow(numbers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range numbers {
		s.closedWin[n] = true
		delete(s.openWin, n)
	}
}

// OpenWindow puts numbers inside the window (the recipient wrote to us).
func (s *Server) OpenWindow(numbers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range numbers {
		delete(s.closedWin, n)
		s.openWin[n] = true
	}
}

// CloseAllWindows makes every recipient not opened with OpenWindow need a template.
func (s *Server) CloseAllWindows(closed bool) {
	s.mu.Lock()
	s.closedAll = closed
	s.mu.Unlock()
}

// Unreachable makes numbers answer 131026 (not a WhatsApp number).
func (s *Server) Unreachable(numbers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range numbers {
		s.unreachable[n] = true
	}
}

// Messages returns the messages accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Uploads returns the media uploads accepted so far, in order.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Upload(nil), s.uploads...)
}

// Rejections returns the error answers given so far (knob failures included).
func (s *Server) Rejections() []Rejection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rejection(nil), s.rejections...)
}

// Requests is the number of requests that reached the handler.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// WaitMessages waits until at least n messages were accepted, or ctx ends.
func (s *Server) WaitMessages(ctx context.Context, n int) ([]Message, error) {
	return waitGeneric(s, ctx, func() bool { return len(s.messages) >= n }, func() []Message { return append([]Message(nil), s.messages...) })
}

// WaitRequests waits until at least n requests reached the handler, or ctx ends.
func (s *Server) WaitRequests(ctx context.Context, n int) (int, error) {
	got, err := waitGeneric(s, ctx, func() bool { return s.requests >= n }, func() []int { return []int{s.requests} })
	return got[0], err
}

// WaitRejections waits until at least n error answers were given, or ctx ends.
func (s *Server) WaitRejections(ctx context.Context, n int) ([]Rejection, error) {
	return waitGeneric(s, ctx, func() bool { return len(s.rejections) >= n }, func() []Rejection { return append([]Rejection(nil), s.rejections...) })
}

func waitGeneric[T any](s *Server, ctx context.Context, cond func() bool, get func() []T) ([]T, error) {
	for {
		s.mu.Lock()
		if cond() {
			out := get()
			s.mu.Unlock()
			return out, nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			s.mu.Lock()
			out := get()
			s.mu.Unlock()
			return out, ctx.Err()
		}
	}
}

// notifyLocked wakes waiters; s.mu is held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// ---- request handling ----

var pathRe = regexp.MustCompile(`^/(v[0-9]+\.[0-9]+)/([^/]+)/([a-z_]+)/?$`)

func (s *Server) logf(format string, args ...any) {
	if s.opt.Logf != nil {
		s.opt.Logf("cloudapitest: "+format, args...)
	}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.notifyLocked()
	down, delay := s.down, s.delay
	s.mu.Unlock()
	s.logf("%s %s", r.Method, r.URL.Path)

	switch down {
	case Down5xx:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>\n")
		return
	case DownHangUp, DownRefuse:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}

	m := pathRe.FindStringSubmatch(r.URL.Path)
	if m == nil || m[1] != s.opt.Version {
		s.fail(w, r, Failure{Status: http.StatusBadRequest, Code: 2500, Message: "Unknown path components: " + r.URL.Path})
		return
	}
	phoneID, edge := m[2], m[3]
	if edge != "messages" && edge != "media" {
		s.fail(w, r, Failure{Status: http.StatusBadRequest, Code: 2500, Message: "Unknown path components: /" + edge})
		return
	}
	if r.Method != http.MethodPost {
		s.fail(w, r, Failure{Status: http.StatusBadRequest, Code: 100, Subcode: 33, Message: fmt.Sprintf("Unsupported %s request.", strings.ToLower(r.Method))})
		return
	}
	if f, ok := s.auth(r, phoneID); !ok {
		s.fail(w, r, f)
		return
	}
	s.mu.Lock()
	var knob *Failure
	if edge == "messages" && len(s.failMsg) > 0 {
		knob = &s.failMsg[0]
		s.failMsg = s.failMsg[1:]
	} else if edge == "media" && len(s.failUpload) > 0 {
		knob = &s.failUpload[0]
		s.failUpload = s.failUpload[1:]
	}
	s.mu.Unlock()
	if knob != nil {
		io.Copy(io.Discard, io.LimitReader(r.Body, maxUpload))
		s.fail(w, r, *knob)
		return
	}
	if edge == "media" {
		s.upload(w, r, phoneID)
		return
	}
	s.message(w, r, phoneID)
}

// auth checks the bearer token against the phone number id.
func (s *Server) auth(r *http.Request, phoneID string) (Failure, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return Failure{Status: http.StatusUnauthorized, Code: 190, Message: "Invalid OAuth access token - Cannot parse access token"}, false
	}
	s.mu.Lock()
	expired := s.expired[tok]
	s.mu.Unlock()
	if expired {
		return Failure{Status: http.StatusUnauthorized, Code: 190, Subcode: 463,
			Message: "Error validating access token: Session has expired on " + time.Now().Add(-time.Hour).UTC().Format("Monday, 02-Jan-06 15:04:05 MST") + "."}, false
	}
	known := false
	for _, a := range s.opt.Accounts {
		if a.Token == tok {
			known = true
			if a.PhoneNumberID == phoneID {
				return Failure{}, true
			}
		}
	}
	if !known {
		return Failure{Status: http.StatusUnauthorized, Code: 190, Message: "Invalid OAuth access token - Cannot parse access token"}, false
	}
	return Failure{Status: http.StatusBadRequest, Code: 100, Subcode: 33,
		Message: fmt.Sprintf("Unsupported post request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", phoneID)}, false
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, f Failure) {
	f = f.filled()
	trace := randomID(11, false)
	s.mu.Lock()
	s.rejections = append(s.rejections, Rejection{Path: r.URL.Path, Status: f.Status, Code: f.Code, Message: f.Message, Details: f.Details})
	s.notifyLocked()
	s.mu.Unlock()
	s.logf("-> %d code %d: %s %s", f.Status, f.Code, f.Message, f.Details)
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token" "`+strings.ReplaceAll(f.Message, `"`, `'`)+`"`)
	}
	writeJSON(w, f.Status, f.body(trace))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	w.Write(b)
}

func badParam(code int, details string) Failure {
	return Failure{Code: code, Details: details}
}

// ---- /media ----

const maxUpload = 100<<20 + 1<<20 // Meta's 100 MB cap on uploads, plus the form's overhead

// uploadTypes: Meta's supported media types and their size limits ("Supported media types").
var uploadTypes = map[string]int64{
	"audio/aac": 16 << 20, "audio/amr": 16 << 20, "audio/mpeg": 16 << 20, "audio/mp4": 16 << 20, "audio/ogg": 16 << 20,
	"text/plain": 100 << 20, "application/pdf": 100 << 20,
	"application/vnd.ms-excel": 100 << 20, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": 100 << 20,
	"application/msword": 100 << 20, "application/vnd.openxmlformats-officedocument.wordprocessingml.document": 100 << 20,
	"application/vnd.ms-powerpoint": 100 << 20, "application/vnd.openxmlformats-officedocument.presentationml.presentation": 100 << 20,
	"image/jpeg": 5 << 20, "image/png": 5 << 20, "image/webp": 500 << 10,
	"video/mp4": 16 << 20, "video/3gpp": 16 << 20,
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request, phoneID string) {
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		s.fail(w, r, badParam(100, "Upload media with a multipart/form-data body."))
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		s.fail(w, r, badParam(100, "Upload media with a multipart/form-data body."))
		return
	}
	u := Upload{PhoneNumberID: phoneID}
	var product string
	var haveFile bool
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				s.fail(w, r, Failure{Status: http.StatusRequestEntityTooLarge, Code: 100, Details: "The uploaded file is larger than 100 MB."})
				return
			}
			s.fail(w, r, badParam(100, "Malformed multipart body: "+err.Error()))
			return
		}
		data, err := io.ReadAll(p)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				s.fail(w, r, Failure{Status: http.StatusRequestEntityTooLarge, Code: 100, Details: "The uploaded file is larger than 100 MB."})
				return
			}
			s.fail(w, r, badParam(100, "Malformed multipart body: "+err.Error()))
			return
		}
		switch p.FormName() {
		case "messaging_product":
			product = string(data)
		case "type":
			u.Type = string(data)
		case "file":
			haveFile = true
			u.Filename = p.FileName()
			u.ContentType = p.Header.Get("Content-Type")
			u.Data = data
		default:
			s.fail(w, r, badParam(100, fmt.Sprintf("Param %s is not a valid parameter.", p.FormName())))
			return
		}
	}
	switch {
	case product != "whatsapp":
		s.fail(w, r, badParam(100, "The parameter messaging_product is required."))
		return
	case !haveFile:
		s.fail(w, r, badParam(100, "The parameter file is required."))
		return
	case u.Type == "":
		s.fail(w, r, badParam(100, "The parameter type is required."))
		return
	}
	limit, ok := uploadTypes[u.Type]
	if !ok {
		s.fail(w, r, badParam(100, fmt.Sprintf("Param file must be a file with one of the following types: %s. Received file of type '%s'.", typeList(), u.Type)))
		return
	}
	if ct, _, _ := mime.ParseMediaType(u.ContentType); ct != u.Type {
		s.fail(w, r, badParam(100, fmt.Sprintf("The file's Content-Type '%s' does not match type '%s'.", u.ContentType, u.Type)))
		return
	}
	if int64(len(u.Data)) > limit {
		s.fail(w, r, badParam(131053, fmt.Sprintf("Media file of type %s is %d bytes; the limit is %d bytes.", u.Type, len(u.Data), limit)))
		return
	}
	if len(u.Data) == 0 {
		s.fail(w, r, badParam(131053, "The media file is empty."))
		return
	}
	u.ID = randomID(16, true)
	u.At = time.Now()
	s.mu.Lock()
	s.uploads = append(s.uploads, u)
	cp := u
	s.media[u.ID] = &cp
	s.notifyLocked()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"id": u.ID})
}

func typeList() string {
	return "audio/aac, audio/amr, audio/mpeg, audio/mp4, audio/ogg, text/plain, application/pdf, application/vnd.ms-powerpoint, application/msword, application/vnd.ms-excel, application/vnd.openxmlformats-officedocument.wordprocessingml.document, application/vnd.openxmlformats-officedocument.presentationml.presentation, application/vnd.openxmlformats-officedocument.spreadsheetml.sheet, image/jpeg, image/png, image/webp, video/mp4, video/3gpp"
}

// ---- /messages ----

// messageKeys are the top-level keys of a documented message object.
var messageKeys = map[string]bool{
	"messaging_product": true, "recipient_type": true, "to": true, "type": true, "context": true,
	"biz_opaque_callback_data": true, "status": true, "message_id": true,
	"text": true, "image": true, "audio": true, "video": true, "document": true, "sticker": true,
	"template": true, "interactive": true, "location": true, "contacts": true, "reaction": true,
}

var toRe = regexp.MustCompile(`^\+?[0-9]{8,15}$`)

type mediaObj struct {
	ID       string  `json:"id"`
	Link     string  `json:"link"`
	Caption  *string `json:"caption"`
	Filename *string `json:"filename"`
}

type templateObj struct {
	Name     string `json:"name"`
	Language *struct {
		Code   string `json:"code"`
		Policy string `json:"policy"`
	} `json:"language"`
	Components []struct {
		Type       string `json:"type"`
		Parameters []struct {
			Type string  `json:"type"`
			Text *string `json:"text"`
		} `json:"parameters"`
	} `json:"components"`
}

func (s *Server) message(w http.ResponseWriter, r *http.Request, phoneID string) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		s.fail(w, r, badParam(100, "Send the message as a JSON body (Content-Type: application/json)."))
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		s.fail(w, r, badParam(100, "Could not read the request body."))
		return
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		s.fail(w, r, badParam(100, "The request body is not a JSON object: "+err.Error()))
		return
	}
	for k := range top {
		if !messageKeys[k] {
			s.fail(w, r, badParam(100, fmt.Sprintf("Param %s is not a valid parameter.", k)))
			return
		}
	}
	str := func(k string) (string, bool) {
		v, ok := top[k]
		if !ok {
			return "", false
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	}
	if p, _ := str("messaging_product"); p != "whatsapp" {
		s.fail(w, r, badParam(100, "The parameter messaging_product is required."))
		return
	}
	if rt, ok := str("recipient_type"); ok && rt != "individual" {
		s.fail(w, r, badParam(131009, "recipient_type must be individual."))
		return
	}
	to, ok := str("to")
	if !ok || to == "" {
		s.fail(w, r, badParam(100, "The parameter to is required."))
		return
	}
	if !toRe.MatchString(to) {
		s.fail(w, r, badParam(131009, "The parameter to must be a phone number in international format."))
		return
	}
	typ, ok := str("type")
	if !ok {
		typ = "text"
	}
	msg := Message{PhoneNumberID: phoneID, To: to, Type: typ, Raw: raw}
	obj, ok := top[typ]
	switch typ {
	case "text", "image", "audio", "video", "document", "template":
	default:
		s.fail(w, r, badParam(131051, fmt.Sprintf("Message type %s is not supported by this server.", typ)))
		return
	}
	if !ok {
		s.fail(w, r, badParam(131008, fmt.Sprintf("The parameter %s is required.", typ)))
		return
	}
	for _, k := range []string{"text", "image", "audio", "video", "document", "template"} {
		if _, present := top[k]; present && k != typ {
			s.fail(w, r, badParam(100, fmt.Sprintf("Param %s is not valid for a message of type %s.", k, typ)))
			return
		}
	}
	if f, ok := s.decodeObject(typ, obj, phoneID, &msg); !ok {
		s.fail(w, r, f)
		return
	}

	digits := strings.TrimPrefix(to, "+")
	now := time.Now()
	s.mu.Lock()
	unreachable := s.unreachable[digits]
	closedWin := s.closedWin[digits] || (s.closedAll && !s.openWin[digits])
	pairKey := phoneID + ">" + digits
	last, seen := s.lastPair[pairKey]
	s.mu.Unlock()
	switch {
	case unreachable:
		s.fail(w, r, Failure{Code: 131026})
		return
	case closedWin && typ != "template":
		s.fail(w, r, Failure{Code: 131047})
		return
	case s.opt.PairRateGap > 0 && seen && now.Sub(last) < s.opt.PairRateGap:
		s.fail(w, r, Failure{Code: 131056})
		return
	}

	msg.WAMID = "wamid." + randomID(48, false)
	msg.At = now
	s.mu.Lock()
	s.lastPair[pairKey] = now
	if msg.MediaID != "" {
		if u := s.media[msg.MediaID]; u != nil {
			cp := *u
			msg.Media = &cp
		}
	}
	s.messages = append(s.messages, msg)
	s.notifyLocked()
	s.mu.Unlock()
	out := map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []map[string]string{{"input": to, "wa_id": digits}},
	}
	m := map[string]string{"id": msg.WAMID}
	if typ == "template" {
		m["message_status"] = "accepted"
	}
	out["messages"] = []map[string]string{m}
	writeJSON(w, http.StatusOK, out)
}

// decodeObject validates the type's object and fills msg.
func (s *Server) decodeObject(typ string, obj json.RawMessage, phoneID string, msg *Message) (Failure, bool) {
	strict := func(v any) error {
		d := json.NewDecoder(bytes.NewReader(obj))
		d.DisallowUnknownFields()
		return d.Decode(v)
	}
	switch typ {
	case "text":
		var t struct {
			Body       *string `json:"body"`
			PreviewURL bool    `json:"preview_url"`
		}
		if err := strict(&t); err != nil {
			return badParam(100, "Invalid text object: "+err.Error()), false
		}
		if t.Body == nil || strings.TrimSpace(*t.Body) == "" {
			return badParam(100, "The parameter text['body'] is required."), false
		}
		if n := utf8.RuneCountInString(*t.Body); n > 4096 {
			return badParam(100, fmt.Sprintf("Param text['body'] must be at most 4096 characters long (got %d).", n)), false
		}
		msg.Text, msg.PreviewURL = *t.Body, t.PreviewURL
	case "image", "audio", "video", "document":
		var m mediaObj
		if err := strict(&m); err != nil {
			return badParam(100, fmt.Sprintf("Invalid %s object: %v", typ, err)), false
		}
		if (m.ID == "") == (m.Link == "") {
			return badParam(131008, fmt.Sprintf("Exactly one of %s['id'] and %s['link'] is required.", typ, typ)), false
		}
		if m.Caption != nil {
			if typ == "audio" {
				return badParam(100, "Param audio['caption'] is not a valid parameter."), false
			}
			if n := utf8.RuneCountInString(*m.Caption); n > 1024 {
				return badParam(100, fmt.Sprintf("Param %s['caption'] must be at most 1024 characters long (got %d).", typ, n)), false
			}
			msg.Caption = *m.Caption
		}
		if m.Filename != nil {
			if typ != "document" {
				return badParam(100, fmt.Sprintf("Param %s['filename'] is not a valid parameter.", typ)), false
			}
			msg.Filename = *m.Filename
		}
		if m.ID != "" {
			s.mu.Lock()
			u := s.media[m.ID]
			s.mu.Unlock()
			if u == nil || u.PhoneNumberID != phoneID {
				return badParam(131009, fmt.Sprintf("Invalid media id %s: not uploaded by this phone number.", m.ID)), false
			}
			if major := strings.SplitN(u.Type, "/", 2)[0]; (typ == "image" && major != "image") || (typ == "audio" && major != "audio") || (typ == "video" && major != "video") {
				return badParam(131053, fmt.Sprintf("Media %s is %s, which cannot be sent as %s.", m.ID, u.Type, typ)), false
			}
		}
		msg.MediaID, msg.Link = m.ID, m.Link
	case "template":
		var t templateObj
		if err := strict(&t); err != nil {
			return badParam(100, "Invalid template object: "+err.Error()), false
		}
		if t.Name == "" {
			return badParam(100, "The parameter template['name'] is required."), false
		}
		if t.Language == nil || t.Language.Code == "" {
			return badParam(100, "The parameter template['language']['code'] is required."), false
		}
		st := &SentTemplate{Name: t.Name, Language: t.Language.Code, Policy: t.Language.Policy}
		for _, c := range t.Components {
			if c.Type != "body" {
				continue
			}
			for _, p := range c.Parameters {
				if p.Type != "text" {
					continue
				}
				if p.Text == nil || *p.Text == "" {
					return badParam(131008, "Parameter text is required for a text parameter."), false
				}
				if strings.ContainsAny(*p.Text, "\n\t") || strings.Contains(*p.Text, "     ") {
					return Failure{Code: 132018}, false
				}
				st.BodyParams = append(st.BodyParams, *p.Text)
			}
		}
		if s.opt.Templates != nil {
			var found *Template
			for i, tp := range s.opt.Templates {
				if tp.Name == t.Name && tp.Language == t.Language.Code {
					found = &s.opt.Templates[i]
				}
			}
			if found == nil {
				return Failure{Code: 132001, Details: fmt.Sprintf("template name (%s) does not exist in %s", t.Name, t.Language.Code)}, false
			}
			if found.Params != len(st.BodyParams) {
				return Failure{Code: 132000, Details: fmt.Sprintf("body: number of localizable_params (%d) does not match the expected number of params (%d)", len(st.BodyParams), found.Params)}, false
			}
		}
		msg.Template = st
	}
	return Failure{}, true
}

// randomID is n random digits, or n random URL-safe base64 characters.
func randomID(n int, digits bool) string {
	if digits {
		var b strings.Builder
		for range n {
			d, _ := rand.Int(rand.Reader, big.NewInt(10))
			b.WriteByte(byte('0' + d.Int64()))
		}
		return b.String()
	}
	buf := make([]byte, n)
	rand.Read(buf)
	return base64.RawURLEncoding.EncodeToString(buf)[:n]
}
