package client

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrFile: a file handed to Upload or Send cannot be sent as given (no field name, the
// reserved name "key", a duplicate field, too large).
var ErrFile = errors.New("bad file")

// ErrAnswer: the server answered 2xx with something that is not an answer of this API
// (an HTML page from a proxy, an empty body, an id that is not URL-safe).
var ErrAnswer = errors.New("unexpected answer")

// ErrNotFound matches an *APIError with status 404: the id is unknown, belongs to
// another device, or the job was archived after its finished state was answered.
var ErrNotFound = errors.New("not found")

// ErrType: a type given (multimsg send -type) for a file that is not in the job.
var ErrType = errors.New("type for a file that is not sent")

// ErrNotDelivered: the job finished without every file delivered (Outcome).
var ErrNotDelivered = errors.New("not delivered")

// APIError is a non-2xx answer of the box.
type APIError struct {
	Status  int    // HTTP status code
	Message string // the server's reason: JSON "error", else the plain-text body
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("server answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Is makes errors.Is(err, ErrNotFound) true for a 404.
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// Temporary reports whether the same request may succeed later unchanged: 429 (over
// quota), 503 (store unavailable) and other 5xx.
func (e *APIError) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}
