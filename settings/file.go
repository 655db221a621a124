package settings

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"multimsg/config"
	"multimsg/internal/atomicfile"
	"multimsg/provider/units"
	"multimsg/setting"
)

// MaxFile bounds a configuration file read, uploaded or written: a real one is a few KiB.
const MaxFile = 256 << 10

// Copy returns a deep copy of c (its service tables are pointers): c encoded and parsed back,
// which also checks that what would be written reads back.
func Copy(c *config.Config) (config.Config, error) {
	b, err := encode(c)
	if err != nil {
		return config.Config{}, err
	}
	return config.Parse(string(b), "(copy)")
}

func encode(c *config.Config) ([]byte, error) {
	var buf bytes.Buffer
	if err := c.Encode(&buf); err != nil {
		return nil, err
	}
	if buf.Len() > MaxFile {
		return nil, fmt.Errorf("the configuration would be %d bytes; at most %d", buf.Len(), MaxFile)
	}
	return buf.Bytes(), nil
}

// pageMark begins the first line of a file the page wrote: a file without it was written by
// hand, and is kept as .orig when the page replaces it (header).
const pageMark = "# Written by the multimsg admin page"

// header is the comment the page puts at the top of the file it writes: the page writes the
// whole file from the settings, so a person's comments are not carried over (as OpenWrt's UCI
// does); it says where the previous versions are, comments included.
func header(path string, at time.Time) string {
	base := filepath.Base(path)
	return pageMark + " (/admin/settings) on " + at.UTC().Format("2006-01-02 15:04:05Z") + ".\n" +
		"# The page writes the whole file from the settings: comments are not kept. The previous\n" +
		"# file is kept as " + base + ".bak, and the last one written by hand (with its comments) as\n" +
		"# " + base + ".orig. After an edit by hand: kill -HUP $(pidof multimsg), or restart.\n\n"
}

// writeFile replaces path with c so that a crash or power cut at any moment leaves the old file
// or the new one, never a mix: the old file is first kept as path.bak (and as path.orig when
// it was written by hand), then the new one, under header, is written to a temporary file in
// the same directory, fsync'd, renamed over path, and the directory fsync'd
// (internal/atomicfile). What is written is parsed back first.
func writeFile(path string, c *config.Config) error {
	b, err := encode(c)
	if err != nil {
		return err
	}
	b = append([]byte(header(path, time.Now())), b...)
	if _, err := config.Parse(string(b), path); err != nil {
		return fmt.Errorf("the configuration does not read back: %w", err)
	}
	// A write a crash cut short left its temporary file: the writer is the only one (Manager's
	// lock), so any such file is stale.
	stale, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+"*.tmp"))
	for _, f := range stale {
		os.Remove(f)
	}
	old, err := os.ReadFile(path)
	switch {
	case err == nil:
		if !bytes.HasPrefix(old, []byte(pageMark)) {
			if err := atomicfile.Write(path+".orig", old); err != nil {
				return fmt.Errorf("keeping the file written by hand as %s.orig: %w", path, err)
			}
		}
		if err := atomicfile.Write(path+".bak", old); err != nil {
			return fmt.Errorf("keeping the previous configuration as %s.bak: %w", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if err := atomicfile.Write(path, b); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// secretKeys lists the full keys of every secret in c: box keys and service tables.
func secretKeys(c *config.Config) []string {
	out := setting.SecretKeys(c)
	for _, u := range units.All() {
		for _, k := range setting.SecretKeys(c.Service(u.Name)) {
			out = append(out, u.Name+"."+k)
		}
	}
	return out
}

// getKey and setKey address a full key in c, a box key or one in a service's table.
func getKey(c *config.Config, key string) (string, error) {
	target, sub := locate(c, key)
	return setting.Get(target, sub)
}

func setKey(c *config.Config, key, val string) error {
	target, sub := locate(c, key)
	return setting.Set(target, sub, val)
}

func locate(c *config.Config, key string) (any, string) {
	name, rest, _ := strings.Cut(key, ".")
	if s := c.Service(name); s != nil && rest != "" {
		return s, rest
	}
	return c, key
}

// withoutSecrets returns a copy of c with every secret emptied (a backup by default).
func withoutSecrets(c *config.Config) (config.Config, error) {
	out, err := Copy(c)
	if err != nil {
		return out, err
	}
	for _, k := range secretKeys(&out) {
		if err := setKey(&out, k, ""); err != nil {
			return out, err
		}
	}
	return out, nil
}

// keepSecrets gives every secret left empty in next the value the same key has in cur (a
// restore from a backup without secrets).
func keepSecrets(next, cur *config.Config) {
	for _, k := range secretKeys(next) {
		if v, _ := getKey(next, k); v != "" {
			continue
		}
		if v, err := getKey(cur, k); err == nil && v != "" {
			_ = setKey(next, k, v) // a string field: cannot fail
		}
	}
}
