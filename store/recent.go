package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Job ids begin with their creation time in a sortable alphabet (newIDAt), so the jobs bucket
// is in creation order: the newest jobs are at its end, and the jobs created since t start at
// the key idPrefix(t). The admin page's recent list and its 24-hour chart read it that way, with
// no index of their own. Ids made before the time prefix (22 characters, random) sort anywhere
// and are skipped.

// idPrefix is the time prefix of the ids of jobs created at t.
func idPrefix(t time.Time) []byte {
	var b [idTimeLen]byte
	ms := uint64(max(t.UnixMilli(), 0))
	for i := idTimeLen - 1; i >= 0; i-- {
		b[i] = sortable[ms&63]
		ms >>= 6
	}
	return b[:]
}

// Recent returns up to limit jobs, newest first, archived ones included (the admin page).
// It reads limit jobs from the end of the jobs bucket: O(limit · log n), never a scan.
func (s *Store) Recent(limit int) ([]*Job, error) {
	var out []*Job
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bJobs).Cursor()
		for k, _ := c.Last(); k != nil && len(out) < limit; k, _ = c.Prev() {
			if len(k) != idLen {
				continue
			}
			j, err := getJob(tx, string(k))
			if err != nil {
				continue // unreadable: the list skips it
			}
			out = append(out, j)
		}
		return nil
	})
	return out, err
}

// Since calls fn with every job created at or after t, oldest first, until fn returns false
// (the admin's 24-hour chart is rebuilt from it after start). It reads in short read
// transactions of sinceChunk jobs, not one long one: the scan runs while the box serves, and a
// read transaction held for the whole day's jobs would hold off a commit that has to grow the
// file (bbolt remaps it only when no reader is open). A job created while it runs may or may
// not be seen.
func (s *Store) Since(t time.Time, fn func(*Job) bool) error {
	from := idPrefix(t)
	for {
		var last []byte
		n, stop := 0, false
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bJobs).Cursor()
			for k, v := c.Seek(from); k != nil; k, v = c.Next() {
				if n == sinceChunk {
					last = append([]byte(nil), k...) // the next transaction starts here
					return nil
				}
				n++
				if len(k) != idLen {
					continue
				}
				j, err := decodeJob(k, v)
				if err != nil {
					continue
				}
				if !fn(j) {
					stop = true
					return nil
				}
			}
			return nil
		})
		if err != nil || stop || last == nil {
			return err
		}
		from = last
	}
}

// sinceChunk is how many jobs Since reads per read transaction (a few milliseconds of work).
const sinceChunk = 1000

// decodeJob decodes a job's value read from a cursor (valid only inside the transaction).
func decodeJob(k, v []byte) (*Job, error) {
	j := new(Job)
	if err := json.Unmarshal(v, j); err != nil {
		return nil, fmt.Errorf("store: job %s is corrupt: %w", k, err)
	}
	return j, nil
}
