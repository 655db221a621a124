package web

import (
	"bytes"
	"mime/multipart"
	"net/textproto"
	"reflect"
	"testing"
)

const fuzzBoundary = "X-BOUNDARY-1234"

// multipartBody is a body as Go's multipart.Writer makes it (curl and Python make the same
// shape): parts are name, filename (empty: a field), content type, data.
func multipartBody(parts ...[4]string) []byte {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.SetBoundary(fuzzBoundary)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := `form-data; name="` + p[0] + `"`
		if p[1] != "" {
			cd += `; filename="` + p[1] + `"`
		}
		h.Set("Content-Disposition", cd)
		if p[2] != "" {
			h.Set("Content-Type", p[2])
		}
		pw, _ := w.CreatePart(h)
		pw.Write([]byte(p[3]))
	}
	w.Close()
	return b.Bytes()
}

// commonBodies are shaped as clients send them: the fast path must take them.
var commonBodies = [][]byte{
	multipartBody([4]string{"serv", "", "", "mail"}, [4]string{"dest", "", "", "a@example.com"},
		[4]string{"type", "", "", `{"body":"text"}`}, [4]string{"body", "body.txt", "text/plain", "door 3 opened\r\n"}),
	multipartBody([4]string{"key", "key.bin", "application/octet-stream", "\x00\x01\r\n--X-BOUNDARY-123"},
		[4]string{"report", `C:\dir\report.pdf`, "application/pdf", "%PDF-1.4\r\n"}),
	multipartBody([4]string{"empty", "e.txt", "", ""}),
}

var formSeeds = append(commonBodies[:len(commonBodies):len(commonBodies)],
	multipartBody([4]string{"report", "r.pdf", "application/pdf", "%PDF-1.4\r\n--X-BOUNDARY-1234x"}),
	multipartBody(),
	[]byte("--"+fuzzBoundary+"\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n--"+fuzzBoundary+"--"),
	[]byte("--"+fuzzBoundary+"\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx=3Dy\r\n--"+fuzzBoundary+"--\r\n"),
	[]byte("preamble\r\n--"+fuzzBoundary+"\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--"+fuzzBoundary+"--\r\n"),
	[]byte("--"+fuzzBoundary+"\nContent-Disposition: form-data; name=\"a\"\n\nv\n--"+fuzzBoundary+"--\n"),
	[]byte("--"+fuzzBoundary+"\r\ncontent-disposition:form-data; name=a; filename*=UTF-8''%E2%82%AC.txt\r\n\r\nv\r\n--"+fuzzBoundary+" \r\n\r\n"),
)

// TestFastMultipartTakesCommonBodies: the bodies clients send go the fast way, and give what
// mime/multipart gives.
func TestFastMultipartTakesCommonBodies(t *testing.T) {
	lim := Limits{MaxBody: 1 << 20, MaxFiles: 4, MaxField: 1 << 10}
	for i, body := range commonBodies {
		fast, ok := fastMultipart(body, fuzzBoundary, lim, true)
		if !ok {
			t.Errorf("seed %d: fastMultipart declined a body as multipart.Writer makes it:\n%q", i, body)
			continue
		}
		slow, err := parseMultipartSlow(body, fuzzBoundary, lim, true)
		if err != nil || !reflect.DeepEqual(fast, slow) {
			t.Errorf("seed %d: fast = %+v, slow = %+v, %v", i, fast, slow, err)
		}
	}
}

// FuzzFastMultipart: whenever the fast path takes a body, mime/multipart takes it too and
// makes the same form; and neither panics.
func FuzzFastMultipart(f *testing.F) {
	for _, s := range formSeeds {
		f.Add(s, true, 4)
		f.Add(s, false, 1)
	}
	f.Fuzz(func(t *testing.T, in []byte, params bool, maxFiles int) {
		body := bytes.Clone(in) // flipped below; the fuzzer's input stays as it was
		lim := Limits{MaxBody: 4096, MaxFiles: max(1, maxFiles%8), MaxField: 64}
		fast, ok := fastMultipart(body, fuzzBoundary, lim, params)
		slow, err := parseMultipartSlow(body, fuzzBoundary, lim, params)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("fast path took a body mime/multipart refuses (%v):\n%q\nfast: %+v", err, body, fast)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast and slow paths differ on\n%q\nfast: %+v\nslow: %+v", body, fast, slow)
		}
		// The form is a copy: the request's body may be reused once the handler returns.
		want := make([][]byte, len(fast.files))
		for i, fl := range fast.files {
			want[i] = bytes.Clone(fl.Data)
		}
		for i := range body {
			body[i] ^= 0xff
		}
		for i, fl := range fast.files {
			if !bytes.Equal(fl.Data, want[i]) {
				t.Fatalf("file %q shares memory with the request body", fl.Name)
			}
		}
	})
}
