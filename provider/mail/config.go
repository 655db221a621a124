package mail

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"multimsg/provider"
	"multimsg/setting"
)

// Unit is the mail service's entry in provider/units: the [mail] table and its senders.
var Unit = provider.Unit{Name: "mail", New: provider.Defaults[Config]}

// Config is the [mail] table.
type Config struct {
	provider.Common
	Sender []SenderConfig `toml:"sender" setting:"label=Senders,help=Mail accounts: an SMTP relay or a Maildir; the first is the default."`
}

// SenderConfig is one [[mail.sender]]: an SMTP relay, or a Maildir on the box.
type SenderConfig struct {
	Name        string           `toml:"name" setting:"label=Name,required"`
	Host        string           `toml:"host" setting:"label=SMTP host,help=The relay's host name or address (unless maildir is set)."`
	Port        int              `toml:"port" setting:"label=Port,default=25,min=1,max=65535"`
	TLS         string           `toml:"tls" setting:"label=TLS,default=none,choices=none|starttls|tls"`
	Username    string           `toml:"username" setting:"label=User name,help=Set: AUTH PLAIN or LOGIN; only over TLS unless the host is loopback."`
	Password    string           `toml:"password" setting:"label=Password,secret"`
	From        string           `toml:"from" setting:"label=From,default=gateway@localhost,help=Envelope and header sender."`
	CAFile      string           `toml:"ca_file" setting:"label=CA file,help=PEM CA certificates to trust for tls/starttls (a relay with a private CA)."`
	Maildir     string           `toml:"maildir" setting:"label=Maildir,help=Deliver into this Maildir instead of SMTP; relative to data_dir."`
	Subject     string           `toml:"subject" setting:"label=Default subject,help={device} and {job} are replaced."`
	Helo        string           `toml:"helo" setting:"label=HELO name,help=The name said in EHLO and used in Message-IDs; default the box's host name."`
	Concurrency int              `toml:"concurrency" setting:"label=Concurrency,default=1,min=1,max=64"`
	Rate        float64          `toml:"rate" setting:"label=Rate,min=0,help=Messages a second at most; 0 = unpaced."`
	Timeout     setting.Duration `toml:"timeout" setting:"label=Timeout,default=30s,positive,help=Bounds every SMTP step."`
}

// Validate: a sender names a relay or a Maildir; names are unique.
func (c *Config) Validate() error {
	for i, s := range c.Sender {
		if s.Maildir == "" && s.Host == "" {
			return setting.Errorf(fmt.Sprintf("sender[%d].host", i), "must be set (or maildir)")
		}
	}
	return provider.CheckSenderNames(provider.Names(c.Sender, func(s SenderConfig) string { return s.Name }))
}

// Build makes the mail service: one driver per sender, closed with the gateway.
func (c *Config) Build(env provider.Env) (*provider.Service, error) {
	senders := make([]provider.Sender, 0, len(c.Sender))
	for i, s := range c.Sender {
		o, err := s.options(env.DataDir)
		if err != nil {
			return nil, fmt.Errorf("mail.sender[%d].%w", i, err)
		}
		d, err := New(o, env.Log)
		if err != nil {
			return nil, err
		}
		env.OnClose(d.Close)
		// One send at a time by default: SMTP because the driver keeps one reused connection; a
		// Maildir because each message costs two fsyncs that compete with accepting jobs.
		// Measured under 64 clients of /send (docs/LOAD.md): concurrency 1 accepted 13,619
		// jobs/s with 623 messages/s delivered; 2 accepted 9,586/s with 875/s delivered.
		// Accepting durably is the box's promise; `concurrency` raises delivery where that
		// matters more.
		senders = append(senders, provider.Sender{Name: s.Name, Driver: d, Concurrency: s.Concurrency, Rate: s.Rate})
	}
	return Service(senders, c.Fallback, c.FallbackAfter.D()), nil
}

// options turns a sender's settings into the driver's Options; its error names the key at fault
// after "mail.sender[i].".
func (s SenderConfig) options(dataDir string) (Options, error) {
	var tlsConf *tls.Config
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return Options{}, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return Options{}, fmt.Errorf("ca_file: %s holds no PEM certificate", s.CAFile)
		}
		tlsConf = &tls.Config{RootCAs: pool, ServerName: s.Host}
	}
	return Options{
		Name: s.Name, Host: s.Host, Port: s.Port, TLS: s.TLS, Username: s.Username, Password: s.Password,
		From: s.From, Maildir: s.MaildirIn(dataDir), DefaultSubject: s.Subject, Hostname: s.Helo, Timeout: s.Timeout.D(), TLSConfig: tlsConf,
	}, nil
}

// MaildirIn is the sender's Maildir with a relative path taken under dataDir ("" for SMTP).
func (s SenderConfig) MaildirIn(dataDir string) string {
	if s.Maildir != "" && !filepath.IsAbs(s.Maildir) && dataDir != "" {
		return filepath.Join(dataDir, s.Maildir)
	}
	return s.Maildir
}
