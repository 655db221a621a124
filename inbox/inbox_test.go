package inbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"multimsg/provider"
	smsconf "multimsg/provider/sms"
	"multimsg/provider/webhook"
	"multimsg/store"
)

// clock is a settable time for the store and the inbox.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	st    *store.Store
	ib    *Inbox
	clk   *clock
	path  string
	o     store.Options
	rules []Rule
}

func registry(t testing.TB) *provider.Registry {
	t.Helper()
	hook, err := webhook.New(webhook.Options{Name: "hook", URL: "http://127.0.0.1:9/in", Secret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := provider.NewRegistry(webhook.Service([]provider.Sender{{Name: "hook", Driver: hook}}))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func newEnv(t *testing.T, o store.Options, rules ...Rule) *env {
	t.Helper()
	e := &env{clk: &clock{t: time.Date(2026, 12, 4, 7, 0, 0, 0, time.UTC)}, path: filepath.Join(t.TempDir(), "m.db"), rules: rules}
	o.Now = e.clk.now
	e.o = o
	e.open(t)
	return e
}

func (e *env) open(t *testing.T) {
	t.Helper()
	st, err := store.Open(e.path, e.o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ib, err := New(st, Options{Rules: e.rules, Registry: registry(t), Now: e.clk.now, Settings: Settings{Wait: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	e.st, e.ib = st, ib
}

func (e *env) check(t *testing.T) {
	t.Helper()
	if err := e.st.Check(); err != nil {
		t.Fatalf("store check: %v", err)
	}
}

var hookAll = Rule{Name: "all", Forward: "webhook"}

func sms(from, text string, sent time.Time) provider.Inbound {
	return provider.Inbound{Service: "sms", Sender: "modem1", From: from, Sent: sent, Text: text, PDU: []byte("pdu:" + from + text)}
}

func part(from, text string, sent time.Time, ref, bits, parts, seq int) provider.Inbound {
	m := sms(from, text, sent)
	m.Concat = &provider.Concat{Ref: ref, RefBits: bits, Parts: parts, Seq: seq}
	m.PDU = fmt.Appendf(nil, "pdu:%s:%s:%d:%d:%d:%d", from, text, ref, bits, parts, seq)
	return m
}

func inbox(t *testing.T, st *store.Store) []store.InMessage {
	t.Helper()
	ms, err := st.Inbox(store.InQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func forwardJob(t *testing.T, st *store.Store, m store.InMessage) *store.Job {
	t.Helper()
	if !m.Forwarded || m.Job == "" {
		t.Fatalf("message %s: forwarded %v job %q, want a forwarding job", m.ID, m.Forwarded, m.Job)
	}
	j, err := st.Get(m.Job)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestSingleStoredAndForwardedOnce(t *testing.T) {
	e := newEnv(t, store.Options{}, hookAll)
	ctx := context.Background()
	in := sms("+34600111222", "door open", e.clk.now().Add(-time.Minute))
	for range 3 { // a crash between commit and delete gives the same part again
		if err := e.ib.Inbound(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	ms := inbox(t, e.st)
	if len(ms) != 1 {
		t.Fatalf("inbox holds %d messages, want 1", len(ms))
	}
	j := forwardJob(t, e.st, ms[0])
	if j.Device != "sms:modem1" || j.Service != "webhook" || j.State != store.Queued || j.Via != "sms" {
		t.Errorf("forwarding job = device %q service %q state %q via %q", j.Device, j.Service, j.State, j.Via)
	}
	data, _ := e.st.Data(j.ID)
	if !strings.Contains(string(data[0].Data), `"text":"door open"`) || !strings.Contains(string(data[0].Data), `"id":"`+ms[0].ID+`"`) {
		t.Errorf("webhook document = %s", data[0].Data)
	}
	counts, _ := e.st.Counts()
	if counts[store.Queued] != 1 {
		t.Errorf("queued jobs = %d, want 1 (no double forward)", counts[store.Queued])
	}
	e.check(t)
}

// The same number can send two different texts within one second: not duplicates.
func TestSameSecondDifferentTextKept(t *testing.T) {
	e := newEnv(t, store.Options{}, hookAll)
	at := e.clk.now()
	for _, txt := range []string{"one", "two"} {
		if err := e.ib.Inbound(context.Background(), sms("+1555", txt, at)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(inbox(t, e.st)); n != 2 {
		t.Fatalf("inbox holds %d, want 2", n)
	}
}

func TestConcatOutOfOrder(t *testing.T) {
	for _, bits := range []int{8, 16} {
		e := newEnv(t, store.Options{}, hookAll)
		ctx := context.Background()
		at := e.clk.now()
		ref := 200
		if bits == 16 {
			ref = 40000
		}
		for _, seq := range []int{3, 1, 3, 2} { // out of order, one part twice
			txt := []string{"", "alpha ", "beta ", "gamma"}[seq]
			if err := e.ib.Inbound(ctx, part("+4915", txt, at.Add(time.Duration(seq)*time.Second), ref, bits, 3, seq)); err != nil {
				t.Fatal(err)
			}
			if seq != 2 {
				if ms := inbox(t, e.st); len(ms) != 1 || ms[0].State != store.InAssembling || ms[0].Forwarded {
					t.Fatalf("%d-bit: after part %d: %+v, want one message assembling, not forwarded", bits, seq, ms)
				}
			}
		}
		ms := inbox(t, e.st)
		if len(ms) != 1 || ms[0].State != store.InComplete || ms[0].Text() != "alpha beta gamma" {
			t.Fatalf("%d-bit: inbox = %+v, want one complete message \"alpha beta gamma\"", bits, ms)
		}
		forwardJob(t, e.st, ms[0])
		// the same reference later is a new message
		if err := e.ib.Inbound(ctx, part("+4915", "again", at.Add(time.Hour), ref, bits, 2, 1)); err != nil {
			t.Fatal(err)
		}
		if n := len(inbox(t, e.st)); n != 2 {
			t.Fatalf("%d-bit: a reused reference joined the finished message: %d messages", bits, n)
		}
		e.check(t)
	}
}

func TestMissingPartKeptIncomplete(t *testing.T) {
	e := newEnv(t, store.Options{}, hookAll)
	ctx := context.Background()
	at := e.clk.now()
	for _, seq := range []int{1, 3} {
		if err := e.ib.Inbound(ctx, part("+4915", []string{"", "a", "b", "c"}[seq], at, 7, 8, 3, seq)); err != nil {
			t.Fatal(err)
		}
	}
	e.ib.Tick(ctx)
	if ms := inbox(t, e.st); ms[0].State != store.InAssembling {
		t.Fatalf("before the wait: %s", ms[0].State)
	}
	e.clk.add(2 * time.Minute)
	e.ib.Tick(ctx)
	ms := inbox(t, e.st)
	if ms[0].State != store.InIncomplete || ms[0].Text() != "a[…]c" {
		t.Fatalf("after the wait: state %s text %q, want incomplete \"a[…]c\"", ms[0].State, ms[0].Text())
	}
	j := forwardJob(t, e.st, ms[0])
	data, _ := e.st.Data(j.ID)
	if !strings.Contains(string(data[0].Data), `"complete":false`) || !strings.Contains(string(data[0].Data), `"got":2`) {
		t.Errorf("document = %s, want it marked incomplete", data[0].Data)
	}
	// In /inbox only messages no longer waiting.
	done, _ := e.st.Inbox(store.InQuery{Done: true})
	if len(done) != 1 {
		t.Errorf("Done listing = %d", len(done))
	}
	e.check(t)
}

func TestRulesFirstMatchWins(t *testing.T) {
	rules := []Rule{
		{Name: "quiet", From: []string{"+34 600 000 000"}, Forward: "none"},
		{Name: "alarms", Pattern: `(?i)^alarm`, Forward: "webhook"},
		{Name: "from-de", From: []string{"+49*"}, Forward: "webhook"},
	}
	e := newEnv(t, store.Options{}, rules...)
	ctx := context.Background()
	cases := []struct {
		from, text, rule string
		job              bool
	}{
		{"+34600000000", "ALARM from quiet", "quiet", false},
		{"+33111", "Alarm: door", "alarms", true},
		{"+4930123", "hello", "from-de", true},
		{"+33111", "hello", "", false},
	}
	for i, c := range cases {
		if err := e.ib.Inbound(ctx, sms(c.from, c.text, e.clk.now().Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	ms := inbox(t, e.st) // newest first
	for i, c := range cases {
		m := ms[len(ms)-1-i]
		if !m.Forwarded || m.Rule != c.rule || (m.Job != "") != c.job {
			t.Errorf("%s %q: forwarded %v rule %q job %q, want rule %q job %v", c.from, c.text, m.Forwarded, m.Rule, m.Job, c.rule, c.job)
		}
	}
}

func TestRulesRefused(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "m.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, r := range []Rule{
		{Forward: "webhook", Pattern: "("},
		{Forward: "fax"},
		{Forward: ""},
		{Forward: "mail"}, // no to
		{Forward: "webhook", To: "two words"},
		{Forward: "webhook", Pattern: strings.Repeat("a", smsconf.MaxPattern+1)},
		{Forward: "webhook", From: []string{"abc"}},
		{Forward: "sms", To: "15551234567"}, // no sms sender in this registry
	} {
		if _, err := New(st, Options{Rules: []Rule{r}, Registry: registry(t)}); err == nil {
			t.Errorf("New(%+v) = nil error, want the rule refused", r)
		}
	}
}

func TestCapPurgesOldestForwarded(t *testing.T) {
	e := newEnv(t, store.Options{InboxMax: 3}, hookAll)
	ctx := context.Background()
	for i := range 5 {
		if err := e.ib.Inbound(ctx, sms("+1555", "m"+string(rune('0'+i)), e.clk.now().Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	ms := inbox(t, e.st)
	if len(ms) != 3 || ms[0].Text() != "m4" || ms[2].Text() != "m2" {
		t.Fatalf("inbox = %d messages (newest %q), want the 3 newest", len(ms), ms[0].Text())
	}
	if n, _ := e.st.InCounts(); n != 3 {
		t.Errorf("InCounts = %d, want 3", n)
	}
	e.check(t)
}

func TestCapFullWhenNothingForwarded(t *testing.T) {
	e := newEnv(t, store.Options{InboxMax: 2}, hookAll)
	ctx := context.Background()
	at := e.clk.now()
	// parts waiting for the rest are not forwarded: they cannot be purged
	for i := range 2 {
		if err := e.ib.Inbound(ctx, part("+1555", "x", at, i, 8, 2, 1)); err != nil {
			t.Fatal(err)
		}
	}
	err := e.ib.Inbound(ctx, sms("+1555", "third", at))
	if !errors.Is(err, store.ErrInboxFull) {
		t.Fatalf("Inbound on a full inbox = %v, want ErrInboxFull (the modem keeps it)", err)
	}
	if n := len(inbox(t, e.st)); n != 2 {
		t.Errorf("inbox = %d", n)
	}
	if n, _ := e.st.InCounts(); n != 2 {
		t.Errorf("InCounts = %d after a refusal, want 2", n)
	}
	// the refusal changed nothing: the waiting message still completes, and then makes room
	if err := e.ib.Inbound(ctx, part("+1555", "y", at, 0, 8, 2, 2)); err != nil {
		t.Fatal(err)
	}
	if err := e.ib.Inbound(ctx, sms("+1555", "third", at)); err != nil {
		t.Fatalf("after a message was forwarded: %v", err)
	}
	ms := inbox(t, e.st)
	if len(ms) != 2 || ms[0].Text() != "third" {
		t.Errorf("inbox = %d messages, newest %q", len(ms), ms[0].Text())
	}
	e.check(t)
}

func TestQuotaCounted(t *testing.T) {
	e := newEnv(t, store.Options{}, Rule{Forward: "none"})
	before, _ := e.st.Bytes()
	in := sms("+1555", strings.Repeat("x", 400), e.clk.now())
	in.PDU = nil
	if err := e.ib.Inbound(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	after, _ := e.st.Bytes()
	if after-before < 400 {
		t.Errorf("quota charged %d bytes for a 400-byte message", after-before)
	}
	e.clk.add(8 * 24 * time.Hour)
	e.ib.Tick(context.Background())
	if n := len(inbox(t, e.st)); n != 0 {
		t.Errorf("after retention: %d messages", n)
	}
	if end, _ := e.st.Bytes(); end != before {
		t.Errorf("after purge: %d bytes charged, want %d", end, before)
	}
	e.check(t)
}

// A crash after the last part's commit, before the forwarding: reopened, the message is
// forwarded once; the modem hands the part in again: recognised.
func TestCrashBetweenCommitAndForward(t *testing.T) {
	e := newEnv(t, store.Options{}, hookAll)
	ctx := context.Background()
	in := sms("+1555", "boiler", e.clk.now())
	// what Inbound does up to the commit, without the forwarding
	if _, err := e.st.AddInPart(ctx, store.NewInPart{Service: "sms", Sender: "modem1", From: in.From, Sent: in.Sent, Text: in.Text,
		Keys: []string{"p:x"}}); err != nil {
		t.Fatal(err)
	}
	e.st.Close()
	e.open(t)
	e.ib.Tick(ctx)
	e.ib.Tick(ctx)
	ms := inbox(t, e.st)
	forwardJob(t, e.st, ms[0])
	if c, _ := e.st.Counts(); c[store.Queued] != 1 {
		t.Errorf("queued = %d, want 1", c[store.Queued])
	}
}

func TestInboxPaging(t *testing.T) {
	e := newEnv(t, store.Options{}, Rule{Forward: "none"})
	ctx := context.Background()
	for i := range 5 {
		e.clk.add(time.Millisecond * 2)
		if err := e.ib.Inbound(ctx, sms("+1", string(rune('a'+i)), e.clk.now())); err != nil {
			t.Fatal(err)
		}
	}
	all := inbox(t, e.st)
	page, _ := e.st.Inbox(store.InQuery{Limit: 2})
	next, _ := e.st.Inbox(store.InQuery{Limit: 2, Before: page[1].ID})
	newer, _ := e.st.Inbox(store.InQuery{Since: all[2].ID})
	got := func(ms []store.InMessage) (s string) {
		for _, m := range ms {
			s += m.Text()
		}
		return
	}
	if got(all) != "edcba" || got(page) != "ed" || got(next) != "cb" || got(newer) != "ed" {
		t.Errorf("all %q page %q next %q since %q", got(all), got(page), got(next), got(newer))
	}
}

// TestRefusedByServiceKept: a message the rule's service refuses (a webhook document over its
// size limit) is kept, its forwarding decided once with the reason, not retried every turn.
func TestRefusedByServiceKept(t *testing.T) {
	e := newEnv(t, store.Options{}, hookAll)
	ctx := context.Background()
	const n = 200 // 200 × 480 bytes > webhook.MaxBody
	for seq := 1; seq <= n; seq++ {
		in := part("+1555", strings.Repeat("x", MaxPartText), e.clk.now(), 9, 8, n, seq)
		in.PDU = nil
		if err := e.ib.Inbound(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	ms := inbox(t, e.st)
	if len(ms) != 1 || !ms[0].Forwarded || ms[0].Job != "" || !strings.Contains(ms[0].Note, "not forwarded") {
		t.Fatalf("inbox = forwarded %v job %q note %q, want decided, no job, the reason", ms[0].Forwarded, ms[0].Job, ms[0].Note)
	}
	e.ib.Tick(ctx)
	if c, _ := e.st.Counts(); c[store.Queued] != 0 {
		t.Errorf("queued = %d", c[store.Queued])
	}
}

func TestPartLargerThanSMSRefused(t *testing.T) {
	e := newEnv(t, store.Options{}, hookAll)
	err := e.ib.Inbound(context.Background(), sms("+1555", strings.Repeat("x", MaxPartText+1), e.clk.now()))
	if err == nil || !strings.Contains(err.Error(), "larger than an SMS part") {
		t.Fatalf("Inbound(too large) = %v", err)
	}
	if n := len(inbox(t, e.st)); n != 0 {
		t.Errorf("stored %d", n)
	}
}
