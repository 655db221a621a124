package cloudapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// These tests replay the requests of Meta's documentation (curl examples) by hand, so the
// server is checked against the documented contract and not only through our driver.

var acct = Account{PhoneNumberID: "106540352242922", Token: "EAAJB-doc-token"}

func do(t *testing.T, method, url, token, ctype string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("answer is not JSON: %q", b)
	}
	return resp.StatusCode, v
}

func errCode(v map[string]any) int {
	e, _ := v["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return int(c)
}

func TestDocumentedTextMessage(t *testing.T) {
	s := Start(t, Options{Accounts: []Account{acct}})
	body := `{"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234", "type": "text",
	          "text": {"preview_url": true, "body": "As requested, here's the link to our latest product: https://www.meta.com/quest/quest-3/"}}`
	st, v := do(t, "POST", s.URL()+"/"+acct.PhoneNumberID+"/messages", acct.Token, "application/json", []byte(body))
	if st != 200 {
		t.Fatalf("status %d: %v", st, v)
	}
	contacts := v["contacts"].([]any)[0].(map[string]any)
	msgs := v["messages"].([]any)[0].(map[string]any)
	if v["messaging_product"] != "whatsapp" || contacts["input"] != "+16505551234" || contacts["wa_id"] != "16505551234" || !strings.HasPrefix(msgs["id"].(string), "wamid.") {
		t.Errorf("answer = %v", v)
	}
	m := s.Messages()[0]
	if !m.PreviewURL || !strings.HasPrefix(m.Text, "As requested") {
		t.Errorf("recorded %+v", m)
	}
}

func TestDocumentedUploadThenImage(t *testing.T) {
	s := Start(t, Options{Accounts: []Account{acct}})
	// curl -F 'file=@"2jC60Vdjn0cgB.png";type=image/png' -F 'type="image/png"' -F 'messaging_product="whatsapp"'
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="2jC60Vdjn0cgB.png"`)
	h.Set("Content-Type", "image/png")
	pw, _ := mw.CreatePart(h)
	pw.Write([]byte("\x89PNG\r\n\x1a\nfake"))
	mw.WriteField("type", "image/png")
	mw.WriteField("messaging_product", "whatsapp")
	mw.Close()
	st, v := do(t, "POST", s.URL()+"/"+acct.PhoneNumberID+"/media", acct.Token, mw.FormDataContentType(), b.Bytes())
	if st != 200 || v["id"] == "" {
		t.Fatalf("upload: %d %v", st, v)
	}
	id := v["id"].(string)
	body := `{"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"image","image":{"id":"` + id + `","caption":"The best succulent ever?"}}`
	st, v = do(t, "POST", s.URL()+"/"+acct.PhoneNumberID+"/messages", acct.Token, "application/json", []byte(body))
	if st != 200 {
		t.Fatalf("image: %d %v", st, v)
	}
	m := s.Messages()[0]
	if m.Media == nil || m.Media.Filename != "2jC60Vdjn0cgB.png" || m.Caption != "The best succulent ever?" {
		t.Errorf("recorded %+v", m)
	}
}

func TestDocumentedErrors(t *testing.T) {
	s := Start(t, Options{Accounts: []Account{acct}, Templates: []Template{{Name: "hello_world", Language: "en_US", Params: 0}}})
	url := s.URL() + "/" + acct.PhoneNumberID + "/messages"
	text := `{"messaging_product":"whatsapp","to":"16505551234","type":"text","text":{"body":"hi"}}`
	cases := []struct {
		name   string
		url    string
		token  string
		ctype  string
		body   string
		setup  func()
		status int
		code   int
	}{
		{"wrong version", strings.Replace(url, "v21.0", "v99.0", 1), acct.Token, "application/json", text, nil, 400, 2500},
		{"no token", url, "", "application/json", text, nil, 401, 190},
		{"foreign phone id", s.URL() + "/999/messages", acct.Token, "application/json", text, nil, 400, 100},
		{"no messaging_product", url, acct.Token, "application/json", `{"to":"16505551234","text":{"body":"x"}}`, nil, 400, 100},
		{"unknown key", url, acct.Token, "application/json", `{"messaging_product":"whatsapp","to":"16505551234","txt":{"body":"x"}}`, nil, 400, 100},
		{"missing object", url, acct.Token, "application/json", `{"messaging_product":"whatsapp","to":"16505551234","type":"image"}`, nil, 400, 131008},
		{"caption on audio", url, acct.Token, "application/json", `{"messaging_product":"whatsapp","to":"16505551234","type":"audio","audio":{"id":"1","caption":"x"}}`, nil, 400, 100},
		{"window closed", url, acct.Token, "application/json", text, func() { s.CloseWindow("16505551234") }, 400, 131047},
		{"unknown template", url, acct.Token, "application/json", `{"messaging_product":"whatsapp","to":"16505551234","type":"template","template":{"name":"nope","language":{"code":"en_US"}}}`, nil, 404, 132001},
		{"newline param", url, acct.Token, "application/json", `{"messaging_product":"whatsapp","to":"16505551234","type":"template","template":{"name":"hello_world","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"a\nb"}]}]}}`, nil, 400, 132018},
		{"param count", url, acct.Token, "application/json", `{"messaging_product":"whatsapp","to":"16505551234","type":"template","template":{"name":"hello_world","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"a"}]}]}}`, nil, 400, 132000},
		{"expired", url, acct.Token, "application/json", text, func() { s.ExpireToken(acct.Token) }, 401, 190},
	}
	for _, c := range cases {
		if c.setup != nil {
			c.setup()
		}
		st, v := do(t, "POST", c.url, c.token, c.ctype, []byte(c.body))
		if st != c.status || errCode(v) != c.code {
			t.Errorf("%s: %d code %d, want %d code %d (%v)", c.name, st, errCode(v), c.status, c.code, v)
		}
		e, _ := v["error"].(map[string]any)
		if e["fbtrace_id"] == "" || e["type"] == "" || e["message"] == "" {
			t.Errorf("%s: error object %v lacks documented fields", c.name, e)
		}
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("messages = %d, want 0", n)
	}
	rej, err := s.WaitRejections(context.Background(), len(cases))
	if err != nil || len(rej) != len(cases) {
		t.Errorf("rejections = %d, %v", len(rej), err)
	}
}

func TestDownRefuseAndBack(t *testing.T) {
	s := Start(t, Options{Accounts: []Account{acct}})
	url := s.URL() + "/" + acct.PhoneNumberID + "/messages"
	text := []byte(`{"messaging_product":"whatsapp","to":"16505551234","type":"text","text":{"body":"hi"}}`)
	if st, _ := do(t, "POST", url, acct.Token, "application/json", text); st != 200 {
		t.Fatal(st)
	}
	if err := s.SetDown(DownRefuse); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", url, bytes.NewReader(text))
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("request to a refusing server succeeded")
	}
	if err := s.SetDown(Up); err != nil {
		t.Fatal(err)
	}
	if st, _ := do(t, "POST", url, acct.Token, "application/json", text); st != 200 {
		t.Fatal(st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.WaitMessages(ctx, 2); err != nil {
		t.Fatal(err)
	}
}
