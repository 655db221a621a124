package mailin

import "errors"

var (
	// ErrMessage: the message could not be parsed within this package's bounds (MIME
	// structure too deep, too many parts, a header too long).
	ErrMessage = errors.New("mailin: malformed or oversized message")
	// ErrRecipient: a recipient names no service, alias or address this box delivers to.
	ErrRecipient = errors.New("mailin: recipient not accepted")
)
