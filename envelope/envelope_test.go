package envelope

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"testing"
)

// sharedKey is generated once per test binary: RSA-3072 generation takes about a
// second, and most tests only need some box key.
var sharedKey = sync.OnceValues(func() (*Key, error) {
	priv, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return nil, err
	}
	return newKey(priv, "")
})

func testKey(t testing.TB) *Key {
	t.Helper()
	k, err := sharedKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func wantFileError(t *testing.T, err error, name string, sentinel error) {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v (%T), want a *FileError", err, err)
	}
	if fe.Name != name {
		t.Errorf("FileError.Name = %q, want %q (err: %v)", fe.Name, name, err)
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("err = %v, want errors.Is %v", err, sentinel)
	}
	if !strings.Contains(err.Error(), `file "`+name+`"`) {
		t.Errorf("err.Error() = %q, does not name file %q", err.Error(), name)
	}
}

func TestRoundTrip(t *testing.T) {
	k := testKey(t)
	for _, size := range []int{16, 24, 32} {
		aesKey := make([]byte, size)
		rand.Read(aesKey)
		s, err := newSealer(k.Public(), aesKey)
		if err != nil {
			t.Fatalf("newSealer(%d-byte key): %v", size, err)
		}
		o, err := k.Unwrap(s.WrappedKey())
		if err != nil {
			t.Fatalf("Unwrap(%d-byte key): %v", size, err)
		}
		for _, plain := range [][]byte{nil, {}, []byte("hola"), bytes.Repeat([]byte("x"), 1<<20+3)} {
			sealed := s.Seal(plain)
			if len(sealed) != len(plain)+Overhead {
				t.Errorf("len(Seal(%d bytes)) = %d, want %d", len(plain), len(sealed), len(plain)+Overhead)
			}
			got, err := o.Open("f", sealed)
			if err != nil {
				t.Fatalf("Open(%d bytes, %d-byte key): %v", len(plain), size, err)
			}
			if !bytes.Equal(got, plain) {
				t.Errorf("Open(Seal(%d bytes)) differs", len(plain))
			}
		}
	}
}

func TestNewSealerIsAES256(t *testing.T) {
	k := testKey(t)
	s, err := NewSealer(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	aesKey, err := rsa.DecryptOAEP(sha256.New(), nil, k.priv, s.WrappedKey(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(aesKey) != 32 {
		t.Errorf("NewSealer AES key = %d bytes, want 32", len(aesKey))
	}
	// Two seals of the same plaintext differ (fresh nonce each time).
	if a, b := s.Seal([]byte("same")), s.Seal([]byte("same")); bytes.Equal(a, b) {
		t.Error("Seal gave the same output twice: nonce reused")
	}
}

func TestOpenRejects(t *testing.T) {
	k := testKey(t)
	s, err := NewSealer(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	o, err := k.Unwrap(s.WrappedKey())
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("the alarm went off at 03:12")
	sealed := s.Seal(plain)
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	other, err := NewSealer(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		sealed []byte
		want   error
	}{
		{"nonce", flip(0), ErrAuth},
		{"ciphertext", flip(NonceSize + 3), ErrAuth},
		{"tag", flip(len(sealed) - 1), ErrAuth},
		{"truncated tag", sealed[:len(sealed)-1], ErrAuth},
		{"extended", append(bytes.Clone(sealed), 0), ErrAuth},
		{"other key", other.Seal(plain), ErrAuth},
		{"too short", sealed[:Overhead-1], ErrShort},
		{"empty", nil, ErrShort},
		{"plain text", []byte("not encrypted"), ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := o.Open("photo", tt.sealed)
			if got != nil {
				t.Errorf("Open returned %d bytes with an error", len(got))
			}
			wantFileError(t, err, "photo", tt.want)
		})
	}
	// The message a person reads.
	_, err = o.Open("photo", flip(0))
	if want := `file "photo": authentication failed: tampered, truncated, or encrypted with another key`; err.Error() != want {
		t.Errorf("Open(tampered).Error() = %q, want %q", err.Error(), want)
	}
}

func TestUnwrapRejects(t *testing.T) {
	k := testKey(t)
	wrap := func(n int) []byte {
		aesKey := make([]byte, n)
		rand.Read(aesKey)
		w, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.Public(), aesKey, nil)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	otherPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := newKey(otherPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	otherSealer, err := NewSealer(other.Public())
	if err != nil {
		t.Fatal(err)
	}
	sha1Wrapped, err := rsa.EncryptOAEP(sha256.New224(), rand.Reader, k.Public(), make([]byte, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	labelled, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.Public(), make([]byte, 32), []byte("label"))
	if err != nil {
		t.Fatal(err)
	}
	good := wrap(32)
	bad := bytes.Clone(good)
	bad[100] ^= 0x80
	tests := []struct {
		name    string
		wrapped []byte
		detail  string
	}{
		{"empty", nil, "0 bytes"},
		{"garbage", []byte("this is not a key"), "17 bytes"},
		{"base64 of a key", bytes.Repeat([]byte("QUJD"), 128), "512 bytes"},
		{"one byte short", good[:len(good)-1], "383 bytes"},
		{"flipped bit", bad, "not wrapped"},
		{"random", func() []byte { b := make([]byte, 384); rand.Read(b); return b }(), "not wrapped"},
		{"other box", otherSealer.WrappedKey(), "256 bytes"},
		{"other hash", sha1Wrapped, "not wrapped"},
		{"with label", labelled, "not wrapped"},
		{"AES key of 0 bytes", wrap(0), "0-byte AES key"},
		{"AES key of 8 bytes", wrap(8), "8-byte AES key"},
		{"AES key of 20 bytes", wrap(20), "20-byte AES key"},
		{"AES key of 33 bytes", wrap(33), "33-byte AES key"},
		{"AES key of 64 bytes", wrap(64), "64-byte AES key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := k.Unwrap(tt.wrapped)
			if o != nil {
				t.Error("Unwrap returned an Opener with an error")
			}
			wantFileError(t, err, KeyPart, ErrKey)
			if err != nil && !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("Unwrap error %q does not say %q", err, tt.detail)
			}
		})
	}
}

func TestNewSealerRejects(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSealer(&small.PublicKey); !errors.Is(err, ErrPublicKey) {
		t.Errorf("NewSealer(1024-bit) = %v, want ErrPublicKey", err)
	}
	if _, err := NewSealer(nil); !errors.Is(err, ErrPublicKey) {
		t.Errorf("NewSealer(nil) = %v, want ErrPublicKey", err)
	}
	if _, err := newSealer(testKey(t).Public(), make([]byte, 20)); !errors.Is(err, ErrKey) {
		t.Errorf("newSealer(20-byte AES key) = %v, want ErrKey", err)
	}
}

func TestParsePublicPEM(t *testing.T) {
	k := testKey(t)
	pub, err := ParsePublicPEM(k.PublicPEM())
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(k.Public()) {
		t.Error("ParsePublicPEM(PublicPEM()) is another key")
	}
	if !bytes.HasPrefix(k.PublicPEM(), []byte("-----BEGIN PUBLIC KEY-----\n")) {
		t.Errorf("PublicPEM() = %q..., want a PEM PUBLIC KEY", k.PublicPEM()[:30])
	}
	privPEM := pemOf(t, k)
	for _, in := range [][]byte{
		nil,
		[]byte("hello"),
		[]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
		privPEM,
		bytes.Repeat([]byte("A"), maxPEM+1),
	} {
		if _, err := ParsePublicPEM(in); !errors.Is(err, ErrPublicKey) {
			t.Errorf("ParsePublicPEM(%.30q) = %v, want ErrPublicKey", in, err)
		}
	}
}
