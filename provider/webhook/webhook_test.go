package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"multimsg/provider"
)

func TestSendClassifies(t *testing.T) {
	var status int
	var gotSig, gotTS, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody, gotSig, gotTS = string(b), r.Header.Get(HeaderSignature), r.Header.Get(HeaderTimestamp)
		if status == 429 {
			w.Header().Set("Retry-After", "30")
		}
		w.WriteHeader(status)
		io.WriteString(w, "answer\x00\n")
	}))
	defer srv.Close()
	now := time.Unix(1_765_000_000, 0)
	d, err := New(Options{Name: "h", URL: srv.URL, Secret: "k", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	del := provider.Delivery{JobID: "j", Files: []provider.File{{Name: "sms", Type: "json", Data: []byte(`{"a":1}`)}}}
	for _, c := range []struct {
		status int
		class  provider.Class
		ok     bool
	}{{200, 0, true}, {204, 0, true}, {503, provider.Temporary, false}, {429, provider.Temporary, false}, {404, provider.Permanent, false}, {401, provider.Permanent, false}} {
		status = c.status
		_, err := d.Send(context.Background(), del)
		if c.ok != (err == nil) || (!c.ok && provider.ClassOf(err) != c.class) {
			t.Errorf("answer %d: err = %v (class %v), want ok %v class %v", c.status, err, provider.ClassOf(err), c.ok, c.class)
		}
		if c.status == 429 && provider.RetryAfterOf(err) != 30*time.Second {
			t.Errorf("429 Retry-After: %v", provider.RetryAfterOf(err))
		}
	}
	// the signature as a receiver checks it, with crypto/hmac, not with Sign
	m := hmac.New(sha256.New, []byte("k"))
	m.Write([]byte(strconv.FormatInt(now.Unix(), 10) + "." + gotBody))
	if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); gotSig != want || gotTS != "1765000000" || gotBody != `{"a":1}` {
		t.Errorf("signature %q ts %q body %q, want %q", gotSig, gotTS, gotBody, want)
	}
	// nobody listening: temporary
	srv.Close()
	if _, err := d.Send(context.Background(), del); provider.ClassOf(err) != provider.Temporary {
		t.Errorf("connection refused: %v, want temporary", err)
	}
}

func TestSendTimeoutBounded(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	d, err := New(Options{Name: "h", URL: srv.URL, Secret: "k", Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Send(context.Background(), provider.Delivery{Files: []provider.File{{Data: []byte(`{}`)}}})
	if err == nil || provider.ClassOf(err) != provider.Temporary || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a receiver that never answers: %v, want a temporary deadline error", err)
	}
}

func TestNewAndCheckRefuse(t *testing.T) {
	for _, o := range []Options{{URL: "ftp://x", Secret: "s"}, {URL: "http://x"}, {URL: "not a url", Secret: "s"}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) = nil error", o)
		}
	}
	d, _ := New(Options{URL: "http://127.0.0.1:9", Secret: "s"})
	for _, r := range []provider.Request{
		{Dest: "two words", Files: []provider.File{{Data: []byte(`{}`)}}},
		{Dest: strings.Repeat("x", MaxDest+1), Files: []provider.File{{Data: []byte(`{}`)}}},
		{Files: []provider.File{{Name: "f", Data: []byte(`{`)}}},
		{Files: []provider.File{{Name: "f", Data: make([]byte, MaxBody+1)}}},
		{Info: provider.Info{"a": []byte(`1`)}, Files: []provider.File{{Data: []byte(`{}`)}}},
	} {
		if err := d.Check(r); err == nil {
			t.Errorf("Check(%+v) = nil, want refused", r.Dest)
		}
	}
	if err := d.Check(provider.Request{Files: []provider.File{{Data: []byte(`{"ok":true}`)}}}); err != nil {
		t.Errorf("Check(valid) = %v", err)
	}
}
