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
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("blob", "blob.bin")
	fw.Write(bytes.Repeat([]byte("0123456789abcdef"), 31<<20/16))
	mw.Close()
	hdr := fmt.Sprintf("Content-Type: %s\r\nContent-Length: %d\r\n", mw.FormDataContentType(), body.Len())
	stop := peakRSS(b, srv.cmd.Process.Pid)
	b.SetBytes(int64(body.Len()))
	b.ResetTimer()
	for range b.N {
		if code := rawPost(b, srv.addr, "/data", hdr, bytes.NewReader(body.Bytes())); code != 200 {
			b.Fatalf("/data = %d", code)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(stop())/(1<<20), "peak-RssAnon-MiB")
}
