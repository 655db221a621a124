// Package clock keeps a board without a battery-backed real-time clock (a Raspberry Pi) from
// running in the past. Such a board boots in 1970, or wherever its kernel starts, until NTP
// sets the time — and a box without an uplink may never reach NTP. Jobs stamped in 1970 would
// then expire at once when the clock jumps forward. So while the service runs it saves the wall
// time in its data directory, and at start it moves a clock that is behind the saved time
// forward to it, as Debian's fake-hwclock does: time is off by how long the board was off, but
// it never runs backwards across a reboot.
package clock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrBehind: the clock is behind the saved time and could not be moved (no permission).
var ErrBehind = errors.New("the system clock is behind the last time this box saw")

// File is the saved time of one data directory.
type File struct {
	Path string
	// Now and Set default to the system clock; tests replace them.
	Now func() time.Time
	Set func(time.Time) error
}

// New returns the saved clock of dataDir.
func New(dataDir string) *File {
	return &File{Path: filepath.Join(dataDir, "clock")}
}

func (f *File) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// Load returns the saved time (zero when nothing was saved yet).
func (f *File) Load() (time.Time, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("clock: %w", err)
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, fmt.Errorf("clock: %s does not hold a time (%q)", f.Path, b)
	}
	return time.Unix(sec, 0), nil
}

// Save records the current time, unless an even later time is saved already (a clock that
// went backwards never moves the saved time back). The write is atomic.
func (f *File) Save() error {
	now := f.now()
	if saved, err := f.Load(); err == nil && !now.After(saved) {
		return nil
	}
	tmp := f.Path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(now.Unix(), 10)+"\n"), 0o600); err != nil {
		return fmt.Errorf("clock: %w", err)
	}
	if err := os.Rename(tmp, f.Path); err != nil {
		return fmt.Errorf("clock: %w", err)
	}
	return nil
}

// Restore moves the system clock forward to the saved time when it is behind it, and reports
// by how much. A clock at or past the saved time is left alone (0, nil).
func (f *File) Restore() (time.Duration, error) {
	saved, err := f.Load()
	if err != nil || saved.IsZero() {
		return 0, err
	}
	behind := saved.Sub(f.now())
	if behind <= 0 {
		return 0, nil
	}
	set := f.Set
	if set == nil {
		set = setSystemClock
	}
	if err := set(saved); err != nil {
		return behind, fmt.Errorf("%w (%s behind %s): %v", ErrBehind, behind.Round(time.Second), saved.UTC().Format(time.RFC3339), err)
	}
	return behind, nil
}

func setSystemClock(t time.Time) error {
	tv := unix.NsecToTimeval(t.UnixNano())
	return unix.Settimeofday(&tv)
}
