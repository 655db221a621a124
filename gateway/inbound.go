package gateway

import (
	"multimsg/inbox"
	"multimsg/provider"
)

// receive builds the inbox (inbound SMS, status reports) and hands it to every driver that
// takes messages in, before any of them starts to flow (provider.Receiving).
func (g *Gateway) receive() error {
	c := g.cfg
	var err error
	g.Inbox, err = inbox.New(g.Store, inbox.Options{
		Settings: inbox.Settings{Wait: c.SMS.Inbox.Wait.D(), Keep: c.SMS.Inbox.Keep.D(), Devices: c.SMS.Inbox.Devices},
		Rules:    c.SMS.Inbound, Registry: g.Reg, Log: g.log,
	})
	if err != nil {
		return err
	}
	for _, name := range g.Reg.Names() {
		svc, _ := g.Reg.Service(name)
		for _, s := range svc.Senders {
			if r, ok := s.Driver.(provider.Receiving); ok {
				r.SetReceiver(g.Inbox)
			}
		}
	}
	return nil
}
