package gateway_test

import (
	"bytes"
	"mime/multipart"
	"net/textproto"
	"strings"
	"testing"

	"multimsg/envelope"
	"multimsg/gateway/gatewaytest"
	"multimsg/store"
)

// Issue 11, item 6 over HTTP: a part's Content-Type is stored normalised, and a device gets
// 429 once it has max_preprocess uploads waiting for /msg.
func TestUploadCharges(t *testing.T) {
	g := gatewaytest.Start(t, `
[store]
max_preprocess = 2
[[mail.sender]]
name = "outbox"
maildir = "outbox"
`)
	upload := func(ctype string) (int, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="report"; filename="r.txt"`)
		h.Set("Content-Type", ctype)
		w, _ := mw.CreatePart(h)
		w.Write([]byte("hello"))
		mw.Close()
		return post(t, g, "/data", mw.FormDataContentType(), &b, false)
	}
	junk := "text/plain; charset=UTF-8; x-padding=" + strings.Repeat("z", 4000)
	code, id := upload(junk)
	if code != 200 {
		t.Fatalf("/data = %d %q", code, id)
	}
	files, err := g.Store.Data(id)
	if err != nil {
		t.Fatal(err)
	}
	if files[0].MIME != "text/plain; charset=utf-8" {
		t.Fatalf("stored Content-Type = %.80q, want text/plain; charset=utf-8", files[0].MIME)
	}
	if code, body := upload("text/plain"); code != 200 {
		t.Fatalf("second /data = %d %q", code, body)
	}
	code, body := upload("text/plain")
	if code != 429 || !strings.Contains(body, "waiting for /msg") {
		t.Fatalf("third /data with max_preprocess = 2: %d %q, want 429 saying why", code, body)
	}
}

// A copy of an encrypted upload, captured on the LAN and sent again, is refused while the
// store keeps the first job (issue 11, item 12); a fresh key for the same files is not a
// replay.
func TestEncryptedReplayRefused(t *testing.T) {
	g := gatewaytest.Start(t, `
[[mail.sender]]
name = "outbox"
maildir = "outbox"
`)
	sealer, err := envelope.NewSealer(g.Key.Public())
	if err != nil {
		t.Fatal(err)
	}
	body, ct := multipartBody(part{name: "report", filename: "r.txt", data: sealer.Seal([]byte("door open"))},
		part{name: "key", filename: "key", data: sealer.WrappedKey()})
	captured := body.Bytes()
	code, id := post(t, g, "/data", ct, bytes.NewBuffer(bytes.Clone(captured)), false)
	if code != 200 || !store.ValidID(id) {
		t.Fatalf("/data = %d %q", code, id)
	}
	code, answer := post(t, g, "/data", ct, bytes.NewBuffer(bytes.Clone(captured)), false)
	if code != 409 || !strings.Contains(answer, "received before") || strings.Contains(answer, id) {
		t.Fatalf("replayed /data = %d %q, want 409 saying so without naming the first job", code, answer)
	}
	if c, _ := g.Store.Counts(); c[store.Preprocess] != 1 {
		t.Fatalf("the replay stored a job: %v", c)
	}
	fresh, _ := envelope.NewSealer(g.Key.Public())
	body, ct = multipartBody(part{name: "report", filename: "r.txt", data: fresh.Seal([]byte("door open"))},
		part{name: "key", filename: "key", data: fresh.WrappedKey()})
	if code, answer := post(t, g, "/data", ct, body, false); code != 200 {
		t.Fatalf("the same file under a fresh key = %d %q, want 200", code, answer)
	}
}
