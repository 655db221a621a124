package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
)

const (
	// NonceSize and TagSize frame every encrypted file: nonce ‖ ciphertext ‖ tag.
	NonceSize = 12
	TagSize   = 16
	// Overhead is how much longer an encrypted file is than its plaintext.
	Overhead = NonceSize + TagSize

	// KeyPart is the form field of the wrapped AES key in an upload; it is also the
	// Name of a *FileError about it.
	KeyPart = "key"
)

// Opener decrypts the files of one upload, with the AES key from its key part.
// It holds no mutable state; Open may be called from several goroutines.
type Opener struct {
	aead cipher.AEAD
}

// Unwrap decrypts an upload's key part: RSA-OAEP (SHA-256, MGF1-SHA-256, empty label)
// under the box's key, of an AES key of 16, 24 or 32 bytes. Errors are a *FileError
// named "key" wrapping [ErrKey]. It costs one RSA private-key operation (see
// BenchmarkUnwrap): bound how many run at once on a small board.
func (k *Key) Unwrap(wrapped []byte) (*Opener, error) {
	if size := k.priv.Size(); len(wrapped) != size {
		return nil, &FileError{Name: KeyPart, Err: fmt.Errorf(
			"%w: it is %d bytes, and RSA-OAEP under this box's %d-bit key gives exactly %d (send the raw bytes as a file part, not base64 or hex)",
			ErrKey, len(wrapped), k.priv.N.BitLen(), size)}
	}
	aesKey, err := rsa.DecryptOAEP(sha256.New(), nil, k.priv, wrapped, nil)
	if err != nil {
		return nil, &FileError{Name: KeyPart, Err: fmt.Errorf(
			"%w: it was not wrapped with RSA-OAEP/SHA-256 under this box's public key (fetch GET /key again) or it is damaged",
			ErrKey)}
	}
	defer clear(aesKey)
	return newOpener(aesKey)
}

func newOpener(aesKey []byte) (*Opener, error) {
	switch len(aesKey) {
	case 16, 24, 32:
	default:
		return nil, &FileError{Name: KeyPart, Err: fmt.Errorf(
			"%w: it unwraps to a %d-byte AES key, want 16, 24 or 32", ErrKey, len(aesKey))}
	}
	block, err := aes.NewCipher(aesKey)
	if err != nil {
		return nil, &FileError{Name: KeyPart, Err: fmt.Errorf("%w: %v", ErrKey, err)}
	}
	aead, err := cipher.NewGCM(block) // 12-byte nonce, 16-byte tag: the wire format
	if err != nil {
		return nil, &FileError{Name: KeyPart, Err: fmt.Errorf("%w: %v", ErrKey, err)}
	}
	return &Opener{aead: aead}, nil
}

// Open decrypts one file of the upload; name is its form field, used in errors.
// sealed is nonce ‖ ciphertext ‖ tag and is not modified; the plaintext is a new slice,
// Overhead bytes shorter. Errors are a *FileError named name wrapping [ErrShort] or
// [ErrAuth]; nothing is returned unless the whole file authenticates.
func (o *Opener) Open(name string, sealed []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, &FileError{Name: name, Err: fmt.Errorf(
			"%w: %d bytes, and an encrypted file has at least %d (%d-byte nonce + %d-byte tag)",
			ErrShort, len(sealed), Overhead, NonceSize, TagSize)}
	}
	plain, err := o.aead.Open(make([]byte, 0, len(sealed)-Overhead), sealed[:NonceSize], sealed[NonceSize:], nil)
	if err != nil {
		return nil, &FileError{Name: name, Err: ErrAuth}
	}
	return plain, nil
}
