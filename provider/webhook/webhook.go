// Package webhook is the "webhook" service: each delivery is one JSON document POSTed to the
// sender's URL, signed with HMAC-SHA256 so the receiver can trust it came from this box. It
// exists so that forwarding an inbound SMS (package inbox) is a job the dispatcher retries
// like any other (issue 13); devices may use it through /msg and /send too (type "json", dest
// a label the receiver gets in X-Multimsg-Dest).
//
// # Signature
//
// Every request carries
//
//	X-Multimsg-Timestamp: <unix seconds when the request was made>
//	X-Multimsg-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// A receiver recomputes the HMAC over the timestamp header, a dot and the raw body with the
// shared secret, compares it in constant time (hmac.Equal), and refuses timestamps too far
// from its clock (say ±5 minutes) so a captured request cannot be replayed later. A retried
// delivery is signed again with a new timestamp; the body (with its "id") is the same, so
// receivers de-duplicate by id.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"multimsg/provider"
)

// Headers a receiver reads to verify a request.
const (
	HeaderTimestamp = "X-Multimsg-Timestamp"
	HeaderSignature = "X-Multimsg-Signature"
)

// MaxBody is the largest document a delivery carries.
const MaxBody = 64 << 10

// Options configure one webhook sender ([[webhook.sender]]).
type Options struct {
	Name    string
	URL     string        // http or https
	Secret  string        // the HMAC key; required
	Timeout time.Duration // one request, connection included; default 10s
	Now     func() time.Time
	// Client, for tests: another transport (default: net/http with Timeout).
	Client *http.Client
}

// Driver posts deliveries to one URL.
type Driver struct {
	o Options
	c *http.Client
}

// New checks o and returns the driver.
func New(o Options) (*Driver, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook sender %q: url %q is not an http or https URL", o.Name, o.URL)
	}
	if o.Secret == "" {
		return nil, fmt.Errorf("webhook sender %q: a secret is required (the receiver verifies the signature with it)", o.Name)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := o.Client
	if c == nil {
		c = &http.Client{Timeout: o.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is an answer, not somewhere to send the body again
		}}
	}
	return &Driver{o: o, c: c}, nil
}

// Service is the webhook service over senders.
func Service(senders []provider.Sender) *provider.Service {
	return &provider.Service{Name: ServiceName, Types: []string{"json"}, PerFile: true, Senders: senders}
}

// MaxDest bounds dest: not an address (the URL is the sender's) but a label the receiver gets
// in X-Multimsg-Dest, to route what it receives.
const MaxDest = 64

// Check takes JSON documents; dest is an optional label of printable ASCII.
func (d *Driver) Check(r provider.Request) error {
	if len(r.Dest) > MaxDest {
		return provider.Checkf("dest", "a webhook's dest is a label of at most %d characters (the URL is the sender's)", MaxDest)
	}
	for _, c := range []byte(r.Dest) {
		if c < 0x21 || c > 0x7e {
			return provider.Checkf("dest", "a webhook's dest is a label of printable ASCII without spaces")
		}
	}
	if len(r.Info) > 0 {
		return provider.Checkf("info", "the webhook service takes no info")
	}
	for _, f := range r.Files {
		if len(f.Data) > MaxBody {
			return provider.Checkf("type", "file %s is %d bytes; a webhook document is at most %d", f.Name, len(f.Data), MaxBody)
		}
		if !json.Valid(f.Data) {
			return provider.Checkf("type", "file %s is not valid JSON", f.Name)
		}
	}
	return nil
}

// Sign returns the signature header's value for body sent at ts (unix seconds).
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Send posts the delivery's one file. 2xx is delivered; 408, 425, 429 and 5xx are temporary
// (Retry-After honoured); other answers are permanent; a failed connection is temporary.
func (d *Driver) Send(ctx context.Context, del provider.Delivery) (provider.Receipt, error) {
	if len(del.Files) != 1 {
		return provider.Receipt{}, provider.Perm("", fmt.Errorf("webhook: %d files in one delivery; want 1", len(del.Files)))
	}
	body := del.Files[0].Data
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.o.URL, bytes.NewReader(body))
	if err != nil {
		return provider.Receipt{}, provider.Perm("", fmt.Errorf("webhook: %w", err))
	}
	ts := d.o.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "multimsg")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(d.o.Secret, ts, body))
	req.Header.Set("X-Multimsg-Job", del.JobID)
	if del.Dest != "" {
		req.Header.Set("X-Multimsg-Dest", del.Dest)
	}
	resp, err := d.c.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return provider.Receipt{}, err
		}
		return provider.Receipt{}, provider.Temp("", fmt.Errorf("webhook: post: %w", err))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	code := strconv.Itoa(resp.StatusCode)
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return provider.Receipt{MessageID: "http " + code}, nil
	case s == 408 || s == 425 || s == 429 || s >= 500:
		e := &provider.Error{Class: provider.Temporary, Code: code, Err: fmt.Errorf("webhook: %s answered %s: %s", d.o.URL, resp.Status, clean(snippet))}
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && ra > 0 {
			e.RetryAfter = min(time.Duration(ra)*time.Second, time.Hour)
		}
		return provider.Receipt{}, e
	default:
		return provider.Receipt{}, provider.Perm(code, fmt.Errorf("webhook: %s answered %s: %s", d.o.URL, resp.Status, clean(snippet)))
	}
}

// clean keeps a receiver's answer printable for the status page.
func clean(b []byte) string {
	out := make([]rune, 0, len(b))
	for _, r := range string(b) {
		if r < 0x20 || r == 0x7f {
			r = ' '
		}
		out = append(out, r)
	}
	return string(out)
}
