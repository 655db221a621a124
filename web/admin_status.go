package web

import (
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"multimsg/dispatch"
	"multimsg/sim"
	"multimsg/store"
)

// Status is /admin/api/status and the data of the /admin page: one struct, rendered by the
// admin page (admin_render.go) and served as JSON (docs/ADMIN.md documents every field).
type Status struct {
	Version       string                  `json:"version"`
	Now           time.Time               `json:"now"`
	Started       time.Time               `json:"started"`
	Uptime        string                  `json:"uptime"`
	UptimeSeconds int64                   `json:"uptime_seconds"`
	Jobs          map[string]int64        `json:"jobs"` // by state, plus "archived"
	Queue         int                     `json:"queue_depth"`
	Store         StoreStatus             `json:"store"`
	Disk          *DiskStatus             `json:"disk,omitempty"`
	History       []Hour                  `json:"history"`
	Senders       []dispatch.SenderStatus `json:"senders"`
	Devices       []DeviceView            `json:"devices"`
	DevicesTotal  int                     `json:"devices_total"`
	Recent        []RecentJob             `json:"recent"`
	Inbound       []InboundView           `json:"inbound"` // newest first (inbox.go)
	InboundTotal  int64                   `json:"inbound_total"`
	Services      []string                `json:"services"`
	Extra         map[string]any          `json:"extra,omitempty"`
	SIM           *sim.Status             `json:"sim,omitempty"` // the credit watch (nil: off)

	// HistoryLoading: the hours before this start are still being read back from the store.
	HistoryLoading bool `json:"history_loading,omitempty"`
}

// StoreStatus is the store's size against its quota.
type StoreStatus struct {
	Bytes     int64 `json:"bytes"`      // file bytes stored (what the quota counts)
	Quota     int64 `json:"quota"`      // the quota
	FileBytes int64 `json:"file_bytes"` // the database file's size on disk
	// What the data partition can hold (issue 12, store.Space).
	FileAlloc  int64 `json:"file_alloc_bytes"`   // blocks the file occupies (its growth is sparse)
	InUse      int64 `json:"in_use_bytes"`       // the file's pages in use
	FreeInFile int64 `json:"free_in_file_bytes"` // its free pages, reused before it grows
	FileQuota  int64 `json:"file_quota"`         // the limit on in_use_bytes (0: none)
	DiskFloor  int64 `json:"disk_floor_bytes"`   // kept free on the partition for the outbox, key, config
	Headroom   int64 `json:"headroom_bytes"`     // uploads the store can still take, projected
}

// DiskStatus is the file system holding the data directory.
type DiskStatus struct {
	Path  string `json:"path"`
	Free  int64  `json:"free_bytes"` // available to the gateway (not root's reserve)
	Total int64  `json:"total_bytes"`
}

// DeviceView is a known device as the admin sees it: the registry's facts, the admin's label
// for its MAC (device_names) and whether it is refused now.
type DeviceView struct {
	store.Device
	Name    string `json:"name,omitempty"`    // the admin's label (device_names)
	Refused string `json:"refused,omitempty"` // "blocked" (block_macs), "not allowed" (allow_macs), "": let in
}

// RecentJob is one job in the recent list: metadata only, never file contents, and the
// destination masked.
type RecentJob struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	Device  string    `json:"device"`
	// DeviceName is the admin's label for Device (device_names), "" when it has none.
	DeviceName string `json:"device_name,omitempty"`
	Via        string `json:"via,omitempty"` // "mail": the job came in by e-mail (mailin)
	Service    string `json:"service,omitempty"`
	Sender     string `json:"sender,omitempty"`
	Dest       string `json:"dest,omitempty"` // masked: 54911•••••78, o•••@example.com
	State      string `json:"state"`
	Archived   bool   `json:"archived,omitempty"`
	Files      int    `json:"files"`
	Bytes      int64  `json:"bytes"`
	Attempts   int    `json:"attempts"` // over all files
	Error      string `json:"error,omitempty"`
	Report     string `json:"report,omitempty"` // SMS status reports: accepted, handset, failed (why), unconfirmed
	// What an admin may do now (the page shows the buttons).
	CanRetry  bool `json:"can_retry"`
	CanCancel bool `json:"can_cancel"`
}

const (
	recentLimit  = 50
	devicesLimit = 256
	maxErrorLen  = 300
)

// Snapshot gathers the status facts.
func (s *Server) Snapshot() Status {
	now := time.Now()
	counts, archived := s.o.Store.Counts()
	jobs := map[string]int64{"archived": archived}
	for _, st := range store.States {
		jobs[string(st)] = counts[st]
	}
	up := now.Sub(s.started)
	st := Status{Version: s.o.Version, Now: now.UTC(), Started: s.started.UTC(),
		Uptime: up.Round(time.Second).String(), UptimeSeconds: int64(up / time.Second),
		Jobs: jobs, Store: storeStatus(s.o.Store.Space()),
		History: s.hist.last(now), Services: s.o.Registry.Names(), Senders: []dispatch.SenderStatus{}}
	st.HistoryLoading = s.hist.loading.Load()
	devs := s.o.Store.Devices()
	st.DevicesTotal = len(devs)
	if len(devs) > devicesLimit {
		devs = devs[:devicesLimit]
	}
	st.Devices = make([]DeviceView, len(devs))
	for i, d := range devs {
		st.Devices[i] = DeviceView{Device: d, Name: s.o.Identity.Name(d.MAC), Refused: s.o.Identity.Refusal(d.MAC)}
	}
	st.Disk = diskStatus(s.o.DataDir)
	if s.o.Dispatcher != nil {
		st.Senders = s.o.Dispatcher.Senders()
		st.Queue = s.o.Dispatcher.QueueDepth()
	}
	st.Recent = []RecentJob{}
	if rs, err := s.o.Store.Recent(recentLimit); err == nil {
		for _, j := range rs {
			r := recentOf(j)
			r.DeviceName = s.o.Identity.Name(j.Device)
			r.Report = jobReport(j, now, s.o.ReportWait)
			st.Recent = append(st.Recent, r)
		}
	} else {
		s.log.Error("web: listing recent jobs", "err", err)
	}
	st.Inbound, st.InboundTotal = s.inboundStatus()
	if s.o.Status != nil {
		st.Extra = s.o.Status()
	}
	if s.o.SIM != nil {
		c := s.o.SIM()
		st.SIM = &c
	}
	return st
}

func storeStatus(sp store.Space) StoreStatus {
	return StoreStatus{Bytes: sp.LiveBytes, Quota: sp.Quota, FileBytes: sp.FileBytes, FileAlloc: sp.FileAlloc,
		InUse: sp.InUse, FreeInFile: sp.FreeInFile, FileQuota: sp.FileQuota, DiskFloor: sp.DiskFloor, Headroom: sp.Headroom}
}

func recentOf(j *store.Job) RecentJob {
	r := RecentJob{ID: j.ID, Created: j.Created.UTC(), Updated: j.Updated.UTC(), Device: j.Device, Via: j.Via,
		Service: j.Service, Sender: j.Sender, Dest: MaskDest(j.Dest), State: string(j.State), Archived: j.Archived,
		Files: len(j.Files), Bytes: j.Bytes}
	failed := false
	for _, f := range j.Files {
		r.Attempts += f.Attempts
		if f.LastError != "" && (r.Error == "" || f.State == store.FileFailed && !failed) {
			r.Error, failed = f.LastError, f.State == store.FileFailed
		}
	}
	if j.State == store.Delivered {
		r.Error = "" // an error from before a successful retry is history, not a problem
	}
	if len(r.Error) > maxErrorLen {
		r.Error = r.Error[:maxErrorLen] + "…"
	}
	r.CanRetry = !j.Archived && (j.State == store.Failed || j.State == store.Partial || j.State == store.Queued && r.Error != "")
	r.CanCancel = !j.Archived && (j.State == store.Queued || j.State == store.Preprocess)
	return r
}

func diskStatus(dir string) *DiskStatus {
	if dir == "" {
		return nil
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return nil
	}
	bs := int64(fs.Bsize) //nolint:unconvert // int32 on some GOARCHes
	return &DiskStatus{Path: dir, Free: int64(fs.Bavail) * bs, Total: int64(fs.Blocks) * bs}
}

// MaskDest hides most of a destination for the admin page: a phone number keeps its first
// five and last two digits ("54911•••••78"), an e-mail address its local part's first letter
// and its domain ("o•••@example.com"); a list is masked item by item.
func MaskDest(dest string) string {
	if dest == "" {
		return ""
	}
	parts := strings.Split(dest, ",")
	if len(parts) > 5 {
		parts = append(parts[:5], "…")
	}
	for i, p := range parts {
		parts[i] = maskOne(strings.TrimSpace(p))
	}
	return strings.Join(parts, ", ")
}

func maskOne(d string) string {
	if d == "…" {
		return d
	}
	if at := strings.LastIndexByte(d, '@'); at >= 0 {
		local, domain := d[:at], d[at+1:]
		if lt := strings.LastIndexByte(local, '<'); lt >= 0 { // "Name <addr@host>"
			local = local[lt+1:]
			domain = strings.TrimSuffix(domain, ">")
		}
		first := ""
		for _, r := range local {
			first = string(r)
			break
		}
		return first + "•••@" + domain
	}
	r := []rune(d)
	switch {
	case len(r) >= 9:
		return string(r[:5]) + "•••••" + string(r[len(r)-2:])
	case len(r) >= 4:
		return string(r[:2]) + "•••" + string(r[len(r)-1:])
	default:
		return "•••"
	}
}
