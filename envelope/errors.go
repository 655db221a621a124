package envelope

import (
	"errors"
	"fmt"
)

// ErrKey: the upload's key part is not an AES key wrapped under this box's public key
// (wrong length, garbage, or wrapped for another box), or it unwraps to a key that is
// not 16, 24 or 32 bytes long.
var ErrKey = errors.New("the key part does not decrypt with this box's key")

// ErrAuth: a file fails AES-GCM authentication — tampered, truncated, or sealed with
// another AES key than the one in the key part.
var ErrAuth = errors.New("authentication failed: tampered, truncated, or encrypted with another key")

// ErrShort: a file is shorter than a nonce and a tag, so it cannot be an encrypted file.
var ErrShort = errors.New("truncated")

// ErrKeyFile: the box's private key file exists but cannot be used (unreadable, not a
// PEM "PRIVATE KEY", not RSA, too small). It is never regenerated silently: devices may
// hold the old public key.
var ErrKeyFile = errors.New("unusable key file")

// FileError names the part of an upload that failed: the form field of a file, or
// "key" for the wrapped AES key. Err wraps one of ErrKey, ErrAuth, ErrShort.
type FileError struct {
	Name string
	Err  error
}

func (e *FileError) Error() string { return fmt.Sprintf("file %q: %v", e.Name, e.Err) }

// Unwrap gives the reason, for errors.Is(err, ErrAuth) and friends.
func (e *FileError) Unwrap() error { return e.Err }

// KeyFileError is a problem with the box's key file at Path.
type KeyFileError struct {
	Path string
	Err  error
}

func (e *KeyFileError) Error() string { return fmt.Sprintf("box key %s: %v", e.Path, e.Err) }

// Unwrap gives the cause (ErrKeyFile, or an *fs.PathError from the file system).
func (e *KeyFileError) Unwrap() error { return e.Err }

// ErrPublicKey: what a client got as the box's public key is not usable: not PEM
// "PUBLIC KEY", not RSA, or outside 2048 to 8192 bits.
var ErrPublicKey = errors.New("not a usable box public key")
