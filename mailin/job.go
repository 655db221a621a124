package mailin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"multimsg/provider"
	"multimsg/store"
)

// TextRule says how a mail becomes the text a service sends.
type TextRule struct {
	// Content: "subject+body" (the default), "subject" (the subject alone, or the body when
	// the subject is empty — an SMS that says what happened) or "body".
	Content string
	// MaxChars bounds the text, in characters; a longer one is cut and ends with "...".
	// 0: no bound of its own (the service's check still applies).
	MaxChars int
}

// Content values of TextRule.
const (
	SubjectBody = "subject+body"
	SubjectOnly = "subject"
	BodyOnly    = "body"
)

// ValidContent reports whether c is a TextRule.Content value.
func ValidContent(c string) bool {
	return c == "" || c == SubjectBody || c == SubjectOnly || c == BodyOnly
}

// cut is what ends a text that was cut: ASCII, so that it never turns a GSM 7-bit SMS into a
// UCS-2 one.
const cut = "..."

// compose is the text of msg for a service under rule, with note (attachments left out)
// kept whole at its end.
func compose(msg *Message, rule TextRule, note string) string {
	var text string
	switch rule.Content {
	case SubjectOnly:
		text = msg.Subject
		if text == "" {
			text = msg.Text
		}
	case BodyOnly:
		text = msg.Text
		if text == "" {
			text = msg.Subject
		}
	default:
		switch {
		case msg.Subject == "":
			text = msg.Text
		case msg.Text == "":
			text = msg.Subject
		default:
			text = msg.Subject + "\n\n" + msg.Text
		}
	}
	if note != "" {
		note = "\n" + note
		if text == "" {
			note = note[1:]
		}
	}
	if rule.MaxChars > 0 {
		room := rule.MaxChars - runeLen(note)
		if runeLen(text) > room {
			if room > len(cut) {
				text = trimRunes(text, room-len(cut)) + cut
			} else {
				text = ""
				note = trimRunes(strings.TrimPrefix(note, "\n"), rule.MaxChars)
			}
		}
	}
	return text + note
}

func runeLen(s string) int { return len([]rune(s)) }

// planned is one job a mail makes, ready for store.CreateAll.
type planned struct {
	job     store.NewJob
	service string
	sender  string // the sender Resolve chose, for the accepted-jobs metric
}

// attachmentType is the type an attachment takes on svc, or "" when svc takes no files of
// its kind (SMS).
func attachmentType(svc *provider.Service, mt string) string {
	major, _, _ := strings.Cut(mt, "/")
	switch {
	case svc.Takes("file"):
		return "file"
	case (major == "image" || major == "audio" || major == "video") && svc.Takes(major):
		return major
	case svc.Takes("document"):
		return "document"
	}
	return ""
}

// plan makes the job of msg for one target. Attachments the service refuses (a type it does
// not take, a size over its limit) are left out with a note in the text rather than losing
// the alert: the text is what the device wanted said.
func (s *Server) plan(dev, ip string, msg *Message, t Target) (planned, error) {
	svc, err := s.o.Registry.Service(t.Service)
	if err != nil {
		return planned{}, err
	}
	rule := s.o.Text[t.Service]
	p, err := s.planWith(dev, ip, msg, t, svc, rule, true)
	var ce *provider.CheckError
	if err != nil && errors.As(err, &ce) && len(msg.Attachments) > 0 {
		p, err = s.planWith(dev, ip, msg, t, svc, rule, false)
	}
	// A text that is still too long for the service (an SMS in UCS-2 needs more segments than
	// MaxChars allowed for): shorter, a few times, rather than refusing the alert.
	for i := 0; i < 4 && err != nil && errors.As(err, &ce) && ce.Field == "type"; i++ {
		if rule.MaxChars == 0 {
			rule.MaxChars = 4096
		}
		rule.MaxChars /= 2
		p, err = s.planWith(dev, ip, msg, t, svc, rule, false)
	}
	return p, err
}

func (s *Server) planWith(dev, ip string, msg *Message, t Target, svc *provider.Service, rule TextRule, withFiles bool) (planned, error) {
	var files []provider.File
	types := map[string]string{}
	var dropped []string
	for i, a := range msg.Attachments {
		typ := ""
		if withFiles {
			typ = attachmentType(svc, a.MIME)
		}
		if typ == "" {
			dropped = append(dropped, a.Filename)
			continue
		}
		name := fmt.Sprintf("attachment-%d", i+1)
		files = append(files, provider.File{Name: name, Filename: a.Filename, MIME: a.MIME, Data: a.Data})
		types[name] = typ
	}
	note := ""
	if len(dropped) > 0 {
		note = fmt.Sprintf("[%d attachment(s) not sent by %s: %s]", len(dropped), svc.Name, strings.Join(dropped, ", "))
		if runeLen(note) > 160 {
			note = fmt.Sprintf("[%d attachment(s) not sent by %s]", len(dropped), svc.Name)
		}
	}
	text := compose(msg, rule, note)
	head := []provider.File{}
	if text != "" || len(files) == 0 {
		if text == "" {
			text = "(empty e-mail)"
		}
		head = append(head, provider.File{Name: "text", Filename: "message.txt", MIME: "text/plain; charset=utf-8", Data: []byte(text)})
		types["text"] = "text"
	}
	info := provider.Info{}
	if svc.Takes("html") && msg.HTML != "" && rule.Content != SubjectOnly && rule.MaxChars == 0 {
		head = append(head, provider.File{Name: "html", Filename: "message.html", MIME: "text/html; charset=utf-8", Data: []byte(msg.HTML)})
		types["html"] = "html"
	}
	if t.Service == "mail" {
		// The relayed mail keeps the device's subject, and replies go to the device's From
		// (often a real mailbox of whoever set the device up).
		if msg.Subject != "" {
			info["subject"], _ = json.Marshal(trimRunes(msg.Subject, 200))
		}
		if msg.From != "" {
			if _, err := mail.ParseAddress(msg.From); err == nil {
				info["reply_to"], _ = json.Marshal(msg.From)
			}
		}
	}
	files = append(head, files...)
	typed, svc, snd, err := s.o.Registry.Resolve(provider.Params{Service: t.Service, Dest: t.Dest, Types: types, Info: info}, files)
	if err != nil {
		return planned{}, err
	}
	var rawInfo json.RawMessage
	if len(info) > 0 {
		rawInfo, _ = json.Marshal(info)
	}
	nf := make([]store.NewFile, len(typed))
	ts := make([]string, len(typed))
	for i, f := range typed {
		nf[i] = store.NewFile{Name: f.Name, Filename: f.Filename, MIME: f.MIME, Data: f.Data}
		ts[i] = f.Type
	}
	sender := snd.Name
	if svc.ShareLoad {
		sender = "" // as web does for /send: the dispatcher picks the least busy modem
	}
	return planned{
		job: store.NewJob{Device: dev, IP: ip, Files: nf, Via: "mail",
			Params: &store.Params{Service: svc.Name, Sender: sender, Dest: t.Dest, Info: rawInfo, Types: ts}},
		service: svc.Name, sender: snd.Name,
	}, nil
}
