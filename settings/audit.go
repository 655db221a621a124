package settings

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"multimsg/internal/atomicfile"
)

// Entry is one change of the configuration in the audit log: who, when, how, which keys —
// never a value (secrets' keys are named, their values never).
type Entry struct {
	At      time.Time `json:"at"`
	Who     string    `json:"who"`  // "admin from 192.0.2.7", "SIGHUP"
	How     string    `json:"how"`  // "page", "restore", "file"
	Keys    []string  `json:"keys"` // what changed
	Restart []string  `json:"restart,omitempty"`
	Err     string    `json:"error,omitempty"`
}

// auditKeep is how many entries the log keeps; the file is rewritten with the last auditKeep
// once it holds twice as many.
const auditKeep = 200

// maxEntry bounds one line of the file (an entry lists keys, never values).
const maxEntry = 16 << 10

// audit is the bounded, persisted log of changes, also written to the system log.
type audit struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex // guards entries, lines
	entries []Entry    // the last auditKeep, oldest first
	lines   int        // lines in the file
}

func openAudit(path string, log *slog.Logger) *audit {
	a := &audit{path: path, log: log}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Warn("settings: audit log unreadable; starting a new one", "path", path, "err", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, maxEntry)
	for sc.Scan() {
		var e Entry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			a.entries = append(a.entries, e)
			a.lines++
		}
	}
	if len(a.entries) > auditKeep {
		a.entries = a.entries[len(a.entries)-auditKeep:]
	}
	return a
}

// add records e in the system log and the file.
func (a *audit) add(e Entry) {
	msg := "audit: settings changed"
	if e.How == "restart" {
		msg = "audit: service restart"
	}
	a.log.Info(msg, "who", e.Who, "how", e.How, "keys", strings.Join(e.Keys, ","),
		"at_next_start", strings.Join(e.Restart, ","), "err", e.Err)
	line, _ := json.Marshal(e)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, e)
	if len(a.entries) > auditKeep {
		a.entries = a.entries[len(a.entries)-auditKeep:]
	}
	if a.lines+1 >= 2*auditKeep {
		var buf bytes.Buffer
		for _, x := range a.entries {
			b, _ := json.Marshal(x)
			buf.Write(append(b, '\n'))
		}
		if err := atomicfile.Write(a.path, buf.Bytes()); err != nil {
			a.log.Error("settings: rewriting the audit log", "err", err)
			return
		}
		a.lines = len(a.entries)
		return
	}
	f, err := os.OpenFile(a.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err == nil {
		_, err = f.Write(append(line, '\n'))
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		a.log.Error("settings: writing the audit log", "err", err)
		return
	}
	a.lines++
}

// last returns up to n entries, newest first.
func (a *audit) last(n int) []Entry {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Entry, 0, n)
	for i := len(a.entries) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, a.entries[i])
	}
	return out
}
