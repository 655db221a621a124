package sms

import (
	"fmt"
	"regexp"
	"strings"

	"multimsg/setting"
)

// Receiving are the keys of the [sms] table for what the modems receive (issue 13): the
// forwarding rules ([[sms.inbound]]), the inbox ([sms.inbox]) and how long delivery reports are
// waited for. Package inbox acts on them; they live here because the [sms] table is this
// package's, and are checked here, once, with the rest of it.
type Receiving struct {
	Inbound    []InboundRule    `toml:"inbound" setting:"label=Forwarding rules,help=Received SMS: the first rule that matches forwards it; none matching: kept in the inbox only."`
	Inbox      InboxConfig      `toml:"inbox" setting:"label=Inbox"`
	ReportWait setting.Duration `toml:"report_wait" setting:"label=Wait for delivery reports,default=1h,positive,help=Then an SMS without every report is unconfirmed."`
}

// InboxConfig is the [sms.inbox] table.
type InboxConfig struct {
	Wait    setting.Duration `toml:"wait" setting:"label=Wait for missing parts,default=10m,positive,help=Then a concatenated SMS is kept and forwarded as it is, marked incomplete."`
	Keep    setting.Duration `toml:"keep" setting:"label=Keep forwarded,default=7d,positive"`
	Devices []string         `toml:"devices" setting:"label=Devices that read /inbox,help=MACs, local for the box itself, * for every device; empty: nobody."`
}

// InboundRule is one [[sms.inbound]]: which received messages it takes, and where they go.
type InboundRule struct {
	Name string `toml:"name" setting:"label=Name,help=Shown on the admin page; default rule <n>."`
	// From: the sender numbers the rule takes; digits only are compared ("+34 600 111 222" is
	// "34600111222"); a trailing "*" takes every number beginning so. Empty: any sender.
	From []string `toml:"from" setting:"label=From,help=Sender numbers; a trailing * is a prefix; empty: anyone."`
	// Pattern: a regular expression (RE2: linear time) the text must match. Empty: any text.
	Pattern string `toml:"pattern" setting:"label=Text pattern,help=A regular expression (RE2) the text must match; empty: any text."`
	Forward string `toml:"forward" setting:"label=Forward by,required,choices=mail|webhook|wpp1|sms|none,help=none keeps it in the inbox only (and no later rule is tried)."`
	To      string `toml:"to" setting:"label=To,help=The address or number; for webhook an optional label (X-Multimsg-Dest)."`
	Sender  string `toml:"sender" setting:"label=Sender,help=The forwarding service's sender; default its first."`
	Subject string `toml:"subject" setting:"label=Subject,help=mail only; default SMS from <number>."`
}

// Bounds on the rules: they are compiled once at start, and matched against every message.
const (
	MaxRules   = 64
	MaxPattern = 512
	MaxFrom    = 64
)

// Validate checks the rules (the [sms] table's Validate calls it).
func (r *Receiving) Validate() error {
	if len(r.Inbound) > MaxRules {
		return setting.Errorf("inbound", "%d rules; at most %d", len(r.Inbound), MaxRules)
	}
	for i := range r.Inbound {
		if err := setting.Prefix(fmt.Sprintf("inbound[%d]", i), r.Inbound[i].Check()); err != nil {
			return err
		}
	}
	return nil
}

// Check says whether the rule can be used, naming the key at fault.
func (r *InboundRule) Check() error {
	switch r.Forward {
	case "mail", "wpp1", "sms":
		if r.To == "" {
			return setting.Errorf("to", "forward = %q needs the address or number to forward to", r.Forward)
		}
	case "webhook", "none":
	case "":
		return setting.Errorf("forward", "required: mail, webhook, wpp1, sms or none")
	default:
		return setting.Errorf("forward", "%q: want mail, webhook, wpp1, sms or none", r.Forward)
	}
	if r.Subject != "" && r.Forward != "mail" {
		return setting.Errorf("subject", "for forward = \"mail\" only")
	}
	if len(r.Pattern) > MaxPattern {
		return setting.Errorf("pattern", "%d bytes long; at most %d", len(r.Pattern), MaxPattern)
	}
	if _, err := regexp.Compile(r.Pattern); err != nil {
		return setting.Errorf("pattern", "%v", err)
	}
	if len(r.From) > MaxFrom {
		return setting.Errorf("from", "%d numbers; at most %d", len(r.From), MaxFrom)
	}
	for i, f := range r.From {
		if strings.Trim(f, "0123456789+ -*") != "" || strings.Trim(f, "+ -*") == "" && strings.TrimSpace(f) != "*" {
			return setting.Errorf(fmt.Sprintf("from[%d]", i), "%q is not a number (digits, an optional +, a trailing * for a prefix)", f)
		}
	}
	return nil
}
