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

func basicAuth(ctx *fasthttp.RequestCtx) (string, string, bool) {
	r := http.Request{Header: http.Header{"Authorization": {string(ctx.Request.Header.Peek("Authorization"))}}}
	return r.BasicAuth()
}
