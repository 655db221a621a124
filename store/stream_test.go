package store

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"testing/iotest"

	bolt "go.etcd.io/bbolt"
)

// pattern is n bytes that differ from piece to piece, so a misplaced piece shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/PieceSize)
	}
	return b
}

// countPieces is how many pieces and upload markers the file holds.
func countPieces(t *testing.T, s *Store) (pieces, marked int) {
	t.Helper()
	err := s.db.View(func(tx *bolt.Tx) error {
		pieces = tx.Bucket(bPieces).Stats().KeyN
		marked = tx.Bucket(bUploads).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pieces, marked
}

func TestUploadInPieces(t *testing.T) {
	s := open(t, Options{Now: newClock().Now})
	big := pattern(3*PieceSize + 123)
	u := s.BeginUpload("aa:bb", "192.0.2.1")
	if err := u.AddFile(ctx, NewFile{Name: "big", Filename: "big.bin", MIME: "application/octet-stream"}, bytes.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	if err := u.AddFile(ctx, NewFile{Name: "empty"}, bytes.NewReader(nil)); err != nil {
		t.Fatal(err)
	}
	if err := u.AddFile(ctx, NewFile{Name: "small"}, iotest.OneByteReader(bytes.NewReader([]byte("hello")))); err != nil {
		t.Fatal(err)
	}
	// Before Commit nothing is visible, but the pieces are charged.
	if _, err := s.Get(u.id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an upload in progress is visible: %v", err)
	}
	if used, _ := s.Bytes(); used != int64(len(big))+5 {
		t.Errorf("charged %d bytes while writing, want %d", used, len(big)+5)
	}
	j, err := u.Commit(ctx, nil, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if j.State != Preprocess || j.Files[0].Pieces != 4 || j.Files[0].Size != int64(len(big)) || j.Files[1].Size != 0 {
		t.Fatalf("job = %+v", j)
	}
	u.Abort() // after Commit: nothing
	files, err := s.Data(j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(files[0].Data, big) || len(files[1].Data) != 0 || string(files[2].Data) != "hello" || files[0].Filename != "big.bin" {
		t.Fatalf("read back %d/%d/%q bytes", len(files[0].Data), len(files[1].Data), files[2].Data)
	}
	if used, _ := s.Bytes(); used != j.Bytes || j.Bytes <= int64(len(big))+5 {
		t.Errorf("charged %d, job says %d", used, j.Bytes)
	}
	if _, marked := countPieces(t, s); marked != 0 {
		t.Errorf("%d markers after commit", marked)
	}
	// Parameters and delivery work as for a job made by Create.
	if _, err := s.SetParams(ctx, j.ID, "aa:bb", params(3)); err != nil {
		t.Fatal(err)
	}
	// Removing the job (retention's path) removes its pieces and gives their bytes back.
	err = s.write(ctx, func(w *wtx) error {
		jj, err := getJob(w.tx, j.ID)
		if err != nil {
			return err
		}
		return w.remove(jj)
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pieces, _ := countPieces(t, s); pieces != 0 {
		t.Errorf("%d pieces left after the job was removed", pieces)
	}
	if used, _ := s.Bytes(); used != 0 {
		t.Errorf("%d bytes charged after the job was removed", used)
	}
}

func TestUploadAbortAndQuota(t *testing.T) {
	s := open(t, Options{Now: newClock().Now, Quota: 2*PieceSize + 4096})
	// A source that fails: a SourceError, and Abort gives everything back.
	u := s.BeginUpload("aa:bb", "")
	cut := io.MultiReader(bytes.NewReader(pattern(PieceSize+10)), iotest.ErrReader(io.ErrUnexpectedEOF)) // a body cut short, not its end
	var se *SourceError
	if err := u.AddFile(ctx, NewFile{Name: "f"}, cut); !errors.As(err, &se) {
		t.Fatalf("a failing source = %v, want a SourceError", err)
	}
	u.Abort()
	if used, _ := s.Bytes(); used != 0 {
		t.Errorf("%d bytes charged after Abort", used)
	}
	if p, m := countPieces(t, s); p != 0 || m != 0 {
		t.Errorf("%d pieces, %d markers after Abort", p, m)
	}
	// Over the quota: refused as its pieces land, not after the whole file was read.
	u = s.BeginUpload("aa:bb", "")
	src := &countingReader{r: bytes.NewReader(pattern(8 * PieceSize))}
	if err := u.AddFile(ctx, NewFile{Name: "f"}, src); !errors.Is(err, ErrQuota) {
		t.Fatalf("over the quota = %v, want ErrQuota", err)
	}
	if src.n > 3*PieceSize {
		t.Errorf("read %d bytes of a source the quota refused at 2 pieces", src.n)
	}
	u.Abort()
	if used, _ := s.Bytes(); used != 0 {
		t.Errorf("%d bytes charged after Abort", used)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// A crash in the middle of an upload: its pieces are durable, the job was never written. The
// next Open removes the pieces and gives their bytes back; nothing half-written is visible.
func TestUploadCutShortIsSwept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	kept := upload(t, s, "aa:bb", 1)
	usedBefore, _ := s.Bytes()
	u := s.BeginUpload("aa:bb", "")
	if err := u.AddFile(ctx, NewFile{Name: "f"}, bytes.NewReader(pattern(2*PieceSize+1))); err != nil {
		t.Fatal(err)
	}
	// The process dies here: no Commit, no Abort (Close only closes the file).
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if p, m := countPieces(t, s); p != 0 || m != 0 {
		t.Errorf("after reopening: %d pieces, %d markers", p, m)
	}
	if used, _ := s.Bytes(); used != usedBefore {
		t.Errorf("after reopening %d bytes charged, want %d (the job kept)", used, usedBefore)
	}
	if _, err := s.Get(u.id); !errors.Is(err, ErrNotFound) {
		t.Errorf("the cut-short upload is visible: %v", err)
	}
	if _, err := s.Get(kept.ID); err != nil {
		t.Errorf("the job stored before: %v", err)
	}
	if err := s.Check(); err != nil {
		t.Error(err)
	}
}

func TestUploadReplace(t *testing.T) {
	s := open(t, Options{Now: newClock().Now})
	u := s.BeginUpload("aa:bb", "")
	if err := u.AddFile(ctx, NewFile{Name: "f"}, bytes.NewReader(pattern(PieceSize+5))); err != nil {
		t.Fatal(err)
	}
	got, err := u.FileData(0)
	if err != nil || !bytes.Equal(got, pattern(PieceSize+5)) {
		t.Fatalf("FileData = %d bytes, %v", len(got), err)
	}
	if err := u.Replace(ctx, 0, bytes.NewReader([]byte("plain"))); err != nil {
		t.Fatal(err)
	}
	j, err := u.Commit(ctx, nil, "digest", "")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := s.Data(j.ID)
	if string(files[0].Data) != "plain" || j.Files[0].Size != 5 {
		t.Fatalf("after Replace: %q, size %d", files[0].Data, j.Files[0].Size)
	}
	if p, _ := countPieces(t, s); p != 1 {
		t.Errorf("%d pieces, want 1", p)
	}
	// The replay index applies as to Create.
	u = s.BeginUpload("aa:bb", "")
	_ = u.AddFile(ctx, NewFile{Name: "f"}, bytes.NewReader([]byte("x")))
	if _, err := u.Commit(ctx, nil, "digest", ""); !errors.Is(err, ErrReplay) {
		t.Errorf("a replayed key digest = %v, want ErrReplay", err)
	}
	u.Abort()
	if used, _ := s.Bytes(); used != j.Bytes {
		t.Errorf("%d charged, want %d", used, j.Bytes)
	}
}

// On data of schema 2 (a release before pieces may still be booted back) nothing is written in
// pieces; after UpgradeSchema it is.
func TestUploadNeedsSchema3(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	s, err := Open(path, Options{schema: 2})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Streams() {
		t.Fatal("Streams() on schema-2 data")
	}
	u := s.BeginUpload("aa:bb", "")
	if err := u.AddFile(ctx, NewFile{Name: "f"}, bytes.NewReader([]byte("x"))); err == nil {
		t.Fatal("a piece written to schema-2 data")
	}
	u.Abort()
	if err := s.UpgradeSchema(ctx); err != nil {
		t.Fatal(err)
	}
	if !s.Streams() {
		t.Fatal("no Streams() after UpgradeSchema")
	}
}
