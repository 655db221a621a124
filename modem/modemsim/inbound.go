package modemsim

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/warthog618/sms/encoding/tpdu"
)

// The receiving side of the simulated modem: a message store (AT+CPMS, AT+CMGL, AT+CMGR,
// AT+CMGD) that the simulated network fills, new-message indications as AT+CNMI set them
// (+CMTI stored, +CMT direct, acknowledged with AT+CNMA), status reports for sends that asked
// for them (+CDS direct, +CDSI stored), and a store that fills up: what arrives then waits at
// the "service centre" and is delivered when a slot is freed, as networks do.
//
// The PDUs come from github.com/warthog618/sms, an encoder nobody here wrote, so that tests
// check our decoder against it.

// Incoming is an SMS the simulated network delivers to the SIM.
type Incoming struct {
	From  string    // "+4917…" international, digits, or an alphanumeric name
	Text  string    // GSM 7-bit when it fits, else UCS-2
	Data  []byte    // 8-bit data instead of Text
	SCTS  time.Time // the service centre time stamp; default 2026-12-04 09:30:00 +01:00
	Ref   int       // the concatenation reference of a long text (default 1)
	Ref16 bool      // a 16-bit reference (IEI 0x08) instead of 8-bit
}

// DefaultSCTS is the time stamp of an Incoming that names none.
var DefaultSCTS = time.Date(2026, 12, 4, 9, 30, 0, 0, time.FixedZone("UTC+01:00", 3600))

// smscHex is the service centre address the simulated network puts before every PDU.
const smscHex = "07919471173254F6" // +49177123456

type fixedCount int

func (c fixedCount) Count() int { return int(c) }

// DeliverPDUs encodes in as SMS-DELIVER PDUs (hex, SMSC part included), one per part.
func DeliverPDUs(in Incoming) ([]string, error) {
	t, err := tpdu.NewDeliver()
	if err != nil {
		return nil, err
	}
	t.OA = address(in.From)
	t.SCTS = tpdu.Timestamp{Time: in.SCTS}
	if in.SCTS.IsZero() {
		t.SCTS.Time = DefaultSCTS
	}
	ref := in.Ref
	if ref == 0 {
		ref = 1
	}
	var pdus []tpdu.TPDU
	opts := []tpdu.SegmentationOption{tpdu.WithConcatRef(fixedCount(ref))}
	if in.Ref16 {
		opts = append(opts, tpdu.With16BitConcatRef)
	}
	if in.Data != nil {
		t.SetDCS(0x04)
		pdus = t.Segment(in.Data, opts...)
	} else {
		ud, udh, alpha := tpdu.EncodeUserData([]byte(in.Text))
		dcs, err := t.DCS.WithAlphabet(alpha)
		if err != nil {
			return nil, err
		}
		t.SetDCS(byte(dcs))
		if udh != nil {
			t.SetUDH(udh)
		}
		pdus = t.Segment(ud, opts...)
	}
	out := make([]string, 0, len(pdus))
	for i := range pdus {
		b, err := pdus[i].MarshalBinary()
		if err != nil {
			return nil, err
		}
		out = append(out, smscHex+strings.ToUpper(hex.EncodeToString(b)))
	}
	return out, nil
}

func address(s string) tpdu.Address {
	if s != "" && strings.Trim(s, "+0123456789") != "" {
		return tpdu.Address{Addr: s, TOA: 0xD0} // alphanumeric
	}
	return tpdu.NewAddress(tpdu.FromNumber(s))
}

// StatusReportPDU encodes an SMS-STATUS-REPORT (hex, SMSC part included) for the part with
// message reference mr sent to recipient, with TP-ST st.
func StatusReportPDU(mr int, recipient string, st int, at time.Time) (string, error) {
	t, err := tpdu.New(tpdu.SmsStatusReport)
	if err != nil {
		return "", err
	}
	t.MR = byte(mr)
	t.RA = address(recipient)
	t.SCTS = tpdu.Timestamp{Time: at}
	t.DT = tpdu.Timestamp{Time: at.Add(3 * time.Second)}
	t.ST = byte(st)
	b, err := t.MarshalBinary()
	if err != nil {
		return "", err
	}
	return smscHex + strings.ToUpper(hex.EncodeToString(b)), nil
}

// tpduLen is the <length> +CMT/+CMGR/+CMGL give: the TPDU's octets, SMSC part excluded.
func tpduLen(pduHex string) int {
	b, err := hex.DecodeString(pduHex)
	if err != nil || len(b) == 0 {
		return 0
	}
	return len(b) - 1 - int(b[0])
}

// storedMsg is one slot of the store.
type storedMsg struct {
	stat int // 0 unread, 1 read
	pdu  string
}

// Receive has the network deliver pdus (from DeliverPDUs) now, in order, as the AT+CNMI mode
// says: +CMT directly, or into the store (with +CMTI when asked for); into a full store
// nothing is delivered until a slot is freed.
func (s *Sim) Receive(pdus ...string) {
	for _, p := range pdus {
		s.receiveOne(p, false)
	}
}

// Stored is how many messages the stores hold (status reports in ReportStorage included).
func (s *Sim) Stored() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.store) + len(s.reports)
}

// readStoreLocked is the store AT+CMGR, AT+CMGD and AT+CMGL work on: the report store once
// AT+CPMS selected ReportStorage, else the message store; s.mu is held.
func (s *Sim) readStoreLocked() map[int]*storedMsg {
	if s.p.ReportStorage != "" && s.mem == s.p.ReportStorage {
		if s.reports == nil {
			s.reports = map[int]*storedMsg{}
		}
		return s.reports
	}
	if s.store == nil {
		s.store = map[int]*storedMsg{}
	}
	return s.store
}

// WaitStored waits until the store holds exactly n messages, or ctx ends.
func (s *Sim) WaitStored(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		got, ch := len(s.store)+len(s.reports), s.changed
		s.mu.Unlock()
		if got == n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("modemsim: waiting for %d stored messages (now %d): %w", n, got, ctx.Err())
		case <-ch:
		}
	}
}

// Waiting is how many messages the network holds because the store was full.
func (s *Sim) Waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiting)
}

// Acks counts the AT+CNMA acknowledgements received.
func (s *Sim) Acks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acks
}

// HangOnDelete makes the modem leave AT+CMGD unanswered (on) — a host killed while it waits
// has committed the message and not deleted it — or answer it again (off).
func (s *Sim) HangOnDelete(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hangDelete = on
}

// ReportNext scripts the status reports of the next parts sent with TP-SRR: one TP-ST each,
// in order; -1 sends none for that part. Parts beyond the script get none.
func (s *Sim) ReportNext(st ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reportQ = append(s.reportQ, st...)
}

// receiveOne delivers one PDU; report says it is a status report (+CDS/+CDSI).
func (s *Sim) receiveOne(pdu string, report bool) {
	s.mu.Lock()
	m := s.master
	direct := s.cnmiMT == 2 || s.cnmiMT == 3
	indicate := s.cnmiMT == 1
	if report {
		direct, indicate = s.cnmiDS == 1, s.cnmiDS == 2
		if s.cnmiDS == 0 {
			s.mu.Unlock()
			return // the modem was not asked to route reports: they are lost, as on a real one
		}
	}
	if direct {
		s.mu.Unlock()
		prefix := "+CMT: ,"
		if report {
			prefix = "+CDS: "
		}
		if m != nil {
			s.write(m, "\r\n"+prefix+strconv.Itoa(tpduLen(pdu))+"\r\n"+pdu+"\r\n")
		}
		return
	}
	if s.store == nil { // a message before the host ever read the store
		s.store = map[int]*storedMsg{}
	}
	store, mem := s.store, s.p.storage()
	if report && s.p.ReportStorage != "" {
		if s.reports == nil {
			s.reports = map[int]*storedMsg{}
		}
		store, mem = s.reports, s.p.ReportStorage
	}
	idx := freeSlot(store, s.p.Slots)
	if idx < 0 {
		s.waiting = append(s.waiting, waitingMsg{pdu, report})
		s.mu.Unlock()
		return
	}
	store[idx] = &storedMsg{stat: 0, pdu: pdu}
	silent := s.silent
	s.mu.Unlock()
	s.notify()
	if indicate && m != nil && !silent {
		ind := "+CMTI"
		if report {
			ind = "+CDSI"
		}
		s.write(m, fmt.Sprintf("\r\n%s: %q,%d\r\n", ind, mem, idx))
	}
}

type waitingMsg struct {
	pdu    string
	report bool
}

func (p *Profile) storage() string { // a pointer: no copy of the whole profile, whose CSQ SetSignal changes under s.mu
	if p.Storage == "" {
		return "SM"
	}
	return p.Storage
}

// freeSlotLocked is the lowest free index (1-based) of the message store, or -1; s.mu is held.
func (s *Sim) freeSlotLocked() int {
	if s.store == nil {
		s.store = map[int]*storedMsg{}
	}
	return freeSlot(s.store, s.p.Slots)
}

func freeSlot(store map[int]*storedMsg, slots int) int {
	for i := 1; i <= slots; i++ {
		if store[i] == nil {
			return i
		}
	}
	return -1
}

// smsCommand answers the receiving side's commands; done false for any other command.
func (s *Sim) smsCommand(m *os.File, cmd, up string) (done bool) {
	ok := func(info ...string) bool { s.reply(m, cmd, "OK", info...); return true }
	fail := func(code int) bool { s.reply(m, cmd, s.cmsError(code)); return true }
	switch {
	case strings.HasPrefix(up, "AT+CNMI="):
		f := strings.Split(up[len("AT+CNMI="):], ",")
		n := func(i int) int {
			if i >= len(f) {
				return 0
			}
			v, _ := strconv.Atoi(f[i])
			return v
		}
		if (s.p.CMTOnly && n(1) == 1) || n(1) > 3 || n(3) > 2 {
			return fail(303)
		}
		s.mu.Lock()
		s.cnmiMT, s.cnmiDS = n(1), n(3)
		s.mu.Unlock()
		return ok()
	case up == "AT+CPMS?":
		s.mu.Lock()
		used, total, mem := len(s.readStoreLocked()), s.p.Slots, s.p.storage()
		if s.mem != "" {
			mem = s.mem
		}
		s.mu.Unlock()
		return ok(fmt.Sprintf("+CPMS: %q,%d,%d,%q,%d,%d,%q,%d,%d", mem, used, total, mem, used, total, s.p.storage(), used, total))
	case strings.HasPrefix(up, "AT+CPMS="):
		mem := strings.Trim(strings.Split(up[len("AT+CPMS="):], ",")[0], `"`)
		if mem != s.p.storage() && mem != s.p.ReportStorage {
			return fail(302)
		}
		s.mu.Lock()
		s.mem = mem
		used, total := len(s.readStoreLocked()), s.p.Slots
		s.mu.Unlock()
		return ok(fmt.Sprintf("+CPMS: %d,%d,%d,%d,%d,%d", used, total, used, total, used, total))
	case up == "AT+CMGL=4":
		return s.list(m, cmd)
	case strings.HasPrefix(up, "AT+CMGR="):
		i, err := strconv.Atoi(up[len("AT+CMGR="):])
		s.mu.Lock()
		msg := s.readStoreLocked()[i]
		var stat int
		if msg != nil {
			stat = msg.stat
			msg.stat = 1
		}
		s.mu.Unlock()
		if err != nil || msg == nil {
			return fail(321)
		}
		return ok(fmt.Sprintf("+CMGR: %d,,%d", stat, tpduLen(msg.pdu)), msg.pdu)
	case strings.HasPrefix(up, "AT+CMGD="):
		s.mu.Lock()
		hang := s.hangDelete
		s.mu.Unlock()
		if hang {
			return true // no answer: the host is stuck between its commit and the delete
		}
		f := strings.Split(up[len("AT+CMGD="):], ",")
		i, err := strconv.Atoi(f[0])
		if err != nil || i < 1 || i > s.p.Slots {
			return fail(321)
		}
		s.mu.Lock()
		delete(s.readStoreLocked(), i)
		s.deleted++
		var next *waitingMsg
		if len(s.waiting) > 0 {
			w := s.waiting[0]
			s.waiting = s.waiting[1:]
			next = &w
		}
		s.mu.Unlock()
		ok()
		s.notify()
		if next != nil {
			go s.receiveOne(next.pdu, next.report) // the network's retry, once memory is available
		}
		return true
	case up == "AT+CNMA":
		s.mu.Lock()
		s.acks++
		s.mu.Unlock()
		ok()
		s.notify()
		return true
	}
	return false
}

// list answers AT+CMGL=4: every stored message, lowest index first, unread ones then read.
func (s *Sim) list(m *os.File, cmd string) bool {
	s.mu.Lock()
	store := s.readStoreLocked()
	idx := make([]int, 0, len(store))
	for i := range store {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	var b strings.Builder
	b.WriteString("\r\n")
	for _, i := range idx {
		msg := store[i]
		fmt.Fprintf(&b, "+CMGL: %d,%d,,%d\r\n%s\r\n", i, msg.stat, tpduLen(msg.pdu), msg.pdu)
		msg.stat = 1
	}
	echo := s.echo
	s.mu.Unlock()
	if echo {
		s.write(m, cmd+"\r")
	}
	// Written in chunks: a full store is a long answer and the pty's buffer is small.
	out := b.String()
	for len(out) > 0 {
		n := min(len(out), 4096)
		s.write(m, out[:n])
		out = out[n:]
	}
	s.write(m, "\r\nOK\r\n")
	return true
}

// Fill puts pdus straight into the store, without indications: what arrived while the host
// was away. More than the store holds wait at the network.
func (s *Sim) Fill(pdus ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range pdus {
		idx := s.freeSlotLocked()
		if idx < 0 {
			s.waiting = append(s.waiting, waitingMsg{pdu: p})
			continue
		}
		s.store[idx] = &storedMsg{pdu: p}
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// reportFor sends the scripted status report for a part just accepted with mr, if the part
// asked for one.
func (s *Sim) reportFor(srr bool, mr int, dest string) {
	if !srr {
		return
	}
	s.mu.Lock()
	if len(s.reportQ) == 0 {
		s.mu.Unlock()
		return
	}
	st := s.reportQ[0]
	s.reportQ = s.reportQ[1:]
	s.mu.Unlock()
	if st < 0 {
		return
	}
	pdu, err := StatusReportPDU(mr, "+"+dest, st, DefaultSCTS)
	if err != nil {
		s.log.Info("modemsim: status report", "err", err)
		return
	}
	s.receiveOne(pdu, true)
}
