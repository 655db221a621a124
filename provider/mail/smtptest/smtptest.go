// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) on 127.0.0.1 for
// tests: STARTTLS or implicit TLS with a self-signed certificate, AUTH PLAIN and LOGIN, a backend
// that records every message, and knobs to refuse (4xx/5xx/535) or stall at a step, or to go
// down and come back. It is a peer for tests of the mail driver and of the whole gateway.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Server is a real SMTP server (emersion/go-smtp) on 127.0.0.1 whose backend records what
// it receives and can be told to refuse or stall at a step.
type Server struct {
	t        testing.TB
	srv      *smtp.Server
	ln       net.Listener
	addr     *net.TCPAddr
	certPool *x509.CertPool
	certDER  []byte
	conns    atomic.Int32

	mu       sync.Mutex
	msgs     []Message
	users    map[string]string // username → password; nil: AUTH not offered
	failAt   map[string]error  // "MAIL", "RCPT", "DATA", "RCPT:<addr>" → the reply to give
	stallAt  string            // step at which to block until released
	stall    chan struct{}     // closed at cleanup
	stalled  chan string       // receives the step when a stall begins
	received chan struct{}     // one value per accepted message
	mechs    []string
	closed   atomic.Int32
	wire     syncBuffer // the server's Debug transcript: every command and reply
}

type Message struct {
	From string
	To   []string
	Data []byte
	User string
	TLS  bool
	Helo string
}

type Options struct {
	ImplicitTLS bool
	StartTLS    bool
	Users       map[string]string // username → password; nil: AUTH not offered
	Mechs       []string          // AUTH mechanisms offered; default PLAIN and LOGIN
	ReadTimeout time.Duration     // how long the server waits for a command; default 10 s
	MaxBytes    int64             // SIZE; default 64 MiB
}

// countingListener counts accepted connections: N messages over one reused connection → 1.
type countingListener struct {
	net.Listener
	n      *atomic.Int32
	closed *atomic.Int32
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.n.Add(1)
	return &countingConn{Conn: c, closed: l.closed}, nil
}

// countingConn counts server-side closes (a server idle timeout dropping our pooled connection).
type countingConn struct {
	net.Conn
	once   sync.Once
	closed *atomic.Int32
}

func (c *countingConn) Close() error {
	c.once.Do(func() { c.closed.Add(1) })
	return c.Conn.Close()
}

func New(t testing.TB, o Options) *Server {
	t.Helper()
	cert, pool := SelfSigned(t)
	s := &Server{
		certDER:  cert.Certificate[0],
		t:        t,
		certPool: pool,
		users:    o.Users,
		mechs:    o.Mechs,
		failAt:   map[string]error{},
		stall:    make(chan struct{}),
		stalled:  make(chan string, 16),
		received: make(chan struct{}, 64),
	}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &session2{s: s, tls: isTLS, helo: c.Hostname()}, nil
	}))
	s.srv.Domain = "mx.test"
	s.srv.Debug = &s.wire
	s.srv.ErrorLog = log.New(io.Discard, "", 0) // client hang-ups are expected in these tests
	s.srv.AllowInsecureAuth = true              // loopback only; our own policy is what is under test
	s.srv.MaxMessageBytes = 64 << 20
	if o.MaxBytes > 0 {
		s.srv.MaxMessageBytes = o.MaxBytes
	}
	s.srv.ReadTimeout = 10 * time.Second
	if o.ReadTimeout > 0 {
		s.srv.ReadTimeout = o.ReadTimeout
	}
	s.srv.WriteTimeout = 10 * time.Second
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}}
	if o.StartTLS {
		s.srv.TLSConfig = tlsConf
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().(*net.TCPAddr)
	s.start(ln, o.ImplicitTLS, tlsConf)
	t.Cleanup(func() {
		close(s.stall)
		s.srv.Close()
	})
	return s
}

func (s *Server) start(ln net.Listener, ImplicitTLS bool, tlsConf *tls.Config) {
	var l net.Listener = countingListener{ln, &s.conns, &s.closed}
	if ImplicitTLS {
		l = tls.NewListener(l, tlsConf)
	}
	s.ln = ln
	go s.srv.Serve(l)
}

// down closes the listener (connections are refused); up listens again on the same port.
func (s *Server) Down() {
	s.ln.Close()
}

func (s *Server) Up(t testing.TB) {
	ln, err := net.Listen("tcp", s.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	s.start(ln, false, nil)
}

func (s *Server) SetFail(step string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.failAt, step)
	} else {
		s.failAt[step] = err
	}
}

func (s *Server) SetStall(step string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stallAt = step
}

func (s *Server) fail(step string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failAt[step]
}

func (s *Server) maybeStall(step string) {
	s.mu.Lock()
	st := s.stallAt
	s.mu.Unlock()
	if st == step {
		s.stalled <- step
		<-s.stall
	}
}

func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// wait returns the n-th message (1-based) once it has arrived.
func (s *Server) Wait(t testing.TB, n int) Message {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		if m := s.Messages(); len(m) >= n {
			return m[n-1]
		}
		select {
		case <-s.received:
		case <-timeout:
			t.Fatalf("message %d did not arrive", n)
		}
	}
}

type session2 struct {
	s    *Server
	helo string
	tls  bool
	user string
	from string
	to   []string
}

func (x *session2) AuthMechanisms() []string {
	if x.s.users == nil {
		return nil
	}
	if x.s.mechs != nil {
		return x.s.mechs
	}
	return []string{sasl.Plain, sasl.Login}
}

func (x *session2) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if err := x.s.fail("AUTH"); err != nil {
			return err
		}
		if want, ok := x.s.users[user]; !ok || want != pass {
			return smtp.ErrAuthFailed
		}
		x.user = user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return errors.New("identity mismatch")
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// loginServer is AUTH LOGIN as Postfix speaks it: "Username:", then "Password:".
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch {
	case l.step == 1 && resp == nil:
		return []byte("Username:"), false, nil
	case l.step == 1:
		l.user = string(resp)
		l.step++
		return []byte("Password:"), false, nil
	case l.step == 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	case l.step == 3:
		return nil, true, l.check(l.user, string(resp))
	}
	return nil, false, errors.New("unexpected LOGIN step")
}

func (x *session2) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.users != nil && x.user == "" {
		return smtp.ErrAuthRequired
	}
	x.s.maybeStall("MAIL")
	if err := x.s.fail("MAIL"); err != nil {
		return err
	}
	x.from = from
	return nil
}

func (x *session2) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.maybeStall("RCPT")
	if err := x.s.fail("RCPT:" + to); err != nil {
		return err
	}
	if err := x.s.fail("RCPT"); err != nil {
		return err
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session2) Data(r io.Reader) error {
	x.s.maybeStall("DATA")
	if err := x.s.fail("DATA"); err != nil {
		return err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, Message{From: x.from, To: append([]string(nil), x.to...), Data: b, User: x.user, TLS: x.tls, Helo: x.helo})
	x.s.mu.Unlock()
	x.s.received <- struct{}{}
	return nil
}

func (x *session2) Reset() {
	x.from = ""
	x.to = nil
}

func (x *session2) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool that trusts it.
func SelfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "multimsg test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func Reply(code int, enh smtp.EnhancedCode, msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

// syncBuffer is a bytes.Buffer safe for the server's connection goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

// count is how many client commands start with cmd (the transcript marks them "C: "?, so we
// count lines that begin with the command itself).
func (s *syncBuffer) count(cmd string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, line := range strings.Split(string(s.b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), cmd) {
			n++
		}
	}
	return n
}

// Addr is the server's address.
func (s *Server) Addr() *net.TCPAddr { return s.addr }

// Host and Port split Addr for a sender's config.
func (s *Server) Host() string { return s.addr.IP.String() }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.addr.Port }

// CertPool trusts the server's certificate.
func (s *Server) CertPool() *x509.CertPool { return s.certPool }

// Conns is how many connections were accepted.
func (s *Server) Conns() int { return int(s.conns.Load()) }

// Closed is how many accepted connections were closed.
func (s *Server) Closed() int { return int(s.closed.Load()) }

// Stalled receives the step each time a stall begins.
func (s *Server) Stalled() <-chan string { return s.stalled }

// Count is how many client commands in the transcript start with cmd.
func (s *Server) Count(cmd string) int { return s.wire.count(cmd) }

// Received gets one value per accepted message.
func (s *Server) Received() <-chan struct{} { return s.received }

// CertPEM is the server's self-signed certificate, PEM-encoded (a ca_file for configs).
func (s *Server) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.certDER})
}
