package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Admin sessions, CSRF tokens and the login rate limit.
//
// A session is a random 256-bit id in an HttpOnly, SameSite=Strict cookie; the server keeps,
// in memory only, the SHA-256 of each id (so a map lookup's timing says nothing about a valid
// id), its CSRF token and its expiry. Sessions slide: each authenticated request pushes the
// expiry to SessionTTL from now. A restart logs every admin out, which is the point of
// keeping them in memory.

const (
	sessionCookie = "multimsg_admin"
	// SessionTTL is how long an idle admin session lasts.
	SessionTTL = 12 * time.Hour
	// maxSessions bounds memory: a new login past it evicts the session closest to expiry.
	maxSessions = 64
	// Failed logins (form or HTTP Basic) per client IP per loginWindow before 429.
	loginFailures = 5
	loginWindow   = time.Minute
	// maxLimited bounds the rate limiter's table of client IPs.
	maxLimited = 4096
)

type session struct {
	csrf    string
	expires time.Time
}

// adminState is the admin side's memory: sessions and the login limiter.
type adminState struct {
	now func() time.Time

	mu       sync.Mutex // guards sessions and failures
	sessions map[[32]byte]*session
	failures map[string]*failWindow
}

type failWindow struct {
	start time.Time
	n     int
}

func newAdminState(now func() time.Time) *adminState {
	return &adminState{now: now, sessions: map[[32]byte]*session{}, failures: map[string]*failWindow{}}
}

func random256() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on Linux (it panics if the kernel can't provide)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newSession starts a session and returns its cookie value.
func (a *adminState) newSession() (string, *session) {
	id := random256()
	ss := &session{csrf: random256(), expires: a.now().Add(SessionTTL)}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	for k, s := range a.sessions {
		if now.After(s.expires) {
			delete(a.sessions, k)
		}
	}
	for len(a.sessions) >= maxSessions {
		var oldest [32]byte
		var at time.Time
		for k, s := range a.sessions {
			if at.IsZero() || s.expires.Before(at) {
				oldest, at = k, s.expires
			}
		}
		delete(a.sessions, oldest)
	}
	a.sessions[sha256.Sum256([]byte(id))] = ss
	return id, ss
}

// session returns the live session of cookie value id, sliding its expiry, or nil.
func (a *adminState) session(id []byte) *session {
	if len(id) == 0 || len(id) > 64 {
		return nil
	}
	k := sha256.Sum256(id)
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[k]
	if s == nil {
		return nil
	}
	now := a.now()
	if now.After(s.expires) {
		delete(a.sessions, k)
		return nil
	}
	s.expires = now.Add(SessionTTL)
	return s
}

func (a *adminState) endSession(id []byte) {
	k := sha256.Sum256(id)
	a.mu.Lock()
	delete(a.sessions, k)
	a.mu.Unlock()
}

// blocked says how long ip must wait before its next login attempt (0: it may try now).
func (a *adminState) blocked(ip string) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.failures[ip]
	if f == nil && len(a.failures) >= maxLimited {
		ip = "*" // the table is full: newcomers share one bucket (see failed)
		f = a.failures[ip]
	}
	if f == nil {
		return 0
	}
	left := f.start.Add(loginWindow).Sub(a.now())
	if left <= 0 {
		delete(a.failures, ip)
		return 0
	}
	if f.n >= loginFailures {
		return left
	}
	return 0
}

// failed counts a failed login from ip.
func (a *adminState) failed(ip string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	f := a.failures[ip]
	if f == nil || now.Sub(f.start) >= loginWindow {
		if len(a.failures) >= maxLimited {
			for k, v := range a.failures {
				if now.Sub(v.start) >= loginWindow {
					delete(a.failures, k)
				}
			}
			if len(a.failures) >= maxLimited {
				// Still full: every entry is a live attacker window. Fold the newcomer into a
				// shared bucket, so the table stays bounded and the newcomer is still limited.
				ip = "*"
				if f = a.failures[ip]; f != nil && now.Sub(f.start) < loginWindow {
					f.n++
					return
				}
			}
		}
		f = &failWindow{start: now}
		a.failures[ip] = f
	}
	f.n++
}

func (a *adminState) succeeded(ip string) {
	a.mu.Lock()
	delete(a.failures, ip)
	a.mu.Unlock()
}

// tooMany answers 429 with Retry-After.
func tooMany(ctx *fasthttp.RequestCtx, wait time.Duration) {
	secs := int((wait + time.Second - 1) / time.Second)
	ctx.Response.Header.Set("Retry-After", strconv.Itoa(secs))
	msg := "too many failed logins from " + ctx.RemoteIP().String() + "; try again in " + strconv.Itoa(secs) + " s"
	reply(ctx, http.StatusTooManyRequests, msg, map[string]string{"error": msg})
}

// checkPassword verifies an admin password under the rate limit: 0 when it is right, else
// the status to answer (401, or 429 with the wait).
func (s *Server) checkPassword(ctx *fasthttp.RequestCtx, pass string) (int, time.Duration) {
	ip := ctx.RemoteIP().String()
	if wait := s.adm.blocked(ip); wait > 0 {
		return http.StatusTooManyRequests, wait
	}
	if !s.o.Admin.Check(pass) {
		s.adm.failed(ip)
		s.log.Warn("web: admin login failed", "ip", ip)
		return http.StatusUnauthorized, 0
	}
	s.adm.succeeded(ip)
	return 0, 0
}

// adminSession returns the request's live admin session, or nil.
func (s *Server) adminSession(ctx *fasthttp.RequestCtx) *session {
	return s.adm.session(ctx.Request.Header.Cookie(sessionCookie))
}

// authorized reports whether the request carries a live session or the admin password in
// HTTP Basic (scripts). When it does not, it has answered: 401 with a Basic challenge, or
// 429 when the client has failed too often.
func (s *Server) authorized(ctx *fasthttp.RequestCtx) bool {
	if s.adminSession(ctx) != nil {
		return true
	}
	if _, pass, ok := basicAuth(ctx); ok {
		switch code, wait := s.checkPassword(ctx, pass); code {
		case 0:
			return true
		case http.StatusTooManyRequests:
			tooMany(ctx, wait)
			return false
		}
	}
	// The Basic challenge is for scripts and a browser opening the URL; the page's own fetches
	// (Sec-Fetch-Mode other than navigate) get a bare 401, which the script turns into the login
	// form, instead of the browser's password dialog.
	if m := string(ctx.Request.Header.Peek("Sec-Fetch-Mode")); m == "" || m == "navigate" {
		ctx.Response.Header.Set("WWW-Authenticate", `Basic realm="multimsg admin"`)
	}
	msg := "admin login required: log in at /admin/login, or use HTTP Basic with the admin password"
	reply(ctx, http.StatusUnauthorized, msg, map[string]string{"error": msg})
	return false
}

// setSessionCookie sends the session cookie; an empty id deletes it.
func setSessionCookie(ctx *fasthttp.RequestCtx, id string) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(sessionCookie)
	c.SetValue(id)
	c.SetPath("/")
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	c.SetSecure(string(ctx.Request.URI().Scheme()) == "https" || ctx.IsTLS())
	if id == "" {
		c.SetMaxAge(-1)
	} else {
		c.SetMaxAge(int(SessionTTL / time.Second))
	}
	ctx.Response.Header.SetCookie(c)
}

// sameOrigin rejects a cross-site POST: when the browser says where the request comes from
// (Origin, else Referer), it must be this host.
func sameOrigin(ctx *fasthttp.RequestCtx) bool {
	host := string(ctx.Host())
	if o := ctx.Request.Header.Peek("Origin"); len(o) > 0 {
		u, err := url.Parse(string(o))
		return err == nil && u.Host != "" && u.Host == host
	}
	if r := ctx.Request.Header.Referer(); len(r) > 0 {
		u, err := url.Parse(string(r))
		return err == nil && u.Host == host
	}
	return true // neither header: not a browser's cross-site form (browsers send Origin on POST)
}

// csrfOK checks the request's CSRF token (header X-CSRF-Token or the urlencoded form field
// csrf; the page sends nothing else) against the session's, in constant time, and its origin.
func csrfOK(ctx *fasthttp.RequestCtx, ss *session) bool {
	tok := ctx.Request.Header.Peek("X-CSRF-Token")
	if len(tok) == 0 {
		tok = ctx.PostArgs().Peek("csrf")
	}
	return sameOrigin(ctx) && len(tok) > 0 && subtle.ConstantTimeCompare(tok, []byte(ss.csrf)) == 1
}
