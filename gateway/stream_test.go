package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"multimsg/envelope"
	"multimsg/gateway/gatewaytest"
	"multimsg/internal/poll"
	"multimsg/store"
)

// Issue 11, item 2: a large /data body is streamed into the store in pieces. What a device
// sees is the same as for a body read whole: the files, their names and types, the limits, an
// encrypted upload opened.
func TestStreamedUpload(t *testing.T) {
	g := gatewaytest.Start(t, `
[[mail.sender]]
name = "outbox"
maildir = "outbox"
`)
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16+7) // > 1 MiB: streamed
	body, ct := multipartBody(part{name: "big", filename: `C:\dir\big.bin`, data: big},
		part{name: "note", filename: "n.txt", data: []byte("hello")})
	code, id := post(t, g, "/data", ct, body, false)
	if code != 200 || !store.ValidID(id) {
		t.Fatalf("/data = %d %q", code, id)
	}
	j, err := g.Store.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if j.Files[0].Pieces < 3 || j.Files[0].Filename != "big.bin" || j.Files[0].MIME != "application/octet-stream" {
		t.Fatalf("stored file = %+v, want it in pieces, named big.bin", j.Files[0])
	}
	files, err := g.Store.Data(id)
	if err != nil || !bytes.Equal(files[0].Data, big) || string(files[1].Data) != "hello" {
		t.Fatalf("read back: %v", err)
	}

	// Chunked (no Content-Length): streamed too, counted as it arrives.
	body, ct = multipartBody(part{name: "big", filename: "big.bin", data: big})
	req, _ := http.NewRequest(http.MethodPost, g.URL+"/data", io.NopCloser(body)) // unknown length: chunked
	req.Header.Set("Content-Type", ct)
	if code, id := gatewaytest.Do(t, req); code != 200 {
		t.Fatalf("chunked /data = %d %q", code, id)
	}

	// Encrypted, the key part last: the files are opened once stored, and a replay refused.
	sealer, err := envelope.NewSealer(g.Key.Public())
	if err != nil {
		t.Fatal(err)
	}
	body, ct = multipartBody(part{name: "report", filename: "r.bin", data: sealer.Seal(big)},
		part{name: "key", filename: "key", data: sealer.WrappedKey()})
	captured := bytes.Clone(body.Bytes())
	code, id = post(t, g, "/data", ct, body, false)
	if code != 200 {
		t.Fatalf("encrypted /data = %d %q", code, id)
	}
	if files, err := g.Store.Data(id); err != nil || !bytes.Equal(files[0].Data, big) {
		t.Fatalf("the encrypted file was not stored opened: %v", err)
	}
	if code, answer := post(t, g, "/data", ct, bytes.NewBuffer(captured), false); code != 409 {
		t.Fatalf("replayed encrypted /data = %d %q, want 409", code, answer)
	}
	// A wrong key: refused, nothing kept.
	other, _ := envelope.NewSealer(g.Key.Public())
	body, ct = multipartBody(part{name: "report", filename: "r.bin", data: sealer.Seal(big)},
		part{name: "key", filename: "key", data: other.WrappedKey()})
	if code, answer := post(t, g, "/data", ct, body, false); code != 400 && code != 422 {
		t.Fatalf("a file sealed under another key = %d %q, want it refused", code, answer)
	}

	used, _ := g.Store.Bytes()
	// Refusals: each leaves nothing stored and says why.
	for name, c := range map[string]struct {
		parts []part
		code  int
		says  string
	}{
		"duplicate": {[]part{{name: "a", filename: "a", data: big}, {name: "a", filename: "a", data: []byte("x")}}, 400, "appears twice"},
		"too large": {[]part{{name: "a", filename: "a", data: bytes.Repeat(big, 11)}}, 413, "too large"},
	} {
		body, ct := multipartBody(c.parts...)
		code, answer := post(t, g, "/data", ct, body, false)
		if code != c.code || !strings.Contains(answer, c.says) {
			t.Errorf("%s: /data = %d %q, want %d saying %q", name, code, answer, c.code, c.says)
		}
	}
	// A key part over its bound is refused while the client is still sending: the answer is
	// read as the body is written (net/http's client may see the reset first).
	{
		body, ct := multipartBody(part{name: "key", filename: "key", data: bytes.Repeat([]byte("k"), 2<<20)})
		hdr := fmt.Sprintf("Content-Type: %s\r\nContent-Length: %d\r\n", ct, body.Len())
		if code := rawPost(t, strings.TrimPrefix(g.URL, "http://"), "/data", hdr, body); code != 413 {
			t.Errorf("a 2 MiB key part: /data = %d, want 413", code)
		}
	}
	// A body cut short mid-file.
	body, ct = multipartBody(part{name: "big", filename: "big.bin", data: big})
	cut := body.Bytes()[:body.Len()-1<<20]
	conn, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /data HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", conn.RemoteAddr(), ct, body.Len())
	conn.Write(cut)
	conn.(*net.TCPConn).CloseWrite()
	answer, _ := io.ReadAll(conn)
	conn.Close()
	if !bytes.Contains(answer, []byte(" 400 ")) {
		t.Errorf("a body cut short: %.200q, want 400", answer)
	}
	poll.Until(t, 10*time.Second, "the refused uploads' pieces to be given back", func() bool {
		now, _ := g.Store.Bytes()
		return now == used
	})
}

// Issue 11, item 2: the gateway killed in the middle of an upload. Once it is started again,
// nothing of the upload is visible and its pieces' room is given back.
func TestStreamedUploadKilled(t *testing.T) {
	bin := buildServer(t)
	dir := t.TempDir()
	srv := startServer(t, bin, serverConfig(t, dir, ""))
	db := filepath.Join(dir, "data", "multimsg.db")
	before := fileSize(db)

	// A 31 MiB file, of which the client sends 12 MiB and then nothing more.
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	fw, _ := mw.CreateFormFile("blob", "blob.bin")
	fw.Write(bytes.Repeat([]byte("0123456789abcdef"), 12<<20/16))
	conn, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /data HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", srv.addr, mw.FormDataContentType(), 31<<20)
	if _, err := conn.Write(head.Bytes()); err != nil {
		t.Fatal(err)
	}
	// The pieces are committed as they arrive: the file grows by about what was sent.
	poll.Until(t, 30*time.Second, "the pieces to reach the database file", func() bool {
		return fileSize(db) >= before+8<<20
	})
	srv.kill()
	t.Logf("database file %s before, %s with the upload cut by SIGKILL", mib(before), mib(fileSize(db)))

	s, err := store.Open(db, store.Options{}) // as the restarted gateway does: sweeps
	if err != nil {
		t.Fatal(err)
	}
	used, _ := s.Bytes()
	counts, _ := s.Counts()
	sp := s.Space()
	if err := s.Check(); err != nil {
		t.Error(err)
	}
	s.Close()
	if used != 0 || counts[store.Preprocess] != 0 {
		t.Errorf("after reopening: %d bytes charged, %v jobs; want nothing", used, counts)
	}
	if sp.InUse > 1<<20 {
		t.Errorf("after reopening %d bytes of pages in use, want the pieces freed", sp.InUse)
	}
	b, err := bolt.Open(db, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.View(func(tx *bolt.Tx) error {
		for _, name := range []string{"pieces", "uploads", "jobs"} {
			if n := tx.Bucket([]byte(name)).Stats().KeyN; n != 0 {
				t.Errorf("bucket %s holds %d keys after the sweep", name, n)
			}
		}
		return nil
	})
}
