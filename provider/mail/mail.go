package mail

import (
	"context"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"time"

	"multimsg/provider"
)

// Driver is one mail sender: an SMTP relay or a local Maildir. It is safe for concurrent use;
// SMTP deliveries of one Driver go one at a time over its one pooled connection.
type Driver struct {
	o    Options
	from *mail.Address
	log  *slog.Logger
	md   *maildir // nil: SMTP

	// sem is the pooled connection's lock: whoever holds the token owns sess, idle, closed.
	// A channel rather than a mutex so that waiting for it honours the Send's context.
	sem    chan struct{}
	sess   *session
	idle   *time.Timer
	closed bool

	// closing is cancelled by Close, which cuts a Send in progress rather than wait for it.
	closing  context.Context
	closeNow context.CancelFunc

	hmu    sync.Mutex // guards health and facts
	health provider.Health
	facts  *Facts // nil until the relay has been talked to (none for a Maildir)
}

// Facts are what the driver knows of its relay: provider.Health's facts for a mail sender.
type Facts struct {
	TLS       string `json:"tls"`        // the last connection's TLS ("" until one is made)
	LastError string `json:"last_error"` // the relay's last error ("" after a success)
	// LastRejected: the recipients the relay last refused for good in a mail that went out.
	LastRejected string `json:"last_rejected_recipients,omitempty"`
}

// Each lists the facts for the status page.
func (f Facts) Each(fn func(label, value string)) {
	fn("last_error", f.LastError)
	fn("last_rejected_recipients", f.LastRejected)
	fn("tls", f.TLS)
}

// New builds a mail driver. It does not connect: the first Send does.
func New(o Options, log *slog.Logger) (*Driver, error) {
	o, from, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Driver{
		o:    o,
		from: from,
		log:  log.With("service", "mail", "sender", o.Name),
		sem:  make(chan struct{}, 1),
	}
	d.closing, d.closeNow = context.WithCancel(context.Background())
	d.health = provider.Health{OK: true, Detail: "not connected yet"}
	if o.Maildir != "" {
		md, err := openMaildir(o.Maildir, o.Hostname)
		if err != nil {
			return nil, fmt.Errorf("mail: sender %q: %w", o.Name, err)
		}
		d.md = md
		d.health = provider.Health{OK: true, Detail: "delivering into Maildir " + o.Maildir}
	}
	return d, nil
}

// Service is the mail service over senders (the first is the default): one e-mail per job.
func Service(senders []provider.Sender, fallback []string, fallbackAfter time.Duration) *provider.Service {
	return &provider.Service{
		Name:          "mail",
		Types:         []string{"text", "html", "file"},
		PerFile:       false,
		Senders:       senders,
		Fallback:      fallback,
		FallbackAfter: fallbackAfter,
	}
}

// Check validates dest (an address or a comma-separated list), the files (at least one; text and
// html UTF-8; the total within MaxSize) and info (subject, cc, reply_to).
func (d *Driver) Check(r provider.Request) error {
	_, err := d.o.check(r.Dest, r.Files, r.Info)
	return err
}

// Send builds the message for d and delivers it over SMTP or into the Maildir.
// Receipt.MessageID is the Message-ID (SMTP) or the file name in new/ (Maildir).
func (d *Driver) Send(ctx context.Context, dl provider.Delivery) (provider.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return provider.Receipt{}, provider.Temp("", fmt.Errorf("mail: send: %w", err))
	}
	if d.closing.Err() != nil {
		return provider.Receipt{}, provider.Temp("", ErrClosed)
	}
	req, err := d.o.check(dl.Dest, dl.Files, dl.Info)
	if err != nil {
		// Check ran at /msg, so this is a job that changed underneath or a config that did.
		return provider.Receipt{}, provider.Perm("invalid", err)
	}
	now := time.Now()
	h := &header{
		From:      d.from,
		To:        req.to,
		Cc:        req.info.Cc,
		ReplyTo:   req.info.ReplyTo,
		Date:      now,
		MessageID: d.messageID(dl.JobID),
		JobID:     dl.JobID,
	}
	if req.info.Subject != nil {
		h.Subject = *req.info.Subject
	} else {
		h.Subject = strings.NewReplacer("{device}", dl.Device, "{job}", dl.JobID).Replace(d.o.DefaultSubject)
	}
	msg, err := build(h, dl.Files)
	if err != nil {
		return provider.Receipt{}, provider.Perm("invalid", err)
	}
	log := d.log.With("job", dl.JobID, "attempt", dl.Attempt)
	if d.md != nil {
		name, err := d.md.deliver(msg, now)
		if err != nil {
			d.setHealth(false, err.Error(), nil)
			return provider.Receipt{}, err
		}
		log.Info("mail delivered into Maildir", "file", name, "bytes", len(msg))
		d.setHealth(true, "delivering into Maildir "+d.o.Maildir, nil)
		return provider.Receipt{MessageID: name}, nil
	}
	rcpts := envelopeRecipients(req.to, req.info.Cc)
	if err := d.sendSMTP(ctx, log, rcpts, msg); err != nil {
		return provider.Receipt{}, err
	}
	return provider.Receipt{MessageID: h.MessageID}, nil
}

// messageID is "<multimsg.JOB@DOMAIN>". It is the same on every attempt for one job, so a
// repeat after a crash (delivery is at least once) has the Message-ID of the first copy and
// mail clients can fold the two.
func (d *Driver) messageID(job string) string {
	var b strings.Builder
	b.WriteString("<multimsg.")
	if job == "" {
		job = boundary("id")[len("=_mm_"):]
	}
	for i := 0; i < len(job); i++ {
		c := job[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.+=", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	b.WriteByte('@')
	domain := ""
	if at := strings.LastIndexByte(d.from.Address, '@'); at >= 0 {
		domain = d.from.Address[at+1:]
	}
	if !dotAtom(domain) {
		domain = d.o.Hostname
	}
	if !dotAtom(domain) {
		domain = "multimsg.invalid"
	}
	b.WriteString(domain)
	b.WriteByte('>')
	return b.String()
}

func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Health reports the last outcome and, for SMTP, the connection's TLS state.
func (d *Driver) Health() provider.Health {
	d.hmu.Lock()
	defer d.hmu.Unlock()
	h := d.health
	if d.facts != nil {
		h.Facts = *d.facts
	}
	return h
}

// setHealth records an outcome; fn, if not nil, updates the relay's facts.
func (d *Driver) setHealth(ok bool, detail string, fn func(f *Facts)) {
	d.hmu.Lock()
	defer d.hmu.Unlock()
	d.health.OK = ok
	d.health.Detail = detail
	if fn != nil {
		if d.facts == nil {
			d.facts = &Facts{}
		}
		fn(d.facts)
	}
}

// Close closes the pooled connection (QUIT) and makes later Sends fail with ErrClosed. A Send in
// progress is cut and returns context.Canceled (a shutdown, not the provider's fault).
func (d *Driver) Close() error {
	d.closeNow()
	d.sem <- struct{}{}
	defer func() { <-d.sem }()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.idle != nil {
		d.idle.Stop()
	}
	if d.sess != nil {
		d.sess.quit()
		d.sess = nil
	}
	return nil
}

var _ provider.Driver = (*Driver)(nil)
var _ provider.HealthReporter = (*Driver)(nil)
