package client

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"multimsg/provider"
	"multimsg/provider/units"
)

func TestReadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) string {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	txt := write("msg", "hola\n")
	png := write("img.png", "\x89PNG\r\n\x1a\n....")
	files, err := ReadFiles([]string{txt, png})
	if err != nil {
		t.Fatal(err)
	}
	if files[0].Field != "msg" || files[0].Filename != "msg" || !strings.HasPrefix(files[0].ContentType, "text/plain") || string(files[0].Data) != "hola\n" {
		t.Errorf("ReadFiles(msg) = %+v", files[0])
	}
	if files[1].Field != "img.png" || files[1].ContentType != "image/png" {
		t.Errorf("ReadFiles(img.png) = field %q type %q", files[1].Field, files[1].ContentType)
	}

	if _, err := ReadFiles([]string{txt, write("sub/msg", "x")}); !errors.Is(err, ErrFile) {
		t.Errorf("ReadFiles(two files named msg) = %v, want ErrFile", err)
	}
	if _, err := ReadFiles([]string{dir}); !errors.Is(err, ErrFile) {
		t.Errorf("ReadFiles(directory) = %v, want ErrFile", err)
	}
	if _, err := ReadFiles([]string{filepath.Join(dir, "nope")}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFiles(missing) = %v, want ErrNotExist", err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, MaxFileSize+1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	if _, err := ReadFiles([]string{big}); !errors.Is(err, ErrFile) {
		t.Errorf("ReadFiles(too big) = %v, want ErrFile", err)
	}
}

func TestParseTypes(t *testing.T) {
	got, err := ParseTypes([]string{"a.txt=text", "b=file=x"})
	if err != nil || got["a.txt"] != "text" || got["b"] != "file=x" {
		t.Errorf("ParseTypes = %v, %v", got, err)
	}
	for _, bad := range [][]string{{"a"}, {"=text"}, {"a="}, {"a=text", "a=html"}} {
		if _, err := ParseTypes(bad); err == nil {
			t.Errorf("ParseTypes(%q) = nil error", bad)
		}
	}
}

func TestCompleteTypes(t *testing.T) {
	files := []File{
		{Field: "body.txt", ContentType: "text/plain; charset=utf-8"},
		{Field: "page.html", ContentType: "text/html"},
		{Field: "cam.jpg", ContentType: "image/jpeg"},
		{Field: "clip", ContentType: "video/mp4"},
		{Field: "r.pdf", ContentType: "application/pdf"},
	}
	tests := []struct {
		service string
		given   map[string]string
		want    map[string]string
	}{
		{"mail", nil, map[string]string{"body.txt": "text", "page.html": "html", "cam.jpg": "file", "clip": "file", "r.pdf": "file"}},
		{"mail", map[string]string{"page.html": "file"}, map[string]string{"body.txt": "text", "page.html": "file", "cam.jpg": "file", "clip": "file", "r.pdf": "file"}},
		{"wpp1", nil, map[string]string{"body.txt": "text", "page.html": "document", "cam.jpg": "image", "clip": "video", "r.pdf": "document"}},
		{"sms", nil, map[string]string{"body.txt": "text", "page.html": "text", "cam.jpg": "text", "clip": "text", "r.pdf": "text"}},
	}
	for _, tt := range tests {
		got, err := CompleteTypes(tt.service, files, tt.given)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("CompleteTypes(%s, %v)[%s] = %q, want %q", tt.service, tt.given, k, got[k], v)
			}
		}
	}
	if _, err := CompleteTypes("mail", files, map[string]string{"ghost": "text"}); !errors.Is(err, ErrType) {
		t.Errorf("CompleteTypes(type for a missing file) = %v, want ErrType", err)
	}
}

func TestParseInfo(t *testing.T) {
	if m, err := ParseInfo(""); m != nil || err != nil {
		t.Errorf("ParseInfo(\"\") = %v, %v", m, err)
	}
	if m, err := ParseInfo(`{"subject":"x","n":1}`); err != nil || m["subject"] != "x" {
		t.Errorf("ParseInfo = %v, %v", m, err)
	}
	for _, bad := range []string{"null", "[1]", `"s"`, "{", "subject=x"} {
		if _, err := ParseInfo(bad); err == nil {
			t.Errorf("ParseInfo(%q) = nil error", bad)
		}
	}
}

// TestServiceTypes: the client's table of types is the box's own, service by service.
func TestServiceTypes(t *testing.T) {
	env := provider.Env{DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler), OnClose: func(func() error) {}}
	for _, u := range units.All() {
		s, err := u.New().Build(env)
		if err != nil {
			t.Fatalf("%s: Build(defaults) = %v", u.Name, err)
		}
		if got := ServiceTypes[u.Name]; !slices.Equal(got, s.Types) {
			t.Errorf("ServiceTypes[%s] = %q, the box's service takes %q", u.Name, got, s.Types)
		}
	}
}

// TestGuessTypeIsTheBoxRule: with no content type, a lone file is the text, as POST /send says.
func TestGuessTypeIsTheBoxRule(t *testing.T) {
	f := File{Field: "note", Filename: "note"}
	if got := GuessType("wpp1", f, 1); got != "text" {
		t.Errorf("GuessType(wpp1, no content type, alone) = %q, want text", got)
	}
	if got := GuessType("wpp1", File{Field: "x", Filename: "x.png"}, 2); got != "image" {
		t.Errorf("GuessType(wpp1, x.png) = %q, want image (by extension)", got)
	}
	if got := GuessType("fax", f, 1); got != "file" {
		t.Errorf("GuessType(unknown service) = %q, want file", got)
	}
}
