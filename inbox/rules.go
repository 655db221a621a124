package inbox

import (
	"fmt"
	"regexp"
	"strings"
)

// Rule is one [[sms.inbound]] table: which inbound messages it takes, and where they go. The
// first rule that matches decides; a message no rule takes is kept in the inbox only.
type Rule struct {
	Name string `toml:"name"` // shown on the admin page; default "rule <n>"
	// From: the sender numbers the rule takes, as the network writes them ("+34600111222");
	// digits only are compared, so "+34 600 111 222" is the same; a trailing "*" takes every
	// number beginning so ("+3460*"). Empty: any sender.
	From []string `toml:"from"`
	// Pattern: a regular expression (RE2: linear time) the text must match. Empty: any text.
	Pattern string `toml:"pattern"`
	// Forward: the service that forwards it — "mail", "webhook", "wpp1", "sms" — or "none"
	// (kept in the inbox only, and no later rule is tried).
	Forward string `toml:"forward"`
	To      string `toml:"to"`      // the destination: an address, a number; for webhook an optional label
	Sender  string `toml:"sender"`  // the forwarding service's sender; default its first
	Subject string `toml:"subject"` // mail: the subject; default "SMS from <number>"
}

// Bounds on the rules: they are compiled once at load, and matched against every message.
const (
	MaxRules      = 64
	MaxPattern    = 512
	MaxFrom       = 64
	maxMatchBytes = 64 << 10 // a message's text is at most this (255 parts of 153 characters)
)

// rule is a Rule ready to match.
type rule struct {
	Rule
	re   *regexp.Regexp
	from []string // digits, a trailing "*" kept
}

// compile checks rules and prepares them. The error names the rule at fault.
func compile(rules []Rule) ([]rule, error) {
	if len(rules) > MaxRules {
		return nil, fmt.Errorf("sms.inbound: %d rules; at most %d", len(rules), MaxRules)
	}
	out := make([]rule, len(rules))
	for i, r := range rules {
		at := fmt.Sprintf("sms.inbound[%d]", i)
		if r.Name == "" {
			r.Name = fmt.Sprintf("rule %d", i+1)
		}
		switch r.Forward {
		case "mail", "wpp1", "sms":
			if r.To == "" {
				return nil, fmt.Errorf("%s: forward = %q needs to (the address or number to forward to)", at, r.Forward)
			}
		case "webhook", "none": // webhook: to is an optional label (X-Multimsg-Dest)
		case "":
			return nil, fmt.Errorf("%s: forward is required: mail, webhook, wpp1, sms or none", at)
		default:
			return nil, fmt.Errorf("%s: forward = %q: want mail, webhook, wpp1, sms or none", at, r.Forward)
		}
		if r.Subject != "" && r.Forward != "mail" {
			return nil, fmt.Errorf("%s: subject is for forward = \"mail\" only", at)
		}
		if len(r.Pattern) > MaxPattern {
			return nil, fmt.Errorf("%s: pattern is %d bytes long; at most %d", at, len(r.Pattern), MaxPattern)
		}
		out[i].Rule = r
		if r.Pattern != "" {
			re, err := regexp.Compile(r.Pattern)
			if err != nil {
				return nil, fmt.Errorf("%s: pattern: %w", at, err)
			}
			out[i].re = re
		}
		if len(r.From) > MaxFrom {
			return nil, fmt.Errorf("%s: %d numbers in from; at most %d", at, len(r.From), MaxFrom)
		}
		for _, f := range r.From {
			d := digits(f)
			if strings.HasSuffix(f, "*") {
				d += "*"
			}
			if digits(f) == "" && strings.TrimSpace(f) != "*" {
				return nil, fmt.Errorf("%s: from %q holds no number", at, f)
			}
			out[i].from = append(out[i].from, d)
		}
	}
	return out, nil
}

// CheckRules says whether rules would load (config validation, before the box starts).
func CheckRules(rules []Rule) error {
	_, err := compile(rules)
	return err
}

// match returns the first rule that takes a message from `from` with text, or nil.
func match(rules []rule, from, text string) *rule {
	if len(text) > maxMatchBytes {
		text = text[:maxMatchBytes]
	}
	d := digits(from)
	for i := range rules {
		r := &rules[i]
		if len(r.from) > 0 && !fromMatches(r.from, d) {
			continue
		}
		if r.re != nil && !r.re.MatchString(text) {
			continue
		}
		return r
	}
	return nil
}

func fromMatches(list []string, d string) bool {
	for _, f := range list {
		if p, ok := strings.CutSuffix(f, "*"); ok {
			if strings.HasPrefix(d, p) {
				return true
			}
		} else if f == d {
			return true
		}
	}
	return false
}

// digits keeps the digits of a number: "+34 600-111" → "34600111".
func digits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
