package provider

import (
	"context"
	"encoding/json"
	"sort"
	"time"
)

// File is one file of a job as a driver sees it.
type File struct {
	Name     string // the multipart field name: the key in /msg's type object
	Filename string // the uploaded file name (attachment and document names)
	Type     string // the type /msg gave it: text, html, file, image, audio, video, document
	MIME     string // the part's Content-Type as uploaded ("" when the client sent none)
	Data     []byte
}

// Info holds /msg's service-specific parameters, undecoded; each driver decodes its own keys.
type Info map[string]json.RawMessage

// Request is what a driver checks before a job is queued.
type Request struct {
	Dest  string
	Files []File // every file of the job, with its type and data
	Info  Info
}

// Delivery is one unit of work for a sender: every file of the job for a per-job service
// (mail), exactly one file for a per-file service (wpp1, sms).
type Delivery struct {
	JobID   string
	Device  string // the owner device, e.g. for a default mail subject
	Service string
	Sender  string
	Dest    string
	Info    Info
	Files   []File
	Attempt int // 1 for the first try
}

// Receipt is what a successful Send returns.
type Receipt struct {
	MessageID string // the provider's id: wamid…, SMTP queue id, modem message reference
	// Parts, for a driver whose deliveries are later confirmed part by part (SMS with status
	// reports requested): one entry per part sent, in order. Nil when nothing will be reported.
	Parts []PartRef
}

// Driver is one sender of a service: an SMTP relay, a WhatsApp phone number, a modem.
type Driver interface {
	// Check says whether dest, the files' types and data, and info are acceptable. It answers
	// a *CheckError naming the field at fault. It must not block.
	Check(r Request) error
	// Send delivers d. Its error is classified with Temp, Perm or SenderDown.
	Send(ctx context.Context, d Delivery) (Receipt, error)
}

// HealthReporter is implemented by drivers that know more about their health than the
// dispatcher sees from outcomes (a modem's signal, a token's validity).
type HealthReporter interface {
	Health() Health
}

// ReadyNotifier is implemented by drivers that know when they become able to send again (a
// modem that registers on a network): fn is called at each such moment, and the dispatcher
// then tries the driver's waiting work at once instead of at the end of its backoff. fn must
// not block; it may be called from any goroutine.
type ReadyNotifier interface {
	NotifyReady(fn func())
}

// Runner is implemented by drivers with work of their own in the background (a modem's
// supervisor): the gateway runs Run in its errgroup, under its context, and Run returns once
// that work has stopped — so shutdown is one cancelled context and one Wait.
type Runner interface {
	Run(ctx context.Context) error
}

// Health is a driver's own view of itself, for the status page: what only the driver knows (a
// modem's SIM and signal, the TLS a relay offered, a token the provider refused). The sender's
// health as admins see it, outcomes included, is the dispatcher's one dispatch.SenderStatus,
// which holds this.
type Health struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
	// Facts is a struct of the driver's own (modem.Health for SMS, mail.Facts, whatsapp.Facts):
	// its JSON is the "facts" object of /admin/api/status, the page lists it with Each, and a
	// reader that knows the driver (the modem block, /metrics) takes the struct itself.
	Facts Facts `json:"facts,omitempty"`
}

// Facts are a driver's typed facts (see Health).
type Facts interface {
	// Each calls fn with each fact as the page lists it, in order: a label and the value as
	// text ("" for a fact with nothing to show).
	Each(fn func(label, value string))
}

// UnmarshalJSON reads a Health back from /admin/api/status (clients, tests): the facts come
// back as JSONFacts, since the driver's type is not on the wire.
func (h *Health) UnmarshalJSON(b []byte) error {
	var w struct {
		OK     bool      `json:"ok"`
		Detail string    `json:"detail"`
		Facts  JSONFacts `json:"facts"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*h = Health{OK: w.OK, Detail: w.Detail}
	if len(w.Facts) > 0 && string(w.Facts) != "null" {
		h.Facts = w.Facts
	}
	return nil
}

// JSONFacts are facts read back from JSON by a reader that does not have the driver's type.
// Decode them into it (modem.Health, mail.Facts) to read them.
type JSONFacts json.RawMessage

// MarshalJSON writes the facts as they were read.
func (f JSONFacts) MarshalJSON() ([]byte, error) {
	if len(f) == 0 {
		return []byte("null"), nil
	}
	return f, nil
}

// UnmarshalJSON keeps a copy of b.
func (f *JSONFacts) UnmarshalJSON(b []byte) error {
	*f = append((*f)[:0], b...)
	return nil
}

// Decode reads the facts into v, the driver's facts type.
func (f JSONFacts) Decode(v any) error { return json.Unmarshal(f, v) }

// Each lists the facts in their JSON form, by key.
func (f JSONFacts) Each(fn func(label, value string)) {
	var m map[string]json.RawMessage
	if json.Unmarshal(f, &m) != nil {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var s string
		if json.Unmarshal(m[k], &s) != nil {
			s = string(m[k])
		}
		fn(k, s)
	}
}

// Sender is one named account of a service.
type Sender struct {
	Name        string
	Driver      Driver
	Concurrency int     // deliveries in flight at once; 0 means 1
	Rate        float64 // deliveries per second at most; 0: no pacing
}

// Service is one service /msg accepts.
type Service struct {
	Name          string
	Types         []string // the types the service takes, e.g. text, html, file
	PerFile       bool     // one delivery per file (wpp1, sms) instead of one per job (mail)
	Senders       []Sender // the first is the default; none: the service is not available
	Fallback      []string // services tried when this one cannot deliver
	FallbackAfter time.Duration
	// ShareLoad: work that names no sender goes to whichever healthy sender is least busy
	// (modems), instead of always to the first (an account the recipient recognises).
	ShareLoad bool
	// MaxText is the most characters a text a converter makes (mailin) should carry for one
	// delivery of this service; 0: no bound of the service's own.
	MaxText int
}

// Takes reports whether the service accepts files of type t.
func (s *Service) Takes(t string) bool {
	for _, x := range s.Types {
		if x == t {
			return true
		}
	}
	return false
}

// Sender returns the named sender, or the default one for "".
func (s *Service) Sender(name string) (*Sender, error) {
	if len(s.Senders) == 0 {
		return nil, &CheckError{Field: "serv", Msg: "service " + s.Name + " is not available on this box (no sender configured)", Err: ErrNotAvailable}
	}
	if name == "" {
		return &s.Senders[0], nil
	}
	for i := range s.Senders {
		if s.Senders[i].Name == name {
			return &s.Senders[i], nil
		}
	}
	names := make([]string, len(s.Senders))
	for i, x := range s.Senders {
		names[i] = x.Name
	}
	return nil, &CheckError{Field: "sender", Msg: "unknown sender " + quote(name) + " for service " + s.Name + "; configured: " + join(names), Err: ErrUnknownSender}
}
