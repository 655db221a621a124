package store

// Space: what the data partition can really hold (issue 12). The quota counts what devices
// stored; the database file is larger than that (pages, their slack, the copy-on-write of each
// commit), and the file shares its filesystem with the mail outbox, the box's key and the live
// config. So a write is also refused when the file's pages in use would pass the file quota,
// or when the filesystem's free space, less a floor kept for the others, cannot take it; and a
// commit the disk refuses anyway (ENOSPC: the outbox filled it meanwhile) answers ErrDiskFull
// and leaves the last commit intact (bbolt writes new pages, then the meta page).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"golang.org/x/sys/unix"
)

// Space is the store's footprint against what holds it, in bytes.
type Space struct {
	LiveBytes  int64 `json:"live_bytes"`   // what the quota counts (files and their records)
	Quota      int64 `json:"quota"`        // the quota on LiveBytes
	FileBytes  int64 `json:"file_bytes"`   // the database file's size
	FileAlloc  int64 `json:"file_alloc"`   // blocks the file occupies (its growth is sparse)
	InUse      int64 `json:"in_use_bytes"` // pages in use: the file less its free pages
	FreeInFile int64 `json:"free_in_file"` // free pages, reused before the file grows
	FileQuota  int64 `json:"file_quota"`   // the limit on InUse; 0: none but the disk
	DiskFree   int64 `json:"disk_free"`    // available on the filesystem (root's reserve not counted)
	DiskTotal  int64 `json:"disk_total"`
	DiskFloor  int64 `json:"disk_floor"` // kept free for the outbox, the key and the config
	// Headroom is how many more bytes of uploads the store can take, projected from the
	// file's current ratio of pages in use to live bytes: the least of the quota's room, the
	// file quota's and the disk's (free pages plus free space above the floor).
	Headroom int64 `json:"headroom"`
}

// CompactStats says what a compaction did.
type CompactStats struct {
	Before, After int64 // file size
	Took          time.Duration
}

func (c CompactStats) String() string {
	return fmt.Sprintf("file %d → %d bytes in %v", c.Before, c.After, c.Took.Round(time.Millisecond))
}

// handle is the open database. Compaction replaces the file under it: it opens the new file,
// swaps the pointer, then closes the old one, which waits for the transactions running on it.
// A transaction that meets the old one closed (it loaded the pointer just before the swap)
// did not run its function, and runs it on the new one. No lock: a View that waits for
// something else (a callback taking another lock) cannot stall the swap into a deadlock.
// Callers keep using s.db.View and s.db.Update.
type handle struct {
	db   atomic.Pointer[bolt.DB]
	opts bolt.Options // to reopen after a compaction as Open opened it
}

func newHandle(db *bolt.DB, timeout time.Duration) *handle {
	h := &handle{opts: bolt.Options{
		Timeout: timeout, NoFreelistSync: db.NoFreelistSync, FreelistType: db.FreelistType,
		NoGrowSync: db.NoGrowSync, PreLoadFreelist: db.PreLoadFreelist, MmapFlags: db.MmapFlags,
	}}
	h.db.Store(db)
	return h
}

func (h *handle) run(fn func(*bolt.Tx) error, write bool) error {
	for {
		db := h.db.Load()
		var err error
		if write {
			err = db.Update(fn)
		} else {
			err = db.View(fn)
		}
		if errors.Is(err, bolterrors.ErrDatabaseNotOpen) && h.db.Load() != db {
			continue // swapped by a compaction before this transaction began
		}
		return err
	}
}

func (h *handle) View(fn func(*bolt.Tx) error) error   { return h.run(fn, false) }
func (h *handle) Update(fn func(*bolt.Tx) error) error { return h.run(fn, true) }
func (h *handle) Close() error                         { return h.db.Load().Close() }
func (h *handle) Stats() bolt.Stats                    { return h.db.Load().Stats() }

// disk is the cached statfs of the store's directory: a commit is refused on a sample at most
// diskMaxAge old, and always re-sampled before a refusal (so space freed is seen at once).
type disk struct {
	mu     sync.Mutex
	at     time.Time
	free   int64
	total  int64
	statfs func(dir string) (free, total int64, err error) // tests replace it
}

// A sample is reused for diskMaxAge unless the room it showed was under diskNear: near the
// floor, every check samples (a statfs costs microseconds; a commit, milliseconds).
const (
	diskMaxAge = time.Second
	diskNear   = 64 << 20
)

func statfs(dir string) (free, total int64, err error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return 0, 0, err
	}
	bs := int64(fs.Bsize) //nolint:unconvert // int32 on some GOARCHes
	return int64(fs.Bavail) * bs, int64(fs.Blocks) * bs, nil
}

// sample returns the filesystem's free and total bytes, at most diskMaxAge old unless fresh.
func (s *Store) sample(fresh bool) (free, total int64) {
	d := &s.disk
	d.mu.Lock()
	defer d.mu.Unlock()
	if fresh || d.at.IsZero() || time.Since(d.at) > diskMaxAge || d.free-s.floor(d.total) < diskNear {
		f, t, err := d.statfs(filepath.Dir(s.path))
		if err != nil {
			s.log.Warn("store: statfs of the data directory failed; disk space not checked", "err", err)
			f, t = 1<<62, 1<<62
		}
		d.free, d.total, d.at = f, t, time.Now()
	}
	return d.free, d.total
}

// floor is the space kept free on a filesystem of total bytes.
func (s *Store) floor(total int64) int64 { return int64(float64(total) * s.o.DiskFloor) }

// pages returns the file's high-water mark, and its free pages in bytes, as of the last commit.
func pages(tx *bolt.Tx, st bolt.Stats) (hwm, free int64) {
	ps := int64(tx.DB().Info().PageSize)
	return tx.Size(), int64(st.FreePageN+st.PendingPageN) * ps
}

// space refuses n more bytes (with what this commit already added) when the file or the disk
// cannot take them. A commit writes its new pages before it frees the old ones, hence twice.
func (w *wtx) space(n int64) error {
	s := w.s
	pending := n
	if b := w.batch.bytes + w.d.bytes; b > 0 {
		pending += b
	}
	hwm, free := pages(w.tx, w.tx.DB().Stats())
	inUse := hwm - free
	if s.o.FileQuota > 0 && inUse+pending > s.o.FileQuota {
		return fmt.Errorf("%w: the database file holds %d bytes of pages of %d allowed; this upload needs about %d more — wait for deliveries or ask the admin",
			ErrQuota, inUse, s.o.FileQuota, pending)
	}
	need := 2*pending + commitSlack
	for _, fresh := range []bool{false, true} {
		dfree, total := s.sample(fresh)
		room := free + dfree - s.floor(total)
		if need <= room {
			return nil
		}
		if fresh {
			return fmt.Errorf("%w: %d bytes free on the data partition, %d kept free for the outbox, the key and the config, %d free inside the database; this upload needs about %d — wait for deliveries, free space, or ask the admin",
				ErrDiskFull, dfree, s.floor(total), free, need)
		}
	}
	return nil
}

// commitSlack is room a commit needs beyond its data: branch pages, the meta page, the file's
// growth step.
const commitSlack = 256 << 10

// diskError names a commit's failure for the caller: the disk full (507, try later) or failing
// (503), keeping the cause.
func diskError(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: the data partition is full, nothing stored (%w) — wait for deliveries or free space", ErrDiskFull, err)
	case errors.Is(err, syscall.EIO):
		return fmt.Errorf("%w: the data partition failed a write, nothing stored (%w) — try again; check the card", ErrIO, err)
	}
	return err
}

// Space returns the store's footprint and the disk's room.
func (s *Store) Space() Space {
	sp := Space{FileQuota: s.o.FileQuota}
	sp.LiveBytes, sp.Quota = s.Bytes()
	var hwm, free int64
	_ = s.db.View(func(tx *bolt.Tx) error {
		hwm, free = pages(tx, tx.DB().Stats())
		return nil
	})
	sp.InUse, sp.FreeInFile = hwm-free, free
	if fi, err := os.Stat(s.path); err == nil {
		sp.FileBytes = fi.Size()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			sp.FileAlloc = int64(st.Blocks) * 512 //nolint:unconvert // int32 on some GOARCHes
		}
	}
	sp.DiskFree, sp.DiskTotal = s.sample(true)
	sp.DiskFloor = s.floor(sp.DiskTotal)
	room := max(sp.FreeInFile+sp.DiskFree-sp.DiskFloor-commitSlack, 0)
	if s.o.FileQuota > 0 {
		room = min(room, max(s.o.FileQuota-sp.InUse, 0))
	}
	if sp.LiveBytes > 0 && sp.InUse > sp.LiveBytes { // pages per live byte, as the file stands
		room = int64(float64(room) * float64(sp.LiveBytes) / float64(sp.InUse))
	}
	sp.Headroom = min(room, max(sp.Quota-sp.LiveBytes, 0))
	return sp
}

// Compaction: only the committer runs it (as an exclusive op), so no write is lost or runs
// meanwhile; reads wait only for the swap.

const (
	compactMinFile = 16 << 20         // smaller files are not worth it
	compactIdle    = 30 * time.Second // no commit for this long: the box is idle
	compactTxMax   = 16 << 20         // bytes per transaction of the copy (bounds its memory)
)

// compactPath is the new file a compaction writes; one left by a crash is removed at Open.
func compactPath(path string) string { return path + ".compact" }

// Compact rewrites the database into a new file without free pages and puts it in place of
// the old one. A crash at any point loses nothing: the old file stays until the new one is
// complete and synced, and the rename that replaces it is atomic. Writes wait meanwhile.
func (s *Store) Compact(ctx context.Context) (CompactStats, error) {
	var st CompactStats
	err := s.exclusive(ctx, func() error {
		var err error
		st, err = s.compact()
		return err
	})
	return st, err
}

// CompactIfSparse compacts when the file is mostly free pages (over half, and at least
// compactMinFile) and no commit ran for compactIdle: the idle-time step the gateway runs with
// its retention sweep. done says whether it compacted.
func (s *Store) CompactIfSparse(ctx context.Context) (st CompactStats, done bool, err error) {
	sp := s.Space()
	if sp.FileBytes < s.compactMin || sp.FileBytes-sp.InUse < sp.FileBytes/2 {
		return st, false, nil
	}
	if last := s.lastCommit.Load(); last != 0 && time.Since(time.Unix(0, last)) < compactIdle {
		return st, false, nil
	}
	st, err = s.Compact(ctx)
	return st, err == nil, err
}

// exclusive runs fn on the committer between two commits.
func (s *Store) exclusive(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.failed.Load(); err != nil {
		return *err
	}
	o := &op{raw: fn, err: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	s.ops <- o
	s.mu.RUnlock()
	return <-o.err
}

func (s *Store) compact() (CompactStats, error) {
	start := time.Now()
	h := s.db
	st := CompactStats{}
	if fi, err := os.Stat(s.path); err == nil {
		st.Before = fi.Size()
	}
	sp := s.Space()
	if sp.InUse+commitSlack > sp.DiskFree {
		return st, fmt.Errorf("%w: compaction needs about %d bytes free for the new file, the data partition has %d", ErrDiskFull, sp.InUse+commitSlack, sp.DiskFree)
	}
	tmp := compactPath(s.path)
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &h.opts)
	if err != nil {
		return st, fmt.Errorf("store: compact: %w", err)
	}
	old := h.db.Load()
	// The source is read in read transactions while no write runs (the committer is here).
	if err := bolt.Compact(dst, old, compactTxMax); err != nil {
		dst.Close()
		os.Remove(tmp)
		return st, fmt.Errorf("store: compact: %w", diskError(err))
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return st, fmt.Errorf("store: compact: %w", err)
	}
	if err := syncPath(tmp); err != nil { // each commit synced; this covers the last size change
		os.Remove(tmp)
		return st, fmt.Errorf("store: compact: %w", err)
	}
	// Open the new file, then put it in place: the rename is atomic, and an open file follows
	// its inode (and its lock) across it.
	db, err := bolt.Open(tmp, 0o600, &h.opts)
	if err != nil {
		os.Remove(tmp)
		return st, fmt.Errorf("store: compact: reopening the new file: %w (the old file is kept)", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		db.Close()
		os.Remove(tmp)
		return st, fmt.Errorf("store: compact: %w (the old file is kept)", err)
	}
	if err := syncPath(filepath.Dir(s.path)); err != nil {
		s.log.Error("store: compact: syncing the directory", "err", err) // the rename is done; the next sync makes it durable
	}
	h.db.Store(db)
	if err := old.Close(); err != nil { // waits for the transactions still on it
		s.log.Error("store: compact: closing the old file", "err", err)
	}
	if fi, err := os.Stat(s.path); err == nil {
		st.After = fi.Size()
	}
	st.Took = time.Since(start)
	s.log.Info("store: compacted", "stats", st.String())
	return st, nil
}

// syncPath fsyncs a file or a directory.
func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// removeStaleCompaction removes the new file of a compaction a crash interrupted: the old file
// is the store (the rename had not happened, or it had, and this name no longer exists).
func removeStaleCompaction(path string) {
	_ = os.Remove(compactPath(path))
}
