package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"multimsg/envelope"
)

var boxKey = sync.OnceValues(func() (*envelope.Key, error) {
	return envelope.LoadOrCreate(tmpDir)
})

var tmpDir string

// TestMain makes one box key for the package's tests (RSA-3072 generation is slow).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "client-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func key(t testing.TB) *envelope.Key {
	t.Helper()
	k, err := boxKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// part is one multipart part as the box receives it.
type part struct {
	field, filename, ctype string
	data                   []byte
}

// upload is what a wire-format check sees of a /data or /send request.
type upload struct {
	accept string
	fields map[string]string // non-file parts
	parts  []part            // file parts, in order, the key part included
}

func parseUpload(t *testing.T, r *http.Request) upload {
	t.Helper()
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		t.Errorf("Content-Type = %q, want multipart/form-data", r.Header.Get("Content-Type"))
		return upload{}
	}
	u := upload{accept: r.Header.Get("Accept"), fields: map[string]string{}}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Errorf("bad multipart: %v", err)
			return u
		}
		data, _ := io.ReadAll(p)
		if p.FileName() == "" {
			u.fields[p.FormName()] = string(data)
			continue
		}
		u.parts = append(u.parts, part{p.FormName(), p.FileName(), p.Header.Get("Content-Type"), data})
	}
	return u
}

// decrypt opens u's files as the box would; it fails t when the wire format is wrong.
func (u upload) decrypt(t *testing.T, k *envelope.Key) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	var o *envelope.Opener
	for _, p := range u.parts {
		if p.field == envelope.KeyPart {
			var err error
			if o, err = k.Unwrap(p.data); err != nil {
				t.Fatalf("box: %v", err)
			}
		}
	}
	for _, p := range u.parts {
		if p.field == envelope.KeyPart {
			continue
		}
		if o == nil {
			out[p.field] = p.data
			continue
		}
		plain, err := o.Open(p.field, p.data)
		if err != nil {
			t.Fatalf("box: %v", err)
		}
		out[p.field] = plain
	}
	return out
}

var testFiles = []File{
	{Field: "body", Filename: "body.txt", ContentType: "text/plain; charset=utf-8", Data: []byte("Puerta abierta\n")},
	{Field: "photo", Filename: `cam "1".jpg`, ContentType: "image/jpeg", Data: bytes.Repeat([]byte{0xff, 0xd8}, 5000)},
	{Field: "empty", Data: nil},
}

func TestUploadWireFormat(t *testing.T) {
	k := key(t)
	for _, encrypt := range []bool{false, true} {
		t.Run(fmt.Sprint("encrypt=", encrypt), func(t *testing.T) {
			var got upload
			var keyFetches int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.Method + " " + r.URL.Path {
				case "GET /key":
					keyFetches++
					w.Header().Set("Content-Type", "application/x-pem-file")
					w.Write(k.PublicPEM())
				case "POST /data":
					got = parseUpload(t, r)
					fmt.Fprint(w, "AbC-123_xyz")
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			c := New(srv.URL+"/", srv.Client())
			for range 2 {
				id, err := c.Upload(context.Background(), testFiles, encrypt)
				if err != nil {
					t.Fatal(err)
				}
				if id != "AbC-123_xyz" {
					t.Errorf("Upload id = %q, want AbC-123_xyz", id)
				}
			}
			if want := map[bool]int{false: 0, true: 1}[encrypt]; keyFetches != want {
				t.Errorf("GET /key fetched %d times for two uploads, want %d", keyFetches, want)
			}
			if got.accept != "application/json" {
				t.Errorf("Accept = %q, want application/json", got.accept)
			}
			if len(got.fields) != 0 {
				t.Errorf("/data had non-file fields %v", got.fields)
			}
			wantParts := len(testFiles)
			if encrypt {
				wantParts++
				if got.parts[0].field != envelope.KeyPart || got.parts[0].filename == "" {
					t.Errorf("first part = %q (filename %q), want the key part as a file", got.parts[0].field, got.parts[0].filename)
				}
				if n := len(got.parts[0].data); n != 384 {
					t.Errorf("key part is %d bytes, want 384 (RSA-3072)", n)
				}
			}
			if len(got.parts) != wantParts {
				t.Fatalf("%d file parts, want %d", len(got.parts), wantParts)
			}
			plain := got.decrypt(t, k)
			for i, f := range testFiles {
				p := got.parts[len(got.parts)-len(testFiles)+i]
				wantName, wantCT := f.Filename, f.ContentType
				if wantName == "" {
					wantName = f.Field
				}
				if wantCT == "" {
					wantCT = "application/octet-stream"
				}
				if p.field != f.Field || p.filename != wantName || p.ctype != wantCT {
					t.Errorf("part %d = field %q filename %q type %q, want %q %q %q", i, p.field, p.filename, p.ctype, f.Field, wantName, wantCT)
				}
				if encrypt && len(p.data) != len(f.Data)+envelope.Overhead {
					t.Errorf("part %q is %d bytes, want %d sealed", f.Field, len(p.data), len(f.Data)+envelope.Overhead)
				}
				if !bytes.Equal(plain[f.Field], f.Data) {
					t.Errorf("box got %q = %d bytes, differs from the %d sent", f.Field, len(plain[f.Field]), len(f.Data))
				}
			}
		})
	}
}

func TestSendWireFormat(t *testing.T) {
	k := key(t)
	var got upload
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/key":
			w.Write(k.PublicPEM())
		case "/send":
			got = parseUpload(t, r)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"id": "j1"}`)
		}
	}))
	defer srv.Close()
	c := New(srv.URL, nil)
	p := Params{
		Service: "mail", Dest: "a@example.org,b@example.org",
		Types:  map[string]string{"body": "text", "photo": "file", "empty": "file"},
		Info:   map[string]any{"subject": "Puerta"},
		Sender: "alerts",
	}
	id, err := c.Send(context.Background(), testFiles, p, true)
	if err != nil || id != "j1" {
		t.Fatalf("Send = %q, %v; want j1", id, err)
	}
	if got.fields["serv"] != "mail" || got.fields["dest"] != p.Dest || got.fields["sender"] != "alerts" {
		t.Errorf("fields = %v", got.fields)
	}
	var types map[string]string
	if err := json.Unmarshal([]byte(got.fields["type"]), &types); err != nil || len(types) != 3 || types["body"] != "text" {
		t.Errorf("type = %q (%v), want the JSON of %v", got.fields["type"], err, p.Types)
	}
	if got.fields["info"] != `{"subject":"Puerta"}` {
		t.Errorf("info = %q", got.fields["info"])
	}
	if plain := got.decrypt(t, k); !bytes.Equal(plain["body"], testFiles[0].Data) {
		t.Errorf("box got body %q", plain["body"])
	}

	// No types, no info, no sender: those fields are absent, not empty.
	if _, err := c.Send(context.Background(), testFiles[:1], Params{Service: "sms", Dest: "5491112345678"}, false); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"type", "info", "sender"} {
		if v, ok := got.fields[f]; ok {
			t.Errorf("field %s = %q sent, want absent", f, v)
		}
	}
}

func TestUploadRejectsBadFiles(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request sent for bad files: %s %s", r.Method, r.URL)
	}))
	defer srv.Close()
	c := New(srv.URL, nil)
	for name, files := range map[string][]File{
		"none":      nil,
		"no field":  {{Data: []byte("x")}},
		"key":       {{Field: "key", Data: []byte("x")}},
		"duplicate": {{Field: "a"}, {Field: "a"}},
		"newline":   {{Field: "a\r\nX-Evil: 1"}},
	} {
		if _, err := c.Upload(context.Background(), files, false); !errors.Is(err, ErrFile) {
			t.Errorf("Upload(%s) = %v, want ErrFile", name, err)
		}
	}
	if _, err := c.Send(context.Background(), []File{{Field: "dest"}}, Params{}, false); !errors.Is(err, ErrFile) {
		t.Errorf("Send(file named dest) = %v, want ErrFile", err)
	}
}

func TestSetParamsAndConsult(t *testing.T) {
	var form url.Values
	var ctype string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctype = r.Header.Get("Content-Type")
		r.ParseForm()
		form = r.PostForm
		switch r.URL.Path {
		case "/msg":
			fmt.Fprint(w, "queued\n")
		case "/cons":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			fmt.Fprint(w, `{"state":"partial"}`)
		}
	}))
	defer srv.Close()
	c := New(srv.URL, nil)
	p := Params{Service: "wpp1", Dest: "5491112345678", Types: map[string]string{"a": "image"}, Info: map[string]any{"caption": "hola"}}
	if err := c.SetParams(context.Background(), "j1", p); err != nil {
		t.Fatal(err)
	}
	if ctype != "application/x-www-form-urlencoded" {
		t.Errorf("/msg Content-Type = %q", ctype)
	}
	want := url.Values{"id": {"j1"}, "serv": {"wpp1"}, "dest": {"5491112345678"}, "type": {`{"a":"image"}`}, "info": {`{"caption":"hola"}`}}
	if form.Encode() != want.Encode() {
		t.Errorf("/msg form = %v, want %v", form, want)
	}
	s, err := c.Consult(context.Background(), "j1")
	if err != nil || s != Partial {
		t.Errorf("Consult = %q, %v; want partial", s, err)
	}
	if form.Get("id") != "j1" || len(form) != 1 {
		t.Errorf("/cons form = %v", form)
	}
}

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name, ctype, body string
		status            int
		want              string
		notFound, temp    bool
	}{
		{"json", "application/json", `{"error": "file \"photo\": authentication failed"}`, 400, `file "photo": authentication failed`, false, false},
		{"plain", "text/plain; charset=utf-8", "unknown id\n", 404, "unknown id", true, false},
		{"json without error", "application/json", `{"detail": "x"}`, 413, `{"detail": "x"}`, false, false},
		{"json body, wrong type", "text/plain", `{"error":"over quota"}`, 429, "over quota", false, true},
		{"empty", "", "", 503, "", false, true},
		{"html", "text/html", "<html>" + strings.Repeat("x", 2000), 502, "<html>" + strings.Repeat("x", maxMessage-6) + "…", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			_, err := New(srv.URL, nil).Consult(context.Background(), "x")
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("Consult = %v, want an *APIError", err)
			}
			if ae.Status != tt.status || ae.Message != tt.want {
				t.Errorf("APIError = %d %q, want %d %q", ae.Status, ae.Message, tt.status, tt.want)
			}
			if errors.Is(err, ErrNotFound) != tt.notFound {
				t.Errorf("errors.Is(%v, ErrNotFound) = %v", err, !tt.notFound)
			}
			if ae.Temporary() != tt.temp {
				t.Errorf("Temporary() = %v, want %v", ae.Temporary(), tt.temp)
			}
			if !strings.Contains(err.Error(), fmt.Sprint(tt.status)) {
				t.Errorf("Error() = %q does not give the status", err)
			}
		})
	}
}

func TestUnexpectedAnswers(t *testing.T) {
	for name, body := range map[string]string{
		"html page":   "<!doctype html><title>router login</title>",
		"empty":       "",
		"bad id":      "id with spaces",
		"json no id":  `{"job": "x"}`,
		"bad json":    `{"id": `,
		"long id":     strings.Repeat("a", maxID+1),
		"json number": `{"id": 7}`,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) }))
		_, err := New(srv.URL, nil).Upload(context.Background(), testFiles[:1], false)
		if !errors.Is(err, ErrAnswer) {
			t.Errorf("Upload answered %s: err = %v, want ErrAnswer", name, err)
		}
		srv.Close()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "archived") }))
	defer srv.Close()
	if _, err := New(srv.URL, nil).Consult(context.Background(), "x"); !errors.Is(err, ErrAnswer) {
		t.Errorf("Consult answered an unknown state: err = %v, want ErrAnswer", err)
	}
	if err := New(srv.URL, nil).SetParams(context.Background(), "x", Params{}); !errors.Is(err, ErrAnswer) {
		t.Errorf("SetParams answered other than queued: err = %v, want ErrAnswer", err)
	}
}

func TestKey(t *testing.T) {
	k := key(t)
	for name, tt := range map[string]struct {
		body string
		ok   bool
	}{
		"pem":          {string(k.PublicPEM()), true},
		"json wrapped": {func() string { b, _ := json.Marshal(map[string]string{"key": string(k.PublicPEM())}); return string(b) }(), true},
		"garbage":      {"hello", false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, tt.body) }))
		pub, pemBytes, err := New(srv.URL, nil).Key(context.Background())
		srv.Close()
		if tt.ok {
			if err != nil || !pub.Equal(k.Public()) || !bytes.Equal(pemBytes, k.PublicPEM()) {
				t.Errorf("Key(%s) = %v, %v", name, pub, err)
			}
		} else if !errors.Is(err, envelope.ErrPublicKey) {
			t.Errorf("Key(%s) err = %v, want envelope.ErrPublicKey", name, err)
		}
	}
}

// fakeBox is a scripted /cons: it answers the states in order, archiving on a finished
// one as the box does.
type fakeBox struct {
	mu       sync.Mutex
	answers  []func(w http.ResponseWriter) // one per /cons
	consults int
}

func (b *fakeBox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch r.URL.Path {
	case "/data":
		fmt.Fprint(w, "job1")
	case "/msg":
		fmt.Fprint(w, "queued")
	case "/cons":
		if b.consults >= len(b.answers) {
			http.Error(w, "unknown id", http.StatusNotFound)
			return
		}
		b.answers[b.consults](w)
		b.consults++
	}
}

func state(s string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { fmt.Fprint(w, s) }
}

func status(code int) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { http.Error(w, "store unavailable", code) }
}

func TestWaitFinished(t *testing.T) {
	box := &fakeBox{answers: []func(http.ResponseWriter){
		state("queued"), state("queued"), status(503), state("queued"), status(429), state("delivered"),
	}}
	srv := httptest.NewServer(box)
	defer srv.Close()
	var seen []State
	s, err := New(srv.URL, nil).WaitFinished(context.Background(), "job1", time.Millisecond, func(s State) { seen = append(seen, s) })
	if err != nil || s != Delivered {
		t.Fatalf("WaitFinished = %q, %v; want delivered", s, err)
	}
	if fmt.Sprint(seen) != "[queued delivered]" {
		t.Errorf("progress saw %v, want [queued delivered] (changes only)", seen)
	}
	if box.consults != 6 {
		t.Errorf("%d consults, want 6 (none after the finished answer)", box.consults)
	}
}

func TestWaitFinishedStops(t *testing.T) {
	// A 404 (archived, or not ours) ends the wait with ErrNotFound.
	srv := httptest.NewServer(&fakeBox{answers: []func(http.ResponseWriter){state("queued")}})
	defer srv.Close()
	s, err := New(srv.URL, nil).WaitFinished(context.Background(), "job1", time.Millisecond, nil)
	if !errors.Is(err, ErrNotFound) || s != Queued {
		t.Errorf("WaitFinished = %q, %v; want queued, ErrNotFound", s, err)
	}

	// A box that stays down: ctx ends the wait, and the error says what happened last.
	down := httptest.NewServer(&fakeBox{answers: []func(http.ResponseWriter){
		status(503), status(503), status(503), status(503), status(503), status(503), status(503), status(503),
	}})
	defer down.Close()
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	c := New(down.URL, &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		n++
		if n == 3 {
			cancel()
		}
		return http.DefaultTransport.RoundTrip(r)
	})})
	_, err = c.WaitFinished(ctx, "job1", time.Millisecond, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("WaitFinished(cancelled) = %v, want context.Canceled", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestDeliver(t *testing.T) {
	box := &fakeBox{answers: []func(http.ResponseWriter){state("queued"), state("failed")}}
	srv := httptest.NewServer(box)
	defer srv.Close()
	var steps []string
	id, s, err := New(srv.URL, nil).Deliver(context.Background(), testFiles[:1], Params{Service: "sms", Dest: "5491112345678"}, false, time.Millisecond,
		func(id string, s State) { steps = append(steps, id+":"+string(s)) })
	if err != nil || id != "job1" || s != Failed {
		t.Fatalf("Deliver = %q, %q, %v", id, s, err)
	}
	if got := strings.Join(steps, " "); got != "job1:preprocess job1:queued job1:failed" {
		t.Errorf("progress = %s", got)
	}
	if err := Outcome(s); !errors.Is(err, ErrNotDelivered) || !strings.Contains(err.Error(), "nothing was delivered") {
		t.Errorf("Outcome(failed) = %v", err)
	}
	if err := Outcome(Delivered); err != nil {
		t.Errorf("Outcome(delivered) = %v", err)
	}
}

func TestRetryHook(t *testing.T) {
	srv := httptest.NewServer(&fakeBox{answers: []func(http.ResponseWriter){status(503), status(429), state("delivered")}})
	defer srv.Close()
	c := New(srv.URL, nil)
	var retried []int
	c.SetRetryHook(func(err error) {
		var ae *APIError
		if errors.As(err, &ae) {
			retried = append(retried, ae.Status)
		}
	})
	if s, err := c.WaitFinished(context.Background(), "job1", time.Millisecond, nil); err != nil || s != Delivered {
		t.Fatalf("WaitFinished = %q, %v", s, err)
	}
	if fmt.Sprint(retried) != "[503 429]" {
		t.Errorf("retry hook saw %v, want [503 429]", retried)
	}
}

func TestNewWithoutScheme(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "queued") }))
	defer srv.Close()
	s, err := New(strings.TrimPrefix(srv.URL, "http://"), nil).Consult(context.Background(), "x")
	if err != nil || s != Queued {
		t.Errorf("Consult via a URL without scheme = %q, %v", s, err)
	}
}
