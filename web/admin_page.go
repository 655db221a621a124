package web

import (
	"embed"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"multimsg/store"
)

// The admin page: assets embedded in the binary; the pages themselves are written in Go
// (admin_render.go) into a buffer before anything is sent.

//go:embed ui
var uiFS embed.FS

// adminHeaders keep the admin pages to themselves: no framing, no inline script, no caching.
func adminHeaders(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

func (s *Server) static(ctx *fasthttp.RequestCtx) error {
	name := strings.TrimPrefix(string(ctx.Path()), "/admin/static/")
	if name == "" || strings.Contains(name, "/") {
		return &reqError{status: http.StatusNotFound, msg: "no such file"}
	}
	b, err := fs.ReadFile(uiFS, "ui/"+name)
	if err != nil {
		return &reqError{status: http.StatusNotFound, msg: "no such file"}
	}
	ctx.SetContentType(mime.TypeByExtension(path.Ext(name)))
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBody(b)
	return nil
}

// status answers GET /admin/api/status: the page's facts as JSON, whatever Accept says.
func (s *Server) status(ctx *fasthttp.RequestCtx) error {
	ctx.Response.Header.Set("Cache-Control", "no-store")
	replyAs(ctx, true, 200, "", s.Snapshot())
	return nil
}

// render answers with a page built by write.
func (s *Server) render(ctx *fasthttp.RequestCtx, status int, write func(*page)) {
	Render(ctx, status, write)
}

// page is the status page; its route takes a session (AuthSession).
func (s *Server) page(ctx *fasthttp.RequestCtx) error {
	ss := s.adminSession(ctx)
	if ss == nil { // the session ended between the route's check and now
		return &reqError{status: http.StatusSeeOther, location: "/admin/login"}
	}
	d := pageData{Status: s.Snapshot(), CSRF: ss.csrf}
	s.render(ctx, http.StatusOK, func(p *page) { adminPage(p, &d) })
	return nil
}

func (s *Server) loginPage(ctx *fasthttp.RequestCtx) error {
	s.loginForm(ctx, http.StatusOK, "")
	return nil
}

func (s *Server) loginForm(ctx *fasthttp.RequestCtx, status int, msg string) {
	if status == http.StatusOK && s.adminSession(ctx) != nil {
		seeOther(ctx, "/admin")
		return
	}
	d := loginData{Version: s.o.Version, Error: msg}
	s.render(ctx, status, func(p *page) { loginPage(p, &d) })
}

// login answers the login form's POST. Its refusals are the form again, with the reason, so
// they are pages, not errors.
func (s *Server) login(ctx *fasthttp.RequestCtx) error {
	if !sameOrigin(ctx) {
		s.loginForm(ctx, http.StatusForbidden, "This login came from another site; open the admin page directly.")
		return nil
	}
	pass := string(ctx.PostArgs().Peek("password"))
	switch code, wait := s.checkPassword(ctx, pass); code {
	case 0:
	case http.StatusTooManyRequests:
		secs := int((wait + time.Second - 1) / time.Second)
		ctx.Response.Header.Set("Retry-After", fmt.Sprint(secs))
		s.loginForm(ctx, code, fmt.Sprintf("Too many failed logins: wait %d s and try again.", secs))
		return nil
	case http.StatusServiceUnavailable:
		ctx.Response.Header.Set("Retry-After", "1")
		s.loginForm(ctx, code, "The gateway is checking other logins; try again in a moment.")
		return nil
	default:
		s.loginForm(ctx, code, "Wrong password.")
		return nil
	}
	id, _ := s.adm.newSession()
	setSessionCookie(ctx, id)
	s.log.Info("web: admin logged in", "ip", ctx.RemoteIP().String())
	seeOther(ctx, "/admin")
	return nil
}

// logout ends the session; a session's logout needs its CSRF token (else another site could
// log the admin out), no session just loses its cookie.
func (s *Server) logout(ctx *fasthttp.RequestCtx) error {
	ss := s.adminSession(ctx)
	if ss != nil && csrfOK(ctx, ss) {
		s.adm.endSession(ctx.Request.Header.Cookie(sessionCookie))
	} else if ss != nil {
		return &reqError{status: http.StatusForbidden, msg: "bad or missing CSRF token"}
	}
	setSessionCookie(ctx, "")
	seeOther(ctx, "/admin/login")
	return nil
}

// The admin actions: retry or cancel a job, pause or resume a sender, compact the store. Their
// routes take a session and its CSRF token (AuthSessionCSRF). Each answers JSON to the page's
// script, or sends a form back to /admin (actionDone).

func (s *Server) retry(ctx *fasthttp.RequestCtx) error {
	id := strings.TrimSpace(string(ctx.PostArgs().Peek("id")))
	j, err := s.o.Store.Retry(ctx, id)
	if err != nil {
		return err
	}
	return s.jobDone(ctx, "retry", j)
}

func (s *Server) cancel(ctx *fasthttp.RequestCtx) error {
	id := strings.TrimSpace(string(ctx.PostArgs().Peek("id")))
	j, err := s.o.Store.Cancel(ctx, id, "cancelled by an admin")
	if err != nil {
		return err
	}
	s.hist.add(histFailed, time.Now(), 1)
	return s.jobDone(ctx, "cancel", j)
}

func (s *Server) jobDone(ctx *fasthttp.RequestCtx, what string, j *store.Job) error {
	s.log.Info("web: admin action", "action", what, "job", j.ID, "state", j.State)
	return actionDone(ctx, map[string]string{"id": j.ID, "state": string(j.State)})
}

// compact gives the file's free pages back to the partition (issue 12); writes wait meanwhile.
func (s *Server) compact(ctx *fasthttp.RequestCtx) error {
	st, err := s.o.Store.Compact(ctx)
	if err != nil {
		return err
	}
	s.log.Info("web: admin action", "action", "compact", "stats", st.String())
	return actionDone(ctx, map[string]string{"before_bytes": strconv.FormatInt(st.Before, 10), "after_bytes": strconv.FormatInt(st.After, 10), "took": st.Took.String()})
}

// pauseAction pauses (or resumes) the sender named by the form fields service and sender.
func (s *Server) pauseAction(pause bool) Handler {
	what, state := "resume", "running"
	if pause {
		what, state = "pause", "paused"
	}
	return func(ctx *fasthttp.RequestCtx) error {
		args := ctx.PostArgs()
		svc, snd := string(args.Peek("service")), string(args.Peek("sender"))
		if s.o.Dispatcher == nil || !s.o.Dispatcher.Pause(svc, snd, pause) {
			return &reqError{status: http.StatusNotFound, msg: "no sender " + svc + "/" + snd}
		}
		s.log.Info("web: admin action", "action", what, "service", svc, "sender", snd)
		return actionDone(ctx, map[string]string{"service": svc, "sender": snd, "state": state})
	}
}

// actionDone answers a done action: its facts as JSON to the page's script, else back to /admin.
func actionDone(ctx *fasthttp.RequestCtx, out map[string]string) error {
	if wantsJSON(ctx) {
		reply(ctx, 200, "", out)
		return nil
	}
	seeOther(ctx, "/admin")
	return nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

func pct(a, b int64) int64 {
	if b <= 0 {
		return 0
	}
	return min(100, a*100/b)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// ago is a time as "3 min ago" (relative to the snapshot's clock).
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// seeOther answers 303 with a relative Location (fasthttp's Redirect makes it absolute from
// the Host header, which a client chooses).
func seeOther(ctx *fasthttp.RequestCtx, path string) {
	ctx.Response.Header.Set("Location", path)
	ctx.SetStatusCode(http.StatusSeeOther)
}

// shortID is a job id for a table cell: its first and last four characters. Ids begin with
// their creation time, so the start alone would look alike for jobs made together; the full id
// is in the cell's title.
func shortID(id string) string {
	if len(id) <= 10 {
		return id
	}
	return id[:4] + "…" + id[len(id)-4:]
}
