package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"multimsg/provider"
	"multimsg/provider/sms"
	"multimsg/smscommand"
	"multimsg/store"

	"github.com/VictoriaMetrics/metrics"
)

// commandBox is what SMS commands act on (smscommand.Box): the gateway's dispatcher, its
// credit watch and its updater's reboot.
type commandBox struct{ g *Gateway }

var _ smscommand.Box = commandBox{}

// Status fits one SMS: "queue 12; ok: mail/outbox sms/modem1; DOWN: wpp1/main; credit 4.5 (low)".
func (b commandBox) Status(context.Context) string {
	g := b.g
	var ok, down, paused []string
	for _, s := range g.Disp.Senders() {
		name := s.Service + "/" + s.Name
		switch {
		case s.Paused:
			paused = append(paused, name)
		case s.Healthy:
			ok = append(ok, name)
		default:
			down = append(down, name)
		}
	}
	parts := []string{"queue " + strconv.Itoa(g.Disp.QueueDepth())}
	for _, x := range []struct {
		label string
		names []string
	}{{"ok", ok}, {"DOWN", down}, {"paused", paused}} {
		if len(x.names) > 0 {
			parts = append(parts, x.label+": "+strings.Join(x.names, " "))
		}
	}
	if g.SIM != nil {
		c := g.SIM.Status()
		switch {
		case c.Amount != nil:
			credit := "credit " + strconv.FormatFloat(*c.Amount, 'f', -1, 64)
			if c.Below {
				credit += " (low)"
			}
			parts = append(parts, credit)
		case c.Error != "":
			parts = append(parts, "credit unknown")
		}
	}
	return strings.Join(parts, "; ")
}

// Pause and Resume take "service/sender", or a sender name that only one service has.
func (b commandBox) Pause(_ context.Context, sender string) error  { return b.pause(sender, true) }
func (b commandBox) Resume(_ context.Context, sender string) error { return b.pause(sender, false) }

func (b commandBox) pause(name string, pause bool) error {
	svc, snd, ok := strings.Cut(name, "/")
	if !ok {
		var found []string
		for _, s := range b.g.Disp.Senders() {
			if s.Name == name {
				found = append(found, s.Service)
			}
		}
		if len(found) != 1 {
			return fmt.Errorf("no single sender %q: name it service/sender", name)
		}
		svc, snd = found[0], name
	}
	if !b.g.Disp.Pause(svc, snd, pause) {
		return fmt.Errorf("no sender %s/%s", svc, snd)
	}
	b.g.log.Warn("sms command: sender paused or resumed", "service", svc, "sender", snd, "paused", pause)
	return nil
}

func (b commandBox) Retry(context.Context) (int, error) { return b.g.Disp.RetryNow(), nil }

func (b commandBox) Balance(ctx context.Context) (string, error) {
	if b.g.SIM == nil {
		return "", errors.New("the credit is not watched ([sim] balance_ussd)")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	st, err := b.g.SIM.Check(ctx)
	if st.Error != "" {
		return "", errors.New(st.Error)
	}
	if err != nil {
		return "", err
	}
	return st.Answer, nil
}

func (b commandBox) Reboot(ctx context.Context) error {
	// As from the page: only a box with RAUC reboots (a laptop running `make run` must not).
	if err := b.g.Update.Check(ctx, 0); err != nil {
		return err
	}
	// after the reply SMS has had its chance to go out
	return b.g.Update.Reboot(30 * time.Second)
}

// commandMetrics counts the SMS commands answered and refused since start, so an alert can
// fire on someone guessing at the key (docs/SIM.md). Nothing when commands are off.
func (g *Gateway) commandMetrics(w io.Writer) {
	if g.cmds == nil {
		return
	}
	c := g.cmds.Counts()
	metrics.WriteCounterUint64(w, `multimsg_sms_commands_total{outcome="done"}`, c.Done)
	metrics.WriteCounterUint64(w, `multimsg_sms_commands_total{outcome="refused"}`, c.Refused)
}

// commander runs SMS commands for the inbox (inbox.Commander, docs/SIM.md).
type commander struct {
	g *Gateway
	c *smscommand.Commands
}

// Command answers a command from an allowed number with the key by one SMS, through the modem
// that received it; a refused attempt is audited and answered with nothing.
func (x commander) Command(ctx context.Context, m *store.InMessage) (bool, *store.NewJob, string) {
	r := x.c.Handle(ctx, commandBox{x.g}, m.From, m.Text())
	switch r.Outcome {
	case smscommand.NotCommand:
		return false, nil, ""
	case smscommand.Refused:
		x.g.log.Warn("audit: sms command refused", "from", mask(m.From), "reason", r.Reason, "text", r.Audit, "modem", m.Sender)
		return true, nil, "command refused: " + r.Reason
	}
	x.g.log.Info("audit: sms command", "from", mask(m.From), "command", r.Command, "text", r.Audit, "modem", m.Sender)
	job, err := x.g.reply(m, r.Reply)
	if err != nil {
		x.g.log.Error("sms command: the answer cannot be sent", "err", err)
		return true, nil, "command " + r.Command + " (no answer: " + err.Error() + ")"
	}
	return true, job, "command " + r.Command
}

// reply is the answer SMS to m's sender, through the modem that received m.
func (g *Gateway) reply(m *store.InMessage, text string) (*store.NewJob, error) {
	dest := strings.TrimPrefix(m.From, "+")
	f := provider.File{Name: "reply", Type: "text", Data: []byte(text)}
	typed, svc, _, err := g.Reg.Resolve(provider.Params{Service: sms.ServiceName, Sender: m.Sender, Dest: dest,
		Types: map[string]string{f.Name: f.Type}}, []provider.File{f})
	if err != nil {
		return nil, err
	}
	t := typed[0]
	return &store.NewJob{Device: "sms:" + m.Sender, Via: "sms",
		Files:  []store.NewFile{{Name: t.Name, Data: t.Data}},
		Params: &store.Params{Service: svc.Name, Sender: m.Sender, Dest: dest, Types: []string{t.Type}}}, nil
}

// mask keeps a number's country code and last digits for the log (+34•••••222).
func mask(n string) string {
	if len(n) <= 6 {
		return "•••"
	}
	return n[:3] + strings.Repeat("•", len(n)-6) + n[len(n)-3:]
}
