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
)

var sprintf = fmt.Sprintf

// AdminAuth checks the admin password against its bcrypt hash. A verified password is
// remembered (as its SHA-256) for a minute, so scripts polling with Basic auth do not pay
// bcrypt's cost on every request.
type AdminAuth struct {
	Hash string // set before the server starts; later changes go through SetHash

	mu     sync.Mutex // guards Hash (after start), ok, okTill
	ok     [32]byte
	okTill time.Time
}

// Check reports whether password is the admin password, in constant time for cached hits.
func (a *AdminAuth) Check(password string) bool {
	sum := sha256.Sum256([]byte(password))
	a.mu.Lock()
	hash := a.Hash
	hit := time.Now().Before(a.okTill) && subtle.ConstantTimeCompare(sum[:], a.ok[:]) == 1
	a.mu.Unlock()
	if hash == "" {
		return false
	}
	if hit {
		return true
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return false
	}
	a.mu.Lock()
	if a.Hash == hash { // not changed meanwhile
		a.ok, a.okTill = sum, time.Now().Add(time.Minute)
	}
	a.mu.Unlock()
	return true
}

// SetHash replaces the admin password's hash (the settings page, SIGHUP); the remembered
// password is forgotten. Sessions already open stay open.
func (a *AdminAuth) SetHash(hash string) {
	a.mu.Lock()
	a.Hash, a.okTill = hash, time.Time{}
	a.mu.Unlock()
}

func basicAuth(ctx *fasthttp.RequestCtx) (string, string, bool) {
	r := http.Request{Header: http.Header{"Authorization": {string(ctx.Request.Header.Peek("Authorization"))}}}
	return r.BasicAuth()
}
