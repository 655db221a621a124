package web

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"multimsg/update"
)

// Firmware update routes (SPEC §12, docs/UPDATE.md): POST/GET /admin/api/update and
// POST /admin/api/reboot. The upload is the one streamed route (stream.go): its auth and size
// are checked from the headers before a byte of the body is read (and before "100 Continue"),
// then the body goes straight to the updater's spool through one small buffer.

const (
	updatePath = "/admin/api/update"
	rebootPath = "/admin/api/reboot"
)

// Updater is what these routes need of update.Updater.
type Updater interface {
	Check(ctx context.Context, size int64) error
	Install(ctx context.Context, body io.Reader, size int64, o update.InstallOptions) (*update.Accepted, error)
	Status(ctx context.Context) update.Status
	Reboot(delay time.Duration) error
	MaxBundle() int64
}

// UpdateStatus is GET /admin/api/update's answer: the updater's facts and the running version.
type UpdateStatus struct {
	update.Status
	Version string `json:"version"`
}

// updateRoutes are the firmware routes' entries in the route table (routes.go).
func (s *Server) updateRoutes() []Route {
	return []Route{
		{Method: "GET", Path: updatePath, Auth: AuthAdmin, JSON: true, Handle: s.updateGet},
		{Method: "POST", Path: updatePath, Auth: AuthAdminWrite, Body: BodyStream, JSON: true,
			Expect: s.updateExpect, Audit: "firmware upload", Handle: s.updatePost},
		{Method: "POST", Path: rebootPath, Auth: AuthAdminWrite, JSON: true, Audit: "reboot", Handle: s.rebootPost},
	}
}

func (s *Server) updateGet(ctx *fasthttp.RequestCtx) error {
	if s.o.Update == nil {
		return errNoUpdater
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	jsonReply(ctx, http.StatusOK, UpdateStatus{Status: s.o.Update.Status(updCtx()), Version: s.o.Version})
	return nil
}

// updCtx is the context of calls into the updater: never the *fasthttp.RequestCtx, which
// fasthttp recycles after the handler returns while the updater's D-Bus client may still hold
// what it was given. The upload itself is bounded by the connection's idle deadline.
func updCtx() context.Context { return context.Background() }

// errNoUpdater answers the firmware routes of a server started without an updater.
var errNoUpdater = &reqError{status: http.StatusServiceUnavailable,
	msg: (&update.UnavailableError{Reason: "this server was started without an updater"}).Error()}

func jsonReply(ctx *fasthttp.RequestCtx, status int, v any) {
	b, _ := json.Marshal(v)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(append(b, '\n'))
}

// crossSite reports the browser marks of a request another site made: an Origin (or Referer)
// of another host, or Sec-Fetch-Site: cross-site / same-site.
func crossSite(ctx *fasthttp.RequestCtx) bool {
	switch string(ctx.Request.Header.Peek("Sec-Fetch-Site")) {
	case "cross-site", "same-site":
		return true
	}
	return !sameOrigin(ctx)
}

// adminWrite authorises a state-changing admin API call from its headers alone (the body is
// not read yet): a page session with its CSRF token in X-CSRF-Token, or HTTP Basic for scripts
// when the request carries no cross-site browser marks. How the caller got in ("session",
// "basic") is kept in the request's user value authKey for the audit.
func (s *Server) adminWrite(ctx *fasthttp.RequestCtx) error {
	if ss := s.adminSession(ctx); ss != nil {
		ctx.SetUserValue(authKey, "session")
		tok := ctx.Request.Header.Peek("X-CSRF-Token")
		if sameOrigin(ctx) && len(tok) > 0 && subtle.ConstantTimeCompare(tok, []byte(ss.csrf)) == 1 {
			return nil
		}
		if _, _, basic := basicAuth(ctx); !basic {
			return &reqError{status: http.StatusForbidden, msg: "bad or missing CSRF token (X-CSRF-Token; reload the admin page)"}
		}
	}
	if _, pass, ok := basicAuth(ctx); ok {
		ctx.SetUserValue(authKey, "basic")
		if crossSite(ctx) {
			return &reqError{status: http.StatusForbidden, msg: "cross-site request refused: HTTP Basic is for scripts, not for another site's page"}
		}
		switch code, wait := s.checkPassword(ctx, pass); code {
		case 0:
			return nil
		case http.StatusTooManyRequests:
			return tooMany(wait)
		}
	}
	ctx.SetUserValue(authKey, "")
	return &reqError{status: http.StatusUnauthorized, challenge: true,
		msg: "admin login required: the page's session with its CSRF token, or HTTP Basic with the admin password"}
}

// uploadHead checks an upload from its headers, once its auth passed: size and content type,
// then whether the updater takes one now. It returns the size to expect (-1 unknown) and the
// multipart boundary ("" for a raw body).
func (s *Server) uploadHead(ctx *fasthttp.RequestCtx) (size int64, boundary string, err error) {
	if s.o.Update == nil {
		return 0, "", errNoUpdater
	}
	max := s.o.Update.MaxBundle()
	cl := int64(ctx.Request.Header.ContentLength()) // -1 chunked, -2 none
	mt, params, _ := mime.ParseMediaType(string(ctx.Request.Header.ContentType()))
	switch mt {
	case "application/octet-stream":
		size = cl
		if cl > max {
			return 0, "", updateError(update.ErrTooLarge, cl, max)
		}
	case "multipart/form-data":
		if boundary = params["boundary"]; boundary == "" {
			return 0, "", badRequest("multipart/form-data without a boundary")
		}
		size = -1
		if cl > max+multipartSlack {
			return 0, "", updateError(update.ErrTooLarge, cl, max)
		}
	default:
		return 0, "", unsupported("send the bundle as application/octet-stream, or as the field \"bundle\" of multipart/form-data; got %s", strconv.Quote(mt))
	}
	if cl == -2 || cl == 0 {
		return 0, "", badRequest("no bundle: the request has no body")
	}
	if err := s.o.Update.Check(updCtx(), size); err != nil {
		return 0, "", updateError(err, cl, max)
	}
	return size, boundary, nil
}

// updateExpect answers "Expect: 100-continue" for the upload: a caller who will be refused
// gets the refusal instead of "100 Continue", and never sends the body.
func (s *Server) updateExpect(ctx *fasthttp.RequestCtx) int {
	err := s.adminWrite(ctx)
	if err == nil {
		_, _, err = s.uploadHead(ctx)
	}
	if err != nil {
		r, _ := s.table.lookup(ctx.Method(), ctx.Path())
		return s.refuse(ctx, r, err)
	}
	return http.StatusContinue
}

// updateError is an updater error with its status.
func updateError(err error, size, max int64) error {
	status := http.StatusInternalServerError
	msg := err.Error()
	switch {
	case errors.Is(err, update.ErrTooLarge):
		status = http.StatusRequestEntityTooLarge
		if size >= 0 && !strings.Contains(msg, "bytes") {
			msg = "bundle too large: " + strconv.FormatInt(size, 10) + " bytes, at most " + strconv.FormatInt(max, 10) + " (update.max_bundle)"
		}
	case errors.Is(err, update.ErrBusy):
		status = http.StatusConflict
	case errors.Is(err, update.ErrUnavailable):
		status = http.StatusServiceUnavailable
	case errors.Is(err, update.ErrRefused):
		status = http.StatusUnprocessableEntity
	case errors.Is(err, update.ErrIncomplete):
		status = http.StatusBadRequest
	case errors.Is(err, update.ErrNoSpace):
		status = http.StatusInsufficientStorage
	}
	return &reqError{status: status, msg: strings.TrimPrefix(msg, "update: ")}
}

// updatePost takes a bundle: raw body or the multipart field "bundle". Its route checked the
// auth; a refusal is audited where it is written (handle).
func (s *Server) updatePost(ctx *fasthttp.RequestCtx) error {
	size, boundary, err := s.uploadHead(ctx)
	if err != nil {
		return err
	}
	// Whatever happens, this connection ends with this request: a refusal leaves the body
	// unread, and a multipart upload its closing boundary.
	ctx.SetConnectionClose()
	body := &idleReader{r: ctx.RequestBodyStream(), conn: ctx.Conn(), idle: s.o.ReadTimeout}
	opts := update.InstallOptions{AllowDowngrade: ctx.QueryArgs().GetBool("allow_downgrade")}
	var acc *update.Accepted
	if boundary == "" {
		acc, err = s.o.Update.Install(updCtx(), body, size, opts)
	} else {
		acc, err = s.installMultipart(body, boundary, opts)
	}
	if err != nil {
		return updateError(err, size, s.o.Update.MaxBundle())
	}
	jsonReply(ctx, http.StatusAccepted, map[string]any{"status": "installing", "version": acc.Version, "compatible": acc.Compatible, "size": acc.Size})
	s.audit(ctx, "firmware upload", http.StatusAccepted, "installing "+acc.Version)
	return nil
}

// installMultipart streams the part named "bundle"; small fields before it (csrf,
// allow_downgrade) are read and bounded, other files refused.
func (s *Server) installMultipart(body io.Reader, boundary string, opts update.InstallOptions) (*update.Accepted, error) {
	mr := multipart.NewReader(body, boundary)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, &update.RefusedError{Reason: "the form has no field \"bundle\""}
		}
		if err != nil {
			return nil, errors.Join(update.ErrIncomplete, err)
		}
		switch part.FormName() {
		case "bundle":
			return s.o.Update.Install(updCtx(), part, -1, opts)
		case "allow_downgrade":
			v, _ := io.ReadAll(io.LimitReader(part, 16))
			opts.AllowDowngrade = string(v) == "1" || string(v) == "true" || string(v) == "on"
		default:
			if _, err := io.Copy(io.Discard, io.LimitReader(part, 4<<10)); err != nil {
				return nil, errors.Join(update.ErrIncomplete, err)
			}
		}
	}
}

// idleReader extends the connection's read deadline before each read: an upload may take
// minutes, but a client that stops sending for idle is cut off.
type idleReader struct {
	r    io.Reader
	conn net.Conn
	idle time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	if r.conn != nil && r.idle > 0 {
		_ = r.conn.SetReadDeadline(time.Now().Add(r.idle))
	}
	return r.r.Read(p)
}

// rebootPost restarts the box (admin, CSRF); refused while an update installs.
func (s *Server) rebootPost(ctx *fasthttp.RequestCtx) error {
	if s.o.Update == nil {
		return errNoUpdater
	}
	// Only a box with RAUC reboots from its page: on a laptop (make run) the button must not
	// restart the developer's machine.
	if err := s.o.Update.Check(updCtx(), 0); err != nil {
		return updateError(err, 0, 0)
	}
	if err := s.o.Update.Reboot(time.Second); err != nil {
		return updateError(err, 0, 0)
	}
	jsonReply(ctx, http.StatusAccepted, map[string]string{"status": "rebooting"})
	s.audit(ctx, "reboot", http.StatusAccepted, "rebooting")
	return nil
}
