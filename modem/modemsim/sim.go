// Package modemsim is a scripted GSM modem on the master side of a pseudo-terminal: a peer
// for tests, not a mock of our code. Hosts open its path (the pty slave, or a symlink to it
// that plays /dev/serial/by-id/...) like a real serial port and speak AT commands to it.
//
// It behaves like the modems we meet, quirks included: echo on after power-up, verbose
// "ERROR" until AT+CMEE=1, SIM PIN with a limited number of tries and a PUK lock, registration
// that comes later, a slow "> " prompt, unsolicited lines (+CMTI, RING, +CREG) interleaved with
// replies. Faults are scripted by the test: +CMS ERROR codes for the next sends, going silent
// until reset, and unplugging (the pty vanishes and reappears at the same path, as a USB modem
// does after AT+CFUN=1,1).
//
// Every SMS-SUBMIT it receives is decoded with github.com/warthog618/sms and reassembled, so
// tests assert on the texts actually "delivered".
package modemsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"multimsg/modem"
)

// Profile is how a simulated modem behaves. The zero value is a plain, ready modem with
// echo on, no PIN, registered at once.
type Profile struct {
	Model         string        // AT+CGMM answer; default "MMSIM-1"
	CMEEError     bool          // answers ERROR to AT+CMEE=... (some modems do)
	BareATError   bool          // answers ERROR even to a bare AT (some simulators do)
	NoCEREG       bool          // a 2G/3G modem: AT+CEREG? is ERROR
	PIN           string        // the SIM asks for this PIN after every power-up ("" none)
	PINTries      int           // wrong PINs before the PUK lock; default 3
	NoSIM         bool          // no SIM inserted
	RegisterAt    int           // registration queries answered "searching" before registering
	Unregistered  bool          // never registers until SetRegistered(true)
	PromptDelay   time.Duration // delay before the "> " prompt
	NoisyURCs     bool          // sends +CMTI / RING between and inside replies
	Operator      string        // default "SimNet"
	CSQ           int           // default 20 (-73 dBm); 99 unknown
	SMSC          string        // default "+4917000000"; "-" answers an empty SMSC
	ResetCommand  string        // default "AT+CFUN=1,1"
	UnplugOnReset bool          // a USB modem: the reset command makes the port vanish and come back
	ReplugAfter   time.Duration // how long it is gone after a reset (default 50ms)

	// Quirks met on modems nobody here wrote (oFono's phonesim, field reports):
	RadioOff     bool          // powers up in CFUN 4 (flight mode): no network until AT+CFUN=1
	PowerDelay   time.Duration // how long AT+CFUN=1 takes to answer
	NotSearching bool          // "not registered, not searching" (stat 0) until AT+COPS=0
	RegReadForm  RegForm       // the shape of the +CREG?/+CEREG? read answer
	NoCREG2      bool          // refuses AT+CREG=2 (ERROR); AT+CREG=1 works
	CFUNURC      bool          // says "+CFUN: 1" unsolicited once the radio is up after AT+CFUN=1
	// ReportsUnregistered: +CREG?/+CEREG? always say "searching" though the network takes
	// messages (a modem whose registration report is wrong or stuck).
	ReportsUnregistered bool

	// Receiving (inbound.go):
	Slots   int    // messages the store holds; default 30
	Storage string // the store's name in AT+CPMS and +CMTI; default "SM"
	CMTOnly bool   // refuses AT+CNMI with <mt> 1: new messages only directly, as +CMT
	// ReportStorage, if set ("SR"), is a store of its own for status reports (+CDSI names
	// it); AT+CPMS selects which store AT+CMGR/AT+CMGD/AT+CMGL read.
	ReportStorage string

	USSD USSD // how USSD requests are answered (ussd.go)
}

// RegForm is how a simulated modem shapes its +CREG?/+CEREG? read answer.
type RegForm int

const (
	// RegStandard: TS 27.007, "<n>,<stat>" and, with n 2, ",<lac>,<ci>" quoted.
	RegStandard RegForm = iota
	// RegStatOnly: "<stat>" alone, leaving out <n> (some modems answer the read so).
	RegStatOnly
	// RegURCForm: the unsolicited shape "<stat>,<lac>,<ci>" as the read answer.
	RegURCForm
	// RegUnquoted: "<n>,<stat>,<lac>,<ci>,<act>" with the location fields unquoted.
	RegUnquoted
)

// Message is one SMS as the simulated network received it (parts reassembled).
type Message struct {
	Dest     string
	Text     string
	Alphabet modem.Alphabet
	Parts    int
	Ref      int // concatenation reference (0: single part)
	Class0   bool
	Validity time.Duration
	MRs      []int // the message reference answered for each part
	SRR      bool  // a status report was asked for (TP-SRR)
	Septets  int   // units used: septets (GSM7) or UTF-16 units (UCS2), summed over parts
}

// Sim is a running simulated modem.
type Sim struct {
	p   Profile
	log *slog.Logger
	dir string // holds the by-id style symlink

	mu       sync.Mutex // guards everything below
	master   *os.File
	slave    *os.File // kept open so the pty lives while hosts reopen it
	link     string
	gen      int // bumps at every replug; the reader of an old pty stops
	echo     bool
	cmee     int
	pdu      bool
	simState string // READY, SIM PIN, SIM PUK, absent
	pinLeft  int
	regCount int
	register bool // forced by SetRegistered
	cfun     int  // 1 full functionality, 4 flight mode
	cregN    int  // AT+CREG=<n>: 0 no reports, 1 <stat>, 2 <stat> with location
	ceregN   int
	searchOn bool // AT+COPS=0 was sent (for NotSearching)
	silent   bool
	stall    bool  // go silent at the next AT+CMGS
	failNext []int // +CMS ERROR codes for the next AT+CMGS
	mr       int
	cmds     []string
	resets   int
	pinTries []string
	partial  map[string]*partial
	msgs     []Message
	changed  chan struct{}
	closed   bool

	store   map[int]*storedMsg // the message store, by 1-based index; survives power-ups
	reports map[int]*storedMsg // the report store (Profile.ReportStorage)
	mem     string             // the store AT+CPMS selected for reading ("" the message store)
	waiting []waitingMsg       // held by the network while the store is full
	cnmiMT  int                // AT+CNMI <mt>: 0 none, 1 +CMTI, 2 +CMT
	cnmiDS  int                // AT+CNMI <ds>: 0 none, 1 +CDS, 2 +CDSI
	acks    int                // AT+CNMA received
	deleted int                // AT+CMGD received
	reportQ []int              // TP-ST of the next status reports (ReportNext)

	hangDelete  bool              // AT+CMGD is left unanswered (HangOnDelete)
	ussdOpen    bool              // a USSD session the network keeps open
	ussdAnswers map[string]string // SetUSSD's answers, before the profile's
	cusdCancels int
}

type partial struct {
	parts map[int]*modem.Decoded
	mrs   map[int]int
}

// New makes a simulated modem with profile p; Start opens its pty.
func New(p Profile, log *slog.Logger) *Sim {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if p.Model == "" {
		p.Model = "MMSIM-1"
	}
	if p.PINTries == 0 {
		p.PINTries = 3
	}
	if p.Operator == "" {
		p.Operator = "SimNet"
	}
	if p.CSQ == 0 {
		p.CSQ = 20
	}
	if p.SMSC == "" {
		p.SMSC = "+4917000000"
	}
	if p.ResetCommand == "" {
		p.ResetCommand = "AT+CFUN=1,1"
	}
	if p.ReplugAfter == 0 {
		p.ReplugAfter = 50 * time.Millisecond
	}
	if p.Slots == 0 {
		p.Slots = 30
	}
	s := &Sim{p: p, log: log, partial: map[string]*partial{}, changed: make(chan struct{})}
	s.pinLeft = p.PINTries
	s.powerUp()
	return s
}

// Start opens the pty and serves it. dir, if not empty, gets a symlink "modem" to the pty
// slave that is re-pointed at every replug, like /dev/serial/by-id/...; Path returns it.
func (s *Sim) Start(dir string) error {
	s.mu.Lock()
	s.dir = dir
	s.mu.Unlock()
	return s.plug()
}

// Path is what hosts open: the symlink when Start was given a dir, else the pty slave.
func (s *Sim) Path() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.link != "" {
		return s.link
	}
	if s.slave != nil {
		return s.slave.Name()
	}
	return ""
}

// Open opens Path as a plain file (raw tty): a modem.Options.Open for tests that do not go
// through hw/serial.
func (s *Sim) Open(ctx context.Context) (io.ReadWriteCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := s.Path()
	if p == "" {
		return nil, errors.New("modemsim: unplugged")
	}
	return os.OpenFile(p, os.O_RDWR|unix.O_NOCTTY, 0)
}

// Close unplugs the modem for good.
func (s *Sim) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.unplug()
	return nil
}

func (s *Sim) plug() error {
	m, t, err := pty.Open()
	if err != nil {
		return fmt.Errorf("modemsim: pty: %w", err)
	}
	if err := makeRaw(t); err != nil {
		m.Close()
		t.Close()
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		m.Close()
		t.Close()
		return errors.New("modemsim: closed")
	}
	s.master, s.slave = m, t
	s.gen++
	gen := s.gen
	if s.dir != "" {
		link := filepath.Join(s.dir, "modem")
		tmp := link + ".new"
		os.Remove(tmp)
		if err := os.Symlink(t.Name(), tmp); err == nil {
			err = os.Rename(tmp, link)
			if err != nil {
				s.mu.Unlock()
				return err
			}
		}
		s.link = link
	}
	s.mu.Unlock()
	go s.serve(m, gen)
	return nil
}

// Unplug makes the port vanish: the pty closes (hosts see a hang-up) and the path goes away
// until Replug.
func (s *Sim) Unplug() { s.unplug() }

func (s *Sim) unplug() {
	s.mu.Lock()
	m, t := s.master, s.slave
	s.master, s.slave = nil, nil
	s.gen++
	if s.link != "" {
		os.Remove(s.link)
	}
	s.mu.Unlock()
	if m != nil {
		m.Close()
	}
	if t != nil {
		t.Close()
	}
	s.notify()
}

// Replug brings the port back at the same path (a new pty behind the symlink), powered up
// afresh: echo on, PIN asked again, registration from the start.
func (s *Sim) Replug() error {
	s.mu.Lock()
	s.powerUp()
	s.mu.Unlock()
	return s.plug()
}

func makeRaw(f *os.File) error {
	t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		return fmt.Errorf("modemsim: termios: %w", err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, t)
}

// powerUp is the state after power-on; s.mu is held.
func (s *Sim) powerUp() {
	s.echo = true
	s.cmee = 0
	s.pdu = false
	s.silent = false
	s.regCount = 0
	s.cfun = 1
	if s.p.RadioOff {
		s.cfun = 4
	}
	s.cregN, s.ceregN, s.searchOn = 0, 0, false
	s.cnmiMT, s.cnmiDS, s.mem = 0, 0, ""
	switch {
	case s.p.NoSIM:
		s.simState = "absent"
	case s.pinLeft <= 0:
		s.simState = "SIM PUK"
	case s.p.PIN != "":
		s.simState = "SIM PIN"
	default:
		s.simState = "READY"
	}
}

// --- scripting ---

// FailNext makes the next AT+CMGS answers "+CMS ERROR: <code>", one per code, in order.
func (s *Sim) FailNext(codes ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, codes...)
}

// GoSilent makes the modem stop answering (it still reads) until the reset command, a replug
// or Revive.
func (s *Sim) GoSilent() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.silent = true
}

// HangOnSubmit makes the modem go silent at the next AT+CMGS (no prompt, no answer), as
// modems that hang in the middle of a send do; the reset command revives it.
func (s *Sim) HangOnSubmit() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stall = true
}

// Revive ends silence without a reset.
func (s *Sim) Revive() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.silent = false
}

// SetRegistered registers (or deregisters) the modem now, and says so unsolicited
// ("+CREG: 1") as modems do when AT+CREG=1 is set; hosts may also just poll.
func (s *Sim) SetRegistered(on bool) {
	s.mu.Lock()
	s.register = on
	if !on {
		s.regCount = 0
	}
	n := s.cregN
	s.mu.Unlock()
	if on {
		if n == 2 {
			s.Unsolicited(`+CREG: 1,"00C3","0000A13B"`)
		} else {
			s.Unsolicited("+CREG: 1")
		}
	}
}

// Reboot restarts the modem by itself (a brown-out, its own watchdog): echo on, text mode,
// verbose errors off, the PIN asked again, registration from the start; it says "RDY".
func (s *Sim) Reboot() {
	s.mu.Lock()
	s.powerUp()
	m := s.master
	s.mu.Unlock()
	if m != nil {
		s.write(m, "\r\nRDY\r\n")
	}
}

// SetSignal changes what AT+CSQ answers (rssi 0-31, 99 unknown).
func (s *Sim) SetSignal(csq int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.p.CSQ = csq
}

// Unsolicited sends line now, as an unsolicited result code.
func (s *Sim) Unsolicited(line string) {
	s.mu.Lock()
	m := s.master
	silent := s.silent
	s.mu.Unlock()
	if m != nil && !silent {
		s.write(m, "\r\n"+line+"\r\n")
	}
}

// Messages returns the messages received so far.
func (s *Sim) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// WaitMessages waits until at least n messages have been received, or ctx ends.
func (s *Sim) WaitMessages(ctx context.Context, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		if len(s.msgs) >= n {
			out := slices.Clone(s.msgs)
			s.mu.Unlock()
			return out, nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return s.Messages(), fmt.Errorf("modemsim: waiting for %d messages: %w", n, ctx.Err())
		case <-ch:
		}
	}
}

// Commands returns every command line received so far (PDUs excluded).
func (s *Sim) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cmds)
}

// PINAttempts returns the PINs entered so far.
func (s *Sim) PINAttempts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pinTries)
}

// Resets counts the reset commands received.
func (s *Sim) Resets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resets
}

func (s *Sim) notify() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// --- the modem ---

func (s *Sim) write(m *os.File, out string) {
	// A host that closed the port leaves the pty buffer to fill: never block on it.
	_ = m.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(m, out); err != nil {
		s.log.Debug("modemsim: write", "err", err)
	}
}

// serve reads what the host sends on master m until the pty is closed.
func (s *Sim) serve(m *os.File, gen int) {
	buf := make([]byte, 1024)
	var line []byte
	var pdu *pduState
	for {
		n, err := m.Read(buf)
		if err != nil {
			s.mu.Lock()
			current := s.gen == gen
			s.mu.Unlock()
			if !current || errors.Is(err, os.ErrClosed) {
				return
			}
			// EIO while no host has the slave open: wait for one.
			time.Sleep(5 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		current := s.gen == gen
		s.mu.Unlock()
		if !current {
			return // unplugged while this read was in flight: the bytes never reached the modem
		}
		for _, c := range buf[:n] {
			if pdu != nil {
				switch c {
				case 0x1a:
					s.submit(m, pdu)
					pdu = nil
				case 0x1b:
					s.reply(m, "", "OK") // cancelled
					pdu = nil
				case '\r', '\n':
				default:
					if len(pdu.hex) < 1024 {
						pdu.hex = append(pdu.hex, c)
					}
				}
				continue
			}
			if c == '\r' || c == '\n' {
				if len(line) > 0 {
					cmd := string(line)
					line = line[:0]
					pdu = s.command(m, cmd)
				}
				continue
			}
			if len(line) < 1024 {
				line = append(line, c)
			}
		}
	}
}

type pduState struct {
	length int
	hex    []byte
}

// reply writes the echo (when on), the info lines and the final result.
func (s *Sim) reply(m *os.File, echo string, final string, info ...string) {
	var b strings.Builder
	s.mu.Lock()
	if s.echo && echo != "" {
		b.WriteString(echo + "\r")
	}
	noisy := s.p.NoisyURCs && len(s.cmds)%3 == 0
	s.mu.Unlock()
	if noisy {
		b.WriteString("\r\nRING\r\n")
	}
	for _, l := range info {
		b.WriteString("\r\n" + l + "\r\n")
	}
	if noisy {
		b.WriteString("\r\n+CMTI: \"SM\",3\r\n")
	}
	b.WriteString("\r\n" + final + "\r\n")
	s.write(m, b.String())
}

func (s *Sim) cmeError(code int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.cmee {
	case 1:
		return "+CME ERROR: " + strconv.Itoa(code)
	case 2:
		return "+CME ERROR: " + cmeText[code]
	}
	return "ERROR"
}

func (s *Sim) cmsError(code int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmee == 0 {
		return "ERROR"
	}
	return "+CMS ERROR: " + strconv.Itoa(code)
}

var cmeText = map[int]string{10: "SIM not inserted", 11: "SIM PIN required", 12: "SIM PUK required", 16: "incorrect password", 3: "operation not allowed"}

// command answers one command line; it returns a pduState when the host must now send a PDU.
func (s *Sim) command(m *os.File, cmd string) *pduState {
	up := strings.ToUpper(strings.TrimSpace(cmd))
	s.mu.Lock()
	s.cmds = append(s.cmds, cmd)
	silent := s.silent
	s.mu.Unlock()
	if up == strings.ToUpper(s.p.ResetCommand) {
		s.reset(m, cmd, silent)
		return nil
	}
	if silent {
		return nil
	}
	ok := func(info ...string) *pduState { s.reply(m, cmd, "OK", info...); return nil }
	fail := func(final string) *pduState { s.reply(m, cmd, final); return nil }
	if !strings.HasPrefix(up, "AT") {
		return fail("ERROR")
	}
	s.mu.Lock()
	simState := s.simState
	s.mu.Unlock()
	if simState == "READY" && s.smsCommand(m, cmd, up) {
		return nil
	}
	switch {
	case strings.HasPrefix(up, "AT+CUSD"):
		s.ussd(m, cmd, up)
		return nil
	case up == "AT":
		if s.p.BareATError {
			return fail("ERROR")
		}
		return ok()
	case up == "ATE0" || up == "ATE1" || up == "ATE":
		s.mu.Lock()
		echoWas := s.echo
		s.echo = up == "ATE1"
		s.mu.Unlock()
		if echoWas {
			s.write(m, cmd+"\r")
		}
		s.reply(m, "", "OK")
		return nil
	case strings.HasPrefix(up, "AT+CMEE="):
		if s.p.CMEEError {
			return fail("ERROR")
		}
		n, err := strconv.Atoi(up[len("AT+CMEE="):])
		if err != nil || n < 0 || n > 2 {
			return fail("ERROR")
		}
		s.mu.Lock()
		s.cmee = n
		s.mu.Unlock()
		return ok()
	case up == "AT+CGMM":
		return ok(s.p.Model)
	case up == "AT+CPIN?":
		switch simState {
		case "absent":
			return fail(s.cmeError(10))
		default:
			return ok("+CPIN: " + simState)
		}
	case strings.HasPrefix(up, "AT+CPIN="):
		return s.enterPIN(m, cmd, simState)
	case up == "AT+CMGF=0" || up == "AT+CMGF=1":
		s.mu.Lock()
		s.pdu = up == "AT+CMGF=0"
		s.mu.Unlock()
		return ok()
	case up == "AT+CREG?" || up == "AT+CEREG?" || up == "AT+CGREG?":
		if up == "AT+CEREG?" && s.p.NoCEREG {
			return fail(s.cmeError(4))
		}
		stat := 0
		if simState == "READY" {
			stat = s.regStat(up == "AT+CREG?")
		}
		if s.p.ReportsUnregistered {
			stat = 2
		}
		return ok(s.regRead(up[2:len(up)-1], stat))
	case up == "AT+CREG=0" || up == "AT+CREG=1" || up == "AT+CREG=2" || up == "AT+CEREG=0" || up == "AT+CEREG=1" || up == "AT+CEREG=2":
		if strings.HasPrefix(up, "AT+CEREG") && s.p.NoCEREG {
			return fail(s.cmeError(4))
		}
		n := int(up[len(up)-1] - '0')
		if up == "AT+CREG=2" && s.p.NoCREG2 {
			return fail(s.cmeError(4))
		}
		s.mu.Lock()
		if strings.HasPrefix(up, "AT+CREG") {
			s.cregN = n
		} else {
			s.ceregN = n
		}
		s.mu.Unlock()
		return ok()
	case strings.HasPrefix(up, "AT+CGREG="):
		return ok()
	case up == "AT+CFUN?":
		s.mu.Lock()
		fun := s.cfun
		s.mu.Unlock()
		return ok("+CFUN: " + strconv.Itoa(fun))
	case up == "AT+CFUN=1" || up == "AT+CFUN=4" || up == "AT+CFUN=0":
		if s.p.PowerDelay > 0 && up == "AT+CFUN=1" {
			time.Sleep(s.p.PowerDelay) // the radio takes its time; the host must wait
		}
		s.mu.Lock()
		s.cfun = int(up[len(up)-1] - '0')
		s.regCount = 0
		s.mu.Unlock()
		ok()
		if s.p.CFUNURC && up == "AT+CFUN=1" {
			s.write(m, "\r\n+CFUN: 1\r\n")
		}
		return nil
	case up == "AT+COPS=0":
		s.mu.Lock()
		s.searchOn = true
		s.regCount = 0
		s.mu.Unlock()
		return ok()
	case strings.HasPrefix(up, "AT+COPS=3,"):
		return ok()
	case up == "AT+CSQ":
		s.mu.Lock()
		csq := s.p.CSQ
		s.mu.Unlock()
		return ok(fmt.Sprintf("+CSQ: %d,99", csq))
	case up == "AT+COPS?":
		if s.regStatPeek() != 1 && !s.p.ReportsUnregistered {
			return ok("+COPS: 0")
		}
		return ok(fmt.Sprintf("+COPS: 0,0,%q,7", s.p.Operator))
	case up == "AT+CSCA?":
		if simState != "READY" {
			return fail(s.cmsError(311))
		}
		smsc := s.p.SMSC
		if smsc == "-" {
			smsc = ""
		}
		return ok(fmt.Sprintf("+CSCA: %q,145", smsc))
	case strings.HasPrefix(up, "AT+CMGS="):
		return s.startSubmit(m, cmd, up, simState)
	}
	return fail("ERROR")
}

func (s *Sim) enterPIN(m *os.File, cmd, simState string) *pduState {
	pin := strings.Trim(strings.TrimSpace(cmd[len("AT+CPIN="):]), `"`)
	s.mu.Lock()
	s.pinTries = append(s.pinTries, pin)
	s.mu.Unlock()
	if simState != "SIM PIN" {
		s.reply(m, cmd, s.cmeError(3))
		return nil
	}
	if pin == s.p.PIN {
		s.mu.Lock()
		s.simState = "READY"
		s.pinLeft = s.p.PINTries
		s.mu.Unlock()
		s.reply(m, cmd, "OK")
		return nil
	}
	s.mu.Lock()
	s.pinLeft--
	if s.pinLeft <= 0 {
		s.simState = "SIM PUK"
	}
	s.mu.Unlock()
	s.reply(m, cmd, s.cmeError(16))
	return nil
}

// regRead is the read answer of +CREG?/+CEREG? for stat in the profile's form.
func (s *Sim) regRead(prefix string, stat int) string {
	s.mu.Lock()
	n := s.cregN
	if prefix == "+CEREG" {
		n = s.ceregN
	}
	s.mu.Unlock()
	switch s.p.RegReadForm {
	case RegStatOnly:
		return fmt.Sprintf("%s: %d", prefix, stat)
	case RegURCForm:
		return fmt.Sprintf(`%s: %d,"00C3","0000A13B"`, prefix, stat)
	case RegUnquoted:
		return fmt.Sprintf("%s: %d,%d,00C3,0000A13B,7", prefix, n, stat)
	}
	if n == 2 && (stat == 1 || stat == 5) {
		return fmt.Sprintf(`%s: %d,%d,"00C3","0000A13B"`, prefix, n, stat)
	}
	return fmt.Sprintf("%s: %d,%d", prefix, n, stat)
}

// regStat is the registration status for a query (each CREG query counts toward RegisterAt).
func (s *Sim) regStat(count bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if count {
		s.regCount++
	}
	return s.regStatLocked()
}

func (s *Sim) regStatPeek() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.regStatLocked()
}

func (s *Sim) regStatLocked() int {
	if s.simState != "READY" || s.cfun != 1 || (s.p.NotSearching && !s.searchOn) {
		return 0
	}
	if s.register {
		return 1
	}
	if s.p.Unregistered || (s.p.RegisterAt > 0 && s.regCount <= s.p.RegisterAt) {
		return 2
	}
	return 1
}

func (s *Sim) startSubmit(m *os.File, cmd, up, simState string) *pduState {
	n, err := strconv.Atoi(up[len("AT+CMGS="):])
	s.mu.Lock()
	pduMode := s.pdu
	if s.stall {
		s.stall, s.silent = false, true
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	switch {
	case simState != "READY":
		s.reply(m, cmd, s.cmsError(311))
		return nil
	case !pduMode:
		// Text mode would take the number as a phone number: a real modem prompts and then
		// fails; answering 302 keeps the script short.
		s.reply(m, cmd, s.cmsError(302))
		return nil
	case err != nil || n < 7 || n > 164:
		s.reply(m, cmd, s.cmsError(304))
		return nil
	}
	s.mu.Lock()
	echo := s.echo
	s.mu.Unlock()
	if echo {
		s.write(m, cmd+"\r")
	}
	if s.p.PromptDelay > 0 {
		time.Sleep(s.p.PromptDelay) // the modem is slow; the host must wait for the prompt
	}
	if s.p.NoisyURCs {
		s.write(m, "\r\n+CMTI: \"SM\",4\r\n")
	}
	s.write(m, "\r\n> ")
	return &pduState{length: n}
}

func (s *Sim) submit(m *os.File, p *pduState) {
	hexs := string(p.hex)
	s.mu.Lock()
	echo := s.echo
	s.mu.Unlock()
	if echo {
		s.write(m, hexs+"\x1a")
	}
	d, err := modem.DecodeSubmit(hexs, p.length)
	if err != nil {
		s.log.Info("modemsim: bad PDU", "err", err, "pdu", hexs)
		s.reply(m, "", s.cmsError(304))
		return
	}
	s.mu.Lock()
	if s.regStatLocked() != 1 {
		s.mu.Unlock()
		s.reply(m, "", s.cmsError(331))
		return
	}
	if len(s.failNext) > 0 {
		code := s.failNext[0]
		s.failNext = s.failNext[1:]
		s.mu.Unlock()
		s.reply(m, "", s.cmsError(code))
		return
	}
	s.mr = (s.mr + 1) % 256
	mr := s.mr
	s.collect(d, mr)
	s.mu.Unlock()
	s.reply(m, "", "OK", "+CMGS: "+strconv.Itoa(mr))
	s.notify()
	s.reportFor(d.SRR, mr, d.Dest)
}

// collect files a decoded part; s.mu is held.
func (s *Sim) collect(d *modem.Decoded, mr int) {
	units := len(d.TPDU.UD)
	if d.Alphabet == modem.UCS2 {
		units /= 2
	}
	if d.Parts <= 1 {
		s.msgs = append(s.msgs, Message{Dest: d.Dest, Text: d.Text, Alphabet: d.Alphabet, Parts: 1,
			Class0: d.Class0, Validity: d.Validity, MRs: []int{mr}, Septets: units, SRR: d.SRR})
		return
	}
	key := fmt.Sprintf("%s/%d/%d", d.Dest, d.Ref, d.Parts)
	p := s.partial[key]
	if p == nil {
		p = &partial{parts: map[int]*modem.Decoded{}, mrs: map[int]int{}}
		s.partial[key] = p
	}
	p.parts[d.Seq] = d
	p.mrs[d.Seq] = mr
	if len(p.parts) < d.Parts {
		return
	}
	delete(s.partial, key)
	seqs := make([]int, 0, len(p.parts))
	for q := range p.parts {
		seqs = append(seqs, q)
	}
	sort.Ints(seqs)
	msg := Message{Dest: d.Dest, Alphabet: d.Alphabet, Parts: d.Parts, Ref: d.Ref, Class0: d.Class0, Validity: d.Validity, SRR: d.SRR}
	var text strings.Builder
	for _, q := range seqs {
		part := p.parts[q]
		text.WriteString(part.Text)
		msg.MRs = append(msg.MRs, p.mrs[q])
		u := len(part.TPDU.UD)
		if part.Alphabet == modem.UCS2 {
			u /= 2
		}
		msg.Septets += u
	}
	msg.Text = text.String()
	s.msgs = append(s.msgs, msg)
}

// reset is the reset command: OK, then a power cycle (and, for a USB modem, the port vanishes
// and comes back at the same path).
func (s *Sim) reset(m *os.File, cmd string, silent bool) {
	s.mu.Lock()
	s.resets++
	s.mu.Unlock()
	if !silent {
		s.reply(m, cmd, "OK")
	}
	if s.p.UnplugOnReset {
		s.unplug()
		go func() {
			time.Sleep(s.p.ReplugAfter) // the USB device re-enumerates
			if err := s.Replug(); err != nil {
				s.log.Info("modemsim: replug", "err", err)
			}
		}()
		return
	}
	s.mu.Lock()
	s.powerUp()
	s.mu.Unlock()
	s.write(m, "\r\nRDY\r\n")
}
