package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SweepStats says what one Sweep did.
type SweepStats struct {
	Deleted  int // preprocess jobs that never got parameters
	Expired  int // queued jobs past their TTL, now failed or partial
	Archived int // finished jobs nobody consulted
	Purged   int // archived jobs past retention
	Dropped  int // deadline entries naming no job, a corrupt one, or not its deadline
}

func (s SweepStats) String() string {
	return fmt.Sprintf("deleted=%d expired=%d archived=%d purged=%d dropped=%d", s.Deleted, s.Expired, s.Archived, s.Purged, s.Dropped)
}

// sweepBatch bounds one sweep transaction, so a large backlog never holds the committer long.
const sweepBatch = 512

// Sweep applies the retention rules (SPEC §1) to every job whose deadline has passed.
func (s *Store) Sweep(ctx context.Context) (SweepStats, error) {
	var st SweepStats
	for {
		now := s.o.Now()
		due := s.dueKeys(now, sweepBatch)
		if len(due) == 0 {
			break
		}
		var n int
		err := s.write(ctx, func(w *wtx) error {
			n = 0
			dl := w.tx.Bucket(bDeadlines)
			for _, k := range due {
				// An index entry that names no job, a corrupt one, or not the job's deadline
				// is dropped (and counted as progress): left in place it would come first in
				// every sweep and, 512 of them, stall retention for good.
				var j *Job
				var err error
				if len(k) >= 8 {
					j, err = getJob(w.tx, string(k[8:]))
				}
				if j == nil || !bytes.Equal(k, deadlineKey(j.Deadline, j.ID)) {
					if dl.Get(k) == nil {
						continue // moved meanwhile by another write
					}
					if err := dl.Delete(k); err != nil {
						return err
					}
					s.log.Error("store: dropped a deadline entry that does not match its job", "key", fmt.Sprintf("%x", k), "err", err)
					n++
					st.Dropped++
					continue
				}
				n++
				old := j.Deadline
				switch {
				case j.Archived:
					if err := w.remove(j); err != nil {
						return err
					}
					st.Purged++
					continue
				case j.State == Preprocess:
					if err := w.remove(j); err != nil {
						return err
					}
					st.Deleted++
					continue
				case j.State == Queued:
					reason := fmt.Sprintf("not delivered within its time to live (%s)", j.Expires.Sub(j.ParamsAt).Round(time.Second))
					for i := range j.Files {
						if j.Files[i].State == FilePending {
							f := &j.Files[i]
							f.State, f.DoneAt, f.NextAt = FileFailed, now, time.Time{}
							if f.LastError != "" {
								f.LastError = reason + "; last error: " + f.LastError
							} else {
								f.LastError = reason
							}
						}
					}
					if err := w.settle(j, Queued, now); err != nil {
						return err
					}
					st.Expired++
				default: // finished, not consulted in time
					j.Archived, j.ArchivedAt = true, now
					j.Deadline = now.Add(s.o.KeepArchived)
					w.d.state(j.State, -1)
					w.d.archived++
					st.Archived++
				}
				j.Updated = now
				if err := w.put(j, old); err != nil {
					return err
				}
			}
			return nil
		}, nil)
		if err != nil {
			return st, err
		}
		if n == 0 || len(due) < sweepBatch {
			break
		}
	}
	s.pruneDevices(s.o.Now())
	return st, s.FlushDevices(ctx)
}

// dueKeys returns up to max keys of the deadline index at or before now. A key too short to
// hold a time is returned too (first in the index), so that the sweep drops it.
func (s *Store) dueKeys(now time.Time, max int) [][]byte {
	var keys [][]byte
	var lim [8]byte
	binary.BigEndian.PutUint64(lim[:], uint64(now.UnixNano()))
	_ = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bDeadlines).Cursor()
		for k, _ := c.First(); k != nil && len(keys) < max; k, _ = c.Next() {
			if len(k) >= 8 && bytes.Compare(k[:8], lim[:]) > 0 {
				break
			}
			keys = append(keys, bytes.Clone(k))
		}
		return nil
	})
	return keys
}

// Retry puts the failed files of a job back in the queue now (admin action). A job archived
// or still in preprocess cannot be retried.
func (s *Store) Retry(ctx context.Context, id string) (*Job, error) {
	var out *Job
	now := s.o.Now()
	err := s.write(ctx, func(w *wtx) error {
		j, err := getJob(w.tx, id)
		if err != nil {
			return err
		}
		if j.Archived || j.State == Preprocess || j.State == Delivered {
			return fmt.Errorf("%w: job %s is %s%s; only failed files of a queued or finished job can be retried",
				ErrState, id, j.State, map[bool]string{true: " (archived)"}[j.Archived])
		}
		old, from := j.Deadline, j.State
		n := 0
		for i := range j.Files {
			f := &j.Files[i]
			if f.State == FileFailed {
				f.State, f.NextAt, f.DoneAt, f.FailingFrom = FilePending, now, time.Time{}, time.Time{}
				n++
			}
			if f.State == FilePending {
				f.NextAt = now
			}
		}
		j.State, j.FinishedAt, j.Updated = Queued, time.Time{}, now
		if j.Expires.Before(now.Add(time.Hour)) {
			j.Expires = now.Add(s.o.TTL)
		}
		j.Deadline = j.Expires
		w.transition(j, from)
		if err := w.tx.Bucket(bActive).Put(activeKey(j), nil); err != nil {
			return err
		}
		out = j
		return w.put(j, old)
	}, s.notifyQueued(id))
	return out, err
}

// Cancel fails every pending file of a queued job at once (admin action).
func (s *Store) Cancel(ctx context.Context, id, reason string) (*Job, error) {
	var out *Job
	now := s.o.Now()
	err := s.write(ctx, func(w *wtx) error {
		j, err := getJob(w.tx, id)
		if err != nil {
			return err
		}
		if j.State != Queued && j.State != Preprocess {
			return fmt.Errorf("%w: job %s is already %s", ErrState, id, j.State)
		}
		old, from := j.Deadline, j.State
		if j.State == Preprocess {
			if err := w.preprocessDone(j.Device); err != nil {
				return err
			}
			j.State = Queued // so settle counts it as finished (failed)
			w.transition(j, Preprocess)
			from = Queued
		}
		for i := range j.Files {
			f := &j.Files[i]
			if f.State != FileDelivered && f.State != FileFailed {
				f.State, f.DoneAt, f.NextAt, f.LastError = FileFailed, now, time.Time{}, reason
			}
		}
		j.Updated = now
		if err := w.settle(j, from, now); err != nil {
			return err
		}
		out = j
		return w.put(j, old)
	}, nil)
	return out, err
}
