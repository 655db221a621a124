package mailin

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"multimsg/provider"
)

// Target is one delivery a recipient stands for: a service and its destination.
type Target struct {
	Service string
	Dest    string
}

func (t Target) String() string { return t.Service + ":" + t.Dest }

// ParseTarget reads an alias entry, "service:dest" (e.g. "sms:15551234567", "mail:ops@example.com").
func ParseTarget(s string) (Target, error) {
	svc, dest, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || svc == "" || strings.TrimSpace(dest) == "" {
		return Target{}, fmt.Errorf("%q is not service:destination (e.g. sms:15551234567, wpp1:15551234567, mail:ops@example.com)", s)
	}
	return Target{Service: strings.ToLower(svc), Dest: strings.TrimSpace(dest)}, nil
}

// recipients turns RCPT addresses into targets and checks each against the registry.
type recipients struct {
	reg     *provider.Registry
	aliases map[string][]Target // lower-case address → targets
	relay   bool
}

// resolve answers the targets of one RCPT address, each checked as /send would check it
// (the service is available, the destination is well formed). The error says why not, in
// words a person configuring a camera can act on.
func (r *recipients) resolve(addr string) ([]Target, error) {
	addr = strings.TrimSpace(addr)
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return nil, fmt.Errorf("%w: %q is not an address; use <number>@sms, <number>@wpp1, an alias or a full e-mail address", ErrRecipient, addr)
	}
	local, domain := addr[:at], strings.ToLower(addr[at+1:])
	var ts []Target
	if a, ok := r.aliases[strings.ToLower(addr)]; ok {
		ts = a
	} else if _, err := r.reg.Service(domain); err == nil && domain != "mail" {
		ts = []Target{{Service: domain, Dest: local}}
	} else if r.relay && strings.Contains(domain, ".") {
		ts = []Target{{Service: "mail", Dest: addr}}
	} else {
		return nil, fmt.Errorf("%w: no alias %q on this box, and %q is not a service; use <number>@sms, <number>@wpp1%s%s", ErrRecipient,
			strings.ToLower(addr), domain, r.relayHint(), r.aliasHint())
	}
	for _, t := range ts {
		if err := r.check(t); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrRecipient, t, err)
		}
	}
	return ts, nil
}

func (r *recipients) relayHint() string {
	if r.relay {
		return ", a full e-mail address"
	}
	return ""
}

func (r *recipients) aliasHint() string {
	if len(r.aliases) == 0 {
		return ""
	}
	names := make([]string, 0, len(r.aliases))
	for k := range r.aliases {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(names) > 8 {
		names = append(names[:8], "…")
	}
	return " or an alias (" + strings.Join(names, ", ") + ")"
}

// check is the registry's verdict on a one-line text to t: what the RCPT can know before
// the message comes.
func (r *recipients) check(t Target) error {
	_, _, _, err := r.reg.Resolve(provider.Params{Service: t.Service, Dest: t.Dest},
		[]provider.File{{Name: "text", MIME: "text/plain", Data: []byte("probe")}})
	var ce *provider.CheckError
	if errors.As(err, &ce) {
		return errors.New(ce.Msg)
	}
	return err
}

// CheckAliases checks every alias target against the registry, so a typo in the config stops
// the start instead of refusing mail later.
func CheckAliases(reg *provider.Registry, aliases map[string][]Target) error {
	r := &recipients{reg: reg}
	keys := make([]string, 0, len(aliases))
	for k := range aliases {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.Contains(k, "@") {
			return fmt.Errorf("alias %q: name it as an address, e.g. \"oncall@box\"", k)
		}
		if len(aliases[k]) == 0 {
			return fmt.Errorf("alias %q: no targets", k)
		}
		for _, t := range aliases[k] {
			if err := r.check(t); err != nil {
				return fmt.Errorf("alias %q: %s: %v", k, t, err)
			}
		}
	}
	return nil
}
