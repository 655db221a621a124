package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"multimsg/dispatch"
	"multimsg/envelope"
	"multimsg/provider"
	"multimsg/sim"
	"multimsg/store"
)

// Options configure a Server.
type Options struct {
	Store      *store.Store
	Registry   *provider.Registry
	Dispatcher *dispatch.Dispatcher
	Key        *envelope.Key
	Identity   *Identity
	Limits     Limits
	Admin      *AdminAuth
	Version    string
	// ReadTimeout bounds reading one request (slow clients); default 30s.
	ReadTimeout time.Duration
	Log         *slog.Logger
	// Status, if set, adds facts to /admin/api/status (ARP table, modem, …).
	Status func() map[string]any
	// DataDir is the data directory; the admin page shows its free disk space.
	DataDir string
	// MetricsPublic serves /metrics without the admin login (config [admin] metrics_public).
	MetricsPublic bool
	// HostNames are names, besides its IP addresses, localhost and its hostname, that device
	// routes accept in Host (config host_names; origin.go).
	HostNames []string
	// Update serves the firmware update routes (update.go); nil answers them 503.
	Update Updater
	// ReportWait is how long after an SMS is accepted its status reports are waited for; then
	// the file's report is "unconfirmed" (config sms.report_wait). 0: waited for ever.
	ReportWait time.Duration
	// InboxDevices may read GET /inbox (inbox.go): MACs, "local" for the box itself, "*" for
	// every device. Empty: nobody (config sms.inbox.devices).
	InboxDevices []string
	// SIM, if set, is the SIM's credit as the credit watch last saw it (sim, docs/SIM.md): the
	// page's SIM panel, the status JSON and /metrics show it.
	SIM func() sim.Status
	// Routes are routes another package adds (docs/DESIGN.md, "Adding a route"); a path and
	// method of the server's own table cannot be taken over.
	Routes []Route
	// Metrics write series another package keeps (Prometheus text, e.g. with
	// github.com/VictoriaMetrics/metrics' Write* helpers) into /metrics at each scrape: a
	// capability's own counters, without web knowing it (docs/DESIGN.md, "Adding a route").
	Metrics []func(io.Writer)
}

// Server is the HTTP front.
type Server struct {
	o       Options
	log     *slog.Logger
	srv     *fasthttp.Server
	started time.Time

	hmu      sync.Mutex // guards healthAt, healthErr
	healthAt time.Time
	healthOK error

	adm  *adminState    // admin sessions, login limiter (admin_auth.go)
	hist *history       // the admin page's 24-hour chart (admin_history.go)
	met  *serverMetrics // /metrics (metrics.go)

	hosts  map[string]bool // names accepted in Host on device routes (origin.go)
	budget *budget         // bytes of upload bodies in flight (cost.go)
	crypto *cryptoGate     // bcrypt and RSA semaphores, RSA per-device rate (crypto_gate.go)
	table  *table          // the routes (routes.go)
}

// New builds the server; Serve starts it.
func New(o Options) *Server {
	if o.Limits.MaxBody <= 0 {
		o.Limits.MaxBody = 32 << 20
	}
	if o.Limits.MaxFiles <= 0 {
		o.Limits.MaxFiles = 16
	}
	if o.Limits.MaxField <= 0 {
		o.Limits.MaxField = 64 << 10
	}
	if o.Limits.MaxForm <= 0 {
		o.Limits.MaxForm = 64 << 10
	}
	if o.Limits.MaxArgs <= 0 {
		o.Limits.MaxArgs = 64
	}
	if o.Limits.BodyBudget <= 0 {
		o.Limits.BodyBudget = 64 << 20
	}
	if o.Limits.BodyBudget < o.Limits.MaxBody+multipartSlack {
		o.Limits.BodyBudget = o.Limits.MaxBody + multipartSlack // one largest upload must fit
	}
	if o.Limits.BodyWait <= 0 {
		o.Limits.BodyWait = 5 * time.Second
	}
	if o.Limits.MaxConnsPerIP <= 0 {
		o.Limits.MaxConnsPerIP = 32
	}
	if o.Limits.Concurrency <= 0 {
		o.Limits.Concurrency = 256
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 30 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Identity == nil {
		o.Identity = &Identity{}
	}
	if o.Admin == nil {
		o.Admin = &AdminAuth{}
	}
	s := &Server{o: o, log: o.Log, started: time.Now(), adm: newAdminState(time.Now),
		budget: newBudget(int64(o.Limits.BodyBudget), o.Limits.BodyWait), crypto: newCryptoGate(time.Now),
		hosts: hostNames(o.HostNames)}
	s.hist = newHistory(s.started) // counts live from now; Serve reads the earlier hours back
	s.table = newTable(s.routes(o.Routes))
	s.initMetrics()
	s.srv = &fasthttp.Server{
		Handler:      s.instrument(s.handle),
		Name:         "multimsg",
		ReadTimeout:  o.ReadTimeout,
		WriteTimeout: o.ReadTimeout,
		IdleTimeout:  2 * time.Minute,
		// Bodies are streamed: fasthttp reads at most a route's prefetch (headerReceived), the
		// handler the rest under the route's limit and the budget (cost.go).
		StreamRequestBody:  true,
		HeaderReceived:     s.headerReceived,
		MaxRequestBodySize: smallBody,
		Concurrency:        o.Limits.Concurrency,
		MaxConnsPerIP:      o.Limits.MaxConnsPerIP,
		ErrorHandler:       s.transportError,
		ExpectHandler:      s.expect,
		Logger:             fasthttpLogger{o.Log},
		CloseOnShutdown:    true,
		// The handlers parse multipart bodies themselves (parseMultipart, with our limits).
		// Left on, fasthttp would parse every multipart body into a form first, and
		// PostBody would then marshal that form back into a body: twice the work per upload.
		DisablePreParseMultipartForm: true,
	}
	return s
}

// Serve answers requests on ln until Shutdown. The admin chart's earlier hours are read back
// from the store in the background meanwhile, so the listener never waits for them.
func (s *Server) Serve(ln net.Listener) error {
	s.hist.load(s.o.Store, s.log)
	return s.srv.Serve(ln)
}

// Shutdown stops accepting, lets requests in flight finish (bounded by ctx), and returns.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.ShutdownWithContext(ctx)
	s.hist.halt(ctx)
	return err
}

func wantsJSON(ctx *fasthttp.RequestCtx) bool {
	return strings.Contains(string(ctx.Request.Header.Peek("Accept")), "application/json")
}

// reply answers text as plain text, or v as JSON when the client asked for JSON.
func reply(ctx *fasthttp.RequestCtx, status int, text string, v any) {
	replyAs(ctx, wantsJSON(ctx), status, text, v)
}

// replyAs answers v as JSON, or text as plain text.
func replyAs(ctx *fasthttp.RequestCtx, asJSON bool, status int, text string, v any) {
	ctx.SetStatusCode(status)
	if asJSON {
		ctx.SetContentType("application/json")
		b, _ := json.Marshal(v)
		ctx.SetBody(append(b, '\n'))
		return
	}
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(text)
}

// fail is the one place that turns an error into a response: status and message from the
// catalogue (classify), the headers that go with them, the body as JSON when the route (r, nil
// when none matched) or the client asks for it. A 5xx is logged here, once.
func (s *Server) fail(ctx *fasthttp.RequestCtx, r *Route, err error) {
	status, msg := classify(err)
	var re *reqError
	if errors.As(err, &re) {
		if re.location != "" {
			seeOther(ctx, re.location)
			return
		}
		if re.retryAfter != "" {
			ctx.Response.Header.Set("Retry-After", re.retryAfter)
		}
		// The Basic challenge is for scripts and a browser opening the URL; the page's own
		// fetches (Sec-Fetch-Mode other than navigate) get a bare 401, which the script turns
		// into the login form, instead of the browser's password dialog.
		if m := string(ctx.Request.Header.Peek("Sec-Fetch-Mode")); re.challenge && (m == "" || m == "navigate") {
			ctx.Response.Header.Set("WWW-Authenticate", `Basic realm="multimsg admin"`)
		}
	}
	if errors.Is(err, errBusy) && len(ctx.Response.Header.Peek("Retry-After")) == 0 {
		ctx.Response.Header.Set("Retry-After", "5")
	}
	if status >= 500 && status != http.StatusInsufficientStorage {
		s.log.Error("web: request failed", "path", string(ctx.Path()), "status", status, "err", err)
	}
	replyAs(ctx, r != nil && r.JSON || wantsJSON(ctx), status, msg, map[string]string{"error": msg})
}

// transportError answers what fasthttp refuses before a handler runs (too large, too slow).
func (s *Server) transportError(ctx *fasthttp.RequestCtx, err error) {
	var status int
	var msg string
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status, msg = http.StatusRequestEntityTooLarge, "request body too large: at most "+itoa(s.o.Limits.MaxBody)+" bytes per request"
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			status, msg = http.StatusRequestTimeout, "request took too long to arrive"
		} else {
			status, msg = http.StatusBadRequest, "malformed request: "+err.Error()
		}
	}
	reply(ctx, status, msg, map[string]string{"error": msg})
}

// who identifies the requester and records it in the device registry.
func (s *Server) who(ctx *fasthttp.RequestCtx) (string, string, error) {
	ip := addrOf(ctx.RemoteIP())
	dev, err := s.o.Identity.Identify(ctx, ip)
	if err != nil {
		return "", "", err
	}
	if dev != Local {
		s.o.Store.TouchDevice(dev, ip.String(), time.Now())
	}
	return dev, ip.String(), nil
}

func (s *Server) key(ctx *fasthttp.RequestCtx) error {
	pem := s.o.Key.PublicPEM()
	if wantsJSON(ctx) {
		reply(ctx, 200, "", map[string]string{"key": string(pem)})
		return nil
	}
	ctx.SetContentType("application/x-pem-file")
	ctx.SetBody(pem)
	return nil
}

// upload parses and (if a key part came) decrypts a multipart upload.
func (s *Server) upload(ctx *fasthttp.RequestCtx, dev string, params bool) (*form, error) {
	f, err := parseMultipart(string(ctx.Request.Header.ContentType()), ctx.PostBody(), s.o.Limits, params)
	if err != nil {
		return nil, err
	}
	if len(f.files) == 0 {
		return nil, badRequest("no files: upload at least one file part (curl -F name=@file)")
	}
	if f.key != nil {
		var op *envelope.Opener
		err := s.crypto.rsa(ctx, dev, func() (err error) {
			op, err = s.o.Key.Unwrap(f.key)
			return err
		})
		if err != nil {
			return nil, err
		}
		for i := range f.files {
			plain, err := op.Open(f.files[i].Name, f.files[i].Data)
			if err != nil {
				return nil, err
			}
			f.files[i].Data = plain
		}
	}
	return f, nil
}

func (s *Server) data(ctx *fasthttp.RequestCtx) error {
	if ctx.UserValue(streamingKey) != nil { // a large or chunked body, still on the connection
		return s.dataStream(ctx)
	}
	dev := DeviceOf(ctx)
	f, err := s.upload(ctx, dev.ID, false)
	if err != nil {
		return err
	}
	j, err := s.o.Store.Create(ctx, store.NewJob{Device: dev.ID, IP: dev.IP, Files: f.files, KeyDigest: keyDigest(f.key)})
	if err != nil {
		return err
	}
	reply(ctx, 200, j.ID, map[string]string{"id": j.ID, "state": string(j.State)})
	return nil
}

// msgFields reads /msg's fields from an urlencoded or multipart body.
func (s *Server) msgFields(ctx *fasthttp.RequestCtx) (map[string]string, error) {
	ct := string(ctx.Request.Header.ContentType())
	if strings.HasPrefix(ct, "multipart/") {
		f, err := parseMultipart(ct, ctx.PostBody(), s.o.Limits, true)
		if err != nil {
			return nil, err
		}
		if len(f.files) > 0 || f.key != nil {
			return nil, badRequest("/msg takes fields only (id, serv, dest, type, info, sender), not files; upload files with /data")
		}
		return f.fields, nil
	}
	if ct != "" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, unsupported("this route takes form fields (application/x-www-form-urlencoded or multipart/form-data), got %s", ct)
	}
	out := map[string]string{}
	var err error
	for k, v := range ctx.PostArgs().All() {
		if len(v) > s.o.Limits.MaxField {
			err = tooLarge("field %q is larger than %d bytes", k, s.o.Limits.MaxField)
		}
		out[string(k)] = string(v)
	}
	return out, err
}

// params turns /msg's fields into provider parameters; types may be absent only for /send.
func params(fields map[string]string, typesOptional bool) (provider.Params, json.RawMessage, error) {
	p := provider.Params{Service: fields["serv"], Sender: fields["sender"], Dest: strings.TrimSpace(fields["dest"])}
	if p.Service == "" {
		return p, nil, badRequest("serv: missing; name the service (mail, wpp1, sms)")
	}
	if p.Dest == "" {
		return p, nil, badRequest("dest: missing; name the destination (a phone number in international format without +, or e-mail addresses)")
	}
	if t, ok := fields["type"]; ok || !typesOptional {
		types, err := parseTypes(t)
		if err != nil {
			return p, nil, err
		}
		p.Types = types
	}
	info, raw, err := parseInfo(fields["info"])
	if err != nil {
		return p, nil, err
	}
	p.Info = info
	return p, raw, nil
}

func providerFiles(fs []store.NewFile) []provider.File {
	out := make([]provider.File, len(fs))
	for i, f := range fs {
		out[i] = provider.File{Name: f.Name, Filename: f.Filename, MIME: f.MIME, Data: f.Data}
	}
	return out
}

func storeParams(typed []provider.File, svc *provider.Service, snd *provider.Sender, p provider.Params, info json.RawMessage) *store.Params {
	types := make([]string, len(typed))
	for i, f := range typed {
		types[i] = f.Type
	}
	sender := snd.Name
	if svc.ShareLoad && p.Sender == "" {
		sender = "" // the dispatcher picks the least busy sender at each attempt
	}
	return &store.Params{Service: p.Service, Sender: sender, Dest: p.Dest, Info: info, Types: types}
}

// jobRequest reads the requester and the fields of /msg or /cons, which name a job by id.
func (s *Server) jobRequest(ctx *fasthttp.RequestCtx) (dev, id string, fields map[string]string, err error) {
	if fields, err = s.msgFields(ctx); err != nil {
		return "", "", nil, err
	}
	if id = strings.TrimSpace(fields["id"]); id == "" {
		return "", "", nil, badRequest("id: missing; give the id that /data answered")
	}
	return DeviceOf(ctx).ID, id, fields, nil
}

func (s *Server) msg(ctx *fasthttp.RequestCtx) error {
	dev, id, fields, err := s.jobRequest(ctx)
	if err != nil {
		return err
	}
	j, err := s.o.Store.View(id, dev)
	if err != nil {
		return err
	}
	if j.State != store.Preprocess {
		return fmt.Errorf("%w: job %s already has its parameters (it is %s); they can be set once", store.ErrState, id, j.State)
	}
	p, info, err := params(fields, false)
	if err != nil {
		return err
	}
	files, err := s.o.Store.Data(id)
	if err != nil {
		return err
	}
	typed, svc, snd, err := s.o.Registry.Resolve(p, providerFiles(files))
	if err != nil {
		return err
	}
	if _, err := s.o.Store.SetParams(ctx, id, dev, *storeParams(typed, svc, snd, p, info)); err != nil {
		return err
	}
	ctx.SetUserValue(acceptedKey, accepted{svc.Name, snd.Name})
	reply(ctx, 200, "queued", map[string]string{"id": id, "state": "queued"})
	return nil
}

func (s *Server) send(ctx *fasthttp.RequestCtx) error {
	dev := DeviceOf(ctx)
	f, err := s.upload(ctx, dev.ID, true)
	if err != nil {
		return err
	}
	p, info, err := params(f.fields, true)
	if err != nil {
		return err
	}
	typed, svc, snd, err := s.o.Registry.Resolve(p, providerFiles(f.files))
	if err != nil {
		return err
	}
	j, err := s.o.Store.Create(ctx, store.NewJob{Device: dev.ID, IP: dev.IP, Files: f.files, Params: storeParams(typed, svc, snd, p, info), KeyDigest: keyDigest(f.key)})
	if err != nil {
		return err
	}
	ctx.SetUserValue(acceptedKey, accepted{svc.Name, snd.Name})
	reply(ctx, 200, j.ID, map[string]string{"id": j.ID, "state": string(j.State)})
	return nil
}

// FileView is one file in /cons's JSON answer.
type FileView struct {
	Name      string `json:"name"`
	Type      string `json:"type,omitempty"`
	State     string `json:"state,omitempty"`
	Service   string `json:"service,omitempty"` // who delivered it (or is trying)
	Sender    string `json:"sender,omitempty"`
	Attempts  int    `json:"attempts"`
	MessageID string `json:"message_id,omitempty"`
	Error     string `json:"error,omitempty"`
	// Report, for a file whose parts the network reports on (SMS): accepted, handset, failed or
	// unconfirmed (store.File.Report); ReportDetail says why a report failed (TP-ST's meaning).
	Report       string `json:"report,omitempty"`
	ReportDetail string `json:"report_detail,omitempty"`
}

// JobView is /cons's JSON answer.
type JobView struct {
	ID    string     `json:"id"`
	State string     `json:"state"`
	Files []FileView `json:"files"`
}

func viewOf(j *store.Job, now time.Time, reportWait time.Duration) JobView {
	v := JobView{ID: j.ID, State: string(j.State), Files: make([]FileView, len(j.Files))}
	for i, f := range j.Files {
		v.Files[i] = FileView{Name: f.Name, Type: f.Type, State: string(f.State), Service: f.Service, Sender: f.Sender,
			Attempts: f.Attempts, MessageID: f.MessageID, Error: deviceReason(f)}
		v.Files[i].Report, v.Files[i].ReportDetail = reportOf(&f, now, reportWait)
	}
	return v
}

func (s *Server) cons(ctx *fasthttp.RequestCtx) error {
	dev, id, _, err := s.jobRequest(ctx)
	if err != nil {
		return err
	}
	j, err := s.o.Store.Consult(ctx, id, dev)
	if err != nil {
		return err
	}
	reply(ctx, 200, string(j.State), viewOf(j, time.Now(), s.o.ReportWait))
	return nil
}

// healthz answers 200 while the store is writable. A write costs an fsync, so the answer is
// reused for a second.
func (s *Server) healthz(ctx *fasthttp.RequestCtx) error {
	s.hmu.Lock()
	if time.Since(s.healthAt) > time.Second {
		s.healthOK = s.o.Store.Ping(ctx)
		s.healthAt = time.Now()
	}
	err := s.healthOK
	s.hmu.Unlock()
	if err != nil {
		return &reqError{status: http.StatusServiceUnavailable, msg: "store not writable: " + err.Error()}
	}
	reply(ctx, 200, "ok", map[string]string{"status": "ok"})
	return nil
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug("fasthttp: " + strings.TrimSpace(sprintf(format, args...)))
}
