package mail

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"multimsg/provider"
)

// maildir delivers into a Maildir (https://cr.yp.to/proto/maildir.html): write tmp/NAME, fsync,
// link it to new/NAME, remove tmp/NAME, fsync new/. A reader only ever sees complete files.
type maildir struct {
	dir     string
	host    string // hostname with '/' and ':' escaped as the spec asks
	pid     int
	counter atomic.Uint64
}

func openMaildir(dir, hostname string) (*maildir, error) {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("maildir: %w", err)
		}
	}
	host := strings.NewReplacer("/", `\057`, ":", `\072`).Replace(hostname)
	return &maildir{dir: dir, host: host, pid: os.Getpid()}, nil
}

// name is "<unix secs>.M<usec>P<pid>Q<counter>.<host>": unique across processes (pid), within
// one (counter), and across reboots that reuse a pid (time).
func (m *maildir) name(now time.Time) string {
	var b strings.Builder
	b.Grow(48 + len(m.host))
	b.WriteString(strconv.FormatInt(now.Unix(), 10))
	b.WriteString(".M")
	b.WriteString(strconv.Itoa(now.Nanosecond() / 1000))
	b.WriteString("P")
	b.WriteString(strconv.Itoa(m.pid))
	b.WriteString("Q")
	b.WriteString(strconv.FormatUint(m.counter.Add(1), 10))
	b.WriteString(".")
	b.WriteString(m.host)
	return b.String()
}

// deliver writes msg as a new message and returns its file name. Errors are classified.
func (m *maildir) deliver(msg []byte, now time.Time) (string, error) {
	for try := 0; ; try++ {
		name := m.name(now)
		err := m.write(name, msg)
		if errors.Is(err, os.ErrExist) && try < 3 {
			continue // a name collision (clock went back): take the next counter
		}
		if err != nil {
			return "", classifyFS(err)
		}
		return name, nil
	}
}

func (m *maildir) write(name string, msg []byte) (err error) {
	tmp := filepath.Join(m.dir, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(msg); err != nil {
		f.Close()
		return fmt.Errorf("maildir: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("maildir: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("maildir: close %s: %w", tmp, err)
	}
	dst := filepath.Join(m.dir, "new", name)
	// link, not rename: link never replaces an existing message.
	if err := os.Link(tmp, dst); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("maildir: %w", err)
		}
		// File systems without hard links (vfat on an SD card): rename, which the O_EXCL
		// above and the unique name make as safe in practice.
		if err := os.Rename(tmp, dst); err != nil {
			return fmt.Errorf("maildir: %w", err)
		}
	} else {
		// The message is in new/ now; a tmp/ leftover is harmless (readers clean tmp/).
		os.Remove(tmp)
	}
	return syncDir(filepath.Join(m.dir, "new"))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("maildir: fsync %s: %w", dir, err)
	}
	return nil
}

// classifyFS: a full disk clears up (Temp); a directory we may not write to, a read-only file
// system, or a Maildir that is gone or not a directory needs an operator (SenderDown).
func classifyFS(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return provider.Temp("ENOSPC", err)
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.EROFS), errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return provider.SenderDown("maildir", err)
	}
	return provider.Temp("maildir", err)
}
