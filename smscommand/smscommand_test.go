package smscommand

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

type box struct {
	paused  []string
	reboots int
}

func (b *box) Status(context.Context) string {
	return "queued 3; wpp1/main down; sms/modem ok; credit 4.50"
}
func (b *box) Pause(_ context.Context, s string) error {
	if s != "wpp1/main" {
		return errors.New("no such sender")
	}
	b.paused = append(b.paused, s)
	return nil
}
func (b *box) Resume(context.Context, string) error { return nil }
func (b *box) Retry(context.Context) (int, error)   { return 7, nil }
func (b *box) Balance(context.Context) (string, error) {
	return strings.Repeat("Saldo 4,50 EUR. ", 20), nil
}
func (b *box) Reboot(context.Context) error { b.reboots++; return nil }

func TestHandle(t *testing.T) {
	now := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	c, err := New(Options{Allow: []string{"+34 600 111 222"}, Key: "s3cretKey", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	b := &box{}
	ctx := context.Background()
	cases := []struct {
		from, text string
		out        Outcome
		reply      string
	}{
		{"+34600111222", "s3cretKey status", Done, "queued 3; wpp1/main down; sms/modem ok; credit 4.50"},
		{"0034600111222", "s3cretKey STATUS", Done, "queued 3; wpp1/main down; sms/modem ok; credit 4.50"},
		{"+34600111222", "s3cretKey pause wpp1/main", Done, "paused wpp1/main"},
		{"+34600111222", "s3cretKey pause nope", Done, "pause nope: no such sender"},
		{"+34600111222", "s3cretKey retry", Done, "retry: 7 deliveries due now"},
		{"+34600111222", "s3cretKey reboot", Done, "rebooting in 30 s"},
		{"+34600111222", "Hello, the pump in hall 2 is leaking", NotCommand, ""},
		{"+34600111222", "wrongkey status", Refused, ""},
		{"+34999999999", "s3cretKey status", Refused, ""},
	}
	for _, k := range cases {
		r := c.Handle(ctx, b, k.from, k.text)
		if r.Outcome != k.out || r.Reply != k.reply {
			t.Errorf("%s %q: %v %q, want %v %q", k.from, k.text, r.Outcome, r.Reply, k.out, k.reply)
		}
		if strings.Contains(r.Audit, "s3cretKey") {
			t.Errorf("the key is in the audit text %q", r.Audit)
		}
		if k.out == Refused && r.Reason == "" {
			t.Errorf("%q: refused without a reason", k.text)
		}
	}
	if r := c.Handle(ctx, b, "+34600111222", "s3cretKey balance"); len([]rune(r.Reply)) != MaxReply || !strings.HasSuffix(r.Reply, "...") {
		t.Errorf("a long answer must be cut to one SMS: %d characters %q", len([]rune(r.Reply)), r.Reply)
	}
	if b.reboots != 1 {
		t.Errorf("%d reboots, want 1", b.reboots)
	}
}

func TestRepeatedFailuresSilenceANumber(t *testing.T) {
	now := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	c, _ := New(Options{Allow: []string{"+34600111222"}, Key: "s3cretKey", MaxFailures: 3, Window: time.Hour, Now: func() time.Time { return now }})
	b := &box{}
	for i := 0; i < 3; i++ {
		if r := c.Handle(context.Background(), b, "+34600111222", "guess"+string(rune('a'+i))+" status"); r.Reason != "wrong key" {
			t.Fatalf("attempt %d: %+v", i, r)
		}
	}
	if r := c.Handle(context.Background(), b, "+34600111222", "s3cretKey status"); r.Outcome != Refused || !strings.Contains(r.Reason, "too many") {
		t.Fatalf("the right key right after 3 failures: %+v, want silenced", r)
	}
	now = now.Add(61 * time.Minute)
	if r := c.Handle(context.Background(), b, "+34600111222", "s3cretKey status"); r.Outcome != Done {
		t.Fatalf("after the window: %+v", r)
	}
	c.Handle(context.Background(), b, "+34600111222", "hello there") // not a command: not counted
	if got, want := c.Counts(), (Counts{Done: 1, Refused: 4}); got != want {
		t.Errorf("counts = %+v, want %+v (3 wrong keys and 1 silenced refused, 1 answered)", got, want)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, o := range []Options{
		{Allow: []string{"+34600111222"}, Key: "short"},
		{Allow: []string{"+34600111222"}, Key: "two words"},
		{Key: "s3cretKey"},
		{Allow: []string{"call me"}, Key: "s3cretKey"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

func FuzzHandle(f *testing.F) {
	for _, s := range []string{"s3cretKey status", "x pause a/b", "hello", "s3cretKey  reboot now"} {
		f.Add("+34600111222", s)
	}
	c, _ := New(Options{Allow: []string{"+34600111222"}, Key: "s3cretKey"})
	f.Fuzz(func(t *testing.T, from, text string) {
		r := c.Handle(context.Background(), &box{}, from, text)
		if strings.Contains(r.Audit, "s3cretKey") || len([]rune(r.Reply)) > MaxReply {
			t.Fatalf("%q %q: %+v", from, text, r)
		}
	})
}
