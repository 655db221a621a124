package mail

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/mail"
	"os"
	"strings"
	"time"
)

// Options configure one mail sender (one [[mail.sender]] table).
type Options struct {
	Name     string // the sender's name, for logs and health
	Host     string // SMTP relay host name or address
	Port     int    // 0: 25 (none), 587 (starttls), 465 (tls)
	TLS      string // "none" (default), "starttls", or "tls" (implicit TLS)
	Username string // non-empty: AUTH PLAIN (or LOGIN) with Password
	Password string
	From     string // envelope and header sender, e.g. "Gateway <gw@example.com>"

	// Maildir, when non-empty, delivers into that Maildir (tmp/, new/, cur/ are created)
	// instead of over SMTP.
	Maildir string

	// DefaultSubject is the subject when info.subject is absent. "{device}" is replaced by the
	// device that sent the job and "{job}" by its id. Default "multimsg: message from {device}".
	DefaultSubject string

	// Timeout bounds every SMTP step (dial, each read, each write). Default 30 s.
	Timeout time.Duration
	// IdleTimeout is how long a connection stays open for reuse after a message. Default 30 s;
	// negative: never reuse (one connection per message).
	IdleTimeout time.Duration

	// TLSConfig for starttls and tls; nil: system roots with ServerName = Host. A config without
	// ServerName gets Host.
	TLSConfig *tls.Config
	// Hostname is the name given in EHLO and, when From has no domain, in Message-ID.
	// Default: os.Hostname(), else "localhost".
	Hostname string

	// MaxSize bounds the files of one job together (raw bytes, before encoding). Default 25 MiB.
	MaxSize int64
	// MaxRecipients bounds To + Cc. Default 100.
	MaxRecipients int
}

const (
	defaultTimeout        = 30 * time.Second
	defaultIdleTimeout    = 30 * time.Second
	defaultSubject        = "multimsg: message from {device}"
	defaultMaxSize        = 25 << 20
	defaultMaxRecipients  = 100
	maxSubjectLen         = 998
	maxAddressLen         = 254
	maxFormattedAddrBytes = 900
)

// withDefaults fills the zero fields and validates the rest.
func (o Options) withDefaults() (Options, *mail.Address, error) {
	bad := func(format string, args ...any) (Options, *mail.Address, error) {
		return o, nil, fmt.Errorf("%w: sender %q: %s", ErrOptions, o.Name, fmt.Sprintf(format, args...))
	}
	if o.TLS == "" {
		o.TLS = "none"
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = defaultIdleTimeout
	}
	if o.DefaultSubject == "" {
		o.DefaultSubject = defaultSubject
	}
	if strings.ContainsAny(o.DefaultSubject, "\r\n") {
		return bad("default subject contains a line break")
	}
	if o.MaxSize <= 0 {
		o.MaxSize = defaultMaxSize
	}
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = defaultMaxRecipients
	}
	if o.Hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		o.Hostname = h
	}
	if strings.ContainsAny(o.Hostname, "\r\n \t") {
		return bad("hostname %q is not a host name", o.Hostname)
	}
	if o.From == "" {
		return bad("from is required")
	}
	from, err := mail.ParseAddress(o.From)
	if err != nil {
		return bad("from %q is not an address: %v", o.From, err)
	}
	if !isASCII(from.Address) {
		return bad("from %q: internationalized addresses are not supported", o.From)
	}
	if o.Maildir != "" {
		return o, from, nil
	}
	switch o.TLS {
	case "none", "starttls", "tls":
	default:
		return bad("tls = %q; want none, starttls or tls", o.TLS)
	}
	if o.Host == "" {
		return bad("host is required (or set maildir)")
	}
	if o.Port == 0 {
		o.Port = map[string]int{"none": 25, "starttls": 587, "tls": 465}[o.TLS]
	}
	if o.Port < 0 || o.Port > 65535 {
		return bad("port %d out of range", o.Port)
	}
	if o.Username != "" && o.TLS == "none" && !isLoopback(o.Host) {
		return o, nil, fmt.Errorf("sender %q: host %s: %w", o.Name, o.Host, ErrInsecureAuth)
	}
	return o, from, nil
}

// isLoopback reports whether host is this machine: "localhost" or a loopback address. Only
// there may credentials travel without TLS, as nobody else can read them.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func (o *Options) tlsConfig() *tls.Config {
	var c *tls.Config
	if o.TLSConfig != nil {
		c = o.TLSConfig.Clone()
	} else {
		c = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if c.ServerName == "" {
		c.ServerName = strings.Trim(o.Host, "[]")
	}
	return c
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
