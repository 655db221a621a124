package gateway

import (
	"strings"

	"multimsg/provider"
	"multimsg/provider/mail"
	"multimsg/provider/whatsapp"
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
	var wppSenders []provider.Sender
	for _, s := range c.Wpp1.Sender {
		d, err := whatsapp.New(whatsapp.Options{
			Name: s.Name, APIURL: s.APIURL, PhoneNumberID: s.PhoneNumberID, Token: s.Token,
			PerRecipientGap: s.PerRecipientGap.D(), Timeout: s.Timeout.D(), Rate: s.Rate, Concurrency: s.Concurrency,
		}, g.log)
		if err != nil {
			return nil, err
		}
		wppSenders = append(wppSenders, d.Sender())
	}
	services := []*provider.Service{
		mail.Service(mailSenders, c.Mail.Fallback, c.Mail.FallbackAfter.D()),
		whatsapp.Service(wppSenders, c.Wpp1.Fallback, c.Wpp1.FallbackAfter.D()),
	}
	// A fallback to a service this build does not have yet (sms before its driver is wired)
	// is dropped with a warning rather than refusing to start.
	built := map[string]bool{}
	for _, s := range services {
		built[s.Name] = true
	}
	for _, s := range services {
		var keep []string
		for _, f := range s.Fallback {
			if built[f] {
				keep = append(keep, f)
			} else {
				g.log.Warn("fallback service not available in this build; ignored", "service", s.Name, "fallback", f)
			}
		}
		s.Fallback = keep
	}
	return services, nil
}

func or(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

var _ = strings.TrimSpace
