package web

import (
	"bytes"
	"net/http"
	"slices"
	"strings"

	"github.com/valyala/fasthttp"
)

// The route table (issue 17, item 5): one list of the server's routes drives routing, the 405
// answers and their Allow header, the metric label of every request, who may call a route, and
// how much body a route may receive, decided from the headers (cost.go). Adding a route is
// adding an entry; a package outside web adds its own through Options.Routes (docs/DESIGN.md,
// "Adding a route").

// Handler answers one request. It writes only a successful answer; an error it returns is
// written by the server (fail): its status from the error's type (Errorf, the catalogue in
// errors.go), 5xx logged once.
type Handler func(ctx *fasthttp.RequestCtx) error

// Auth is who may call a route; the server checks it before the handler runs.
type Auth int

const (
	// AuthNone: anyone (/healthz, the login form, the page's assets).
	AuthNone Auth = iota
	// AuthLAN: any host on the LAN, but requests a web page made are refused from the
	// headers, before the body is read (origin.go): GET /key.
	AuthLAN
	// AuthDevice: as AuthLAN, and the device is identified (DeviceOf) and recorded in the
	// device registry before the handler runs; an unknown or refused device gets 403.
	AuthDevice
	// AuthAdmin: an admin session or HTTP Basic with the admin password (scripts); else 401
	// with a Basic challenge, 429 after too many failures.
	AuthAdmin
	// AuthSession: an admin session. A browser without one is sent to the login form; a
	// client asking for JSON gets AuthAdmin's 401.
	AuthSession
	// AuthSessionCSRF: an admin session and its CSRF token (header X-CSRF-Token or form field
	// csrf) from this origin: the page's state-changing actions. Basic is refused here: a
	// browser would send it cross-site by itself.
	AuthSessionCSRF
	// AuthAdminWrite: a session with its token in X-CSRF-Token, or Basic from a client with no
	// cross-site browser marks, judged from the headers alone (a streamed body is still
	// unread): the firmware routes.
	AuthAdminWrite
)

// Body is how much body a route may receive, and how it is read (cost.go).
type Body int

const (
	// BodyNone: up to 4 KiB (GET, HEAD, the login form).
	BodyNone Body = iota
	// BodyForm: form fields, up to Limits.MaxForm, read before the handler runs.
	BodyForm
	// BodyUpload: files, up to Limits.MaxBody, charged to the budget of bodies in flight.
	BodyUpload
	// BodyFiles: as BodyUpload, but a body over 1 MiB, or chunked, is left on the connection
	// (charged a fixed share of the budget) and the handler streams it into the store
	// (stream.go, streamingKey): /data.
	BodyFiles
	// BodyStream: the handler reads ctx.RequestBodyStream itself, under its own limit, after
	// its auth was checked from the headers (the firmware bundle).
	BodyStream
)

// Route is one entry of the table: a method on a path.
type Route struct {
	Method string // GET (which answers HEAD too) or POST
	Path   string // exact, or, ending in "/" with Prefix set, every path under it
	Prefix bool
	Auth   Auth
	Body   Body
	// Label is the route's label in multimsg_http_requests_total; "" is Path. Entries of one
	// path share it.
	Label string
	// JSON: errors are answered as JSON whatever the Accept header (the admin API for
	// scripts); others follow Accept.
	JSON bool
	// Expect, if set, answers "Expect: 100-continue" for a BodyStream route (its status, the
	// refusal written); unset, a body over the route's limit is refused and others continue.
	Expect func(ctx *fasthttp.RequestCtx) int
	// Audit, if set, names the refusals of this route that are logged for the admin
	// ("audit: <Audit>" with the source, the auth tried and the status).
	Audit  string
	Handle Handler
}

// table is the routes by path, read-only once the server is built.
type table struct {
	exact    map[string][]*Route
	prefixes []*Route
}

func newTable(rs []Route) *table {
	t := &table{exact: map[string][]*Route{}}
	for i := range rs {
		r := &rs[i]
		if r.Label == "" {
			r.Label = r.Path
		}
		if r.Prefix {
			t.prefixes = append(t.prefixes, r)
			continue
		}
		t.exact[r.Path] = append(t.exact[r.Path], r)
	}
	return t
}

// entries returns the routes of path, whatever their method.
func (t *table) entries(path []byte) []*Route {
	if rs, ok := t.exact[string(path)]; ok { // no allocation: map[string(b)]
		return rs
	}
	for _, r := range t.prefixes {
		if bytes.HasPrefix(path, []byte(r.Path)) {
			return []*Route{r}
		}
	}
	return nil
}

// lookup returns the route of method on path, or nil and the routes of path (none: 404).
func (t *table) lookup(method, path []byte) (*Route, []*Route) {
	rs := t.entries(path)
	for _, r := range rs {
		if string(method) == r.Method || string(method) == fasthttp.MethodHead && r.Method == fasthttp.MethodGet {
			return r, rs
		}
	}
	return nil, rs
}

// label is the metric label of a request's path: its route's, or "other", so a client asking
// for random paths cannot make series without bound.
func (t *table) label(path []byte) string {
	if rs := t.entries(path); len(rs) > 0 {
		return rs[0].Label
	}
	return "other"
}

// allow is the Allow header of a path's routes.
func allow(rs []*Route) string {
	var ms []string
	for _, r := range rs {
		if !slices.Contains(ms, r.Method) {
			ms = append(ms, r.Method)
		}
		if r.Method == fasthttp.MethodGet && !slices.Contains(ms, fasthttp.MethodHead) {
			ms = append(ms, fasthttp.MethodHead)
		}
	}
	return strings.Join(ms, ", ")
}

// routes is the server's own table; extra are Options.Routes.
func (s *Server) routes(extra []Route) []Route {
	metricsAuth := AuthAdmin
	if s.o.MetricsPublic {
		metricsAuth = AuthNone
	}
	rs := []Route{
		// The device API (SPEC §1).
		{Method: "GET", Path: "/key", Auth: AuthLAN, Handle: s.key},
		{Method: "POST", Path: "/data", Auth: AuthDevice, Body: BodyFiles, Handle: s.data},
		{Method: "POST", Path: "/msg", Auth: AuthDevice, Body: BodyForm, Handle: s.msg},
		{Method: "POST", Path: "/cons", Auth: AuthDevice, Body: BodyForm, Handle: s.cons},
		{Method: "POST", Path: "/send", Auth: AuthDevice, Body: BodyUpload, Handle: s.send},
		{Method: "GET", Path: "/healthz", Handle: s.healthz},
		// Inbound SMS for the devices sms.inbox.devices names (inbox.go, issue 13).
		{Method: "GET", Path: "/inbox", Auth: AuthDevice, JSON: true, Handle: s.inbox},
		// The admin side (docs/ADMIN.md).
		{Method: "GET", Path: "/metrics", Auth: metricsAuth, Handle: s.metricsHandler},
		{Method: "GET", Path: "/admin", Auth: AuthSession, Handle: s.page},
		{Method: "GET", Path: "/admin/", Auth: AuthSession, Label: "/admin", Handle: s.page},
		{Method: "GET", Path: "/admin/static/", Prefix: true, Handle: s.static},
		{Method: "GET", Path: "/admin/login", Handle: s.loginPage},
		{Method: "POST", Path: "/admin/login", Handle: s.login},
		{Method: "POST", Path: "/admin/logout", Body: BodyForm, Handle: s.logout}, // CSRF checked when a session exists
		{Method: "GET", Path: "/admin/api/status", Auth: AuthAdmin, Handle: s.status},
		{Method: "POST", Path: "/admin/api/retry", Auth: AuthSessionCSRF, Body: BodyForm, Handle: s.retry},
		{Method: "POST", Path: "/admin/api/cancel", Auth: AuthSessionCSRF, Body: BodyForm, Handle: s.cancel},
		{Method: "POST", Path: "/admin/api/pause", Auth: AuthSessionCSRF, Body: BodyForm, Handle: s.pauseAction(true)},
		{Method: "POST", Path: "/admin/api/resume", Auth: AuthSessionCSRF, Body: BodyForm, Handle: s.pauseAction(false)},
		{Method: "POST", Path: "/admin/api/compact", Auth: AuthSessionCSRF, Body: BodyForm, Handle: s.compact},
	}
	rs = append(rs, s.updateRoutes()...) // update.go
	return append(rs, extra...)
}

// bodyRule is what a route may receive. A BodyStream route reads its own body (a firmware
// bundle streamed to disk after its auth is checked): readBody leaves the stream alone.
type bodyRule struct {
	max      int  // bytes; a larger body is refused (413) without being read
	prefetch int  // bytes fasthttp may read before the handler runs
	budget   bool // the body counts toward Limits.BodyBudget while it is held
	raw      bool // the handler reads ctx.RequestBodyStream itself
	stream   bool // a large or chunked body is left on the connection for the handler (stream.go)
}

// rule is the body rule of a route (nil: no route; a 404 or 405 takes no body).
func (s *Server) rule(r *Route) bodyRule {
	lim := s.o.Limits
	if r == nil {
		return bodyRule{max: smallBody, prefetch: smallBody}
	}
	switch r.Body {
	case BodyUpload:
		return bodyRule{max: lim.MaxBody + multipartSlack, prefetch: smallBody, budget: true}
	case BodyFiles:
		return bodyRule{max: lim.MaxBody + multipartSlack, prefetch: smallBody, budget: true, stream: true}
	case BodyForm:
		return bodyRule{max: lim.MaxForm, prefetch: lim.MaxForm}
	case BodyStream:
		return bodyRule{max: smallBody, prefetch: smallBody, raw: true}
	}
	return bodyRule{max: smallBody, prefetch: smallBody}
}

// deviceKey is the user value of an AuthDevice request: its Device.
const deviceKey = "multimsg.device"

// Device is the requester of an AuthDevice route.
type Device struct {
	ID string // MAC address, the IP when unknown_device is "ip", or Local
	IP string
}

// DeviceOf is the device the server identified for an AuthDevice route's request.
func DeviceOf(ctx *fasthttp.RequestCtx) Device {
	d, _ := ctx.UserValue(deviceKey).(Device)
	return d
}

// csrfKey is the user value of an AuthSession or AuthSessionCSRF request: its session's CSRF
// token, for the forms a page added from outside web writes (CSRFOf).
const csrfKey = "multimsg.csrf"

// CSRFOf is the CSRF token of the admin session of an AuthSession or AuthSessionCSRF route's
// request ("" on other routes).
func CSRFOf(ctx *fasthttp.RequestCtx) string {
	t, _ := ctx.UserValue(csrfKey).(string)
	return t
}

// authKey is the user value saying how an AuthAdminWrite request got in ("session", "basic").
const authKey = "multimsg.auth"

// handle routes a request: the route from the table, the browser check of device routes
// before the body is paid for, the body under the route's rule, the route's auth, then its
// handler; every error is written by fail.
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	r, rs := s.table.lookup(ctx.Method(), ctx.Path())
	if err := s.serve(ctx, r, rs); err != nil {
		if r == nil && len(rs) > 0 && rs[0].JSON { // a 405 on a JSON route answers JSON
			s.fail(ctx, rs[0], err)
			return
		}
		s.refuse(ctx, r, err)
	}
}

func (s *Server) serve(ctx *fasthttp.RequestCtx, r *Route, rs []*Route) error {
	if r != nil && (r.Auth == AuthLAN || r.Auth == AuthDevice) {
		if err := s.fromBrowser(ctx); err != nil { // before the body is paid for
			ctx.SetConnectionClose()
			return err
		}
	}
	if r != nil && r.Auth == AuthAdminWrite { // from the headers: a streamed body is unread
		if err := s.adminWrite(ctx); err != nil {
			return err
		}
	}
	release, err := s.readBody(ctx, s.rule(r))
	if err != nil {
		ctx.SetConnectionClose() // the rest of the body is unread
		return err
	}
	defer func() {
		release()
		// fasthttp pools a connection's RequestCtx without resetting its request: a body left
		// in it would stay reachable (tens of MiB for an upload) until the context is reused.
		ctx.Request.ResetBody()
	}()
	if r == nil {
		return notRouted(ctx, rs)
	}
	if err := s.authorize(ctx, r); err != nil {
		if ctx.UserValue(streamingKey) != nil {
			ctx.SetConnectionClose() // the streamed body stays unread
		}
		return err
	}
	return r.Handle(ctx)
}

// notRouted is the 405 (with Allow) of a known path, or the 404 of an unknown one.
func notRouted(ctx *fasthttp.RequestCtx, rs []*Route) error {
	p := string(ctx.Path())
	if len(rs) > 0 {
		ctx.Response.Header.Set("Allow", allow(rs))
		return &reqError{status: http.StatusMethodNotAllowed, msg: "method " + string(ctx.Method()) + " not allowed on " + p}
	}
	if p == "/admin" || strings.HasPrefix(p, "/admin/") {
		return &reqError{status: http.StatusNotFound, msg: "no such admin route: " + p + " (see docs/ADMIN.md)"}
	}
	return &reqError{status: http.StatusNotFound, msg: "no such route: " + p + " (routes: GET /key, POST /data, /msg, /cons, /send, GET /healthz)"}
}

// authorize checks the route's Auth once the body is read (AuthDevice and AuthAdminWrite were
// judged from the headers already; the device is identified here).
func (s *Server) authorize(ctx *fasthttp.RequestCtx, r *Route) error {
	switch r.Auth {
	case AuthDevice:
		dev, ip, err := s.who(ctx)
		if err != nil {
			return err
		}
		ctx.SetUserValue(deviceKey, Device{ID: dev, IP: ip})
	case AuthAdmin:
		return s.authorized(ctx)
	case AuthSession:
		ss := s.adminSession(ctx)
		if ss == nil {
			if wantsJSON(ctx) {
				return s.authorized(ctx) // 401 with the reason
			}
			return &reqError{status: http.StatusSeeOther, location: "/admin/login"}
		}
		ctx.SetUserValue(csrfKey, ss.csrf)
	case AuthSessionCSRF:
		ss := s.adminSession(ctx)
		if ss == nil {
			return &reqError{status: http.StatusUnauthorized, msg: "admin session required: log in at /admin/login"}
		}
		if !csrfOK(ctx, ss) {
			return &reqError{status: http.StatusForbidden, msg: "bad or missing CSRF token (reload the admin page)"}
		}
		ctx.SetUserValue(csrfKey, ss.csrf)
	}
	return nil
}

// expect answers "Expect: 100-continue" (curl sends it for large bodies): a body over the limit
// is refused before the client sends it, so it gets the 413 rather than a reset connection.
func (s *Server) expect(ctx *fasthttp.RequestCtx) int {
	r, _ := s.table.lookup(ctx.Method(), ctx.Path())
	if r != nil && r.Expect != nil {
		return r.Expect(ctx)
	}
	if rule := s.rule(r); ctx.Request.Header.ContentLength() > rule.max {
		s.fail(ctx, r, tooLarge("request body too large: at most %d bytes on %s", rule.max, ctx.Path()))
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusContinue
}

// refuse writes err as the refusal of route r (nil: none matched) and returns its status:
// the connection is closed when a streamed body stays unread, and a route with Audit logs it.
func (s *Server) refuse(ctx *fasthttp.RequestCtx, r *Route, err error) int {
	status, msg := classify(err)
	if r != nil && r.Body == BodyStream {
		ctx.SetConnectionClose() // the body stays unread
	}
	if r != nil && r.Audit != "" {
		s.audit(ctx, r.Audit, status, "refused: "+msg)
	}
	s.fail(ctx, r, err)
	return status
}

// audit logs what an admin may want to know later: a firmware upload, a reboot.
func (s *Server) audit(ctx *fasthttp.RequestCtx, what string, status int, result string) {
	who, _ := ctx.UserValue(authKey).(string)
	s.log.Info("audit: "+what, "ip", ctx.RemoteIP().String(), "auth", who,
		"size", ctx.Request.Header.ContentLength(), "status", status, "result", result)
}
