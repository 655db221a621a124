package mailin

import (
	"net"
	"sync"
	"time"
)

// connLimit bounds the connections at once, in all and per client address: every open session
// may hold a message of up to MaxSize in memory, so the connections bound the memory.
type connLimit struct {
	max, perIP int
	mu         sync.Mutex // guards n, byIP
	n          int
	byIP       map[string]int
}

func newConnLimit(max, perIP int) *connLimit {
	return &connLimit{max: max, perIP: perIP, byIP: map[string]int{}}
}

func (l *connLimit) wrap(ln net.Listener) net.Listener { return &limitedListener{Listener: ln, l: l} }

type limitedListener struct {
	net.Listener
	l *connLimit
}

// Accept hands on the connections within the limits; one over them is told 421 (the client
// tries again later, as with any busy server) and closed, without reaching go-smtp.
func (ll *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := ""
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ip = ta.IP.String()
		}
		if ll.l.take(ip) {
			return &limitedConn{Conn: c, release: func() { ll.l.give(ip) }}, nil
		}
		go refuse(c)
	}
}

func refuse(c net.Conn) {
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write([]byte("421 4.7.0 too many connections; try again later\r\n"))
	_ = c.Close()
}

func (l *connLimit) take(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n >= l.max || l.byIP[ip] >= l.perIP {
		return false
	}
	l.n++
	l.byIP[ip]++
	return true
}

func (l *connLimit) give(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n--
	if l.byIP[ip]--; l.byIP[ip] <= 0 {
		delete(l.byIP, ip)
	}
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
