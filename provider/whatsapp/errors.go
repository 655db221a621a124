package whatsapp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinels. Send wraps them in a classified provider error; Check answers provider.CheckError.
var (
	// ErrBadResponse: Meta answered something that is neither a documented success nor a Graph
	// error object (a proxy's HTML page, a truncated body). Temporary: the uplink is misbehaving.
	ErrBadResponse = errors.New("whatsapp: unexpected response from the Cloud API")
	// ErrNoMessageID: a 2xx answer to /messages without messages[0].id. We cannot tell whether
	// the message went out; temporary, so at-least-once delivery retries it.
	ErrNoMessageID = errors.New("whatsapp: success answer without a message id")
	// ErrNoMediaID: a 2xx answer to /media without an id.
	ErrNoMediaID = errors.New("whatsapp: media upload answer without a media id")
	// ErrBadOptions: New was given options it cannot work with.
	ErrBadOptions = errors.New("whatsapp: bad options")
)

// APIError is a Graph API error object as the Cloud API documents it:
//
//	{"error": {"message": "...", "type": "OAuthException", "code": 131047, "error_subcode": 2494010,
//	           "error_data": {"messaging_product": "whatsapp", "details": "..."},
//	           "fbtrace_id": "..."}}
//
// Status is the HTTP status it came with. Meta asks clients to decide on code and details, not on
// the message text (which carries a title that will be deprecated); so do we.
type APIError struct {
	Status    int
	Code      int
	Subcode   int
	Type      string
	Message   string
	Details   string
	UserTitle string
	UserMsg   string
	FBTraceID string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph error %d", e.Code)
	if e.Subcode != 0 {
		fmt.Fprintf(&b, "/%d", e.Subcode)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Details != "" && e.Details != e.Message {
		b.WriteString(": ")
		b.WriteString(e.Details)
	}
	if e.FBTraceID != "" {
		b.WriteString(" [fbtrace_id ")
		b.WriteString(e.FBTraceID)
		b.WriteString("]")
	}
	return b.String()
}

// CodeString is the code as the status page and provider.Error keep it ("131047").
func (e *APIError) CodeString() string { return strconv.Itoa(e.Code) }

// Text is Meta's own words for the error: details when given, else the message.
func (e *APIError) Text() string {
	if e.Details != "" {
		return e.Details
	}
	return e.Message
}

// HTTPError is a non-2xx answer that carried no Graph error object (a load balancer's 502 page).
type HTTPError struct {
	Status int
	Body   string // the start of the body, for the log
}

func (e *HTTPError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("whatsapp: HTTP %d", e.Status)
	}
	return fmt.Sprintf("whatsapp: HTTP %d: %s", e.Status, e.Body)
}

func (e *HTTPError) Unwrap() error { return ErrBadResponse }
