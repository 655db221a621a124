package dispatch

import (
	"time"

	"multimsg/store"
)

// senderReady is a driver saying it can send again (provider.ReadyNotifier): a modem that has
// registered. Files that failed on its service before that moment are due now rather than at
// the end of a backoff that grew while the modem could not send, so the queue drains as soon
// as it can.
func (d *Dispatcher) senderReady(ss *senderState) {
	d.markReady(ss, d.o.Now())
	d.log.Info("dispatch: sender ready again; retrying its waiting work now", "service", ss.service, "sender", ss.name)
	d.enqueuePending(func(service string) bool { return service == ss.service })
}

// RetryNow makes every waiting delivery due now, as if every sender had just said it is ready
// (the admin's "retry" by SMS when the uplink comes back): backoffs and holds for an operator
// end; paused senders stay paused. It returns how many pending files were made due.
func (d *Dispatcher) RetryNow() int {
	now := d.o.Now()
	for _, ss := range d.senderMap() {
		d.markReady(ss, now)
	}
	n := d.enqueuePending(func(string) bool { return true })
	d.log.Info("dispatch: every waiting delivery made due now", "files", n)
	return n
}

func (d *Dispatcher) markReady(ss *senderState, now time.Time) {
	ss.mu.Lock()
	ss.readyAt = now
	ss.downUntil = now // a hold for an operator ends: the driver says it is fine now
	ss.mu.Unlock()
}

// enqueuePending walks the queued jobs once and makes due those with a pending file of a
// service that match takes; it returns how many such files there were.
func (d *Dispatcher) enqueuePending(match func(service string) bool) int {
	n := 0
	_ = d.st.Queued(func(j *store.Job) bool {
		due := false
		for _, f := range j.Files {
			if f.State == store.FilePending && match(f.Service) {
				n++
				due = true
			}
		}
		if due {
			d.Enqueue(j.ID)
		}
		return true
	})
	return n
}

// expedited says a pending file that is not due yet may go now: a sender of its service said it
// is ready after the file's last attempt.
func (d *Dispatcher) expedited(f store.File) bool {
	if len(f.History) == 0 {
		return false
	}
	last := f.History[len(f.History)-1].At
	svc, err := d.reg.Service(f.Service)
	if err != nil {
		return false
	}
	senders := d.senderMap()
	for i := range svc.Senders {
		ss := senders[svc.Name+"/"+svc.Senders[i].Name]
		if ss == nil {
			continue
		}
		ss.mu.Lock()
		ready := ss.readyAt.After(last)
		ss.mu.Unlock()
		if ready {
			return true
		}
	}
	return false
}
