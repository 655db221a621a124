package whatsapp_test

// End-to-end tests: the whole gateway (gateway.New, as `multimsg serve` runs it) on a loopback
// port, configured with two wpp1 senders pointing at the fake Cloud API, driven through the
// device-facing HTTP API (/send, /data → /msg → /cons) and the admin JSON status.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"multimsg/gateway/gatewaytest"
	"multimsg/internal/poll"
	"multimsg/modem/modemsim"
	"multimsg/provider/whatsapp/cloudapitest"
)

type e2e struct {
	t    *testing.T
	api  *cloudapitest.Server
	gw   *gatewaytest.Gateway
	base string
}

// startGateway runs the fake Cloud API and a gateway (gatewaytest: the same wiring as
// `multimsg serve`) with two wpp1 senders, "sales" (acctA, the default) and "support" (acctB),
// no fallback, and fast retries. extra is appended to the configuration.
func startGateway(t *testing.T, o cloudapitest.Options) *e2e {
	return startGatewayWith(t, o, "[wpp1]\nfallback = []\n", "")
}

func startGatewayWith(t *testing.T, o cloudapitest.Options, wpp1Table, extra string) *e2e {
	t.Helper()
	return startGatewayDelivery(t, o, "retry_min = \"50ms\"\nretry_max = \"200ms\"\nsend_timeout = \"10s\"", wpp1Table, extra)
}

// startGatewayDelivery is startGatewayWith with the [delivery] table's keys given.
func startGatewayDelivery(t *testing.T, o cloudapitest.Options, delivery, wpp1Table, extra string) *e2e {
	t.Helper()
	if o.Accounts == nil {
		o.Accounts = []cloudapitest.Account{acctA, acctB}
	}
	api := cloudapitest.Start(t, o)
	toml := fmt.Sprintf(`
[delivery]
%s
%s
[[wpp1.sender]]
name = "sales"
api_url = %q
phone_number_id = %q
token = %q
per_recipient_gap = "-1s"
[[wpp1.sender]]
name = "support"
api_url = %q
phone_number_id = %q
token = %q
per_recipient_gap = "-1s"
%s`, delivery, wpp1Table, api.URL(), acctA.PhoneNumberID, acctA.Token, api.URL(), acctB.PhoneNumberID, acctB.Token, extra)
	g := gatewaytest.Start(t, toml)
	return &e2e{t: t, api: api, gw: g, base: g.URL}
}

type part struct {
	field, filename, ctype string
	data                   []byte
}

func (e *e2e) multipart(path string, fields map[string]string, parts ...part) (int, string) {
	e.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.field, p.filename))
		h.Set("Content-Type", p.ctype)
		w, _ := mw.CreatePart(h)
		w.Write(p.data)
	}
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	return e.post(path, mw.FormDataContentType(), b.Bytes())
}

func (e *e2e) form(path string, fields map[string]string) (int, string) {
	e.t.Helper()
	v := url.Values{}
	for k, x := range fields {
		v.Set(k, x)
	}
	return e.post(path, "application/x-www-form-urlencoded", []byte(v.Encode()))
}

func (e *e2e) post(path, ctype string, body []byte) (int, string) {
	e.t.Helper()
	resp, err := http.Post(e.base+path, ctype, bytes.NewReader(body))
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// waitState polls /cons (the device API has no push) until the job reaches want or a finished
// state, within a deadline.
func (e *e2e) waitState(id, want string) string {
	e.t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for {
		st, body := e.form("/cons", map[string]string{"id": id})
		if st != 200 {
			e.t.Fatalf("/cons %s: %d %s", id, st, body)
		}
		if body == want || body == "delivered" || body == "failed" || body == "partial" {
			if body != want {
				e.t.Fatalf("/cons %s = %s, want %s", id, body, want)
			}
			return body
		}
		select {
		case <-tick.C:
		case <-deadline:
			e.t.Fatalf("/cons %s still %s, want %s", id, body, want)
		}
	}
}

func (e *e2e) status() map[string]any {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.base+"/admin/api/status", nil)
	req.SetBasicAuth("admin", gatewaytest.AdminPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != 200 {
		e.t.Fatalf("status: %d %v", resp.StatusCode, err)
	}
	return v
}

func (e *e2e) sender(name string) map[string]any {
	e.t.Helper()
	for _, s := range e.status()["senders"].([]any) {
		m := s.(map[string]any)
		if m["service"] == "wpp1" && m["name"] == name {
			return m
		}
	}
	e.t.Fatalf("status has no sender wpp1/%s", name)
	return nil
}

func TestE2ESendText(t *testing.T) {
	e := startGateway(t, cloudapitest.Options{})
	st, id := e.multipart("/send", map[string]string{"serv": "wpp1", "dest": dest},
		part{"body", "alert.txt", "text/plain; charset=utf-8", []byte("Alarm: zona 4 abierta")})
	if st != 200 {
		t.Fatalf("/send: %d %s", st, id)
	}
	e.waitState(id, "delivered")
	m := e.api.Messages()
	if len(m) != 1 || m[0].Text != "Alarm: zona 4 abierta" || m[0].To != dest || m[0].PhoneNumberID != acctA.PhoneNumberID {
		t.Fatalf("Cloud API got %+v, want the text from the default (first) sender", m)
	}
}

func TestE2EDocumentWithCaption(t *testing.T) {
	e := startGateway(t, cloudapitest.Options{})
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("binary\x00\xff\r\n--"), 5000)...)
	st, id := e.multipart("/data", nil, part{"doc", "informe.pdf", "application/pdf", pdf})
	if st != 200 {
		t.Fatalf("/data: %d %s", st, id)
	}
	st, body := e.form("/msg", map[string]string{"id": id, "serv": "wpp1", "dest": dest,
		"type": `{"doc":"document"}`, "info": `{"caption":"Informe semanal"}`})
	if st != 200 || body != "queued" {
		t.Fatalf("/msg: %d %s", st, body)
	}
	e.waitState(id, "delivered")
	m := e.api.Messages()[0]
	if m.Type != "document" || m.Caption != "Informe semanal" || m.Filename != "informe.pdf" || m.Media == nil || !bytes.Equal(m.Media.Data, pdf) {
		t.Fatalf("Cloud API got type %s caption %q filename %q media intact %v", m.Type, m.Caption, m.Filename, m.Media != nil && bytes.Equal(m.Media.Data, pdf))
	}
}

func TestE2ETemplateAndClosedWindow(t *testing.T) {
	e := startGateway(t, cloudapitest.Options{Templates: []cloudapitest.Template{{Name: "door_alert", Language: "es", Params: 2}}})
	e.api.CloseWindow(dest)
	// Free text to a closed window: the job fails for good with Meta's reason (no fallback here).
	st, id := e.multipart("/send", map[string]string{"serv": "wpp1", "dest": dest}, part{"body", "a.txt", "text/plain", []byte("hola")})
	if st != 200 {
		t.Fatalf("/send: %d %s", st, id)
	}
	e.waitState(id, "failed")
	// The same with a template: delivered.
	st, id = e.multipart("/send", map[string]string{"serv": "wpp1", "dest": dest,
		"info": `{"template":{"name":"door_alert","language":"es","params":"lines"}}`},
		part{"body", "a.txt", "text/plain", []byte("Puerta principal\nabierta 03:12\n")})
	if st != 200 {
		t.Fatalf("/send: %d %s", st, id)
	}
	e.waitState(id, "delivered")
	m := e.api.Messages()
	if len(m) != 1 || m[0].Template == nil || strings.Join(m[0].Template.BodyParams, "|") != "Puerta principal|abierta 03:12" {
		t.Fatalf("Cloud API got %+v", m)
	}
	if r := e.api.Rejections(); len(r) != 1 || r[0].Code != 131047 {
		t.Errorf("rejections = %+v, want one 131047", r)
	}
}

func TestE2EThroughputThenSuccess(t *testing.T) {
	e := startGateway(t, cloudapitest.Options{})
	e.api.FailNext(2, 130429)
	st, id := e.multipart("/send", map[string]string{"serv": "wpp1", "dest": dest}, part{"body", "a.txt", "text/plain", []byte("retry me")})
	if st != 200 {
		t.Fatalf("/send: %d %s", st, id)
	}
	e.waitState(id, "delivered")
	if r := e.api.Rejections(); len(r) != 2 || r[0].Code != 130429 {
		t.Errorf("rejections = %+v, want two 130429", r)
	}
	if m := e.api.Messages(); len(m) != 1 || m[0].Text != "retry me" {
		t.Errorf("messages = %+v, want one", m)
	}
}

func TestE2ETokenExpiredShowsUnhealthySender(t *testing.T) {
	e := startGateway(t, cloudapitest.Options{})
	e.api.ExpireToken(acctA.Token)
	st, id := e.multipart("/send", map[string]string{"serv": "wpp1", "dest": dest, "sender": "sales"}, part{"body", "a.txt", "text/plain", []byte("x")})
	if st != 200 {
		t.Fatalf("/send: %d %s", st, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.api.WaitRejections(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// The API answered the 401; the dispatcher records it when the send returns, a moment later.
	var s map[string]any
	poll.Until(t, 10*time.Second, "wpp1/sales reported unhealthy", func() bool {
		s = e.sender("sales")
		return s["healthy"] == false && strings.Contains(fmt.Sprint(s["problem"]), "190")
	})
	if s["healthy"] != false || !strings.Contains(fmt.Sprint(s["problem"]), "190") {
		t.Fatalf("status for wpp1/sales = %v, want unhealthy naming code 190", s)
	}
	drv, _ := s["driver"].(map[string]any)
	if drv["ok"] != false || !strings.Contains(fmt.Sprint(drv["detail"]), "token expired") {
		t.Errorf("driver health = %v", drv)
	}
	if strings.Contains(fmt.Sprint(e.status()), acctA.Token) {
		t.Errorf("the status leaks the token")
	}
	if other := e.sender("support"); other["healthy"] != true {
		t.Errorf("wpp1/support = %v, want healthy", other)
	}
	// The job waits (not failed): an expired token is the operator's to fix.
	if st, body := e.form("/cons", map[string]string{"id": id}); st != 200 || body != "queued" {
		t.Errorf("/cons = %d %s, want queued", st, body)
	}
}

func TestE2ESenderByName(t *testing.T) {
	e := startGateway(t, cloudapitest.Options{})
	st, id := e.multipart("/send", map[string]string{"serv": "wpp1", "dest": dest, "sender": "support"}, part{"body", "a.txt", "text/plain", []byte("from support")})
	if st != 200 {
		t.Fatalf("/send: %d %s", st, id)
	}
	e.waitState(id, "delivered")
	if m := e.api.Messages(); len(m) != 1 || m[0].PhoneNumberID != acctB.PhoneNumberID {
		t.Fatalf("messages = %+v, want one from %s", m, acctB.PhoneNumberID)
	}
	st, body := e.multipart("/send", map[string]string{"serv": "wpp1", "dest": dest, "sender": "marketing"}, part{"body", "a.txt", "text/plain", []byte("x")})
	if st != 400 || !strings.Contains(body, "sales, support") {
		t.Errorf("/send with an unknown sender = %d %q, want 400 listing sales, support", st, body)
	}
}

func TestE2ECheckRefusals(t *testing.T) {
	e := startGateway(t, cloudapitest.Options{})
	st, id := e.multipart("/data", nil, part{"pic", "a.gif", "image/gif", []byte("GIF89a....")})
	if st != 200 {
		t.Fatalf("/data: %d %s", st, id)
	}
	for _, c := range []struct {
		fields map[string]string
		want   string
	}{
		{map[string]string{"dest": "+4915112345678", "type": `{"pic":"image"}`}, "dest"},
		{map[string]string{"dest": dest, "type": `{"pic":"image"}`}, "image/jpeg, image/png"},
		{map[string]string{"dest": dest, "type": `{"pic":"image"}`, "info": `{"subject":"x"}`}, "subject"},
	} {
		c.fields["id"], c.fields["serv"] = id, "wpp1"
		st, body := e.form("/msg", c.fields)
		if st != 400 || !strings.Contains(body, c.want) {
			t.Errorf("/msg %v = %d %q, want 400 mentioning %q", c.fields, st, body, c.want)
		}
	}
	if st, body := e.form("/cons", map[string]string{"id": id}); body != "preprocess" {
		t.Errorf("/cons after refusals = %d %s, want preprocess", st, body)
	}
	if n := e.api.Requests(); n != 0 {
		t.Errorf("the Cloud API saw %d requests for refused jobs", n)
	}
}

func TestE2EUplinkDownThenBack(t *testing.T) {
	e := startGateway(t, cloudapitest.Options{})
	if err := e.api.SetDown(cloudapitest.DownRefuse); err != nil {
		t.Fatal(err)
	}
	st, id := e.multipart("/send", map[string]string{"serv": "wpp1", "dest": dest}, part{"body", "a.txt", "text/plain", []byte("after the outage")})
	if st != 200 {
		t.Fatalf("/send: %d %s", st, id)
	}
	// The dispatcher sees temporary failures: the sender is failing (not down: no operator needed).
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for e.sender("sales")["failing_from"] == nil {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("wpp1/sales never reported failing: %v", e.sender("sales"))
		}
	}
	if s := e.sender("sales"); s["healthy"] != false || s["driver"].(map[string]any)["ok"] != true {
		t.Errorf("status during the outage = %v, want failing with the driver itself OK", s)
	}
	if err := e.api.SetDown(cloudapitest.Up); err != nil {
		t.Fatal(err)
	}
	e.waitState(id, "delivered")
	if s := e.sender("sales"); s["healthy"] != true {
		t.Errorf("status after the outage = %v, want healthy", s)
	}
}

// startWithModem adds a scripted GSM modem (modemsim on a pty) as sms sender "modem1", and
// makes wpp1 fall back to sms after fallbackAfter.
func startWithModem(t *testing.T, o cloudapitest.Options, fallbackAfter string) (*e2e, *modemsim.Sim) {
	t.Helper()
	sim := modemsim.New(modemsim.Profile{}, testLogger(t))
	if err := sim.Start(t.TempDir()); err != nil {
		t.Fatalf("scripted modem: %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	e := startGatewayWith(t, o, fmt.Sprintf("[wpp1]\nfallback = [\"sms\"]\nfallback_after = %q\n", fallbackAfter),
		fmt.Sprintf("[[sms.sender]]\nname = \"modem1\"\ndevice = %q\ntimeout = \"2s\"\n", sim.Path()))
	return e, sim
}

func (e *e2e) fileRoutes(id string) []string {
	e.t.Helper()
	j, err := e.gw.Store.Get(id)
	if err != nil {
		e.t.Fatalf("Store.Get(%s): %v", id, err)
	}
	var out []string
	for _, f := range j.Files {
		out = append(out, f.Name+":"+f.Service+"/"+f.Sender+":"+string(f.State))
	}
	return out
}

// A text WhatsApp refuses for good (131047: the 24-hour window is closed and no template was
// given) goes to SMS at once, with the same dest, and the job records that sms delivered it.
func TestE2EFallbackToSMSOnPermanentError(t *testing.T) {
	e, sim := startWithModem(t, cloudapitest.Options{}, "1h")
	e.api.CloseWindow(dest)
	st, id := e.multipart("/send", map[string]string{"serv": "wpp1", "dest": dest}, part{"body", "a.txt", "text/plain", []byte("Alarma: puerta 3 abierta")})
	if st != 200 {
		t.Fatalf("/send: %d %s", st, id)
	}
	if got := e.gw.WaitJob(t, id, 30*time.Second); got != "delivered" {
		t.Fatalf("job = %s (%v), want delivered", got, e.fileRoutes(id))
	}
	if r := e.fileRoutes(id); len(r) != 1 || !strings.HasPrefix(r[0], "body:sms/modem1:") {
		t.Errorf("file routes = %v, want body delivered by sms/modem1", r)
	}
	msgs := sim.Messages()
	if len(msgs) != 1 || msgs[0].Text != "Alarma: puerta 3 abierta" || msgs[0].Dest != dest {
		t.Fatalf("modem sent %+v", msgs)
	}
	if r := e.api.Rejections(); len(r) != 1 || r[0].Code != 131047 {
		t.Errorf("Cloud API rejections = %+v, want one 131047", r)
	}
}

// The uplink is down: after fallback_after the text goes out by SMS; the image, which SMS does
// not take, waits for WhatsApp and goes out when the uplink is back.
func TestE2EFallbackToSMSWhenUplinkDown(t *testing.T) {
	e, sim := startWithModem(t, cloudapitest.Options{}, "300ms")
	if err := e.api.SetDown(cloudapitest.DownRefuse); err != nil {
		t.Fatal(err)
	}
	st, id := e.multipart("/send", map[string]string{"serv": "wpp1", "dest": dest},
		part{"body", "a.txt", "text/plain", []byte("Sin internet: aviso por SMS")},
		part{"snap", "cam.png", "image/png", pngBytes(t)})
	if st != 200 {
		t.Fatalf("/send: %d %s", st, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := sim.WaitMessages(ctx, 1); err != nil {
		t.Fatalf("no SMS while the uplink is down: %v (routes %v)", err, e.fileRoutes(id))
	}
	if m := sim.Messages(); m[0].Text != "Sin internet: aviso por SMS" || m[0].Dest != dest {
		t.Errorf("modem sent %+v", m)
	}
	if n := len(e.api.Messages()); n != 0 {
		t.Fatalf("Cloud API accepted %d messages while down", n)
	}
	if err := e.api.SetDown(cloudapitest.Up); err != nil {
		t.Fatal(err)
	}
	if got := e.gw.WaitJob(t, id, 30*time.Second); got != "delivered" {
		t.Fatalf("job = %s (%v), want delivered", got, e.fileRoutes(id))
	}
	r := e.fileRoutes(id)
	if len(r) != 2 || !strings.HasPrefix(r[0], "body:sms/modem1:") || !strings.HasPrefix(r[1], "snap:wpp1/sales:") {
		t.Errorf("file routes = %v, want body by sms, snap by wpp1", r)
	}
	if m := e.api.Messages(); len(m) != 1 || m[0].Type != "image" {
		t.Errorf("Cloud API messages = %+v, want the image only", m)
	}
	if n := len(sim.Messages()); n != 1 {
		t.Errorf("modem sent %d SMS, want 1", n)
	}
}

// An expired token holds the WhatsApp sender (it needs an operator, and is probed again only
// after a while): every text waiting on it, not only the one that met the 190, counts that
// wait toward fallback_after and goes out by SMS, without probing the held sender again.
func TestE2EFallbackToSMSWhileTokenExpired(t *testing.T) {
	sim := modemsim.New(modemsim.Profile{}, testLogger(t))
	if err := sim.Start(t.TempDir()); err != nil {
		t.Fatalf("scripted modem: %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	// retry_max bounds how long a down sender is held: 30 s, far longer than this test
	e := startGatewayDelivery(t, cloudapitest.Options{},
		"retry_min = \"50ms\"\nretry_max = \"30s\"\nsend_timeout = \"10s\"",
		"[wpp1]\nfallback = [\"sms\"]\nfallback_after = \"300ms\"\n",
		fmt.Sprintf("[[sms.sender]]\nname = \"modem1\"\ndevice = %q\ntimeout = \"2s\"\n", sim.Path()))
	e.api.ExpireToken(acctA.Token)
	var ids []string
	for i := 0; i < 3; i++ {
		st, id := e.multipart("/send", map[string]string{"serv": "wpp1", "dest": dest},
			part{"body", "a.txt", "text/plain", []byte(fmt.Sprintf("token caducado %d", i))})
		if st != 200 {
			t.Fatalf("/send: %d %s", st, id)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		if got := e.gw.WaitJob(t, id, 20*time.Second); got != "delivered" {
			t.Fatalf("job %s = %s (%v), want delivered by sms\n%s", id, got, e.fileRoutes(id), e.gw.Explain(id))
		}
		if r := e.fileRoutes(id); !strings.HasPrefix(r[0], "body:sms/modem1:") {
			t.Errorf("job %s routes %v, want sms", id, r)
		}
	}
	if n := len(sim.Messages()); n != 3 {
		t.Errorf("modem sent %d SMS, want 3", n)
	}
	// jobs sent before the first 190 came back may each have met it (the sender runs several
	// sends at once); none is probed again while the sender is held
	if r := e.api.Rejections(); len(r) < 1 || len(r) > len(ids) || r[0].Code != 190 {
		t.Errorf("Cloud API rejections = %+v, want 1 to %d 190s: the held sender is not probed again", r, len(ids))
	}
}
