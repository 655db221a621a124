package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Streamed uploads (issue 11). A file taken whole (Create) is one bbolt value: the transaction
// that commits it holds the whole file in dirty pages, and bbolt allocates a page buffer of its
// size at commit and copies it again when the file grows — ~3 copies of every upload in memory.
// An Upload instead takes each file as a stream and writes it in pieces of at most PieceSize,
// each committed in a small write of its own (the group committer batches them with other
// work), so an upload of any size holds about one piece in memory.
//
// The pieces of an upload in progress are charged to the quota as they land and are listed
// under a "being written" marker (bucket "uploads"). The job is written only by Commit, in
// one transaction with the removal of the marker: until then no reader sees it. Abort (a
// refused or cut-short upload) deletes the pieces and gives their bytes back; a crash leaves
// the marker, and Open sweeps every marked upload's pieces the same way.

var (
	bPieces  = []byte("pieces")  // job id ‖ file (2 bytes) ‖ piece (4 bytes), big endian → ≤ PieceSize bytes
	bUploads = []byte("uploads") // job id → nothing: an upload whose pieces are being written
)

// PieceSize is the most of a file one write holds.
const PieceSize = 1 << 20

// pieceKey is the key of piece p of file i of job id.
func pieceKey(id string, i, p int) []byte {
	k := make([]byte, len(id)+6)
	copy(k, id)
	binary.BigEndian.PutUint16(k[len(id):], uint16(i))
	binary.BigEndian.PutUint32(k[len(id)+2:], uint32(p))
	return k
}

// streamSchema is the first schema whose readers know pieces.
const streamSchema = 3

// Streams reports whether uploads may be written in pieces: only once the data is at schema 3
// (fresh, or upgraded after this release was committed), so that a fallback to a release
// before it never finds files it would read as empty. Until then BeginUpload's files are
// refused and callers store files whole (Create).
func (s *Store) Streams() bool { return s.schema.Load() >= streamSchema }

// Upload is a job whose files are being written; see BeginUpload. Not safe for concurrent use.
type Upload struct {
	s       *Store
	id      string
	device  string
	ip      string
	created time.Time
	files   []File
	bytes   int64 // file bytes written and charged so far
	marked  bool  // the marker is (being) written: Abort has pieces to delete
	done    bool  // committed or aborted
	buf     []byte
}

// BeginUpload starts a job for device whose files are written with AddFile and which becomes
// visible with Commit. Call Abort when the upload does not complete (it is a no-op after
// Commit): until then its pieces take room in the store.
func (s *Store) BeginUpload(device, ip string) *Upload {
	now := s.o.Now()
	return &Upload{s: s, id: newIDAt(now), device: device, ip: ip, created: now}
}

// SourceError is a failure to read an upload's source (the client's body), not the store's.
type SourceError struct{ Err error }

func (e *SourceError) Error() string { return "reading the upload: " + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// AddFile reads r to its end and stores it as the upload's next file, in pieces. f.Data is
// ignored. A failure of r comes back as a *SourceError; the store's own (ErrQuota, ErrDiskFull…)
// as they are. After an error the upload is to be aborted.
func (u *Upload) AddFile(ctx context.Context, f NewFile, r io.Reader) error {
	if u.done {
		return errors.New("store: upload already committed or aborted")
	}
	if !u.s.Streams() {
		return fmt.Errorf("store: the data is at schema %d; files are written in pieces from schema %d (after UpgradeSchema)", u.s.schema.Load(), streamSchema)
	}
	i := len(u.files)
	if i > 0xffff {
		return errors.New("store: too many files in one upload")
	}
	u.files = append(u.files, File{Name: f.Name, Filename: f.Filename, MIME: f.MIME})
	return u.write(ctx, i, r)
}

// write stores r as the contents of file i (which has none yet).
func (u *Upload) write(ctx context.Context, i int, r io.Reader) error {
	if u.buf == nil {
		u.buf = make([]byte, PieceSize)
	}
	fl := &u.files[i]
	for {
		n, err := readPiece(r, u.buf)
		if n > 0 {
			if e := u.putPiece(ctx, i, fl.Pieces, u.buf[:n]); e != nil {
				return e
			}
			fl.Pieces++
			fl.Size += int64(n)
		}
		if err == io.EOF { // the end, and only that: io.ErrUnexpectedEOF is a body cut short
			return nil
		}
		if err != nil {
			return &SourceError{err}
		}
	}
}

// readPiece reads into buf until it is full (nil), r ends (io.EOF) or fails. Unlike io.ReadFull it
// passes r's own io.ErrUnexpectedEOF on instead of making one from a short last read.
func readPiece(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// putPiece commits one piece, charged to the quota, under the upload's marker.
func (u *Upload) putPiece(ctx context.Context, i, p int, data []byte) error {
	n := int64(len(data))
	mark := !u.marked
	u.marked = true
	err := u.s.write(ctx, func(w *wtx) error {
		if err := w.quota(n); err != nil { // checks first: a failed op's writes still commit
			return err
		}
		if mark {
			if err := w.tx.Bucket(bUploads).Put([]byte(u.id), nil); err != nil {
				return err
			}
		}
		if err := w.tx.Bucket(bPieces).Put(pieceKey(u.id, i, p), data); err != nil {
			return err
		}
		w.d.bytes += n
		return nil
	}, nil)
	if err == nil {
		u.bytes += n
	}
	return err
}

// FileData reads back the contents of file i as stored so far (an encrypted upload is opened
// after it is stored: the key part may come last).
func (u *Upload) FileData(i int) ([]byte, error) {
	var out []byte
	err := u.s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = readPieces(tx, u.id, i, u.files[i])
		return err
	})
	return out, err
}

// Replace stores r as the contents of file i instead of what it holds (the plain text of an
// encrypted file). The old pieces are deleted first, so the upload never holds both.
func (u *Upload) Replace(ctx context.Context, i int, r io.Reader) error {
	fl := u.files[i]
	err := u.s.write(ctx, func(w *wtx) error {
		freed, err := dropFile(w.tx, u.id, i, fl.Pieces)
		w.d.bytes -= freed
		return err
	}, nil)
	if err != nil {
		return err
	}
	u.bytes -= fl.Size
	u.files[i].Pieces, u.files[i].Size = 0, 0
	return u.write(ctx, i, r)
}

// Files is the upload's files so far (sizes included), in order.
func (u *Upload) Files() []File { return u.files }

// Commit makes the upload a job, in one transaction that also removes its marker: with p nil
// it waits in preprocess for its parameters, as a job from Create. keyDigest and via as in
// NewJob. On error nothing of the job is visible and the upload is still to be aborted.
func (u *Upload) Commit(ctx context.Context, p *Params, keyDigest, via string) (*Job, error) {
	if u.done {
		return nil, errors.New("store: upload already committed or aborted")
	}
	s := u.s
	now := s.o.Now()
	j := &Job{ID: u.id, Device: u.device, State: Preprocess, Created: u.created, Updated: now, KeyDigest: keyDigest, Via: via, Files: u.files}
	j.Deadline = now.Add(s.o.Unparameterised)
	if p != nil {
		if err := s.applyParams(j, *p, now); err != nil {
			return nil, err
		}
	}
	meta := metaCost(j)
	j.Bytes = u.bytes + meta
	var post func()
	if j.State == Queued {
		post = s.notifyQueued(j.ID)
	}
	err := s.write(ctx, func(w *wtx) error {
		if w.tx.Bucket(bJobs).Get([]byte(j.ID)) != nil { // 128 random bits: never
			return fmt.Errorf("store: job id %s exists", j.ID)
		}
		// The files' bytes were charged as they landed: only the metadata is charged here.
		if err := w.insert(j, meta, true, nil); err != nil {
			return err
		}
		return w.tx.Bucket(bUploads).Delete([]byte(j.ID))
	}, post)
	if err != nil {
		return nil, err
	}
	u.done = true
	s.deviceJob(u.device, u.ip, j.Created)
	return j, nil
}

// Abort deletes what the upload stored and gives its bytes back to the quota. It is a no-op
// after Commit, and safe to call more than once.
func (u *Upload) Abort() {
	if u.done {
		return
	}
	u.done = true
	if !u.marked {
		return
	}
	err := u.s.write(context.Background(), func(w *wtx) error {
		freed, err := dropUpload(w.tx, u.id)
		w.d.bytes -= freed
		return err
	}, nil)
	if err != nil { // left for the sweep at the next Open
		u.s.log.Error("store: deleting an aborted upload", "id", u.id, "err", err)
	}
}

// readPieces joins file i's pieces (f.Pieces of them, f.Size bytes in all).
func readPieces(tx *bolt.Tx, id string, i int, f File) ([]byte, error) {
	out := make([]byte, 0, f.Size)
	b := tx.Bucket(bPieces)
	for p := range f.Pieces {
		v := b.Get(pieceKey(id, i, p))
		if v == nil {
			return nil, fmt.Errorf("store: job %s file %d: piece %d of %d is missing", id, i, p, f.Pieces)
		}
		out = append(out, v...)
	}
	if int64(len(out)) != f.Size {
		return nil, fmt.Errorf("store: job %s file %d: %d bytes in pieces, %d recorded", id, i, len(out), f.Size)
	}
	return out, nil
}

// dropFile deletes the n pieces of file i of job id and returns their bytes.
func dropFile(tx *bolt.Tx, id string, i, n int) (int64, error) {
	b := tx.Bucket(bPieces)
	var freed int64
	for p := range n {
		k := pieceKey(id, i, p)
		freed += int64(len(b.Get(k)))
		if err := b.Delete(k); err != nil {
			return freed, err
		}
	}
	return freed, nil
}

// dropPieces deletes the pieces of a stored job's files (remove).
func (w *wtx) dropPieces(j *Job) error {
	for i, f := range j.Files {
		if f.Pieces > 0 {
			if _, err := dropFile(w.tx, j.ID, i, f.Pieces); err != nil {
				return err
			}
		}
	}
	return nil
}

// dropUpload deletes every piece under id and its marker, and returns their bytes: an upload
// that was never committed, whose file list the store does not have.
func dropUpload(tx *bolt.Tx, id string) (int64, error) {
	b := tx.Bucket(bPieces)
	var keys [][]byte
	var freed int64
	c := b.Cursor()
	for k, v := c.Seek([]byte(id)); k != nil && len(k) == len(id)+6 && bytes.HasPrefix(k, []byte(id)); k, v = c.Next() {
		keys = append(keys, bytes.Clone(k))
		freed += int64(len(v))
	}
	for _, k := range keys { // not while iterating: a bbolt cursor skips after a Delete
		if err := b.Delete(k); err != nil {
			return freed, err
		}
	}
	return freed, tx.Bucket(bUploads).Delete([]byte(id))
}

// sweepUploads deletes the uploads a crash (or a failed Abort) left half-written, and takes
// their bytes off the stored count in meta. It runs in Open's transaction.
func sweepUploads(tx *bolt.Tx) (n int, freed int64, err error) {
	var ids []string
	if err := tx.Bucket(bUploads).ForEach(func(k, _ []byte) error {
		ids = append(ids, string(k))
		return nil
	}); err != nil {
		return 0, 0, err
	}
	for _, id := range ids {
		f, err := dropUpload(tx, id)
		freed += f
		if err != nil {
			return n, freed, err
		}
		n++
	}
	if freed != 0 {
		m := tx.Bucket(bMeta)
		if err := putInt(m, "bytes", getInt(m, "bytes")-freed); err != nil {
			return n, freed, err
		}
	}
	return n, freed, nil
}
