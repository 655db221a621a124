package inbox

import (
	"fmt"
	"regexp"
	"strings"

	smsconf "multimsg/provider/sms"
	"multimsg/setting"
)

// Rule is one [[sms.inbound]] table: which inbound messages it takes, and where they go. The
// first rule that matches decides; a message no rule takes is kept in the inbox only. The
// [sms] table is provider/sms's, so the type and its checks are there.
type Rule = smsconf.InboundRule

// maxMatchBytes bounds the text a pattern is matched against (a message's text is at most
// 255 parts of 480 bytes; RE2 is linear in it anyway).
const maxMatchBytes = 64 << 10

// rule is a Rule ready to match.
type rule struct {
	Rule
	re   *regexp.Regexp
	from []string // digits, a trailing "*" kept
}

// compile checks rules (as the configuration did) and prepares them. The error names the rule
// at fault.
func compile(rules []Rule) ([]rule, error) {
	if err := setting.Prefix("sms", (&smsconf.Receiving{Inbound: rules}).Validate()); err != nil {
		return nil, err
	}
	out := make([]rule, len(rules))
	for i, r := range rules {
		if r.Name == "" {
			r.Name = fmt.Sprintf("rule %d", i+1)
		}
		out[i].Rule = r
		if r.Pattern != "" {
			out[i].re = regexp.MustCompile(r.Pattern) // Check compiled it
		}
		for _, f := range r.From {
			d := digits(f)
			if strings.HasSuffix(strings.TrimSpace(f), "*") {
				d += "*"
			}
			out[i].from = append(out[i].from, d)
		}
	}
	return out, nil
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
