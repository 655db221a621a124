package web_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawPost writes a POST's head and then body to the box on a connection of its own, and reads
// the answer. The body is written in the background: a server that answers before reading it
// all is what some of these tests want.
func (b *box) rawPost(path string, hdr string, body io.Reader) (*http.Response, string) {
	b.t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(b.base, "http://"))
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", path, strings.TrimPrefix(b.base, "http://"), hdr)
	go io.Copy(c, body) // ends with an error once the server closes: that is fine
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		b.t.Fatalf("POST %s: no answer: %v", path, err)
	}
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	r.Body.Close()
	return r, string(raw)
}

// endless is a body of "a&a&a&…" that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = "a&"[i%2]
	}
	return len(p), nil
}

// TestBodyLimitFromHeaders: a body larger than its route takes is refused from its headers,
// before a byte of it is read (issue 11, item 1).
func TestBodyLimitFromHeaders(t *testing.T) {
	b := startBox(t, "")
	for _, path := range []string{"/admin/login", "/msg", "/cons", "/admin/api/retry"} {
		r, body := b.rawPost(path, "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 31457280\r\n", endless{})
		if r.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("POST %s with a 30 MiB form = %d %s, want 413", path, r.StatusCode, body)
		}
	}
	// chunked: counted as it arrives
	r, body := b.rawPost("/admin/login", "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n", chunked(endless{}))
	if r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /admin/login with an endless chunked form = %d %s, want 413", r.StatusCode, body)
	}
	// a small form with too many fields is refused before fasthttp parses it
	many := strings.Repeat("a&", 1000) + "id=x"
	if r := b.do("POST", "/cons", strings.NewReader(many), "Content-Type", formCT); r.code != http.StatusRequestEntityTooLarge || !strings.Contains(r.body, "too many form fields") {
		t.Errorf("/cons with 1001 fields = %d %s, want 413 too many form fields", r.code, r.body)
	}
}

// chunked frames r as an endless chunked body.
func chunked(r io.Reader) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, _ := r.Read(buf)
			if _, err := fmt.Fprintf(pw, "%x\r\n%s\r\n", n, buf[:n]); err != nil {
				return
			}
		}
	}()
	return pr
}

// TestUploadBudget: an upload that finds the budget of bodies in flight full waits body_wait,
// then gets 503 with Retry-After; an upload over max_body is refused however it is framed
// (issue 11, item 2).
func TestUploadBudget(t *testing.T) {
	b := startBox(t, "", "[limits]\nmax_body = \"1MiB\"\nbody_budget = \"1088KiB\"\nbody_wait = \"200ms\"\n")
	// a slow upload of max_body holds the budget while its body trickles in
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	c, err := net.Dial("tcp", strings.TrimPrefix(b.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=zz\r\nContent-Length: %d\r\n\r\n", 1<<20)
	go io.Copy(c, pr)
	pw.Write(make([]byte, 16<<10)) // past fasthttp's prefetch: the handler runs and takes its share
	var r resp
	for i := 0; ; i++ { // until the slow upload holds its share (it is read in the handler)
		r = b.do("POST", "/send", bytes.NewReader(make([]byte, 200<<10)), "Content-Type", "multipart/form-data; boundary=zz")
		if r.code == http.StatusServiceUnavailable || i > 100 {
			break
		}
	}
	if r.code != http.StatusServiceUnavailable || r.hdr.Get("Retry-After") == "" {
		t.Fatalf("an upload while the budget is full = %d (Retry-After %q) %s, want 503 with Retry-After", r.code, r.hdr.Get("Retry-After"), r.body)
	}
	rr, body := b.rawPost("/send", "Content-Type: multipart/form-data; boundary=zz\r\nTransfer-Encoding: chunked\r\n", chunked(endless{}))
	if rr.StatusCode != http.StatusRequestEntityTooLarge && rr.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("an endless chunked upload = %d %s, want 413 (or 503 while the budget is held)", rr.StatusCode, body)
	}
	rr, body = b.rawPost("/send", "Content-Type: multipart/form-data; boundary=zz\r\nContent-Length: 5000000\r\n", endless{})
	if rr.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("an upload declaring 5 MB = %d %s, want 413", rr.StatusCode, body)
	}
}

// TestParallelLoginsCounted: guesses sent at once are counted before bcrypt runs, so no more
// than the limit of them are ever checked (issue 11, item 4).
func TestParallelLoginsCounted(t *testing.T) {
	b := startBox(t, "")
	const n = 30
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			codes[i] = b.do("POST", "/admin/login", form("password", "guess"+strconv.Itoa(i)), "Content-Type", formCT).code
		})
	}
	wg.Wait()
	checked := 0
	for _, c := range codes {
		switch c {
		case http.StatusUnauthorized:
			checked++
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		default:
			t.Errorf("a parallel guess got %d", c)
		}
	}
	if checked > 5 {
		t.Fatalf("%d of %d parallel guesses were checked, want at most 5 (%v)", checked, n, codes)
	}
}

// TestDeviceLoginSurvivesFlood: once the admin logged in from a browser, its device cookie
// gets it in while others' guesses have used up the global budget (issue 11, item 5).
func TestDeviceLoginSurvivesFlood(t *testing.T) {
	b := startBox(t, "")
	r := b.do("POST", "/admin/login", form("password", testPassword), "Content-Type", formCT)
	var dev string
	for _, c := range r.cookies {
		if c.Name == "multimsg_device" {
			dev = c.Name + "=" + c.Value
		}
	}
	if dev == "" {
		t.Fatalf("a login set no device cookie: %v", r.hdr)
	}
	for i := 0; i < 40; i++ { // everything from this address, well past the global budget
		b.do("POST", "/admin/login", form("password", "guess"), "Content-Type", formCT)
	}
	if r := b.do("POST", "/admin/login", form("password", testPassword), "Content-Type", formCT); r.code != http.StatusTooManyRequests {
		t.Fatalf("an untrusted login after the flood = %d, want 429", r.code)
	}
	r = b.do("POST", "/admin/login", form("password", testPassword), "Content-Type", formCT, "Cookie", dev)
	if r.code != http.StatusSeeOther {
		t.Fatalf("the admin's browser (device cookie) after the flood = %d %s, want 303 to /admin", r.code, r.body)
	}
}

// TestDeviceRoutesRefuseBrowsers: Origin, Sec-Fetch-Site and a foreign Host are refused on
// device routes; what curl sends is not (issue 11, item 9).
func TestDeviceRoutesRefuseBrowsers(t *testing.T) {
	b := startBox(t, "")
	upload := func(hdr ...string) resp {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("serv", "mail")
		mw.WriteField("dest", "ops@example.com")
		fw, _ := mw.CreateFormFile("body", "alert.txt")
		io.WriteString(fw, "hello")
		mw.Close()
		return b.do("POST", "/send", &body, append([]string{"Content-Type", mw.FormDataContentType()}, hdr...)...)
	}
	for _, hdr := range [][]string{
		{"Origin", "http://evil.example"},
		{"Origin", "null"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Host", "evil.example"},
		{"Host", "rebind.attacker.example:8080"},
	} {
		if r := upload(hdr...); r.code != http.StatusForbidden {
			t.Errorf("/send with %s: %s = %d %s, want 403", hdr[0], hdr[1], r.code, r.body)
		}
	}
	for _, hdr := range [][]string{nil, {"Sec-Fetch-Site", "none"}, {"Host", "localhost"}} {
		if r := upload(hdr...); r.code != 200 {
			t.Errorf("/send with %v = %d %s, want 200", hdr, r.code, r.body)
		}
	}
	if n := len(b.status().Recent); n != 3 {
		t.Errorf("%d jobs stored, want the 3 allowed ones", n)
	}
}

// TestMaxConnsPerIP: connections from one address past limits.max_conns_per_ip are refused
// (issue 11, item 3).
func TestMaxConnsPerIP(t *testing.T) {
	b := startBox(t, "", "[limits]\nmax_conns_per_ip = 2\n")
	addr := strings.TrimPrefix(b.base, "http://")
	get := func() (net.Conn, int) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		r, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("GET /healthz: %v", err)
		}
		r.Body.Close()
		return c, r.StatusCode
	}
	// all held open (keep-alive); the box's own client may hold one too
	ok, refused := 0, 0
	for i := 0; i < 5; i++ {
		switch _, code := get(); code {
		case 200:
			ok++
		case http.StatusTooManyRequests:
			refused++
		default:
			t.Errorf("connection %d: %d", i+1, code)
		}
	}
	if ok > 2 || refused < 3 {
		t.Fatalf("5 connections from one address with max_conns_per_ip = 2: %d served, %d refused", ok, refused)
	}
}
