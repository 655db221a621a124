package web

import (
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
		if w := a.blocked("192.0.2.1"); w != 0 {
			t.Fatalf("blocked after %d failures, want %d allowed", i, loginFailures)
		}
		a.failed("192.0.2.1")
	}
	if w := a.blocked("192.0.2.1"); w <= 0 || w > loginWindow {
		t.Fatalf("blocked(%d failures) = %v, want up to a minute", loginFailures, w)
	}
	if w := a.blocked("192.0.2.2"); w != 0 {
		t.Fatal("another IP is blocked too")
	}
	c.Add(loginWindow)
	if w := a.blocked("192.0.2.1"); w != 0 {
		t.Fatalf("still blocked after the window: %v", w)
	}
	// the table stays bounded under a flood of addresses
	for i := 0; i < maxLimited+100; i++ {
		a.failed("10.0." + itoa(i/256) + "." + itoa(i%256))
	}
	if n := len(a.failures); n > maxLimited+1 {
		t.Fatalf("limiter holds %d addresses, want at most %d", n, maxLimited+1)
	}
	if w := a.blocked("10.99.99.99"); w <= 0 {
		t.Fatal("a newcomer to a full table is not limited, want it limited with the shared bucket")
	}
}
