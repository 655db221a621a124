package whatsapp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"multimsg/provider"
)

// maxResponse bounds what we read of any Cloud API answer. Documented answers are a few hundred
// bytes; anything longer is not one of them.
const maxResponse = 64 << 10

// graphErrorBody is the envelope of a Graph error. error_data is an object for messaging errors
// and may be a plain string for template errors, so it is decoded by hand; code may come as a
// number or, from some proxies, as a numeric string.
type graphErrorBody struct {
	Error *struct {
		Message   string          `json:"message"`
		Type      string          `json:"type"`
		Code      flexInt         `json:"code"`
		Subcode   flexInt         `json:"error_subcode"`
		UserTitle string          `json:"error_user_title"`
		UserMsg   string          `json:"error_user_msg"`
		Data      json.RawMessage `json:"error_data"`
		FBTraceID string          `json:"fbtrace_id"`
	} `json:"error"`
}

type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(strings.TrimSpace(s))
	}
	n, err := strconv.ParseInt(string(b), 10, 32)
	if err != nil {
		return fmt.Errorf("code %q is not an integer", b)
	}
	*f = flexInt(n)
	return nil
}

// decodeGraphError parses body as a Graph error object. ok is false when it is not one.
func decodeGraphError(status int, body []byte) (*APIError, bool) {
	var env graphErrorBody
	if err := json.Unmarshal(body, &env); err != nil || env.Error == nil {
		return nil, false
	}
	g := env.Error
	e := &APIError{
		Status:    status,
		Code:      int(g.Code),
		Subcode:   int(g.Subcode),
		Type:      clip(g.Type, 200),
		Message:   clip(g.Message, 1000),
		UserTitle: clip(g.UserTitle, 200),
		UserMsg:   clip(g.UserMsg, 1000),
		FBTraceID: clip(g.FBTraceID, 100),
	}
	if len(g.Data) > 0 {
		var obj struct {
			Details string `json:"details"`
		}
		var s string
		if json.Unmarshal(g.Data, &obj) == nil {
			e.Details = clip(obj.Details, 1000)
		} else if json.Unmarshal(g.Data, &s) == nil {
			e.Details = clip(s, 1000)
		}
	}
	return e, true
}

// sendResponse is the documented answer of POST /{phone-number-id}/messages.
type sendResponse struct {
	MessagingProduct string `json:"messaging_product"`
	Contacts         []struct {
		Input string `json:"input"`
		WaID  string `json:"wa_id"`
	} `json:"contacts"`
	Messages []struct {
		ID            string `json:"id"`
		MessageStatus string `json:"message_status"`
	} `json:"messages"`
}

// decodeSendResponse returns messages[0].id of a 2xx answer to /messages.
func decodeSendResponse(body []byte) (string, error) {
	var r sendResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	if len(r.Messages) == 0 || r.Messages[0].ID == "" {
		return "", ErrNoMessageID
	}
	id := r.Messages[0].ID
	if len(id) > 512 || !utf8.ValidString(id) {
		return "", fmt.Errorf("%w: message id of %d bytes", ErrBadResponse, len(id))
	}
	return id, nil
}

// decodeMediaResponse returns the id of a 2xx answer to /media: {"id": "<MEDIA_ID>"}.
func decodeMediaResponse(body []byte) (string, error) {
	var r struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	if r.ID == "" {
		return "", ErrNoMediaID
	}
	if len(r.ID) > 512 || !utf8.ValidString(r.ID) {
		return "", fmt.Errorf("%w: media id of %d bytes", ErrBadResponse, len(r.ID))
	}
	return r.ID, nil
}

// classes of Graph codes. Sources: Cloud API error codes
// (https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes),
// Graph API error handling (https://developers.facebook.com/docs/graph-api/guides/error-handling),
// throughput (https://developers.facebook.com/documentation/business-messaging/whatsapp/throughput).
// docs/WHATSAPP.md has the same table with the reasons.
var (
	// Throughput and transient platform trouble: try again later.
	tempCodes = map[int]string{
		1:      "API unknown (possibly temporary)",
		2:      "API service temporarily unavailable",
		4:      "application request limit reached",
		17:     "user request limit reached",
		341:    "application limit reached",
		613:    "call rate limit",
		80007:  "WhatsApp Business Account rate limit",
		130429: "Cloud API throughput reached",
		131000: "something went wrong at Meta",
		131016: "service unavailable",
		131048: "spam rate limit hit",
		131056: "pair rate limit hit (too many messages to this recipient)",
		131057: "business account in maintenance mode",
		133004: "server temporarily unavailable",
	}
	// The sender (token, permissions, account, phone number id) needs an operator.
	downCodes = map[int]string{
		0:      "authentication failed",
		3:      "app lacks the capability or permission",
		10:     "permission denied",
		102:    "API session expired or invalid",
		190:    "token expired or invalid",
		368:    "temporarily blocked for policy violations",
		2500:   "request path or token not usable (check api_url and token)",
		131005: "access denied",
		131031: "business account locked",
		131037: "display name not approved",
		131042: "business eligibility (payment) issue",
		131045: "incorrect certificate (phone number not registered)",
		133010: "phone number not registered on the Cloud API",
	}
)

// senderDownDetail names the problem for the status page: "token expired or invalid (190)".
func senderDownDetail(e *APIError) string {
	what, ok := downCodes[e.Code]
	switch {
	case e.Code >= 200 && e.Code <= 299:
		what = "permission missing"
	case e.Code == 100 && e.Subcode == 33:
		what = "phone number id not found or not accessible with this token"
	case !ok:
		what = "sender refused"
	}
	return fmt.Sprintf("%s (%d): %s", what, e.Code, e.Text())
}

// classify turns a non-2xx answer into a classified provider error.
func classify(status int, hdr http.Header, body []byte, now time.Time) error {
	e, ok := decodeGraphError(status, body)
	retryAfter := parseRetryAfter(hdr.Get("Retry-After"), now)
	if !ok {
		herr := &HTTPError{Status: status, Body: snippet(body)}
		switch {
		case status == http.StatusUnauthorized, status == http.StatusForbidden:
			return &provider.Error{Class: provider.Down, Code: strconv.Itoa(status), Err: herr}
		case status == http.StatusTooManyRequests, status >= 500, status == http.StatusRequestTimeout:
			return &provider.Error{Class: provider.Temporary, Code: strconv.Itoa(status), Err: herr, RetryAfter: retryAfter}
		default:
			// A 4xx with no Graph error: not the Cloud API talking (a captive portal, a proxy).
			return &provider.Error{Class: provider.Temporary, Code: strconv.Itoa(status), Err: herr, RetryAfter: retryAfter}
		}
	}
	return classifyAPIError(e, retryAfter)
}

// classifyAPIError is the one place a Graph code becomes a class.
func classifyAPIError(e *APIError, retryAfter time.Duration) error {
	class := provider.Permanent
	switch {
	case isDown(e):
		class = provider.Down
	case tempCodes[e.Code] != "":
		class = provider.Temporary
	case e.Status == http.StatusTooManyRequests || e.Status >= 500:
		// Meta documents 5xx as its own trouble (131000 is a 500, 131016 a 503).
		class = provider.Temporary
	case e.Status == http.StatusUnauthorized:
		class = provider.Down
	}
	// Everything else is a request WhatsApp will refuse again as it is: 131047 (24-hour window
	// closed), 131026 (not deliverable), 131030, 100 and 1310xx (bad parameter), 132xxx
	// (template), unknown 4xx codes. Permanent, so the file fails (or falls back) with Meta's
	// reason instead of retrying until its time to live.
	return &provider.Error{Class: class, Code: e.CodeString(), Err: e, RetryAfter: retryAfter}
}

func isDown(e *APIError) bool {
	if _, ok := downCodes[e.Code]; ok {
		return true
	}
	if e.Code >= 200 && e.Code <= 299 {
		return true
	}
	// (#100) "Unsupported post request. Object with ID '...' does not exist": a wrong
	// phone_number_id or a token without access to it. Configuration, not the message.
	return e.Code == 100 && e.Subcode == 33
}

// parseRetryAfter reads a Retry-After header: delta-seconds or an HTTP date. It is capped at an
// hour: a hint beyond that is more likely a broken proxy than a plan.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > 3600 {
			n = 3600
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d < 0 {
		return 0
	}
	return min(d, time.Hour)
}

func snippet(b []byte) string {
	s := strings.ToValidUTF8(string(b[:min(len(b), 200)]), "?")
	return strings.Join(strings.Fields(s), " ")
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return truncUTF8(s, n) + "…"
}

// truncUTF8 cuts s to at most n bytes without splitting a character.
func truncUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
