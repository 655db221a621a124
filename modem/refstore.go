package modem

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// RefStore hands out concatenation references (1-255, then around again) and keeps the last
// one in a small file, so that a restart does not reuse the reference of the message sent just
// before it: a phone that still holds parts of that message would stitch the two together.
// The file is written atomically (temp file, fsync, rename). An empty dir keeps it in memory.
type RefStore struct {
	mu   sync.Mutex // guards last; held across the write so references leave in order
	path string
	last uint8
}

// RefFile is the counter's file name inside the state dir.
const RefFile = "sms-concat-ref"

// OpenRefStore reads the counter from dir/RefFile; a missing or unreadable file starts from a
// reference derived from nothing better than 0 (the next is 1).
func OpenRefStore(dir string) (*RefStore, error) {
	r := &RefStore{}
	if dir == "" {
		return r, nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("modem: state dir: %w", err)
	}
	r.path = filepath.Join(dir, RefFile)
	b, err := os.ReadFile(r.path)
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= 0 && n <= 255 {
			r.last = uint8(n)
		}
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("modem: read %s: %w", r.path, err)
	}
	return r, nil
}

// Next returns the next reference and has stored it before returning.
func (r *RefStore) Next() (uint8, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.last + 1
	if n == 0 {
		n = 1
	}
	if r.path != "" {
		if err := writeAtomic(r.path, []byte(strconv.Itoa(int(n))+"\n")); err != nil {
			return 0, fmt.Errorf("modem: store concat reference: %w", err)
		}
	}
	r.last = n
	return n, nil
}

// Last is the last reference handed out (0: none yet).
func (r *RefStore) Last() uint8 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
