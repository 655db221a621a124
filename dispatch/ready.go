package dispatch

import "multimsg/store"

// senderReady is a driver saying it can send again (provider.ReadyNotifier): a modem that has
// registered. Files that failed on its service before that moment are due now rather than at
// the end of a backoff that grew while the modem could not send, so the queue drains as soon
// as it can.
func (d *Dispatcher) senderReady(ss *senderState) {
	now := d.o.Now()
	ss.mu.Lock()
	ss.readyAt = now
	ss.downUntil = now // a hold for an operator ends: the driver says it is fine now
	ss.mu.Unlock()
	d.log.Info("dispatch: sender ready again; retrying its waiting work now", "service", ss.service, "sender", ss.name)
	_ = d.st.Queued(func(j *store.Job) bool {
		for _, f := range j.Files {
			if f.State == store.FilePending && f.Service == ss.service {
				d.Enqueue(j.ID)
				break
			}
		}
		return true
	})
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
