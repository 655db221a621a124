package gateway_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"multimsg/client"
	"multimsg/gateway/gatewaytest"
	"multimsg/internal/poll"
	"multimsg/provider"
	"multimsg/provider/mail/smtptest"
	"multimsg/store"
)

// hookReceiver is a webhook receiver as a customer would write one: it checks the signature
// with crypto/hmac over "timestamp.body", refuses stale timestamps, and records what came.
type hookReceiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	docs   []map[string]any
	at     []time.Time
	fail   int // answer 503 to this many posts first
	bad    int // posts refused for their signature
	got    chan struct{}
	srv    *httptest.Server
}

func newHookReceiver(t *testing.T, secret string, fail int) *hookReceiver {
	h := &hookReceiver{t: t, secret: secret, fail: fail, got: make(chan struct{}, 4096)}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	ts := r.Header.Get("X-Multimsg-Timestamp")
	mac := hmac.New(sha256.New, []byte(h.secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	sec, err := strconv.ParseInt(ts, 10, 64)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute ||
		!hmac.Equal([]byte(want), []byte(r.Header.Get("X-Multimsg-Signature"))) {
		h.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if h.fail > 0 {
		h.fail--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	h.docs = append(h.docs, doc)
	h.at = append(h.at, time.Now())
	h.got <- struct{}{}
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.docs)
}

func inboundConfig(relay *smtptest.Server, hook *hookReceiver) string {
	return fmt.Sprintf(`
[delivery]
retry_min = "20ms"
retry_max = "100ms"

[[mail.sender]]
name = "relay"
host = "127.0.0.1"
port = %d
from = "gateway@box.test"
timeout = "5s"

[[webhook.sender]]
name = "hook"
url = %q
secret = "hook-secret"
timeout = "5s"

[sms.inbox]
wait = "1m"
devices = ["local"]

[[sms.inbound]]
name = "alarms"
pattern = "(?i)alarm"
forward = "webhook"

[[sms.inbound]]
name = "germany"
from = ["+49*"]
forward = "mail"
to = "ops@example.com"
`, relay.Port(), hook.srv.URL+"/sms")
}

func inPart(from, text string, sent time.Time, ref, parts, seq int) provider.Inbound {
	m := provider.Inbound{Service: "sms", Sender: "modem1", From: from, Sent: sent, Text: text,
		PDU: fmt.Appendf(nil, "%s|%s|%d|%d", from, text, ref, seq)}
	if parts > 1 {
		m.Concat = &provider.Concat{Ref: ref, RefBits: 16, Parts: parts, Seq: seq}
	}
	return m
}

type inboxAnswer struct {
	Messages []struct {
		ID, From, Text, State, Rule, Job, Forwarding string
		Parts, Got                                   int
	}
	More bool
}

func getInbox(t *testing.T, g *gatewaytest.Gateway, query string) (int, inboxAnswer) {
	t.Helper()
	code, body := gatewaytest.Get(t, g.URL+"/inbox"+query)
	var a inboxAnswer
	if code == 200 {
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatalf("/inbox: %v: %s", err, body)
		}
	}
	return code, a
}

// TestInboundEndToEnd: parts handed in by the modem side are stored, reassembled, forwarded by
// the first rule that matches — signed JSON to a webhook (retried after a 503), e-mail to the
// relay — once each, whatever is handed in twice or across a restart; devices read them at
// /inbox, admins see them (sender masked) with the forwarding's outcome.
func TestInboundEndToEnd(t *testing.T) {
	relay := smtptest.New(t, smtptest.Options{})
	hook := newHookReceiver(t, "hook-secret", 1)
	cfg := inboundConfig(relay, hook)
	g := gatewaytest.Start(t, cfg)
	ctx := context.Background()
	sent := time.Now().Add(-time.Minute).Truncate(time.Second)

	// a two-part alarm, second part first, each part handed in twice
	alarm := []provider.Inbound{
		inPart("+34600111222", "ALARM boiler 3: ", sent, 51234, 2, 1),
		inPart("+34600111222", "pressure high", sent.Add(time.Second), 51234, 2, 2),
	}
	for _, p := range []provider.Inbound{alarm[1], alarm[1], alarm[0], alarm[0]} {
		if err := g.Inbox.Inbound(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// a single text from Germany: by mail
	if err := g.Inbox.Inbound(ctx, inPart("+4917012345678", "ruf mich an", sent, 0, 1, 1)); err != nil {
		t.Fatal(err)
	}

	m := relay.Wait(t, 1)
	if !strings.Contains(string(m.Data), "ruf mich an") || !strings.Contains(string(m.Data), "SMS from +4917012345678") ||
		len(m.To) != 1 || m.To[0] != "ops@example.com" {
		t.Errorf("mail forwarded: to %v\n%s", m.To, m.Data)
	}
	select {
	case <-hook.got:
	case <-time.After(20 * time.Second):
		t.Fatal("the webhook got nothing")
	}
	hook.mu.Lock()
	doc := hook.docs[0]
	bad := hook.bad
	hook.mu.Unlock()
	if doc["text"] != "ALARM boiler 3: pressure high" || doc["from"] != "+34600111222" || doc["complete"] != true || doc["event"] != "sms.inbound" {
		t.Errorf("webhook document = %v", doc)
	}
	if bad != 0 {
		t.Errorf("%d posts had a bad signature", bad)
	}

	// /inbox: newest first, with the forwarding's outcome
	var a inboxAnswer
	poll.Until(t, 10*time.Second, "both forwardings delivered in /inbox", func() bool {
		_, a = getInbox(t, g, "")
		return len(a.Messages) == 2 && a.Messages[0].Forwarding == "delivered" && a.Messages[1].Forwarding == "delivered"
	})
	if a.Messages[0].Text != "ruf mich an" || a.Messages[0].Rule != "germany" || a.Messages[1].Rule != "alarms" || a.Messages[1].Parts != 2 {
		t.Errorf("/inbox = %+v", a)
	}
	if _, newer := getInbox(t, g, "?since="+a.Messages[1].ID); len(newer.Messages) != 1 || newer.Messages[0].ID != a.Messages[0].ID {
		t.Errorf("/inbox?since = %+v", newer)
	}
	if code, _ := getInbox(t, g, "?limit=0"); code != 400 {
		t.Errorf("/inbox?limit=0 = %d, want 400", code)
	}
	if code, _ := getInbox(t, g, "?since=../../etc"); code != 400 {
		t.Errorf("/inbox?since=garbage = %d, want 400", code)
	}

	// the admin's view: sender masked, no text, the outcome
	req, _ := http.NewRequest(http.MethodGet, g.URL+"/admin/api/status", nil)
	req.SetBasicAuth("admin", gatewaytest.AdminPassword)
	code, body := gatewaytest.Do(t, req)
	var st struct {
		Inbound []struct {
			From, Text, Forwarding, Rule string
		}
		InboundTotal int `json:"inbound_total"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil || len(st.Inbound) != 2 || st.InboundTotal != 2 {
		t.Fatalf("/admin/api/status = %d %s", code, body)
	}
	if f := st.Inbound[1].From; strings.Contains(f, "600111") || !strings.HasPrefix(f, "+346") || st.Inbound[1].Text != "" || st.Inbound[1].Forwarding != "delivered" {
		t.Errorf("admin's inbound row = %+v, want the sender masked, no text, delivered", st.Inbound[1])
	}

	// A crash between the commit and the modem's delete: after a restart the modem hands the
	// same part in again; it is recognised, nothing is forwarded twice.
	g.Stop(t)
	g = gatewaytest.StartIn(t, g.DataDir, cfg)
	if err := g.Inbox.Inbound(ctx, alarm[1]); err != nil {
		t.Fatal(err)
	}
	if _, a := getInbox(t, g, ""); len(a.Messages) != 2 {
		t.Errorf("after the restart and the part again: %d messages", len(a.Messages))
	}
	// one more message through the restarted box proves its forwarding runs; the duplicate
	// would have been posted before it
	if err := g.Inbox.Inbound(ctx, inPart("+1555", "second alarm", sent, 0, 1, 1)); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 20*time.Second, "the second alarm at the webhook", func() bool { return hook.count() >= 2 })
	hook.mu.Lock()
	texts := []string{}
	for _, d := range hook.docs {
		texts = append(texts, d["text"].(string))
	}
	hook.mu.Unlock()
	if !slices.Equal(texts, []string{"ALARM boiler 3: pressure high", "second alarm"}) {
		t.Errorf("webhook received %q, want each alarm once", texts)
	}
	if n := len(relay.Messages()); n != 1 {
		t.Errorf("relay received %d mails, want 1", n)
	}
}

// TestInboxDevicesOnly: a device not named in sms.inbox.devices is refused /inbox.
func TestInboxDevicesOnly(t *testing.T) {
	g := gatewaytest.Start(t, "")
	code, body := gatewaytest.Get(t, g.URL+"/inbox")
	if code != http.StatusForbidden || !strings.Contains(body, "sms.inbox.devices") {
		t.Errorf("/inbox from a device not allowed = %d %s, want 403 naming the setting", code, body)
	}
}

// sentBefore stores, in dir before the box starts, a job of device local whose SMS file the
// modem sent at `at` as parts with these TP-MRs (what the dispatcher records from the driver's
// receipt, dispatch.TestReceiptPartsKept): the part references are persisted with the file, so
// reports that come after a restart still find them.
func sentBefore(t *testing.T, dir string, at time.Time, dest string, mrs ...int) string {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "multimsg.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	j, err := st.Create(context.Background(), store.NewJob{Device: "local", Files: []store.NewFile{{Name: "alarm", Data: []byte(strings.Repeat("long alarm ", 30))}},
		Params: &store.Params{Service: "sms", Dest: dest, Types: []string{"text"}}})
	if err != nil {
		t.Fatal(err)
	}
	var parts []store.PartRef
	for _, mr := range mrs {
		parts = append(parts, store.PartRef{Ref: mr, Recipient: dest})
	}
	if _, err := st.Record(context.Background(), j.ID, []int{0}, store.Outcome{At: at, Service: "sms", Sender: "modem1",
		OK: true, Attempted: true, Parts: parts}); err != nil {
		t.Fatal(err)
	}
	return j.ID
}

// consJSON is /cons's JSON answer for a job (which it archives, when finished).
func consJSON(t *testing.T, g *gatewaytest.Gateway, id string) (state, report, detail string) {
	t.Helper()
	code, body := g.Post(t, "/cons", url.Values{"id": {id}}, "application/json")
	var a struct {
		State string
		Files []struct {
			Report       string
			ReportDetail string `json:"report_detail"`
		}
	}
	if code != 200 || json.Unmarshal([]byte(body), &a) != nil || len(a.Files) != 1 {
		t.Fatalf("/cons %s = %d %s", id, code, body)
	}
	return a.State, a.Files[0].Report, a.Files[0].ReportDetail
}

// TestStatusReportsInCons: a two-part SMS with reports for both parts → /cons JSON says
// handset; one part failed → the file says so with TP-ST's meaning; one part only → accepted;
// none within report_wait → unconfirmed. The plain-text answer stays the seed's "delivered"
// (the provider accepted it).
func TestStatusReportsInCons(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	handset := sentBefore(t, dir, now, "491701234567", 255, 0) // TP-MR wraps between the parts
	failed := sentBefore(t, dir, now, "491709999999", 1, 2)
	accepted := sentBefore(t, dir, now, "491708888888", 3, 4)
	unconfirmed := sentBefore(t, dir, now.Add(-2*time.Hour), "491707777777", 5)
	plain := sentBefore(t, dir, now, "491706666666", 6)
	g := gatewaytest.StartIn(t, dir, "[sms]\nreport_wait = \"1h\"\n")
	ctx := context.Background()
	rep := func(to string, mr, st int) {
		t.Helper()
		if err := g.Inbox.StatusReport(ctx, provider.StatusReport{Service: "sms", Sender: "modem1", Ref: mr, Recipient: "+" + to, Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	rep("491701234567", 255, 0x00)
	rep("491701234567", 0, 0x00)
	rep("491709999999", 1, 0x00)
	rep("491709999999", 2, 0x41)
	rep("491708888888", 3, 0x00)
	rep("491708888888", 4, 0x22) // the SMSC still tries
	rep("491706666666", 6, 0x41)
	rep("491700000000", 77, 0) // matches nothing: dropped (the modem may delete it), no error

	// the admin's view before /cons archives them
	req, _ := http.NewRequest(http.MethodGet, g.URL+"/admin/api/status", nil)
	req.SetBasicAuth("admin", gatewaytest.AdminPassword)
	_, body := gatewaytest.Do(t, req)
	var st struct{ Recent []struct{ ID, Report string } }
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	reports := map[string]string{}
	for _, r := range st.Recent {
		reports[r.ID] = r.Report
	}
	if r := reports[failed]; r != "failed: incompatible destination (part 2 of 2)" {
		t.Errorf("admin's report for the failed SMS = %q", r)
	}
	if r := reports[handset]; r != "handset" {
		t.Errorf("admin's report for the delivered SMS = %q", r)
	}

	for _, c := range []struct{ id, report, detail string }{
		{handset, "handset", ""},
		{failed, "failed", "incompatible destination (part 2 of 2)"},
		{accepted, "accepted", ""},
		{unconfirmed, "unconfirmed", ""},
	} {
		if state, report, detail := consJSON(t, g, c.id); state != "delivered" || report != c.report || detail != c.detail {
			t.Errorf("/cons JSON = %s / %s / %q, want delivered / %s / %q", state, report, detail, c.report, c.detail)
		}
	}
	if code, body := g.Post(t, "/cons", url.Values{"id": {plain}}, ""); code != 200 || body != "delivered" {
		t.Errorf("plain-text /cons of a failed report = %d %q, want the seed's delivered", code, body)
	}
}

// TestDeviceSendsToWebhook: the webhook service is a service like the others: a device's
// /send with serv=webhook and a JSON file is posted, signed, to the configured URL; a file
// that is not JSON is refused at /send.
func TestDeviceSendsToWebhook(t *testing.T) {
	relay := smtptest.New(t, smtptest.Options{})
	hook := newHookReceiver(t, "hook-secret", 0)
	g := gatewaytest.Start(t, inboundConfig(relay, hook))
	id, err := g.Client.Send(context.Background(), []client.File{{Field: "event", Filename: "event.json", ContentType: "application/json", Data: []byte(`{"door":"open"}`)}},
		client.Params{Service: "webhook", Dest: "door-events", Types: map[string]string{"event": "json"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if st := g.WaitState(t, id, 20*time.Second); st != client.Delivered {
		t.Fatalf("state = %s\n%s", st, g.Explain(id))
	}
	hook.mu.Lock()
	doc, bad := hook.docs[0], hook.bad
	hook.mu.Unlock()
	if doc["door"] != "open" || bad != 0 {
		t.Errorf("posted %v (bad signatures %d)", doc, bad)
	}
	_, err = g.Client.Send(context.Background(), []client.File{{Field: "event", Filename: "e.json", Data: []byte(`{not json`)}},
		client.Params{Service: "webhook", Dest: "door-events", Types: map[string]string{"event": "json"}}, false)
	if err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("/send of a broken JSON file: %v, want refused naming it", err)
	}
}
