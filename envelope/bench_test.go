package envelope

import (
	"crypto/rand"
	"testing"
)

// BenchmarkUnwrap is the RSA-3072 private-key operation every encrypted upload costs.
func BenchmarkUnwrap(b *testing.B) {
	k := testKey(b)
	s, err := NewSealer(k.Public())
	if err != nil {
		b.Fatal(err)
	}
	w := s.WrappedKey()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Unwrap(w); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkOpen(b *testing.B, size int) {
	k := testKey(b)
	s, err := NewSealer(k.Public())
	if err != nil {
		b.Fatal(err)
	}
	o, err := k.Unwrap(s.WrappedKey())
	if err != nil {
		b.Fatal(err)
	}
	plain := make([]byte, size)
	rand.Read(plain)
	sealed := s.Seal(plain)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.Open("f", sealed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen1MB(b *testing.B) { benchmarkOpen(b, 1<<20) }
func BenchmarkOpen1KB(b *testing.B) { benchmarkOpen(b, 1<<10) }

func BenchmarkSeal1MB(b *testing.B) {
	s, err := NewSealer(testKey(b).Public())
	if err != nil {
		b.Fatal(err)
	}
	plain := make([]byte, 1<<20)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		s.Seal(plain)
	}
}

// BenchmarkNewSealer is the client's RSA public-key operation per upload.
func BenchmarkNewSealer(b *testing.B) {
	pub := testKey(b).Public()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewSealer(pub); err != nil {
			b.Fatal(err)
		}
	}
}
