package gateway_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"testing"
)

// BenchmarkUpload31MiB: one device uploading a 31 MiB file to /data at a time (the largest
// that fits the default max_body with its framing), over loopback to the real binary, each
// upload durable before its answer. It reports MB/s and the server's peak RssAnon.
func BenchmarkUpload31MiB(b *testing.B) {
	srv := startServer(b, buildServer(b), serverConfig(b, b.TempDir(), "", `body_wait = "30s"`))
	body, hdr := upload31MiB()
	stop := peakRSS(b, srv.cmd.Process.Pid)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for range b.N {
		if code := rawPost(b, srv.addr, "/data", hdr, bytes.NewReader(body)); code != 200 {
			b.Fatalf("/data = %d", code)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(stop())/(1<<20), "peak-RssAnon-MiB")
}

// upload31MiB is a /data body of one 31 MiB file and its header lines for rawPost.
func upload31MiB() ([]byte, string) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("blob", "blob.bin")
	fw.Write(bytes.Repeat([]byte("0123456789abcdef"), 31<<20/16))
	mw.Close()
	return body.Bytes(), fmt.Sprintf("Content-Type: %s\r\nContent-Length: %d\r\n", mw.FormDataContentType(), body.Len())
}
