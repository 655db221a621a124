package mail

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinels, for errors.Is. Send wraps them in a provider class (Temp, Perm, SenderDown).
var (
	// ErrClosed: Send was called after Close.
	ErrClosed = errors.New("mail: driver closed")
	// ErrInsecureAuth: a username is configured for a cleartext connection to a host that is not
	// loopback; New refuses it rather than send a password in the clear.
	ErrInsecureAuth = errors.New("mail: refusing to send credentials over an unencrypted connection to a non-loopback host (set tls = \"starttls\" or \"tls\")")
	// ErrNoSTARTTLS: tls = "starttls" but the server does not offer STARTTLS.
	ErrNoSTARTTLS = errors.New("mail: server does not offer STARTTLS")
	// ErrNoAuthMech: a username is configured but the server offers neither AUTH PLAIN nor LOGIN.
	ErrNoAuthMech = errors.New("mail: server offers neither AUTH PLAIN nor AUTH LOGIN")
	// ErrReplyTooLong: the server sent more than a reply's worth of bytes without being asked.
	ErrReplyTooLong = errors.New("mail: server reply too long")
	// ErrAborted: the connection was cut because the caller's context ended.
	ErrAborted = errors.New("mail: connection aborted: context done")
	// ErrTooLarge: the message is larger than the server's advertised SIZE.
	ErrTooLarge = errors.New("mail: message larger than the server accepts")
	// ErrOptions: the Options given to New are unusable.
	ErrOptions = errors.New("mail: bad options")
)

// ReplyError is a negative SMTP reply at one step of a session. Code is the reply code (550),
// Enhanced the RFC 3463 status ("5.1.1") when the server sent one, Text the rest of its text.
type ReplyError struct {
	Step     string // greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, message (after the final dot), RSET
	Arg      string // the recipient, for RCPT
	Code     int
	Enhanced string
	Text     string
}

func (e *ReplyError) Error() string {
	var b strings.Builder
	b.WriteString("SMTP ")
	b.WriteString(strconv.Itoa(e.Code))
	b.WriteByte(' ')
	switch e.Step {
	case "AUTH":
		b.WriteString("authentication failed")
	case "RCPT":
		fmt.Fprintf(&b, "recipient <%s> rejected", e.Arg)
	case "message":
		b.WriteString("message rejected")
	default:
		b.WriteString(e.Step)
		b.WriteString(" rejected")
	}
	b.WriteString(": ")
	if e.Enhanced != "" {
		b.WriteString(e.Enhanced)
		b.WriteByte(' ')
	}
	b.WriteString(e.Text)
	return b.String()
}

// Temporary reports whether the reply was a 4xx.
func (e *ReplyError) Temporary() bool { return e.Code/100 == 4 }

// RecipientsError is every recipient refused at RCPT; nothing was sent.
type RecipientsError struct {
	Rejected []*ReplyError
}

func (e *RecipientsError) Error() string {
	parts := make([]string, len(e.Rejected))
	for i, r := range e.Rejected {
		parts[i] = r.Error()
	}
	return "no recipient accepted: " + strings.Join(parts, "; ")
}

// Unwrap gives the individual replies to errors.As.
func (e *RecipientsError) Unwrap() []error {
	out := make([]error, len(e.Rejected))
	for i, r := range e.Rejected {
		out[i] = r
	}
	return out
}
