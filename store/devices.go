package store

import (
	"context"
	"encoding/json"
	"sort"
	"time"
)

// Device is one device the box has seen (SPEC §3, the admin's device list).
type Device struct {
	MAC       string    `json:"mac"` // or "local", or "ip:<addr>" for devices identified by IP
	IP        string    `json:"ip"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Jobs      int64     `json:"jobs"`
}

// TouchDevice records that device was seen at ip. It only touches memory; the registry is
// written at each sweep and at Close, so a request costs no write.
func (s *Store) TouchDevice(device, ip string, at time.Time) {
	s.devMu.Lock()
	defer s.devMu.Unlock()
	d := s.devices[device]
	if d == nil {
		d = &Device{MAC: device, FirstSeen: at}
		s.devices[device] = d
	}
	if at.After(d.LastSeen) {
		d.LastSeen = at
	}
	d.IP = ip
	s.dirty[device] = true
}

func (s *Store) deviceJob(device, ip string, at time.Time) {
	s.TouchDevice(device, ip, at)
	s.devMu.Lock()
	s.devices[device].Jobs++
	s.devMu.Unlock()
}

// Devices lists the registry, most recently seen first.
func (s *Store) Devices() []Device {
	s.devMu.Lock()
	out := make([]Device, 0, len(s.devices))
	for _, d := range s.devices {
		out = append(out, *d)
	}
	s.devMu.Unlock()
	sort.Slice(out, func(i, k int) bool { return out[i].LastSeen.After(out[k].LastSeen) })
	return out
}

// FlushDevices writes the registry's changes.
func (s *Store) FlushDevices(ctx context.Context) error {
	s.devMu.Lock()
	if len(s.dirty) == 0 {
		s.devMu.Unlock()
		return nil
	}
	recs := make(map[string][]byte, len(s.dirty))
	for k := range s.dirty {
		b, _ := json.Marshal(s.devices[k])
		recs[k] = b
	}
	s.dirty = make(map[string]bool)
	s.devMu.Unlock()
	return s.write(ctx, func(w *wtx) error {
		b := w.tx.Bucket(bDevices)
		for k, v := range recs {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	}, nil)
}
