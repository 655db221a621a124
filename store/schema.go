package store

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout of the data this version writes. Both root slots of the box share
// the data partition (SPEC §12), so a version must read the data of the version before it
// (N reads N−1: a new release starts on the old data) and must refuse data of a later version
// (N−1 booted back after a failed update, or an older card) instead of misreading it.
//
//	1  releases before the version was recorded (no "schema" key)
//	2  the same layout, version recorded
//	3  files of streamed uploads kept in pieces (buckets "pieces", "uploads"; File.Pieces):
//	   a version-2 release would read such a file as empty, so pieces are written only to
//	   data already at 3 (Store.Streams)
//
// A version raises the number on disk only with UpgradeSchema, which the gateway calls once the
// new release is committed (its slot marked good): until then a fallback to the previous
// release finds data it can still open.
const SchemaVersion = 3

// schemaKey holds the version in the meta bucket.
const schemaKey = "schema"

// SchemaError says the data was written by a later version; it unwraps to ErrSchemaNewer.
type SchemaError struct {
	Path      string
	Stored    int64 // the data's schema version
	Supported int64 // the newest this version reads
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("store: %s holds data of schema version %d, written by a newer multimsg; this version reads up to %d and leaves it untouched (run the newer release, or restore a backup of the data partition)",
		e.Path, e.Stored, e.Supported)
}

func (e *SchemaError) Unwrap() error { return ErrSchemaNewer }

// readSchema is the data's schema version (1 when unrecorded: data of the first releases, or
// a new file, which checkSchema then stamps).
func readSchema(tx *bolt.Tx) (v int64, fresh bool) {
	m := tx.Bucket(bMeta)
	if m == nil {
		return 1, tx.Bucket(bJobs) == nil
	}
	if v = getInt(m, schemaKey); v == 0 {
		return 1, false
	}
	return v, false
}

// checkSchema refuses a newer schema before anything is written to the file.
func checkSchema(db *bolt.DB, path string, supported int64) (stored int64, fresh bool, err error) {
	err = db.View(func(tx *bolt.Tx) error {
		stored, fresh = readSchema(tx)
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("store: reading the schema version of %s: %w", path, err)
	}
	if stored > supported {
		return stored, fresh, &SchemaError{Path: path, Stored: stored, Supported: supported}
	}
	return stored, fresh, nil
}

// Schema reports the data's schema version and the one this version writes.
func (s *Store) Schema() (stored, current int64) {
	return s.schema.Load(), s.o.schema
}

// UpgradeSchema records this version's schema in the data: from then on an older version
// refuses it. Call it once the running release is committed (see SchemaVersion).
func (s *Store) UpgradeSchema(ctx context.Context) error {
	stored, current := s.Schema()
	if stored >= current {
		return nil
	}
	err := s.write(ctx, func(w *wtx) error {
		return putInt(w.tx.Bucket(bMeta), schemaKey, current)
	}, nil)
	if err != nil {
		return fmt.Errorf("store: upgrading the schema to %d: %w", current, err)
	}
	s.schema.Store(current)
	s.log.Info("store: data schema upgraded", "from", stored, "to", current)
	return nil
}
