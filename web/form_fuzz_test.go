package web

import (
	"bytes"
	"mime/multipart"
	"testing"
	"unicode/utf8"
)

func seedMultipart(parts map[string]string, key bool) []byte {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.SetBoundary("XyZzY")
	for k, v := range parts {
		w, _ := mw.CreateFormFile(k, k+".txt")
		w.Write([]byte(v))
	}
	if key {
		w, _ := mw.CreateFormFile("key", "key")
		w.Write([]byte("wrapped"))
	}
	mw.WriteField("serv", "mail")
	mw.Close()
	return b.Bytes()
}

// FuzzParseMultipart: no input panics; what parses respects the limits, and every file it
// returns is a copy within them.
func FuzzParseMultipart(f *testing.F) {
	f.Add(seedMultipart(map[string]string{"a": "hello"}, false), true)
	f.Add(seedMultipart(map[string]string{"a": "x", "b": "y"}, true), false)
	f.Add([]byte("--XyZzY\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--XyZzY--\r\n"), true)
	f.Add([]byte("--XyZzY\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nv\r\n--XyZzY--"), false)
	f.Add([]byte("garbage"), false)
	lim := Limits{MaxBody: 1 << 10, MaxFiles: 3, MaxField: 64}
	f.Fuzz(func(t *testing.T, body []byte, params bool) {
		keep := append([]byte(nil), body...)
		fm, err := parseMultipart(`multipart/form-data; boundary="XyZzY"`, body, lim, params)
		if !bytes.Equal(body, keep) {
			t.Fatal("parseMultipart changed its input")
		}
		if err != nil {
			if st, msg := classify(err); st != 400 && st != 413 && st != 415 || msg == "" {
				t.Fatalf("error %v classified as %d %q", err, st, msg)
			}
			return
		}
		if len(fm.files) > lim.MaxFiles {
			t.Fatalf("%d files, limit %d", len(fm.files), lim.MaxFiles)
		}
		for _, fl := range fm.files {
			if len(fl.Data) > lim.MaxBody || fl.Name == "" || len(fl.Name) > maxNameLen || !utf8.ValidString(fl.Name) {
				t.Fatalf("file %q (%d bytes) escapes the limits", fl.Name, len(fl.Data))
			}
			if params && paramFields[fl.Name] {
				t.Fatalf("parameter %q returned as a file", fl.Name)
			}
		}
		for k, v := range fm.fields {
			if len(v) > lim.MaxField || !paramFields[k] {
				t.Fatalf("field %q (%d bytes) escapes the limits", k, len(v))
			}
		}
	})
}

// FuzzParseTypesInfo: type and info JSON never panic; accepted values round-trip.
func FuzzParseTypesInfo(f *testing.F) {
	for _, s := range []string{`{"a":"text"}`, `{"a":"text","b":"file"}`, `{}`, `null`, `[]`, `{"a":1}`, `"x"`, `{"subject":"hi","cc":["a@b"]}`, ``, `{"a":"text"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if m, err := parseTypes(s); err == nil {
			if m == nil {
				t.Fatal("parseTypes accepted input and returned nil")
			}
		} else if st, _ := classify(err); st != 400 {
			t.Fatalf("parseTypes error classified %d", st)
		}
		m, raw, err := parseInfo(s)
		if err != nil {
			if st, _ := classify(err); st != 400 {
				t.Fatalf("parseInfo error classified %d", st)
			}
			return
		}
		if m != nil {
			m2, raw2, err := parseInfo(string(raw))
			if err != nil || len(m2) != len(m) || !bytes.Equal(raw, raw2) {
				t.Fatalf("info does not round-trip: %q → %q → %q (%v)", s, raw, raw2, err)
			}
		}
	})
}
