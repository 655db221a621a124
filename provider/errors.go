package provider

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Class says what the dispatcher does with a failed delivery.
type Class int

const (
	// Temporary: network down, 5xx, 429, modem busy. Retry with backoff.
	Temporary Class = iota
	// Permanent: bad address, rejected content. The delivery fails for good.
	Permanent
	// Down: the sender needs an operator (auth failure, expired token, no SIM). The sender is
	// marked unhealthy; its work waits (or falls back) and is retried later.
	Down
)

func (c Class) String() string {
	switch c {
	case Temporary:
		return "temporary"
	case Permanent:
		return "permanent"
	case Down:
		return "sender-down"
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// Error is a classified delivery error. Code is the provider's own code ("550", "131047",
// "CMS 330"), kept for the status page; Err is the underlying error with the provider's text.
type Error struct {
	Class      Class
	Code       string
	Err        error
	RetryAfter time.Duration // a hint from the provider (Retry-After); 0: use the backoff
}

func (e *Error) Error() string {
	if e.Code != "" {
		return e.Code + ": " + e.Err.Error()
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Temp marks err as temporary.
func Temp(code string, err error) error { return &Error{Class: Temporary, Code: code, Err: err} }

// Perm marks err as permanent.
func Perm(code string, err error) error { return &Error{Class: Permanent, Code: code, Err: err} }

// SenderDown marks err as a sender that needs an operator.
func SenderDown(code string, err error) error { return &Error{Class: Down, Code: code, Err: err} }

// ClassOf is the one place that decides what a Send error means. Unclassified errors, and a
// cancelled or expired context, are temporary.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return Temporary
}

// RetryAfterOf returns the provider's retry hint in err, or 0.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// IsContext reports whether err is only our own cancellation (shutdown), which is never the
// provider's fault and never counts as an attempt.
func IsContext(err error) bool {
	return errors.Is(err, context.Canceled)
}

// Validation errors: /msg answers them with 400 and the message, and leaves the job unchanged.
var (
	// ErrUnknownService: serv names no service this build knows.
	ErrUnknownService = errors.New("unknown service")
	// ErrNotAvailable: the service exists but this box has no sender configured for it.
	ErrNotAvailable = errors.New("service not available on this box")
	// ErrUnknownSender: sender names no configured sender of the service.
	ErrUnknownSender = errors.New("unknown sender")
)

// CheckError is a request the service refuses before anything is queued. Field names the
// parameter at fault (dest, type, info, sender, serv) so the client knows what to fix.
type CheckError struct {
	Field string
	Msg   string
	Err   error // a sentinel above, when one applies
}

func (e *CheckError) Error() string { return e.Field + ": " + e.Msg }
func (e *CheckError) Unwrap() error { return e.Err }

// Checkf builds a CheckError for field.
func Checkf(field, format string, args ...any) error {
	return &CheckError{Field: field, Msg: fmt.Sprintf(format, args...)}
}
