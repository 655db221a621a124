package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Inbound messages (SPEC §8, issue 13): every part a modem hands in is committed here before
// the modem may delete it. The store keeps the mechanics — one record per message, its parts,
// the keys that recognise a part seen before, the key that gathers the parts of one
// concatenated message — and the caller (package inbox) the policy: which keys, how long to
// wait for missing parts, where to forward.
//
//	inbox   message id (an id like a job's: creation time first) → InMessage (JSON)
//	inkeys  "d:" dedup key → message id, for as long as the message is kept;
//	        "a:" assembly key → message id, while the message waits for parts;
//	        "u:" message id → nil, while a message no longer waiting is not forwarded yet
//	meta    "in:n", "in:bytes": messages and bytes kept (the inbox's own caps)
var (
	bInbox  = []byte("inbox")
	bInKeys = []byte("inkeys")
)

// InState is an inbound message's state.
type InState string

const (
	InAssembling InState = "assembling" // parts of a concatenated message are missing, still waited for
	InComplete   InState = "complete"   // every part is here
	InIncomplete InState = "incomplete" // the wait ended with parts missing: kept and forwarded as it is
)

// InPart is one part of an inbound message.
type InPart struct {
	Seq  int       `json:"seq"`
	Text string    `json:"text,omitempty"`
	Data []byte    `json:"data,omitempty"` // 8-bit user data
	At   time.Time `json:"at"`             // received
}

// InMessage is one inbound message as stored.
type InMessage struct {
	ID       string    `json:"id"`
	Service  string    `json:"service"`
	Sender   string    `json:"sender"` // the receiving sender (modem)
	From     string    `json:"from"`
	Sent     time.Time `json:"sent"`     // the SMSC time stamp of the first part that came
	Received time.Time `json:"received"` // when the first part came
	Updated  time.Time `json:"updated"`
	Ref      int       `json:"ref,omitempty"`
	RefBits  int       `json:"ref_bits,omitempty"`
	Parts    int       `json:"parts"` // how many parts the message has (1 for a single SMS)
	Got      []InPart  `json:"got"`   // by seq
	State    InState   `json:"state"`
	Deadline time.Time `json:"deadline,omitzero"` // assembling: when the wait ends

	// Forwarded is set once the forwarding decision is stored: Job names the job that forwards
	// it ("" when no rule matched), Rule the rule that decided.
	Forwarded bool   `json:"forwarded,omitempty"`
	Job       string `json:"job,omitempty"`
	Rule      string `json:"rule,omitempty"`
	Note      string `json:"note,omitempty"` // why the rule did not forward it

	Keys  []string `json:"keys"` // its entries in inkeys, removed with it
	Bytes int64    `json:"bytes"`
}

// Text is the message's text: its parts in order, a missing part shown as "[…]".
func (m *InMessage) Text() string {
	var b strings.Builder
	next := 1
	for _, p := range m.Got {
		for ; next < p.Seq; next++ {
			b.WriteString("[…]")
		}
		b.WriteString(p.Text)
		next = p.Seq + 1
	}
	for ; next <= m.Parts; next++ {
		b.WriteString("[…]")
	}
	return b.String()
}

// Data is the 8-bit user data of the message's parts, in order.
func (m *InMessage) Data() []byte {
	var out []byte
	for _, p := range m.Got {
		out = append(out, p.Data...)
	}
	return out
}

// Done reports whether no more parts are waited for.
func (m *InMessage) Done() bool { return m.State != InAssembling }

// NewInPart is one received part for AddInPart.
type NewInPart struct {
	Service, Sender, From string
	Sent                  time.Time
	Text                  string
	Data                  []byte
	Parts, Seq, Ref       int // Parts ≤ 1: a single SMS
	RefBits               int
	// Keys recognise this part if it comes again (any of them seen: a duplicate).
	Keys []string
	// Assembly gathers the parts of one concatenated message ("" for a single SMS).
	Assembly string
	// Wait is how long a concatenated message waits for its missing parts.
	Wait time.Duration
}

// InResult is what AddInPart did.
type InResult struct {
	Msg       *InMessage // the message the part belongs to, as stored now
	Duplicate bool       // the part was seen before: nothing was stored
	Done      bool       // this part made the message complete
}

// inCost is what an inbound message costs the quota: its record and its keys.
func inCost(m *InMessage) int64 {
	b, _ := json.Marshal(m)
	n := len(b) + len(m.ID)
	for _, k := range m.Keys {
		n += len(k) + len(m.ID)
	}
	return int64(n)
}

// AddInPart stores one received part durably: a part seen before is recognised and nothing is
// stored; a part of a concatenated message joins the parts already here. A new message that
// would take the inbox past Options.InboxMax messages or InboxBytes bytes first makes room by
// purging the oldest messages already forwarded; when none can go, ErrInboxFull (the modem
// keeps the message, nothing is lost).
func (s *Store) AddInPart(ctx context.Context, p NewInPart) (InResult, error) {
	var res InResult
	now := s.o.Now()
	err := s.write(ctx, func(w *wtx) error {
		res = InResult{}
		keys := w.tx.Bucket(bInKeys)
		for _, k := range p.Keys {
			if id := keys.Get([]byte("d:" + k)); id != nil {
				m, err := getIn(w.tx, string(id))
				if err != nil {
					return err
				}
				res = InResult{Msg: m, Duplicate: true}
				return nil
			}
		}
		part := InPart{Seq: max(p.Seq, 1), Text: p.Text, Data: p.Data, At: now}
		var m *InMessage
		if p.Assembly != "" {
			if id := keys.Get([]byte("a:" + p.Assembly)); id != nil {
				var err error
				if m, err = getIn(w.tx, string(id)); err != nil {
					return err
				}
			}
		}
		fresh := m == nil
		if fresh {
			m = &InMessage{ID: nextInID(w.tx.Bucket(bInbox), now), Service: p.Service, Sender: p.Sender, From: p.From, Sent: p.Sent,
				Received: now, Ref: p.Ref, RefBits: p.RefBits, Parts: max(p.Parts, 1), State: InComplete}
			if m.Parts > 1 {
				m.State, m.Deadline = InAssembling, now.Add(p.Wait)
				m.Keys = append(m.Keys, "a:"+p.Assembly)
			}
		}
		for _, g := range m.Got {
			if g.Seq == part.Seq {
				// The same part number with other content: keep the first. Its keys are not
				// added (a sender could grow the record without bound); if it comes again it
				// meets this same part number.
				res = InResult{Msg: m, Duplicate: true}
				return nil
			}
		}
		// Everything is decided in memory and the room checked before anything is written:
		// a refused part changes nothing (the write shares its transaction with others).
		old := m.Bytes
		m.Got = append(m.Got, part)
		sort.Slice(m.Got, func(i, k int) bool { return m.Got[i].Seq < m.Got[k].Seq })
		m.Keys = appendKeys(m.Keys, p.Keys)
		m.Updated = now
		completed := m.State == InAssembling && len(m.Got) >= m.Parts
		if completed {
			m.State, m.Deadline = InComplete, time.Time{}
			m.Keys = removeKey(m.Keys, "a:"+p.Assembly)
		}
		res.Done = m.State == InComplete
		if res.Done {
			m.Keys = append(m.Keys, "u:"+m.ID)
		}
		m.Bytes = inCost(m) + int64(len(part.Text)+len(part.Data)) // the JSON already counts them; keys too
		if err := w.inRoom(m.Bytes-old, fresh); err != nil {
			return err
		}
		if completed {
			if err := keys.Delete([]byte("a:" + p.Assembly)); err != nil {
				return err
			}
		}
		if res.Done {
			if err := keys.Put([]byte("u:"+m.ID), nil); err != nil {
				return err
			}
		}
		if err := w.putIn(m, fresh, keys, p.Keys); err != nil {
			return err
		}
		if fresh && m.State == InAssembling {
			if err := keys.Put([]byte("a:"+p.Assembly), []byte(m.ID)); err != nil {
				return err
			}
		}
		res.Msg = m
		return nil
	}, nil)
	return res, err
}

// nextInID is a new message id that sorts after every id in the inbox, so that listing by id
// is listing by arrival even for messages of the same millisecond (or a clock set back).
func nextInID(b *bolt.Bucket, now time.Time) string {
	id := newIDAt(now)
	last, _ := b.Cursor().Last()
	if len(last) == idLen && string(last[:idTimeLen]) >= id[:idTimeLen] {
		ms := int64(0)
		for _, c := range last[:idTimeLen] {
			ms = ms<<6 | int64(strings.IndexByte(sortable, c))
		}
		id = newIDAt(time.UnixMilli(ms + 1))
	}
	return id
}

func appendKeys(have []string, add []string) []string {
	for _, k := range add {
		have = append(have, "d:"+k)
	}
	return have
}

func removeKey(keys []string, k string) []string {
	out := keys[:0]
	for _, x := range keys {
		if x != k {
			out = append(out, x)
		}
	}
	return out
}

// putIn writes m and the dedup keys of its newest part.
func (w *wtx) putIn(m *InMessage, fresh bool, keys *bolt.Bucket, partKeys []string) error {
	for _, k := range partKeys {
		if err := keys.Put([]byte("d:"+k), []byte(m.ID)); err != nil {
			return err
		}
	}
	if fresh {
		meta := w.tx.Bucket(bMeta)
		if err := putInt(meta, "in:n", getInt(meta, "in:n")+1); err != nil {
			return err
		}
	}
	return w.writeIn(m)
}

func (w *wtx) writeIn(m *InMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return w.tx.Bucket(bInbox).Put([]byte(m.ID), b)
}

// inRoom charges n more bytes (one more message when fresh) to the inbox's caps and the
// store's quota. While the caps would be exceeded the oldest forwarded messages make room; when
// they cannot, or the quota refuses, nothing has been changed.
func (w *wtx) inRoom(n int64, fresh bool) error {
	meta := w.tx.Bucket(bMeta)
	limit, maxBytes := int64(w.s.o.InboxMax), w.s.o.InboxBytes
	count, used := getInt(meta, "in:n"), getInt(meta, "in:bytes")
	if fresh {
		count++
	}
	type victim struct {
		id string
		m  InMessage
	}
	var victims []victim
	var freed int64
	c := w.tx.Bucket(bInbox).Cursor()
	for k, v := c.First(); count > limit || used-freed+n > maxBytes; k, v = c.Next() {
		if k == nil {
			return fmt.Errorf("%w: %d messages, %d bytes kept of %d, %d; none is forwarded yet, so none can make room",
				ErrInboxFull, count-b2i(fresh), used, limit, maxBytes)
		}
		var m InMessage
		if json.Unmarshal(v, &m) != nil || m.Forwarded { // a corrupt record goes first
			victims = append(victims, victim{string(k), m})
			count--
			freed += m.Bytes
		}
	}
	if n > freed {
		if err := w.quota(n - freed); err != nil {
			return err
		}
	}
	for i := range victims {
		if err := w.removeIn(victims[i].id, &victims[i].m); err != nil {
			return err
		}
	}
	w.d.bytes += n
	return putInt(meta, "in:bytes", getInt(meta, "in:bytes")+n)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// removeIn deletes message id (m is its decoded record; empty when corrupt) and its keys.
func (w *wtx) removeIn(id string, m *InMessage) error {
	keys := w.tx.Bucket(bInKeys)
	for _, k := range m.Keys {
		if err := keys.Delete([]byte(k)); err != nil {
			return err
		}
	}
	if err := w.tx.Bucket(bInbox).Delete([]byte(id)); err != nil {
		return err
	}
	meta := w.tx.Bucket(bMeta)
	if err := putInt(meta, "in:n", max(getInt(meta, "in:n")-1, 0)); err != nil {
		return err
	}
	if err := putInt(meta, "in:bytes", max(getInt(meta, "in:bytes")-m.Bytes, 0)); err != nil {
		return err
	}
	w.d.bytes -= m.Bytes
	return nil
}

func getIn(tx *bolt.Tx, id string) (*InMessage, error) {
	v := tx.Bucket(bInbox).Get([]byte(id))
	if v == nil {
		return nil, ErrNotFound
	}
	m := new(InMessage)
	if err := json.Unmarshal(v, m); err != nil {
		return nil, fmt.Errorf("store: inbound message %s is corrupt: %w", id, err)
	}
	return m, nil
}

// Forward stores the forwarding decision for inbound message id: the job n (nil: no rule
// matched, or the rule cannot forward it — note says why) is created in the same transaction,
// so a message is forwarded once, whatever crashes. A message already forwarded keeps its
// job; its id is returned.
func (s *Store) Forward(ctx context.Context, id string, n *NewJob, rule, note string) (string, error) {
	var j *Job
	if n != nil {
		var err error
		if j, err = s.newJob(*n); err != nil {
			return "", err
		}
	}
	var out string
	var post func()
	if j != nil && j.State == Queued {
		post = s.notifyQueued(j.ID)
	}
	now := s.o.Now()
	err := s.write(ctx, func(w *wtx) error {
		m, err := getIn(w.tx, id)
		if err != nil {
			return err
		}
		if m.Forwarded {
			out = m.Job
			return errForwarded
		}
		if j != nil {
			if err := w.create(j, n.Files, false); err != nil {
				return err
			}
			m.Job = j.ID
		}
		m.Forwarded, m.Rule, m.Note, m.Updated = true, rule, truncate(note, maxErrorLen), now
		m.Keys = removeKey(m.Keys, "u:"+m.ID)
		if err := w.tx.Bucket(bInKeys).Delete([]byte("u:" + m.ID)); err != nil {
			return err
		}
		out = m.Job
		return w.writeIn(m)
	}, post)
	if err == errForwarded {
		return out, nil
	}
	if err == nil && j != nil {
		s.deviceJob(n.Device, "", j.Created)
	}
	return out, err
}

// errForwarded: the message was forwarded before (not an error for Forward's caller; an error
// inside the write so the job is not created).
var errForwarded = errors.New("store: already forwarded")

// ExpireInbound ends the wait of every assembling message whose deadline has passed: each is
// kept as it is, marked incomplete. It returns them. Only the assembling messages are read (the
// "a:" keys), and nothing is written when no wait is over.
func (s *Store) ExpireInbound(ctx context.Context) ([]*InMessage, error) {
	now := s.o.Now()
	due := func(tx *bolt.Tx) ([]*InMessage, error) {
		var out []*InMessage
		c := tx.Bucket(bInKeys).Cursor()
		for k, v := c.Seek([]byte("a:")); k != nil && bytes.HasPrefix(k, []byte("a:")); k, v = c.Next() {
			m, err := getIn(tx, string(v))
			if err != nil {
				continue // the record is gone or corrupt; its key goes with its purge
			}
			if m.State == InAssembling && !now.Before(m.Deadline) {
				out = append(out, m)
			}
		}
		return out, nil
	}
	var out []*InMessage
	err := s.db.View(func(tx *bolt.Tx) (err error) { out, err = due(tx); return err })
	if err != nil || len(out) == 0 {
		return nil, err
	}
	err = s.write(ctx, func(w *wtx) error {
		var err error
		if out, err = due(w.tx); err != nil { // again: a part may have completed one meanwhile
			return err
		}
		keys := w.tx.Bucket(bInKeys)
		for _, m := range out {
			m.State, m.Deadline, m.Updated = InIncomplete, time.Time{}, now
			for _, k := range m.Keys {
				if strings.HasPrefix(k, "a:") {
					if err := keys.Delete([]byte(k)); err != nil {
						return err
					}
				}
			}
			m.Keys = append(removeAssembly(m.Keys), "u:"+m.ID)
			if err := keys.Put([]byte("u:"+m.ID), nil); err != nil {
				return err
			}
			if err := w.writeIn(m); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	return out, err
}

func removeAssembly(keys []string) []string {
	out := keys[:0]
	for _, k := range keys {
		if !strings.HasPrefix(k, "a:") {
			out = append(out, k)
		}
	}
	return out
}

// PurgeInbound removes forwarded messages received before cutoff (retention).
func (s *Store) PurgeInbound(ctx context.Context, cutoff time.Time) (int, error) {
	var old bool
	_ = s.db.View(func(tx *bolt.Tx) error {
		if _, v := tx.Bucket(bInbox).Cursor().First(); v != nil {
			var m InMessage
			old = json.Unmarshal(v, &m) != nil || m.Received.Before(cutoff)
		}
		return nil
	})
	if !old {
		return 0, nil // nothing written when nothing is due
	}
	var n int
	err := s.write(ctx, func(w *wtx) error {
		n = 0
		c := w.tx.Bucket(bInbox).Cursor()
		var gone []string
		var ms []InMessage
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var m InMessage
			bad := json.Unmarshal(v, &m) != nil
			if !bad && !m.Received.Before(cutoff) {
				break // ids sort by reception
			}
			if bad || m.Forwarded {
				gone, ms = append(gone, string(k)), append(ms, m)
			}
		}
		for i, id := range gone {
			if err := w.removeIn(id, &ms[i]); err != nil {
				return err
			}
		}
		n = len(gone)
		return nil
	}, nil)
	return n, err
}

// Unforwarded calls fn with each message whose parts are all in (or whose wait ended) but
// whose forwarding is not decided yet: after a crash between the last part's commit and the
// forwarding, the inbox finishes the work. Only those messages are read (the "u:" keys).
func (s *Store) Unforwarded(fn func(*InMessage)) error {
	var list []*InMessage
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bInKeys).Cursor()
		for k, _ := c.Seek([]byte("u:")); k != nil && bytes.HasPrefix(k, []byte("u:")); k, _ = c.Next() {
			if m, err := getIn(tx, string(k[2:])); err == nil && m.Done() && !m.Forwarded {
				list = append(list, m)
			}
		}
		return nil
	})
	for _, m := range list {
		fn(m)
	}
	return err
}

// InQuery selects inbound messages, newest first: those after Since (an id, exclusive) and
// before Before (exclusive), at most Limit; Done only: not those still waiting for parts.
type InQuery struct {
	Since, Before string
	Limit         int
	Done          bool
}

// Inbox lists inbound messages by q.
func (s *Store) Inbox(q InQuery) ([]InMessage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	var out []InMessage
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bInbox).Cursor()
		var k, v []byte
		if q.Before != "" {
			if k, _ = c.Seek([]byte(q.Before)); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		} else {
			k, v = c.Last()
		}
		for ; k != nil && len(out) < q.Limit; k, v = c.Prev() {
			if q.Since != "" && bytes.Compare(k, []byte(q.Since)) <= 0 {
				break
			}
			var m InMessage
			if json.Unmarshal(v, &m) != nil || (q.Done && !m.Done()) {
				continue
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// InCounts returns the inbound messages and bytes kept.
func (s *Store) InCounts() (n, size int64) {
	_ = s.db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		n, size = getInt(m, "in:n"), getInt(m, "in:bytes")
		return nil
	})
	return n, size
}
