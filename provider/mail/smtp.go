package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"multimsg/provider"
)

// session is one SMTP connection, greeted, secured and authenticated, ready for MAIL.
type session struct {
	c     *smtp.Client
	dc    *deadlineConn
	used  time.Time // end of the last transaction (monotonic)
	dirty bool      // a transaction was started and not finished: RSET before the next
	tls   string    // "TLS 1.3 TLS_AES_128_GCM_SHA256", or "" for cleartext

	lastReply string // the server's reply to the last message, e.g. "2.0.0 Ok: queued as 4F2A1"
}

// quit says QUIT (bounded by the conn's deadlines) and closes.
func (s *session) quit() {
	s.c.Quit()
	s.c.Close()
}

// sendSMTP delivers msg to rcpts over the pooled connection, dialing when there is none or it
// died. Errors are classified (provider.Temp/Perm/SenderDown).
func (d *Driver) sendSMTP(ctx context.Context, log *slog.Logger, rcpts []string, msg []byte) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(d.closing, cancel)()
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return provider.Temp("", fmt.Errorf("mail: waiting for the connection: %w", ctx.Err()))
	}
	defer func() { <-d.sem }()
	if d.closed {
		return provider.Temp("", ErrClosed)
	}
	if d.idle != nil {
		d.idle.Stop()
	}

	s := d.sess
	d.sess = nil
	if s != nil && (d.o.IdleTimeout < 0 || time.Since(s.used) >= d.o.IdleTimeout) {
		s.quit()
		s = nil
	}
	if s != nil {
		// The pooled connection may have died (server idle timeout, network): probe it.
		stop := context.AfterFunc(ctx, s.dc.abort)
		var err error
		if s.dirty {
			err = s.c.Reset()
		} else {
			err = s.c.Noop()
		}
		stop()
		if err != nil {
			log.Debug("pooled SMTP connection is gone; redialing", "err", err)
			s.c.Close()
			s = nil
		} else {
			s.dirty = false
		}
	}
	if s == nil {
		var err error
		if s, err = d.dial(ctx); err != nil {
			err = d.classify(ctx, err)
			if !provider.IsContext(err) {
				d.setHealth(false, err.Error(), func(f *Facts) { f.LastError = err.Error() })
			}
			return err
		}
		log.Debug("SMTP connected", "host", d.o.Host, "port", d.o.Port, "tls", s.tls)
	}

	stop := context.AfterFunc(ctx, s.dc.abort)
	rejected, err := s.transact(d.from.Address, rcpts, msg)
	stop()
	s.used = time.Now()
	if err != nil {
		err = d.classify(ctx, err)
		// Keep the connection only after a clean negative reply; anything else (network,
		// timeout, our context, 421) leaves it in an unknown state.
		var re *ReplyError
		var re2 *RecipientsError
		if (errors.As(err, &re) && re.Code != 421 || errors.As(err, &re2)) && ctx.Err() == nil && !s.dc.isAborted() {
			d.keep(s)
		} else {
			s.c.Close()
		}
		d.setHealth(provider.ClassOf(err) != provider.Down, err.Error(), func(f *Facts) { f.LastError, f.TLS = err.Error(), s.tls })
		return err
	}
	d.keep(s)
	var refused string
	if len(rejected) > 0 {
		parts := make([]string, len(rejected))
		for i, r := range rejected {
			parts[i] = r.Error()
		}
		refused = strings.Join(parts, "; ")
		log.Warn("mail sent, but the server refused some recipients for good", "refused", refused, "accepted", len(rcpts)-len(rejected))
	}
	d.setHealth(true, fmt.Sprintf("connected to %s:%d (%s)", d.o.Host, d.o.Port, tlsOr(s.tls)), func(f *Facts) {
		f.TLS, f.LastError = s.tls, ""
		if refused != "" {
			f.LastRejected = refused
		}
	})
	log.Info("mail sent", "recipients", len(rcpts)-len(rejected), "bytes", len(msg), "server", s.lastReply)
	return nil
}

func tlsOr(s string) string {
	if s == "" {
		return "no TLS"
	}
	return s
}

// keep returns s to the pool and arms the idle timer. The caller holds sem.
func (d *Driver) keep(s *session) {
	if d.o.IdleTimeout < 0 {
		s.quit()
		return
	}
	d.sess = s
	if d.idle == nil {
		d.idle = time.AfterFunc(d.o.IdleTimeout, d.closeIdle)
	} else {
		d.idle.Reset(d.o.IdleTimeout)
	}
}

// closeIdle runs from the idle timer: QUIT a connection unused for IdleTimeout. When a Send holds
// the connection it does nothing; that Send re-arms the timer when it is done.
func (d *Driver) closeIdle() {
	select {
	case d.sem <- struct{}{}:
	default:
		return
	}
	defer func() { <-d.sem }()
	if s := d.sess; s != nil && time.Since(s.used) >= d.o.IdleTimeout {
		d.sess = nil
		s.quit()
	}
}

// dial connects, reads the greeting, says EHLO, secures the connection and authenticates.
func (d *Driver) dial(ctx context.Context) (*session, error) {
	addr := net.JoinHostPort(strings.Trim(d.o.Host, "[]"), strconv.Itoa(d.o.Port))
	dialer := net.Dialer{Timeout: d.o.Timeout}
	raw, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &stepError{"dial", err}
	}
	dc := newDeadlineConn(raw, d.o.Timeout)
	stop := context.AfterFunc(ctx, dc.abort)
	defer stop()
	s := &session{dc: dc}
	var conn net.Conn = dc
	if d.o.TLS == "tls" {
		tc := tls.Client(dc, d.o.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			dc.Close()
			return nil, &stepError{"TLS handshake", err}
		}
		conn = tc
		s.tls = tlsState(tc.ConnectionState())
	}
	c, err := smtp.NewClient(conn, d.o.Host)
	if err != nil {
		conn.Close()
		return nil, &stepError{"greeting", err}
	}
	s.c = c
	fail := func(step string, err error) (*session, error) {
		c.Close()
		return nil, &stepError{step, err}
	}
	if err := c.Hello(d.o.Hostname); err != nil {
		return fail("EHLO", err)
	}
	if d.o.TLS == "starttls" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fail("STARTTLS", ErrNoSTARTTLS)
		}
		if err := c.StartTLS(d.o.tlsConfig()); err != nil {
			return fail("STARTTLS", err)
		}
		if st, ok := c.TLSConnectionState(); ok {
			s.tls = tlsState(st)
		}
	}
	if d.o.Username != "" {
		ok, mechs := c.Extension("AUTH")
		var a smtp.Auth
		switch {
		case !ok:
			return fail("AUTH", ErrNoAuthMech)
		case hasWord(mechs, "PLAIN"):
			a = plainAuth{d.o.Username, d.o.Password}
		case hasWord(mechs, "LOGIN"):
			a = &loginAuth{user: d.o.Username, pass: d.o.Password}
		default:
			return fail("AUTH", fmt.Errorf("%w (it offers: %s)", ErrNoAuthMech, mechs))
		}
		if err := c.Auth(a); err != nil {
			return fail("AUTH", err)
		}
	}
	return s, nil
}

func hasWord(list, w string) bool {
	for _, x := range strings.Fields(list) {
		if strings.EqualFold(x, w) {
			return true
		}
	}
	return false
}

func tlsState(st tls.ConnectionState) string {
	return tls.VersionName(st.Version) + " " + tls.CipherSuiteName(st.CipherSuite)
}

// transact runs MAIL, RCPT for each recipient, DATA. Recipients refused for good while others
// were accepted are returned (the message goes to the accepted ones); see docs/MAIL.md.
func (s *session) transact(from string, rcpts []string, msg []byte) ([]*ReplyError, error) {
	s.dirty = true
	if ok, v := s.c.Extension("SIZE"); ok {
		if max, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && max > 0 && len(msg) > max {
			return nil, &stepError{"MAIL", fmt.Errorf("%w: %d bytes, the server takes at most %d (SIZE)", ErrTooLarge, len(msg), max)}
		}
	}
	if err := s.c.Mail(from); err != nil {
		return nil, &stepError{"MAIL", err}
	}
	var rejected []*ReplyError
	temporary := false
	for _, r := range rcpts {
		err := s.c.Rcpt(r)
		if err == nil {
			continue
		}
		var tp *textproto.Error
		if !errors.As(err, &tp) {
			return nil, &stepError{"RCPT", err}
		}
		re := replyError("RCPT", tp)
		re.Arg = r
		rejected = append(rejected, re)
		temporary = temporary || tp.Code/100 != 5
	}
	switch {
	case len(rejected) == len(rcpts) && !temporary:
		return nil, &RecipientsError{Rejected: rejected}
	case temporary:
		// Some recipient may be accepted later (greylisting, a full mailbox): send nothing now
		// and retry all, rather than deliver twice to those accepted now.
		for _, re := range rejected {
			if re.Temporary() {
				return nil, re
			}
		}
	}
	// DATA by hand over net/smtp's textproto.Conn (what Client.Data does), to keep the text of
	// the final reply: it carries the relay's queue id, which we log for tracing.
	t := s.c.Text
	id, err := t.Cmd("DATA")
	if err != nil {
		return nil, &stepError{"DATA", err}
	}
	t.StartResponse(id)
	_, _, err = t.ReadResponse(354)
	t.EndResponse(id)
	if err != nil {
		return nil, &stepError{"DATA", err}
	}
	w := t.DotWriter()
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return nil, &stepError{"message", err}
	}
	if err := w.Close(); err != nil {
		return nil, &stepError{"message", err}
	}
	_, reply, err := t.ReadResponse(250)
	if err != nil {
		return nil, &stepError{"message", err}
	}
	s.dirty = false
	s.lastReply = reply
	return rejected, nil
}

// stepError is an error at one step of the session, before classification.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return "SMTP " + e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

func replyError(step string, tp *textproto.Error) *ReplyError {
	re := &ReplyError{Step: step, Code: tp.Code, Text: tp.Msg}
	// RFC 3463 enhanced status: "5.1.1 text", repeated at the start of every line.
	if code, rest, ok := strings.Cut(tp.Msg, " "); ok && enhanced(code) && code[0] == byte('0'+tp.Code/100) {
		re.Enhanced = code
		re.Text = strings.ReplaceAll(rest, "\n"+code+" ", "\n")
	}
	return re
}

func enhanced(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// connSteps are the steps about the sender's connection rather than the message: a 5xx there is
// a sender an operator must fix (SenderDown), not a message that can never go (Perm).
var connSteps = map[string]bool{"greeting": true, "EHLO": true, "STARTTLS": true, "AUTH": true}

// classify is the one place that decides what an SMTP failure means; docs/MAIL.md has the table.
func (d *Driver) classify(ctx context.Context, err error) error {
	step := "SMTP"
	var se *stepError
	if errors.As(err, &se) {
		step = se.step
	}
	if ctx.Err() != nil {
		return provider.Temp("", fmt.Errorf("mail: %s: %w", step, ctx.Err()))
	}
	var tp *textproto.Error
	if errors.As(err, &tp) {
		re := replyError(step, tp)
		code := strconv.Itoa(tp.Code)
		switch {
		case tp.Code == 421:
			return provider.Temp(code, re) // service closing
		case step == "AUTH" && tp.Code/100 == 5, tp.Code == 530 || tp.Code == 534 || tp.Code == 535 || tp.Code == 538:
			re.Step = "AUTH"
			return provider.SenderDown(code, re)
		case tp.Code/100 == 4:
			return provider.Temp(code, re)
		case tp.Code/100 == 5 && connSteps[step]:
			return provider.SenderDown(code, re)
		case tp.Code/100 == 5:
			return provider.Perm(code, re)
		}
		return provider.Temp(code, re) // an unexpected 2xx/3xx: the session is confused
	}
	var rs *RecipientsError
	if errors.As(err, &rs) {
		return provider.Perm(strconv.Itoa(rs.Rejected[0].Code), rs)
	}
	var re *ReplyError
	if errors.As(err, &re) {
		return classifyReply(re)
	}
	switch {
	case errors.Is(err, ErrTooLarge):
		return provider.Perm("552", err)
	case errors.Is(err, ErrNoSTARTTLS), errors.Is(err, ErrNoAuthMech):
		return provider.SenderDown("config", err)
	case isCertError(err):
		return provider.SenderDown("tls-cert", err)
	case isPlaintextPeer(err):
		// tls = "tls" against a port that speaks plain SMTP (a "220 …" greeting where a TLS
		// record should be): a configuration error, not a passing fault.
		return provider.SenderDown("config", fmt.Errorf("%w (is the port right for tls = %q?)", err, d.o.TLS))
	case errors.Is(err, ErrReplyTooLong):
		return provider.Temp("protocol", err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return provider.Temp("timeout", err)
	}
	if step == "TLS handshake" || step == "STARTTLS" {
		return provider.Temp("tls", err)
	}
	return provider.Temp("network", err)
}

func classifyReply(re *ReplyError) error {
	code := strconv.Itoa(re.Code)
	if re.Temporary() {
		return provider.Temp(code, re)
	}
	return provider.Perm(code, re)
}

// isCertError: the server's certificate does not verify. Retrying will not help; the operator
// must fix the host name, the CA, or the server.
func isCertError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

func isPlaintextPeer(err error) bool {
	var rh tls.RecordHeaderError
	return errors.As(err, &rh)
}
