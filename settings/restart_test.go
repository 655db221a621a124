package settings_test

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"multimsg/gateway/gatewaytest"
)

// A restart that would not come back is refused, audited, and changes nothing: here the new
// listen address is not one of the box's (TEST-NET-1).
func TestRestartRefused(t *testing.T) {
	g := gatewaytest.Start(t, maildirMail)
	a := login(t, g)
	if code, body := a.save("box", "listen", "192.0.2.1:8080"); code != http.StatusSeeOther {
		t.Fatalf("save listen: %d %s", code, excerpt(body, "alert"))
	}
	_, page := a.get("/admin/settings?saved=box")
	if !strings.Contains(page, "Pending restart: <strong>listen</strong>") || !strings.Contains(page, `action="/admin/settings/restart"`) {
		t.Fatalf("no restart offered for listen:\n%s", excerpt(page, `id="restart"`))
	}
	code, body, _ := a.post("/admin/settings/restart", url.Values{"csrf": {a.csrf}})
	if code != http.StatusConflict || !strings.Contains(body, "Not restarted: listen 192.0.2.1:8080") {
		t.Fatalf("restart onto an address the box lacks: %d %s", code, excerpt(body, "alert"))
	}
	if code, _ := a.get("/admin/settings"); code != 200 {
		t.Errorf("the gateway does not answer after a refused restart: %d", code)
	}
	b, _ := os.ReadFile(filepath.Join(g.DataDir, "settings-audit.jsonl"))
	if !strings.Contains(string(b), `"how":"restart"`) || !strings.Contains(string(b), "not restarted") {
		t.Errorf("the refused restart is not in the audit log: %s", b)
	}
}

// A new data_dir waits for a restart, and the page says the restart moves nothing.
func TestRestartDataDirWarns(t *testing.T) {
	g := gatewaytest.Start(t, maildirMail)
	a := login(t, g)
	moved := filepath.Join(t.TempDir(), "elsewhere")
	if code, body := a.save("box", "data_dir", moved); code != http.StatusSeeOther {
		t.Fatalf("save data_dir: %d %s", code, excerpt(body, "alert"))
	}
	_, page := a.get("/admin/settings")
	if !strings.Contains(page, "Pending restart: <strong>data_dir</strong>") || !strings.Contains(page, "data_dir: a restart moves nothing") ||
		!strings.Contains(page, moved) {
		t.Fatalf("no warning that a new data_dir moves nothing:\n%s", excerpt(page, `id="restart"`))
	}
}

// The mail listener's new address is tried too: one another process holds refuses the restart.
func TestRestartRefusedSMTPIn(t *testing.T) {
	g := gatewaytest.Start(t, maildirMail)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	path := filepath.Join(g.DataDir, "multimsg.toml")
	b, _ := os.ReadFile(path)
	edited := fmt.Sprintf("%s\n[smtp_in]\nlisten = %q\n", b, taken.Addr())
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if a, err := g.Settings.ReloadFile("SIGHUP"); err != nil || !slices.Contains(a.Restart, "smtp_in.listen") {
		t.Fatalf("ReloadFile: %+v, %v; want smtp_in.listen waiting for a start", a, err)
	}
	a := login(t, g)
	code, body, _ := a.post("/admin/settings/restart", url.Values{"csrf": {a.csrf}})
	if code != http.StatusConflict || !strings.Contains(body, "Not restarted: smtp_in.listen "+taken.Addr().String()) {
		t.Fatalf("restart onto a taken mail port: %d %s", code, excerpt(body, "alert"))
	}
}
