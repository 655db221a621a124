package provider

import (
	"context"
	"encoding/json"
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

// Health is a driver's own view of itself, for the status page.
type Health struct {
	OK     bool           `json:"ok"`
	Detail string         `json:"detail,omitempty"`
	Facts  map[string]any `json:"facts,omitempty"` // e.g. signal_dbm, operator, registered
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
