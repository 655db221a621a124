package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSchemaReadsPrevious opens a data file written by the release before the schema was
// recorded (testdata/schema1.db, made with that release's store) and finds its jobs; the
// version on disk moves only with UpgradeSchema.
func TestSchemaReadsPrevious(t *testing.T) {
	src, err := os.ReadFile("testdata/schema1.db")
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := os.ReadFile("testdata/schema1.ids")
	path := filepath.Join(t.TempDir(), "multimsg.db")
	os.WriteFile(path, src, 0o600)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open(schema 1 data) = %v", err)
	}
	if stored, cur := s.Schema(); stored != 1 || cur != SchemaVersion {
		t.Errorf("Schema() = %d, %d; want 1, %d", stored, cur, SchemaVersion)
	}
	want := map[string]State{}
	lines := strings.Fields(string(ids))
	want[lines[0]], want[lines[1]] = Preprocess, Queued
	for id, st := range want {
		j, err := s.Get(id)
		if err != nil || j.State != st {
			t.Errorf("Get(%s) on schema 1 data = %v, %v; want %s", id, j, err, st)
		}
	}
	if err := s.Check(); err != nil {
		t.Errorf("consistency: %v", err)
	}
	if err := s.UpgradeSchema(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if stored, _ := s.Schema(); stored != SchemaVersion {
		t.Errorf("after UpgradeSchema and reopening, the data is schema %d, want %d", stored, SchemaVersion)
	}
}

// TestSchemaRefusesNewer: the previous version (N−1) started on this version's data, and this
// version on the next one's, refuse clearly and leave the file as it was.
func TestSchemaRefusesNewer(t *testing.T) {
	for _, c := range []struct {
		name           string
		writer, reader int64
	}{
		{"N-1 on N", SchemaVersion, SchemaVersion - 1},
		{"N on N+1", SchemaVersion + 1, SchemaVersion},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "multimsg.db")
			s, err := Open(path, Options{schema: c.writer})
			if err != nil {
				t.Fatal(err)
			}
			upload(t, s, "aa:bb:cc:dd:ee:01", 1)
			s.Close()
			before, _ := os.ReadFile(path)
			_, err = Open(path, Options{schema: c.reader})
			var se *SchemaError
			if !errors.Is(err, ErrSchemaNewer) || !errors.As(err, &se) || se.Stored != c.writer || se.Supported != c.reader {
				t.Fatalf("Open(schema %d data) by version %d = %v, want a SchemaError", c.writer, c.reader, err)
			}
			if !strings.Contains(err.Error(), "newer multimsg") {
				t.Errorf("error %q does not say a newer multimsg wrote the data", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Errorf("refusing the data changed the file")
			}
		})
	}
}

func TestSchemaFresh(t *testing.T) {
	s := open(t, Options{})
	if stored, cur := s.Schema(); stored != cur {
		t.Errorf("a new store is schema %d, want %d", stored, cur)
	}
}
