package dispatch

import (
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"multimsg/provider"
	"multimsg/store"
)

// TestRetryNow: work waiting out a long backoff, or a sender held down for an operator, goes out
// at once when the admin says retry; a paused sender stays paused.
func TestRetryNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fail atomic.Bool
		fail.Store(true)
		relay := &fakeDriver{name: "relay", script: func(int, provider.Delivery) error {
			if fail.Load() {
				return provider.Temp("421", errors.New("relay busy"))
			}
			return nil
		}}
		wa := &fakeDriver{name: "main", script: func(int, provider.Delivery) error {
			if fail.Load() {
				return provider.SenderDown("401", errors.New("token expired"))
			}
			return nil
		}}
		paused := &fakeDriver{name: "m1"}
		h := start(t, Options{RetryMin: time.Hour, RetryMax: 6 * time.Hour}, svc("mail", false, relay), svc("wpp1", true, wa), svc("sms", true, paused))
		h.d.Pause("sms", "m1", true)
		mail, wpp := h.queue("mail", "", 0, "a"), h.queue("wpp1", "", 0, "b", "c")
		sms := h.queue("sms", "", 0, "d")
		step(time.Minute)
		if len(relay.log()) != 1 || len(wa.log()) == 0 {
			t.Fatalf("first attempts: relay %d, wpp1 %d", len(relay.log()), len(wa.log()))
		}
		fail.Store(false)
		step(time.Second) // the admin's retry comes after the last failure, never at its instant
		if n := h.d.RetryNow(); n != 4 {
			t.Errorf("RetryNow made %d files due, want 4 (a, b, c, and d on the paused sender)", n)
		}
		synctest.Wait()
		for _, id := range []string{mail, wpp} {
			if j := h.job(id); j.State != store.Delivered {
				t.Errorf("job %s = %s right after RetryNow, want delivered (its backoff was an hour)", id, j.State)
				for _, f := range j.Files {
					t.Logf("file %s %s next %v hist %+v", f.Name, f.State, f.NextAt, f.History)
				}
			}
		}
		if j := h.job(sms); j.State == store.Delivered || len(paused.log()) != 0 {
			t.Errorf("a paused sender sent after RetryNow: %s, %d sends", j.State, len(paused.log()))
		}
	})
}
