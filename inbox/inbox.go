// Package inbox is the box side of two-way SMS (SPEC §8, issue 13): it implements
// provider.Receiver on the store. Every part a modem hands in is committed before Inbound
// returns (only then may the modem delete it); a part seen before — a crash between the
// commit and the modem's delete — is recognised and neither stored nor forwarded twice;
// the parts of a concatenated message are gathered, in any order, into one message, which
// is kept as incomplete when its missing parts do not come within a wait. A message whose
// parts are all in is matched against the forwarding rules ([[sms.inbound]]) and forwarded
// by a job of its own, owned by the pseudo-device "sms:<modem>": the dispatcher retries it
// like any other job, and the admin page shows it. Status reports are matched to the sent
// part they report on (store.ReportPart).
package inbox

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"multimsg/provider"
	"multimsg/store"
)

// Bounds on one part as a driver hands it in: an SMS-DELIVER carries at most 140 octets of user
// data — 160 GSM characters (up to 3 UTF-8 bytes each), 70 UCS-2 ones — in a PDU of at most
// 176 octets (with the SMSC address, 188).
const (
	MaxPartText = 160 * 3
	MaxPartData = 140
	MaxPDU      = 200
	maxAddress  = 64 // TP-OA: 20 digits, or 11 alphanumeric characters
)

// Settings are the [sms.inbox] table.
type Settings struct {
	// Wait: how long the parts of a concatenated message are waited for; then the message is
	// kept and forwarded as it is, marked incomplete. Default 10m.
	Wait time.Duration `toml:"wait"`
	// Keep: how long a forwarded message stays in the inbox. Default 7 days. The store's
	// caps (store.inbox_max, store.inbox_bytes) purge the oldest forwarded ones sooner.
	Keep time.Duration `toml:"keep"`
	// Devices that may read GET /inbox: MACs, "local" for the box itself, "*" for every device.
	Devices []string `toml:"devices"`
}

// Defaults fills what s leaves unset.
func (s *Settings) Defaults() {
	if s.Wait <= 0 {
		s.Wait = 10 * time.Minute
	}
	if s.Keep <= 0 {
		s.Keep = 7 * 24 * time.Hour
	}
}

// Options configure an Inbox.
type Options struct {
	Settings
	Rules    []Rule
	Registry *provider.Registry // the services forwarding goes through
	// Commands, if set, sees every message before the rules: a command to the box (SMS
	// commands, docs/SIM.md) is answered and recorded instead of forwarded.
	Commands Commander
	Log      *slog.Logger
	// Every: how often the waits and the retention are looked at (Run). Default 1m.
	Every time.Duration
	Now   func() time.Time // default time.Now (the store's own clock decides the waits)
}

// Commander decides whether a message is a command to the box. When handled, the message is
// recorded with reply (nil: none — a refused command gets no answer) and note instead of
// going to the rules, in one write, so a restart never runs or answers it twice.
type Commander interface {
	Command(ctx context.Context, m *store.InMessage) (handled bool, reply *store.NewJob, note string)
}

// Inbox stores, reassembles and forwards inbound messages. Create it with New.
type Inbox struct {
	st    *store.Store
	reg   *provider.Registry
	rules []rule
	o     Options
	log   *slog.Logger
}

// New compiles the rules and checks each forwarding target against the registry: a rule that
// names a service with no sender, or a destination the service refuses, stops the start.
func New(st *store.Store, o Options) (*Inbox, error) {
	o.Defaults()
	if o.Every <= 0 {
		o.Every = time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	rules, err := compile(o.Rules)
	if err != nil {
		return nil, err
	}
	ib := &Inbox{st: st, reg: o.Registry, rules: rules, o: o, log: o.Log}
	for i := range rules {
		if rules[i].Forward == "none" {
			continue
		}
		probe := &store.InMessage{From: "+10000000000", Parts: 1, Got: []store.InPart{{Seq: 1, Text: "probe"}}}
		if _, _, err := ib.plan(&rules[i], probe); err != nil {
			return nil, fmt.Errorf("sms.inbound[%d] (%s): %w", i, rules[i].Name, err)
		}
	}
	return ib, nil
}

// Inbound stores one received part (provider.Receiver). A nil error means it is committed.
func (ib *Inbox) Inbound(ctx context.Context, m provider.Inbound) error {
	if len(m.Text) > MaxPartText || len(m.Data) > MaxPartData || len(m.PDU) > MaxPDU || len(m.From) > maxAddress {
		return fmt.Errorf("inbox: a part from %.20q is larger than an SMS part can be (text %d bytes, data %d, PDU %d)", m.From, len(m.Text), len(m.Data), len(m.PDU))
	}
	p := store.NewInPart{Service: m.Service, Sender: m.Sender, From: m.From, Sent: m.Sent, Text: m.Text, Data: m.Data,
		Wait: ib.o.Wait}
	content := sha256.New()
	content.Write([]byte(m.Text))
	content.Write([]byte{0})
	content.Write(m.Data)
	sum := hex.EncodeToString(content.Sum(nil)[:12])
	id := m.Sender + "|" + m.From + "|" + strconv.FormatInt(m.Sent.Unix(), 10)
	if c := m.Concat; c != nil && c.Parts > 1 {
		if c.Seq < 1 || c.Seq > c.Parts {
			return fmt.Errorf("inbox: part %d of %d from %s: no such part", c.Seq, c.Parts, m.From)
		}
		p.Parts, p.Seq, p.Ref, p.RefBits = c.Parts, c.Seq, c.Ref, c.RefBits
		asm := m.Sender + "|" + m.From + "|" + strconv.Itoa(c.RefBits) + ":" + strconv.Itoa(c.Ref) + "/" + strconv.Itoa(c.Parts)
		p.Assembly = asm
		id += "|" + strconv.Itoa(c.RefBits) + ":" + strconv.Itoa(c.Ref) + "/" + strconv.Itoa(c.Parts) + "#" + strconv.Itoa(c.Seq)
	}
	p.Keys = []string{"k:" + id + "|" + sum}
	if len(m.PDU) > 0 {
		h := sha256.Sum256(m.PDU)
		p.Keys = append(p.Keys, "p:"+m.Sender+"|"+hex.EncodeToString(h[:16]))
	}
	res, err := ib.st.AddInPart(ctx, p)
	if err != nil {
		return fmt.Errorf("inbox: storing a part from %s: %w", m.From, err)
	}
	log := ib.log.With("inbound", res.Msg.ID, "sender", m.Sender)
	switch {
	case res.Duplicate:
		log.Info("inbox: part received before; not stored again")
	case res.Done:
		log.Info("inbox: message received", "parts", res.Msg.Parts, "state", res.Msg.State)
		ib.forward(ctx, res.Msg)
	default:
		log.Info("inbox: part received; waiting for the rest", "got", len(res.Msg.Got), "parts", res.Msg.Parts)
	}
	return nil
}

// StatusReport records a delivery report on the part it reports on (provider.Receiver). A
// report that matches no sent part is logged and dropped: there is nothing to put it on, and
// the modem must not keep it.
func (ib *Inbox) StatusReport(ctx context.Context, r provider.StatusReport) error {
	j, err := ib.st.ReportPart(ctx, store.StatusReport{Sender: r.Sender, Recipient: r.Recipient, Ref: r.Ref, Status: r.Status})
	switch {
	case errors.Is(err, store.ErrNotFound):
		ib.log.Warn("inbox: status report matches no sent part", "sender", r.Sender, "mr", r.Ref, "st", r.Status)
		return nil
	case err != nil:
		return fmt.Errorf("inbox: status report: %w", err)
	}
	ib.log.Info("inbox: status report", "job", j.ID, "mr", r.Ref, "st", r.Status, "meaning", provider.ReportMeaning(r.Status))
	return nil
}

// forward decides where message m goes and stores that decision with its job, in one write.
// A failure here (the store full, a target refused) leaves m unforwarded; Run tries again.
func (ib *Inbox) forward(ctx context.Context, m *store.InMessage) {
	if ib.o.Commands != nil {
		if handled, reply, note := ib.o.Commands.Command(ctx, m); handled {
			id, err := ib.st.Forward(ctx, m.ID, reply, "command", note)
			if err != nil {
				ib.log.Error("inbox: storing a command's outcome failed; handled again at the next turn", "inbound", m.ID, "err", err)
				return
			}
			ib.log.Info("inbox: command", "inbound", m.ID, "outcome", note, "reply", id)
			return
		}
	}
	r := match(ib.rules, m.From, m.Text())
	name, note := "", ""
	var job *store.NewJob
	if r != nil {
		name = r.Name
		if r.Forward != "none" {
			n, _, err := ib.plan(r, m)
			if err != nil {
				// The service refuses this message (a text longer than the SMS segment limit,
				// say): trying again would not change that. The decision is kept with why.
				ib.log.Error("inbox: the rule's service refuses this message; kept in the inbox, not forwarded", "inbound", m.ID, "rule", r.Name, "err", err)
				note = "not forwarded: " + err.Error()
			} else {
				job = &n
			}
		}
	}
	id, err := ib.st.Forward(ctx, m.ID, job, name, note)
	if err != nil {
		ib.log.Error("inbox: storing the forwarding failed; retried at the next turn", "inbound", m.ID, "err", err)
		return
	}
	ib.log.Info("inbox: forwarded", "inbound", m.ID, "rule", name, "job", id)
}

// plan builds the job that forwards m by r, checked by the service as /msg would check it.
func (ib *Inbox) plan(r *rule, m *store.InMessage) (store.NewJob, string, error) {
	text := m.Text()
	var f provider.File
	var info provider.Info
	switch r.Forward {
	case "webhook":
		b, err := json.Marshal(Document(m))
		if err != nil {
			return store.NewJob{}, "", err
		}
		f = provider.File{Name: "sms", Filename: "sms.json", MIME: "application/json", Type: "json", Data: b}
	case "mail":
		subject := r.Subject
		if subject == "" {
			subject = "SMS from " + m.From
		}
		s, _ := json.Marshal(subject)
		info = provider.Info{"subject": s}
		f = provider.File{Name: "sms", Filename: "sms.txt", MIME: "text/plain; charset=utf-8", Type: "text", Data: []byte(mailBody(m, text))}
	default: // a text service: the number first, so the reader knows who wrote
		f = provider.File{Name: "sms", Type: "text", Data: []byte("SMS from " + m.From + ": " + text)}
	}
	typed, svc, snd, err := ib.reg.Resolve(provider.Params{Service: r.Forward, Sender: r.Sender, Dest: r.To,
		Types: map[string]string{f.Name: f.Type}, Info: info}, []provider.File{f})
	if err != nil {
		return store.NewJob{}, "", err
	}
	var raw json.RawMessage
	if len(info) > 0 {
		raw, _ = json.Marshal(info)
	}
	sender := snd.Name
	if svc.ShareLoad && r.Sender == "" {
		sender = ""
	}
	t := typed[0]
	return store.NewJob{Device: "sms:" + m.Sender, Via: "sms",
		Files:  []store.NewFile{{Name: t.Name, Filename: t.Filename, MIME: t.MIME, Data: t.Data}},
		Params: &store.Params{Service: svc.Name, Sender: sender, Dest: r.To, Info: raw, Types: []string{t.Type}}}, svc.Name, nil
}

func mailBody(m *store.InMessage, text string) string {
	b := "From: " + m.From + "\nSent: " + m.Sent.Format(time.RFC3339) + "\nReceived by: " + m.Sender
	if m.State == store.InIncomplete {
		b += fmt.Sprintf("\nIncomplete: %d of %d parts came; […] marks what is missing", len(m.Got), m.Parts)
	}
	b += "\n\n" + text + "\n"
	if d := m.Data(); len(d) > 0 {
		b += "\n8-bit data (base64): " + base64.StdEncoding.EncodeToString(d) + "\n"
	}
	return b
}

// WebhookDoc is the JSON document a webhook receives for an inbound message (docs/SMS.md).
type WebhookDoc struct {
	Event    string    `json:"event"` // "sms.inbound"
	ID       string    `json:"id"`    // the message's id in the inbox: de-duplicate retried posts by it
	From     string    `json:"from"`
	Modem    string    `json:"modem"`
	Sent     time.Time `json:"sent"`
	Received time.Time `json:"received"`
	Text     string    `json:"text"`
	Data     string    `json:"data,omitempty"` // 8-bit user data, base64
	Parts    int       `json:"parts"`
	Got      int       `json:"got"`
	Complete bool      `json:"complete"`
}

// Document is what a webhook receives for m.
func Document(m *store.InMessage) WebhookDoc {
	d := WebhookDoc{Event: "sms.inbound", ID: m.ID, From: m.From, Modem: m.Sender, Sent: m.Sent.UTC(), Received: m.Received.UTC(),
		Text: m.Text(), Parts: m.Parts, Got: len(m.Got), Complete: m.State == store.InComplete}
	if b := m.Data(); len(b) > 0 {
		d.Data = base64.StdEncoding.EncodeToString(b)
	}
	return d
}

// Run finishes what a crash interrupted (messages complete but not forwarded), then, every
// Options.Every, ends the waits that are over (incomplete messages are forwarded as they are)
// and purges forwarded messages older than Keep. It returns when ctx is done.
func (ib *Inbox) Run(ctx context.Context) error {
	t := time.NewTicker(ib.o.Every)
	defer t.Stop()
	for {
		ib.Tick(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick is one turn of Run.
func (ib *Inbox) Tick(ctx context.Context) {
	if ms, err := ib.st.ExpireInbound(ctx); err != nil {
		ib.log.Error("inbox: ending waits", "err", err)
	} else {
		for _, m := range ms {
			ib.log.Warn("inbox: parts missing after the wait; kept as incomplete", "inbound", m.ID, "got", len(m.Got), "parts", m.Parts)
		}
	}
	if err := ib.st.Unforwarded(func(m *store.InMessage) { ib.forward(ctx, m) }); err != nil {
		ib.log.Error("inbox: listing unforwarded messages", "err", err)
	}
	if n, err := ib.st.PurgeInbound(ctx, ib.o.Now().Add(-ib.o.Keep)); err != nil {
		ib.log.Error("inbox: retention", "err", err)
	} else if n > 0 {
		ib.log.Info("inbox: retention purged forwarded messages", "n", n)
	}
}
