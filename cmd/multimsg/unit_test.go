//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"multimsg/internal/peertest"
)

// The box's systemd unit runs the service unprivileged, with CAP_NET_RAW (and the two other
// capabilities it needs) and nothing more (issue 11, item 14); systemd itself checks the unit.
// TestE2EUnprivileged shows the binary works that way.
func TestSystemdUnitUnprivileged(t *testing.T) {
	src, err := os.ReadFile("../../buildroot/package/multimsg/multimsg.service")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{}
	for _, l := range strings.Split(string(src), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			keys[k] = append(keys[k], v)
		}
	}
	one := func(k string) string {
		if len(keys[k]) != 1 {
			t.Fatalf("unit has %d %s= lines, want 1", len(keys[k]), k)
		}
		return keys[k][0]
	}
	if u := one("User"); u == "" || u == "root" || u == "0" {
		t.Errorf("User=%s, want the service's own user", u)
	}
	want := "CAP_NET_RAW CAP_SYS_TIME CAP_NET_BIND_SERVICE"
	if c := one("AmbientCapabilities"); c != want {
		t.Errorf("AmbientCapabilities=%s, want %s", c, want)
	}
	if c := one("CapabilityBoundingSet"); c != want {
		t.Errorf("CapabilityBoundingSet=%s, want %s", c, want)
	}
	if v := one("NoNewPrivileges"); v != "yes" {
		t.Errorf("NoNewPrivileges=%s, want yes", v)
	}
	for _, k := range []string{"ExecStartPre", "ExecStart"} {
		for _, v := range keys[k] {
			// systemd substitutes $NAME in command lines: a shell variable must be written $$
			if lone := regexp.MustCompile(`(^|[^$])\$[A-Za-z_{]`).FindString(strings.ReplaceAll(v, "$$", "")); lone != "" {
				t.Errorf("%s= uses %q, which systemd would expand itself: write $$", k, lone)
			}
		}
	}

	analyze := peertest.Binary(t, "systemd-analyze")
	dir := t.TempDir()
	bin := buildE2EBinary(t, dir)
	unit := filepath.Join(dir, "multimsg.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(src), "/usr/bin/multimsg", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
