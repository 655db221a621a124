package store

import (
	"encoding/binary"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The due index ("due") holds one key per queued job: its next due time (big-endian Unix
// nanoseconds) then its id, with no value. It is written in the same transaction as the job
// (moveDue, from put), so it never disagrees with the jobs: the dispatcher keeps only a bounded
// window of it in memory and pages the rest from here, in due order (DueAfter). The indexed
// time is kept in the job itself (Job.Due), so moving the entry needs no second read.

// dueKey is the key of a job due at t in "due".
func dueKey(t time.Time, id string) []byte { return deadlineKey(t, id) }

// dueOf is the time job j is indexed at: the earliest NextAt of its pending files while it is
// queued and not archived; zero (not indexed) otherwise. A pending file without NextAt is due
// from when the job got its parameters.
func dueOf(j *Job) time.Time {
	if j.State != Queued || j.Archived {
		return time.Time{}
	}
	t := j.NextDue()
	if t.IsZero() {
		t = j.ParamsAt
	}
	if epoch := time.Unix(0, 0); t.Before(epoch) {
		t = epoch // a job without times: due at once, first in line (keys are unsigned)
	}
	return t
}

// moveDue moves j's entry in "due" to where its files now say; j.Due follows.
func moveDue(tx *bolt.Tx, j *Job) error {
	want := dueOf(j)
	if want.Equal(j.Due) {
		return nil
	}
	b := tx.Bucket(bDue)
	if !j.Due.IsZero() {
		if err := b.Delete(dueKey(j.Due, j.ID)); err != nil {
			return err
		}
	}
	if !want.IsZero() {
		if err := b.Put(dueKey(want, j.ID), nil); err != nil {
			return err
		}
	}
	j.Due = want
	return nil
}

// dueIndexVersion marks a store whose queued jobs are all in "due" (stores made before the
// index are indexed once, at their first open).
const dueIndexVersion = "due-index"

// indexDue builds "due" for a store made before it: once, walking the queued jobs. With
// rebuild it starts again from an empty index: the data's schema is older than this version's,
// so a release that does not keep the index (the one before it, run again after a failed update:
// both root slots share the data partition) may have written jobs since — queued jobs without an
// entry would never be dispatched, and its re-encoded jobs dropped Job.Due, leaving stale keys.
// The schema is raised once this release is committed (UpgradeSchema), so this walk happens
// once per release change, not at every start.
func indexDue(tx *bolt.Tx, rebuild bool) error {
	m := tx.Bucket(bMeta)
	if getInt(m, dueIndexVersion) == 1 && !rebuild {
		return nil
	}
	if err := tx.DeleteBucket(bDue); err != nil {
		return err
	}
	if _, err := tx.CreateBucket(bDue); err != nil {
		return err
	}
	jobs := tx.Bucket(bJobs)
	c := tx.Bucket(bActive).Cursor()
	var ids []string
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		ids = append(ids, string(k))
	}
	for _, id := range ids {
		j, err := getJob(tx, id)
		if err != nil {
			continue
		}
		j.Due = time.Time{}
		if err := moveDue(tx, j); err != nil {
			return err
		}
		v, err := json.Marshal(j)
		if err != nil {
			return err
		}
		if err := jobs.Put([]byte(id), v); err != nil {
			return err
		}
	}
	return putInt(m, dueIndexVersion, 1)
}

// Due is one entry of the due index: a queued job and when it next has work.
type Due struct {
	At time.Time
	ID string
}

// Before orders entries as the index does: by time, then id.
func (d Due) Before(o Due) bool {
	if !d.At.Equal(o.At) {
		return d.At.Before(o.At)
	}
	return d.ID < o.ID
}

// DueAfter returns up to limit entries of the due index that come after from (the zero Due:
// from the start), in due order. It reads only those entries: the dispatcher pages the
// backlog through it without ever holding all of it.
func (s *Store) DueAfter(from Due, limit int) ([]Due, error) {
	var out []Due
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bDue).Cursor()
		var k []byte
		if from.ID == "" && from.At.IsZero() {
			k, _ = c.First()
		} else {
			start := dueKey(from.At, from.ID)
			k, _ = c.Seek(start)
			if k != nil && string(k) == string(start) {
				k, _ = c.Next()
			}
		}
		for ; k != nil && len(out) < limit; k, _ = c.Next() {
			if len(k) < 8 {
				continue
			}
			out = append(out, Due{At: time.Unix(0, int64(binary.BigEndian.Uint64(k))), ID: string(k[8:])})
		}
		return nil
	})
	return out, err
}
