package gateway_test

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"multimsg/gateway/gatewaytest"
)

// TestSlowClient: a client that sends part of a request and then stalls is cut off after the
// read timeout, and does not hold the server.
func TestSlowClient(t *testing.T) {
	g := gatewaytest.Start(t, "[limits]\nread_timeout = \"300ms\"\n[[mail.sender]]\nname = \"o\"\nmaildir = \"outbox\"\n")
	c, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /data HTTP/1.1\r\nHost: box\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 1000\r\n\r\n--x\r\n")
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server kept a stalled client for 10 s (read timeout 300ms)")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("stalled client cut off after %v, want about the read timeout", took)
	}
	t.Logf("stalled client cut off after %v; answer %q", time.Since(start).Round(time.Millisecond), firstLine(b))
	if code, _ := gatewaytest.Get(t, g.URL+"/healthz"); code != 200 {
		t.Fatalf("/healthz after the slow client = %d", code)
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\r\n")
	return s
}
