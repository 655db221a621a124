package cloudapitest

import (
	"fmt"
	"net/http"
)

// Failure is an error answer the server gives. Zero fields are filled from the documented table
// for Code (Status, Message, Details, Type).
type Failure struct {
	Status     int    // HTTP status
	Code       int    // Graph error code: 131047, 130429, 190, ...
	Subcode    int    // error_subcode (0: none)
	Type       string // "OAuthException" unless given
	Message    string // "(#131047) Re-engagement message"
	Details    string // error_data.details
	RetryAfter string // a Retry-After header value, "" for none
	// Upload makes the failure apply to the next media uploads instead of the next messages.
	Upload bool
}

// documented is Meta's table of Cloud API error codes: the HTTP status each comes with, its
// title (which Meta puts in message as "(#code) title") and the details text. Sources:
//   - https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes
//     (code, title, details, HTTP status; error response syntax)
//   - https://developers.facebook.com/docs/graph-api/guides/error-handling
//     (the Graph error object: message, type, code, error_subcode, fbtrace_id; codes 1, 2, 4, 10,
//     190, 200-299 and the OAuthException subcodes such as 463 "expired")
//   - https://developers.facebook.com/documentation/business-messaging/whatsapp/throughput
//     (130429 for throughput, pair rate limit 131056)
var documented = map[int]struct {
	status  int
	title   string
	details string
}{
	0:      {http.StatusUnauthorized, "AuthException", "We were unable to authenticate the app user."},
	1:      {http.StatusBadRequest, "API Unknown", "Invalid request or possible server error."},
	2:      {http.StatusServiceUnavailable, "API Service", "Temporary due to downtime or due to being overloaded."},
	3:      {http.StatusInternalServerError, "API Method", "Capability or permissions issue."},
	4:      {http.StatusBadRequest, "Application request limit reached", "The app has reached its API call rate limit."},
	10:     {http.StatusForbidden, "Application does not have permission for this action", "Permission is either not granted or has been removed."},
	100:    {http.StatusBadRequest, "Invalid parameter", "The request included one or more unsupported or misspelled parameters."},
	190:    {http.StatusUnauthorized, "Access token has expired", "Your access token has expired."},
	200:    {http.StatusForbidden, "Permissions error", "Permission is either not granted or has been removed."},
	368:    {http.StatusForbidden, "Temporarily blocked for policies violations", "The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy."},
	80007:  {http.StatusBadRequest, "Rate limit issues", "The WhatsApp Business Account has reached its rate limit."},
	130429: {http.StatusBadRequest, "Rate limit hit", "Cloud API message throughput has been reached."},
	131000: {http.StatusInternalServerError, "Something went wrong", "Message failed to send due to an unknown error."},
	131005: {http.StatusForbidden, "Access denied", "Permission is either not granted or has been removed."},
	131008: {http.StatusBadRequest, "Required parameter is missing", "The request is missing a required parameter."},
	131009: {http.StatusBadRequest, "Parameter value is not valid", "One or more parameter values are invalid."},
	131016: {http.StatusServiceUnavailable, "Service unavailable", "A service is temporarily unavailable."},
	131021: {http.StatusBadRequest, "Recipient cannot be sender", "Sender and recipient phone number is the same."},
	131026: {http.StatusBadRequest, "Message undeliverable", "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number."},
	131030: {http.StatusBadRequest, "Recipient phone number not in allowed list", "Recipient phone number not in allowed list."},
	131031: {http.StatusBadRequest, "Business Account locked", "The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy."},
	131047: {http.StatusBadRequest, "Re-engagement message", "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
	131048: {http.StatusBadRequest, "Spam rate limit hit", "Message failed to send because there are restrictions on how many messages can be sent from this phone number."},
	131051: {http.StatusBadRequest, "Unsupported message type", "Unsupported message type."},
	131052: {http.StatusBadRequest, "Media download error", "Unable to download the media sent by the user."},
	131053: {http.StatusBadRequest, "Media upload error", "Unable to upload the media used in the message."},
	131056: {http.StatusBadRequest, "(Business Account, Consumer Account) pair rate limit hit", "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time."},
	132000: {http.StatusBadRequest, "Number of parameters does not match the expected number of params", "The number of variable parameter values included in the request did not match the number of variable parameters defined in the template."},
	132001: {http.StatusNotFound, "Template name does not exist in the translation", "Template name does not exist in the translation."},
	132018: {http.StatusBadRequest, "There was an issue with the parameters in your template.", "Param text cannot have new-line/tab characters or more than 4 consecutive spaces"},
	133010: {http.StatusBadRequest, "Account not registered", "Phone number not registered on the WhatsApp Business Platform."},
}

// Documented returns the failure Meta documents for code, for FailNextWith and assertions.
func Documented(code int) Failure {
	f := Failure{Code: code}
	return f.filled()
}

func (f Failure) filled() Failure {
	d, ok := documented[f.Code]
	if f.Status == 0 {
		f.Status = http.StatusBadRequest
		if ok {
			f.Status = d.status
		}
	}
	if f.Type == "" {
		f.Type = "OAuthException"
	}
	// A failure given its own message (Graph's OAuth errors) carries no error_data, as Graph
	// sends them; one given only a code is filled from the table.
	if f.Message == "" {
		if ok {
			f.Message = fmt.Sprintf("(#%d) %s", f.Code, d.title)
			if f.Details == "" {
				f.Details = d.details
			}
		} else {
			f.Message = fmt.Sprintf("(#%d) error", f.Code)
		}
	}
	return f
}

// body is the documented error response:
//
//	{"error": {"message": "<MESSAGE>", "type": "<TYPE>", "code": <CODE>,
//	           "error_data": {"messaging_product": "whatsapp", "details": "<DETAILS>"},
//	           "error_subcode": <SUBCODE>, "fbtrace_id": "<FBTRACE_ID>"}}
func (f Failure) body(trace string) map[string]any {
	e := map[string]any{
		"message":    f.Message,
		"type":       f.Type,
		"code":       f.Code,
		"fbtrace_id": trace,
	}
	if f.Details != "" {
		e["error_data"] = map[string]any{"messaging_product": "whatsapp", "details": f.Details}
	}
	if f.Subcode != 0 {
		e["error_subcode"] = f.Subcode
	}
	return map[string]any{"error": e}
}
