package sms

import (
	"fmt"
	"path/filepath"
	"strings"

	"multimsg/provider"
	"multimsg/setting"
	"multimsg/smscommand"
)

// Unit is the SMS service's entry in provider/units: the [sms] table and its modems.
var Unit = provider.Unit{Name: ServiceName, New: provider.Defaults[Config]}

// Config is the [sms] table.
type Config struct {
	provider.Common
	Sender    []SenderConfig `toml:"sender" setting:"label=Modems,help=GSM modems on serial ports; work that names none goes to the least busy."`
	Receiving                // [[sms.inbound]], [sms.inbox], report_wait (inbound_config.go)
	// Commands: who may command the box by SMS ([sms.commands], docs/SIM.md).
	Commands Commands `toml:"commands"`
}

// Commands is the [sms.commands] table: numbers that may command the box by SMS, and the key
// their texts start with. Both empty: the box takes no commands.
type Commands struct {
	Allow []string `toml:"allow" setting:"label=Numbers allowed,help=E.164 numbers that may command the box, e.g. +34600111222."`
	Key   string   `toml:"key" setting:"label=Command key,secret,help=At least 8 characters, one word: a command SMS starts with it."`
}

// Options are the checked options of package smscommand; ok is false when commands are off.
func (c Commands) Options() (o smscommand.Options, ok bool) {
	if len(c.Allow) == 0 && c.Key == "" {
		return smscommand.Options{}, false
	}
	return smscommand.Options{Allow: c.Allow, Key: c.Key}, true
}

// SenderConfig is one [[sms.sender]]: one modem.
type SenderConfig struct {
	Name         string           `toml:"name" setting:"label=Name,required"`
	Device       string           `toml:"device" setting:"label=Serial device,required,help=Prefer /dev/serial/by-id/...: stable across re-plugging."`
	Baud         int              `toml:"baud" setting:"label=Baud,default=115200,min=1200,max=4000000"`
	PIN          string           `toml:"pin" setting:"label=SIM PIN,secret,help=4 to 8 digits; entered at most once."`
	Segments     int              `toml:"segments" setting:"label=Most segments,default=6,min=1,max=255,help=Parts one text may take."`
	ResetCommand string           `toml:"reset_command" setting:"label=Reset command,help=Sent to a silent modem; default AT+CFUN=1,1."`
	Timeout      setting.Duration `toml:"timeout" setting:"label=Command timeout,min=0s,help=One AT command; 0: 10s."`
	SendTimeout  setting.Duration `toml:"send_timeout" setting:"label=Send timeout,min=0s,help=One AT+CMGS (a modem may take up to a minute); 0: 60s."`
	HealthEvery  setting.Duration `toml:"health_every" setting:"label=Health every,min=0s,help=How often signal, SIM and registration are read; 0: 60s."`
	PowerTimeout setting.Duration `toml:"power_timeout" setting:"label=Power-up timeout,min=0s,help=AT+CFUN=1: how long the radio may take; 0: 30s."`
	// SendUnregisteredAfter: how long the modem may say "not registered" before sends are
	// tried anyway and the network answers ("0s" default 1m; negative: never).
	SendUnregisteredAfter setting.Duration `toml:"send_unregistered_after" setting:"label=Send unregistered after,help=0: 1m; negative: never."`
	// StatusReports: sends ask for a status report of each part (TP-SRR), and receipts list
	// each part's TP-MR so the reports can be matched.
	StatusReports bool `toml:"status_reports" setting:"label=Status reports,default=true,help=Sends ask the network to report delivery to the handset."`
	// PollEvery: how often the modem's message store is read for what no indication announced.
	PollEvery setting.Duration `toml:"poll_every" setting:"label=Poll inbox every,min=0s,max=24h,help=How often the modem's message store is read (AT+CMGL); 0: 5m."`
}

// Validate: a PIN is 4 to 8 digits; names are unique; the forwarding rules can be used.
func (c *Config) Validate() error {
	if err := c.Receiving.Validate(); err != nil {
		return err
	}
	for i, s := range c.Sender {
		if s.PIN != "" && (len(s.PIN) < 4 || len(s.PIN) > 8 || strings.Trim(s.PIN, "0123456789") != "") {
			return setting.Errorf(fmt.Sprintf("sender[%d].pin", i), "must be 4 to 8 digits")
		}
	}
	if o, on := c.Commands.Options(); on {
		if _, err := smscommand.New(o); err != nil {
			return setting.Errorf("commands", "%v", err)
		}
	}
	return provider.CheckSenderNames(provider.Names(c.Sender, func(s SenderConfig) string { return s.Name }))
}

// Build makes the sms service, one driver per modem, each with its state under the data
// directory, closed with the gateway.
func (c *Config) Build(env provider.Env) (*provider.Service, error) {
	senders := make([]provider.Sender, 0, len(c.Sender))
	for _, s := range c.Sender {
		d, err := New(Options{
			Device: s.Device, Baud: s.Baud, PIN: s.PIN, Segments: s.Segments, ResetCommand: s.ResetCommand,
			CommandTimeout: s.Timeout.D(), SendTimeout: s.SendTimeout.D(), HealthEvery: s.HealthEvery.D(),
			PowerTimeout: s.PowerTimeout.D(), SendUnregisteredAfter: s.SendUnregisteredAfter.D(),
			StateDir: filepath.Join(env.DataDir, "sms", s.Name),
			Name:     s.Name, NoStatusReports: !s.StatusReports, PollEvery: s.PollEvery.D(),
		}, env.Log.With("service", ServiceName, "sender", s.Name))
		if err != nil {
			return nil, err
		}
		env.OnClose(d.Close)
		// One modem sends one message at a time.
		senders = append(senders, provider.Sender{Name: s.Name, Driver: d, Concurrency: 1})
	}
	svc := Service(senders, c.Fallback, c.FallbackAfter.D())
	svc.MaxText = maxText(c.Sender)
	return svc, nil
}

// maxText is the longest text that fits every modem's segments even in UCS-2 (70 characters in
// one segment, 67 in each of several); 402 (6 segments) with no modem.
func maxText(senders []SenderConfig) int {
	segs := 0
	for _, s := range senders {
		if segs == 0 || s.Segments < segs {
			segs = s.Segments
		}
	}
	switch {
	case segs == 1:
		return 70
	case segs > 1:
		return 67 * segs
	}
	return 67 * DefaultSegments
}
