package web

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadLimited checks readLimited against what it replaced (io.ReadAll of at most n+1
// bytes), through readers that return little at a time or data with io.EOF.
func TestReadLimited(t *testing.T) {
	readers := map[string]func(io.Reader) io.Reader{
		"plain":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+EOF": iotest.DataErrReader,
	}
	for _, size := range []int{0, 1, 511, 512, 1000, 1024, 4096, 20000, 70000} {
		for _, limit := range []int{0, 1, 1000, 1024, 65536, 1 << 20} {
			for name, wrap := range readers {
				in := bytes.Repeat([]byte("abcdefghij"), size/10+1)[:size]
				scratch := make([]byte, 0, 100) // small: readLimited must grow it
				got, err := readLimited(wrap(bytes.NewReader(in)), limit, &scratch)
				if size > limit {
					if err == nil {
						t.Errorf("%s: readLimited(%d bytes, %d) = %d bytes, want an error", name, size, limit, len(got))
					}
					continue
				}
				if err != nil || !bytes.Equal(got, in) {
					t.Errorf("%s: readLimited(%d bytes, %d) = %d bytes, %v; want the input", name, size, limit, len(got), err)
				}
				// the result is a copy: reusing scratch must not change it
				for i := range scratch[:cap(scratch)] {
					scratch[:cap(scratch)][i] = 'X'
				}
				if !bytes.Equal(got, in) {
					t.Errorf("%s: readLimited(%d bytes) result shares memory with scratch", name, size)
				}
			}
		}
	}
	boom := errors.New("boom")
	scratch := []byte(nil)
	if _, err := readLimited(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(boom)), 100, &scratch); !errors.Is(err, boom) {
		t.Errorf("readLimited(failing reader) error = %v, want %v", err, boom)
	}
}
