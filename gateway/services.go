package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"multimsg/provider"
	"multimsg/provider/mail"
)

// services builds every service from the config; a service with no sender is registered
// anyway, so /msg can say it is not available on this box.
func (g *Gateway) services() ([]*provider.Service, error) {
	c := g.cfg
	var mailSenders []provider.Sender
	for i, s := range c.Mail.Sender {
		var tlsConf *tls.Config
		if s.CAFile != "" {
			pem, err := os.ReadFile(s.CAFile)
			if err != nil {
				return nil, fmt.Errorf("mail.sender[%d].ca_file: %w", i, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("mail.sender[%d].ca_file: %s holds no PEM certificate", i, s.CAFile)
			}
			tlsConf = &tls.Config{RootCAs: pool, ServerName: s.Host}
		}
		d, err := mail.New(mail.Options{
			Name: s.Name, Host: s.Host, Port: s.Port, TLS: s.TLS, Username: s.Username, Password: s.Password,
			From: s.From, Maildir: s.Maildir, DefaultSubject: s.Subject, Timeout: s.Timeout.D(), TLSConfig: tlsConf,
		}, g.log)
		if err != nil {
			return nil, err
		}
		g.closers = append(g.closers, d.Close)
		mailSenders = append(mailSenders, provider.Sender{Name: s.Name, Driver: d, Concurrency: or(s.Concurrency, 4), Rate: s.Rate})
	}
	return []*provider.Service{
		mail.Service(mailSenders, c.Mail.Fallback, c.Mail.FallbackAfter.D()),
		{Name: "wpp1", Types: []string{"text", "image", "audio", "video", "document"}, PerFile: true},
		{Name: "sms", Types: []string{"text"}, PerFile: true},
	}, nil
}

func or(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

var _ = strings.TrimSpace
