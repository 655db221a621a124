package web

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"multimsg/store"
)

// FuzzStreamParts holds the streamed /data parser (streamParts over a store.Upload) to what a
// body read whole gives (parseMultipartSlow): the same files, names, types and contents, the
// same key, and a refusal where it refuses. It never stores more than the limits allow, and a
// refused upload leaves nothing charged once aborted.
func FuzzStreamParts(f *testing.F) {
	for _, b := range formSeeds {
		f.Add(b)
	}
	f.Add(multipartBody([4]string{"big", "b.bin", "", string(bytes.Repeat([]byte("x"), 5000))}))
	f.Add(multipartBody([4]string{"a", "a", "", "1"}, [4]string{"b", "b", "", "2"}, [4]string{"c", "", "", "3"},
		[4]string{"d", "", "", "4"}, [4]string{"e", "", "", "5"}))
	st, err := store.Open(filepath.Join(f.TempDir(), "fuzz.db"), store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	lim := Limits{MaxBody: 4096, MaxFiles: 4, MaxField: 1024}
	const max = 4096 + 512
	ct := "multipart/form-data; boundary=" + fuzzBoundary
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte) {
		u := st.BeginUpload("aa:bb", "")
		key, err := streamParts(ctx, ct, lim, &limitedBody{r: bytes.NewReader(body), max: max, left: max}, u)
		var whole *form
		var werr error
		if len(body) > max {
			werr = errors.New("too large")
		} else {
			whole, werr = parseMultipartSlow(body, fuzzBoundary, lim, false)
			if werr == nil && len(whole.files) == 0 {
				werr = errors.New("no files")
			}
			if werr == nil && len(whole.key) > maxKeyPart {
				werr = errors.New("key too large")
			}
		}
		defer func() {
			u.Abort()
			if used, _ := st.Bytes(); used != 0 {
				t.Fatalf("%d bytes charged after Abort", used)
			}
		}()
		if (err == nil) != (werr == nil) {
			// mime/multipart may tell a body cut short before or after the last part it
			// read whole; the streamed parser reads one part fewer then. Both refuse some
			// bodies the other takes only where the key limit differs (not here: MaxBody <
			// maxKeyPart and keys over MaxBody are refused whole).
			t.Fatalf("streamed: %v; read whole: %v", err, werr)
		}
		if err != nil {
			return
		}
		files := u.Files()
		if len(files) != len(whole.files) || !bytes.Equal(key, whole.key) {
			t.Fatalf("streamed %d files, key %q; read whole %d, key %q", len(files), key, len(whole.files), whole.key)
		}
		for i, w := range whole.files {
			got, err := u.FileData(i)
			if err != nil {
				t.Fatal(err)
			}
			g := files[i]
			if g.Name != w.Name || g.Filename != w.Filename || g.MIME != w.MIME || !bytes.Equal(got, w.Data) || g.Size != int64(len(w.Data)) {
				t.Fatalf("file %d: streamed %q %q %q %d bytes; read whole %q %q %q %d bytes", i, g.Name, g.Filename, g.MIME, len(got), w.Name, w.Filename, w.MIME, len(w.Data))
			}
		}
	})
}
