package envelope

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"testing"
)

// fuzzAESKey derives a fixed AES key of 16, 24 or 32 bytes from sel, so committed
// seeds (testdata/fuzz/FuzzOpen, made by an independent implementation) stay valid.
func fuzzAESKey(sel uint8) []byte {
	sum := sha256.Sum256([]byte("multimsg envelope fuzz"))
	return sum[:16+8*int(sel%3)]
}

// FuzzUnwrap: any key part gives an Opener or a *FileError "key" wrapping ErrKey,
// never a panic.
func FuzzUnwrap(f *testing.F) {
	k := testKey(f)
	for _, n := range []int{0, 16, 24, 32, 33} {
		aesKey := make([]byte, n)
		rand.Read(aesKey)
		w, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.Public(), aesKey, nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(w)
	}
	f.Add([]byte{})
	f.Add(make([]byte, 384))
	f.Fuzz(func(t *testing.T, wrapped []byte) {
		o, err := k.Unwrap(wrapped)
		if err != nil {
			var fe *FileError
			if o != nil || !errors.As(err, &fe) || fe.Name != KeyPart || !errors.Is(err, ErrKey) {
				t.Fatalf("Unwrap = %v, %v (%T); want nil and a *FileError %q wrapping ErrKey", o, err, err, KeyPart)
			}
			return
		}
		// It unwrapped: the fuzzer produced a valid OAEP block, so the Opener must work.
		if _, err := o.Open("x", make([]byte, Overhead)); !errors.Is(err, ErrAuth) {
			t.Fatalf("Open(zeros) = %v, want ErrAuth", err)
		}
	})
}

// FuzzOpen: any file either authenticates or is a *FileError naming it wrapping
// ErrShort or ErrAuth, never a panic.
func FuzzOpen(f *testing.F) {
	for sel := uint8(0); sel < 3; sel++ {
		s, err := newSealer(testKey(f).Public(), fuzzAESKey(sel))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(sel, s.Seal(nil))
		f.Add(sel, s.Seal([]byte("hola mundo")))
	}
	f.Add(uint8(0), []byte{})
	f.Add(uint8(1), make([]byte, Overhead))
	f.Fuzz(func(t *testing.T, sel uint8, sealed []byte) {
		o, err := newOpener(fuzzAESKey(sel))
		if err != nil {
			t.Fatal(err)
		}
		orig := bytes.Clone(sealed)
		plain, err := o.Open("f", sealed)
		if !bytes.Equal(orig, sealed) {
			t.Fatal("Open modified its input")
		}
		if err != nil {
			var fe *FileError
			if plain != nil || !errors.As(err, &fe) || fe.Name != "f" || !(errors.Is(err, ErrShort) || errors.Is(err, ErrAuth)) {
				t.Fatalf("Open = %d bytes, %v; want nil and a *FileError \"f\" wrapping ErrShort or ErrAuth", len(plain), err)
			}
			if errors.Is(err, ErrShort) != (len(sealed) < Overhead) {
				t.Fatalf("Open(%d bytes) = %v", len(sealed), err)
			}
			return
		}
		if len(plain) != len(sealed)-Overhead {
			t.Fatalf("Open(%d bytes) = %d bytes of plaintext", len(sealed), len(plain))
		}
	})
}

// FuzzSealOpen: Open(Seal(p)) == p for any p.
func FuzzSealOpen(f *testing.F) {
	f.Add([]byte(nil))
	f.Add([]byte("hola"))
	f.Add(bytes.Repeat([]byte{0}, 4097))
	s, err := newSealer(testKey(f).Public(), fuzzAESKey(2))
	if err != nil {
		f.Fatal(err)
	}
	o, err := newOpener(fuzzAESKey(2))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, plain []byte) {
		got, err := o.Open("f", s.Seal(plain))
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("Open(Seal(%d bytes)) = %d bytes, %v", len(plain), len(got), err)
		}
	})
}
