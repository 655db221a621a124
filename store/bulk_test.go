package store

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

func TestBulkLoad(t *testing.T) {
	s := open(t, Options{Quota: 10000})
	var mu sync.Mutex
	var woke []string
	s.OnQueued(func(id string) { mu.Lock(); woke = append(woke, id); mu.Unlock() })
	jobs := []NewJob{
		{Device: "d", Files: []NewFile{{Name: "a", Data: []byte("one")}}},
		{Device: "d", Files: []NewFile{{Name: "b", Data: []byte("two")}}, Params: ptr(params(1))},
		{Device: "e", Files: []NewFile{{Name: "c", Data: []byte("three")}, {Name: "d", Data: []byte("four")}}},
	}
	ids, err := s.BulkLoad(ctx, jobs)
	if err != nil || len(ids) != len(jobs) {
		t.Fatalf("BulkLoad = %v, %v", ids, err)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i][:idTimeLen] < ids[i-1][:idTimeLen] { // within one millisecond: any order
			t.Errorf("ids %v are not in creation order", ids)
		}
	}
	for i, id := range ids {
		j, err := s.View(id, jobs[i].Device)
		if err != nil {
			t.Fatalf("View(%s) = %v", id, err)
		}
		want := Preprocess
		if jobs[i].Params != nil {
			want = Queued
		}
		if j.State != want {
			t.Errorf("job %d state = %s, want %s", i, j.State, want)
		}
		files, err := s.Data(id)
		if err != nil || len(files) != len(jobs[i].Files) {
			t.Fatalf("Data(%s) = %v, %v", id, files, err)
		}
		for k, f := range files {
			if string(f.Data) != string(jobs[i].Files[k].Data) {
				t.Errorf("Data(%s)[%d] = %q, want %q", id, k, f.Data, jobs[i].Files[k].Data)
			}
		}
	}
	if mu.Lock(); !slices.Equal(woke, ids[1:2]) {
		t.Errorf("OnQueued calls = %v, want [%s]", woke, ids[1])
	}
	mu.Unlock()
	counts, _ := s.Counts()
	if counts[Preprocess] != 2 || counts[Queued] != 1 {
		t.Errorf("counts = %v, want 2 preprocess, 1 queued", counts)
	}
	var charged int64 // every job's files and metadata
	for _, id := range ids {
		j, _ := s.Get(id)
		charged += j.Bytes
	}
	if used, _ := s.Bytes(); used != charged || used <= 3+3+5+4 {
		t.Errorf("bytes used = %d, want %d: the jobs' files (%d bytes) and their metadata", used, charged, 3+3+5+4)
	}

	// All or nothing: one job over the quota stores none of them.
	var over []NewJob
	for i := 0; i < 10; i++ {
		over = append(over, NewJob{Device: "d", Files: []NewFile{{Name: fmt.Sprint(i), Data: make([]byte, 1000)}}})
	}
	if _, err := s.BulkLoad(ctx, over); !errors.Is(err, ErrQuota) {
		t.Fatalf("BulkLoad over the quota = %v, want ErrQuota", err)
	}
	if c, _ := s.Counts(); c[Preprocess] != 2 {
		t.Errorf("after a refused BulkLoad, preprocess = %d, want 2", c[Preprocess])
	}
	if used, _ := s.Bytes(); used != charged {
		t.Errorf("after a refused BulkLoad, bytes used = %d, want %d", used, charged)
	}
}
