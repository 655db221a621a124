package whatsapp

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"multimsg/provider"
)

func TestDecodeGraphError(t *testing.T) {
	cases := []struct {
		in      string
		ok      bool
		code    int
		subcode int
		details string
	}{
		{`{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}`,
			true, 131047, 0, "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
		{`{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"x"}}`, true, 190, 463, ""},
		{`{"error":{"message":"(#132000) Number of parameters does not match","code":"132000","error_data":"body: number of localizable_params (1) does not match the expected number of params (2)"}}`,
			true, 132000, 0, "body: number of localizable_params (1) does not match the expected number of params (2)"},
		{`{"error":{"code":null}}`, true, 0, 0, ""},
		{`{"error":{"code":"abc"}}`, false, 0, 0, ""},
		{`{"messages":[{"id":"wamid.x"}]}`, false, 0, 0, ""},
		{`<html>502</html>`, false, 0, 0, ""},
		{``, false, 0, 0, ""},
	}
	for _, c := range cases {
		e, ok := decodeGraphError(400, []byte(c.in))
		if ok != c.ok {
			t.Errorf("decodeGraphError(%.60s) ok = %v, want %v", c.in, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		if e.Code != c.code || e.Subcode != c.subcode || e.Details != c.details {
			t.Errorf("decodeGraphError(%.60s) = %+v, want code %d/%d details %q", c.in, e, c.code, c.subcode, c.details)
		}
	}
}

func TestClassify(t *testing.T) {
	body := func(code, sub int) []byte {
		b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": "m", "code": code, "error_subcode": sub}})
		return b
	}
	cases := []struct {
		status int
		body   []byte
		class  provider.Class
		code   string
	}{
		{400, body(130429, 0), provider.Temporary, "130429"},
		{400, body(131056, 0), provider.Temporary, "131056"},
		{400, body(131048, 0), provider.Temporary, "131048"},
		{400, body(80007, 0), provider.Temporary, "80007"},
		{400, body(4, 0), provider.Temporary, "4"},
		{500, body(131000, 0), provider.Temporary, "131000"},
		{503, body(131016, 0), provider.Temporary, "131016"},
		{503, body(999999, 0), provider.Temporary, "999999"},
		{400, body(131047, 0), provider.Permanent, "131047"},
		{400, body(131026, 0), provider.Permanent, "131026"},
		{400, body(131030, 0), provider.Permanent, "131030"},
		{400, body(100, 0), provider.Permanent, "100"},
		{400, body(131008, 0), provider.Permanent, "131008"},
		{400, body(131009, 0), provider.Permanent, "131009"},
		{400, body(131051, 0), provider.Permanent, "131051"},
		{404, body(132001, 0), provider.Permanent, "132001"},
		{400, body(132018, 0), provider.Permanent, "132018"},
		{400, body(999999, 0), provider.Permanent, "999999"},
		{401, body(190, 463), provider.Down, "190"},
		{401, body(0, 0), provider.Down, "0"},
		{403, body(10, 0), provider.Down, "10"},
		{403, body(200, 0), provider.Down, "200"},
		{403, body(299, 0), provider.Down, "299"},
		{400, body(100, 33), provider.Down, "100"},
		{400, body(2500, 0), provider.Down, "2500"},
		{401, body(12345, 0), provider.Down, "12345"},
		{502, []byte("<html>Bad Gateway</html>"), provider.Temporary, "502"},
		{429, nil, provider.Temporary, "429"},
		{401, []byte("nope"), provider.Down, "401"},
		{403, nil, provider.Down, "403"},
		{407, nil, provider.Temporary, "407"},
	}
	for _, c := range cases {
		err := classify(c.status, http.Header{}, c.body, time.Now())
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Class != c.class || pe.Code != c.code {
			t.Errorf("classify(%d, %s) = %v (class %v), want %v code %s", c.status, c.body, err, provider.ClassOf(err), c.class, c.code)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		" 120 ":                         2 * time.Minute,
		"0":                             0,
		"-5":                            0,
		"99999999":                      time.Hour,
		"Fri, 27 Nov 2026 05:00:30 GMT": 30 * time.Second,
		"Fri, 27 Nov 2026 04:00:00 GMT": 0,
		"soon":                          0,
	}
	for in, want := range cases {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestDecodeResponses(t *testing.T) {
	id, err := decodeSendResponse([]byte(`{"messaging_product":"whatsapp","contacts":[{"input":"16505555555","wa_id":"16505555555"}],"messages":[{"id":"wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}]}`))
	if err != nil || id != "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA" {
		t.Errorf("decodeSendResponse = %q, %v", id, err)
	}
	if _, err := decodeSendResponse([]byte(`{"messaging_product":"whatsapp","messages":[]}`)); !errors.Is(err, ErrNoMessageID) {
		t.Errorf("no messages: %v, want ErrNoMessageID", err)
	}
	if _, err := decodeSendResponse([]byte(`<html>`)); !errors.Is(err, ErrBadResponse) {
		t.Errorf("html: %v, want ErrBadResponse", err)
	}
	if id, err := decodeMediaResponse([]byte(`{"id":"4490709327384033"}`)); err != nil || id != "4490709327384033" {
		t.Errorf("decodeMediaResponse = %q, %v", id, err)
	}
	if _, err := decodeMediaResponse([]byte(`{}`)); !errors.Is(err, ErrNoMediaID) {
		t.Errorf("empty media answer: %v", err)
	}
}

func TestDocumentFilename(t *testing.T) {
	cases := map[[2]string]string{
		{"report.pdf", "f"}:                      "report.pdf",
		{"/tmp/x/report.pdf", "f"}:               "report.pdf",
		{`C:\x\report.pdf`, "f"}:                 "report.pdf",
		{"", "field"}:                            "field",
		{"a\r\nb.pdf", "f"}:                      "ab.pdf",
		{"\xff\xfe.pdf", "f"}:                    ".pdf",
		{strings.Repeat("é", 200) + ".pdf", "f"}: strings.Repeat("é", 118) + ".pdf",
	}
	for in, want := range cases {
		got := documentFilename(provider.File{Filename: in[0], Name: in[1]})
		if got != want {
			t.Errorf("documentFilename(%q) = %q, want %q", in[0], got, want)
		}
		if len(got) > MaxFilenameBytes || !utf8.ValidString(got) {
			t.Errorf("documentFilename(%q) = %q: too long or not UTF-8", in[0], got)
		}
	}
}

func TestPacerForgetsRecipients(t *testing.T) {
	p := newPairPacer(time.Minute)
	for _, to := range []string{"491", "492", "493"} {
		rel, err := p.acquire(t.Context(), to)
		if err != nil {
			t.Fatal(err)
		}
		rel(true)
	}
	if n := p.size(); n != 3 {
		t.Fatalf("size = %d, want 3 (their gaps have not passed)", n)
	}
	p.mu.Lock()
	p.sweepLocked(time.Now().Add(time.Minute))
	p.mu.Unlock()
	if n := p.size(); n != 0 {
		t.Errorf("size after the gap = %d, want 0", n)
	}
	// A request that never reached Meta owes no gap and leaves nothing behind.
	rel, _ := p.acquire(t.Context(), "494")
	rel(false)
	if n := p.size(); n != 0 {
		t.Errorf("size after an unsent request = %d, want 0", n)
	}
}

func BenchmarkCheckText(b *testing.B) {
	r := provider.Request{Dest: "4915112345678", Files: []provider.File{{Name: "m", Type: "text", Data: []byte(strings.Repeat("Alarm zone 4 ", 300))}}}
	b.ReportAllocs()
	for b.Loop() {
		if err := check(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckDocument(b *testing.B) {
	data := make([]byte, 50_000_000)
	copy(data, "%PDF-1.7")
	r := provider.Request{Dest: "4915112345678", Files: []provider.File{{Name: "d", Filename: "d.pdf", Type: "document", MIME: "application/pdf", Data: data}}}
	b.ReportAllocs()
	for b.Loop() {
		if err := check(r); err != nil {
			b.Fatal(err)
		}
	}
}
