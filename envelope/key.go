package envelope

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

const (
	// KeyFile is the name of the box's private key inside the data directory.
	KeyFile = "box.key"
	// KeyBits is the size of the RSA key LoadOrCreate generates.
	KeyBits = 3072

	// minBits and maxBits bound the keys we accept from a file or a server: below 2048
	// is not secure, above 8192 a single unwrap costs seconds on a small ARM board.
	minBits = 2048
	maxBits = 8192
	// maxPEM bounds what we read from a key file or a /key answer; a 8192-bit private
	// key in PKCS#8 PEM is under 7 KiB.
	maxPEM = 64 << 10
)

// Key is the box's RSA key pair. It is safe for concurrent use.
type Key struct {
	priv      *rsa.PrivateKey
	pubPEM    []byte
	path      string
	created   bool
	tightened fs.FileMode
}

// LoadOrCreate returns the box's key from dir/box.key, generating a new RSA-3072 key
// there on first start.
//
// The file is PKCS#8 PEM ("PRIVATE KEY"), mode 0600. A new key is written atomically:
// temp file in dir, fsync, hard link to box.key (so two processes starting at once
// cannot replace each other's key: the loser loads the winner's), dir fsync. dir is
// created (0700) if it does not exist.
//
// An existing file readable or writable by group or others is tightened to 0600 rather
// than refused: refusing would take the box off the air after, say, a restore from a
// backup made with a loose umask, and the appliance has no other local users; the
// caller can report it with [Key.TightenedFrom].
//
// A file that exists but cannot be used (not PEM, not PKCS#8, not RSA, smaller than
// 2048 or larger than 8192 bits) is an error wrapping [ErrKeyFile] that names the path;
// it is never regenerated silently, because devices may hold the old public key.
func LoadOrCreate(dir string) (*Key, error) {
	if dir == "" {
		return nil, &KeyFileError{Path: KeyFile, Err: errors.New("no data directory given")}
	}
	path := filepath.Join(dir, KeyFile)
	k, err := load(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	return create(dir, path)
}

// load reads and checks path; a missing file is an error wrapping fs.ErrNotExist.
func load(path string) (*Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, &KeyFileError{Path: path, Err: err}
	}
	if !fi.Mode().IsRegular() {
		return nil, &KeyFileError{Path: path, Err: fmt.Errorf("%w: not a regular file (%v)", ErrKeyFile, fi.Mode().Type())}
	}
	var tightened fs.FileMode
	if perm := fi.Mode().Perm(); perm&^0o600 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, &KeyFileError{Path: path, Err: fmt.Errorf("mode %v is open to other users and cannot be tightened to 0600: %w", perm, err)}
		}
		tightened = perm
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &KeyFileError{Path: path, Err: err}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPEM+1))
	if err != nil {
		return nil, &KeyFileError{Path: path, Err: err}
	}
	if len(b) > maxPEM {
		return nil, keyFileErr(path, "larger than %d bytes: not a key", maxPEM)
	}
	priv, err := parsePrivatePEM(b)
	if err != nil {
		return nil, &KeyFileError{Path: path, Err: fmt.Errorf("%w: %v; restore it from a backup, or move it away so a new key is made (devices must then fetch GET /key again)", ErrKeyFile, err)}
	}
	k, err := newKey(priv, path)
	if err != nil {
		return nil, err
	}
	k.tightened = tightened
	return k, nil
}

func keyFileErr(path, format string, args ...any) error {
	return &KeyFileError{Path: path, Err: fmt.Errorf("%w: "+format, append([]any{ErrKeyFile}, args...)...)}
}

func parsePrivatePEM(b []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("PEM block is %q, want \"PRIVATE KEY\" (PKCS#8)", block.Type)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not PKCS#8: %v", err)
	}
	priv, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, want an RSA key", parsed)
	}
	if bits := priv.N.BitLen(); bits < minBits || bits > maxBits {
		return nil, fmt.Errorf("RSA key of %d bits, want %d to %d", bits, minBits, maxBits)
	}
	if err := priv.Validate(); err != nil {
		return nil, fmt.Errorf("inconsistent RSA key: %v", err)
	}
	return priv, nil
}

func newKey(priv *rsa.PrivateKey, path string) (*Key, error) {
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, &KeyFileError{Path: path, Err: fmt.Errorf("marshal public key: %w", err)}
	}
	return &Key{
		priv:   priv,
		pubPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		path:   path,
	}, nil
}

func create(dir, path string) (*Key, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, &KeyFileError{Path: path, Err: err}
	}
	priv, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return nil, &KeyFileError{Path: path, Err: fmt.Errorf("generate: %w", err)}
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, &KeyFileError{Path: path, Err: fmt.Errorf("marshal: %w", err)}
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})

	won, err := publish(dir, path, data)
	if err != nil {
		return nil, &KeyFileError{Path: path, Err: err}
	}
	if !won {
		// Another process created the key between our Stat and our link: theirs wins,
		// it may already have been handed out.
		return load(path)
	}
	k, err := newKey(priv, path)
	if err != nil {
		return nil, err
	}
	k.created = true
	return k, nil
}

// publish writes data to path atomically and durably without replacing an existing
// file; won is false when path appeared meanwhile.
func publish(dir, path string, data []byte) (won bool, err error) {
	tmp, err := os.CreateTemp(dir, "."+KeyFile+".*.tmp") // CreateTemp uses mode 0600
	if err != nil {
		return false, err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // after a link, this drops the temp name; after a failure, the file
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return false, err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	switch err := os.Link(tmpName, path); {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		return false, nil
	default:
		// File systems without hard links (vfat): rename, which may replace a key
		// created in the same instant — the only window, and only on such a file system.
		if err := os.Rename(tmpName, path); err != nil {
			return false, err
		}
	}
	if err := os.Remove(tmpName); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// PublicPEM is the public key as PEM "PUBLIC KEY" (SubjectPublicKeyInfo), the body of
// GET /key. It is computed once and shared: callers must not modify it.
func (k *Key) PublicPEM() []byte { return k.pubPEM }

// Public is the public half, for in-process clients and tests.
func (k *Key) Public() *rsa.PublicKey { return &k.priv.PublicKey }

// Path is the key file's path.
func (k *Key) Path() string { return k.path }

// Created reports whether LoadOrCreate generated this key (first start), so the caller
// can log it.
func (k *Key) Created() bool { return k.created }

// TightenedFrom is the key file's mode before LoadOrCreate tightened it to 0600, or 0
// if it was already private; the caller should log it, the key may have been read.
func (k *Key) TightenedFrom() fs.FileMode { return k.tightened }
