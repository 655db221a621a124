package settings

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"multimsg/config"
	"multimsg/internal/poll"
)

// writerEnv makes the test binary a child that writes configurations in a loop (below).
const writerEnv = "MULTIMSG_SETTINGS_WRITER"

// TestMain runs the writer child when asked to.
func TestMain(m *testing.M) {
	if path := os.Getenv(writerEnv); path != "" {
		writeForever(path)
		return
	}
	os.Exit(m.Run())
}

// writeForever writes two different valid configurations over path in turn until killed,
// printing a line after each write.
func writeForever(path string) {
	a, err := config.Parse(fileA, "a")
	if err != nil {
		panic(err)
	}
	b, err := config.Parse(fileB, "b")
	if err != nil {
		panic(err)
	}
	for i := 0; ; i++ {
		c := &a
		if i%2 == 1 {
			c = &b
		}
		if err := writeFile(path, c); err != nil {
			panic(err)
		}
		fmt.Println("wrote", i)
	}
}

const fileA = `listen = "127.0.0.1:8080"
data_dir = "/tmp/a"
[[mail.sender]]
name = "a"
maildir = "outbox"
`

const fileB = `listen = "127.0.0.1:8081"
data_dir = "/tmp/b"
unknown_device = "ip"
[[mail.sender]]
name = "b"
host = "relay.example"
port = 587
tls = "starttls"
`

// A kill -9 at any moment of a write leaves the old file or the new one, never a broken one,
// and the backup readable too: the writer child is killed at many points of its loop.
func TestWriteFileSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child process many times")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "multimsg.toml")
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), writerEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Let it write a few times (more each round), so the kill lands at varied points.
		buf := make([]byte, 64)
		seen := 0
		poll.Until(t, 20*time.Second, "the child to write", func() bool {
			n, _ := out.Read(buf)
			seen += strings.Count(string(buf[:n]), "\n")
			return seen > round%5+1
		})
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		for _, p := range []string{path, path + ".bak"} {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("round %d: %s: %v", round, p, err)
			}
			if _, err := config.Parse(string(b), p); err != nil {
				t.Fatalf("round %d: %s is broken after kill -9: %v\n%s", round, p, err, b)
			}
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(left) > 1 {
		t.Errorf("temporary files left behind: %v (at most the one a kill interrupted)", left)
	}
}

// The page's file says it was written by the page and where the previous ones are; a file
// written by hand, comments and all, is kept as .orig the first time the page replaces it and
// not overwritten by the page's own later writes; .bak is always the file just replaced.
func TestWriteFileKeepsHandWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "multimsg.toml")
	hand := "# the boiler room's box: ask Ana before changing the relay\n" + fileA
	if err := os.WriteFile(path, []byte(hand), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := config.Parse(fileA, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := config.Parse(fileB, "b")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*config.Config{&b, &a} {
		if err := writeFile(path, c); err != nil {
			t.Fatal(err)
		}
	}
	read := func(p string) string {
		t.Helper()
		x, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(x)
	}
	cur := read(path)
	if !strings.HasPrefix(cur, pageMark) || !strings.Contains(cur, "multimsg.toml.bak") || !strings.Contains(cur, "multimsg.toml.orig") {
		t.Errorf("the written file's header does not say who wrote it and where the previous ones are:\n%s", cur)
	}
	if got, err := config.Parse(cur, path); err != nil || got.Listen != a.Listen {
		t.Errorf("the written file reads back as %q, %v; want listen %q", got.Listen, err, a.Listen)
	}
	if orig := read(path + ".orig"); orig != hand {
		t.Errorf(".orig = %q, want the hand-written file with its comment", orig)
	}
	if bak := read(path + ".bak"); !strings.HasPrefix(bak, pageMark) || !strings.Contains(bak, `name = "b"`) {
		t.Errorf(".bak = %q, want the file the last write replaced (b's)", bak)
	}
}
