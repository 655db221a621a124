//go:build linux

package main

// Issue 14's devices, end to end: the real binary in the gateway namespace of an nslan LAN,
// devices in other namespaces (each with its own MAC, learned by ARP), the admin on the box's
// loopback with curl's cookie jar — as a browser would, session and CSRF token. A device named
// and blocked from the settings route is refused at its next request, without a restart, and
// let in again when unblocked.

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"multimsg/internal/nslan"
	"multimsg/internal/poll"
)

// e2eAdmin is an admin session on the box's loopback: curl with a cookie jar.
type e2eAdmin struct {
	s    *e2eServer
	jar  string
	csrf string
}

var e2eCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (s *e2eServer) admin(t *testing.T) *e2eAdmin {
	t.Helper()
	a := &e2eAdmin{s: s, jar: filepath.Join(t.TempDir(), "cookies")}
	if code, body := a.curl(t, "-d", "password="+e2eAdminPassword, "/admin/login"); code != 303 {
		t.Fatalf("admin login = %d %q", code, body)
	}
	code, body := a.curl(t, "/admin/settings")
	m := e2eCSRF.FindStringSubmatch(body)
	if code != 200 || m == nil {
		t.Fatalf("GET /admin/settings = %d, CSRF token %v", code, m)
	}
	a.csrf = m[1]
	return a
}

func (a *e2eAdmin) curl(t *testing.T, args ...string) (int, string) {
	t.Helper()
	path := args[len(args)-1]
	args = append([]string{"-b", a.jar, "-c", a.jar}, args[:len(args)-1]...)
	return e2eCurl(t, a.s.gw, append(args, "http://127.0.0.1:8080"+path)...)
}

// device posts a device action from the settings page's form.
func (a *e2eAdmin) device(t *testing.T, action, mac, name string) {
	t.Helper()
	code, body := a.curl(t, "--data-urlencode", "csrf="+a.csrf, "--data-urlencode", "action="+action,
		"--data-urlencode", "mac="+mac, "--data-urlencode", "name="+name, "/admin/settings/devices")
	if code != 303 {
		t.Fatalf("device action %s %s = %d %q, want 303", action, mac, code, body)
	}
}

type e2eDeviceStatus struct {
	Devices []struct {
		MAC, Name, Refused string
	} `json:"devices"`
	Recent []struct {
		Device     string `json:"device"`
		DeviceName string `json:"device_name"`
	} `json:"recent"`
}

func (a *e2eAdmin) status(t *testing.T) e2eDeviceStatus {
	t.Helper()
	code, body := a.curl(t, "/admin/api/status")
	var st e2eDeviceStatus
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("/admin/api/status = %d, %v", code, err)
	}
	return st
}

// tryUpload posts one file to /data from h: its status and body.
func (s *e2eServer) tryUpload(t *testing.T, h *nslan.Host, text string) (int, string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "note.txt")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return e2eCurl(t, h, "-F", "text=@"+f, s.url+"/data")
}

// e2eNameAndBlock: name a device, see the name beside its MAC in the status JSON (devices and
// its jobs); block it and see its next request refused (403, saying why) while another device
// goes on; unblock it and see it let in — all without a restart.
func e2eNameAndBlock(t *testing.T, bin string) {
	_, gw, a, b := e2eLAN(t)
	s := startE2EServer(t, bin, gw, `unknown_device = "reject"`)
	s.upload(t, a, "hello from A")
	adm := s.admin(t)

	adm.device(t, "name", strings.ToUpper(a.MAC), "Boiler room")
	st := adm.status(t)
	named := false
	for _, d := range st.Devices {
		named = named || d.MAC == a.MAC && d.Name == "Boiler room" && d.Refused == ""
	}
	for _, j := range st.Recent {
		if j.Device == a.MAC && j.DeviceName != "Boiler room" {
			t.Errorf("recent job of %s has device_name %q, want Boiler room", a.MAC, j.DeviceName)
		}
	}
	if !named {
		t.Errorf("status devices = %+v, want %s named Boiler room and let in", st.Devices, a.MAC)
	}

	adm.device(t, "block", a.MAC, "")
	if code, body := s.tryUpload(t, a, "blocked?"); code != 403 || !strings.Contains(body, "blocked") || !strings.Contains(body, a.MAC) {
		t.Errorf("/data from the blocked %s = %d %q, want 403 saying it is blocked", a.MAC, code, body)
	}
	if code, body := e2eCurl(t, a, "-H", "Accept: application/json", "-d", "id=x", s.url+"/cons"); code != 403 || !strings.Contains(body, `"error"`) {
		t.Errorf("/cons (JSON) from the blocked device = %d %q, want a 403 JSON error", code, body)
	}
	s.upload(t, b, "B is not blocked")
	for _, d := range adm.status(t).Devices {
		if d.MAC == a.MAC && d.Refused != "blocked" {
			t.Errorf("status device %s refused = %q, want blocked", a.MAC, d.Refused)
		}
	}

	adm.device(t, "unblock", a.MAC, "")
	s.upload(t, a, "let in again")
}

// e2eInterfaceLive: the ARP interface changed from the settings page is watched at once, with
// no restart: the box has a leg on a second LAN; once it watches that leg, a device there is
// learned from its ARP frames, and what was learned on the first LAN is gone with its table.
// An interface the box lacks is refused at its field and changes nothing.
func e2eInterfaceLive(t *testing.T, bin string) {
	_, gw, a, _ := e2eLAN(t)
	second := nslan.NewSegment(t, netip.MustParsePrefix("10.77.2.0/24"))
	leg := second.Attach(t, gw, "eth1", "02:77:00:02:00:01", netip.MustParseAddr("10.77.2.1"))
	y := second.Add(t, "y", "02:77:00:02:00:0a", netip.MustParseAddr("10.77.2.10"))
	s := startE2EServer(t, bin, gw, `unknown_device = "reject"`)
	s.upload(t, a, "from the first LAN")
	if e, ok := s.status(t).arp(a.IP); !ok || e.Source != "arp" {
		t.Fatalf("before the switch, %s's ARP entry = %+v %v, want learned from its frames", a.IP, e, ok)
	}
	adm := s.admin(t)
	save := func(iface string) (int, string) {
		return adm.curl(t, "--data-urlencode", "csrf="+adm.csrf, "--data-urlencode", "section=devices",
			"--data-urlencode", "interface="+iface, "/admin/settings")
	}
	if code, body := save("nosuch0"); code != 422 || !strings.Contains(body, `this box has no interface &#34;nosuch0&#34;`) {
		t.Fatalf("interface nosuch0 = %d, want 422 naming it:\n%.2000s", code, body)
	}
	if code, body := save(leg.Link); code != 303 {
		t.Fatalf("interface %s = %d %.500q, want 303", leg.Link, code, body)
	}
	s.waitLog(t, `msg="arp: watching another interface" interface=`+leg.Link, nil)
	url := "http://" + leg.IP.String() + ":8080"
	note := filepath.Join(t.TempDir(), "note.txt")
	if err := os.WriteFile(note, []byte("from the second LAN"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, body := e2eCurl(t, y, "-F", "text=@"+note, url+"/data")
	if code != 200 {
		t.Fatalf("/data from %s on the second LAN = %d %q", y.MAC, code, body)
	}
	st := s.status(t)
	if e, ok := st.arp(y.IP); !ok || e.MAC != y.MAC {
		t.Errorf("after the switch, %s's entry = %+v %v, want its MAC %s", y.IP, e, ok, y.MAC)
	}
	if e, ok := st.arp(a.IP); ok {
		t.Errorf("after the switch the first LAN's %s is still in the table: %+v", a.IP, e)
	}
	if mac, ok := st.device(y.MAC); !ok {
		t.Errorf("the device on the second LAN is not registered by its MAC (%v)", mac)
	}
	y.Run(t, "ip", "neigh", "flush", "all") // its next request asks for the box's MAC again: a frame the new capture sees
	if code, _ := e2eCurl(t, y, "-F", "text=@"+note, url+"/data"); code != 200 {
		t.Fatalf("second /data from %s = %d", y.MAC, code)
	}
	poll.Until(t, 10*time.Second, "the second LAN's device learned from its ARP frames", func() bool {
		e, ok := s.status(t).arp(y.IP)
		return ok && e.Source == "arp"
	})
	if n := strings.Count(s.log(), `msg="multimsg: serving"`); n != 1 {
		t.Errorf("the service started %d times, want once (no restart):\n%s", n, s.log())
	}
}
