package store

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewIDSortsByCreation(t *testing.T) {
	var ids []string
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 0; i < 50; i++ {
		ids = append(ids, newIDAt(at))
		if i%10 == 9 {
			at = at.Add(time.Duration(i) * time.Millisecond) // later, by more and more
		}
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !ValidID(id) || len(id) != idLen {
			t.Fatalf("newID() = %q, not a valid %d-character id", id, idLen)
		}
		if seen[id] {
			t.Fatalf("newID() repeated %q", id)
		}
		seen[id] = true
	}
	for i := 10; i < len(ids); i += 10 {
		if ids[i-1][:idTimeLen] >= ids[i][:idTimeLen] {
			t.Errorf("time prefix of %q (later) does not sort after %q", ids[i], ids[i-1])
		}
	}
	if !slices.IsSorted([]byte(sortable)) {
		t.Errorf("sortable alphabet %q is not in byte order", sortable)
	}
}

func TestValidIDForms(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{newID(), true},
		{strings.Repeat("A", oldIDLen), true}, // ids made before the time prefix
		{strings.Repeat("A", idLen), true},
		{strings.Repeat("A", idLen-1), false},
		{strings.Repeat("A", idLen+1), false},
		{"", false},
		{strings.Repeat("A", idLen-1) + "=", false},
		{strings.Repeat("A", idLen-1) + "/", false},
		{"../../../../etc/passwd/aaaaaaaaaa", false},
	} {
		if got := ValidID(tc.in); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
