package gateway

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"multimsg/config"
)

// The admin hash file (issue 11, item 14): written durably; an empty one (its write never
// reached the disk) is made again; one that cannot be read, or holds no hash, is never
// replaced behind the admin's back.
func TestAdminHashFile(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	newPass := func(out string) string {
		i := strings.Index(out, "the admin password is ")
		if i < 0 {
			return ""
		}
		return strings.Fields(out[i+len("the admin password is "):])[0]
	}
	t.Run("first start", func(t *testing.T) {
		cfg := config.Config{DataDir: t.TempDir()}
		var console bytes.Buffer
		h, err := adminHash(cfg, &console, log)
		if err != nil {
			t.Fatal(err)
		}
		pass := newPass(console.String())
		if bcrypt.CompareHashAndPassword([]byte(h), []byte(pass)) != nil {
			t.Fatalf("printed password %q does not match the hash", pass)
		}
		again, err := adminHash(cfg, &bytes.Buffer{}, log)
		if err != nil || again != h {
			t.Fatalf("second start: %q, %v; want the same hash", again, err)
		}
		if left, _ := filepath.Glob(filepath.Join(cfg.DataDir, ".*tmp")); len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
	t.Run("empty file is made again", func(t *testing.T) {
		cfg := config.Config{DataDir: t.TempDir()}
		if err := os.WriteFile(filepath.Join(cfg.DataDir, "admin.bcrypt"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		var console bytes.Buffer
		h, err := adminHash(cfg, &console, log)
		if err != nil {
			t.Fatal(err)
		}
		if pass := newPass(console.String()); pass == "" || bcrypt.CompareHashAndPassword([]byte(h), []byte(pass)) != nil {
			t.Fatalf("adminHash over an empty file = %q, console %q; want a new password printed and its hash", h, console.String())
		}
	})
	t.Run("unreadable file is kept", func(t *testing.T) {
		cfg := config.Config{DataDir: t.TempDir()}
		p := filepath.Join(cfg.DataDir, "admin.bcrypt")
		if err := os.MkdirAll(filepath.Join(p, "x"), 0o700); err != nil { // reading it fails (EISDIR)
			t.Fatal(err)
		}
		var console bytes.Buffer
		if _, err := adminHash(cfg, &console, log); err == nil || !strings.Contains(err.Error(), "not replaced") {
			t.Fatalf("adminHash with an unreadable hash file: err = %v, want a refusal saying it was not replaced", err)
		}
		if console.Len() > 0 {
			t.Errorf("console got %q, want no new password", console.String())
		}
		if left, _ := filepath.Glob(filepath.Join(cfg.DataDir, "*tmp")); len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
	t.Run("garbage is kept", func(t *testing.T) {
		cfg := config.Config{DataDir: t.TempDir()}
		if err := os.WriteFile(filepath.Join(cfg.DataDir, "admin.bcrypt"), []byte("hunter2\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if h, err := adminHash(cfg, &bytes.Buffer{}, log); err == nil {
			t.Fatalf("adminHash = %q, want a refusal of a file without a bcrypt hash", h)
		}
	})
}
