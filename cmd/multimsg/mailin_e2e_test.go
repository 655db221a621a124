//go:build linux

package main

// Issue 15's identity check: the real binary in a namespace LAN takes mails over SMTP from
// clients in other namespaces (curl, each with its own MAC); the jobs belong to the sending
// device's MAC exactly as over HTTP, and a device outside allow_macs is refused at EHLO.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"multimsg/internal/peertest"
)

func TestE2EMailIdentity(t *testing.T) {
	peertest.Root(t, "network namespaces need root")
	peertest.Binary(t, "ip")
	peertest.Binary(t, "curl")
	bin := buildE2EBinary(t, t.TempDir())
	_, gw, a, b := e2eLAN(t)
	s := startE2EServerWith(t, bin, gw, `allow_macs = ["`+a.MAC+`"]`, e2eOptions{tables: "\n[smtp_in]\nlisten = \":2525\"\n"})
	s.waitLog(t, `smtp_in listening`, nil)
	mail := filepath.Join(t.TempDir(), "alert.eml")
	if err := os.WriteFile(mail, []byte("From: cam@lan\r\nTo: ops@example.com\r\nSubject: Motion\r\n\r\nMotion on the gate.\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	smtpURL := "smtp://" + gw.IP.String() + ":2525"
	// a: in allow_macs — accepted
	out, err := a.Command(context.Background(), "curl", "-sS", "--max-time", "15", smtpURL, "--mail-from", "cam@lan",
		"--mail-rcpt", "ops@example.com", "--upload-file", mail).CombinedOutput()
	if err != nil {
		t.Fatalf("curl smtp from %s (%s): %v\n%s", a.NS, a.MAC, err, out)
	}
	// b: not in allow_macs — refused (554 at EHLO), nothing queued
	out, err = b.Command(context.Background(), "curl", "-sS", "-v", "--max-time", "15", smtpURL, "--mail-from", "cam@lan",
		"--mail-rcpt", "ops@example.com", "--upload-file", mail).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "554") || !strings.Contains(string(out), "allow_macs") {
		t.Errorf("curl smtp from %s (%s, not allowed): %v\n%s\nwant a 554 naming allow_macs", b.NS, b.MAC, err, out)
	}
	// the job is a's (committed before the 250 curl got), marked as arrived by mail
	code, body := e2eCurl(t, s.gw, "-u", "admin:"+e2eAdminPassword, "http://127.0.0.1:8080/admin/api/status")
	if code != 200 {
		t.Fatalf("/admin/api/status = %d", code)
	}
	var st struct {
		Recent []struct{ ID, Device, Via string } `json:"recent"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Recent) != 1 || st.Recent[0].Device != a.MAC || st.Recent[0].Via != "mail" {
		t.Fatalf("recent jobs = %+v, want exactly one, from %s, via mail", st.Recent, a.MAC)
	}
	id := st.Recent[0].ID
	// ownership as over HTTP: the sending device consults its job by the id
	if code, body := s.cons(t, a, id); code != 200 {
		t.Errorf("/cons from the sending device = %d %q, want 200", code, body)
	}
}
