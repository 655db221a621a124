package store

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"time"
)

// State is a job's state, as /cons answers it.
type State string

const (
	Preprocess State = "preprocess" // files uploaded, no parameters yet
	Queued     State = "queued"     // parameters given, not every file finished
	Partial    State = "partial"    // finished: some files delivered, the rest failed
	Delivered  State = "delivered"  // every file delivered
	Failed     State = "failed"     // finished: nothing delivered
)

// States lists every state, in lifecycle order.
var States = []State{Preprocess, Queued, Partial, Delivered, Failed}

// Finished reports whether s is final.
func (s State) Finished() bool { return s == Partial || s == Delivered || s == Failed }

// FileState is one file's delivery state.
type FileState string

const (
	FilePending   FileState = "pending"
	FileDelivered FileState = "delivered"
	FileFailed    FileState = "failed"
)

// Job is a job's metadata. File contents are kept apart (see Data).
type Job struct {
	ID       string    `json:"id"`
	Device   string    `json:"device"`
	State    State     `json:"state"`
	Archived bool      `json:"archived,omitempty"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`

	ParamsAt   time.Time `json:"params_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	ArchivedAt time.Time `json:"archived_at,omitzero"`
	Expires    time.Time `json:"expires,omitzero"` // TTL: a queued job not delivered by then fails

	Service string          `json:"service,omitempty"`
	Sender  string          `json:"sender,omitempty"`
	Dest    string          `json:"dest,omitempty"`
	Info    json.RawMessage `json:"info,omitempty"`

	// KeyDigest names the wrapped key of an encrypted upload (NewJob.KeyDigest), indexed
	// while the job is kept so that a replay of the upload is refused.
	KeyDigest string `json:"key_digest,omitempty"`

	// Via names the door the job came in by when it is not the HTTP API: "mail" for a job
	// made from an e-mail (mailin), "sms" for the forwarding of an inbound SMS (inbox). The
	// admin page marks such jobs.
	Via string `json:"via,omitempty"`

	Files []File `json:"files"`
	Bytes int64  `json:"bytes"` // charged to the quota: the files' contents and the job's metadata (metaCost)

	Deadline time.Time `json:"deadline"`     // the next retention step, indexed in "deadlines"
	Due      time.Time `json:"due,omitzero"` // when it next has work, indexed in "due" (queued only)
}

// File is one file of a job and its delivery state.
type File struct {
	Name     string    `json:"name"`               // multipart field name: the key in /msg's type
	Filename string    `json:"filename,omitempty"` // uploaded file name
	MIME     string    `json:"mime,omitempty"`
	Type     string    `json:"type,omitempty"`
	Size     int64     `json:"size"`
	Pieces   int       `json:"pieces,omitempty"` // >0: the contents are in that many pieces (a streamed upload, stream.go)
	State    FileState `json:"state,omitempty"`

	Service     string    `json:"service,omitempty"` // who delivers it now (differs from the job's after a fallback)
	Sender      string    `json:"sender,omitempty"`
	Attempts    int       `json:"attempts,omitempty"`
	NextAt      time.Time `json:"next_at,omitzero"`
	FailingFrom time.Time `json:"failing_from,omitzero"` // first failure on the current service, for fallback_after
	LastError   string    `json:"last_error,omitempty"`
	MessageID   string    `json:"message_id,omitempty"`
	DoneAt      time.Time `json:"done_at,omitzero"`
	History     []Attempt `json:"history,omitempty"`
	Parts       []Part    `json:"parts,omitempty"` // the parts sent, when the network reports on each (reports.go)
}

// Attempt is one delivery attempt of a file (the last MaxHistory are kept).
type Attempt struct {
	At       time.Time `json:"at"`
	Service  string    `json:"service"`
	Sender   string    `json:"sender"`
	OK       bool      `json:"ok"`
	Class    string    `json:"class,omitempty"`
	Error    string    `json:"error,omitempty"`
	Fallback string    `json:"fallback,omitempty"` // set when this attempt moved the file to another service
}

// MaxHistory is how many attempts are kept per file.
const MaxHistory = 16

// newID returns a new job id: 7 characters of creation time then 128 random bits, 29
// URL-safe characters in all. The random part makes ids unguessable (SPEC §1); the time part
// makes ids sort in creation order, so the jobs of one group commit sit side by side in the
// B+tree and a commit rewrites a few pages rather than two (leaf and branch) per job. A wrong
// clock costs only that locality: uniqueness comes from the random part.
func newID() string { return newIDAt(time.Now()) }

// newIDAt is newID for a job created at now (the store's clock).
func newIDAt(now time.Time) string {
	var b [idLen]byte
	ms := uint64(now.UnixMilli())
	for i := idTimeLen - 1; i >= 0; i-- {
		b[i] = sortable[ms&63]
		ms >>= 6
	}
	var r [16]byte
	_, _ = rand.Read(r[:]) // never fails (crypto/rand panics if the kernel can't provide)
	base64.RawURLEncoding.Encode(b[idTimeLen:], r[:])
	return string(b[:])
}

const (
	idTimeLen = 7  // 42 bits of Unix milliseconds: until 2109 (8 would make every id start with '-')
	idLen     = 29 // idTimeLen + 22 (128 bits in unpadded base64)
	oldIDLen  = 22 // ids made before the time prefix: 128 random bits only
)

// sortable is the URL-safe base64 alphabet in ASCII order, so that the time prefix sorts as
// the time does.
const sortable = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"

// ValidID reports whether s could be an id this store made, so garbage never reaches bbolt.
func ValidID(s string) bool {
	if len(s) != idLen && len(s) != oldIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// recompute derives the job's state from its files (only for jobs past preprocess).
func (j *Job) recompute() {
	if j.State == Preprocess {
		return
	}
	var pending, ok, failed int
	for _, f := range j.Files {
		switch f.State {
		case FileDelivered:
			ok++
		case FileFailed:
			failed++
		default:
			pending++
		}
	}
	switch {
	case pending > 0:
		j.State = Queued
	case failed == 0:
		j.State = Delivered
	case ok == 0:
		j.State = Failed
	default:
		j.State = Partial
	}
}

// NextDue is the earliest NextAt of the job's pending files (zero when none is pending).
func (j *Job) NextDue() time.Time {
	var t time.Time
	for _, f := range j.Files {
		if f.State == FilePending && (t.IsZero() || f.NextAt.Before(t)) {
			t = f.NextAt
		}
	}
	return t
}
