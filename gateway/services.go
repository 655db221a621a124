package gateway

import (
	"strings"

	"multimsg/provider"
	"multimsg/provider/mail"
)

// services builds every service from the config; a service with no sender is registered
// anyway, so /msg can say it is not available on this box.
func (g *Gateway) services() ([]*provider.Service, error) {
	c := g.cfg
	var mailSenders []provider.Sender
	for _, s := range c.Mail.Sender {
		d, err := mail.New(mail.Options{
			Name: s.Name, Host: s.Host, Port: s.Port, TLS: s.TLS, Username: s.Username, Password: s.Password,
			From: s.From, Maildir: s.Maildir, DefaultSubject: s.Subject, Timeout: s.Timeout.D(),
		}, g.log)
		if err != nil {
			return nil, err
		}
		g.closers = append(g.closers, d.Close)
		mailSenders = append(mailSenders, provider.Sender{Name: s.Name, Driver: d, Concurrency: or(s.Concurrency, 4), Rate: s.Rate})
	}
	return []*provider.Service{
		mail.Service(mailSenders, c.Mail.Fallback, c.Mail.FallbackAfter.D()),
	}, nil
}

func or(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

var _ = strings.TrimSpace
