package sms_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"multimsg/internal/poll"
	"multimsg/modem"
	"multimsg/modem/modemsim"
	"multimsg/provider"
	"multimsg/provider/sms"
)

// receiver is the far side of the provider.Receiver boundary, in the test: it records what
// it is handed and refuses (or sabotages) on the test's say.
type receiver struct {
	mu      sync.Mutex
	in      []provider.Inbound
	reports []provider.StatusReport
	refuse  int // refuse the next n messages
	hook    func(provider.Inbound) error
	changed chan struct{}
}

func newReceiver() *receiver { return &receiver{changed: make(chan struct{})} }

func (r *receiver) Inbound(ctx context.Context, m provider.Inbound) error {
	r.mu.Lock()
	hook := r.hook
	if r.refuse > 0 {
		r.refuse--
		r.mu.Unlock()
		return errors.New("store unavailable")
	}
	r.mu.Unlock()
	if hook != nil {
		if err := hook(m); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.in = append(r.in, m)
	r.signal()
	r.mu.Unlock()
	return nil
}

func (r *receiver) StatusReport(ctx context.Context, s provider.StatusReport) error {
	r.mu.Lock()
	r.reports = append(r.reports, s)
	r.signal()
	r.mu.Unlock()
	return nil
}

func (r *receiver) signal() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// wait waits until cond holds over what was received.
func (r *receiver) wait(t *testing.T, what string, cond func(in []provider.Inbound, reps []provider.StatusReport) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		r.mu.Lock()
		ok := cond(r.in, r.reports)
		ch := r.changed
		n, nr := len(r.in), len(r.reports)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %d messages, %d reports received", what, n, nr)
		case <-ch:
		}
	}
}

func (r *receiver) messages() []provider.Inbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.in)
}

func atLeast(n int) func([]provider.Inbound, []provider.StatusReport) bool {
	return func(in []provider.Inbound, _ []provider.StatusReport) bool { return len(in) >= n }
}

// reassemble joins the texts of received parts by (from, ref): what the receiver side does.
func reassemble(in []provider.Inbound) map[string]string {
	type key struct {
		from string
		ref  int
	}
	parts := map[key][]provider.Inbound{}
	out := map[string]string{}
	for _, m := range in {
		if m.Concat == nil {
			out[m.From+"/single/"+m.Text] = m.Text
			continue
		}
		k := key{m.From, m.Concat.Ref}
		parts[k] = append(parts[k], m)
	}
	for k, ps := range parts {
		sort.Slice(ps, func(i, j int) bool { return ps[i].Concat.Seq < ps[j].Concat.Seq })
		var b strings.Builder
		for _, p := range ps {
			b.WriteString(p.Text)
		}
		out[fmt.Sprintf("%s/%d/%d-of-%d", k.from, k.ref, len(ps), ps[0].Concat.Parts)] = b.String()
	}
	return out
}

func pdus(t *testing.T, in modemsim.Incoming) []string {
	t.Helper()
	p, err := modemsim.DeliverPDUs(in)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitStored waits until the modem's store holds n messages.
func waitStored(t *testing.T, sim *modemsim.Sim, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sim.WaitStored(ctx, n); err != nil {
		t.Fatal(err)
	}
}

// waitFor waits for what modemsim announces no signal for (a command it received).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, 30*time.Second, what, cond)
}

// TestReceiveInboundSMS: in +CMTI mode, a single text, a three-part text (8-bit reference)
// whose parts arrive out of order, a two-part UCS-2 text (16-bit reference) and a text whose
// middle part never comes all reach the receiver part by part, decoded, and the SIM is
// emptied of what the receiver took.
func TestReceiveInboundSMS(t *testing.T) {
	r := newRig(t, modemsim.Profile{}, nil)
	rc := newReceiver()
	r.drv.SetReceiver(rc)
	waitHealth(t, r.drv, "ready", ready)

	long := strings.Repeat("Lager 2: Tür offen {Zone B} ", 12)
	ucs := strings.Repeat("Feuer 🔥 im Serverraum. ", 4)
	gap := strings.Repeat("Teil fehlt ", 40)
	single := pdus(t, modemsim.Incoming{From: "+491701111111", Text: "Einzeln €5"})
	three := pdus(t, modemsim.Incoming{From: "+491702222222", Text: long, Ref: 77})
	two := pdus(t, modemsim.Incoming{From: "+491703333333", Text: ucs, Ref: 0x1234, Ref16: true})
	holey := pdus(t, modemsim.Incoming{From: "+491704444444", Text: gap, Ref: 9})
	if len(three) != 3 || len(two) != 2 || len(holey) != 3 {
		t.Fatalf("parts: %d %d %d", len(three), len(two), len(holey))
	}
	r.sim.Receive(single...)
	r.sim.Receive(three[2], three[0], three[1])
	r.sim.Receive(two...)
	r.sim.Receive(holey[0], holey[2])
	rc.wait(t, "8 parts", atLeast(8))
	waitStored(t, r.sim, 0)

	got := reassemble(rc.messages())
	want := map[string]string{
		"+491701111111/single/Einzeln €5": "Einzeln €5",
		"+491702222222/77/3-of-3":         long,
		"+491703333333/4660/2-of-2":       ucs,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %q)", k, got[k], v, got)
		}
	}
	if hole := got["+491704444444/9/2-of-3"]; hole == "" {
		t.Errorf("the parts of the message with a missing part did not come: %q", got)
	}
	for _, m := range rc.messages() {
		if m.Service != "sms" || !m.Sent.Equal(modemsim.DefaultSCTS) || len(m.PDU) == 0 {
			t.Errorf("inbound %+v", m)
		}
		if m.Concat != nil && m.From == "+491703333333" && m.Concat.RefBits != 16 {
			t.Errorf("16-bit reference read as %d-bit", m.Concat.RefBits)
		}
	}
	if !slices.ContainsFunc(r.sim.Commands(), func(c string) bool { return strings.HasPrefix(c, "AT+CNMI=2,1") }) {
		t.Errorf("no AT+CNMI asking for +CMTI: %q", r.sim.Commands())
	}
}

// TestReceiveCMTMode: a modem that can only pass messages directly (+CMT) gets each
// acknowledged with AT+CNMA once the receiver has it, and not while the receiver refuses it.
func TestReceiveCMTMode(t *testing.T) {
	r := newRig(t, modemsim.Profile{CMTOnly: true}, nil)
	rc := newReceiver()
	r.drv.SetReceiver(rc)
	waitHealth(t, r.drv, "ready", ready)
	waitFor(t, "AT+CNMI in +CMT mode", func() bool {
		return slices.Contains(r.sim.Commands(), "AT+CNMI=2,2,0,1,0")
	})
	rc.mu.Lock()
	rc.refuse = 1
	rc.mu.Unlock()
	r.sim.Receive(pdus(t, modemsim.Incoming{From: "+491705555555", Text: "refused once"})...)
	r.sim.Receive(pdus(t, modemsim.Incoming{From: "+491705555555", Text: "direkt"})...)
	rc.wait(t, "the direct message", atLeast(1))
	waitFor(t, "one AT+CNMA", func() bool { return r.sim.Acks() == 1 })
	if m := rc.messages(); len(m) != 1 || m[0].Text != "direkt" {
		t.Errorf("received %+v", m)
	}
	if r.sim.Stored() != 0 {
		t.Errorf("+CMT mode stored %d messages", r.sim.Stored())
	}
}

// TestReceiverErrorLeavesMessageOnSIM: a receiver that cannot commit leaves the message on the
// SIM (no AT+CMGD); the next poll hands it in again and only then is it deleted.
func TestReceiverErrorLeavesMessageOnSIM(t *testing.T) {
	r := newRig(t, modemsim.Profile{}, nil)
	rc := newReceiver()
	const refusals = 1 << 20 // every hand-in is refused until the test says otherwise
	rc.refuse = refusals
	r.drv.SetReceiver(rc)
	waitHealth(t, r.drv, "ready", ready)
	r.sim.Receive(pdus(t, modemsim.Incoming{From: "+491706666666", Text: "nicht verlieren"})...)
	waitFor(t, "the refusal", func() bool { rc.mu.Lock(); defer rc.mu.Unlock(); return rc.refuse < refusals })
	if r.sim.Stored() != 1 || slices.ContainsFunc(r.sim.Commands(), func(c string) bool { return strings.HasPrefix(c, "AT+CMGD") }) {
		t.Fatalf("refused message: stored %d, commands %q", r.sim.Stored(), r.sim.Commands())
	}
	rc.mu.Lock()
	rc.refuse = 0 // the store is back
	rc.mu.Unlock()
	r.drv.Modem().PollNow() // the next poll (poll_every)
	rc.wait(t, "the message at the next poll", atLeast(1))
	waitStored(t, r.sim, 0)
	if m := rc.messages(); len(m) != 1 || m[0].Text != "nicht verlieren" {
		t.Errorf("received %+v", m)
	}
}

// TestKillBetweenCommitAndDelete: the power goes (the port vanishes) after the receiver
// committed and before AT+CMGD; the box restarts and the message comes again — the receiver
// sees the duplicate (same sender, time stamp and PDU), nothing is lost.
func TestKillBetweenCommitAndDelete(t *testing.T) {
	r := newRig(t, modemsim.Profile{}, nil)
	rc := newReceiver()
	var once sync.Once
	rc.hook = func(provider.Inbound) error {
		once.Do(r.sim.Unplug) // committed; the power goes before the delete
		return nil
	}
	r.drv.SetReceiver(rc)
	waitHealth(t, r.drv, "ready", ready)
	r.sim.Receive(pdus(t, modemsim.Incoming{From: "+491707777777", Text: "genau einmal"})...)
	rc.wait(t, "the first hand-in", atLeast(1))
	r.drv.Close() // the process is gone
	if r.sim.Stored() != 1 {
		t.Fatalf("stored = %d after the cut, want 1 (never deleted); commands %q", r.sim.Stored(), r.sim.Commands())
	}
	if err := r.sim.Replug(); err != nil {
		t.Fatal(err)
	}
	drv2, err := sms.New(sms.Options{Device: r.sim.Path(), StateDir: r.dir, CommandTimeout: 500 * time.Millisecond,
		HealthEvery: time.Hour, SendUnregisteredAfter: -1}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drv2.Close() })
	drv2.SetReceiver(rc)
	rc.wait(t, "the duplicate after the restart", atLeast(2))
	waitStored(t, r.sim, 0)
	m := rc.messages()
	if m[0].From != m[1].From || !m[0].Sent.Equal(m[1].Sent) || string(m[0].PDU) != string(m[1].PDU) {
		t.Errorf("duplicate not recognisable: %+v vs %+v", m[0], m[1])
	}
}

// TestSIMMemoryFull: a store full at start (5 of 5, three more waiting at the network) shows
// in the modem's health, is read and emptied, and what waited arrives after.
func TestSIMMemoryFull(t *testing.T) {
	r := newRig(t, modemsim.Profile{Slots: 5}, nil)
	for i := range 8 {
		r.sim.Fill(pdus(t, modemsim.Incoming{From: "+491708888888", Text: fmt.Sprintf("Nachricht %d", i)})...)
	}
	if r.sim.Stored() != 5 || r.sim.Waiting() != 3 {
		t.Fatalf("stored %d waiting %d", r.sim.Stored(), r.sim.Waiting())
	}
	rc := newReceiver()
	release := make(chan struct{})
	rc.hook = func(provider.Inbound) error { <-release; return nil }
	r.drv.SetReceiver(rc)
	waitHealth(t, r.drv, "memory full in health", func(h modem.Health) bool { return h.SMSMemoryFull })
	if mh, ok := r.drv.Health().Facts.(modem.Health); !ok || !mh.SMSMemoryFull {
		t.Errorf("provider health facts = %+v", r.drv.Health().Facts)
	}
	if b, err := json.Marshal(r.drv.Health()); err != nil || !strings.Contains(string(b), `"sms_memory_full":true`) {
		t.Errorf("status JSON = %s, %v", b, err)
	}
	close(release)
	rc.wait(t, "all 8", atLeast(8))
	waitStored(t, r.sim, 0)
	r.drv.Modem().PollNow()
	waitHealth(t, r.drv, "memory no longer full", func(h modem.Health) bool { return !h.SMSMemoryFull })
}

// TestThousandWaitingAtStart: 1,000 messages on the modem at start are all handed in and
// deleted, read in batches (the listing keeps 20 PDUs, then AT+CMGR one by one).
func TestThousandWaitingAtStart(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 messages over a pty: not in -short")
	}
	const n = 1000
	r := newRig(t, modemsim.Profile{Slots: n}, nil)
	for i := range n {
		r.sim.Fill(pdus(t, modemsim.Incoming{From: "+491709999999", Text: fmt.Sprintf("Meldung %04d", i)})...)
	}
	rc := newReceiver()
	start := time.Now()
	r.drv.SetReceiver(rc)
	rc.wait(t, "1,000 messages", atLeast(n))
	waitStored(t, r.sim, 0)
	t.Logf("%d messages read, handed in and deleted in %v", n, time.Since(start).Round(time.Millisecond))
	cmgr := 0
	for _, c := range r.sim.Commands() {
		if strings.HasPrefix(c, "AT+CMGR=") {
			cmgr++
		}
	}
	if cmgr < n-40 {
		t.Errorf("%d AT+CMGR: the listing's PDUs were kept instead of read in batches", cmgr)
	}
}

// TestStatusReports: with status reports on (the default) a three-part text asks for them in
// every part, the receipt lists each part's TP-MR and recipient, and the reports — delivered,
// failed (TP-ST 0x46, validity expired), none — reach the receiver with those references, in
// both the stored (+CDSI, read and deleted, also from a report store of its own) and the
// direct (+CDS) mode.
func TestStatusReports(t *testing.T) {
	for _, c := range []struct {
		name string
		p    modemsim.Profile
	}{
		{"stored +CDSI", modemsim.Profile{}},
		{"stored +CDSI in a report store of its own (SR)", modemsim.Profile{ReportStorage: "SR"}},
		{"direct +CDS", modemsim.Profile{CMTOnly: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, c.p, nil)
			rc := newReceiver()
			r.drv.SetReceiver(rc)
			waitHealth(t, r.drv, "ready", ready)
			r.sim.ReportNext(0x00, 0x46, -1)
			rcpt, errs := sendUntil(t, r.drv, delivery(strings.Repeat("Statusbericht bitte. ", 20), nil))
			if len(errs) > 0 {
				t.Logf("send errors on the way: %v", errs)
			}
			msgs := r.sim.Messages()
			if len(msgs) != 1 || !msgs[0].SRR || msgs[0].Parts != 3 {
				t.Fatalf("sim messages %+v", msgs)
			}
			if len(rcpt.Parts) != 3 {
				t.Fatalf("receipt parts = %+v", rcpt.Parts)
			}
			for i, p := range rcpt.Parts {
				if p.Ref != msgs[0].MRs[i] || p.Recipient != "+"+dest {
					t.Errorf("part %d = %+v, want ref %d to +%s", i, p, msgs[0].MRs[i], dest)
				}
			}
			rc.wait(t, "two reports", func(_ []provider.Inbound, reps []provider.StatusReport) bool { return len(reps) >= 2 })
			rc.mu.Lock()
			reps := slices.Clone(rc.reports)
			rc.mu.Unlock()
			sort.Slice(reps, func(i, j int) bool { return reps[i].Status < reps[j].Status })
			if reps[0].Ref != rcpt.Parts[0].Ref || reps[0].Status != 0 || reps[1].Ref != rcpt.Parts[1].Ref || reps[1].Status != 0x46 {
				t.Errorf("reports = %+v, parts %+v", reps, rcpt.Parts)
			}
			for _, rep := range reps {
				if rep.Recipient != "+"+dest || rep.Service != "sms" {
					t.Errorf("report %+v", rep)
				}
			}
			waitStored(t, r.sim, 0)
			if c.p.ReportStorage != "" && !slices.Contains(r.sim.Commands(), `AT+CPMS="SR"`) {
				t.Errorf("reports in SR read without selecting it: %q", r.sim.Commands())
			}
		})
	}
}

// TestStatusReportsOff: with status reports off, sends do not ask and receipts carry no parts.
func TestStatusReportsOff(t *testing.T) {
	r := newRig(t, modemsim.Profile{}, func(o *sms.Options) { o.NoStatusReports = true })
	waitHealth(t, r.drv, "ready", ready)
	rcpt, _ := sendUntil(t, r.drv, delivery("kein Bericht", nil))
	if rcpt.Parts != nil {
		t.Errorf("receipt parts = %+v, want none", rcpt.Parts)
	}
	if m := r.sim.Messages(); len(m) != 1 || m[0].SRR {
		t.Errorf("sim messages %+v", m)
	}
}
