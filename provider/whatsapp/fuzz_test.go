package whatsapp

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"multimsg/provider"
)

// FuzzGraphError: any answer body with any status decodes without panic and classifies into
// a provider error that keeps a code.
func FuzzGraphError(f *testing.F) {
	f.Add(400, []byte(`{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"x"},"fbtrace_id":"A"}}`))
	f.Add(401, []byte(`{"error":{"message":"Session has expired","type":"OAuthException","code":190,"error_subcode":463}}`))
	f.Add(400, []byte(`{"error":{"code":"132000","error_data":"body: params"}}`))
	f.Add(502, []byte(`<html>502</html>`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			status = 400 + status%100
			if status < 100 {
				status = 500
			}
		}
		e, ok := decodeGraphError(status, body)
		if ok && (e == nil || e.Error() == "") {
			t.Fatalf("decoded %q to %+v", body, e)
		}
		err := classify(status, http.Header{"Retry-After": {string(body[:min(len(body), 8)])}}, body, time.Now())
		var pe *provider.Error
		if err == nil || !asProviderError(err, &pe) || pe.Code == "" {
			t.Fatalf("classify(%d, %q) = %v", status, body, err)
		}
		if pe.RetryAfter < 0 || pe.RetryAfter > time.Hour {
			t.Fatalf("RetryAfter = %v", pe.RetryAfter)
		}
		if !utf8.ValidString(err.Error()) && utf8.Valid(body) {
			t.Fatalf("error text not UTF-8: %q", err.Error())
		}
	})
}

func asProviderError(err error, pe **provider.Error) bool {
	e, ok := err.(*provider.Error)
	*pe = e
	return ok
}

// FuzzSendResponse: success answers decode without panic; an id, when found, is bounded.
func FuzzSendResponse(f *testing.F) {
	f.Add([]byte(`{"messaging_product":"whatsapp","contacts":[{"input":"16505555555","wa_id":"16505555555"}],"messages":[{"id":"wamid.HBgL"}]}`))
	f.Add([]byte(`{"messages":[{"id":"wamid.x","message_status":"accepted"}]}`))
	f.Add([]byte(`{"id":"4490709327384033"}`))
	f.Add([]byte(`{"messages":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if id, err := decodeSendResponse(body); err == nil && (id == "" || len(id) > 512) {
			t.Fatalf("decodeSendResponse(%q) = %q", body, id)
		}
		if id, err := decodeMediaResponse(body); err == nil && (id == "" || len(id) > 512) {
			t.Fatalf("decodeMediaResponse(%q) = %q", body, id)
		}
	})
}

// FuzzInfo: any info object decodes without panic; what decodes re-encodes to an info that
// decodes to the same thing (round trip).
func FuzzInfo(f *testing.F) {
	f.Add([]byte(`{"caption":"hola"}`))
	f.Add([]byte(`{"template":{"name":"door_alert","language":"en_US","params":"lines"}}`))
	f.Add([]byte(`{"template":{"name":"a","language":"es","params":false},"caption":""}`))
	f.Add([]byte(`{"subject":"x"}`))
	f.Add([]byte(`{"template":{"name":"a","language":"es","extra":1}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var in provider.Info
		if json.Unmarshal(raw, &in) != nil {
			return
		}
		got, err := DecodeInfo(in)
		if err != nil {
			return
		}
		if utf8.RuneCountInString(got.Caption) > MaxCaptionChars {
			t.Fatalf("caption of %d characters accepted", utf8.RuneCountInString(got.Caption))
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var again provider.Info
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatal(err)
		}
		got2, err := DecodeInfo(again)
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", b, err)
		}
		if !reflect.DeepEqual(got, got2) {
			t.Fatalf("round trip: %+v != %+v", got, got2)
		}
	})
}

// FuzzTemplateParams: whatever the text, the parameters we would send obey WhatsApp's rules
// (no newline or tab, no run of 5 spaces, not empty, at most 1024 characters).
func FuzzTemplateParams(f *testing.F) {
	f.Add("Front door\nopened at 12:00\n", "lines")
	f.Add("a\t\tb     c", "text")
	f.Add("\n\n", "lines")
	f.Add("x", "none")
	f.Fuzz(func(t *testing.T, text, mode string) {
		tm := &Template{Name: "t", Language: "en", Params: ParamMode(mode)}
		ps, err := templateParams(tm, provider.File{Name: "f", Type: "text", Data: []byte(text)})
		if err != nil {
			return
		}
		if len(ps) > MaxTemplateParams {
			t.Fatalf("%d params", len(ps))
		}
		for _, p := range ps {
			if p == "" || strings.ContainsAny(p, "\n\t\r") || strings.Contains(p, "     ") || utf8.RuneCountInString(p) > MaxTemplateParamChars || !utf8.ValidString(p) {
				t.Fatalf("param %q breaks WhatsApp's rules", p)
			}
		}
	})
}

// FuzzCheck: Check never panics on any destination, type, MIME and content.
func FuzzCheck(f *testing.F) {
	f.Add("4915112345678", "text", "text/plain", "hello", `{}`)
	f.Add("4915112345678", "image", "image/png", "\x89PNG\r\n\x1a\n", `{"caption":"c"}`)
	f.Add("+49151", "audio", "audio/ogg", "OggSOpusHead", `{"template":{"name":"x","language":"en"}}`)
	f.Fuzz(func(t *testing.T, dest, typ, mimeType, data, info string) {
		var in provider.Info
		_ = json.Unmarshal([]byte(info), &in)
		_ = check(provider.Request{Dest: dest, Info: in, Files: []provider.File{{Name: "f", Filename: "f", Type: typ, MIME: mimeType, Data: []byte(data)}}})
	})
}
