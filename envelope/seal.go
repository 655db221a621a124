package envelope

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParsePublicPEM parses a box's public key as served by GET /key: PEM "PUBLIC KEY"
// (SubjectPublicKeyInfo) holding an RSA key of 2048 to 8192 bits. Errors wrap
// [ErrPublicKey].
func ParsePublicPEM(b []byte) (*rsa.PublicKey, error) {
	if len(b) > maxPEM {
		return nil, fmt.Errorf("%w: %d bytes, a public key is under %d", ErrPublicKey, len(b), maxPEM)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrPublicKey)
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%w: PEM block is %q, want \"PUBLIC KEY\"", ErrPublicKey, block.Type)
	}
	parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPublicKey, err)
	}
	pub, ok := parsed.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: a %T, want RSA", ErrPublicKey, parsed)
	}
	if err := checkPublic(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

func checkPublic(pub *rsa.PublicKey) error {
	if pub == nil || pub.N == nil {
		return fmt.Errorf("%w: no key", ErrPublicKey)
	}
	if bits := pub.N.BitLen(); bits < minBits || bits > maxBits {
		return fmt.Errorf("%w: RSA key of %d bits, want %d to %d", ErrPublicKey, bits, minBits, maxBits)
	}
	return nil
}

// Sealer encrypts the files of one upload to a box: one random AES-256 key, wrapped
// once, and a fresh random nonce per file. Use one Sealer per upload (random 96-bit
// nonces are safe for far more files than an upload holds). Seal may be called from
// several goroutines.
type Sealer struct {
	opener  Opener
	wrapped []byte
}

// NewSealer draws a random AES-256 key and wraps it under pub with RSA-OAEP
// (SHA-256, MGF1-SHA-256, empty label).
func NewSealer(pub *rsa.PublicKey) (*Sealer, error) {
	aesKey := make([]byte, 32)
	rand.Read(aesKey) // never fails (crypto/rand since Go 1.24)
	defer clear(aesKey)
	return newSealer(pub, aesKey)
}

// newSealer is NewSealer with a given AES key, so tests can try every key size.
func newSealer(pub *rsa.PublicKey, aesKey []byte) (*Sealer, error) {
	if err := checkPublic(pub); err != nil {
		return nil, err
	}
	o, err := newOpener(aesKey)
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) {
			return nil, fe.Err
		}
		return nil, err
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, aesKey, nil)
	if err != nil {
		return nil, fmt.Errorf("wrap the AES key: %w", err)
	}
	return &Sealer{opener: *o, wrapped: wrapped}, nil
}

// WrappedKey is the upload's key part (send it as a file part named "key"). The slice
// is shared: do not modify it.
func (s *Sealer) WrappedKey() []byte { return s.wrapped }

// Seal encrypts one file: a fresh random nonce ‖ AES-GCM ciphertext ‖ tag, Overhead
// bytes longer than plain.
func (s *Sealer) Seal(plain []byte) []byte {
	out := make([]byte, NonceSize, NonceSize+len(plain)+TagSize)
	rand.Read(out) // never fails
	return s.opener.aead.Seal(out, out, plain, nil)
}
