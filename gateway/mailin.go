package gateway

import (
	"fmt"
	"net"

	"multimsg/identity"
	"multimsg/mailin"
)

// mailIn builds the SMTP listener from [smtp_in] (issue 15) and starts listening. It shares
// the HTTP API's store, registry and device identity, so a device owns the same jobs by
// either door.
func (g *Gateway) mailIn(id *identity.Identity) error {
	c := g.cfg.SMTPIn
	aliases := map[string][]mailin.Target{}
	for name, ts := range c.Aliases {
		for _, t := range ts {
			x, err := mailin.ParseTarget(t)
			if err != nil {
				return fmt.Errorf("smtp_in.aliases.%q: %w", name, err)
			}
			aliases[name] = append(aliases[name], x)
		}
	}
	text := map[string]mailin.TextRule{}
	for svc, t := range c.Text {
		text[svc] = mailin.TextRule{Content: t.Content, MaxChars: t.MaxChars}
	}
	// The services' own bounds when the config sets none (an SMS text that fits its modems'
	// segments even in UCS-2, WhatsApp's 4096): each service says its own.
	for _, n := range g.Reg.Names() {
		svc, _ := g.Reg.Service(n)
		if r, ok := text[n]; svc.MaxText > 0 && (!ok || r.MaxChars == 0) {
			r.MaxChars = svc.MaxText
			text[n] = r
		}
	}
	users := map[string]mailin.User{}
	if c.Auth != "off" {
		for _, u := range c.Users {
			users[u.Name] = mailin.User{PasswordHash: u.PasswordHash, MAC: u.MAC}
		}
	}
	o := mailin.Options{
		Store: g.Store, Registry: g.Reg, Identity: id,
		Hostname: c.Hostname, MaxSize: int64(c.MaxSize), MaxRecipients: c.MaxRecipients,
		Aliases: aliases, Relay: c.Relay, Text: text, Rate: c.Rate, Burst: c.Burst, MaxConns: c.MaxConns,
		Users: users, AuthRequired: c.Auth == "required",
		Accepted: func(service, sender string) { g.Web.CountAccepted("smtp", service, sender) },
		Log:      g.log,
	}
	if c.StartTLS {
		tc, err := mailin.LoadOrCreateCert(g.cfg.DataDir, c.Hostname)
		if err != nil {
			return err
		}
		o.TLS = tc
	}
	srv, err := mailin.New(o)
	if err != nil {
		return fmt.Errorf("smtp_in: %w", err)
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("smtp_in.listen %s: %w", c.Listen, err)
	}
	g.Mail, g.mailLn = srv, ln
	g.closers = append(g.closers, func() error { ln.Close(); return nil })
	return nil
}
