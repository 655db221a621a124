package whatsapp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"multimsg/provider"
	"multimsg/provider/whatsapp"
	"multimsg/provider/whatsapp/cloudapitest"
)

var (
	acctA = cloudapitest.Account{PhoneNumberID: "106540352242922", Token: "EAAG-token-A"}
	acctB = cloudapitest.Account{PhoneNumberID: "113269274970227", Token: "EAAG-token-B"}
)

const dest = "4915112345678"

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newDriver(t testing.TB, srv *cloudapitest.Server, a cloudapitest.Account, mod func(*whatsapp.Options)) *whatsapp.Driver {
	t.Helper()
	o := whatsapp.Options{
		Name:            "s-" + a.PhoneNumberID[:4],
		APIURL:          srv.URL(),
		PhoneNumberID:   a.PhoneNumberID,
		Token:           a.Token,
		PerRecipientGap: -1,
		Timeout:         5 * time.Second,
	}
	if mod != nil {
		mod(&o)
	}
	d, err := whatsapp.New(o, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d
}

func start(t *testing.T, o cloudapitest.Options) *cloudapitest.Server {
	t.Helper()
	if o.Accounts == nil {
		o.Accounts = []cloudapitest.Account{acctA, acctB}
	}
	return cloudapitest.Start(t, o)
}

func textFile(s string) provider.File {
	return provider.File{Name: "msg", Filename: "msg.txt", Type: "text", MIME: "text/plain; charset=utf-8", Data: []byte(s)}
}

func info(t testing.TB, v map[string]any) provider.Info {
	t.Helper()
	out := provider.Info{}
	for k, x := range v {
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = b
	}
	return out
}

// send runs Check then Send, as /msg and the dispatcher do.
func send(t *testing.T, d *whatsapp.Driver, to string, in provider.Info, f provider.File) (provider.Receipt, error) {
	t.Helper()
	if err := d.Check(provider.Request{Dest: to, Files: []provider.File{f}, Info: in}); err != nil {
		t.Fatalf("Check(%s) = %v, want nil", f.Name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return d.Send(ctx, provider.Delivery{JobID: "job1", Service: "wpp1", Sender: "default", Dest: to, Info: in, Files: []provider.File{f}, Attempt: 1})
}

func pngBytes(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range 16 {
		img.Set(i, i, color.RGBA{255, 0, 0, 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func wantClass(t *testing.T, err error, class provider.Class, code string) *provider.Error {
	t.Helper()
	var pe *provider.Error
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T), want a *provider.Error of class %v", err, err, class)
	}
	if pe.Class != class || (code != "" && pe.Code != code) {
		t.Fatalf("err = %v: class %v code %q, want class %v code %q", err, pe.Class, pe.Code, class, code)
	}
	return pe
}

func TestSendText(t *testing.T) {
	srv := start(t, cloudapitest.Options{})
	d := newDriver(t, srv, acctA, nil)
	r, err := send(t, d, dest, nil, textFile("Alarm: door 3 open ✓"))
	if err != nil {
		t.Fatalf("Send = %v", err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if r.MessageID != m.WAMID || !strings.HasPrefix(r.MessageID, "wamid.") {
		t.Errorf("MessageID = %q, want the server's %q", r.MessageID, m.WAMID)
	}
	if m.Type != "text" || m.Text != "Alarm: door 3 open ✓" || m.To != dest || m.PhoneNumberID != acctA.PhoneNumberID {
		t.Errorf("server got %+v", m)
	}
	if h := d.Health(); !h.OK {
		t.Errorf("Health = %+v, want OK", h)
	}
}

func TestSendDocumentWithCaption(t *testing.T) {
	srv := start(t, cloudapitest.Options{})
	d := newDriver(t, srv, acctA, nil)
	data := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte{0, 1, 2, 0xff, '\r', '\n', '-', '-'}, 40000)...)
	f := provider.File{Name: "report", Filename: `C:\exports\Report "Q3".pdf`, Type: "document", MIME: "application/pdf", Data: data}
	in := info(t, map[string]any{"caption": "Quarterly report ✓"})
	r, err := send(t, d, dest, in, f)
	if err != nil {
		t.Fatalf("Send = %v", err)
	}
	ups := srv.Uploads()
	if len(ups) != 1 {
		t.Fatalf("uploads = %d, want 1", len(ups))
	}
	u := ups[0]
	if !bytes.Equal(u.Data, data) {
		t.Errorf("uploaded %d bytes, differ from the %d sent", len(u.Data), len(data))
	}
	if u.Type != "application/pdf" || u.ContentType != "application/pdf" {
		t.Errorf("upload type %q content type %q, want application/pdf", u.Type, u.ContentType)
	}
	m := srv.Messages()[0]
	if m.Type != "document" || m.MediaID != u.ID || m.Caption != "Quarterly report ✓" || m.Filename != `Report "Q3".pdf` {
		t.Errorf("message = type %s media %s caption %q filename %q", m.Type, m.MediaID, m.Caption, m.Filename)
	}
	if u.Filename != `Report "Q3".pdf` {
		t.Errorf("upload filename = %q", u.Filename)
	}
	if r.MessageID != m.WAMID {
		t.Errorf("MessageID = %q, want %q", r.MessageID, m.WAMID)
	}
}

func TestSendImageTypeFromName(t *testing.T) {
	srv := start(t, cloudapitest.Options{})
	d := newDriver(t, srv, acctA, nil)
	img := pngBytes(t)
	f := provider.File{Name: "snap", Filename: "cam1.png", Type: "image", MIME: "application/octet-stream", Data: img}
	if _, err := send(t, d, dest, info(t, map[string]any{"caption": "camera 1"}), f); err != nil {
		t.Fatalf("Send = %v", err)
	}
	m := srv.Messages()[0]
	if m.Type != "image" || m.Caption != "camera 1" || m.Media == nil || m.Media.Type != "image/png" || !bytes.Equal(m.Media.Data, img) {
		t.Errorf("message = %+v", m)
	}
}

func TestSendAudioCarriesNoCaption(t *testing.T) {
	srv := start(t, cloudapitest.Options{})
	d := newDriver(t, srv, acctA, nil)
	mp3 := append([]byte("ID3\x03\x00\x00\x00\x00\x00\x00"), bytes.Repeat([]byte{0xff, 0xfb, 0x90, 0x64}, 100)...)
	img := provider.File{Name: "snap", Filename: "a.jpg", Type: "image", MIME: "image/png", Data: pngBytes(t)}
	au := provider.File{Name: "voice", Filename: "voice.mp3", Type: "audio", MIME: "audio/mpeg", Data: mp3}
	in := info(t, map[string]any{"caption": "see this"})
	if err := d.Check(provider.Request{Dest: dest, Files: []provider.File{img, au}, Info: in}); err != nil {
		t.Fatalf("Check = %v", err)
	}
	if _, err := d.Send(context.Background(), provider.Delivery{Dest: dest, Info: in, Files: []provider.File{au}}); err != nil {
		t.Fatalf("Send = %v", err)
	}
	if m := srv.Messages()[0]; m.Type != "audio" || m.Caption != "" || m.Media.Type != "audio/mpeg" {
		t.Errorf("message = %+v", m)
	}
}

func TestTemplateOutsideWindow(t *testing.T) {
	srv := start(t, cloudapitest.Options{Templates: []cloudapitest.Template{{Name: "door_alert", Language: "en_US", Params: 2}}})
	srv.CloseWindow(dest)
	d := newDriver(t, srv, acctA, nil)

	// Free text to a closed window: permanent, with Meta's words kept.
	_, err := send(t, d, dest, nil, textFile("Front door opened"))
	pe := wantClass(t, err, provider.Permanent, "131047")
	var ae *whatsapp.APIError
	if !errors.As(err, &ae) || ae.Code != 131047 || !strings.Contains(ae.Details, "24 hours") {
		t.Fatalf("err = %v, want the Graph error 131047 with Meta's details", err)
	}
	if !strings.Contains(pe.Error(), "more than 24 hours") {
		t.Errorf("error text %q lost Meta's details", pe.Error())
	}
	if h := d.Health(); !h.OK {
		t.Errorf("a closed window made the sender unhealthy: %+v", h)
	}

	in := info(t, map[string]any{"template": map[string]any{"name": "door_alert", "language": "en_US", "params": "lines"}})
	r, err := send(t, d, dest, in, textFile("Front   door\n\topened at 12:00\n"))
	if err != nil {
		t.Fatalf("template Send = %v", err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("messages = %d, want 1", len(msgs))
	}
	m := msgs[0]
	if m.Type != "template" || m.Template == nil || m.Template.Name != "door_alert" || m.Template.Language != "en_US" ||
		strings.Join(m.Template.BodyParams, "|") != "Front door|opened at 12:00" || r.MessageID != m.WAMID {
		t.Errorf("message = %+v template %+v", m, m.Template)
	}

	// The whole text as one parameter, whitespace folded as WhatsApp requires.
	srv2 := start(t, cloudapitest.Options{Templates: []cloudapitest.Template{{Name: "alert", Language: "es", Params: 1}}})
	srv2.CloseAllWindows(true)
	d2 := newDriver(t, srv2, acctA, nil)
	in = info(t, map[string]any{"template": map[string]any{"name": "alert", "language": "es"}})
	if _, err := send(t, d2, dest, in, textFile("Puerta abierta\n\nsensor 4")); err != nil {
		t.Fatalf("Send = %v", err)
	}
	if p := srv2.Messages()[0].Template.BodyParams; len(p) != 1 || p[0] != "Puerta abierta sensor 4" {
		t.Errorf("params = %q", p)
	}
	// An unknown template is Meta's 132001, permanent.
	in = info(t, map[string]any{"template": map[string]any{"name": "nope", "language": "es", "params": false}})
	_, err = send(t, d2, dest, in, textFile("x"))
	wantClass(t, err, provider.Permanent, "132001")
}

func TestThroughputThenSuccess(t *testing.T) {
	srv := start(t, cloudapitest.Options{})
	d := newDriver(t, srv, acctA, nil)
	srv.FailNextWith(1, cloudapitest.Failure{Code: 130429, RetryAfter: "7"})
	_, err := send(t, d, dest, nil, textFile("hello"))
	pe := wantClass(t, err, provider.Temporary, "130429")
	if pe.RetryAfter != 7*time.Second || provider.RetryAfterOf(err) != 7*time.Second {
		t.Errorf("RetryAfter = %v, want 7s", pe.RetryAfter)
	}
	for _, code := range []int{131056, 131048, 80007, 4, 131000, 131016} {
		srv.FailNext(1, code)
		_, err := send(t, d, dest, nil, textFile("hello"))
		wantClass(t, err, provider.Temporary, itoa(code))
	}
	if _, err := send(t, d, dest, nil, textFile("hello")); err != nil {
		t.Fatalf("Send after throughput errors = %v", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("messages = %d, want 1", n)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestTokenExpiredMarksSenderDown(t *testing.T) {
	srv := start(t, cloudapitest.Options{})
	d := newDriver(t, srv, acctA, nil)
	srv.ExpireToken(acctA.Token)
	_, err := send(t, d, dest, nil, textFile("hello"))
	wantClass(t, err, provider.Down, "190")
	h := d.Health()
	if h.OK || !strings.Contains(h.Detail, "token expired") || !strings.Contains(h.Detail, "(190)") || !strings.Contains(h.Detail, "Session has expired") {
		t.Fatalf("Health = %+v, want down with the token named", h)
	}
	if f := h.Facts.(whatsapp.Facts); f.PhoneNumberID != acctA.PhoneNumberID || f.Code != "190" {
		t.Errorf("Facts = %v", h.Facts)
	}
	if strings.Contains(h.Detail, acctA.Token) {
		t.Errorf("Health detail leaks the token: %q", h.Detail)
	}
	// Another sender on the same server is not affected.
	dB := newDriver(t, srv, acctB, nil)
	if _, err := send(t, dB, dest, nil, textFile("via B")); err != nil {
		t.Fatalf("sender B: %v", err)
	}
	srv.RestoreToken(acctA.Token)
	if _, err := send(t, d, dest, nil, textFile("hello again")); err != nil {
		t.Fatalf("Send after renewal = %v", err)
	}
	if h := d.Health(); !h.OK || h.Detail != "" {
		t.Errorf("Health after a success = %+v, want OK", h)
	}
}

func TestPermissionAndConfigErrorsAreSenderDown(t *testing.T) {
	srv := start(t, cloudapitest.Options{})
	for _, code := range []int{10, 200, 368, 131031, 133010} {
		d := newDriver(t, srv, acctA, nil)
		srv.FailNext(1, code)
		_, err := send(t, d, dest, nil, textFile("x"))
		wantClass(t, err, provider.Down, itoa(code))
		if h := d.Health(); h.OK || !strings.Contains(h.Detail, "("+itoa(code)+")") {
			t.Errorf("code %d: Health = %+v", code, h)
		}
	}
	// Token of A with B's phone number id: Graph's "object does not exist" (100/33).
	d := newDriver(t, srv, cloudapitest.Account{PhoneNumberID: acctB.PhoneNumberID, Token: acctA.Token}, nil)
	_, err := send(t, d, dest, nil, textFile("x"))
	wantClass(t, err, provider.Down, "100")
	if h := d.Health(); !strings.Contains(h.Detail, "phone number id") {
		t.Errorf("Health = %+v", h)
	}
	// A token the server never issued.
	d = newDriver(t, srv, cloudapitest.Account{PhoneNumberID: acctA.PhoneNumberID, Token: "forged"}, nil)
	_, err = send(t, d, dest, nil, textFile("x"))
	wantClass(t, err, provider.Down, "190")
}

func TestPermanentErrors(t *testing.T) {
	srv := start(t, cloudapitest.Options{})
	d := newDriver(t, srv, acctA, nil)
	srv.Unreachable("4930111111111")
	_, err := send(t, d, "4930111111111", nil, textFile("x"))
	wantClass(t, err, provider.Permanent, "131026")
	for _, code := range []int{100, 131008, 131009, 131051, 131030, 132000} {
		srv.FailNext(1, code)
		_, err := send(t, d, dest, nil, textFile("x"))
		wantClass(t, err, provider.Permanent, itoa(code))
	}
	if h := d.Health(); !h.OK {
		t.Errorf("Health = %+v, want OK: a bad message is not a bad sender", h)
	}
}

func TestServerDown(t *testing.T) {
	srv := start(t, cloudapitest.Options{})
	d := newDriver(t, srv, acctA, nil)
	srv.SetDown(cloudapitest.Down5xx)
	_, err := send(t, d, dest, nil, textFile("x"))
	wantClass(t, err, provider.Temporary, "502")
	srv.SetDown(cloudapitest.DownHangUp)
	_, err = send(t, d, dest, nil, textFile("x"))
	wantClass(t, err, provider.Temporary, "network")
	if err := srv.SetDown(cloudapitest.DownRefuse); err != nil {
		t.Fatal(err)
	}
	_, err = send(t, d, dest, nil, textFile("x"))
	wantClass(t, err, provider.Temporary, "network")
	if provider.IsContext(err) {
		t.Errorf("a refused connection counted as our own cancellation")
	}
	if err := srv.SetDown(cloudapitest.Up); err != nil {
		t.Fatal(err)
	}
	if _, err := send(t, d, dest, nil, textFile("back")); err != nil {
		t.Fatalf("Send after the server came back = %v", err)
	}
	if h := d.Health(); !h.OK {
		t.Errorf("Health = %+v: an outage is not the sender's fault", h)
	}
}

func TestTimeoutIsTemporary(t *testing.T) {
	srv := start(t, cloudapitest.Options{})
	d := newDriver(t, srv, acctA, func(o *whatsapp.Options) { o.Timeout = 100 * time.Millisecond })
	srv.SetDelay(time.Minute)
	_, err := send(t, d, dest, nil, textFile("x"))
	wantClass(t, err, provider.Temporary, "timeout")

	// Our own cancellation is not the provider's fault.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	d2 := newDriver(t, srv, acctA, nil)
	go func() {
		_, err := d2.Send(ctx, provider.Delivery{Dest: dest, Files: []provider.File{textFile("x")}})
		done <- err
	}()
	waitRequests(t, srv, 2)
	cancel()
	if err := <-done; !provider.IsContext(err) {
		t.Errorf("Send after cancel = %v, want context.Canceled inside", err)
	}
}

func waitRequests(t *testing.T, srv *cloudapitest.Server, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got, err := srv.WaitRequests(ctx, n); err != nil {
		t.Fatalf("server saw %d requests, want %d: %v", got, n, err)
	}
}

func TestUploadErrorsAndMediaReuse(t *testing.T) {
	srv := start(t, cloudapitest.Options{})
	d := newDriver(t, srv, acctA, nil)
	img := provider.File{Name: "snap", Filename: "a.png", Type: "image", MIME: "image/png", Data: pngBytes(t)}
	srv.FailNextWith(1, cloudapitest.Failure{Code: 131053, Upload: true})
	_, err := send(t, d, dest, nil, img)
	wantClass(t, err, provider.Permanent, "131053")

	// Upload works, the message hits throughput: the retry sends the same media id again
	// instead of uploading the bytes twice.
	srv.FailNext(1, 130429)
	_, err = send(t, d, dest, nil, img)
	wantClass(t, err, provider.Temporary, "130429")
	if _, err := send(t, d, dest, nil, img); err != nil {
		t.Fatalf("retry = %v", err)
	}
	if n := len(srv.Uploads()); n != 1 {
		t.Errorf("uploads = %d, want 1 (the retry reuses the media id)", n)
	}
}

func TestTwoSendersOneServer(t *testing.T) {
	srv := start(t, cloudapitest.Options{})
	dA := newDriver(t, srv, acctA, nil)
	dB := newDriver(t, srv, acctB, nil)
	var wg sync.WaitGroup
	for i, d := range []*whatsapp.Driver{dA, dB, dA, dB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			to := "49151000000" + string(rune('0'+i))
			if _, err := d.Send(context.Background(), provider.Delivery{Dest: to, Files: []provider.File{textFile("n" + to)}}); err != nil {
				t.Errorf("Send %d = %v", i, err)
			}
		}()
	}
	wg.Wait()
	byPhone := map[string]int{}
	for _, m := range srv.Messages() {
		byPhone[m.PhoneNumberID]++
	}
	if byPhone[acctA.PhoneNumberID] != 2 || byPhone[acctB.PhoneNumberID] != 2 {
		t.Errorf("messages per phone number id = %v, want 2 each", byPhone)
	}
	// Media uploaded by A cannot be used by B (Meta's media ids belong to the phone number).
	img := provider.File{Name: "snap", Filename: "a.png", Type: "image", MIME: "image/png", Data: pngBytes(t)}
	if _, err := send(t, dA, dest, nil, img); err != nil {
		t.Fatal(err)
	}
	if _, err := send(t, dB, dest, nil, img); err != nil {
		t.Fatalf("B sending the same image = %v", err)
	}
	if n := len(srv.Uploads()); n != 2 {
		t.Errorf("uploads = %d, want one per sender", n)
	}
}

func TestPerRecipientGap(t *testing.T) {
	const gap = 300 * time.Millisecond
	srv := start(t, cloudapitest.Options{PairRateGap: gap})
	d := newDriver(t, srv, acctA, func(o *whatsapp.Options) { o.PerRecipientGap = gap })
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := d.Send(context.Background(), provider.Delivery{Dest: dest, Files: []provider.File{textFile("n" + itoa(i))}})
			errs <- err
		}()
	}
	// Another recipient does not wait behind them.
	other := "4420794600000"
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := d.Send(context.Background(), provider.Delivery{Dest: other, Files: []provider.File{textFile("other")}})
		errs <- err
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Send = %v (the server enforces the pair rate: the driver did not space)", err)
		}
	}
	var at []time.Time
	var otherAt time.Time
	for _, m := range srv.Messages() {
		if m.To == dest {
			at = append(at, m.At)
		} else {
			otherAt = m.At
		}
	}
	if len(at) != 3 {
		t.Fatalf("messages to %s = %d, want 3", dest, len(at))
	}
	for i := 1; i < len(at); i++ {
		if dt := at[i].Sub(at[i-1]); dt < gap {
			t.Errorf("messages %d and %d to the same recipient %v apart, want >= %v", i-1, i, dt, gap)
		}
	}
	if otherAt.Sub(at[0]) >= gap {
		t.Errorf("the other recipient waited %v behind the first", otherAt.Sub(at[0]))
	}

	// Without spacing the server's pair rate limit answers 131056: temporary.
	dNo := newDriver(t, srv, acctA, nil)
	_, err := send(t, dNo, dest, nil, textFile("too soon"))
	wantClass(t, err, provider.Temporary, "131056")
}

func TestPerRecipientGapHonoursContext(t *testing.T) {
	srv := start(t, cloudapitest.Options{})
	d := newDriver(t, srv, acctA, func(o *whatsapp.Options) { o.PerRecipientGap = time.Hour })
	if _, err := send(t, d, dest, nil, textFile("first")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := d.Send(ctx, provider.Delivery{Dest: dest, Files: []provider.File{textFile("second")}})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("Send while waiting out the gap = %v after %v, want the context's deadline", err, time.Since(start))
	}
	wantClass(t, err, provider.Temporary, "")
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("messages = %d, want 1", n)
	}
}

func TestCheckRefusals(t *testing.T) {
	srv := start(t, cloudapitest.Options{})
	d := newDriver(t, srv, acctA, nil)
	img := provider.File{Name: "snap", Filename: "a.png", Type: "image", MIME: "image/png", Data: pngBytes(t)}
	big := func(typ, mimeType string, n int) provider.File {
		return provider.File{Name: "big", Filename: "big", Type: typ, MIME: mimeType, Data: make([]byte, n)}
	}
	tmpl := func(v map[string]any) provider.Info { return info(t, map[string]any{"template": v}) }
	cases := []struct {
		name  string
		dest  string
		files []provider.File
		info  provider.Info
		field string
		want  string
	}{
		{"short dest", "1234567", []provider.File{textFile("x")}, nil, "dest", "8 to 15 digits"},
		{"long dest", "1234567890123456", []provider.File{textFile("x")}, nil, "dest", "8 to 15 digits"},
		{"plus", "+4915112345678", []provider.File{textFile("x")}, nil, "dest", "digits only"},
		{"spaces", "49 151 1234567", []provider.File{textFile("x")}, nil, "dest", "digits only"},
		{"leading zero", "004915112345", []provider.File{textFile("x")}, nil, "dest", "country code"},
		{"text too long", dest, []provider.File{textFile(strings.Repeat("é", 4097))}, nil, "type", "at most 4096"},
		{"empty text", dest, []provider.File{textFile(" \n")}, nil, "type", "empty"},
		{"not utf8", dest, []provider.File{textFile("\xff\xfe")}, nil, "type", "UTF-8"},
		{"image too big", dest, []provider.File{big("image", "image/png", 5_000_001)}, nil, "type", "at most 5000000 bytes"},
		{"video too big", dest, []provider.File{big("video", "video/mp4", 16_000_001)}, nil, "type", "at most 16000000"},
		{"gif", dest, []provider.File{big("image", "image/gif", 10)}, nil, "type", "image/jpeg, image/png"},
		{"unknown mime", dest, []provider.File{{Name: "x", Filename: "x.bin", Type: "document", Data: []byte{1, 2, 3}}}, nil, "type", "application/octet-stream"},
		{"ogg vorbis", dest, []provider.File{{Name: "v", Type: "audio", MIME: "audio/ogg", Data: []byte("OggS\x00\x02....\x01vorbis")}}, nil, "type", "Opus"},
		{"empty media", dest, []provider.File{big("document", "application/pdf", 0)}, nil, "type", "empty"},
		{"unknown info key", dest, []provider.File{textFile("x")}, info(t, map[string]any{"subject": "hi", "capton": "x"}), "info", "capton, subject"},
		{"caption not string", dest, []provider.File{img}, info(t, map[string]any{"caption": 5}), "info", "caption"},
		{"caption too long", dest, []provider.File{img}, info(t, map[string]any{"caption": strings.Repeat("a", 1025)}), "info", "at most 1024"},
		{"caption without media", dest, []provider.File{textFile("x")}, info(t, map[string]any{"caption": "c"}), "info", "image, video and document"},
		{"template bad name", dest, []provider.File{textFile("x")}, tmpl(map[string]any{"name": "Door Alert", "language": "en_US"}), "info", "template.name"},
		{"template no language", dest, []provider.File{textFile("x")}, tmpl(map[string]any{"name": "door"}), "info", "template.language"},
		{"template unknown key", dest, []provider.File{textFile("x")}, tmpl(map[string]any{"name": "door", "language": "en", "param": "x"}), "info", "param"},
		{"template bad params", dest, []provider.File{textFile("x")}, tmpl(map[string]any{"name": "door", "language": "en", "params": "csv"}), "info", "csv"},
		{"template empty line", dest, []provider.File{textFile("a\n\nb")}, tmpl(map[string]any{"name": "door", "language": "en", "params": "lines"}), "type", "line 2 is empty"},
		{"template param too long", dest, []provider.File{textFile(strings.Repeat("a", 1025))}, tmpl(map[string]any{"name": "door", "language": "en"}), "type", "at most 1024"},
		{"template without text", dest, []provider.File{img}, tmpl(map[string]any{"name": "door", "language": "en"}), "info", "text files"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := d.Check(provider.Request{Dest: c.dest, Files: c.files, Info: c.info})
			var ce *provider.CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("Check = %v, want a CheckError", err)
			}
			if ce.Field != c.field || !strings.Contains(ce.Msg, c.want) {
				t.Errorf("Check = %q (field %s), want field %s mentioning %q", ce.Error(), ce.Field, c.field, c.want)
			}
		})
	}
	// And what it accepts: a 16 MB (decimal) video, a template with a text over 4096 chars
	// split into lines, an Opus voice note.
	ok := []provider.Request{
		{Dest: dest, Files: []provider.File{big("video", "video/mp4", 16_000_000)}},
		{Dest: "12025550123", Files: []provider.File{textFile(strings.Repeat("z", 4096))}},
		{Dest: dest, Files: []provider.File{{Name: "v", Filename: "v.ogg", Type: "audio", Data: []byte("OggS\x00\x02\x00\x00OpusHead\x01\x01")}}},
		{Dest: dest, Files: []provider.File{textFile("a\nb")}, Info: tmpl(map[string]any{"name": "door", "language": "pt_BR", "params": true})},
	}
	for i, r := range ok {
		if err := d.Check(r); err != nil {
			t.Errorf("Check(ok case %d) = %v", i, err)
		}
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, o := range []whatsapp.Options{
		{PhoneNumberID: "", Token: "t"},
		{PhoneNumberID: "12ab", Token: "t"},
		{PhoneNumberID: "123", Token: ""},
		{PhoneNumberID: "123", Token: "a b"},
		{APIURL: "ftp://x/v21.0", PhoneNumberID: "123", Token: "t"},
		{APIURL: "graph.facebook.com", PhoneNumberID: "123", Token: "t"},
	} {
		if _, err := whatsapp.New(o, nil); !errors.Is(err, whatsapp.ErrBadOptions) {
			t.Errorf("New(%+v) = %v, want ErrBadOptions", o, err)
		}
	}
	d, err := whatsapp.New(whatsapp.Options{PhoneNumberID: "123", Token: "t"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := d.Sender()
	if s.Name != "default" || s.Rate != whatsapp.DefaultRate || s.Concurrency != whatsapp.DefaultConcurrency || s.Driver != d {
		t.Errorf("Sender() = %+v", s)
	}
}

func TestServiceAndRegistry(t *testing.T) {
	srv := start(t, cloudapitest.Options{})
	dA := newDriver(t, srv, acctA, func(o *whatsapp.Options) { o.Name = "sales" })
	dB := newDriver(t, srv, acctB, func(o *whatsapp.Options) { o.Name = "support" })
	svc := whatsapp.Service([]provider.Sender{dA.Sender(), dB.Sender()}, nil, 0)
	if svc.Name != "wpp1" || !svc.PerFile || svc.FallbackAfter != 2*time.Minute || strings.Join(svc.Types, ",") != "text,image,audio,video,document" {
		t.Errorf("Service = %+v", svc)
	}
	reg, err := provider.NewRegistry(svc)
	if err != nil {
		t.Fatal(err)
	}
	files := []provider.File{{Name: "body", Type: "", MIME: "text/plain", Data: []byte("hi")}}
	_, _, snd, err := reg.Resolve(provider.Params{Service: "wpp1", Sender: "support", Dest: dest, Types: map[string]string{"body": "text"}}, files)
	if err != nil || snd.Name != "support" {
		t.Fatalf("Resolve(sender support) = %v, %v", snd, err)
	}
	_, _, _, err = reg.Resolve(provider.Params{Service: "wpp1", Sender: "nope", Dest: dest, Types: map[string]string{"body": "text"}}, files)
	if !errors.Is(err, provider.ErrUnknownSender) || !strings.Contains(err.Error(), "sales, support") {
		t.Errorf("Resolve(unknown sender) = %v", err)
	}
	// /send without types: a PNG part is an image, a PDF a document.
	typed, _, _, err := reg.Resolve(provider.Params{Service: "wpp1", Dest: dest}, []provider.File{
		{Name: "a", Filename: "a.png", MIME: "image/png", Data: pngBytes(t)},
		{Name: "b", Filename: "b.pdf", MIME: "application/pdf", Data: []byte("%PDF-1.4")},
	})
	if err != nil || typed[0].Type != "image" || typed[1].Type != "document" {
		t.Errorf("Resolve(inferred) = %+v, %v", typed, err)
	}
}
