package gateway

import (
	"multimsg/inbox"
	"multimsg/provider"
	"multimsg/provider/sms"
	"multimsg/smscommand"
)

// receive builds the inbox (inbound SMS, status reports) and hands it to every driver that
// takes messages in, before any of them starts to flow (provider.Receiving).
func (g *Gateway) receive() error {
	c := g.receiving()
	o := inbox.Options{
		Settings: inbox.Settings{Wait: c.Inbox.Wait.D(), Keep: c.Inbox.Keep.D(), Devices: c.Inbox.Devices},
		Rules:    c.Inbound, Registry: g.Reg, Log: g.log,
	}
	if sc, ok := g.cfg.Service(sms.ServiceName).(*sms.Config); ok {
		if co, on := sc.Commands.Options(); on {
			cmds, err := smscommand.New(co)
			if err != nil {
				return err
			}
			o.Commands = commander{g, cmds}
			g.cmds = cmds
		}
	}
	var err error
	g.Inbox, err = inbox.New(g.Store, o)
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

// receiving is the [sms] table's keys for what the modems receive (rules, inbox, reports).
func (g *Gateway) receiving() *sms.Receiving {
	if c, ok := g.cfg.Service(sms.ServiceName).(*sms.Config); ok {
		return &c.Receiving
	}
	return &sms.Receiving{} // no sms unit in this build
}
