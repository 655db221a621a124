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

// admin routes /admin, /admin/… and /metrics.
func (s *Server) admin(ctx *fasthttp.RequestCtx) {
	p := string(ctx.Path())
	get, post := ctx.IsGet() || ctx.IsHead(), ctx.IsPost()
	switch {
	case p == "/metrics" && get:
		s.metricsHandler(ctx)
	case strings.HasPrefix(p, "/admin/static/") && get:
		s.static(ctx, strings.TrimPrefix(p, "/admin/static/"))
	case (p == "/admin" || p == "/admin/") && get:
		s.page(ctx)
	case p == "/admin/login" && get:
		s.loginForm(ctx, http.StatusOK, "")
	case p == "/admin/login" && post:
		s.login(ctx)
	case p == "/admin/logout" && post:
		s.logout(ctx)
	case p == "/admin/api/status" && get:
		if s.authorized(ctx) {
			ctx.Request.Header.Set("Accept", "application/json")
			ctx.Response.Header.Set("Cache-Control", "no-store")
			reply(ctx, 200, "", s.Snapshot())
		}
	case p == updatePath || p == rebootPath: // update.go
		s.updateRoutes(ctx, p)
	case (p == "/admin/api/retry" || p == "/admin/api/cancel" || p == "/admin/api/pause" || p == "/admin/api/resume" || p == "/admin/api/compact") && post:
		s.action(ctx, strings.TrimPrefix(p, "/admin/api/"))
	case p == "/metrics" || p == "/admin" || p == "/admin/login" || p == "/admin/logout" || strings.HasPrefix(p, "/admin/api/"):
		s.fail(ctx, &reqError{http.StatusMethodNotAllowed, "method " + string(ctx.Method()) + " not allowed on " + p})
	default:
		s.fail(ctx, &reqError{http.StatusNotFound, "no such admin route: " + p + " (see docs/ADMIN.md)"})
	}
}

func (s *Server) static(ctx *fasthttp.RequestCtx, name string) {
	if name == "" || strings.Contains(name, "/") {
		s.fail(ctx, &reqError{http.StatusNotFound, "no such file"})
		return
	}
	b, err := fs.ReadFile(uiFS, "ui/"+name)
	if err != nil {
		s.fail(ctx, &reqError{http.StatusNotFound, "no such file"})
		return
	}
	ctx.SetContentType(mime.TypeByExtension(path.Ext(name)))
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBody(b)
}

// render answers with a page built by write.
func (s *Server) render(ctx *fasthttp.RequestCtx, status int, write func(*page)) {
	p := page{b: make([]byte, 0, 16<<10)}
	write(&p)
	adminHeaders(ctx)
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(p.b)
}

func (s *Server) page(ctx *fasthttp.RequestCtx) {
	ss := s.adminSession(ctx)
	if ss == nil {
		if wantsJSON(ctx) {
			s.authorized(ctx) // 401 with the reason
			return
		}
		seeOther(ctx, "/admin/login")
		return
	}
	d := pageData{Status: s.Snapshot(), CSRF: ss.csrf}
	s.render(ctx, http.StatusOK, func(p *page) { adminPage(p, &d) })
}

func (s *Server) loginForm(ctx *fasthttp.RequestCtx, status int, msg string) {
	if status == http.StatusOK && s.adminSession(ctx) != nil {
		seeOther(ctx, "/admin")
		return
	}
	d := loginData{Version: s.o.Version, Error: msg}
	s.render(ctx, status, func(p *page) { loginPage(p, &d) })
}

func (s *Server) login(ctx *fasthttp.RequestCtx) {
	if !sameOrigin(ctx) {
		s.loginForm(ctx, http.StatusForbidden, "This login came from another site; open the admin page directly.")
		return
	}
	pass := string(ctx.PostArgs().Peek("password"))
	switch code, wait := s.checkPassword(ctx, pass); code {
	case 0:
	case http.StatusTooManyRequests:
		secs := int((wait + time.Second - 1) / time.Second)
		ctx.Response.Header.Set("Retry-After", fmt.Sprint(secs))
		s.loginForm(ctx, code, fmt.Sprintf("Too many failed logins: wait %d s and try again.", secs))
		return
	case http.StatusServiceUnavailable:
		ctx.Response.Header.Set("Retry-After", "1")
		s.loginForm(ctx, code, "The gateway is checking other logins; try again in a moment.")
		return
	default:
		s.loginForm(ctx, code, "Wrong password.")
		return
	}
	id, _ := s.adm.newSession()
	setSessionCookie(ctx, id)
	s.log.Info("web: admin logged in", "ip", ctx.RemoteIP().String())
	seeOther(ctx, "/admin")
}

func (s *Server) logout(ctx *fasthttp.RequestCtx) {
	ss := s.adminSession(ctx)
	if ss != nil && csrfOK(ctx, ss) {
		s.adm.endSession(ctx.Request.Header.Cookie(sessionCookie))
	} else if ss != nil {
		reply(ctx, http.StatusForbidden, "bad or missing CSRF token", map[string]string{"error": "bad or missing CSRF token"})
		return
	}
	setSessionCookie(ctx, "")
	seeOther(ctx, "/admin/login")
}

// action runs an admin action: retry or cancel a job, pause or resume a sender. It takes a
// session and its CSRF token (Basic auth is for reading only: a browser would send it
// cross-site by itself). It answers JSON to the page's script, or sends a form back to /admin.
func (s *Server) action(ctx *fasthttp.RequestCtx, what string) {
	ss := s.adminSession(ctx)
	if ss == nil {
		msg := "admin session required: log in at /admin/login"
		reply(ctx, http.StatusUnauthorized, msg, map[string]string{"error": msg})
		return
	}
	if !csrfOK(ctx, ss) {
		msg := "bad or missing CSRF token (reload the admin page)"
		reply(ctx, http.StatusForbidden, msg, map[string]string{"error": msg})
		return
	}
	args := ctx.PostArgs()
	var out map[string]string
	switch what {
	case "retry", "cancel":
		id := strings.TrimSpace(string(args.Peek("id")))
		var j *store.Job
		var err error
		if what == "retry" {
			j, err = s.o.Store.Retry(ctx, id)
		} else {
			if j, err = s.o.Store.Cancel(ctx, id, "cancelled by an admin"); err == nil {
				s.hist.add(histFailed, time.Now(), 1)
			}
		}
		if err != nil {
			s.fail(ctx, err)
			return
		}
		s.log.Info("web: admin action", "action", what, "job", id, "state", j.State)
		out = map[string]string{"id": j.ID, "state": string(j.State)}
	case "compact": // give the file's free pages back to the partition (issue 12); writes wait
		st, err := s.o.Store.Compact(ctx)
		if err != nil {
			s.fail(ctx, err)
			return
		}
		s.log.Info("web: admin action", "action", what, "stats", st.String())
		out = map[string]string{"before_bytes": strconv.FormatInt(st.Before, 10), "after_bytes": strconv.FormatInt(st.After, 10), "took": st.Took.String()}
	default: // pause, resume
		svc, snd := string(args.Peek("service")), string(args.Peek("sender"))
		if s.o.Dispatcher == nil || !s.o.Dispatcher.Pause(svc, snd, what == "pause") {
			s.fail(ctx, &reqError{http.StatusNotFound, "no sender " + svc + "/" + snd})
			return
		}
		s.log.Info("web: admin action", "action", what, "service", svc, "sender", snd)
		out = map[string]string{"service": svc, "sender": snd, "state": map[bool]string{true: "paused", false: "running"}[what == "pause"]}
	}
	if wantsJSON(ctx) {
		reply(ctx, 200, "", out)
		return
	}
	seeOther(ctx, "/admin")
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
