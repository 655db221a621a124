package settings_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"multimsg/gateway/gatewaytest"
)

// device posts one device action with the session's token.
func (a *admin) device(action string, kv ...string) (int, string, http.Header) {
	a.t.Helper()
	f := url.Values{"csrf": {a.csrf}, "action": {action}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return a.post("/admin/settings/devices", f)
}

type statusDevice struct {
	MAC     string `json:"mac"`
	Name    string `json:"name"`
	Refused string `json:"refused"`
}

// devices reads the devices of /admin/api/status, as the status page's script does.
func (a *admin) devices() map[string]statusDevice {
	a.t.Helper()
	code, body := a.get("/admin/api/status")
	if code != 200 {
		a.t.Fatalf("GET /admin/api/status: %d %s", code, body)
	}
	var st struct {
		Devices []statusDevice `json:"devices"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		a.t.Fatal(err)
	}
	out := map[string]statusDevice{}
	for _, d := range st.Devices {
		out[d.MAC] = d
	}
	return out
}

// row is the form with the HTML id in page ("" when there is none).
func row(page, id string) string {
	i := strings.Index(page, `id="`+id+`"`)
	if i < 0 {
		return ""
	}
	j := strings.Index(page[i:], "</form>")
	if j < 0 {
		return page[i:]
	}
	return page[i : i+j]
}

// The device actions (issue 14, "Devices"): session and CSRF like every settings route; a
// name or a block is validated, written to the file (previous kept), applied live — the status
// JSON shows the name beside the MAC and the device refused — and audited; a bad one shows
// its error in the device's row and changes nothing.
func TestDeviceActions(t *testing.T) {
	const mac = "02:00:00:00:00:0a"
	g := gatewaytest.Start(t, maildirMail)
	g.Store.TouchDevice(mac, "10.77.0.10", time.Now()) // a device seen on the LAN (its requests: cmd/multimsg's e2e test)
	anon := &admin{t: t, g: g, c: &http.Client{Timeout: time.Minute}}
	if code, _, _ := anon.post("/admin/settings/devices", url.Values{"action": {"block"}, "mac": {mac}}); code != http.StatusUnauthorized {
		t.Errorf("a device action without a session = %d, want 401", code)
	}
	a := login(t, g)
	before := a.file()
	if code, _, _ := a.post("/admin/settings/devices", url.Values{"action": {"block"}, "mac": {mac}}); code != http.StatusForbidden {
		t.Errorf("a device action without the CSRF token = %d, want 403", code)
	}
	if code, _, _ := a.post("/admin/settings/devices", url.Values{"csrf": {a.csrf}, "action": {"block"}, "mac": {mac}},
		"Origin", "http://evil.example"); code != http.StatusForbidden {
		t.Errorf("a device action from another site = %d, want 403", code)
	}
	if code, _, _ := a.device("explode", "mac", mac); code != http.StatusBadRequest {
		t.Errorf("an unknown action = %d, want 400", code)
	}
	if a.file() != before {
		t.Fatal("a refused device action changed the file")
	}

	// The page lists the seen device with its access and its buttons.
	_, page := a.get("/admin/settings")
	if !strings.Contains(row(page, "dev-02000000000a"), `value="block"`) {
		t.Fatalf("the device list has no row with a Block button for %s:\n%s", mac, excerpt(page, `id="device-list"`))
	}

	// A name: trimmed, shown in the JSON beside the MAC, in the file, audited.
	code, _, hdr := a.device("name", "mac", strings.ToUpper(mac), "name", "  Boiler <room> 3  ")
	if code != http.StatusSeeOther || hdr.Get("Location") != "/admin/settings?saved=devices#dev-02000000000a" {
		t.Fatalf("name: %d to %q, want 303 back to the device's row", code, hdr.Get("Location"))
	}
	if d := a.devices()[mac]; d.Name != "Boiler <room> 3" || d.Refused != "" {
		t.Errorf("status device %s = %+v, want named Boiler <room> 3 and let in", mac, d)
	}
	if f := a.file(); !strings.Contains(f, `"02:00:00:00:00:0a" = "Boiler <room> 3"`) {
		t.Errorf("the file does not hold the name:\n%s", f)
	}
	if b, err := os.ReadFile(filepath.Join(g.DataDir, "multimsg.toml.bak")); err != nil || string(b) != before {
		t.Errorf("the previous file is not kept as .bak (%v)", err)
	}
	_, page = a.get("/admin/settings?saved=devices")
	if !strings.Contains(page, `value="Boiler &lt;room&gt; 3"`) || strings.Contains(page, "Boiler <room>") {
		t.Errorf("the name is not in its field, escaped:\n%s", excerpt(page, "Boiler"))
	}

	// Bad input: the error in the row, nothing changed.
	named := a.file()
	code, body, _ := a.device("name", "mac", mac, "name", strings.Repeat("x", 65))
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "the name has 65 characters, at most 64") {
		t.Errorf("a 65-character name = %d, want 422 saying so: %s", code, excerpt(body, `class="error"`))
	}
	code, body, _ = a.device("name", "mac", mac, "name", "bell\x07")
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `data-key="device:02:00:00:00:00:0a"`) || !strings.Contains(body, "U+0007, not a printable character") {
		t.Errorf("a name with a control character = %d, error in the row: %s", code, excerpt(body, `class="error"`))
	}
	code, body, _ = a.device("name", "row", "new", "mac", "02:00:00", "name", "x")
	if r := row(body, "dev-new"); code != http.StatusUnprocessableEntity || !strings.Contains(body, `data-key="device:new"`) || !strings.Contains(r, `value="02:00:00"`) {
		t.Errorf("a bad MAC = %d; error and typed MAC in the new row: %s", code, r)
	}
	if a.file() != named {
		t.Error("a refused device action changed the file")
	}

	// Block: refused at once (the live identity), in the file; unblock lets it in again.
	if code, _, _ = a.device("block", "mac", mac); code != http.StatusSeeOther {
		t.Fatalf("block: %d", code)
	}
	if d := a.devices()[mac]; d.Refused != "blocked" {
		t.Errorf("after block, status device = %+v, want refused: blocked", d)
	}
	if c := g.Gateway.Config(); len(c.BlockMACs) != 1 || c.BlockMACs[0] != mac || !strings.Contains(a.file(), `block_macs = ["02:00:00:00:00:0a"]`) {
		t.Errorf("block_macs applied %v; file:\n%s", c.BlockMACs, a.file())
	}
	_, page = a.get("/admin/settings")
	if r := row(page, "dev-02000000000a"); !strings.Contains(r, `value="unblock"`) || !strings.Contains(r, "blocked") {
		t.Errorf("a blocked device's row has no Unblock button:\n%s", r)
	}
	if code, _, _ = a.device("unblock", "mac", mac); code != http.StatusSeeOther {
		t.Fatalf("unblock: %d", code)
	}
	if d := a.devices()[mac]; d.Refused != "" || d.Name != "Boiler <room> 3" {
		t.Errorf("after unblock, status device = %+v, want let in, still named", d)
	}

	// With an allow-list of others, the device is "not allowed" and Allow adds it.
	if code, _ := a.save("devices", "allow_macs", "02:00:00:00:00:0b"); code != http.StatusSeeOther {
		t.Fatalf("save allow_macs: %d", code)
	}
	if d := a.devices()[mac]; d.Refused != "not allowed" {
		t.Errorf("with allow_macs of another, status device = %+v, want not allowed", d)
	}
	if code, _, _ = a.device("allow", "mac", mac); code != http.StatusSeeOther {
		t.Fatalf("allow: %d", code)
	}
	if c := g.Gateway.Config(); len(c.AllowMACs) != 2 || a.devices()[mac].Refused != "" {
		t.Errorf("after allow: allow_macs %v, status %+v", c.AllowMACs, a.devices()[mac])
	}

	// An empty name removes the label.
	if code, _, _ = a.device("name", "mac", mac, "name", " "); code != http.StatusSeeOther {
		t.Fatalf("unname: %d", code)
	}
	if c := g.Gateway.Config(); len(c.DeviceNames) != 0 || a.devices()[mac].Name != "" {
		t.Errorf("after an empty name: device_names %v", c.DeviceNames)
	}

	// The audit names who, how and the keys.
	b, _ := os.ReadFile(filepath.Join(g.DataDir, "settings-audit.jsonl"))
	for _, k := range []string{`"device_names"`, `"block_macs"`, `"allow_macs"`, `"how":"devices: block 02:00:00:00:00:0a"`, `"who":"admin from 127.0.0.1"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("the audit log does not hold %s:\n%s", k, b)
		}
	}
}

// A hand edit naming or blocking a device, then SIGHUP, is applied the same way.
func TestDeviceKeysReloadFile(t *testing.T) {
	const mac = "02:00:00:00:00:0c"
	g := gatewaytest.Start(t, maildirMail)
	g.Store.TouchDevice(mac, "10.77.0.12", time.Now())
	path := filepath.Join(g.DataDir, "multimsg.toml")
	b, _ := os.ReadFile(path)
	edited := "block_macs = [\"02-00-00-00-00-0C\"]\n" + string(b) + "\n[device_names]\n\"02:00:00:00:00:0C\" = \"Door camera\"\n"
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Settings.ReloadFile("SIGHUP"); err != nil {
		t.Fatal(err)
	}
	a := login(t, g)
	if d := a.devices()[mac]; d.Name != "Door camera" || d.Refused != "blocked" {
		t.Errorf("after SIGHUP, status device = %+v, want Door camera, blocked", d)
	}
}
