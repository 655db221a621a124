package dispatch

import (
	"testing"
	"testing/synctest"
	"time"

	"multimsg/store"
)

// A Swap does not wait for a stalled send: after the grace the sends of the services being
// replaced are interrupted, and after a second grace every other one; each interrupted job is
// due again at once, goes out through the new sender, and has the interruption in its history
// without an attempt counted. Nothing is lost.
func TestSwapInterruptsStalledSends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const grace = 3 * time.Second
		stalled := &fakeDriver{name: "old", gate: make(chan struct{})} // a relay stalled at DATA
		modem := &fakeDriver{name: "m1", gate: make(chan struct{})}    // another service, stalled too
		h := start(t, Options{SwapGrace: grace, SendTimeout: time.Hour}, svc("mail", false, stalled), svc("sms", true, modem))
		mail := h.queue("mail", "", 0, "alert")
		sms := h.queue("sms", "", 0, "alert")
		synctest.Wait() // both sends are in flight, stalled

		fresh := &fakeDriver{name: "new"}
		start := time.Now()
		err := h.d.Swap([]string{"mail"}, func() error {
			return h.d.reg.Replace(svc("mail", false, fresh), svc("sms", true, modem))
		})
		if err != nil {
			t.Fatal(err)
		}
		// mail's send went at one grace; sms's, not being replaced, was given a second
		if took := time.Since(start); took != 2*grace {
			t.Errorf("Swap took %v, want %v (one grace for the rebuilt service, one more for the others)", took, 2*grace)
		}
		close(modem.gate) // the modem answers again
		synctest.Wait()
		for _, id := range []string{mail, sms} {
			j := h.job(id)
			f := j.Files[0]
			if j.State != store.Delivered {
				t.Fatalf("job %s: %s (%s), want delivered after the swap", id, j.State, f.LastError)
			}
			if f.Attempts != 1 || len(f.History) != 2 || f.History[0].Class != "interrupted" || !f.History[1].OK {
				t.Errorf("job %s: %d attempts, history %+v; want the interruption kept, one attempt counted", id, f.Attempts, f.History)
			}
		}
		if l := fresh.log(); len(l) != 1 || l[0].job != mail || l[0].n != 1 {
			t.Errorf("new sender's deliveries = %+v, want the mail job once, as attempt 1", l)
		}
		if l := stalled.log(); len(l) != 0 {
			t.Errorf("the stalled sender completed %+v", l)
		}
		if l := modem.log(); len(l) != 1 || l[0].job != sms {
			t.Errorf("modem's deliveries = %+v, want the sms job once", l)
		}
	})
}

// A send that returns within the grace is not interrupted: the Swap waits for it, and its
// outcome is recorded as usual.
func TestSwapWaitsForQuickSends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const grace = 5 * time.Second
		slow := &fakeDriver{name: "old", gate: make(chan struct{})}
		h := start(t, Options{SwapGrace: grace}, svc("mail", false, slow))
		id := h.queue("mail", "", 0, "alert")
		synctest.Wait()
		// the relay answers halfway through the grace (the bubble's clock)
		time.AfterFunc(grace/2, func() { slow.gate <- struct{}{} })
		err := h.d.Swap([]string{"mail"}, func() error {
			return h.d.reg.Replace(svc("mail", false, &fakeDriver{name: "new"}))
		})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		j := h.job(id)
		if j.State != store.Delivered || j.Files[0].Sender != "old" || len(j.Files[0].History) != 1 {
			t.Errorf("job: %s by %q, history %+v; want delivered by the old sender, not interrupted", j.State, j.Files[0].Sender, j.Files[0].History)
		}
	})
}
