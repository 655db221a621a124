package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/crypto/bcrypt"

	"multimsg/dispatch"
	"multimsg/store"
)

var sprintf = fmt.Sprintf

// AdminAuth checks the admin password against its bcrypt hash. A verified password is
// remembered (as its SHA-256) for a minute, so scripts polling with Basic auth do not pay
// bcrypt's cost on every request.
type AdminAuth struct {
	Hash string

	mu     sync.Mutex // guards ok, okTill
	ok     [32]byte
	okTill time.Time
}

// Check reports whether password is the admin password, in constant time for cached hits.
func (a *AdminAuth) Check(password string) bool {
	if a.Hash == "" {
		return false
	}
	sum := sha256.Sum256([]byte(password))
	a.mu.Lock()
	hit := time.Now().Before(a.okTill) && subtle.ConstantTimeCompare(sum[:], a.ok[:]) == 1
	a.mu.Unlock()
	if hit {
		return true
	}
	if bcrypt.CompareHashAndPassword([]byte(a.Hash), []byte(password)) != nil {
		return false
	}
	a.mu.Lock()
	a.ok, a.okTill = sum, time.Now().Add(time.Minute)
	a.mu.Unlock()
	return true
}

// adminOK authenticates an admin request (HTTP Basic, user "admin" or any name).
func (s *Server) adminOK(ctx *fasthttp.RequestCtx) bool {
	_, pass, ok := basicAuth(ctx)
	if ok && s.o.Admin.Check(pass) {
		return true
	}
	ctx.Response.Header.Set("WWW-Authenticate", `Basic realm="multimsg admin"`)
	msg := "admin login required (HTTP Basic with the admin password)"
	reply(ctx, http.StatusUnauthorized, msg, map[string]string{"error": msg})
	return false
}

func basicAuth(ctx *fasthttp.RequestCtx) (string, string, bool) {
	r := http.Request{Header: http.Header{"Authorization": {string(ctx.Request.Header.Peek("Authorization"))}}}
	return r.BasicAuth()
}

// Status is /admin/api/status: what admins see.
type Status struct {
	Version  string                  `json:"version"`
	Uptime   string                  `json:"uptime"`
	Started  time.Time               `json:"started"`
	Jobs     map[string]int64        `json:"jobs"` // by state, plus "archived"
	Queue    int                     `json:"queue_depth"`
	Store    StoreStatus             `json:"store"`
	Senders  []dispatch.SenderStatus `json:"senders"`
	Devices  []store.Device          `json:"devices"`
	Services []string                `json:"services"`
	Extra    map[string]any          `json:"extra,omitempty"`
}

// StoreStatus is the store's size against its quota.
type StoreStatus struct {
	Bytes     int64 `json:"bytes"`
	Quota     int64 `json:"quota"`
	FileBytes int64 `json:"file_bytes"`
}

// Snapshot gathers the status facts.
func (s *Server) Snapshot() Status {
	counts, archived := s.o.Store.Counts()
	jobs := map[string]int64{"archived": archived}
	for st, n := range counts {
		jobs[string(st)] = n
	}
	used, quota := s.o.Store.Bytes()
	st := Status{Version: s.o.Version, Started: s.started, Uptime: time.Since(s.started).Round(time.Second).String(),
		Jobs: jobs, Store: StoreStatus{Bytes: used, Quota: quota, FileBytes: s.o.Store.FileSize()},
		Devices: s.o.Store.Devices(), Services: s.o.Registry.Names()}
	if s.o.Dispatcher != nil {
		st.Senders = s.o.Dispatcher.Senders()
		st.Queue = s.o.Dispatcher.QueueDepth()
	}
	if s.o.Status != nil {
		st.Extra = s.o.Status()
	}
	return st
}

func (s *Server) status(ctx *fasthttp.RequestCtx) {
	if !s.adminOK(ctx) {
		return
	}
	ctx.Request.Header.Set("Accept", "application/json")
	reply(ctx, 200, "", s.Snapshot())
}
