package envelope

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func pemOf(t testing.TB, k *Key) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	k, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Created() {
		t.Error("Created() = false on first start")
	}
	if bits := k.Public().N.BitLen(); bits != KeyBits {
		t.Errorf("new key has %d bits, want %d", bits, KeyBits)
	}
	path := filepath.Join(dir, KeyFile)
	if k.Path() != path {
		t.Errorf("Path() = %q, want %q", k.Path(), path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode = %v, want 0600", perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "-----BEGIN PRIVATE KEY-----\n") {
		t.Errorf("key file starts %.30q, want PEM PRIVATE KEY", b)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only %s (temp file left behind?)", len(entries), KeyFile)
	}

	again, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Created() {
		t.Error("Created() = true on reload")
	}
	if !again.priv.Equal(k.priv) || string(again.PublicPEM()) != string(k.PublicPEM()) {
		t.Error("reload gave another key")
	}
	// A file sealed for the first instance opens with the reloaded one.
	s, err := NewSealer(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	o, err := again.Unwrap(s.WrappedKey())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := o.Open("a", s.Seal([]byte("x"))); err != nil || string(got) != "x" {
		t.Errorf("Open after reload = %q, %v", got, err)
	}
}

func TestLoadTightensMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, KeyFile)
	if err := os.WriteFile(path, pemOf(t, testKey(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // umask may have narrowed WriteFile
		t.Fatal(err)
	}
	k, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k.Created() {
		t.Error("an existing key was regenerated")
	}
	if got := k.TightenedFrom(); got != 0o644 {
		t.Errorf("TightenedFrom() = %v, want 0644", got)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode after load = %v, want 0600", perm)
	}
	k2, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k2.TightenedFrom() != 0 {
		t.Errorf("TightenedFrom() = %v on a 0600 file, want 0", k2.TightenedFrom())
	}
}

func TestLoadRefusesBadFile(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallDER, err := x509.MarshalPKCS8PrivateKey(small)
	if err != nil {
		t.Fatal(err)
	}
	good := pemOf(t, testKey(t))
	tests := []struct {
		name, content, detail string
	}{
		{"empty", "", "no PEM block"},
		{"garbage", "not a key at all\n", "no PEM block"},
		{"truncated", string(good[:len(good)/2]), "no PEM block"},
		{"PKCS#1", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey(t).priv)})), `"RSA PRIVATE KEY"`},
		{"bad DER", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not PKCS#8"},
		{"ECDSA", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})), "want an RSA key"},
		{"RSA-1024", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: smallDER})), "1024 bits"},
		{"huge", strings.Repeat("A", maxPEM+1), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, KeyFile)
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			k, err := LoadOrCreate(dir)
			if k != nil {
				t.Error("LoadOrCreate returned a key with an error")
			}
			if !errors.Is(err, ErrKeyFile) {
				t.Fatalf("LoadOrCreate(%s) = %v, want ErrKeyFile", tt.name, err)
			}
			var kfe *KeyFileError
			if !errors.As(err, &kfe) || kfe.Path != path {
				t.Errorf("err = %v, want a *KeyFileError with Path %q", err, path)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("err = %q, want it to name %s and say %q", err, path, tt.detail)
			}
			// Never silently regenerated.
			b, _ := os.ReadFile(path)
			if string(b) != tt.content {
				t.Error("the bad key file was replaced")
			}
		})
	}
}

func TestLoadRefusesDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, KeyFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir); !errors.Is(err, ErrKeyFile) {
		t.Errorf("LoadOrCreate with box.key a directory = %v, want ErrKeyFile", err)
	}
}

func TestLoadUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads a mode-0000 file anyway; nothing to test")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, KeyFile)
	if err := os.WriteFile(path, pemOf(t, testKey(t)), 0o000); err != nil {
		t.Fatal(err)
	}
	_, err := LoadOrCreate(dir)
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("LoadOrCreate(unreadable) = %v, want fs.ErrPermission", err)
	}
}

func TestCreateLosesRace(t *testing.T) {
	// publish must not replace a key another process published first.
	dir := t.TempDir()
	path := filepath.Join(dir, KeyFile)
	first := pemOf(t, testKey(t))
	if err := os.WriteFile(path, first, 0o600); err != nil {
		t.Fatal(err)
	}
	won, err := publish(dir, path, []byte("second"))
	if err != nil || won {
		t.Fatalf("publish over an existing key = %v, %v; want false, nil", won, err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != string(first) {
		t.Errorf("key file changed: %.40q, %v", b, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp file left behind: %d entries", len(entries))
	}
}

func TestLoadOrCreateNoDir(t *testing.T) {
	if _, err := LoadOrCreate(""); err == nil {
		t.Error(`LoadOrCreate("") = nil error; want one (it would use the working directory)`)
	}
}

func TestLoadOrCreateConcurrent(t *testing.T) {
	// Two processes (serve and keygen, say) starting at once on an empty data dir must end
	// up with one key: the loser of the race loads the winner's.
	dir := t.TempDir()
	const n = 3
	keys := make([]*Key, n)
	errs := make([]error, n)
	start := make(chan struct{})
	done := make(chan int)
	for i := range n {
		go func() {
			<-start
			keys[i], errs[i] = LoadOrCreate(dir)
			done <- i
		}()
	}
	close(start)
	for range n {
		<-done
	}
	created := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadOrCreate #%d: %v", i, errs[i])
		}
		if keys[i].Created() {
			created++
		}
		if !keys[i].priv.Equal(keys[0].priv) {
			t.Errorf("LoadOrCreate #%d returned another key than #0", i)
		}
	}
	if created != 1 {
		t.Errorf("%d instances say they created the key, want exactly 1", created)
	}
	onDisk, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !onDisk.priv.Equal(keys[0].priv) {
		t.Error("the key on disk is not the one handed out")
	}
}
