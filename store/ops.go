package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// NewFile is one uploaded file.
type NewFile struct {
	Name     string
	Filename string
	MIME     string
	Data     []byte
}

// Params are a job's delivery parameters, already checked by the provider registry.
type Params struct {
	Service string
	Sender  string
	Dest    string
	Info    json.RawMessage
	Types   []string      // one per file, in file order
	TTL     time.Duration // 0: the store's default
}

// NewJob is an upload: its files, its owner, and (for /send) its parameters.
type NewJob struct {
	Device string
	IP     string
	Files  []NewFile
	Params *Params // nil: the job waits in preprocess for /msg
	// KeyDigest, for an encrypted upload, is a digest of its wrapped key (web: SHA-256, hex). A
	// second upload with the same digest is refused (ErrReplay) for as long as the first job is
	// kept: a copy of a device's encrypted upload, captured on the LAN, cannot be sent again.
	KeyDigest string
	// Via: see Job.Via.
	Via string
}

// Create stores a new job durably and returns it; the id is valid once Create returns.
func (s *Store) Create(ctx context.Context, n NewJob) (*Job, error) {
	j, err := s.newJob(n)
	if err != nil {
		return nil, err
	}
	var post func()
	if j.State == Queued {
		post = s.notifyQueued(j.ID)
	}
	if err := s.write(ctx, func(w *wtx) error { return w.create(j, n.Files, true) }, post); err != nil {
		return nil, err
	}
	s.deviceJob(n.Device, n.IP, j.Created)
	return j, nil
}

// CreateAll stores several new jobs in one transaction, all or none, and returns their ids in
// order: an e-mail to several recipients (mailin) is one job per recipient, and the device is
// told 250 only when every one of them is durable. The quota and the per-device cap on jobs in
// preprocess apply as in Create.
func (s *Store) CreateAll(ctx context.Context, ns []NewJob) ([]string, error) {
	return s.createAll(ctx, ns, true)
}

// BulkLoad stores many jobs in one transaction and returns their ids, in order. It exists for
// tests and benchmarks that need a large store quickly (a million jobs for the /cons lookup
// figures); the request path uses Create. It is all or nothing: one job that cannot be stored
// (the quota) stores none. The cap on a device's jobs in preprocess does not apply.
func (s *Store) BulkLoad(ctx context.Context, ns []NewJob) ([]string, error) {
	return s.createAll(ctx, ns, false)
}

func (s *Store) createAll(ctx context.Context, ns []NewJob, capped bool) ([]string, error) {
	jobs := make([]*Job, len(ns))
	for i, n := range ns {
		j, err := s.newJob(n)
		if err != nil {
			return nil, err
		}
		jobs[i] = j
	}
	var queued []string
	for _, j := range jobs {
		if j.State == Queued {
			queued = append(queued, j.ID)
		}
	}
	post := func() {
		for _, id := range queued {
			s.notifyQueued(id)()
		}
	}
	var total int64
	for _, j := range jobs {
		total += j.Bytes
	}
	err := s.write(ctx, func(w *wtx) error {
		// The quota for all of them first: a write that fails must change nothing.
		if err := w.quota(total); err != nil {
			return err
		}
		for i, j := range jobs {
			if err := w.create(j, ns[i].Files, capped); err != nil {
				return err
			}
		}
		return nil
	}, post)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
		s.deviceJob(ns[i].Device, ns[i].IP, j.Created)
	}
	return ids, nil
}

// newJob builds the job record of an upload (in memory).
func (s *Store) newJob(n NewJob) (*Job, error) {
	now := s.o.Now()
	j := &Job{ID: newIDAt(now), Device: n.Device, State: Preprocess, Created: now, Updated: now, KeyDigest: n.KeyDigest, Via: n.Via}
	j.Files = make([]File, len(n.Files))
	var data int64
	for i, f := range n.Files {
		j.Files[i] = File{Name: f.Name, Filename: f.Filename, MIME: f.MIME, Size: int64(len(f.Data))}
		data += int64(len(f.Data))
	}
	j.Deadline = now.Add(s.o.Unparameterised)
	if n.Params != nil {
		if err := s.applyParams(j, *n.Params, now); err != nil {
			return nil, err
		}
	}
	j.Bytes = data + metaCost(j)
	return j, nil
}

// Per-file allowance for the delivery record a file gathers (attempts, errors, message ids),
// whose text is bounded by maxErrorLen.
const fileRecordAllowance = 256

// maxErrorLen bounds a provider's error text kept per attempt and per file.
const maxErrorLen = 512

// metaCost is what a job's metadata costs the store: its record, the index keys that name it,
// and an allowance per file for its delivery record. Every stored byte of a job counts toward
// the quota (issue 11): without it a device could store names, filenames, types, info and
// destinations by the megabyte in jobs of empty files.
func metaCost(j *Job) int64 {
	b, _ := json.Marshal(j)
	keys := 4*len(j.ID) + 8 + len(j.Files)*(len(j.ID)+2) // jobs, active, deadlines (+8), data
	return int64(len(b) + keys + len(j.Files)*fileRecordAllowance)
}

// quota refuses n more bytes when they would take the store over its quota.
func (w *wtx) quota(n int64) error {
	s := w.s
	s.cmu.Lock()
	used := s.bytes + w.batch.bytes + w.d.bytes
	s.cmu.Unlock()
	if used+n > s.o.Quota {
		return fmt.Errorf("%w: %d bytes stored of %d; this upload needs %d more — wait for deliveries or ask the admin",
			ErrQuota, used, s.o.Quota, n)
	}
	return w.space(n) // the file and the disk (space.go)
}

// create stores the new job j with its files' contents, within the quota and, for a job that
// waits for /msg and capped, within its device's share of such jobs.
func (w *wtx) create(j *Job, files []NewFile, capped bool) error {
	return w.insert(j, j.Bytes, capped, func() error {
		data := w.tx.Bucket(bData)
		for i, f := range files {
			if err := data.Put(dataKey(j, i), f.Data); err != nil {
				return err
			}
		}
		return nil
	})
}

// insert writes the new job j, charging charge bytes (all of j.Bytes, or its metadata when
// its files were charged as they landed: stream.go), with putData writing its contents.
func (w *wtx) insert(j *Job, charge int64, capped bool, putData func() error) error {
	if j.KeyDigest != "" && w.tx.Bucket(bKeys).Get([]byte(j.KeyDigest)) != nil {
		return fmt.Errorf("%w: this encrypted upload (its key part) was received before; encrypt every upload with a fresh key", ErrReplay)
	}
	if err := w.quota(charge); err != nil {
		return err
	}
	if j.State == Preprocess {
		if err := w.preprocessAdd(j.Device, capped); err != nil {
			return err
		}
	}
	jobs := w.tx.Bucket(bJobs)
	for jobs.Get([]byte(j.ID)) != nil { // 128 random bits: never, but never reuse an id
		j.ID = newIDAt(j.Created)
	}
	if j.KeyDigest != "" {
		if err := w.tx.Bucket(bKeys).Put([]byte(j.KeyDigest), []byte(j.ID)); err != nil {
			return err
		}
	}
	if putData != nil {
		if err := putData(); err != nil {
			return err
		}
	}
	if j.State == Queued {
		if err := w.tx.Bucket(bActive).Put(activeKey(j), nil); err != nil {
			return err
		}
	}
	if err := w.put(j, time.Time{}); err != nil {
		return err
	}
	w.d.state(j.State, 1)
	w.d.bytes += charge
	return nil
}

// applyParams sets p on a preprocess job and makes it queued (in memory).
func (s *Store) applyParams(j *Job, p Params, now time.Time) error {
	if len(p.Types) != len(j.Files) {
		return fmt.Errorf("store: %d types for %d files", len(p.Types), len(j.Files))
	}
	ttl := p.TTL
	if ttl <= 0 {
		ttl = s.o.TTL
	}
	j.Service, j.Sender, j.Dest, j.Info = p.Service, p.Sender, p.Dest, p.Info
	j.ParamsAt, j.Updated = now, now
	j.Expires = now.Add(ttl)
	j.Deadline = j.Expires
	j.State = Queued
	for i := range j.Files {
		f := &j.Files[i]
		f.Type, f.State, f.Service, f.Sender, f.NextAt = p.Types[i], FilePending, p.Service, p.Sender, now
	}
	return nil
}

// SetParams gives a preprocess job of device its parameters (/msg): it becomes queued.
func (s *Store) SetParams(ctx context.Context, id, device string, p Params) (*Job, error) {
	var out *Job
	now := s.o.Now()
	err := s.write(ctx, func(w *wtx) error {
		j, err := getOwned(w.tx, id, device)
		if err != nil {
			return err
		}
		if j.State != Preprocess {
			return fmt.Errorf("%w: job %s is already %s; parameters can be set once", ErrState, id, j.State)
		}
		old, before := j.Deadline, metaCost(j)
		if err := s.applyParams(j, p, now); err != nil {
			return err
		}
		extra := max(metaCost(j)-before, 0) // dest, info, types: charged like the files
		if err := w.quota(extra); err != nil {
			return err
		}
		j.Bytes += extra
		w.d.bytes += extra
		if err := w.preprocessDone(j.Device); err != nil {
			return err
		}
		if err := w.tx.Bucket(bActive).Put(activeKey(j), nil); err != nil {
			return err
		}
		if err := w.put(j, old); err != nil {
			return err
		}
		w.transition(j, Preprocess)
		out = j
		return nil
	}, s.notifyQueued(id))
	return out, err
}

// getOwned returns a job that device may see: not archived, and its own.
func getOwned(tx *bolt.Tx, id, device string) (*Job, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	j, err := getJob(tx, id)
	if err != nil {
		return nil, err
	}
	if j.Archived || j.Device != device {
		return nil, ErrNotFound // another device's job answers exactly like an unknown one
	}
	return j, nil
}

// View returns device's job id, read-only (for /msg's checks).
func (s *Store) View(id, device string) (*Job, error) {
	var j *Job
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		j, err = getOwned(tx, id, device)
		return err
	})
	return j, err
}

// Get returns any job, archived ones included (admins).
func (s *Store) Get(id string) (*Job, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	var j *Job
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		j, err = getJob(tx, id)
		return err
	})
	return j, err
}

// Consult answers /cons: the job's state. A finished job is archived by this answer: the
// device cannot consult it again (SPEC §1).
func (s *Store) Consult(ctx context.Context, id, device string) (*Job, error) {
	j, err := s.View(id, device)
	if err != nil || !j.State.Finished() {
		return j, err
	}
	now := s.o.Now()
	err = s.write(ctx, func(w *wtx) error {
		j, err = getOwned(w.tx, id, device) // again: a concurrent /cons may have archived it
		if err != nil {
			return err
		}
		if !j.State.Finished() {
			return nil // an admin's Retry put it back in the queue meanwhile: answer that, archive nothing
		}
		old := j.Deadline
		j.Archived, j.ArchivedAt, j.Updated = true, now, now
		j.Deadline = now.Add(s.o.KeepArchived)
		if err := w.put(j, old); err != nil {
			return err
		}
		w.d.state(j.State, -1)
		w.d.archived++
		return nil
	}, nil)
	return j, err
}

// Data returns the job's files with their contents, in upload order.
func (s *Store) Data(id string) ([]NewFile, error) {
	var out []NewFile
	err := s.db.View(func(tx *bolt.Tx) error {
		j, err := getJob(tx, id)
		if err != nil {
			return err
		}
		data := tx.Bucket(bData)
		out = make([]NewFile, len(j.Files))
		for i, f := range j.Files {
			var v []byte
			if f.Pieces > 0 { // streamed (stream.go)
				if v, err = readPieces(tx, j.ID, i, f); err != nil {
					return err
				}
			} else {
				v = append([]byte(nil), data.Get(dataKey(j, i))...)
			}
			out[i] = NewFile{Name: f.Name, Filename: f.Filename, MIME: f.MIME, Data: v}
		}
		return nil
	})
	return out, err
}

// Queued calls fn with every queued job (the dispatcher's work list after a restart) until fn
// returns false.
func (s *Store) Queued(fn func(*Job) bool) error {
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bActive).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			j, err := getJob(tx, string(k))
			if err != nil {
				continue
			}
			if !fn(j) {
				return nil
			}
		}
		return nil
	})
}

// Outcome is the result of one delivery attempt of one or more files of a job.
type Outcome struct {
	At        time.Time
	Service   string // who attempted
	Sender    string
	OK        bool
	MessageID string
	Class     string    // the error's class, for the history
	Err       string    // the provider's reason
	Final     bool      // the files failed for good
	NextAt    time.Time // not OK and not Final: retry then
	MoveTo    string    // not OK: the files move to this service (fallback) ...
	MoveSnd   string    // ... and sender, due at NextAt
	Attempted bool      // false: the files were only rescheduled (sender down or paused)
	Failing   bool      // not attempted, but the service is failing for them (sender down)
	// Interrupted: a send cut short by a settings change (dispatch.Swap): kept in the history,
	// not counted as an attempt, not failing.
	Interrupted bool
	Parts       []PartRef // OK: the parts sent, to be reported on (reports.go); one file only
}

// Record stores o for files idx of job id and returns the job as it now is. A job that is no
// longer queued (expired, cancelled) is left alone.
func (s *Store) Record(ctx context.Context, id string, idx []int, o Outcome) (*Job, error) {
	var out *Job
	err := s.write(ctx, func(w *wtx) error {
		j, err := getJob(w.tx, id)
		if err != nil {
			return err
		}
		out = j
		if j.State != Queued {
			return nil
		}
		for _, i := range idx {
			if i < 0 || i >= len(j.Files) {
				return fmt.Errorf("store: job %s has no file %d", id, i)
			}
			if j.Files[i].State != FilePending {
				continue
			}
			applyOutcome(&j.Files[i], o)
			if o.OK && len(o.Parts) > 0 && len(idx) == 1 {
				f := &j.Files[i]
				f.Parts = make([]Part, len(o.Parts))
				for n, p := range o.Parts {
					f.Parts[n] = Part{Ref: p.Ref & 0xFF, To: truncate(p.Recipient, 32)}
				}
				if err := w.indexParts(j, i, true); err != nil {
					return err
				}
			}
		}
		j.Updated = o.At
		old := j.Deadline
		if err := w.settle(j, j.State, o.At); err != nil {
			return err
		}
		return w.put(j, old)
	}, nil)
	return out, err
}

func applyOutcome(f *File, o Outcome) {
	o.Err = truncate(o.Err, maxErrorLen) // the record's size stays within what the quota charged
	a := Attempt{At: o.At, Service: o.Service, Sender: o.Sender, OK: o.OK, Class: o.Class, Error: o.Err, Fallback: o.MoveTo}
	if o.Attempted || o.Interrupted {
		if o.Attempted {
			f.Attempts++
		}
		f.History = append(f.History, a)
		if len(f.History) > MaxHistory {
			f.History = append(f.History[:0:0], f.History[len(f.History)-MaxHistory:]...)
		}
	}
	switch {
	case o.OK:
		f.State, f.DoneAt, f.MessageID, f.Service, f.Sender = FileDelivered, o.At, o.MessageID, o.Service, o.Sender
		f.NextAt = time.Time{}
	case o.Final:
		f.State, f.DoneAt, f.LastError = FileFailed, o.At, o.Err
		f.NextAt = time.Time{}
	default:
		if o.Err != "" {
			f.LastError = o.Err
		}
		if f.FailingFrom.IsZero() && (o.Attempted || o.Failing) {
			f.FailingFrom = o.At
		}
		f.NextAt = o.NextAt
		if o.MoveTo != "" {
			f.Service, f.Sender, f.FailingFrom = o.MoveTo, o.MoveSnd, time.Time{}
		}
	}
}

// truncate cuts s to at most n bytes, on a UTF-8 boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// preprocessKey is the meta key counting device's jobs in preprocess.
func preprocessKey(device string) []byte { return []byte("p:" + device) }

// preprocessAdd counts one more job of device waiting for /msg, refusing it past
// Options.MaxPreprocess: uploads nobody gives parameters to are kept for a day, and without a
// cap one device could fill the store with them. It is the op's last check, so a refused op
// changes nothing.
func (w *wtx) preprocessAdd(device string, capped bool) error {
	m := w.tx.Bucket(bMeta)
	n := getInt(m, string(preprocessKey(device)))
	if capped && n >= int64(w.s.o.MaxPreprocess) {
		return fmt.Errorf("%w: device %s has %d uploads waiting for /msg, the most this box keeps per device; give them their parameters, or wait for them to expire (%s)",
			ErrTooMany, device, n, w.s.o.Unparameterised)
	}
	return putInt(m, string(preprocessKey(device)), n+1)
}

// preprocessDone counts one job of device fewer in preprocess (parameters given, cancelled or
// deleted).
func (w *wtx) preprocessDone(device string) error {
	m := w.tx.Bucket(bMeta)
	k := preprocessKey(device)
	if n := getInt(m, string(k)); n > 1 {
		return putInt(m, string(k), n-1)
	}
	return m.Delete(k) // 0, or a store made before the count existed
}
