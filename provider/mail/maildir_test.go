package mail

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"multimsg/provider"
)

func TestMaildirDelivery(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	d, err := New(Options{Name: "local", From: "gw@box.test", Maildir: dir, Hostname: "box:1/x"}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	att := randomBytes(t, 5000)
	rc, err := d.Send(context.Background(), delivery("job1", "a@x.test", infoOf(t, map[string]any{"subject": "hello"}),
		textFile("t", "body"), provider.File{Name: "f", Filename: "data.bin", Type: "file", Data: att}))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	nameRE := regexp.MustCompile(`^\d+\.M\d+P\d+Q\d+\.box\\0721\\057x$`)
	if !nameRE.MatchString(rc.MessageID) {
		t.Errorf("file name %q does not follow <secs>.M<usec>P<pid>Q<n>.<host> with / and : escaped", rc.MessageID)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "new", rc.MessageID))
	if err != nil {
		t.Fatalf("the message is not in new/: %v", err)
	}
	m, leaves := parseMessage(t, raw)
	if decodeSubject(t, m) != "hello" || len(leaves) != 2 || string(leaves[0].body) != "body" || !bytes.Equal(leaves[1].body, att) {
		t.Errorf("Maildir message: subject %q, parts %+v", decodeSubject(t, m), leaves)
	}
	if st, _ := os.Stat(filepath.Join(dir, "new", rc.MessageID)); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	for _, sub := range []string{"tmp", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil || len(ents) != 0 {
			t.Errorf("%s/ = %v (%v), want empty", sub, ents, err)
		}
	}
}

func TestMaildirUniqueNamesConcurrently(t *testing.T) {
	dir := t.TempDir()
	d, err := New(Options{From: "gw@box.test", Maildir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	var wg sync.WaitGroup
	names := make(chan string, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x")))
			if err != nil {
				t.Error(err)
			}
			names <- rc.MessageID
		}()
	}
	wg.Wait()
	close(names)
	seen := map[string]bool{}
	for nm := range names {
		if seen[nm] {
			t.Errorf("name %q used twice", nm)
		}
		seen[nm] = true
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "new"))
	if len(ents) != n {
		t.Errorf("new/ has %d messages, want %d", len(ents), n)
	}
}

func TestMaildirBrokenLayoutIsSenderDown(t *testing.T) {
	// tmp/ replaced by a file: an operator must repair the Maildir (works as root too, unlike
	// a permission test).
	dir := t.TempDir()
	d, err := New(Options{From: "gw@box.test", Maildir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "tmp"))
	os.WriteFile(filepath.Join(dir, "tmp"), nil, 0o600)
	_, err = d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x")))
	if provider.ClassOf(err) != provider.Down {
		t.Errorf("Send into a Maildir whose tmp/ is a file = %v, want sender-down", err)
	}
}

func TestMaildirRemovedIsSenderDown(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "md")
	d, err := New(Options{From: "gw@box.test", Maildir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(dir)
	_, err = d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x")))
	if provider.ClassOf(err) != provider.Down {
		t.Errorf("Send into a removed Maildir = %v, want sender-down", err)
	}
	if d.Health().OK {
		t.Errorf("Health OK after a failed Maildir delivery")
	}
}

var readFile = os.ReadFile
