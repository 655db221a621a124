package mail

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"unicode/utf8"

	"multimsg/provider"
)

// info is the mail service's /msg info object.
type info struct {
	Subject *string
	Cc      []*mail.Address
	ReplyTo *mail.Address
}

var infoKeys = []string{"subject", "cc", "reply_to"}

// stringOrList decodes a JSON string ("a@x, b@y") or an array of strings.
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or an array of strings")
	}
	*s = many
	return nil
}

// decodeInfo decodes and checks info; errors are *provider.CheckError on field "info".
func decodeInfo(in provider.Info) (info, error) {
	var (
		out     info
		subject *string
		cc      stringOrList
		replyTo *string
	)
	err := provider.DecodeInfo(in, infoKeys, map[string]any{"subject": &subject, "cc": &cc, "reply_to": &replyTo})
	if err != nil {
		return out, err
	}
	if subject != nil {
		s := *subject
		if strings.ContainsAny(s, "\r\n") {
			return out, provider.Checkf("info", "subject must be one line (it contains a line break)")
		}
		if n := utf8.RuneCountInString(s); n > maxSubjectLen {
			return out, provider.Checkf("info", "subject is %d characters long; at most %d", n, maxSubjectLen)
		}
		if i := strings.IndexFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }); i >= 0 {
			return out, provider.Checkf("info", "subject contains control character %q at byte %d", s[i], i)
		}
		if strings.TrimSpace(s) != "" {
			out.Subject = &s
		}
	}
	// An empty cc, reply_to or subject is taken as absent: clients fill forms with "".
	if joined := strings.Join(cc, ","); strings.Trim(joined, " \t,") != "" {
		list, err := parseAddressList(joined, "info", "cc")
		if err != nil {
			return out, err
		}
		out.Cc = list
	}
	if replyTo != nil && strings.TrimSpace(*replyTo) != "" {
		list, err := parseAddressList(*replyTo, "info", "reply_to")
		if err != nil {
			return out, err
		}
		if len(list) != 1 {
			return out, provider.Checkf("info", "reply_to must be one address, got %d", len(list))
		}
		out.ReplyTo = list[0]
	}
	return out, nil
}

// parseAddressList parses s with net/mail's address-list syntax. On failure it names the first
// comma-separated piece that is not an address. what says where the list came from.
func parseAddressList(s, field, what string) ([]*mail.Address, error) {
	if strings.TrimSpace(s) == "" {
		return nil, provider.Checkf(field, "%s: no address given", what)
	}
	if len(s) > 16<<10 {
		return nil, provider.Checkf(field, "%s: %d bytes is too long for an address list", what, len(s))
	}
	list, err := mail.ParseAddressList(s)
	if err != nil {
		for _, piece := range strings.Split(s, ",") {
			if strings.TrimSpace(piece) == "" {
				return nil, provider.Checkf(field, "%s: empty address in the list (two commas, or a comma at an end)", what)
			}
			if _, perr := mail.ParseAddress(piece); perr != nil {
				return nil, provider.Checkf(field, "%s: %s is not an e-mail address: %v", what, strconv.Quote(strings.TrimSpace(piece)), perr)
			}
		}
		return nil, provider.Checkf(field, "%s: %s is not a list of e-mail addresses: %v", what, strconv.Quote(s), err)
	}
	if len(list) == 0 {
		return nil, provider.Checkf(field, "%s: no address given", what)
	}
	for _, a := range list {
		if !isASCII(a.Address) {
			return nil, provider.Checkf(field, "%s: %s: internationalized (non-ASCII) addresses are not supported", what, strconv.Quote(a.Address))
		}
		if len(a.Address) > maxAddressLen {
			return nil, provider.Checkf(field, "%s: address %s is longer than %d characters", what, strconv.Quote(a.Address[:40]+"…"), maxAddressLen)
		}
		if len(a.String()) > maxFormattedAddrBytes {
			return nil, provider.Checkf(field, "%s: the display name of %s is too long", what, strconv.Quote(a.Address))
		}
	}
	return list, nil
}

// request is a Check'ed request: everything Send needs besides the files.
type request struct {
	to   []*mail.Address
	info info
}

// check validates dest, files and info against o, and returns them decoded.
func (o *Options) check(dest string, files []provider.File, in provider.Info) (request, error) {
	var r request
	to, err := parseAddressList(dest, "dest", "dest")
	if err != nil {
		return r, err
	}
	r.to = to
	if r.info, err = decodeInfo(in); err != nil {
		return r, err
	}
	if n := len(envelopeRecipients(r.to, r.info.Cc)); n > o.MaxRecipients {
		return r, provider.Checkf("dest", "%d recipients (to and cc); at most %d", n, o.MaxRecipients)
	}
	if len(files) == 0 {
		return r, provider.Checkf("type", "a mail needs at least one text, html or file; this job has no file")
	}
	var total int64
	for _, f := range files {
		switch f.Type {
		case "text", "html":
			if !utf8.Valid(f.Data) {
				return r, provider.Checkf("type", "file %s is of type %s but is not UTF-8 text; send it as type file (an attachment) or re-encode it", strconv.Quote(f.Name), f.Type)
			}
		case "file":
		default:
			return r, provider.Checkf("type", "mail does not take type %s (file %s); it takes: text, html, file", strconv.Quote(f.Type), strconv.Quote(f.Name))
		}
		total += int64(len(f.Data))
	}
	if total > o.MaxSize {
		return r, provider.Checkf("type", "the files total %d bytes; this mail sender takes at most %d", total, o.MaxSize)
	}
	return r, nil
}

// envelopeRecipients is To + Cc without duplicates (compared case-insensitively), in order.
func envelopeRecipients(to, cc []*mail.Address) []string {
	seen := make(map[string]bool, len(to)+len(cc))
	out := make([]string, 0, len(to)+len(cc))
	for _, list := range [][]*mail.Address{to, cc} {
		for _, a := range list {
			k := strings.ToLower(a.Address)
			if seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, a.Address)
		}
	}
	return out
}
