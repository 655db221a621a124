package mailin

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"golang.org/x/crypto/bcrypt"

	"multimsg/identity"
	"multimsg/provider"
	"multimsg/store"
)

// User is one AUTH credential: a device that logs in.
type User struct {
	PasswordHash string // bcrypt
	// MAC, when set, is the only device this login is valid from: a password copied off one
	// camera does not let another device send.
	MAC string
}

// Options configure a Server.
type Options struct {
	Store    *store.Store
	Registry *provider.Registry
	Identity *identity.Identity

	Hostname      string // the name in the greeting; default "multimsg"
	MaxSize       int64  // bytes of one message (SIZE); default 10 MiB
	MaxRecipients int    // RCPTs of one message; default 32
	Aliases       map[string][]Target
	Relay         bool                // a full e-mail address is relayed by the mail service
	Text          map[string]TextRule // per service

	// Rate and Burst pace each device: Burst mails at once, then Rate a second; more is
	// answered 421 (the device tries again later). Rate 0: no pacing.
	Rate  float64
	Burst int

	MaxConns      int // connections at once; default 64
	MaxConnsPerIP int // default 16
	// MaxReading bounds the messages read into memory at once, box-wide (each costs up to
	// ~3× its size while it is parsed); default 4. A mail that waits ReadingWait (default
	// 30 s) for its turn is answered 421 and sent again later by the device.
	MaxReading  int
	ReadingWait time.Duration

	TLS          *tls.Config     // non-nil: STARTTLS is offered
	Users        map[string]User // AUTH PLAIN/LOGIN logins; none: AUTH is not offered
	AuthRequired bool            // mail only after AUTH

	ReadTimeout time.Duration // one command or the data; default 60 s
	// Accepted, if set, is called for every job a mail made (metrics: route "smtp").
	Accepted func(service, sender string)
	Log      *slog.Logger
}

// Server is the SMTP listener.
type Server struct {
	o    Options
	log  *slog.Logger
	srv  *smtp.Server
	rcpt recipients
	pace *pacer
	conn *connLimit
	auth chan struct{} // bcrypt semaphore: a login costs ~50 ms of a core
	read chan struct{} // messages being read into memory (MaxReading)
}

// New checks the options and builds the server; Serve starts it.
func New(o Options) (*Server, error) {
	if o.Store == nil || o.Registry == nil {
		return nil, errors.New("mailin: Store and Registry are required")
	}
	if o.Identity == nil {
		o.Identity = &identity.Identity{}
	}
	if o.Hostname == "" {
		o.Hostname = "multimsg"
	}
	if o.MaxSize <= 0 {
		o.MaxSize = 10 << 20
	}
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = 32
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 64
	}
	if o.MaxConnsPerIP <= 0 {
		o.MaxConnsPerIP = 16
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = time.Minute
	}
	if o.MaxReading <= 0 {
		o.MaxReading = 4
	}
	if o.ReadingWait <= 0 {
		o.ReadingWait = 30 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Text == nil {
		o.Text = map[string]TextRule{}
	}
	for svc, r := range o.Text {
		if !ValidContent(r.Content) || r.MaxChars < 0 {
			return nil, fmt.Errorf("mailin: text rule for %s: content %q, max_chars %d", svc, r.Content, r.MaxChars)
		}
	}
	aliases := map[string][]Target{}
	for k, v := range o.Aliases {
		aliases[strings.ToLower(k)] = v
	}
	if err := CheckAliases(o.Registry, aliases); err != nil {
		return nil, fmt.Errorf("mailin: %w", err)
	}
	if o.AuthRequired && len(o.Users) == 0 {
		return nil, errors.New("mailin: AUTH is required but no user is configured")
	}
	s := &Server{o: o, log: o.Log, rcpt: recipients{reg: o.Registry, aliases: aliases, relay: o.Relay},
		pace: newPacer(o.Rate, o.Burst, time.Now), conn: newConnLimit(o.MaxConns, o.MaxConnsPerIP), auth: make(chan struct{}, 2),
		read: make(chan struct{}, o.MaxReading)}
	srv := smtp.NewServer(s)
	srv.Domain = o.Hostname
	srv.MaxMessageBytes = o.MaxSize
	srv.MaxRecipients = o.MaxRecipients
	srv.ReadTimeout = o.ReadTimeout
	srv.WriteTimeout = o.ReadTimeout
	srv.TLSConfig = o.TLS
	// Without a certificate there is no TLS to wait for: devices on the LAN log in in clear
	// (their only option); with one, AUTH waits for STARTTLS.
	srv.AllowInsecureAuth = o.TLS == nil
	srv.EnableSMTPUTF8 = true
	// RFC 5321 allows 1000 bytes a line, but devices' mail libraries do not all wrap base64
	// (a snapshot as one line of some KiB). 64 KiB takes those and still bounds what a
	// command line may make the server hold (MaxConns × 64 KiB).
	srv.MaxLineLength = maxLine
	srv.ErrorLog = slogPrintf{o.Log}
	s.srv = srv
	return s, nil
}

// Serve answers SMTP on ln until Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(s.conn.wrap(ln)) }

// Shutdown stops accepting and waits a little for the sessions in flight (at most 3 s, or
// ctx), then closes the rest: a device idling in a session would otherwise hold the stop for
// its whole timeout. A message cut off before its 250 was not acknowledged, so the device
// sends it again (at least once, never lost).
func (s *Server) Shutdown(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if sctx.Err() != nil {
		s.srv.Close()
		return nil
	}
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops at once.
func (s *Server) Close() error { return s.srv.Close() }

type slogPrintf struct{ l *slog.Logger }

func (p slogPrintf) Printf(format string, v ...any) { p.l.Debug("smtp: " + fmt.Sprintf(format, v...)) }
func (p slogPrintf) Println(v ...any)               { p.l.Debug("smtp: " + fmt.Sprintln(v...)) }

// smtpErr builds a reply; the enhanced code follows RFC 3463.
func smtpErr(code int, enh smtp.EnhancedCode, format string, args ...any) *smtp.SMTPError {
	msg := fmt.Sprintf(format, args...)
	msg = strings.ReplaceAll(strings.ReplaceAll(msg, "\r", " "), "\n", " ")
	if len(msg) > 400 {
		msg = trimBytes(msg, 400) + "..."
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

// NewSession identifies the device when it says EHLO: a device the HTTP API would refuse
// (no MAC known, not in allow_macs) is refused here the same way, before any mail.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	var ip netip.Addr
	if ta, ok := c.Conn().RemoteAddr().(*net.TCPAddr); ok {
		ip = identity.AddrOf(ta.IP)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	dev, err := s.o.Identity.Identify(ctx, ip)
	if err != nil {
		s.log.Info("smtp: device refused", "ip", ip.String(), "err", err)
		return nil, smtpErr(554, smtp.EnhancedCode{5, 7, 1}, "%v", err)
	}
	if dev != identity.Local {
		s.o.Store.TouchDevice(dev, ip.String(), time.Now())
	}
	return &session{s: s, dev: dev, ip: ip.String()}, nil
}

// session is one SMTP connection's state; go-smtp calls it from the connection's goroutine only.
type session struct {
	s       *Server
	dev, ip string
	user    string // the AUTH login, once done
	size    int64  // the SIZE the client announced at MAIL (0: none)
	targets []Target
}

func (ss *session) Reset() { ss.targets, ss.size = nil, 0 }

func (ss *session) Logout() error { return nil }

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	if ss.s.o.AuthRequired && ss.user == "" {
		return errAuthRequired
	}
	if wait, ok := ss.s.pace.allow(ss.dev); !ok {
		return smtpErr(421, smtp.EnhancedCode{4, 7, 0}, "too many mails from this device (%s); try again in %s", ss.dev, wait.Round(time.Second))
	}
	if opts != nil && opts.Size > 0 && opts.Size <= ss.s.o.MaxSize { // over it, go-smtp answered 552
		ss.size = opts.Size
	}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.o.AuthRequired && ss.user == "" {
		return errAuthRequired
	}
	ts, err := ss.s.rcpt.resolve(to)
	if err != nil {
		return smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "%v", err)
	}
	for _, t := range ts {
		dup := false
		for _, x := range ss.targets {
			dup = dup || x == t
		}
		if !dup {
			ss.targets = append(ss.targets, t)
		}
	}
	return nil
}

// Data reads the message, makes its jobs and answers 250 only once they are committed.
func (ss *session) Data(r io.Reader) error {
	s := ss.s
	// Without this bound, MaxConns devices sending MaxSize mails at once would hold
	// MaxConns × ~3 × MaxSize of memory (64 × 30 MiB with the defaults). Waiting here costs
	// nothing: the unread data waits in the device's TCP window.
	t := time.NewTimer(s.o.ReadingWait)
	select {
	case s.read <- struct{}{}:
		t.Stop()
	case <-t.C:
		return smtpErr(421, smtp.EnhancedCode{4, 3, 2}, "busy reading other mails; try again later")
	}
	defer func() { <-s.read }()
	buf := getBuffer()
	defer putBuffer(buf) // nothing made from it outlives Data: Parse copies, CreateAll has committed
	// The announced size, when there is one, avoids the copies of a doubling buffer (a 2 MB
	// mail would otherwise be held up to twice over while it is read).
	buf.Grow(int(ss.size) + bytes.MinRead)
	if _, err := buf.ReadFrom(r); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return se // 552: over the size limit
		}
		if errors.Is(err, smtp.ErrTooLongLine) {
			return smtpErr(554, smtp.EnhancedCode{5, 6, 0}, "a line of the message is longer than %d bytes", maxLine)
		}
		return smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "reading the message: %v; send it again", err)
	}
	msg, err := Parse(buf.Bytes())
	if err != nil {
		return smtpErr(554, smtp.EnhancedCode{5, 6, 0}, "%v", err)
	}
	jobs, err := s.jobs(ss.dev, ss.ip, msg, ss.targets)
	if err != nil {
		return smtpErr(554, smtp.EnhancedCode{5, 6, 0}, "message refused, nothing queued: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nj := make([]store.NewJob, len(jobs))
	for i, p := range jobs {
		nj[i] = p.job
	}
	ids, err := s.o.Store.CreateAll(ctx, nj)
	if err != nil {
		s.log.Warn("smtp: mail not stored", "device", ss.dev, "err", err)
		return storeError(err)
	}
	for _, p := range jobs {
		if s.o.Accepted != nil {
			s.o.Accepted(p.service, p.sender)
		}
	}
	s.log.Info("smtp: mail queued", "device", ss.dev, "jobs", strings.Join(ids, ","), "bytes", buf.Len())
	return smtpErr(250, smtp.EnhancedCode{2, 0, 0}, "queued as %s", strings.Join(ids, " "))
}

// maxLine bounds one line of the session, commands and message alike.
const maxLine = 64 << 10

// bufPool keeps the buffers of usual alert mails (up to 1 MiB) between messages: reading a
// mail into a fresh doubling buffer allocates about four times its size.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooled = 1 << 20

func getBuffer() *bytes.Buffer { return bufPool.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= maxPooled {
		b.Reset()
		bufPool.Put(b)
	}
}

// jobs plans one job per target; one target whose service refuses the content refuses the
// mail (nothing is stored: the device is told, and no recipient gets half of it).
func (s *Server) jobs(dev, ip string, msg *Message, targets []Target) ([]planned, error) {
	out := make([]planned, 0, len(targets))
	for _, t := range targets {
		p, err := s.plan(dev, ip, msg, t)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", t, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// storeError maps a store failure to a temporary reply: the device keeps the mail and sends
// it again, as it would for a busy mail server.
func storeError(err error) error {
	switch {
	case errors.Is(err, store.ErrQuota):
		return smtpErr(452, smtp.EnhancedCode{4, 3, 1}, "the box's store is full; try again later")
	case errors.Is(err, store.ErrDiskFull):
		return smtpErr(452, smtp.EnhancedCode{4, 3, 1}, "the box's data partition is full; try again later")
	case errors.Is(err, store.ErrTooMany):
		return smtpErr(451, smtp.EnhancedCode{4, 7, 1}, "too many jobs from this device wait; try again later")
	case errors.Is(err, store.ErrClosed):
		return smtpErr(421, smtp.EnhancedCode{4, 3, 2}, "the gateway is shutting down; try again shortly")
	case errors.Is(err, store.ErrFailed):
		return smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "the box's store is unavailable; try again later")
	}
	return smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "local error, nothing queued; try again")
}

// AuthMechanisms offers PLAIN and LOGIN (many cameras know only LOGIN) when users are set.
func (ss *session) AuthMechanisms() []string {
	if len(ss.s.o.Users) == 0 {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return ss.login(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: ss.login}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) login(user, pass string) error {
	u, ok := ss.s.o.Users[user]
	hash := u.PasswordHash
	if !ok {
		hash = dummyHash // the same work, so that a wrong name is not told from a wrong password
	}
	ss.s.auth <- struct{}{}
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pass))
	<-ss.s.auth
	if err != nil || !ok {
		ss.s.log.Info("smtp: login refused", "device", ss.dev, "user", user)
		return smtp.ErrAuthFailed
	}
	if u.MAC != "" && !strings.EqualFold(u.MAC, ss.dev) {
		ss.s.log.Info("smtp: login from another device", "device", ss.dev, "user", user, "bound_to", u.MAC)
		return smtp.ErrAuthFailed
	}
	ss.user = user
	return nil
}

// dummyHash is a bcrypt hash of nothing anyone types (cost 10, like the users' hashes).
const dummyHash = "$2a$10$7EqJtq98hPqEX7fNZaFWoOhi5BWX4Z3bP0d5ZFUuqVqjLx0qiZ5Rq"

// loginServer is SASL LOGIN (draft-murchison-sasl-login): go-sasl has only the client side.
type loginServer struct {
	check func(user, pass string) error
	user  string
	state int
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.state {
	case 0:
		l.state = 1
		if resp != nil { // an initial response (AUTH LOGIN <user>)
			l.user = string(resp)
			l.state = 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(resp)
		l.state = 2
		return []byte("Password:"), false, nil
	case 2:
		l.state = 3
		return nil, true, l.check(l.user, string(resp))
	}
	return nil, true, errors.New("unexpected response")
}

// pacer is a token bucket per device; the map is bounded (idle devices' full buckets are
// dropped first, then the oldest).
type pacer struct {
	rate  float64
	burst float64
	now   func() time.Time
	mu    sync.Mutex // guards b
	b     map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

const maxPaced = 4096

func newPacer(rate float64, burst int, now func() time.Time) *pacer {
	if burst <= 0 {
		burst = 10
	}
	return &pacer{rate: rate, burst: float64(burst), now: now, b: map[string]*bucket{}}
}

// allow takes a token for dev; when there is none it says how long until there is.
func (p *pacer) allow(dev string) (time.Duration, bool) {
	if p.rate <= 0 {
		return 0, true
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.b[dev]
	if b == nil {
		if len(p.b) >= maxPaced {
			p.evict(now)
		}
		b = &bucket{tokens: p.burst, at: now}
		p.b[dev] = b
	}
	b.tokens = min(p.burst, b.tokens+now.Sub(b.at).Seconds()*p.rate)
	b.at = now
	if b.tokens < 1 {
		return time.Duration((1 - b.tokens) / p.rate * float64(time.Second)), false
	}
	b.tokens--
	return 0, true
}

func (p *pacer) evict(now time.Time) {
	var oldest string
	var at time.Time
	for k, b := range p.b {
		if b.tokens+now.Sub(b.at).Seconds()*p.rate >= p.burst {
			delete(p.b, k)
			continue
		}
		if oldest == "" || b.at.Before(at) {
			oldest, at = k, b.at
		}
	}
	if len(p.b) >= maxPaced {
		delete(p.b, oldest)
	}
}
