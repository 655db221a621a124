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

func (s *Server) updateRoutes(ctx *fasthttp.RequestCtx, p string) {
	switch {
	case p == updatePath && (ctx.IsGet() || ctx.IsHead()):
		if !s.authorized(ctx) {
			return
		}
		if s.o.Update == nil {
			jsonReply(ctx, http.StatusServiceUnavailable, errBody(errNoUpdater.Error()))
			return
		}
		ctx.Response.Header.Set("Cache-Control", "no-store")
		jsonReply(ctx, http.StatusOK, UpdateStatus{Status: s.o.Update.Status(updCtx()), Version: s.o.Version})
	case p == updatePath && ctx.IsPost():
		s.updatePost(ctx)
	case p == rebootPath && ctx.IsPost():
		s.rebootPost(ctx)
	default:
		ctx.SetConnectionClose()
		jsonReply(ctx, http.StatusMethodNotAllowed, errBody("method "+string(ctx.Method())+" not allowed on "+p))
	}
}

// updCtx is the context of calls into the updater: never the *fasthttp.RequestCtx, which
// fasthttp recycles after the handler returns while the updater's D-Bus client may still hold
// what it was given. The upload itself is bounded by the connection's idle deadline.
func updCtx() context.Context { return context.Background() }

var errNoUpdater = &update.UnavailableError{Reason: "this server was started without an updater"}

func errBody(msg string) map[string]string { return map[string]string{"error": msg} }

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
// when the request carries no cross-site browser marks. When it refuses it has answered (JSON)
// and returns the status; who says how the caller got in.
func (s *Server) adminWrite(ctx *fasthttp.RequestCtx) (who string, status int) {
	if ss := s.adminSession(ctx); ss != nil {
		tok := ctx.Request.Header.Peek("X-CSRF-Token")
		if sameOrigin(ctx) && len(tok) > 0 && subtle.ConstantTimeCompare(tok, []byte(ss.csrf)) == 1 {
			return "session", 0
		}
		if _, _, basic := basicAuth(ctx); !basic {
			jsonReply(ctx, http.StatusForbidden, errBody("bad or missing CSRF token (X-CSRF-Token; reload the admin page)"))
			return "session", http.StatusForbidden
		}
	}
	if _, pass, ok := basicAuth(ctx); ok {
		if crossSite(ctx) {
			jsonReply(ctx, http.StatusForbidden, errBody("cross-site request refused: HTTP Basic is for scripts, not for another site's page"))
			return "basic", http.StatusForbidden
		}
		switch code, wait := s.checkPassword(ctx, pass); code {
		case 0:
			return "basic", 0
		case http.StatusTooManyRequests:
			tooMany(ctx, wait)
			return "basic", code
		}
	}
	if m := string(ctx.Request.Header.Peek("Sec-Fetch-Mode")); m == "" || m == "navigate" {
		ctx.Response.Header.Set("WWW-Authenticate", `Basic realm="multimsg admin"`)
	}
	jsonReply(ctx, http.StatusUnauthorized, errBody("admin login required: the page's session with its CSRF token, or HTTP Basic with the admin password"))
	return "", http.StatusUnauthorized
}

// uploadHead checks an upload from its headers: auth, then size and content type, then whether
// the updater takes one now. It returns the size to expect (-1 unknown) and the multipart
// boundary ("" for a raw body), or the status it answered with.
func (s *Server) uploadHead(ctx *fasthttp.RequestCtx) (who string, size int64, boundary string, status int) {
	who, status = s.adminWrite(ctx)
	if status != 0 {
		return who, 0, "", status
	}
	if s.o.Update == nil {
		jsonReply(ctx, http.StatusServiceUnavailable, errBody(errNoUpdater.Error()))
		return who, 0, "", http.StatusServiceUnavailable
	}
	max := s.o.Update.MaxBundle()
	cl := int64(ctx.Request.Header.ContentLength()) // -1 chunked, -2 none
	mt, params, _ := mime.ParseMediaType(string(ctx.Request.Header.ContentType()))
	switch mt {
	case "application/octet-stream":
		size = cl
		if cl > max {
			return who, 0, "", updateFail(ctx, update.ErrTooLarge, cl, max)
		}
	case "multipart/form-data":
		if boundary = params["boundary"]; boundary == "" {
			jsonReply(ctx, http.StatusBadRequest, errBody("multipart/form-data without a boundary"))
			return who, 0, "", http.StatusBadRequest
		}
		size = -1
		if cl > max+multipartSlack {
			return who, 0, "", updateFail(ctx, update.ErrTooLarge, cl, max)
		}
	default:
		jsonReply(ctx, http.StatusUnsupportedMediaType, errBody("send the bundle as application/octet-stream, or as the field \"bundle\" of multipart/form-data; got "+strconv.Quote(mt)))
		return who, 0, "", http.StatusUnsupportedMediaType
	}
	if cl == -2 || cl == 0 {
		jsonReply(ctx, http.StatusBadRequest, errBody("no bundle: the request has no body"))
		return who, 0, "", http.StatusBadRequest
	}
	if err := s.o.Update.Check(updCtx(), size); err != nil {
		return who, 0, "", updateFail(ctx, err, cl, max)
	}
	return who, size, boundary, 0
}

// updateExpect answers "Expect: 100-continue" for the upload: a caller who will be refused
// gets the refusal instead of "100 Continue", and never sends the body.
func (s *Server) updateExpect(ctx *fasthttp.RequestCtx) int {
	who, _, _, status := s.uploadHead(ctx)
	if status != 0 {
		s.auditUpdate(ctx, who, status, "refused before the body: "+string(ctx.Response.Body()))
		return status
	}
	return http.StatusContinue
}

// updateFail answers an updater error with its status.
func updateFail(ctx *fasthttp.RequestCtx, err error, size, max int64) int {
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
	msg = strings.TrimPrefix(msg, "update: ")
	jsonReply(ctx, status, errBody(msg))
	return status
}

func (s *Server) auditUpdate(ctx *fasthttp.RequestCtx, who string, status int, result string) {
	s.log.Info("audit: firmware upload", "ip", ctx.RemoteIP().String(), "auth", who,
		"size", ctx.Request.Header.ContentLength(), "status", status, "result", result)
}

// updatePost takes a bundle: raw body or the multipart field "bundle".
func (s *Server) updatePost(ctx *fasthttp.RequestCtx) {
	who, size, boundary, status := s.uploadHead(ctx)
	if status != 0 {
		ctx.SetConnectionClose() // the body stays unread
		s.auditUpdate(ctx, who, status, "refused: "+string(ctx.Response.Body()))
		return
	}
	// Whatever happens, this connection ends with this request: a refusal leaves the body
	// unread, and a multipart upload its closing boundary.
	ctx.SetConnectionClose()
	body := &idleReader{r: ctx.RequestBodyStream(), conn: ctx.Conn(), idle: s.o.ReadTimeout}
	opts := update.InstallOptions{AllowDowngrade: ctx.QueryArgs().GetBool("allow_downgrade")}
	var acc *update.Accepted
	var err error
	if boundary == "" {
		acc, err = s.o.Update.Install(updCtx(), body, size, opts)
	} else {
		acc, err = s.installMultipart(body, boundary, opts)
	}
	if err != nil {
		ctx.SetConnectionClose()
		status := updateFail(ctx, err, size, s.o.Update.MaxBundle())
		s.auditUpdate(ctx, who, status, err.Error())
		return
	}
	jsonReply(ctx, http.StatusAccepted, map[string]any{"status": "installing", "version": acc.Version, "compatible": acc.Compatible, "size": acc.Size})
	s.auditUpdate(ctx, who, http.StatusAccepted, "installing "+acc.Version)
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
func (s *Server) rebootPost(ctx *fasthttp.RequestCtx) {
	who, status := s.adminWrite(ctx)
	if status == 0 && s.o.Update == nil {
		status = http.StatusServiceUnavailable
		jsonReply(ctx, status, errBody(errNoUpdater.Error()))
	}
	if status == 0 {
		// Only a box with RAUC reboots from its page: on a laptop (make run) the button must not
		// restart the developer's machine.
		if err := s.o.Update.Check(updCtx(), 0); err != nil {
			status = updateFail(ctx, err, 0, 0)
		} else if err := s.o.Update.Reboot(time.Second); err != nil {
			status = updateFail(ctx, err, 0, 0)
		} else {
			status = http.StatusAccepted
			jsonReply(ctx, status, map[string]string{"status": "rebooting"})
		}
	}
	s.log.Info("audit: reboot", "ip", ctx.RemoteIP().String(), "auth", who, "status", status)
}

// streamed reports whether the request is the upload, which reads its own body (its rule in
// cost.go is raw) after auth and size were checked from the headers.
func streamed(ctx *fasthttp.RequestCtx) bool {
	return ctx.IsPost() && string(ctx.Path()) == updatePath
}
