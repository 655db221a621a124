package clock

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestSaveLoadMonotone(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	f := &File{Path: t.TempDir() + "/clock", Now: func() time.Time { return now }}
	if got, err := f.Load(); err != nil || !got.IsZero() {
		t.Fatalf("Load of nothing = %v, %v; want zero", got, err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	now = now.Add(-time.Hour) // the clock went backwards: the saved time stays
	f.Save()
	if got, _ := f.Load(); got.Unix() != 1_800_000_000 {
		t.Fatalf("saved %v after a backwards clock, want the later time", got)
	}
	now = now.Add(2 * time.Hour)
	f.Save()
	if got, _ := f.Load(); got.Unix() != 1_800_003_600 {
		t.Fatalf("saved %v, want %v", got.Unix(), 1_800_003_600)
	}
}

func TestRestore(t *testing.T) {
	dir := t.TempDir()
	saved := time.Unix(1_800_000_000, 0)
	os.WriteFile(dir+"/clock", []byte("1800000000\n"), 0o600)
	var setTo time.Time
	boot := time.Unix(86_400, 0) // a board without an RTC boots in 1970
	f := &File{Path: dir + "/clock", Now: func() time.Time { return boot }, Set: func(t time.Time) error { setTo = t; return nil }}
	behind, err := f.Restore()
	if err != nil || !setTo.Equal(saved) || behind != saved.Sub(boot) {
		t.Fatalf("Restore = %v, %v; set to %v; want the clock moved to %v", behind, err, setTo, saved)
	}
	// a clock already past the saved time is left alone
	setTo = time.Time{}
	f.Now = func() time.Time { return saved.Add(time.Minute) }
	if behind, err := f.Restore(); behind != 0 || err != nil || !setTo.IsZero() {
		t.Fatalf("Restore with a good clock = %v, %v, set %v", behind, err, setTo)
	}
	// no permission: a clear error, and the caller runs on
	f.Now = func() time.Time { return boot }
	f.Set = func(time.Time) error { return os.ErrPermission }
	if _, err := f.Restore(); !errors.Is(err, ErrBehind) {
		t.Fatalf("Restore without permission = %v, want ErrBehind", err)
	}
	// garbage is an error naming the file, not a panic
	os.WriteFile(dir+"/clock", []byte("yesterday"), 0o600)
	if _, err := f.Load(); err == nil {
		t.Fatal("Load of garbage succeeded")
	}
}
