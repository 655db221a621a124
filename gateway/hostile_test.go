package gateway_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// The cost of a hostile request, in the memory of the real process (issue 11, items 1 and 2).
// Each test asserts a generous bound on RssAnon, the anonymous memory of `multimsg serve` from
// /proc/<pid>/status, and logs the figure for docs/LOAD.md's table. Before issue 11 the
// first one took the process to 2.96 GB, the last to 140 MiB.

// peakRSS samples pid's RssAnon until stop is called, which returns the highest figure seen.
func peakRSS(t testing.TB, pid int) (stop func() int64) {
	done := make(chan struct{})
	peak := make(chan int64)
	go func() {
		tk := time.NewTicker(2 * time.Millisecond)
		defer tk.Stop()
		var max int64
		for {
			if n := rssAnon(t, pid); n > max {
				max = n
			}
			select {
			case <-done:
				peak <- max
				return
			case <-tk.C:
			}
		}
	}()
	return func() int64 { close(done); return <-peak }
}

// aAmp is "a&a&a&…", the body that costs fasthttp's form parser ~100 times its size.
type aAmp struct{}

func (aAmp) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = "a&"[i%2]
	}
	return len(p), nil
}

// rawPost writes a request head and body on a connection of its own and reads the answer; the
// body is written in the background, so a server may answer before reading it.
func rawPost(t testing.TB, addr, path, hdr string, body io.Reader) int {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", path, addr, hdr)
	go io.Copy(c, body)
	c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	r.Body.Close()
	return r.StatusCode
}

func TestHostileFormMemory(t *testing.T) {
	srv := startServer(t, buildServer(t), serverConfig(t, t.TempDir(), ""))
	pid := srv.cmd.Process.Pid
	before := rssAnon(t, pid)
	stop := peakRSS(t, pid)
	const size = 30 << 20
	code := rawPost(t, srv.addr, "/admin/login", fmt.Sprintf("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n", size),
		io.LimitReader(aAmp{}, size))
	peak := stop()
	t.Logf("30 MiB a&a&… to /admin/login: %d; RssAnon %s before, peak %s", code, mib(before), mib(peak))
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /admin/login with 30 MiB of a& = %d, want 413", code)
	}
	if peak > 32<<20 {
		t.Errorf("RssAnon peaked at %s, want under 32 MiB", mib(peak))
	}
}

func TestHostileUploadMemory(t *testing.T) {
	srv := startServer(t, buildServer(t), serverConfig(t, t.TempDir(), "", `body_wait = "30s"`))
	pid := srv.cmd.Process.Pid
	before := rssAnon(t, pid)

	// chunked 100 MiB, one file part that never ends: counted as it arrives (and stored in
	// pieces as it does), refused at max_body, its pieces deleted
	stop := peakRSS(t, pid)
	head := "--zz\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f\"\r\n\r\n"
	code := rawPost(t, srv.addr, "/data", "Content-Type: multipart/form-data; boundary=zz\r\nTransfer-Encoding: chunked\r\n",
		chunk(io.MultiReader(strings.NewReader(head), io.LimitReader(aAmp{}, 100<<20))))
	peak := stop()
	t.Logf("chunked 100 MiB to /data: %d; RssAnon %s before, peak %s", code, mib(before), mib(peak))
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("a chunked 100 MiB upload = %d, want 413", code)
	}
	if peak > 48<<20 {
		t.Errorf("RssAnon peaked at %s, want under 48 MiB", mib(peak))
	}

	// eight 31 MiB uploads at once: streamed, each charged 4 MiB of the 64 MiB budget
	body, hdr := upload31MiB()
	stop = peakRSS(t, pid)
	codes := make([]int, 8)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() { codes[i] = rawPost(t, srv.addr, "/data", hdr, bytes.NewReader(body)) })
	}
	wg.Wait()
	peak = stop()
	t.Logf("8 concurrent 31 MiB uploads to /data: %v; RssAnon peak %s", codes, mib(peak))
	ok := 0
	for _, c := range codes {
		switch c {
		case 200:
			ok++
		case http.StatusServiceUnavailable:
		default:
			t.Errorf("an upload answered %d, want 200 or 503", c)
		}
	}
	if ok < 8 {
		t.Errorf("%d of 8 uploads stored, want all (streamed, they fit the budget together)", ok)
	}
	// The target (item 2): a streamed upload holds about a piece of memory (the store
	// writes it in 1 MiB pieces), so all eight run at once under 128 MiB.
	if peak > 128<<20 {
		t.Errorf("RssAnon peaked at %s, want under 128 MiB", mib(peak))
	}
}

// chunk frames r as a chunked body.
func chunk(r io.Reader) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				if _, e := fmt.Fprintf(pw, "%x\r\n%s\r\n", n, buf[:n]); e != nil {
					return
				}
			}
			if err != nil {
				io.WriteString(pw, "0\r\n\r\n")
				pw.Close()
				return
			}
		}
	}()
	return pr
}
