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
//
// The registry is bounded (Options.MaxDevices): a new device past the bound replaces the least
// recently seen device that never uploaded a job, or, when every device has, the least
// recently seen one. Only requests register devices (never ARP frames, which anyone on the LAN
// can forge by the thousand), and a device's jobs stay its own whether it is listed or not:
// the registry is what admins see, not what ownership rests on.
func (s *Store) TouchDevice(device, ip string, at time.Time) {
	s.devMu.Lock()
	defer s.devMu.Unlock()
	s.touchLocked(device, ip, at)
}

func (s *Store) touchLocked(device, ip string, at time.Time) *Device {
	d := s.devices[device]
	if d == nil {
		if len(s.devices) >= s.o.MaxDevices {
			s.evictLocked()
		}
		d = &Device{MAC: device, FirstSeen: at}
		s.devices[device] = d
	}
	if at.After(d.LastSeen) {
		d.LastSeen = at
	}
	d.IP = ip
	s.dirty[device] = true
	return d
}

// evictLocked drops one device to make room: the least recently seen of those without jobs,
// else the least recently seen. O(n) in the registry, which MaxDevices keeps small; paid only
// when a device never seen before arrives at a full registry.
func (s *Store) evictLocked() {
	var victim *Device
	for _, d := range s.devices {
		switch {
		case victim == nil,
			d.Jobs == 0 && victim.Jobs > 0,
			(d.Jobs == 0) == (victim.Jobs == 0) && d.LastSeen.Before(victim.LastSeen):
			victim = d
		}
	}
	if victim != nil {
		delete(s.devices, victim.MAC)
		s.dirty[victim.MAC] = false
	}
}

// trimDevices applies the bound to a registry loaded from disk.
func (s *Store) trimDevices() {
	s.devMu.Lock()
	defer s.devMu.Unlock()
	for len(s.devices) > s.o.MaxDevices {
		s.evictLocked()
	}
}

// pruneDevices forgets devices not seen for Options.DeviceIdle; the sweep calls it.
func (s *Store) pruneDevices(now time.Time) {
	s.devMu.Lock()
	defer s.devMu.Unlock()
	for k, d := range s.devices {
		if now.Sub(d.LastSeen) > s.o.DeviceIdle {
			delete(s.devices, k)
			s.dirty[k] = false
		}
	}
}

func (s *Store) deviceJob(device, ip string, at time.Time) {
	s.devMu.Lock()
	s.touchLocked(device, ip, at).Jobs++
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

// FlushDevices writes the registry's changes: devices touched since the last flush, and the
// removal of those evicted or forgotten.
func (s *Store) FlushDevices(ctx context.Context) error {
	s.devMu.Lock()
	if len(s.dirty) == 0 {
		s.devMu.Unlock()
		return nil
	}
	recs := make(map[string][]byte, len(s.dirty))
	for k, keep := range s.dirty {
		if d := s.devices[k]; keep && d != nil {
			b, _ := json.Marshal(d)
			recs[k] = b
		} else {
			recs[k] = nil
		}
	}
	s.dirty = make(map[string]bool)
	s.devMu.Unlock()
	return s.write(ctx, func(w *wtx) error {
		b := w.tx.Bucket(bDevices)
		for k, v := range recs {
			var err error
			if v == nil {
				err = b.Delete([]byte(k))
			} else {
				err = b.Put([]byte(k), v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}, nil)
}
