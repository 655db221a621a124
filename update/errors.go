package update

import "errors"

var (
	// ErrUnavailable: RAUC is not reachable on the system bus (no bus, or no RAUC on it).
	ErrUnavailable = errors.New("update: firmware updates are not available on this system")
	// ErrBusy: an upload or an installation is already running.
	ErrBusy = errors.New("update: an update is already in progress")
	// ErrTooLarge: the bundle is larger than max_bundle.
	ErrTooLarge = errors.New("update: bundle too large")
	// ErrIncomplete: the upload ended before the announced size.
	ErrIncomplete = errors.New("update: upload incomplete")
	// ErrNoSpace: the spool directory cannot hold the bundle.
	ErrNoSpace = errors.New("update: not enough room in the spool directory")
	// ErrRefused: RAUC or the updater refused the bundle (signature, compatible, format, version).
	ErrRefused = errors.New("update: bundle refused")
)

// UnavailableError says why RAUC cannot be used; it unwraps to ErrUnavailable.
type UnavailableError struct {
	Reason string
}

func (e *UnavailableError) Error() string {
	return "firmware updates are not available on this system: " + e.Reason
}

func (e *UnavailableError) Unwrap() error { return ErrUnavailable }

// RefusedError carries the reason a bundle was refused; it unwraps to ErrRefused.
type RefusedError struct {
	Reason string
}

func (e *RefusedError) Error() string { return "bundle refused: " + e.Reason }

func (e *RefusedError) Unwrap() error { return ErrRefused }
