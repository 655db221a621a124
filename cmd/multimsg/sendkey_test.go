package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"multimsg/envelope"
	"multimsg/gateway/gatewaytest"
)

// `multimsg send -key FILE` pins the box's key (issue 11, item 12): a FILE that does not exist
// is filled from the box at the first run (trust on first use), and from then on the key in it
// is used without asking the box — a box answering with another key is not believed.
func TestSendPinsKey(t *testing.T) {
	g := gatewaytest.Start(t, `
[[mail.sender]]
name = "outbox"
maildir = "outbox"
`)
	dir := t.TempDir()
	note := filepath.Join(dir, "note.txt")
	if err := os.WriteFile(note, []byte("door open"), 0o644); err != nil {
		t.Fatal(err)
	}
	pin := filepath.Join(dir, "box.pem")
	send := func() (int, string) {
		var out, errb bytes.Buffer
		code := RunSend(context.Background(), []string{"-server", g.URL, "-serv", "mail", "-dest", "ops@example.com", "-key", pin, note}, &out, &errb)
		return code, errb.String()
	}
	code, log := send()
	if code != 0 || !strings.Contains(log, "pinned the box's key SHA256:") {
		t.Fatalf("first send with -key = %d\n%s", code, log)
	}
	got, err := os.ReadFile(pin)
	if err != nil || !bytes.Equal(got, g.Key.PublicPEM()) {
		t.Fatalf("pinned key file = %q, %v; want the box's PEM", got, err)
	}
	if code, log := send(); code != 0 || strings.Contains(log, "pinned") {
		t.Fatalf("second send with the pinned key = %d\n%s", code, log)
	}
	// a pinned key that is not the box's: the client encrypts to it and the box refuses
	// the upload — the pin, not GET /key, decides
	other, err := envelope.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pin, other.PublicPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, log := send(); code == 0 || !strings.Contains(log, "key") {
		t.Fatalf("send with another key pinned = %d, want a refusal\n%s", code, log)
	}
}
