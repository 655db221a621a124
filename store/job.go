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

	Files []File `json:"files"`
	Bytes int64  `json:"bytes"`

	Deadline time.Time `json:"deadline"` // the next retention step, indexed in "deadlines"

	// Seq is the job's place in upload order, given by the store: its files and its entry in
	// the work list are kept under it, so new jobs are appended rather than scattered (see
	// the package doc). 0 for jobs stored before it existed. Callers ignore it.
	Seq uint64 `json:"seq,omitempty"`
}

// File is one file of a job and its delivery state.
type File struct {
	Name     string    `json:"name"`               // multipart field name: the key in /msg's type
	Filename string    `json:"filename,omitempty"` // uploaded file name
	MIME     string    `json:"mime,omitempty"`
	Type     string    `json:"type,omitempty"`
	Size     int64     `json:"size"`
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

// newID returns 128 random bits, URL-safe base64 without padding (22 characters).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics if the kernel can't provide)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidID reports whether s could be an id this store made, so garbage never reaches bbolt.
func ValidID(s string) bool {
	if len(s) != 22 {
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
