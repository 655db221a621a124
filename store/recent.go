package store

import (
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bRecent indexes jobs by creation time for the admin page's recent-jobs list:
//
//	recent  created (8 bytes, unix ns, big endian) ‖ id → nil
//
// The bucket is created by the first Create that needs it, so a database from before it
// existed opens unchanged; jobs created before the upgrade are simply not listed.
var bRecent = []byte("recent")

func recentKey(t time.Time, id string) []byte {
	k := make([]byte, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano()))
	copy(k[8:], id)
	return k
}

// indexRecent adds j to the creation-time index (inside Create's transaction).
func (w *wtx) indexRecent(j *Job) error {
	b, err := w.tx.CreateBucketIfNotExists(bRecent)
	if err != nil {
		return err
	}
	return b.Put(recentKey(j.Created, j.ID), nil)
}

// unindexRecent removes j from the creation-time index (inside remove's transaction).
func (w *wtx) unindexRecent(j *Job) error {
	b := w.tx.Bucket(bRecent)
	if b == nil {
		return nil
	}
	return b.Delete(recentKey(j.Created, j.ID))
}

// Recent returns up to limit jobs, newest first, archived ones included (the admin page).
// It reads limit index entries and limit jobs: O(limit · log n), never a scan of the store.
func (s *Store) Recent(limit int) ([]*Job, error) {
	var out []*Job
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bRecent)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, _ := c.Last(); k != nil && len(out) < limit; k, _ = c.Prev() {
			if len(k) <= 8 {
				continue
			}
			j, err := getJob(tx, string(k[8:]))
			if err != nil {
				continue // removed meanwhile, or unreadable: the list skips it
			}
			out = append(out, j)
		}
		return nil
	})
	return out, err
}

// Since calls fn with every job created at or after t, oldest first, until fn returns false
// (the admin's 24-hour chart is rebuilt from it at start).
func (s *Store) Since(t time.Time, fn func(*Job) bool) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bRecent)
		if b == nil {
			return nil
		}
		var from [8]byte
		binary.BigEndian.PutUint64(from[:], uint64(max(t.UnixNano(), 0)))
		c := b.Cursor()
		for k, _ := c.Seek(from[:]); k != nil; k, _ = c.Next() {
			if len(k) <= 8 {
				continue
			}
			j, err := getJob(tx, string(k[8:]))
			if err != nil {
				continue
			}
			if !fn(j) {
				return nil
			}
		}
		return nil
	})
}
