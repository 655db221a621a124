package web

import (
	"errors"
	"fmt"
	"net/http"

	"multimsg/envelope"
	"multimsg/identity"
	"multimsg/provider"
	"multimsg/store"
)

var (
	// ErrUnknownDevice: the requester's IP has no known MAC and unknown_device is "reject".
	ErrUnknownDevice = identity.ErrUnknownDevice
	// ErrNotAllowed: the requester's MAC is not in allow_macs.
	ErrNotAllowed = identity.ErrNotAllowed
)

// reqError is a request refused by web itself, with its status code and what goes with it.
type reqError struct {
	status     int
	msg        string
	retryAfter string // seconds, for 429 and 503
	challenge  bool   // a 401 that offers HTTP Basic (WWW-Authenticate)
	location   string // a 303 to this path, no body
}

func (e *reqError) Error() string { return e.msg }

// Errorf is an error a Handler returns to answer with status and the message (for a route
// added from outside web; the server's own handlers use the catalogue below).
func Errorf(status int, format string, args ...any) error {
	return &reqError{status: status, msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return &reqError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func tooLarge(format string, args ...any) error {
	return &reqError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf(format, args...)}
}

func unsupported(format string, args ...any) error {
	return &reqError{status: http.StatusUnsupportedMediaType, msg: fmt.Sprintf(format, args...)}
}

// classify is the catalogue: every error a handler can meet, its status and its message.
func classify(err error) (int, string) {
	var re *reqError
	var ce *provider.CheckError
	var fe *envelope.FileError
	switch {
	case errors.Is(err, errBusy):
		return http.StatusServiceUnavailable, err.Error()
	case errors.As(err, &re):
		return re.status, re.msg
	case errors.As(err, &ce):
		return http.StatusBadRequest, ce.Error()
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "unknown id: no job with this id for this device (wrong id, or already consulted after it finished)"
	case errors.Is(err, store.ErrState):
		return http.StatusConflict, err.Error()
	case errors.Is(err, store.ErrQuota):
		return http.StatusInsufficientStorage, err.Error()
	case errors.Is(err, store.ErrReplay):
		return http.StatusConflict, "upload rejected, nothing stored: " + err.Error()
	case errors.Is(err, store.ErrTooMany):
		return http.StatusTooManyRequests, err.Error()
	case errors.Is(err, store.ErrDiskFull):
		return http.StatusInsufficientStorage, "nothing stored: " + err.Error()
	case errors.Is(err, store.ErrIO):
		return http.StatusServiceUnavailable, "store unavailable, nothing stored: " + err.Error()
	case errors.Is(err, store.ErrFailed):
		return http.StatusServiceUnavailable, "store unavailable: the data partition failed to keep a write; the box needs its admin"
	case errors.Is(err, store.ErrClosed):
		return http.StatusServiceUnavailable, "store unavailable: the gateway is shutting down; try again shortly"
	case errors.As(err, &fe):
		return http.StatusBadRequest, "upload rejected, nothing stored: " + fe.Error()
	case errors.Is(err, envelope.ErrKey):
		return http.StatusBadRequest, "upload rejected, nothing stored: part \"key\": " + err.Error() + " (fetch the current key from GET /key)"
	case errors.Is(err, ErrUnknownDevice), errors.Is(err, ErrNotAllowed):
		return http.StatusForbidden, err.Error()
	}
	// The error's text stays in the log (fail writes it): it can name files, addresses and
	// internals a device has no business reading.
	return http.StatusInternalServerError, "internal error; the gateway logged the details for its admin"
}
