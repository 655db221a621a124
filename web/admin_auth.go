package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
	// Login attempts (form or HTTP Basic) per source per loginWindow before 429.
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
	failures map[string]*failWindow // per source or device cookie
	global   failWindow             // untrusted attempts, every source together

	deviceSecret [32]byte // signs device cookies; per process, so a restart forgets them
}

type failWindow struct {
	start time.Time
	n     int
}

func newAdminState(now func() time.Time) *adminState {
	a := &adminState{now: now, sessions: map[[32]byte]*session{}, failures: map[string]*failWindow{}}
	_, _ = rand.Read(a.deviceSecret[:])
	return a
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

// The login limiter (issue 11, items 4 and 5).
//
// An attempt is counted when it starts, before bcrypt runs, so parallel guesses cannot all
// pass the check before the first failure is recorded; a success gives its count back.
// Untrusted attempts are counted per source (an IPv4 address, or the /64 of an IPv6 one: a
// host on a LAN has a whole /64 to pick addresses from) and against one global budget of
// failures per window, which bounds the guessing rate of any number of sources. A browser that
// logged in before carries a device cookie (OWASP's "device cookies"): its attempts are counted
// per cookie only, so neither a flood of guesses from elsewhere nor one from the admin's own
// address locks the real admin out. There is no shared bucket: a full table evicts its oldest
// entry, and the global budget still holds.

const (
	deviceCookie = "multimsg_device"
	// globalFailures is the untrusted failures per loginWindow, every source together.
	globalFailures = 30
)

// limitKey is the source an untrusted attempt is counted against.
func limitKey(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	if len(ip) == net.IPv6len {
		return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
	}
	return ip.String()
}

// deviceKey returns the limiter key of a valid device cookie, or "".
func (a *adminState) deviceKey(v []byte) string {
	nonce, sig, ok := strings.Cut(string(v), ".")
	if !ok || len(nonce) != 43 {
		return ""
	}
	want := a.sign(nonce)
	if subtle.ConstantTimeCompare([]byte(sig), []byte(want)) != 1 {
		return ""
	}
	return "dev:" + nonce
}

func (a *adminState) sign(nonce string) string {
	m := hmac.New(sha256.New, a.deviceSecret[:])
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// newDeviceCookie is the value of a fresh device cookie.
func (a *adminState) newDeviceCookie() string {
	n := random256()
	return n + "." + a.sign(n)
}

// window returns key's live window, making one; the caller holds mu.
func (a *adminState) window(key string, now time.Time) *failWindow {
	f := a.failures[key]
	if f != nil && now.Sub(f.start) < loginWindow {
		return f
	}
	if f == nil && len(a.failures) >= maxLimited {
		var oldest string
		var at time.Time
		for k, v := range a.failures {
			if now.Sub(v.start) >= loginWindow {
				delete(a.failures, k)
				continue
			}
			if at.IsZero() || v.start.Before(at) {
				oldest, at = k, v.start
			}
		}
		if len(a.failures) >= maxLimited {
			delete(a.failures, oldest)
		}
	}
	f = &failWindow{start: now}
	a.failures[key] = f
	return f
}

// attempt starts a login attempt from key: it returns how long to wait (0: go on, and the
// attempt is counted already). trusted attempts (a device cookie) skip the global budget.
func (a *adminState) attempt(key string, trusted bool) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	f := a.window(key, now)
	if f.n >= loginFailures {
		return f.start.Add(loginWindow).Sub(now)
	}
	if !trusted {
		if now.Sub(a.global.start) >= loginWindow {
			a.global = failWindow{start: now}
		}
		if a.global.n >= globalFailures {
			return a.global.start.Add(loginWindow).Sub(now)
		}
		a.global.n++
	}
	f.n++
	return 0
}

// undo gives back an attempt that did not run (no room for bcrypt).
func (a *adminState) undo(key string, trusted bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if f := a.failures[key]; f != nil && f.n > 0 {
		f.n--
	}
	if !trusted && a.global.n > 0 {
		a.global.n--
	}
}

// succeeded clears key's window; the attempt was no failure.
func (a *adminState) succeeded(key string, trusted bool) {
	a.undo(key, trusted)
	a.mu.Lock()
	delete(a.failures, key)
	a.mu.Unlock()
}

// tooMany is the 429 of too many failed logins, with Retry-After.
func tooMany(wait time.Duration) error {
	secs := strconv.Itoa(int((wait + time.Second - 1) / time.Second))
	return &reqError{status: http.StatusTooManyRequests, msg: "too many failed logins; try again in " + secs + " s", retryAfter: secs}
}

// checkPassword verifies an admin password under the rate limit: 0 when it is right, else
// the status to answer (401; 429 with the wait; 503 when bcrypt is busy).
func (s *Server) checkPassword(ctx *fasthttp.RequestCtx, pass string) (int, time.Duration) {
	key := s.adm.deviceKey(ctx.Request.Header.Cookie(deviceCookie))
	trusted := key != ""
	if !trusted {
		key = limitKey(ctx.RemoteIP())
	}
	if wait := s.adm.attempt(key, trusted); wait > 0 {
		return http.StatusTooManyRequests, wait
	}
	ok, err := s.crypto.bcrypt(ctx, func() bool { return s.o.Admin.Check(pass) })
	if err != nil {
		s.adm.undo(key, trusted)
		return http.StatusServiceUnavailable, time.Second
	}
	if !ok {
		s.log.Warn("web: admin login failed", "ip", ctx.RemoteIP().String(), "trusted_device", trusted)
		return http.StatusUnauthorized, 0
	}
	s.adm.succeeded(key, trusted)
	if !trusted {
		setDeviceCookie(ctx, s.adm.newDeviceCookie())
	}
	return 0, 0
}

// setDeviceCookie marks this browser as one the admin logged in from (a year).
func setDeviceCookie(ctx *fasthttp.RequestCtx, v string) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(deviceCookie)
	c.SetValue(v)
	c.SetPath("/admin")
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	c.SetSecure(ctx.IsTLS())
	c.SetMaxAge(365 * 24 * 3600)
	ctx.Response.Header.SetCookie(c)
}

// adminSession returns the request's live admin session, or nil.
func (s *Server) adminSession(ctx *fasthttp.RequestCtx) *session {
	return s.adm.session(ctx.Request.Header.Cookie(sessionCookie))
}

// authorized is nil when the request carries a live session or the admin password in HTTP
// Basic (scripts), else the refusal: 401 with a Basic challenge, 429 when the client has
// failed too often, 503 when bcrypt is busy.
func (s *Server) authorized(ctx *fasthttp.RequestCtx) error {
	if s.adminSession(ctx) != nil {
		return nil
	}
	if _, pass, ok := basicAuth(ctx); ok {
		switch code, wait := s.checkPassword(ctx, pass); code {
		case 0:
			return nil
		case http.StatusTooManyRequests:
			return tooMany(wait)
		case http.StatusServiceUnavailable:
			return errBcryptBusy
		}
	}
	return &reqError{status: http.StatusUnauthorized, challenge: true,
		msg: "admin login required: log in at /admin/login, or use HTTP Basic with the admin password"}
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
