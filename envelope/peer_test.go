package envelope

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"multimsg/internal/peertest"
)

// Debian's python3 with python3-cryptography: an implementation of the wire format
// that shares no code with ours. The pyenv python3 on PATH lacks the module.
const debianPython = "/usr/bin/python3"

func pythonCrypto(t *testing.T) string {
	t.Helper()
	py := peertest.Binary(t, debianPython)
	if out, err := exec.Command(py, "-c", "import cryptography.hazmat.primitives.ciphers.aead").CombinedOutput(); err != nil {
		peertest.Missing(t, "python3-cryptography", "apt-get install -y python3-cryptography: "+string(bytes.TrimSpace(out)))
	}
	return py
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// peerFiles are plaintexts whose names are form fields; odd sizes on purpose.
var peerFiles = map[string][]byte{
	"empty": {},
	"text":  []byte("Alarma: puerta abierta — ñandú 🐦\n"),
	"blob":  func() []byte { b := make([]byte, 300_001); rand.Read(b); return b }(),
}

// TestPythonSealsGoOpens: a device written against docs/ENCRYPTION.md with Python's
// cryptography, uploading to our box.
func TestPythonSealsGoOpens(t *testing.T) {
	py := pythonCrypto(t)
	k := testKey(t)
	for _, aesBytes := range []int{16, 24, 32} {
		t.Run(strconv.Itoa(aesBytes*8), func(t *testing.T) {
			in, out := t.TempDir(), t.TempDir()
			pubPath := filepath.Join(in, "box.pub")
			if err := os.WriteFile(pubPath, k.PublicPEM(), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"testdata/seal.py", "--aes-bytes", strconv.Itoa(aesBytes), pubPath, out}
			for name, data := range peerFiles {
				p := filepath.Join(in, name)
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
				args = append(args, p)
			}
			run(t, py, args...)

			wrapped, err := os.ReadFile(filepath.Join(out, KeyPart))
			if err != nil {
				t.Fatal(err)
			}
			o, err := k.Unwrap(wrapped)
			if err != nil {
				t.Fatalf("Unwrap(python's key part): %v", err)
			}
			for name, want := range peerFiles {
				sealed, err := os.ReadFile(filepath.Join(out, name))
				if err != nil {
					t.Fatal(err)
				}
				got, err := o.Open(name, sealed)
				if err != nil {
					t.Fatalf("Open(python's %s): %v", name, err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("Open(python's %s) = %d bytes, differs from the %d-byte original", name, len(got), len(want))
				}
				// And tampering with python's output is caught, naming the file.
				sealed[len(sealed)/2] ^= 0x40
				_, err = o.Open(name, sealed)
				wantFileError(t, err, name, ErrAuth)
			}
		})
	}
}

// TestGoSealsPythonOpens: our client (multimsg send) against an independent server.
func TestGoSealsPythonOpens(t *testing.T) {
	py := pythonCrypto(t)
	k := testKey(t)
	dir, out := t.TempDir(), t.TempDir()
	privPath := filepath.Join(dir, KeyFile)
	if err := os.WriteFile(privPath, pemOf(t, k), 0o600); err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicPEM(k.PublicPEM())
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSealer(pub)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, KeyPart)
	if err := os.WriteFile(keyPath, s.WrappedKey(), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"testdata/open.py", privPath, keyPath, out}
	for name, data := range peerFiles {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, s.Seal(data), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	run(t, py, args...)
	for name, want := range peerFiles {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("python opened %s to %d bytes, differs from the %d-byte original", name, len(got), len(want))
		}
	}

	// The independent opener also rejects a tampered file: both sides agree on the tag.
	bad := s.Seal([]byte("x"))
	bad[NonceSize] ^= 1
	badPath := filepath.Join(dir, "bad")
	if err := os.WriteFile(badPath, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	err = exec.Command(py, "testdata/open.py", privPath, keyPath, out, badPath).Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("open.py on a tampered file: %v, want exit status 1", err)
	}
}

// TestOpenSSLWrapsKey: the key part made with the openssl command line, as in the
// curl example of docs/ENCRYPTION.md.
func TestOpenSSLWrapsKey(t *testing.T) {
	openssl := peertest.Binary(t, "openssl")
	k := testKey(t)
	dir := t.TempDir()
	pubPath, aesPath, keyPath := filepath.Join(dir, "box.pub"), filepath.Join(dir, "aes.key"), filepath.Join(dir, "key")
	if err := os.WriteFile(pubPath, k.PublicPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, openssl, "rand", "-out", aesPath, "32")
	run(t, openssl, "pkeyutl", "-encrypt", "-pubin", "-inkey", pubPath,
		"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256",
		"-in", aesPath, "-out", keyPath)
	wrapped, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	aesKey, err := os.ReadFile(aesPath)
	if err != nil {
		t.Fatal(err)
	}
	o, err := k.Unwrap(wrapped)
	if err != nil {
		t.Fatalf("Unwrap(openssl's key part): %v", err)
	}
	// Seal with the same AES key independently of the Sealer's key and check Open agrees.
	ref, err := newOpener(aesKey)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, NonceSize)
	rand.Read(nonce)
	sealed := ref.aead.Seal(bytes.Clone(nonce), nonce, []byte("via openssl"), nil)
	if got, err := o.Open("f", sealed); err != nil || string(got) != "via openssl" {
		t.Errorf("Open = %q, %v", got, err)
	}
}

// TestShellExample runs docs/ENCRYPTION.md's curl + openssl example (testdata/upload.sh)
// against a box made of net/http and this package.
func TestShellExample(t *testing.T) {
	py := pythonCrypto(t)
	peertest.Binary(t, "curl")
	peertest.Binary(t, "openssl")
	k := testKey(t)
	got := map[string][]byte{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/key":
			w.Write(k.PublicPEM())
			return
		case "/data":
		default:
			http.NotFound(w, r)
			return
		}
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		keyPart := r.MultipartForm.File[KeyPart]
		if len(keyPart) != 1 {
			http.Error(w, "no key part", http.StatusBadRequest)
			return
		}
		o, err := k.Unwrap(readPart(t, keyPart[0]))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for field, fhs := range r.MultipartForm.File {
			if field == KeyPart {
				continue
			}
			plain, err := o.Open(field, readPart(t, fhs[0]))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			got[field] = plain
		}
		fmt.Fprint(w, "job-1")
	}))
	defer srv.Close()

	dir := t.TempDir()
	var args []string
	for name, data := range peerFiles {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	cmd := exec.Command("testdata/upload.sh", args...)
	cmd.Env = append(os.Environ(), "BOX="+srv.URL, "PYTHON="+py)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("upload.sh: %v\n%s", err, out)
	}
	if strings.TrimSpace(string(out)) != "job-1" {
		t.Errorf("upload.sh printed %q, want the id", out)
	}
	for name, want := range peerFiles {
		if !bytes.Equal(got[name], want) {
			t.Errorf("box opened %s to %d bytes, want the %d-byte original", name, len(got[name]), len(want))
		}
	}
}

func readPart(t *testing.T, fh *multipart.FileHeader) []byte {
	f, err := fh.Open()
	if err != nil {
		t.Error(err)
		return nil
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Error(err)
	}
	return b
}
