package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestPasswd(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"passwd", "-cost", "4"}, strings.NewReader("correct horse battery\n"), &out, &errb); code != 0 {
		t.Fatalf("passwd = %d, stderr %q", code, errb.String())
	}
	hash := strings.TrimSpace(out.String())
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("correct horse battery")); err != nil {
		t.Fatalf("passwd printed %q, which does not verify: %v", hash, err)
	}
	if code := run([]string{"passwd"}, strings.NewReader("short\n"), &out, &errb); code != 1 {
		t.Fatalf("passwd with a 5-byte password = %d, want 1", code)
	}
}

func TestUsageAndVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(nil, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "serve") {
		t.Fatalf("no command = %d %q", code, errb.String())
	}
	if code := run([]string{"frobnicate"}, nil, &out, &errb); code != 2 {
		t.Fatalf("unknown command = %d", code)
	}
	out.Reset()
	if code := run([]string{"version"}, nil, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "multimsg ") {
		t.Fatalf("version = %d %q", code, out.String())
	}
}

// TestServeRejectsBadConfig: a bad key stops the start with the key named, exit 1.
func TestServeRejectsBadConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(cfg, []byte("listen = \"127.0.0.1:0\"\n[delivery]\nttl = \"forever\"\n"), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"serve", "-config", cfg, "-data", t.TempDir()}, nil, &out, &errb); code != 1 || !strings.Contains(errb.String(), "forever") {
		t.Fatalf("serve with a bad ttl = %d %q", code, errb.String())
	}
	if code := run([]string{"serve", "-config", filepath.Join(t.TempDir(), "missing.toml")}, nil, &out, &errb); code != 1 || !strings.Contains(errb.String(), "no configuration file") {
		t.Fatalf("serve with a missing -config = %d %q", code, errb.String())
	}
}
