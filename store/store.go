package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bJobs      = []byte("jobs")
	bData      = []byte("data")
	bActive    = []byte("active")
	bDeadlines = []byte("deadlines")
	bDue       = []byte("due") // queued jobs by next due time: the dispatcher pages it (dueKey)
	bDevices   = []byte("devices")
	bMeta      = []byte("meta")
	bKeys      = []byte("keys")    // wrapped-key digest of an encrypted upload → its job id (replays)
	bReports   = []byte("reports") // sent SMS parts waiting for a status report (reports.go)
)

// Options configure a Store. Zero values take the SPEC §1 defaults.
type Options struct {
	Quota           int64         // total stored file bytes; default 256 MiB
	Unparameterised time.Duration // preprocess jobs are deleted after this; default 24h
	Unconsulted     time.Duration // finished jobs not consulted are archived after this; default 24h
	KeepArchived    time.Duration // archived jobs are purged after this; default 7 days
	TTL             time.Duration // default time to live of a queued job; default 24h
	LockTimeout     time.Duration // how long Open waits for another process's lock; default 5s
	MaxBatch        int           // writes per group commit at most; default 1024
	MaxPreprocess   int           // jobs in preprocess per device at most; default 100
	MaxDevices      int           // devices in the registry at most; default 1024 (devices.go)
	DeviceIdle      time.Duration // a device not seen for this long leaves the registry; default 30 days
	FileQuota       int64         // bytes of database pages in use at most; 0: only the disk limits them (space.go)
	DiskFloor       float64       // fraction of the data filesystem kept free for others; 0: none (space.go)
	InboxMax        int           // inbound messages kept at most; default 5000 (inbox.go)
	InboxBytes      int64         // bytes of inbound messages kept at most; default 8 MiB
	Now             func() time.Time
	Log             *slog.Logger

	bolt   func(*bolt.Options) // tests: other bbolt options, to measure them (TestOpenOptions)
	schema int64               // the schema version this store writes (SchemaVersion; tests play other versions)
}

func (o *Options) defaults() {
	if o.Quota <= 0 {
		o.Quota = 256 << 20
	}
	if o.Unparameterised <= 0 {
		o.Unparameterised = 24 * time.Hour
	}
	if o.Unconsulted <= 0 {
		o.Unconsulted = 24 * time.Hour
	}
	if o.KeepArchived <= 0 {
		o.KeepArchived = 7 * 24 * time.Hour
	}
	if o.TTL <= 0 {
		o.TTL = 24 * time.Hour
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = 5 * time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1024
	}
	if o.MaxPreprocess <= 0 {
		o.MaxPreprocess = 100
	}
	if o.MaxDevices <= 0 {
		o.MaxDevices = 1024
	}
	if o.DeviceIdle <= 0 {
		o.DeviceIdle = 30 * 24 * time.Hour
	}
	if o.InboxMax <= 0 {
		o.InboxMax = 5000
	}
	if o.InboxBytes <= 0 {
		o.InboxBytes = 8 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.schema == 0 {
		o.schema = SchemaVersion
	}
}

// Store is the job store. All methods are safe for concurrent use.
type Store struct {
	db   *handle // compaction swaps the file under it (space.go)
	disk disk    // the data filesystem's free space, sampled (space.go)
	path string
	o    Options
	log  *slog.Logger

	ops  chan *op
	done chan struct{} // closed when the committer has exited

	mu     sync.RWMutex // guards closed against sends on ops
	closed bool

	cmu      sync.Mutex // guards counts and bytes, applied after each commit
	counts   map[State]int64
	archived int64
	bytes    int64

	onQueued func(id string) // set once by the dispatcher before serving

	commits, committed atomic.Int64 // group commits and the writes in them (benchmarks)
	lastCommit         atomic.Int64 // unix nanoseconds of the last commit (idle-time compaction)
	compactMin         int64        // files smaller than this are not compacted when idle (tests lower it)

	// failed is set (once, by the committer) when a commit's fsync failed: see syncFailed.
	failed atomic.Pointer[error]

	schema atomic.Int64 // the data's schema version (schema.go)

	devMu   sync.Mutex // guards devices and dirty
	devices map[string]*Device
	dirty   map[string]bool // devices to write (true) or to delete (false) at the next flush
}

// op is one write waiting for the committer.
type op struct {
	fn   func(w *wtx) error
	err  chan error
	post func()       // run after a successful commit (notifications)
	raw  func() error // instead of fn: run alone between commits (compaction, space.go)
}

// wtx is a write transaction as one op sees it: its own counter deltas, merged only if it
// succeeds.
type wtx struct {
	tx    *bolt.Tx
	s     *Store
	batch *delta // deltas of the ops before this one in the same commit
	d     delta
}

type delta struct {
	counts   map[State]int64
	archived int64
	bytes    int64
}

func (d *delta) state(s State, n int64) {
	if d.counts == nil {
		d.counts = make(map[State]int64, 4)
	}
	d.counts[s] += n
}

func (d *delta) add(o delta) {
	for k, v := range o.counts {
		d.state(k, v)
	}
	d.archived += o.archived
	d.bytes += o.bytes
}

// Open opens (creating if needed) the store at path.
func Open(path string, o Options) (*Store, error) {
	o.defaults()
	removeStaleCompaction(path)
	bo := &bolt.Options{
		Timeout: o.LockTimeout,
		// The freelist is written with each commit, so Open reads it instead of walking the
		// whole file to rebuild it: with a 500,000-job backlog that walk was 12 s from a cold
		// page cache, and opening must not grow with the backlog (docs/LOAD.md has the figures).
		NoFreelistSync: false,
		FreelistType:   bolt.FreelistMapType,
	}
	if o.bolt != nil {
		o.bolt(bo)
	}
	db, err := bolt.Open(path, 0o600, bo)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	stored, fresh, err := checkSchema(db, path, o.schema)
	if err != nil {
		db.Close()
		return nil, err
	}
	if fresh {
		stored = o.schema
	}
	s := &Store{
		db: newHandle(db, o.LockTimeout), path: path, o: o, log: o.Log,
		disk: disk{statfs: statfs}, compactMin: compactMinFile,
		ops:     make(chan *op, 4096),
		done:    make(chan struct{}),
		counts:  make(map[State]int64),
		devices: make(map[string]*Device),
		dirty:   make(map[string]bool),
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bJobs, bData, bActive, bDeadlines, bDue, bDevices, bMeta, bKeys, bInbox, bInKeys, bReports, bPieces, bUploads} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		m := tx.Bucket(bMeta)
		if fresh {
			if err := putInt(m, schemaKey, o.schema); err != nil {
				return err
			}
		}
		for _, st := range States {
			s.counts[st] = getInt(m, "n:"+string(st))
		}
		if err := indexDue(tx, stored < o.schema); err != nil {
			return err
		}
		s.archived = getInt(m, "n:archived")
		if n, freed, err := sweepUploads(tx); err != nil { // half-written uploads (stream.go)
			return err
		} else if n > 0 {
			s.log.Info("store: removed uploads cut short", "uploads", n, "bytes", freed)
		}
		s.bytes = getInt(m, "bytes")
		return tx.Bucket(bDevices).ForEach(func(k, v []byte) error {
			var d Device
			if json.Unmarshal(v, &d) == nil {
				s.devices[string(k)] = &d
			} else {
				s.dirty[string(k)] = false
			}
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: init %s: %w", path, err)
	}
	s.schema.Store(stored)
	s.trimDevices() // a registry filled before it was bounded (an ARP flood) shrinks at once
	go s.commitLoop()
	return s, nil
}

// Close commits what is pending, flushes the device registry and closes the file.
func (s *Store) Close() error {
	_ = s.FlushDevices(context.Background())
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.ops)
	s.mu.Unlock()
	<-s.done
	return s.db.Close()
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// OnQueued sets the function called (after commit) with the id of every job that becomes
// queued or has work again. Set it before serving.
func (s *Store) OnQueued(fn func(id string)) { s.onQueued = fn }

func (s *Store) notifyQueued(id string) func() {
	return func() {
		if s.onQueued != nil {
			s.onQueued(id)
		}
	}
}

// write submits fn to the committer and waits for the commit.
func (s *Store) write(ctx context.Context, fn func(w *wtx) error, post func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.failed.Load(); err != nil {
		return *err
	}
	o := &op{fn: fn, err: make(chan error, 1), post: post}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	s.ops <- o
	s.mu.RUnlock()
	// Wait for the commit even if ctx ends meanwhile: the write may already be durable, and
	// the caller must not report a failure for something that happened.
	return <-o.err
}

// commitLoop is the committer: the only goroutine that runs write transactions.
func (s *Store) commitLoop() {
	defer close(s.done)
	batch := make([]*op, 0, s.o.MaxBatch)
	for first := range s.ops {
		batch = batch[:0]
		raw := first
		if first.raw == nil {
			batch, raw = append(batch, first), nil
		}
	drain:
		for raw == nil && len(batch) < s.o.MaxBatch {
			select {
			case o, ok := <-s.ops:
				if !ok {
					break drain
				}
				if o.raw != nil {
					raw = o // after this batch, alone
					break drain
				}
				batch = append(batch, o)
			default:
				break drain
			}
		}
		if len(batch) > 0 {
			s.commit(batch)
		}
		if raw != nil {
			raw.err <- raw.raw()
		}
	}
}

func (s *Store) commit(batch []*op) {
	if failed := s.failed.Load(); failed != nil { // ops queued before the failure: not run
		for _, o := range batch {
			o.err <- *failed
		}
		return
	}
	errs := make([]error, len(batch))
	var total delta
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range appendBuckets {
			tx.Bucket(name).FillPercent = appendFill // per transaction, on bbolt's cached bucket
		}
		for i, o := range batch {
			w := &wtx{tx: tx, s: s, batch: &total}
			if errs[i] = o.fn(w); errs[i] == nil {
				total.add(w.d)
			}
		}
		if len(total.counts) == 0 && total.archived == 0 && total.bytes == 0 {
			return nil
		}
		m := tx.Bucket(bMeta)
		s.cmu.Lock()
		defer s.cmu.Unlock()
		for st, n := range total.counts {
			if err := putInt(m, "n:"+string(st), s.counts[st]+n); err != nil {
				return err
			}
		}
		if err := putInt(m, "n:archived", s.archived+total.archived); err != nil {
			return err
		}
		return putInt(m, "bytes", s.bytes+total.bytes)
	})
	if err != nil {
		if syncFailed(err) && s.failed.Load() == nil {
			// After a failed fsync the kernel may have dropped the pages it could not write
			// and marked them clean: a later fsync that succeeds proves nothing about them.
			// Carrying on could ack jobs on top of lost ones; stop, and let /healthz, the
			// watchdog and the log say so. Reopening reads the last commit that did sync.
			stop := fmt.Errorf("%w (%v): the data partition may be failing; restart the service (the watchdog resets the board) and check the card", ErrFailed, err)
			s.failed.Store(&stop)
			s.log.Error("store: fsync failed; no more writes until the store is opened again", "err", err)
		}
		s.log.Error("store: commit failed", "ops", len(batch), "err", err)
		for _, o := range batch {
			o.err <- fmt.Errorf("store: commit: %w", diskError(err))
		}
		return
	}
	s.commits.Add(1)
	s.lastCommit.Store(time.Now().UnixNano())
	s.committed.Add(int64(len(batch)))
	s.cmu.Lock()
	for st, n := range total.counts {
		s.counts[st] += n
	}
	s.archived += total.archived
	s.bytes += total.bytes
	s.cmu.Unlock()
	for i, o := range batch {
		if errs[i] == nil && o.post != nil {
			o.post()
		}
		o.err <- errs[i]
	}
}

// syncFailed reports whether a commit error is a failed fsync rather than a failed write: bbolt
// returns fdatasync's errno bare (its writes fail as *fs.PathError, "write"), and a failed
// sync while growing the file as an unwrapped "file sync error". A failed write leaves the
// last commit intact and may succeed later (disk full, then freed); a failed sync does not.
func syncFailed(err error) bool {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op == "sync" || pe.Op == "fdatasync"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return true
	}
	return strings.HasPrefix(err.Error(), "file sync error")
}

func getInt(b *bolt.Bucket, k string) int64 {
	v := b.Get([]byte(k))
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func putInt(b *bolt.Bucket, k string, n int64) error {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(n))
	return b.Put([]byte(k), v[:])
}

// appendBuckets are filled in key order, mostly at their end (ids begin with their creation
// time, deadlines with theirs): their pages are filled before they are split (bbolt's
// default splits at half, right for random keys), so a commit writes fewer pages.
var appendBuckets = [][]byte{bJobs, bData, bActive, bDeadlines, bDue}

const appendFill = 0.9

// dataKey is the key of file i of job j in "data": id ‖ index (2 bytes, big endian).
func dataKey(j *Job, i int) []byte {
	k := make([]byte, len(j.ID)+2)
	copy(k, j.ID)
	binary.BigEndian.PutUint16(k[len(j.ID):], uint16(i))
	return k
}

// activeKey is the key of a queued job in "active": its id.
func activeKey(j *Job) []byte { return []byte(j.ID) }

func deadlineKey(t time.Time, id string) []byte {
	k := make([]byte, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano()))
	copy(k[8:], id)
	return k
}

// get decodes a job inside a transaction.
func getJob(tx *bolt.Tx, id string) (*Job, error) {
	v := tx.Bucket(bJobs).Get([]byte(id))
	if v == nil {
		return nil, ErrNotFound
	}
	j := new(Job)
	if err := json.Unmarshal(v, j); err != nil {
		return nil, fmt.Errorf("store: job %s is corrupt: %w", id, err)
	}
	return j, nil
}

// put writes the job and moves its deadline and due index entries.
func (w *wtx) put(j *Job, oldDeadline time.Time) error {
	if err := moveDue(w.tx, j); err != nil {
		return err
	}
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	if err := w.tx.Bucket(bJobs).Put([]byte(j.ID), b); err != nil {
		return err
	}
	if !oldDeadline.Equal(j.Deadline) {
		dl := w.tx.Bucket(bDeadlines)
		if !oldDeadline.IsZero() {
			if err := dl.Delete(deadlineKey(oldDeadline, j.ID)); err != nil {
				return err
			}
		}
		if !j.Deadline.IsZero() {
			if err := dl.Put(deadlineKey(j.Deadline, j.ID), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// remove deletes a job and everything it owns.
func (w *wtx) remove(j *Job) error {
	if err := w.tx.Bucket(bJobs).Delete([]byte(j.ID)); err != nil {
		return err
	}
	data := w.tx.Bucket(bData)
	for i := range j.Files {
		if err := data.Delete(dataKey(j, i)); err != nil {
			return err
		}
		if err := w.indexParts(j, i, false); err != nil {
			return err
		}
	}
	if err := w.dropPieces(j); err != nil { // streamed files (stream.go)
		return err
	}
	if err := w.tx.Bucket(bActive).Delete(activeKey(j)); err != nil {
		return err
	}
	if !j.Deadline.IsZero() {
		if err := w.tx.Bucket(bDeadlines).Delete(deadlineKey(j.Deadline, j.ID)); err != nil {
			return err
		}
	}
	if !j.Due.IsZero() {
		if err := w.tx.Bucket(bDue).Delete(dueKey(j.Due, j.ID)); err != nil {
			return err
		}
	}
	if j.KeyDigest != "" {
		if err := w.tx.Bucket(bKeys).Delete([]byte(j.KeyDigest)); err != nil {
			return err
		}
	}
	if j.Archived {
		w.d.archived--
	} else {
		w.d.state(j.State, -1)
	}
	if j.State == Preprocess && !j.Archived {
		if err := w.preprocessDone(j.Device); err != nil {
			return err
		}
	}
	w.d.bytes -= j.Bytes
	return nil
}

// transition moves the job's counters from state from to its current state.
func (w *wtx) transition(j *Job, from State) {
	if from != j.State {
		w.d.state(from, -1)
		w.d.state(j.State, 1)
	}
}

// settle brings the job in line with its files after they changed: its state is recomputed
// from them and the state counters moved (from is the state before the change). A job that has
// just finished gets FinishedAt, a Deadline of now + Unconsulted (archived if its device does
// not consult it by then) and leaves the active bucket. The caller writes the job (put), which
// moves the due index.
func (w *wtx) settle(j *Job, from State, now time.Time) error {
	j.recompute()
	w.transition(j, from)
	if j.State.Finished() && !from.Finished() {
		j.FinishedAt = now
		j.Deadline = now.Add(w.s.o.Unconsulted)
		if err := w.tx.Bucket(bActive).Delete(activeKey(j)); err != nil {
			return err
		}
	}
	return nil
}

// Counts returns the number of jobs per state (archived jobs counted apart).
func (s *Store) Counts() (map[State]int64, int64) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	m := make(map[State]int64, len(s.counts))
	for k, v := range s.counts {
		m[k] = v
	}
	return m, s.archived
}

// Bytes returns the stored file bytes and the quota.
func (s *Store) Bytes() (used, quota int64) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return s.bytes, s.o.Quota
}

// FileSize is the size of the database file on disk.
func (s *Store) FileSize() int64 {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Ping proves the store is writable: it commits a tiny write.
func (s *Store) Ping(ctx context.Context) error {
	now := s.o.Now()
	return s.write(ctx, func(w *wtx) error {
		return putInt(w.tx.Bucket(bMeta), "ping", now.UnixNano())
	}, nil)
}

// Check runs bbolt's consistency check (tests, `multimsg` diagnostics).
func (s *Store) Check() error {
	return s.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}
