package mail

import (
	"errors"
	"net"
	"net/smtp"
	"strings"
	"sync"
	"time"
)

// maxReply bounds what the server may send between two of our writes. A reply is a few
// hundred bytes (EHLO) to a few kilobytes (a TLS certificate chain); net/textproto has no line
// limit, so without this a broken server could make us buffer without end.
const maxReply = 256 << 10

// deadlineConn puts every read and write under its own deadline (Options.Timeout), since
// net/smtp sets none, and lets the context that owns the current Send cut it at once.
// It sits under TLS, so the same bounds hold for the TLS handshake and for STARTTLS.
type deadlineConn struct {
	net.Conn
	timeout time.Duration

	mu      sync.Mutex // guards aborted against the deadline updates below
	aborted bool
	unread  int // bytes read since our last write; only the reading goroutine touches it
}

func newDeadlineConn(c net.Conn, timeout time.Duration) *deadlineConn {
	return &deadlineConn{Conn: c, timeout: timeout}
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.aborted {
		c.mu.Unlock()
		return 0, ErrAborted
	}
	c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	c.mu.Unlock()
	if c.unread >= maxReply {
		return 0, ErrReplyTooLong
	}
	if len(p) > maxReply-c.unread {
		p = p[:maxReply-c.unread]
	}
	n, err := c.Conn.Read(p)
	c.unread += n
	if err != nil && c.isAborted() {
		err = ErrAborted
	}
	return n, err
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.aborted {
		c.mu.Unlock()
		return 0, ErrAborted
	}
	c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	c.mu.Unlock()
	c.unread = 0
	n, err := c.Conn.Write(p)
	if err != nil && c.isAborted() {
		err = ErrAborted
	}
	return n, err
}

// abort makes every pending and later read or write fail at once.
func (c *deadlineConn) abort() {
	c.mu.Lock()
	c.aborted = true
	c.Conn.SetDeadline(time.Unix(1, 0))
	c.mu.Unlock()
}

func (c *deadlineConn) isAborted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.aborted
}

// SetDeadline and friends are ours alone: crypto/tls would otherwise clear them.
func (c *deadlineConn) SetDeadline(time.Time) error      { return nil }
func (c *deadlineConn) SetReadDeadline(time.Time) error  { return nil }
func (c *deadlineConn) SetWriteDeadline(time.Time) error { return nil }

// plainAuth is AUTH PLAIN (RFC 4616). Whether the connection may carry it was decided in New
// (Options.withDefaults), in one place, so net/smtp's own PlainAuth check (which knows only
// "localhost" and two addresses) is not used.
type plainAuth struct{ user, pass string }

func (a plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("mail: unexpected AUTH PLAIN challenge")
	}
	return nil, nil
}

// loginAuth is the obsolete but common AUTH LOGIN: the server asks for the user name, then the
// password. Servers word the prompts differently ("Username:", "User Name"), so the answer is
// picked by the prompt when it says, else by its position.
type loginAuth struct {
	user, pass string
	step       int
}

func (a *loginAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	a.step = 0
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(challenge []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	p := strings.ToLower(string(challenge))
	switch {
	case strings.Contains(p, "user"):
		return []byte(a.user), nil
	case strings.Contains(p, "pass"):
		return []byte(a.pass), nil
	case a.step == 1:
		return []byte(a.user), nil
	case a.step == 2:
		return []byte(a.pass), nil
	}
	return nil, errors.New("mail: unexpected AUTH LOGIN challenge")
}
