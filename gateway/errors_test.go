package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"multimsg/envelope"
	"multimsg/gateway/gatewaytest"
	"multimsg/store"
)

// part is one multipart part: a file unless field is set.
type part struct {
	name, filename string
	data           []byte
	field          bool
}

func multipartBody(parts ...part) (*bytes.Buffer, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		if p.field {
			mw.WriteField(p.name, string(p.data))
			continue
		}
		w, _ := mw.CreateFormFile(p.name, p.filename)
		w.Write(p.data)
	}
	mw.Close()
	return &b, mw.FormDataContentType()
}

func post(t *testing.T, g *gatewaytest.Gateway, path, ctype string, body *bytes.Buffer, jsonAnswer bool) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.URL+path, body)
	if body.Len() > 64<<10 {
		// as curl does for large bodies: the server can refuse before the body is sent
		req.Header.Set("Expect", "100-continue")
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if jsonAnswer {
		req.Header.Set("Accept", "application/json")
	}
	return gatewaytest.Do(t, req)
}

// TestErrors walks SPEC §1's error cases and the seed's "Errores" list: each answers the
// right status with a message naming the problem, in plain text and in JSON, and leaves the
// job as it was.
func TestErrors(t *testing.T) {
	g := gatewaytest.Start(t, `
[limits]
max_body = "256KiB"
max_files = 3
[store]
quota = "1MiB"
[[mail.sender]]
name = "outbox"
maildir = "outbox"
[[mail.sender]]
name = "second"
maildir = "outbox2"
`)
	body, ct := multipartBody(part{name: "report", filename: "r.txt", data: []byte("hello")}, part{name: "photo", filename: "p.jpg", data: []byte("jpeg")})
	code, id := post(t, g, "/data", ct, body, false)
	if code != 200 || !store.ValidID(id) {
		t.Fatalf("/data = %d %q", code, id)
	}
	other := strings.Repeat("A", 22)

	msg := func(fields ...string) url.Values {
		v := url.Values{"id": {id}, "serv": {"mail"}, "dest": {"ops@x.test"}, "type": {`{"report":"text","photo":"file"}`}}
		for i := 0; i+1 < len(fields); i += 2 {
			if fields[i+1] == "<unset>" {
				v.Del(fields[i])
			} else {
				v.Set(fields[i], fields[i+1])
			}
		}
		return v
	}
	cases := []struct {
		name   string
		form   url.Values
		status int
		want   string // in the message
	}{
		{"missing id", msg("id", "<unset>"), 400, "id: missing"},
		{"unknown id", msg("id", other), 404, "unknown id"},
		{"garbage id", msg("id", "../../etc/passwd"), 404, "unknown id"},
		{"unknown service", msg("serv", "telegram"), 400, `unknown service "telegram"`},
		{"missing service", msg("serv", "<unset>"), 400, "serv: missing"},
		{"service without sender", msg("serv", "sms"), 400, "not available on this box"},
		{"type the service does not take", msg("type", `{"report":"text","photo":"image"}`), 400, `does not take type "image"`},
		{"file missing from type", msg("type", `{"report":"text"}`), 400, `file "photo" has no type`},
		{"type for a file that does not exist", msg("type", `{"report":"text","photo":"file","ghost":"file"}`), 400, `"ghost", which this job does not have`},
		{"type not JSON", msg("type", `report=text`), 400, "type: not a JSON object"},
		{"type missing", msg("type", "<unset>"), 400, "type: missing"},
		{"malformed dest", msg("dest", "not an address"), 400, "dest"},
		{"missing dest", msg("dest", "<unset>"), 400, "dest: missing"},
		{"info not JSON", msg("info", `subject`), 400, "info: not a JSON object"},
		{"unknown info key", msg("info", `{"subject":"x","priority":1}`), 400, "priority"},
		{"unknown sender", msg("sender", "nope"), 400, "configured: outbox, second"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, asJSON := range []bool{false, true} {
				accept := ""
				if asJSON {
					accept = "application/json"
				}
				code, body := g.Post(t, "/msg", tc.form, accept)
				msg := body
				if asJSON {
					var e struct{ Error string }
					if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
						t.Fatalf("JSON answer %q is not {\"error\": ...}", body)
					}
					msg = e.Error
				}
				if code != tc.status || !strings.Contains(msg, tc.want) {
					t.Errorf("/msg %s (json=%v) = %d %q, want %d containing %q", tc.name, asJSON, code, msg, tc.status, tc.want)
				}
			}
		})
	}
	// nothing above changed the job
	if code, st := g.Post(t, "/cons", url.Values{"id": {id}}, ""); code != 200 || st != "preprocess" {
		t.Fatalf("/cons after the refusals = %d %q, want preprocess", code, st)
	}
	// the file's uploaded name may be used in type where it is unique
	if code, st := g.Post(t, "/msg", msg("type", `{"r.txt":"text","photo":"file"}`, "sender", "second"), ""); code != 200 || st != "queued" {
		t.Fatalf("/msg = %d %q, want queued", code, st)
	}
	if code, st := g.Post(t, "/msg", msg(), ""); code != 409 || !strings.Contains(st, "already") {
		t.Fatalf("second /msg = %d %q, want 409", code, st)
	}
	if st := g.WaitJob(t, id, 10e9); st != "delivered" {
		t.Fatalf("state %s", st)
	}
	if n := len(g.Maildir(t, "outbox2")); n != 1 {
		t.Fatalf("sender \"second\" delivered %d messages, want 1", n)
	}
	if code, _ := g.Post(t, "/cons", url.Values{"id": {id}}, ""); code != 200 {
		t.Fatalf("/cons = %d", code)
	}
	if code, st := g.Post(t, "/cons", url.Values{"id": {id}}, ""); code != 404 {
		t.Fatalf("/cons after the finished answer = %d %q, want 404 (archived)", code, st)
	}

	// uploads
	counts := func() int64 { c, _ := g.Store.Counts(); return c["preprocess"] + c["queued"] }
	before := counts()
	sealer, _ := envelope.NewSealer(g.Key.Public())
	tampered := sealer.Seal([]byte("secret"))
	tampered[len(tampered)-1] ^= 1
	good := sealer.Seal([]byte("fine"))
	otherBox, _ := envelope.NewSealer(g.Key.Public())
	uploads := []struct {
		name   string
		ctype  string
		body   func() (*bytes.Buffer, string)
		status int
		want   string
	}{
		{"not multipart", "application/json", func() (*bytes.Buffer, string) { return bytes.NewBufferString(`{}`), "application/json" }, 415, "multipart/form-data"},
		{"no content type", "", func() (*bytes.Buffer, string) { return bytes.NewBufferString(`x`), "" }, 415, "multipart/form-data"},
		{"no files", "", func() (*bytes.Buffer, string) { return multipartBody() }, 400, "no files"},
		{"too many files", "", func() (*bytes.Buffer, string) {
			var ps []part
			for i := 0; i < 4; i++ {
				ps = append(ps, part{name: fmt.Sprint("f", i), filename: "f", data: []byte("x")})
			}
			return multipartBody(ps...)
		}, 413, "too many files: at most 3"},
		{"body too large", "", func() (*bytes.Buffer, string) {
			return multipartBody(part{name: "big", filename: "big", data: make([]byte, 400<<10)})
		}, 413, "too large"},
		{"same name twice", "", func() (*bytes.Buffer, string) {
			return multipartBody(part{name: "a", filename: "a", data: []byte("1")}, part{name: "a", filename: "b", data: []byte("2")})
		}, 400, `part "a" appears twice`},
		{"tampered file", "", func() (*bytes.Buffer, string) {
			return multipartBody(part{name: "ok", filename: "ok", data: good}, part{name: "photo", filename: "p", data: tampered}, part{name: "key", filename: "key", data: sealer.WrappedKey()})
		}, 400, `file "photo": authentication failed`},
		{"wrong key", "", func() (*bytes.Buffer, string) {
			return multipartBody(part{name: "ok", filename: "ok", data: good}, part{name: "key", filename: "key", data: otherBox.WrappedKey()})
		}, 400, `"ok"`},
		{"garbage key", "", func() (*bytes.Buffer, string) {
			return multipartBody(part{name: "ok", filename: "ok", data: good}, part{name: "key", filename: "key", data: []byte("garbage")})
		}, 400, "key"},
		{"truncated file", "", func() (*bytes.Buffer, string) {
			return multipartBody(part{name: "short", filename: "s", data: good[:10]}, part{name: "key", filename: "key", data: sealer.WrappedKey()})
		}, 400, `file "short"`},
	}
	for _, tc := range uploads {
		t.Run("data "+tc.name, func(t *testing.T) {
			for _, path := range []string{"/data", "/send"} {
				b, ct := tc.body()
				if tc.ctype != "" || ct == "" {
					ct = tc.ctype
				}
				code, msg := post(t, g, path, ct, b, false)
				if code != tc.status || !strings.Contains(msg, tc.want) {
					t.Errorf("%s %s = %d %q, want %d containing %q", path, tc.name, code, msg, tc.status, tc.want)
				}
			}
		})
	}
	if after := counts(); after != before {
		t.Fatalf("refused uploads stored something: %d jobs before, %d after", before, after)
	}

	// quota: 1 MiB; two 200 KiB uploads fit, then one is refused with 507 and a reason
	for i := 0; ; i++ {
		b, ct := multipartBody(part{name: "f", filename: "f", data: make([]byte, 200<<10)})
		code, msg := post(t, g, "/data", ct, b, true)
		if code == 200 {
			if i > 10 {
				t.Fatal("quota never reached")
			}
			continue
		}
		if code != 507 || !strings.Contains(msg, "quota") {
			t.Fatalf("over quota: %d %q, want 507 naming the quota", code, msg)
		}
		break
	}

	// routes and methods
	req, _ := http.NewRequest(http.MethodGet, g.URL+"/data", nil)
	if code, _ := gatewaytest.Do(t, req); code != 405 {
		t.Errorf("GET /data = %d, want 405", code)
	}
	req, _ = http.NewRequest(http.MethodGet, g.URL+"/nope", nil)
	if code, _ := gatewaytest.Do(t, req); code != 404 {
		t.Errorf("GET /nope = %d, want 404", code)
	}
	if code, msg := g.Post(t, "/cons", url.Values{"id": {other}}, "application/json"); code != 404 || !strings.Contains(msg, `"error"`) {
		t.Errorf("/cons unknown = %d %s", code, msg)
	}
	if _, err := g.Client.Consult(bg, other); err == nil {
		t.Errorf("client Consult(unknown) succeeded")
	}
}
