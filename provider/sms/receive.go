package sms

import (
	"context"
	"fmt"

	"multimsg/modem"
	"multimsg/provider"
)

// SetReceiver attaches what takes received messages and status reports
// (provider.Receiving). Until it is called they stay on the modem; once it is, the modem's
// store is read at once.
func (d *Driver) SetReceiver(r provider.Receiver) {
	d.recv.Store(&r)
	d.modem.PollNow()
}

// inbox adapts the driver's Receiver to the modem's Inbox: decoded parts and reports become
// the provider's types, with the service and sender named.
type inbox struct{ d *Driver }

func (in inbox) receiver() (provider.Receiver, error) {
	r := in.d.recv.Load()
	if r == nil || *r == nil {
		return nil, modem.ErrNoInbox
	}
	return *r, nil
}

func (in inbox) Deliver(ctx context.Context, m *modem.Deliver) error {
	r, err := in.receiver()
	if err != nil {
		return err
	}
	msg := provider.Inbound{Service: "sms", Sender: in.d.o.Name, From: m.From, Sent: m.Sent,
		Text: m.Text, Data: m.Data, PDU: m.PDU}
	if c := m.Concat; c != nil {
		msg.Concat = &provider.Concat{Ref: c.Ref, RefBits: c.RefBits, Parts: c.Parts, Seq: c.Seq}
	}
	if err := r.Inbound(ctx, msg); err != nil {
		return fmt.Errorf("sms: receiver: %w", err)
	}
	return nil
}

func (in inbox) Report(ctx context.Context, m *modem.Report) error {
	r, err := in.receiver()
	if err != nil {
		return err
	}
	rep := provider.StatusReport{Service: "sms", Sender: in.d.o.Name, Ref: m.Ref, Recipient: m.Recipient,
		Status: m.Status, SCTime: m.SCTime, Discharged: m.Discharged}
	if err := r.StatusReport(ctx, rep); err != nil {
		return fmt.Errorf("sms: receiver: %w", err)
	}
	return nil
}
