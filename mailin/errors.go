package mailin

import (
	"errors"

	"github.com/emersion/go-smtp"
)

var (
	// ErrMessage: the message could not be parsed within this package's bounds (MIME
	// structure too deep, too many parts, a header too long).
	ErrMessage = errors.New("mailin: malformed or oversized message")
	// ErrRecipient: a recipient names no service, alias or address this box delivers to.
	ErrRecipient = errors.New("mailin: recipient not accepted")
)

// errAuthRequired is RFC 4954's answer to MAIL or RCPT before a required AUTH: 530 5.7.0.
// go-smtp's own ErrAuthRequired says 502 ("command not implemented"), which tells a device
// nothing it can act on.
var errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
