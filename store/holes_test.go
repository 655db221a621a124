package store

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// /cons archives a finished job; an admin's Retry at the same moment puts it back in the
// queue. Whatever the order, a job must never end up queued and archived at once (issue 11,
// item 14): the archiving write looks at the state again inside its transaction.
func TestConsultRacesRetry(t *testing.T) {
	s := open(t, Options{})
	const dev = "aa:bb:cc:dd:ee:01"
	for i := range 300 {
		j := upload(t, s, dev, 1)
		if _, err := s.SetParams(ctx, j.ID, dev, params(1)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Cancel(ctx, j.ID, "test"); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := s.Consult(ctx, j.ID, dev); err != nil && !errors.Is(err, ErrNotFound) {
				t.Errorf("Consult: %v", err)
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := s.Retry(ctx, j.ID); err != nil && !errors.Is(err, ErrState) {
				t.Errorf("Retry: %v", err)
			}
		}()
		wg.Wait()
		got, err := s.Get(j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Archived && !got.State.Finished() {
			t.Fatalf("round %d: job is %s and archived at once", i, got.State)
		}
	}
}

// Deadline entries that name no job, a corrupt job, or not the job's deadline used to stay
// first in the index for good; 512 of them (or one key too short to hold a time) stalled every
// later sweep, so no job was ever deleted, expired, archived or purged again (issue 11,
// item 14). The sweep now drops them and goes on.
func TestSweepSkipsCorruptDeadlines(t *testing.T) {
	c := newClock()
	s := open(t, Options{Now: c.Now})
	const dev = "aa:bb:cc:dd:ee:01"
	real := upload(t, s, dev, 1) // preprocess: deleted once Unparameterised has passed
	past := c.Now().Add(-time.Hour)
	err := s.db.Update(func(tx *bolt.Tx) error {
		dl := tx.Bucket(bDeadlines)
		if err := dl.Put([]byte{0, 1}, nil); err != nil { // too short to hold a time
			return err
		}
		for i := range sweepBatch + 10 { // jobs that do not exist
			if err := dl.Put(deadlineKey(past.Add(time.Duration(i)), newIDAt(past)), nil); err != nil {
				return err
			}
		}
		bad := newIDAt(past) // a corrupt job record
		if err := tx.Bucket(bJobs).Put([]byte(bad), []byte("{not json")); err != nil {
			return err
		}
		if err := dl.Put(deadlineKey(past, bad), nil); err != nil {
			return err
		}
		// an entry for the real job at a time that is not its deadline
		return dl.Put(deadlineKey(past, real.ID), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Add(25 * time.Hour)
	st, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Deleted != 1 {
		t.Fatalf("Sweep = %v, want the real preprocess job deleted past the corrupt entries", st)
	}
	if _, err := s.Get(real.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(real job) = %v, want it deleted", err)
	}
	if st.Dropped != sweepBatch+13 {
		t.Errorf("Sweep dropped %d entries, want %d", st.Dropped, sweepBatch+13)
	}
	var left int
	_ = s.db.View(func(tx *bolt.Tx) error { left = tx.Bucket(bDeadlines).Stats().KeyN; return nil })
	if left != 0 {
		t.Errorf("%d deadline entries left, want none", left)
	}
	// keep the consistency check honest: the corrupt record is the test's, not the store's
	_ = s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bJobs).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(v) > 0 && v[0] != '{' || string(v) == "{not json" {
				return c.Delete()
			}
		}
		return nil
	})
}

// The device registry is bounded (issue 11, item 7): a flood of devices never seen before
// leaves it at MaxDevices, devices that uploaded jobs are the last to go, devices not seen for
// DeviceIdle are forgotten at the sweep, and what left memory leaves the database too.
func TestDeviceRegistryBounded(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	path := dir + "/test.db"
	o := Options{Now: c.Now, MaxDevices: 64, DeviceIdle: 48 * time.Hour}
	s, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	const owner = "aa:bb:cc:dd:ee:01"
	upload(t, s, owner, 1) // a device with a job: kept over the flood
	for i := range 100_000 {
		c.Add(time.Millisecond)
		s.TouchDevice(fmt.Sprintf("02:%02x:%02x:%02x:00:00", byte(i>>16), byte(i>>8), byte(i)), "10.77.0.9", c.Now())
	}
	devs := s.Devices()
	if len(devs) != o.MaxDevices {
		t.Fatalf("registry holds %d devices after 100,000 new ones, want MaxDevices %d", len(devs), o.MaxDevices)
	}
	found := false
	for _, d := range devs {
		found = found || d.MAC == owner
	}
	if !found {
		t.Fatal("the device with a job was evicted before devices without jobs")
	}
	if err := s.FlushDevices(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.storedDevices(t); n != o.MaxDevices {
		t.Fatalf("database holds %d devices, want %d", n, o.MaxDevices)
	}
	// two days later the flood is forgotten; the owner came back yesterday
	c.Add(24 * time.Hour)
	s.TouchDevice(owner, "10.77.0.10", c.Now())
	c.Add(25 * time.Hour)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if devs := s.Devices(); len(devs) != 1 || devs[0].MAC != owner {
		t.Fatalf("registry after device_idle = %+v, want only %s", devs, owner)
	}
	if n := s.storedDevices(t); n != 1 {
		t.Fatalf("database holds %d devices after the sweep, want 1", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// a registry stored before the bound existed is trimmed at open
	big, err := Open(path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		big.TouchDevice(fmt.Sprintf("02:00:00:00:01:%02x", i), "10.77.0.9", c.Now())
	}
	big.Close()
	small, err := Open(path, Options{Now: c.Now, MaxDevices: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if n := len(small.Devices()); n != 10 {
		t.Fatalf("registry of 51 opened with MaxDevices 10 holds %d", n)
	}
}

func (s *Store) storedDevices(t *testing.T) int {
	t.Helper()
	n := 0
	if err := s.db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bDevices).Stats().KeyN; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// Every stored byte of a job counts toward the quota, metadata included (issue 11, item 6):
// jobs of empty files with long names, and /msg parameters of 60 KiB, used to cost nothing.
func TestQuotaChargesMetadata(t *testing.T) {
	const quota = 64 << 10
	s := open(t, Options{Quota: quota, MaxPreprocess: 1000})
	const dev = "aa:bb:cc:dd:ee:01"
	long := func(c byte, n int) string { return string(bytes.Repeat([]byte{c}, n)) }
	var files []NewFile
	for i := range 16 {
		files = append(files, NewFile{Name: fmt.Sprintf("%02d", i) + long('n', 126), Filename: long('f', 255), MIME: "text/plain; charset=" + long('c', 235)})
	}
	stored := 0
	for range 1000 {
		if _, err := s.Create(ctx, NewJob{Device: dev, IP: "192.0.2.1", Files: files}); err != nil {
			if !errors.Is(err, ErrQuota) {
				t.Fatal(err)
			}
			break
		}
		stored++
	}
	if stored == 1000 || stored == 0 {
		t.Fatalf("stored %d jobs of 16 empty files with 640-byte names each in a %d-byte quota; want the quota to stop them", stored, quota)
	}
	used, _ := s.Bytes()
	if used > quota || used < int64(stored*16*640) {
		t.Fatalf("used = %d after %d such jobs, want at least their metadata (%d) and at most the quota", used, stored, stored*16*640)
	}
	t.Logf("jobs of 16 empty files with 640-byte names: %d stored in a %d-byte quota, %d bytes charged", stored, quota, used)

	// parameters are charged when /msg sets them
	s2 := open(t, Options{Quota: quota})
	j := upload(t, s2, dev, 1)
	before, _ := s2.Bytes()
	p := params(1)
	p.Info = []byte(`{"subject":"` + long('s', 40<<10) + `"}`)
	if _, err := s2.SetParams(ctx, j.ID, dev, p); err != nil {
		t.Fatal(err)
	}
	after, _ := s2.Bytes()
	if after-before < 40<<10 {
		t.Fatalf("SetParams with a 40 KiB info charged %d bytes", after-before)
	}
	j2 := upload(t, s2, dev, 1)
	if _, err := s2.SetParams(ctx, j2.ID, dev, p); !errors.Is(err, ErrQuota) {
		t.Fatalf("SetParams over the quota = %v, want ErrQuota", err)
	}
	if got, _ := s2.Get(j2.ID); got.State != Preprocess {
		t.Fatalf("refused SetParams left the job %s", got.State)
	}
}

// A device can keep only so many uploads waiting for /msg (issue 11, item 6).
func TestPreprocessCapPerDevice(t *testing.T) {
	c := newClock()
	s := open(t, Options{Now: c.Now, MaxPreprocess: 3})
	const a, b = "aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02"
	var js []*Job
	for range 3 {
		js = append(js, upload(t, s, a, 1))
	}
	one := []NewFile{{Name: "x", Data: []byte("x")}}
	if _, err := s.Create(ctx, NewJob{Device: a, Files: one}); !errors.Is(err, ErrTooMany) {
		t.Fatalf("4th upload waiting for /msg = %v, want ErrTooMany", err)
	}
	upload(t, s, b, 1) // another device is not affected
	if _, err := s.Create(ctx, NewJob{Device: a, Files: one, Params: ptr(params(1))}); err != nil {
		t.Fatalf("/send (no preprocess) = %v", err)
	}
	if _, err := s.SetParams(ctx, js[0].ID, a, params(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Cancel(ctx, js[1].ID, "test"); err != nil {
		t.Fatal(err)
	}
	upload(t, s, a, 1)
	upload(t, s, a, 1) // two freed: SetParams and Cancel
	if _, err := s.Create(ctx, NewJob{Device: a, Files: one}); !errors.Is(err, ErrTooMany) {
		t.Fatalf("upload past the cap again = %v, want ErrTooMany", err)
	}
	c.Add(25 * time.Hour) // the unparameterised ones are deleted
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		upload(t, s, a, 1)
	}
}

// The replay index lives as long as the job (issue 11, item 12).
func TestReplayIndexFollowsTheJob(t *testing.T) {
	c := newClock()
	s := open(t, Options{Now: c.Now})
	n := NewJob{Device: "d", Files: []NewFile{{Name: "a", Data: []byte("x")}}, KeyDigest: "00112233445566778899aabbccddeeff"}
	if _, err := s.Create(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, n); !errors.Is(err, ErrReplay) {
		t.Fatalf("second upload with the same key = %v, want ErrReplay", err)
	}
	if _, err := s.Create(ctx, NewJob{Device: "e", Files: n.Files, KeyDigest: n.KeyDigest}); !errors.Is(err, ErrReplay) {
		t.Fatalf("the same key from another device = %v, want ErrReplay", err)
	}
	c.Add(25 * time.Hour) // the unparameterised job is deleted, and its key forgotten
	if st, err := s.Sweep(ctx); err != nil || st.Deleted != 1 {
		t.Fatalf("Sweep = %v, %v", st, err)
	}
	if _, err := s.Create(ctx, n); err != nil {
		t.Fatalf("upload after the first job is gone = %v", err)
	}
}
