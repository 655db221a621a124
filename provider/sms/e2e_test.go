package sms_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"multimsg/config"
	"multimsg/gateway"
	"multimsg/modem/modemsim"
)

// TestEndToEndSendThroughHTTP runs the whole gateway in-process on loopback with one modem
// sender whose device is the scripted modem's by-id style path, posts an SMS job to /send and
// consults /cons until it is delivered; then checks the text the modem "sent".
func TestEndToEndSendThroughHTTP(t *testing.T) {
	dir := t.TempDir()
	sim := modemsim.New(modemsim.Profile{PIN: "2468", NoisyURCs: true, RegisterAt: 2}, testLog(t))
	if err := sim.Start(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()

	cfg, err := config.Parse(fmt.Sprintf(`
listen = "127.0.0.1:0"
data_dir = %q
interface = ""
[delivery]
retry_min = "100ms"
retry_max = "500ms"
[[sms.sender]]
name = "modem1"
device = %q
pin = "2468"
segments = 3
timeout = "2s"
`, dir, sim.Path()), "e2e")
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(cfg, gateway.Options{Log: testLog(t), Console: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	base := "http://" + g.Addr().String()

	text := "Einbruchalarm Lager 2: Tür offen seit 03:12 {Zone B} – bitte prüfen"
	id := postSend(t, base, map[string]string{"serv": "sms", "dest": "491701234567"}, "alarm.txt", text+"\n")

	// Too long for the configured 3 segments: refused at once, naming the file and the count.
	code, body := postSendRaw(t, base, map[string]string{"serv": "sms", "dest": "491701234567"}, "long.txt", strings.Repeat("a", 500))
	if code != http.StatusBadRequest || !strings.Contains(body, `"body" (long.txt) needs 4 SMS segments`) {
		t.Errorf("/send of a 4-segment text = %d %q", code, body)
	}
	// A bad dest is refused too.
	code, body = postSendRaw(t, base, map[string]string{"serv": "sms", "dest": "+49 170"}, "a.txt", "x")
	if code != http.StatusBadRequest || !strings.Contains(body, "dest") {
		t.Errorf("/send with a bad dest = %d %q", code, body)
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		state := cons(t, base, id)
		if state == "delivered" {
			break
		}
		if state != "queued" || time.Now().After(deadline) {
			t.Fatalf("/cons = %q", state)
		}
		wctx, wcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		sim.WaitMessages(wctx, 1) // wakes as soon as the modem has it; /cons is asked again
		wcancel()
	}
	msgs := sim.Messages()
	if len(msgs) != 1 || msgs[0].Text != text || msgs[0].Dest != "491701234567" || msgs[0].Alphabet != "ucs2" {
		t.Fatalf("modem got %+v", msgs)
	}
	if got := sim.PINAttempts(); len(got) != 1 {
		t.Errorf("PIN attempts = %q", got)
	}
}

func postSendRaw(t *testing.T, base string, fields map[string]string, filename, content string) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="body"; filename=%q`, filename))
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, content)
	mw.Close()
	resp, err := http.Post(base+"/send", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func postSend(t *testing.T, base string, fields map[string]string, filename, content string) string {
	t.Helper()
	code, body := postSendRaw(t, base, fields, filename, content)
	if code != http.StatusOK {
		t.Fatalf("/send = %d %q", code, body)
	}
	return body
}

func cons(t *testing.T, base, id string) string {
	t.Helper()
	resp, err := http.PostForm(base+"/cons", url.Values{"id": {id}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/cons = %d %q", resp.StatusCode, b)
	}
	return strings.TrimSpace(string(b))
}
