package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"multimsg/provider"
	"multimsg/provider/mail"
	"multimsg/provider/sms"
	"multimsg/provider/whatsapp"
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
		// One send at a time: SMTP because the driver keeps one reused connection; a Maildir
		// because each message costs two fsyncs that compete with accepting jobs. Measured
		// under 64 clients of /send (docs/LOAD.md): concurrency 1 accepted 13,619 jobs/s with
		// 623 messages/s delivered; 2 accepted 9,586/s with 875/s delivered. Accepting durably
		// is the box's promise; `concurrency` raises delivery where that matters more.
		mailSenders = append(mailSenders, provider.Sender{Name: s.Name, Driver: d, Concurrency: or(s.Concurrency, 1), Rate: s.Rate})
	}
	var smsSenders []provider.Sender
	for _, s := range c.SMS.Sender {
		d, err := sms.New(sms.Options{
			Name: s.Name, Device: s.Device, Baud: s.Baud, PIN: s.PIN, Segments: s.Segments, ResetCommand: s.ResetCommand,
			CommandTimeout: s.Timeout.D(), SendTimeout: s.SendTimeout.D(), HealthEvery: s.HealthEvery.D(),
			PowerTimeout: s.PowerTimeout.D(), SendUnregisteredAfter: s.SendUnregisteredAfter.D(),
			StateDir:        filepath.Join(c.DataDir, "sms", s.Name),
			NoStatusReports: s.StatusReports != nil && !*s.StatusReports, PollEvery: s.PollEvery.D(),
		}, g.log.With("service", "sms", "sender", s.Name))
		if err != nil {
			return nil, err
		}
		g.closers = append(g.closers, d.Close)
		// One modem sends one message at a time.
		smsSenders = append(smsSenders, provider.Sender{Name: s.Name, Driver: d, Concurrency: 1})
	}
	smsService := sms.Service(smsSenders)
	smsService.Fallback, smsService.FallbackAfter = c.SMS.Fallback, c.SMS.FallbackAfter.D()
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
	return []*provider.Service{
		mail.Service(mailSenders, c.Mail.Fallback, c.Mail.FallbackAfter.D()),
		whatsapp.Service(wppSenders, c.Wpp1.Fallback, c.Wpp1.FallbackAfter.D()),
		smsService,
	}, nil
}

func or(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}
