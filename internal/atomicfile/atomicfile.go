// Package atomicfile replaces a small file so that after a crash or a power cut it holds either
// its old contents or all of the new ones: a temporary file in the same directory (mode 0600),
// written and fsync'd, renamed over the old one, and the directory fsync'd so the rename lasts.
// The box keeps its password hash, key, concat reference, PIN verdict, credit state and live
// configuration this way.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data, durably. The file's mode is 0600.
func Write(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename, a no-op
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
