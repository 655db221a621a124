package modem

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Inbox takes what the modem receives. A nil error means what was handed in is durable:
// only then is it deleted from the modem (AT+CMGD) or acknowledged (AT+CNMA). It must accept
// the same message again (a crash between its commit and the delete brings it back).
type Inbox interface {
	Deliver(ctx context.Context, d *Deliver) error
	Report(ctx context.Context, r *Report) error
}

// ErrNoInbox is what a message is refused with while no inbox is attached: it stays on the
// modem until the next poll.
var ErrNoInbox = errors.New("no inbox attached yet")

// Defaults of the receiving side.
const (
	DefaultPollEvery = 5 * time.Minute
	// readBatch is how many stored messages are held in memory at once: the listing keeps the
	// PDUs of the first batch and only the indexes of the rest, read one by one (AT+CMGR) in
	// batches of this size, each batch committed and deleted before the next is read.
	readBatch = 20
	// maxListed bounds the indexes one listing keeps (a store of ME memory can be large).
	maxListed = 4096
	// arrivedQueue bounds the indications waiting for the owner of the port.
	arrivedQueue = 64
)

// arrival is one indication: a stored message (+CMTI/+CDSI: mem and index) or one handed over
// directly (+CMT/+CDS: its PDU, acknowledged with AT+CNMA once the inbox has it).
type arrival struct {
	mem   string
	index int
	pdu   string
}

// noteArrival is called from onURC (the engine's reader goroutine): it must not block. A full
// queue asks for a poll instead, which finds every stored message; a direct one that does not
// fit is not acknowledged, so the network sends it again.
func (m *Modem) noteArrival(l Line, pdu string) {
	var a arrival
	switch l.Prefix {
	case "+CMTI", "+CDSI":
		f := Fields(l.Body)
		a.index = IntField(f, 1, -1)
		if len(f) < 2 || a.index < 0 {
			m.log.Warn("modem: unreadable indication; polling", "urc", l.Text)
			m.PollNow()
			return
		}
		a.mem = strings.ToUpper(f[0])
	case "+CMT", "+CDS":
		if pdu == "" {
			m.log.Warn("modem: indication without its PDU; polling", "urc", l.Text)
			m.PollNow()
			return
		}
		a.pdu = pdu
	default:
		return
	}
	select {
	case m.arrived <- a:
	default:
		m.log.Warn("modem: too many indications at once; polling instead", "urc", l.Text)
		m.PollNow()
	}
}

// PollNow asks for a poll of the modem's store (AT+CMGL) as soon as the port is free: after an
// inbox is attached, or when the store is full.
func (m *Modem) PollNow() {
	select {
	case m.pollNow <- struct{}{}:
	default:
	}
}

// receiving says whether the receiving side is on.
func (m *Modem) receiving() bool { return m.o.Inbox != nil }

// handOn gives one PDU to the inbox. keep reports that the message must stay on the modem:
// it is not one of ours to take (an SMS-SUBMIT stored on the SIM) or it does not decode (kept
// for a person to look at). A refusal by the inbox is err.
func (m *Modem) handOn(ctx context.Context, pduHex string) (keep bool, err error) {
	kind, err := MTKindOf(pduHex)
	var d *Deliver
	var r *Report
	switch {
	case err != nil:
	case kind == KindDeliver:
		d, err = DecodeDeliver(pduHex)
	case kind == KindStatusReport:
		r, err = DecodeStatusReport(pduHex)
	default:
		return true, nil
	}
	switch {
	case err != nil:
		m.log.Warn("modem: message does not decode; left on the modem", "err", err)
		return true, nil
	case d != nil:
		return false, m.o.Inbox.Deliver(ctx, d)
	}
	return false, m.o.Inbox.Report(ctx, r)
}

// takeStored hands on the message at index and deletes it once the inbox has it. A refusal
// leaves it on the modem for the next poll; the error returned is only the modem's (silence,
// a lost port), which stops the caller.
func (m *Modem) takeStored(ctx context.Context, eng *Engine, index int, pduHex string) error {
	keep, err := m.handOn(ctx, pduHex)
	if errors.Is(err, ErrNoInbox) {
		m.log.Debug("modem: no inbox attached yet; message left on the modem", "index", index)
		return nil
	}
	if err != nil {
		m.log.Warn("modem: inbox refused a message; left on the modem for the next poll", "index", index, "err", err)
		return nil
	}
	if keep {
		return nil
	}
	if _, err := eng.Command(ctx, "AT+CMGD="+strconv.Itoa(index), m.o.CommandTimeout); err != nil {
		if isFinal(err) {
			m.log.Warn("modem: cannot delete a message the inbox has; it will come again", "index", index, "err", err)
			return nil
		}
		return err
	}
	return nil
}

// readStored reads one stored message (AT+CMGR) and takes it. An empty index is no error.
func (m *Modem) readStored(ctx context.Context, eng *Engine, index int) error {
	r, err := eng.Command(ctx, "AT+CMGR="+strconv.Itoa(index), m.o.CommandTimeout)
	if err != nil {
		if isFinal(err) {
			return nil // gone already (CMS 321 invalid index), or the modem refuses: the poll finds it
		}
		return err
	}
	head, pdu := "", ""
	for _, l := range r.Lines {
		switch {
		case l.Prefix == "+CMGR":
			head = l.Body
		case head != "" && isHexLine(l.Text):
			pdu = l.Text
		}
	}
	if pdu == "" || !receivedStat(IntField(Fields(head), 0, -1)) {
		return nil
	}
	return m.takeStored(ctx, eng, index, pdu)
}

// receivedStat says a PDU-mode <stat> is a received message (0 unread, 1 read), not one of
// ours stored for sending (2, 3).
func receivedStat(stat int) bool { return stat == 0 || stat == 1 }

// arrivedLocked handles one indication; opMu is held.
func (m *Modem) arrivedLocked(ctx context.Context, eng *Engine, a arrival) error {
	if a.pdu != "" {
		return m.takeDirect(ctx, eng, a)
	}
	restore, err := m.useMemory(ctx, eng, a.mem)
	if err != nil {
		return err
	}
	err = m.readStored(ctx, eng, a.index)
	if rerr := restore(); err == nil {
		err = rerr
	}
	return err
}

// takeDirect hands on a +CMT/+CDS message and acknowledges it (AT+CNMA) once the inbox has it;
// a modem that needs no acknowledgement (AT+CSMS service 0) refuses the AT+CNMA, which is fine.
// Without the acknowledgement the network takes it as not received and sends it again. One
// that does not decode cannot stay anywhere: it is logged whole and acknowledged.
func (m *Modem) takeDirect(ctx context.Context, eng *Engine, a arrival) error {
	keep, err := m.handOn(ctx, a.pdu)
	if err != nil {
		m.log.Warn("modem: direct message not taken; not acknowledged, so the network sends it again", "err", err)
		return nil
	}
	if keep {
		m.log.Warn("modem: direct message does not decode; acknowledged and dropped", "pdu", a.pdu)
	}
	if _, err := eng.Command(ctx, "AT+CNMA", m.o.CommandTimeout); err != nil && !isFinal(err) {
		return err
	}
	return nil
}

// useMemory makes mem the store AT+CMGR/AT+CMGD work on (a +CDSI in "SR" while messages are
// read from "SM") and returns how to switch back.
func (m *Modem) useMemory(ctx context.Context, eng *Engine, mem string) (func() error, error) {
	cur := m.link.mem
	if mem == "" || cur == "" || mem == cur {
		return func() error { return nil }, nil
	}
	if _, err := eng.Command(ctx, fmt.Sprintf("AT+CPMS=%q", mem), m.o.CommandTimeout); err != nil {
		if isFinal(err) {
			return func() error { return nil }, nil // read where we are; the poll finds the rest
		}
		return nil, err
	}
	return func() error {
		_, err := eng.Command(ctx, fmt.Sprintf("AT+CPMS=%q", cur), m.o.CommandTimeout)
		if err != nil && isFinal(err) {
			return nil
		}
		return err
	}, nil
}

// storeUse reads AT+CPMS? and records in health whether the store is full (new messages then
// wait at the service centre). A modem that does not say leaves the health as it is.
func (m *Modem) storeUse(ctx context.Context, eng *Engine) error {
	r, err := eng.Command(ctx, "AT+CPMS?", m.o.CommandTimeout)
	if err != nil {
		if isFinal(err) {
			return nil
		}
		return err
	}
	b, found := r.Find("+CPMS")
	f := Fields(b)
	used, total := IntField(f, 1, -1), IntField(f, 2, -1)
	if !found || used < 0 || total <= 0 {
		return nil
	}
	if full := used >= total; full != m.Health().SMSMemoryFull {
		m.update(func(h *Health) { h.SMSMemoryFull = full })
		if full {
			m.log.Warn("modem: message store full; emptying it", "used", used, "total", total)
		}
	}
	return nil
}

// poll lists every stored message (AT+CMGL=4: all, in PDU mode), hands each on and deletes
// what the inbox took. Memory stays bounded whatever the store holds: the listing keeps the
// PDUs of one batch and the indexes of the rest, which are then read one by one, a batch at a
// time, with the port let go between batches so sends are not held up.
func (m *Modem) poll(ctx context.Context) error {
	m.opMu.Lock()
	eng := m.engine()
	if eng == nil {
		m.opMu.Unlock()
		return nil
	}
	if err := m.storeUse(ctx, eng); err != nil {
		m.opMu.Unlock()
		return err
	}
	type stored struct {
		index int
		pdu   string
	}
	var batch []stored
	var rest []int
	cur := -1
	err := eng.CommandEach(ctx, "AT+CMGL=4", m.o.CommandTimeout, func(l Line) {
		switch {
		case l.Prefix == "+CMGL":
			f := Fields(l.Body)
			cur = IntField(f, 0, -1)
			if !receivedStat(IntField(f, 1, -1)) {
				cur = -1
			}
		case cur >= 0 && isHexLine(l.Text):
			if len(batch) < readBatch {
				batch = append(batch, stored{cur, l.Text})
			} else if len(rest) < maxListed {
				rest = append(rest, cur)
			}
			cur = -1
		}
	})
	if err != nil {
		m.opMu.Unlock()
		if isFinal(err) {
			m.log.Warn("modem: AT+CMGL refused; not polling", "err", err)
			return nil
		}
		return err
	}
	for _, s := range batch {
		if err := m.takeStored(ctx, eng, s.index, s.pdu); err != nil {
			m.opMu.Unlock()
			return err
		}
	}
	m.opMu.Unlock()
	for len(rest) > 0 {
		n := min(len(rest), readBatch)
		if err := m.readBatch(ctx, rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	m.opMu.Lock()
	defer m.opMu.Unlock()
	if eng := m.engine(); eng != nil {
		err = m.storeUse(ctx, eng)
	}
	if len(batch) > 0 {
		m.log.Info("modem: poll took stored messages", "listed", len(batch)+len(rest))
	}
	return err
}

func (m *Modem) readBatch(ctx context.Context, indexes []int) error {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	eng := m.engine()
	if eng == nil {
		return nil
	}
	for _, i := range indexes {
		if err := m.readStored(ctx, eng, i); err != nil {
			return err
		}
	}
	return nil
}

// indications sets, once per opened port, how the modem tells of new messages and status
// reports (AT+CNMI, TS 27.005 §3.4.1), best first: stored with an indication (+CMTI, +CDSI),
// then status reports directly (+CDS), then messages directly too (+CMT) where the modem has
// no other mode. It also makes the store messages arrive in the one AT+CMGL and AT+CMGR read
// (AT+CPMS). The mode set is kept in the link state.
func (s *session) indications(ctx context.Context) error {
	if s.link == nil || s.link.indications != "" {
		return nil
	}
	if err := s.storage(ctx); err != nil {
		return err
	}
	for _, mode := range []struct{ cmd, name string }{
		{"AT+CNMI=2,1,0,2,0", "+CMTI/+CDSI"},
		{"AT+CNMI=2,1,0,1,0", "+CMTI/+CDS"},
		{"AT+CNMI=2,2,0,1,0", "+CMT/+CDS"},
		{"AT+CNMI=2,1,0,0,0", "+CMTI, no reports"},
		{"AT+CNMI=2,2,0,0,0", "+CMT, no reports"},
	} {
		_, ok, err := s.optionalCmd(ctx, mode.cmd, s.timeout)
		if err != nil {
			return err
		}
		if ok {
			s.note("new messages indicated as %s", mode.name)
			s.link.indications = mode.name
			return nil
		}
	}
	s.link.indications = "none: polling only"
	return nil
}

// storage reads AT+CPMS? and, where new messages are stored (mem3) is not where they are read
// (mem1), reads them there.
func (s *session) storage(ctx context.Context) error {
	r, ok, err := s.optionalCmd(ctx, "AT+CPMS?", s.timeout)
	if err != nil || !ok {
		return err
	}
	b, _ := r.Find("+CPMS")
	f := Fields(b)
	if len(f) < 7 {
		return nil
	}
	mem1, mem3 := strings.ToUpper(f[0]), strings.ToUpper(f[6])
	s.link.mem = mem1
	if mem3 == "" || mem3 == mem1 {
		return nil
	}
	_, ok, err = s.optionalCmd(ctx, fmt.Sprintf("AT+CPMS=%q,%q,%q", mem3, mem3, mem3), s.timeout)
	if ok {
		s.link.mem = mem3
		s.note("messages are stored in %s: reading them there", mem3)
	}
	return err
}
