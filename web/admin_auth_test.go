package web

import (
	"net"
	"sync"
	"testing"
	"time"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestSessionsSlideAndExpire(t *testing.T) {
	c := &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	a := newAdminState(c.Now)
	id, ss := a.newSession()
	if len(id) != 43 || len(ss.csrf) != 43 {
		t.Fatalf("session id %d chars, csrf %d chars; want 43 (256 bits, base64url)", len(id), len(ss.csrf))
	}
	for i := 0; i < 3; i++ { // used every 11 h: it slides, so it lives on
		c.Add(11 * time.Hour)
		if a.session([]byte(id)) == nil {
			t.Fatalf("session expired after %d × 11 h of use, want it to slide", i+1)
		}
	}
	c.Add(SessionTTL + time.Second)
	if a.session([]byte(id)) != nil {
		t.Fatal("session alive after 12 h idle, want expired")
	}
	if a.session([]byte("")) != nil || a.session(make([]byte, 65)) != nil {
		t.Fatal("an empty or oversized cookie found a session")
	}
	id2, _ := a.newSession()
	a.endSession([]byte(id2))
	if a.session([]byte(id2)) != nil {
		t.Fatal("session alive after logout")
	}
}

func TestSessionsBounded(t *testing.T) {
	c := &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	a := newAdminState(c.Now)
	first, _ := a.newSession()
	for i := 0; i < maxSessions+10; i++ {
		c.Add(time.Second)
		a.newSession()
	}
	if n := len(a.sessions); n != maxSessions {
		t.Fatalf("%d sessions kept, want at most %d", n, maxSessions)
	}
	if a.session([]byte(first)) != nil {
		t.Fatal("the oldest session survived the eviction")
	}
}

func TestLoginLimiter(t *testing.T) {
	c := &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	a := newAdminState(c.Now)
	for i := 0; i < loginFailures; i++ {
		if w := a.attempt("192.0.2.1", false); w != 0 {
			t.Fatalf("blocked after %d failures, want %d allowed", i, loginFailures)
		}
	}
	if w := a.attempt("192.0.2.1", false); w <= 0 || w > loginWindow {
		t.Fatalf("attempt after %d failures: wait %v, want up to a minute", loginFailures, w)
	}
	if w := a.attempt("192.0.2.2", false); w != 0 {
		t.Fatal("another IP is blocked too")
	}
	c.Add(loginWindow)
	if w := a.attempt("192.0.2.1", false); w != 0 {
		t.Fatalf("still blocked after the window: %v", w)
	}
	// the table stays bounded under a flood of addresses, without a shared bucket
	c.Add(loginWindow)
	for i := 0; i < maxLimited+100; i++ {
		a.attempt("10.0."+itoa(i/256)+"."+itoa(i%256), true)
	}
	if n := len(a.failures); n > maxLimited {
		t.Fatalf("limiter holds %d addresses, want at most %d", n, maxLimited)
	}
	if _, ok := a.failures["*"]; ok {
		t.Fatal("a shared bucket exists")
	}
}

// TestLoginGlobalBudget: many sources together get globalFailures untrusted attempts per
// window; a device cookie from an earlier login still gets in (item 5).
func TestLoginGlobalBudget(t *testing.T) {
	c := &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	a := newAdminState(c.Now)
	allowed := 0
	for i := 0; i < 1000; i++ {
		if a.attempt("10.1."+itoa(i/256)+"."+itoa(i%256), false) == 0 {
			allowed++
		}
	}
	if allowed != globalFailures {
		t.Fatalf("1000 sources got %d attempts in a window, want the global budget %d", allowed, globalFailures)
	}
	dev := a.deviceKey([]byte(a.newDeviceCookie()))
	if dev == "" {
		t.Fatal("a fresh device cookie is not valid")
	}
	if w := a.attempt(dev, true); w != 0 {
		t.Fatalf("the admin's device cookie is locked out by others' failures: wait %v", w)
	}
	if a.deviceKey([]byte("x."+a.sign("y"))) != "" || a.deviceKey([]byte(a.newDeviceCookie()+"x")) != "" {
		t.Fatal("a forged device cookie is accepted")
	}
}

func TestLimitKeyIPv6Prefix(t *testing.T) {
	for _, tt := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:1:2:3"},
		{"fe80::1", "fe80::abcd"},
	} {
		if ka, kb := limitKey(net.ParseIP(tt.a)), limitKey(net.ParseIP(tt.b)); ka != kb {
			t.Errorf("limitKey(%s) = %s, limitKey(%s) = %s, want one key per /64", tt.a, ka, tt.b, kb)
		}
	}
	if limitKey(net.ParseIP("2001:db8:1:2::1")) == limitKey(net.ParseIP("2001:db8:1:3::1")) {
		t.Error("two /64s share a key")
	}
	if got := limitKey(net.ParseIP("192.0.2.7")); got != "192.0.2.7" {
		t.Errorf("limitKey(192.0.2.7) = %s", got)
	}
}
