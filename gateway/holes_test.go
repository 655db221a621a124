package gateway_test

import (
	"bytes"
	"mime/multipart"
	"net/textproto"
	"strings"
	"testing"

	"multimsg/gateway/gatewaytest"
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
