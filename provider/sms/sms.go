// Package sms is the "sms" service driver: one SMS (concatenated when long) per text file,
// sent through a serial GSM modem (package modem), in GSM 7-bit when the text allows and UCS-2
// otherwise, up to a configured number of segments.
//
// Check refuses at /msg what could never be sent: a dest that is not 8-15 digits, a file that
// is not UTF-8 text, a text longer than the segment limit (naming the file and the count it
// would need), unknown info keys. Send maps the modem's answers onto the provider's classes:
// see classify and docs/SMS.md.
package sms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"multimsg/hw/serial"
	"multimsg/modem"
	"multimsg/provider"
)

// Options configure one modem sender.
type Options struct {
	Name           string        // the sender's name, as received messages and reports carry it
	Device         string        // serial device path; prefer /dev/serial/by-id/...
	Baud           int           // default 115200
	PIN            string        // SIM PIN, entered at most once
	Segments       int           // most parts one text may take; default 6, at most 255
	ResetCommand   string        // sent to a silent modem; default AT+CFUN=1,1
	StateDir       string        // concat reference counter and PIN verdict ("" memory only)
	CommandTimeout time.Duration // default 10s
	SendTimeout    time.Duration // one AT+CMGS exchange; default 60s
	HealthEvery    time.Duration // default 60s
	PowerTimeout   time.Duration // AT+CFUN=1; default 30s
	// RegisterTimeout bounds AT+COPS=0 (automatic operator selection); default 2m.
	RegisterTimeout time.Duration
	// SendUnregisteredAfter: how long "not registered" may last before a send is tried anyway
	// and the network answers; default 1m, negative never (modem.Options).
	SendUnregisteredAfter time.Duration
	// ReadyWait: how long a send waits for a modem that is coming up; default 10s.
	ReadyWait time.Duration
	// NoStatusReports: sends do not ask for status reports (TP-SRR), and receipts carry no
	// parts to match reports to. Default: they ask.
	NoStatusReports bool
	// PollEvery: how often the modem's store is read for messages an indication did not
	// announce (AT+CMGL); default 5m.
	PollEvery time.Duration
	// Trace logs the AT exchange at debug level (a PIN masked).
	Trace bool
	// Open, if set, opens the port instead of Device (tests hand in a pty).
	Open func(ctx context.Context) (io.ReadWriteCloser, error)
}

// ServiceName is the service /msg knows this driver by.
const ServiceName = "sms"

// The segment limit: DefaultSegments when Options.Segments is 0, at most MaxSegments (the
// concatenation header counts parts in one byte). SenderConfig's tag says the same;
// TestSenderDefaults holds them together.
const (
	DefaultSegments = 6
	MaxSegments     = 255
	// DefaultBaud is the serial speed when Options.Baud is 0.
	DefaultBaud = 115200
)

// Driver is one modem as a provider.Driver and provider.HealthReporter.
type Driver struct {
	o     Options
	log   *slog.Logger
	modem *modem.Modem
	recv  atomic.Pointer[provider.Receiver] // nil until SetReceiver: messages stay on the modem
}

var (
	_ provider.Driver         = (*Driver)(nil)
	_ provider.HealthReporter = (*Driver)(nil)
	_ provider.ReadyNotifier  = (*Driver)(nil)
	_ provider.Runner         = (*Driver)(nil)
	_ provider.Receiving      = (*Driver)(nil)
)

// New starts a driver: it opens and supervises the modem in the background (a missing device
// is not an error here: it is reported by Health and retried).
func New(o Options, log *slog.Logger) (*Driver, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Segments == 0 {
		o.Segments = DefaultSegments
	}
	if o.Segments < 1 || o.Segments > MaxSegments {
		return nil, fmt.Errorf("sms: segments = %d; must be 1..%d", o.Segments, MaxSegments)
	}
	if o.Baud == 0 {
		o.Baud = DefaultBaud
	}
	open := o.Open
	if open == nil {
		if o.Device == "" {
			return nil, errors.New("sms: device is required")
		}
		open = serial.Opener(o.Device, o.Baud, 0)
	}
	d := &Driver{o: o, log: log}
	m, err := modem.New(modem.Options{
		Open:           open,
		PIN:            o.PIN,
		ResetCommand:   o.ResetCommand,
		StateDir:       o.StateDir,
		CommandTimeout: o.CommandTimeout,
		SendTimeout:    o.SendTimeout,
		HealthEvery:    o.HealthEvery,
		PowerTimeout:   o.PowerTimeout, RegisterTimeout: o.RegisterTimeout,
		SendUnregisteredAfter: o.SendUnregisteredAfter, ReadyWait: o.ReadyWait, Trace: o.Trace,
		Inbox: inbox{d}, PollEvery: o.PollEvery,
	}, log.With("device", o.Device))
	if err != nil {
		return nil, fmt.Errorf("sms: %w", err)
	}
	d.modem = m
	return d, nil
}

// Service is the "sms" service with senders (one per modem). The dispatcher should run each
// sms sender with Concurrency 1; the driver serialises sends per modem anyway.
func Service(senders []provider.Sender, fallback []string, fallbackAfter time.Duration) *provider.Service {
	// Modems share the load: a job that names no sender goes to whichever modem is free.
	return &provider.Service{Name: ServiceName, Types: []string{"text"}, PerFile: true, Senders: senders, ShareLoad: true,
		Fallback: fallback, FallbackAfter: fallbackAfter}
}

// Close stops the supervisor and closes the port.
func (d *Driver) Close() error { return d.modem.Close() }

// Run supervises the modem until ctx is done (provider.Runner; modem.Modem.Run).
func (d *Driver) Run(ctx context.Context) error { return d.modem.Run(ctx) }

// NotifyReady has fn called whenever the modem becomes able to send (provider.ReadyNotifier).
func (d *Driver) NotifyReady(fn func()) { d.modem.NotifyReady(fn) }

// Modem is the underlying supervisor (health waits in tests, the probe command).
func (d *Driver) Modem() *modem.Modem { return d.modem }

// Device is the serial device the driver owns ("" when a test handed in Open).
func (d *Driver) Device() string { return d.o.Device }

// info is the decoded info object of an sms job.
type info struct {
	flash    bool
	validity time.Duration
}

var infoKeys = []string{"flash", "validity"}

func decodeInfo(in provider.Info) (info, error) {
	var flash bool
	var validity string
	if err := provider.DecodeInfo(in, infoKeys, map[string]any{"flash": &flash, "validity": &validity}); err != nil {
		return info{}, err
	}
	out := info{flash: flash}
	if validity != "" {
		v, err := time.ParseDuration(validity)
		if err != nil {
			return info{}, provider.Checkf("info", "validity %q is not a duration like \"1h\" or \"30m\"", validity)
		}
		if v < 5*time.Minute || v > 63*7*24*time.Hour {
			return info{}, provider.Checkf("info", "validity %s is out of range: 5m to 63 weeks (10584h)", validity)
		}
		out.validity = v
	}
	return out, nil
}

// Check validates dest, the files and info (see the package doc). It does not block.
func (d *Driver) Check(r provider.Request) error {
	if !validDest(r.Dest) {
		return provider.Checkf("dest", "sms needs an international number, digits only, no + or spaces (E.164 without the plus): 8 to 15 digits; got %q", r.Dest)
	}
	if _, err := decodeInfo(r.Info); err != nil {
		return err
	}
	if len(r.Files) == 0 {
		return provider.Checkf("type", "sms needs at least one text file")
	}
	for _, f := range r.Files {
		if f.Type != "text" {
			return provider.Checkf("type", "file %s has type %q; sms takes only text", label(f), f.Type)
		}
		if err := d.checkText(f); err != nil {
			return err
		}
	}
	return nil
}

// label names a file the way its sender knows it: the form field, and the uploaded name when
// it differs.
func label(f provider.File) string {
	if f.Filename != "" && f.Filename != f.Name {
		return strconv.Quote(f.Name) + " (" + f.Filename + ")"
	}
	return strconv.Quote(f.Name)
}

func (d *Driver) checkText(f provider.File) error {
	name := label(f)
	// Bound the work before encoding: the longest text that fits is 255*153 septets.
	if len(f.Data) > 4*153*d.o.Segments+8 {
		return provider.Checkf("type", "file %s is %d bytes; an SMS of at most %d segments holds at most %d characters", name, len(f.Data), d.o.Segments, 153*d.o.Segments)
	}
	if !utf8.Valid(f.Data) {
		return provider.Checkf("type", "file %s is not UTF-8 text", name)
	}
	text := Text(f.Data)
	if text == "" {
		return provider.Checkf("type", "file %s is empty; an SMS needs some text", name)
	}
	n, alpha, err := modem.Segments(text)
	if err != nil {
		return provider.Checkf("type", "file %s: %v", name, err)
	}
	if n > d.o.Segments {
		return provider.Checkf("type", "file %s needs %d SMS segments (%s), more than this box's limit of %d", name, n, alphaName(alpha), d.o.Segments)
	}
	return nil
}

func alphaName(a modem.Alphabet) string {
	if a == modem.UCS2 {
		return "UCS-2: 70 characters in one, 67 per part when concatenated"
	}
	return "GSM 7-bit: 160 characters in one, 153 per part when concatenated"
}

// Text is what is sent for a text file: its content without trailing line endings (a file
// made with echo ends in "\n", which would cost a character and sometimes a segment).
func Text(data []byte) string {
	return strings.TrimRight(string(data), "\r\n")
}

func validDest(s string) bool {
	if len(s) < 8 || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Send sends the delivery's one text file as one SMS (concatenated if needed).
// Receipt.MessageID is the +CMGS message reference, or the references of the parts joined
// with ",".
func (d *Driver) Send(ctx context.Context, dl provider.Delivery) (provider.Receipt, error) {
	if len(dl.Files) != 1 {
		return provider.Receipt{}, provider.Perm("", fmt.Errorf("sms: a delivery carries exactly one file, got %d", len(dl.Files)))
	}
	f := dl.Files[0]
	if err := d.Check(provider.Request{Dest: dl.Dest, Files: dl.Files, Info: dl.Info}); err != nil {
		return provider.Receipt{}, provider.Perm("", err)
	}
	in, _ := decodeInfo(dl.Info)
	log := d.log.With("job", dl.JobID, "file", f.Name, "attempt", dl.Attempt)
	srr := !d.o.NoStatusReports
	sent, err := d.modem.Send(ctx, dl.Dest, Text(f.Data), modem.SubmitOptions{Flash: in.flash, Validity: in.validity, StatusReport: srr})
	if err != nil {
		cerr := classify(err)
		log.Warn("sms: send failed", "err", err, "class", provider.ClassOf(cerr))
		return provider.Receipt{}, cerr
	}
	ids := make([]string, len(sent.Refs))
	for i, r := range sent.Refs {
		ids[i] = strconv.Itoa(r)
	}
	log.Info("sms: sent", "parts", sent.Parts, "alphabet", string(sent.Alphabet), "mr", ids, "status_reports", srr)
	rc := provider.Receipt{MessageID: strings.Join(ids, ",")}
	if srr {
		// A status report names the part by its TP-MR and recipient (TP-RA, international).
		for _, mr := range sent.Refs {
			rc.Parts = append(rc.Parts, provider.PartRef{Ref: mr, Recipient: "+" + dl.Dest})
		}
	}
	return rc, nil
}

// classify maps a modem error onto the provider's classes. The code tables are in
// modem/codes.go; here: not registered and not ready are temporary (jobs wait), SIM states
// need an operator.
func classify(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return provider.Temp("", err)
	}
	code := modem.CodeOf(err)
	switch {
	case errors.Is(err, modem.ErrSIM):
		return provider.SenderDown("SIM", err)
	case errors.Is(err, modem.ErrNotRegistered):
		return provider.Temp("not registered", err)
	case errors.Is(err, modem.ErrNotReady):
		return provider.Temp("modem not ready", err)
	}
	switch modem.KindOf(err) {
	case modem.Operator:
		return provider.SenderDown(code, err)
	case modem.Reject:
		return provider.Perm(code, err)
	}
	return provider.Temp(code, err)
}

// Health reports the modem's own view; its facts are the modem's typed health (modem.Health).
func (d *Driver) Health() provider.Health {
	h := d.modem.Health()
	out := provider.Health{Facts: h}
	if err := h.Ready(); err != nil {
		out.Detail = err.Error()
	} else {
		out.OK = true
		out.Detail = h.String()
	}
	return out
}
