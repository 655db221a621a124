package whatsapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"multimsg/provider"
	"multimsg/setting"
)

// ServiceName is the service /msg knows this driver by.
const ServiceName = "wpp1"

// Defaults, with the reasons in docs/WHATSAPP.md.
const (
	DefaultAPIURL = "https://graph.facebook.com/v21.0"
	// DefaultPerRecipientGap: Meta's pair rate limit is about one message every 6 seconds to
	// the same WhatsApp user (error 131056 beyond it).
	DefaultPerRecipientGap = 6 * time.Second
	// DefaultTimeout bounds one JSON request to the Cloud API.
	DefaultTimeout = 30 * time.Second
	// DefaultRate: messages per second per sender, for provider.Sender.Rate. Cloud API numbers
	// take 80/s (20/s for numbers shared with the WhatsApp Business app); 20 leaves headroom
	// for inbound traffic and for other software using the same number.
	DefaultRate = 20.0
	// DefaultConcurrency: requests in flight per sender.
	DefaultConcurrency = 4
	// DefaultFallbackAfter is SPEC §2's fallback_after.
	DefaultFallbackAfter = 2 * time.Minute
	// uploadFloorRate is the slowest uplink we allow for before an upload times out: uploads
	// get Timeout plus their size at this rate.
	uploadFloorRate = 64 << 10 // bytes per second
)

// Options configure one sender ([[wpp1.sender]]).
type Options struct {
	Name          string // the sender's name ("default")
	APIURL        string // "https://graph.facebook.com/v21.0": base URL with the version segment
	PhoneNumberID string // the business phone number id (digits)
	Token         string // a system-user access token with whatsapp_business_messaging
	// HTTPClient is used for every request; nil: one with dial and TLS timeouts, proxies from
	// the environment. Per-request deadlines come from ctx and Timeout either way.
	HTTPClient *http.Client
	// PerRecipientGap spaces messages to the same recipient (pair rate limit, 131056).
	// 0: DefaultPerRecipientGap; negative: no spacing.
	PerRecipientGap time.Duration
	// Timeout bounds each JSON request; a media upload gets Timeout plus its size at 64 KiB/s.
	// 0: DefaultTimeout.
	Timeout time.Duration
	// Rate and Concurrency fill provider.Sender in Driver.Sender. 0: the defaults.
	Rate        float64
	Concurrency int
}

// Driver is one WhatsApp sender. It is safe for concurrent use.
type Driver struct {
	name     string
	base     string // APIURL without a trailing slash
	phoneID  string
	token    string
	client   *http.Client
	timeout  time.Duration
	rate     float64
	conc     int
	pacer    *pairPacer
	log      *slog.Logger
	now      func() time.Time
	media    *mediaCache
	healthMu sync.Mutex // guards health and down
	health   provider.Health
	down     Facts // Code and Since while the sender is down
}

// New checks o and builds the driver. It does not talk to Meta: a wrong token shows up as the
// sender's health after the first send.
func New(o Options, log *slog.Logger) (*Driver, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Name == "" {
		o.Name = "default"
	}
	if o.APIURL == "" {
		o.APIURL = DefaultAPIURL
	}
	if err := checkAccount(o.APIURL, o.PhoneNumberID, o.Token); err != nil {
		return nil, fmt.Errorf("%w: sender %s: %w", ErrBadOptions, o.Name, err)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.PerRecipientGap == 0 {
		o.PerRecipientGap = DefaultPerRecipientGap
	}
	if o.Rate <= 0 {
		o.Rate = DefaultRate
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: o.Timeout,
			ExpectContinueTimeout: time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   o.Concurrency,
			ForceAttemptHTTP2:     true,
		}}
	}
	return &Driver{
		name:    o.Name,
		base:    strings.TrimRight(o.APIURL, "/"),
		phoneID: o.PhoneNumberID,
		token:   o.Token,
		client:  client,
		timeout: o.Timeout,
		rate:    o.Rate,
		conc:    o.Concurrency,
		pacer:   newPairPacer(o.PerRecipientGap),
		log:     log.With("service", ServiceName, "sender", o.Name),
		now:     time.Now,
		media:   newMediaCache(64, 24*time.Hour),
		health:  provider.Health{OK: true},
	}, nil
}

// Sender is the provider.Sender for this driver, with its rate and concurrency.
func (d *Driver) Sender() provider.Sender {
	return provider.Sender{Name: d.name, Driver: d, Concurrency: d.conc, Rate: d.rate}
}

// Service is the wpp1 service over senders (the first is the default).
func Service(senders []provider.Sender, fallback []string, fallbackAfter time.Duration) *provider.Service {
	if fallbackAfter <= 0 {
		fallbackAfter = DefaultFallbackAfter
	}
	return &provider.Service{
		Name:          ServiceName,
		Types:         []string{"text", "image", "audio", "video", "document"},
		PerFile:       true,
		Senders:       senders,
		Fallback:      fallback,
		FallbackAfter: fallbackAfter,
		MaxText:       MaxTextChars,
	}
}

// Check refuses what WhatsApp would refuse for its shape. It does not block.
func (d *Driver) Check(r provider.Request) error { return check(r) }

// Facts are what the driver knows of its account: provider.Health's facts for a wpp1 sender.
type Facts struct {
	PhoneNumberID string    `json:"phone_number_id"`
	Code          string    `json:"code,omitempty"` // Meta's error code while the sender is down
	Since         time.Time `json:"since,omitzero"` // when it went down (UTC, whole seconds)
}

// Each lists the facts for the status page.
func (f Facts) Each(fn func(label, value string)) {
	fn("code", f.Code)
	fn("phone_number_id", f.PhoneNumberID)
	if !f.Since.IsZero() {
		fn("since", f.Since.Format(time.RFC3339))
	}
}

// Health is the sender's own view: down after an auth or permission error, until a success.
func (d *Driver) Health() provider.Health {
	d.healthMu.Lock()
	defer d.healthMu.Unlock()
	h := d.health
	f := d.down
	f.PhoneNumberID = d.phoneID
	h.Facts = f
	return h
}

func (d *Driver) setHealth(ok bool, detail, code string) {
	d.healthMu.Lock()
	defer d.healthMu.Unlock()
	switch {
	case ok && d.health.OK:
	case ok:
		d.health, d.down = provider.Health{OK: true}, Facts{}
		d.log.Info("sender healthy again")
	case !d.health.OK:
		// Still down: keep since, refresh what Meta says now.
		d.health.Detail = detail
		d.down.Code = code
	default:
		d.health = provider.Health{OK: false, Detail: detail}
		d.down = Facts{Code: code, Since: d.now().UTC().Truncate(time.Second)}
		d.log.Warn("sender down", "code", code, "detail", detail)
	}
}

// Send delivers d's one file.
func (d *Driver) Send(ctx context.Context, dl provider.Delivery) (provider.Receipt, error) {
	if len(dl.Files) != 1 {
		return provider.Receipt{}, provider.Perm("", fmt.Errorf("whatsapp: a delivery carries one file, got %d", len(dl.Files)))
	}
	f := dl.Files[0]
	log := d.log.With("job", dl.JobID, "file", f.Name, "to", maskNumber(dl.Dest), "attempt", dl.Attempt)
	msg, err := d.message(ctx, dl, f)
	if err != nil {
		d.note(log, err)
		return provider.Receipt{}, err
	}
	release, err := d.pacer.acquire(ctx, dl.Dest)
	if err != nil {
		return provider.Receipt{}, provider.Temp("", fmt.Errorf("whatsapp: waiting for the recipient's pair rate: %w", err))
	}
	id, err := d.postMessage(ctx, msg)
	release(!isNotSent(err))
	if err != nil {
		if mk := msg.mediaKey; mk != "" && provider.ClassOf(err) == provider.Permanent {
			d.media.drop(mk)
		}
		d.note(log, err)
		return provider.Receipt{}, err
	}
	d.setHealth(true, "", "")
	log.Info("sent", "type", msg.Type, "message_id", id)
	return provider.Receipt{MessageID: id}, nil
}

// note logs a failed send and marks the sender down when the error says so.
func (d *Driver) note(log *slog.Logger, err error) {
	var pe *provider.Error
	if !errors.As(err, &pe) {
		log.Warn("send failed", "err", err)
		return
	}
	if pe.Class == provider.Down {
		var ae *APIError
		detail := "Cloud API refused the sender's token (HTTP " + pe.Code + ")"
		if errors.As(err, &ae) {
			detail = senderDownDetail(ae)
		}
		d.setHealth(false, detail, pe.Code)
	}
	log.Warn("send failed", "class", pe.Class.String(), "code", pe.Code, "err", pe.Err, "retry_after", pe.RetryAfter)
}

// outMessage is the JSON body of POST /{phone-number-id}/messages
// (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages).
type outMessage struct {
	MessagingProduct string       `json:"messaging_product"`
	RecipientType    string       `json:"recipient_type"`
	To               string       `json:"to"`
	Type             string       `json:"type"`
	Text             *outText     `json:"text,omitempty"`
	Image            *outMedia    `json:"image,omitempty"`
	Audio            *outMedia    `json:"audio,omitempty"`
	Video            *outMedia    `json:"video,omitempty"`
	Document         *outMedia    `json:"document,omitempty"`
	Template         *outTemplate `json:"template,omitempty"`

	mediaKey string
}

type outText struct {
	PreviewURL bool   `json:"preview_url"`
	Body       string `json:"body"`
}

type outMedia struct {
	ID       string `json:"id"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

type outTemplate struct {
	Name       string         `json:"name"`
	Language   outLanguage    `json:"language"`
	Components []outComponent `json:"components,omitempty"`
}

type outLanguage struct {
	Policy string `json:"policy"`
	Code   string `json:"code"`
}

type outComponent struct {
	Type       string     `json:"type"`
	Parameters []outParam `json:"parameters"`
}

type outParam struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// message builds the message for f, uploading media first.
func (d *Driver) message(ctx context.Context, dl provider.Delivery, f provider.File) (*outMessage, error) {
	if err := checkDest(dl.Dest); err != nil {
		return nil, provider.Perm("", err)
	}
	info, err := DecodeInfo(dl.Info)
	if err != nil {
		return nil, provider.Perm("", err)
	}
	m := &outMessage{MessagingProduct: "whatsapp", RecipientType: "individual", To: dl.Dest, Type: f.Type}
	if f.Type == "text" {
		if t := info.Template; t != nil {
			params, err := templateParams(t, f)
			if err != nil {
				return nil, provider.Perm("", err)
			}
			m.Type = "template"
			m.Template = &outTemplate{Name: t.Name, Language: outLanguage{Policy: "deterministic", Code: t.Language}}
			if len(params) > 0 {
				c := outComponent{Type: "body"}
				for _, p := range params {
					c.Parameters = append(c.Parameters, outParam{Type: "text", Text: p})
				}
				m.Template.Components = []outComponent{c}
			}
			return m, nil
		}
		body, err := checkText(f)
		if err != nil {
			return nil, provider.Perm("", err)
		}
		m.Text = &outText{Body: body}
		return m, nil
	}
	mt, err := checkMedia(f)
	if err != nil {
		return nil, provider.Perm("", err)
	}
	filename := documentFilename(f)
	key := mediaKeyOf(dl.JobID, f, mt, filename)
	id, ok := d.media.get(key, d.now())
	if !ok {
		id, err = d.upload(ctx, mt, filename, f.Data)
		if err != nil {
			return nil, err
		}
		d.media.put(key, id, d.now())
	}
	m.mediaKey = key
	om := &outMedia{ID: id}
	if mediaKinds[f.Type].caption {
		om.Caption = info.Caption
	}
	switch f.Type {
	case "image":
		m.Image = om
	case "audio":
		m.Audio = om
	case "video":
		m.Video = om
	case "document":
		om.Filename = filename
		m.Document = om
	}
	return m, nil
}

func (d *Driver) postMessage(ctx context.Context, m *outMessage) (string, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return "", provider.Perm("", fmt.Errorf("whatsapp: encoding the message: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+"/"+d.phoneID+"/messages", bytes.NewReader(body))
	if err != nil {
		return "", provider.Perm("", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.do(req)
	if err != nil {
		return "", err
	}
	id, err := decodeSendResponse(resp)
	if err != nil {
		return "", provider.Temp("", err)
	}
	return id, nil
}

// upload posts data to /{phone-number-id}/media as the documented multipart form: file (with
// its Content-Type and name), type (the MIME type) and messaging_product=whatsapp. The body is
// streamed from data without a second copy: a 100 MB document must not need 200 MB.
func (d *Driver) upload(ctx context.Context, mimeType, filename string, data []byte) (string, error) {
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	_ = mw.WriteField("messaging_product", "whatsapp")
	_ = mw.WriteField("type", mimeType)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, escapeQuotes(filename)))
	h.Set("Content-Type", mimeType)
	if _, err := mw.CreatePart(h); err != nil {
		return "", provider.Perm("", err)
	}
	prefix := append([]byte(nil), head.Bytes()...)
	head.Reset()
	_ = mw.Close()
	trailer := append([]byte(nil), head.Bytes()...)
	size := int64(len(prefix) + len(data) + len(trailer))
	newBody := func() io.Reader {
		return io.MultiReader(bytes.NewReader(prefix), bytes.NewReader(data), bytes.NewReader(trailer))
	}

	timeout := d.timeout + time.Duration(int64(len(data))/uploadFloorRate)*time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+"/"+d.phoneID+"/media", newBody())
	if err != nil {
		return "", provider.Perm("", err)
	}
	req.ContentLength = size
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(newBody()), nil }
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := d.do(req)
	if err != nil {
		return "", err
	}
	id, err := decodeMediaResponse(resp)
	if err != nil {
		return "", provider.Temp("", err)
	}
	return id, nil
}

// errNotSent marks a request that never reached Meta (dial refused, DNS): no pair gap is owed.
type errNotSent struct{ err error }

func (e errNotSent) Error() string { return e.err.Error() }
func (e errNotSent) Unwrap() error { return e.err }

func isNotSent(err error) bool {
	var ns errNotSent
	return err != nil && errors.As(err, &ns)
}

// do sends req with the bearer token and returns a 2xx body, or a classified error.
func (d *Driver) do(req *http.Request) ([]byte, error) {
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Accept", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, netError(req.Context(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, netError(req.Context(), err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse)) // let the connection be reused
	if resp.StatusCode/100 == 2 {
		return body, nil
	}
	return nil, classify(resp.StatusCode, resp.Header, body, d.now())
}

// netError classifies a transport failure: always temporary. A dial that failed is marked as
// not sent.
func netError(ctx context.Context, err error) error {
	code := "network"
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		code = "timeout"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		err = errNotSent{err}
	}
	return provider.Temp(code, fmt.Errorf("whatsapp: %w", err))
}

func escapeQuotes(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "", "\n", "").Replace(s)
}

// maskNumber keeps a phone number recognisable in logs without writing it out whole.
func maskNumber(n string) string {
	if len(n) < 7 {
		return "…"
	}
	return n[:4] + "…" + n[len(n)-3:]
}

// mediaCache remembers uploaded media ids so a retried send does not upload the same bytes
// again over a slow uplink. Meta keeps uploaded media 30 days; we reuse an id for at most ttl.
type mediaCache struct {
	mu  sync.Mutex
	max int
	ttl time.Duration
	m   map[string]mediaEntry
}

type mediaEntry struct {
	id string
	at time.Time
}

func newMediaCache(max int, ttl time.Duration) *mediaCache {
	return &mediaCache{max: max, ttl: ttl, m: make(map[string]mediaEntry)}
}

// mediaKeyOf names an upload for reuse: a job's files never change, so the job id and the
// file name identify the bytes without hashing them (a 100 MB document takes seconds to hash
// on an ARMv7 board). Without a job id (direct use), the content is hashed.
func mediaKeyOf(jobID string, f provider.File, mimeType, filename string) string {
	if jobID != "" {
		return fmt.Sprintf("job\x00%s\x00%s\x00%s\x00%s\x00%d", jobID, f.Name, mimeType, filename, len(f.Data))
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", mimeType, filename)
	h.Write(f.Data)
	return string(h.Sum(nil))
}

func (c *mediaCache) get(key string, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || now.Sub(e.at) > c.ttl {
		return "", false
	}
	return e.id, true
}

func (c *mediaCache) put(key, id string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		var oldest string
		var at time.Time
		for k, e := range c.m {
			if oldest == "" || e.at.Before(at) {
				oldest, at = k, e.at
			}
		}
		delete(c.m, oldest)
	}
	c.m[key] = mediaEntry{id: id, at: now}
}

func (c *mediaCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

// checkAccount is the one check of a sender's account settings, made by the configuration
// (Config.Validate) and by New alike. Its error names the key.
func checkAccount(apiURL, phoneID, token string) error {
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return setting.Errorf("api_url", "%q is not an http(s) URL like %s", apiURL, DefaultAPIURL)
	}
	if phoneID == "" || strings.Trim(phoneID, "0123456789") != "" || len(phoneID) > 32 {
		return setting.Errorf("phone_number_id", "%q: want the numeric id Meta shows for the number", phoneID)
	}
	if token == "" || strings.ContainsAny(token, " \t\r\n") {
		return setting.Errorf("token", "is empty or contains whitespace")
	}
	return nil
}
