package whatsapp_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"multimsg/provider"
	"multimsg/provider/whatsapp"
	"multimsg/provider/whatsapp/cloudapitest"
)

// discardTransport swallows request bodies and answers the documented success shapes, so a
// benchmark measures the driver alone (no server allocations in the same process).
type discardTransport struct{}

func (discardTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	_, _ = io.Copy(io.Discard, r.Body)
	r.Body.Close()
	body := `{"messaging_product":"whatsapp","contacts":[{"input":"4915112345678","wa_id":"4915112345678"}],"messages":[{"id":"wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}]}`
	if strings.HasSuffix(r.URL.Path, "/media") {
		body = `{"id":"4490709327384033"}`
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
}

// BenchmarkUploadDocument shows the upload is streamed: allocations do not grow with the
// 20 MB document (a buffered multipart body would allocate at least its size per op).
func BenchmarkUploadDocument(b *testing.B) {
	d, err := whatsapp.New(whatsapp.Options{APIURL: "http://127.0.0.1:1/v21.0", PhoneNumberID: "1", Token: "t",
		PerRecipientGap: -1, HTTPClient: &http.Client{Transport: discardTransport{}}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 20_000_000)
	copy(data, "%PDF-1.7")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		_, err := d.Send(context.Background(), provider.Delivery{JobID: "job" + strconv.Itoa(i), Dest: "4915112345678", Files: []provider.File{
			{Name: "d", Filename: "d.pdf", Type: "document", MIME: "application/pdf", Data: data}}})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendTextLoopback: one text message through the fake Cloud API over loopback.
func BenchmarkSendTextLoopback(b *testing.B) {
	srv := cloudapitest.Start(b, cloudapitest.Options{Accounts: []cloudapitest.Account{acctA}, Logf: func(string, ...any) {}})
	d, err := whatsapp.New(whatsapp.Options{APIURL: srv.URL(), PhoneNumberID: acctA.PhoneNumberID, Token: acctA.Token, PerRecipientGap: -1}, nil)
	if err != nil {
		b.Fatal(err)
	}
	f := []provider.File{{Name: "m", Type: "text", Data: []byte("Alarm: door 3 open")}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Send(context.Background(), provider.Delivery{Dest: "4915112345678", Files: f}); err != nil {
			b.Fatal(err)
		}
	}
}
