package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"
)

// Delivery reports (issue 13): a driver whose sends are confirmed later part by part (SMS with
// status reports requested) returns the reference of each part it sent; Record keeps them on
// the file and indexes every part not yet reported in "reports":
//
//	sender ‖ 0 ‖ recipient key ‖ 0 ‖ TP-MR (1 byte) ‖ sent (8 bytes, unix ns) ‖ job id ‖ file (2) ‖ part (2) → nil
//
// A report is matched to the newest unreported part of that sender with its TP-MR and
// recipient: TP-MR is one byte and wraps at 256, so an older part with the same reference
// lost its report, or had it long ago. The entry goes when the report comes or the job goes.

// PartRef is what a driver knows of one sent part (provider.PartRef, in the store's terms).
type PartRef struct {
	Ref       int
	Recipient string
}

// Part is one sent part of a file and what the network reported of it.
type Part struct {
	Ref      int       `json:"ref"`
	To       string    `json:"to"`
	Reported bool      `json:"reported,omitempty"`
	Status   int       `json:"st,omitempty"` // TP-ST (3GPP TS 23.040 §9.2.3.15), once Reported
	At       time.Time `json:"at,omitzero"`  // when the report came
}

// Report states of a file whose parts are reported on (File.Report).
const (
	ReportAccepted    = "accepted"    // the SMSC took every part; reports are awaited
	ReportHandset     = "handset"     // every part was reported delivered
	ReportFailed      = "failed"      // a part was reported failed for good (Part.Status says why)
	ReportUnconfirmed = "unconfirmed" // the wait for reports ended without every one
)

// Report says what the reports on f's parts add up to at now, when reports are waited for
// for wait after delivery; "" for a file with no parts to report on. For a failure it also
// returns the failed part.
func (f *File) Report(now time.Time, wait time.Duration) (string, *Part) {
	if len(f.Parts) == 0 || f.State != FileDelivered {
		return "", nil
	}
	all := true
	for i := range f.Parts {
		p := &f.Parts[i]
		switch {
		case !p.Reported || (p.Status >= 0x20 && p.Status < 0x40): // none yet, or the SMSC still tries
			all = false
		case p.Status >= 0x40:
			return ReportFailed, p
		}
	}
	switch {
	case all:
		return ReportHandset, nil
	case wait > 0 && now.Sub(f.DoneAt) >= wait:
		return ReportUnconfirmed, nil
	}
	return ReportAccepted, nil
}

// recipientKey is the part of a recipient reports are matched on: its last 8 digits, since the
// network may write it in international or national form.
func recipientKey(to string) string {
	var d []byte
	for i := 0; i < len(to); i++ {
		if to[i] >= '0' && to[i] <= '9' {
			d = append(d, to[i])
		}
	}
	if len(d) > 8 {
		d = d[len(d)-8:]
	}
	return string(d)
}

func reportPrefix(sender, to string, mr int) []byte {
	k := make([]byte, 0, len(sender)+12)
	k = append(k, sender...)
	k = append(k, 0)
	k = append(k, recipientKey(to)...)
	k = append(k, 0, byte(mr))
	return k
}

func reportKey(sender string, p Part, sent time.Time, id string, file, part int) []byte {
	k := reportPrefix(sender, p.To, p.Ref)
	k = binary.BigEndian.AppendUint64(k, uint64(sent.UnixNano()))
	k = append(k, id...)
	k = binary.BigEndian.AppendUint16(k, uint16(file))
	return binary.BigEndian.AppendUint16(k, uint16(part))
}

// indexParts adds the unreported parts of file i of j to "reports" (add) or removes them.
func (w *wtx) indexParts(j *Job, i int, add bool) error {
	f := &j.Files[i]
	b := w.tx.Bucket(bReports)
	for n, p := range f.Parts {
		if p.Reported && add {
			continue
		}
		k := reportKey(f.Sender, p, f.DoneAt, j.ID, i, n)
		var err error
		if add {
			err = b.Put(k, nil)
		} else {
			err = b.Delete(k)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// StatusReport is a delivery report as ReportPart matches it.
type StatusReport struct {
	Sender    string // the receiving sender (modem): TP-MR is per modem
	Recipient string
	Ref       int // TP-MR
	Status    int // TP-ST
}

// ReportPart records r on the part it reports on and returns that part's job. ErrNotFound when
// no unreported part matches (a report for a part sent before its reference was kept, or
// reported already). A report that the SMSC still tries (TP-ST 0x20..0x3F) is kept and the
// part stays matchable for the final one.
func (s *Store) ReportPart(ctx context.Context, r StatusReport) (*Job, error) {
	now := s.o.Now()
	var out *Job
	err := s.write(ctx, func(w *wtx) error {
		out = nil
		b := w.tx.Bucket(bReports)
		prefix := reportPrefix(r.Sender, r.Recipient, r.Ref)
		c := b.Cursor()
		var last []byte
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			last = k // sorted by send time: the last is the newest
		}
		if last == nil || len(last) < len(prefix)+8+4 {
			return ErrNotFound
		}
		rest := last[len(prefix)+8:]
		id := string(rest[:len(rest)-4])
		fi := int(binary.BigEndian.Uint16(rest[len(rest)-4:]))
		pi := int(binary.BigEndian.Uint16(rest[len(rest)-2:]))
		j, err := getJob(w.tx, id)
		if err != nil || fi >= len(j.Files) || pi >= len(j.Files[fi].Parts) {
			return b.Delete(last) // names nothing: drop it, and say no match
		}
		p := &j.Files[fi].Parts[pi]
		p.Reported, p.Status, p.At = true, r.Status, now
		if r.Status < 0x20 || r.Status >= 0x40 { // final: no more reports for this part
			if err := b.Delete(last); err != nil {
				return err
			}
		}
		j.Updated = now
		if err := w.put(j, j.Deadline); err != nil {
			return err
		}
		out = j
		return nil
	}, nil)
	if err == nil && out == nil {
		err = ErrNotFound
	}
	return out, err
}
