package store

import (
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// dueAll pages the whole due index, as the dispatcher does, in pages of n.
func dueAll(t *testing.T, s *Store, n int) []Due {
	t.Helper()
	var all []Due
	var from Due
	for {
		page, err := s.DueAfter(from, n)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < n {
			return all
		}
		from = page[len(page)-1]
	}
}

func TestDueIndexFollowsState(t *testing.T) {
	c := newClock()
	s := open(t, Options{Now: c.Now})
	var ids []string
	for i := 0; i < 5; i++ {
		j := upload(t, s, "d", 1)
		if _, err := s.SetParams(ctx, j.ID, "d", params(1)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
		c.Add(time.Second)
	}
	upload(t, s, "d", 1) // preprocess: not indexed
	got := dueAll(t, s, 2)
	if len(got) != 5 {
		t.Fatalf("due index = %v, want 5 entries", got)
	}
	for i, d := range got {
		if d.ID != ids[i] {
			t.Errorf("due[%d] = %s, want %s (due order)", i, d.ID, ids[i])
		}
	}
	// a retry later moves the first job to the end; a delivery takes the second out
	later := c.Now().Add(time.Hour)
	if _, err := s.Record(ctx, ids[0], []int{0}, Outcome{At: c.Now(), Err: "busy", NextAt: later, Attempted: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Record(ctx, ids[1], []int{0}, Outcome{At: c.Now(), OK: true, Attempted: true}); err != nil {
		t.Fatal(err)
	}
	got = dueAll(t, s, 3)
	want := []string{ids[2], ids[3], ids[4], ids[0]}
	if len(got) != len(want) {
		t.Fatalf("due index = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].ID != want[i] {
			t.Errorf("due[%d] = %s, want %s", i, got[i].ID, want[i])
		}
	}
	if !got[3].At.Equal(later) {
		t.Errorf("due of the retried job = %v, want %v", got[3].At, later)
	}
	// cancel and admin retry
	if _, err := s.Cancel(ctx, ids[2], "no"); err != nil {
		t.Fatal(err)
	}
	if n := len(dueAll(t, s, 10)); n != 3 {
		t.Errorf("after a cancel, due index has %d entries, want 3", n)
	}
	if _, err := s.Retry(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	if n := len(dueAll(t, s, 10)); n != 4 {
		t.Errorf("after an admin retry, due index has %d entries, want 4", n)
	}
	// expiry by the sweep takes it out too
	c.Add(48 * time.Hour)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := dueAll(t, s, 10); len(got) != 0 {
		t.Errorf("after expiry, due index = %v, want empty", got)
	}
}

func TestDueIndexBuiltForOldStore(t *testing.T) {
	c := newClock()
	s, err := Open(filepath.Join(t.TempDir(), "old.db"), Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	j := upload(t, s, "d", 1)
	if _, err := s.SetParams(ctx, j.ID, "d", params(1)); err != nil {
		t.Fatal(err)
	}
	// make it look like a store from before the index
	if err := s.write(ctx, func(w *wtx) error {
		if err := w.tx.DeleteBucket(bDue); err != nil {
			return err
		}
		if _, err := w.tx.CreateBucket(bDue); err != nil {
			return err
		}
		return w.tx.Bucket(bMeta).Delete([]byte(dueIndexVersion))
	}, nil); err != nil {
		t.Fatal(err)
	}
	path := s.Path()
	s.Close()
	s2, err := Open(path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got := dueAll(t, s2, 10)
	if len(got) != 1 || got[0].ID != j.ID {
		t.Fatalf("due index after reopening an old store = %v, want [%s]", got, j.ID)
	}
	if err := s2.Check(); err != nil {
		t.Error(err)
	}
}

// Both root slots share the data partition (SPEC §12): after a failed update the release
// before this one runs again on the data, and it does not keep the due index — it queues jobs
// without an entry and re-encodes jobs without Job.Due. Opening data of an older schema
// therefore rebuilds the index, or those jobs would never be dispatched.
func TestDueIndexRebuiltAfterAnOlderRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "multimsg.db")
	old := Options{schema: SchemaVersion - 1}
	s, err := Open(path, old)
	if err != nil {
		t.Fatal(err)
	}
	j := upload(t, s, "d", 1)
	if _, err := s.SetParams(ctx, j.ID, "d", params(1)); err != nil {
		t.Fatal(err)
	}
	gone := upload(t, s, "d", 1)
	if _, err := s.SetParams(ctx, gone.ID, "d", params(1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The older release: it queued j without an index entry, and delivered gone without
	// taking gone's entry out.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bDue)
		var keys [][]byte
		b.ForEach(func(k, _ []byte) error { keys = append(keys, append([]byte(nil), k...)); return nil })
		for _, k := range keys {
			if string(k[8:]) == j.ID {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(bActive).Delete([]byte(gone.ID))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := dueAll(t, s, 10)
	if len(got) != 1 || got[0].ID != j.ID {
		t.Fatalf("due index after the older release = %v, want only %s", got, j.ID)
	}
}
