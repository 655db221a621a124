package client

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"multimsg/provider"
)

// MaxFileSize bounds what ReadFiles reads of one file, so a mistyped path (a device,
// a huge log) fails at once instead of filling memory; the box has its own, usually
// smaller, limit (413).
const MaxFileSize = 64 << 20

// ReadFiles reads the files at paths as the files of one job: each one's form field and
// filename is its base name, its content type comes from the extension or, failing
// that, from its first bytes.
func ReadFiles(paths []string) ([]File, error) {
	files := make([]File, 0, len(paths))
	seen := make(map[string]string, len(paths))
	for _, p := range paths {
		name := filepath.Base(p)
		if prev, ok := seen[name]; ok {
			return nil, fmt.Errorf("%w: %s and %s have the same name %q, which the box uses to tell files apart; rename one", ErrFile, prev, p, name)
		}
		seen[name] = p
		data, err := readLimited(p)
		if err != nil {
			return nil, err
		}
		ct := mime.TypeByExtension(filepath.Ext(name))
		if ct == "" {
			ct = http.DetectContentType(data)
		}
		files = append(files, File{Field: name, Filename: name, ContentType: ct, Data: data})
	}
	return files, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		switch {
		case fi.IsDir():
			return nil, fmt.Errorf("%w: %s is a directory", ErrFile, path)
		case fi.Mode().IsRegular() && fi.Size() > MaxFileSize:
			return nil, fmt.Errorf("%w: %s is larger than %d MiB", ErrFile, path, MaxFileSize>>20)
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d MiB", ErrFile, path, MaxFileSize>>20)
	}
	return data, nil
}

// ParseTypes turns "name=type" arguments (the -type flags of multimsg send) into a
// `type` map.
func ParseTypes(args []string) (map[string]string, error) {
	types := make(map[string]string, len(args))
	for _, a := range args {
		name, typ, ok := strings.Cut(a, "=")
		if !ok || name == "" || typ == "" {
			return nil, fmt.Errorf("-type %q: want name=type, e.g. report.pdf=file", a)
		}
		if _, dup := types[name]; dup {
			return nil, fmt.Errorf("-type %q: %q given twice", a, name)
		}
		types[name] = typ
	}
	return types, nil
}

// CompleteTypes returns the `type` map for files sent with service: the types given,
// checked to name files of the job, and a guess (GuessType) for every other file.
func CompleteTypes(service string, files []File, given map[string]string) (map[string]string, error) {
	types := make(map[string]string, len(files))
	fields := make(map[string]bool, len(files))
	for _, f := range files {
		fields[f.Field] = true
		if t, ok := given[f.Field]; ok {
			types[f.Field] = t
		} else {
			types[f.Field] = GuessType(service, f, len(files))
		}
	}
	for name := range given {
		if !fields[name] {
			return nil, fmt.Errorf("%w: %q", ErrType, name)
		}
	}
	return types, nil
}

// ServiceTypes are the types each service takes (SPEC §1, types by service): the protocol a
// client speaks. TestServiceTypes holds them to the box's own services.
var ServiceTypes = map[string][]string{
	"mail": {"text", "html", "file"},
	"wpp1": {"text", "image", "audio", "video", "document"},
	"sms":  {"text"},
	// webhook: a JSON document posted, signed, to the box's configured URL (docs/SMS.md)
	"webhook": {"json"},
}

// GuessType is the type the box itself would give f on service (provider.TypeFor, the rule of
// POST /send): on mail, a text file is the body (text or html) and anything else an
// attachment; on WhatsApp, media by content type, else a document; on SMS, text. For an
// unknown service, or a file no type fits, it returns "file"; the box will say what it takes.
// n is the number of files in the job.
func GuessType(service string, f File, n int) string {
	if t, ok := provider.TypeFor(ServiceTypes[service], f.ContentType, f.Filename, n); ok {
		return t
	}
	return "file"
}
