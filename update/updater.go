package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Options configure an Updater. The zero value of each field has a sensible default.
type Options struct {
	// Bus is the D-Bus address of RAUC's bus; "" is the system bus (DBUS_SYSTEM_BUS_ADDRESS).
	Bus string
	// SpoolDir receives uploaded bundles until RAUC has installed them: tmpfs, never the data
	// partition (both slots share it, and a bundle would eat the jobs' room). Default
	// /run/multimsg/update.
	SpoolDir string
	// MaxBundle bounds one bundle in bytes (default 512 MiB).
	MaxBundle int64
	// RebootCommand restarts the box cleanly (init stops the service first). Default
	// ["/sbin/reboot"].
	RebootCommand []string
	// RefusalWait bounds how long Install waits for RAUC to check a bundle that its Info call
	// rejected, to answer the reason synchronously (default 60 s).
	RefusalWait time.Duration
	Log         *slog.Logger
}

// DefaultSpoolDir is on /run, a tmpfs on the box.
const DefaultSpoolDir = "/run/multimsg/update"

func (o *Options) defaults() {
	if o.SpoolDir == "" {
		o.SpoolDir = DefaultSpoolDir
	}
	if o.MaxBundle <= 0 {
		o.MaxBundle = 512 << 20
	}
	if len(o.RebootCommand) == 0 {
		o.RebootCommand = []string{"/sbin/reboot"}
	}
	if o.RefusalWait <= 0 {
		o.RefusalWait = 60 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Updater is the service's one door to RAUC. It allows one upload or installation at a time.
type Updater struct {
	o   Options
	log *slog.Logger

	mu        sync.Mutex // guards the fields below
	rauc      *RAUC      // nil while RAUC is unreachable
	why       error      // why rauc is nil (an *UnavailableError)
	triedAt   time.Time  // last Dial attempt, to redial at most every redialEvery
	busy      string     // "" idle, "receiving" (upload to the spool), "installing" (RAUC has it)
	received  int64      // bytes of the upload in flight so far
	spool     string     // the spooled bundle's path while RAUC installs it
	version   string     // the bundle version being installed
	lastError string     // the last attempt's error ("" after a success)
	lastDone  string     // the last attempt's outcome, for the page
	marked    string     // the result of marking the booted slot good ("" until then)
	rebooting bool
	waiter    chan int // receives the result of the installation start waits on, if any
}

const redialEvery = 10 * time.Second

// New makes an Updater and tries RAUC once; a missing RAUC is not an error (see Available).
func New(ctx context.Context, o Options) *Updater {
	o.defaults()
	u := &Updater{o: o, log: o.Log}
	u.mu.Lock()
	u.dialLocked(ctx)
	u.mu.Unlock()
	return u
}

// MaxBundle is the largest bundle Install takes.
func (u *Updater) MaxBundle() int64 { return u.o.MaxBundle }

// Close ends the D-Bus connection. A spooled bundle of an unfinished installation stays (RAUC
// still reads it); tmpfs forgets it at the next boot.
func (u *Updater) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.rauc == nil {
		return nil
	}
	err := u.rauc.Close()
	u.rauc = nil
	u.why = &UnavailableError{Reason: "closed"}
	return err
}

func (u *Updater) dialLocked(ctx context.Context) {
	if u.rauc != nil && u.rauc.Alive() {
		return
	}
	if u.rauc != nil { // the bus went away under us
		u.rauc.Close()
		u.rauc = nil
		u.why = &UnavailableError{Reason: "lost the connection to RAUC"}
	}
	if !u.triedAt.IsZero() && time.Since(u.triedAt) < redialEvery {
		return
	}
	u.triedAt = time.Now()
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r, err := Dial(dctx, u.o.Bus)
	if err != nil {
		if u.why == nil || u.why.Error() != err.Error() {
			u.log.Info("update: RAUC not available", "reason", err)
		}
		u.why = err
		return
	}
	u.rauc, u.why = r, nil
	u.log.Info("update: connected to RAUC")
	go u.watch(r)
}

// client returns the live RAUC connection or the reason there is none.
func (u *Updater) client(ctx context.Context) (*RAUC, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.dialLocked(ctx)
	if u.rauc == nil {
		if u.why == nil {
			u.why = &UnavailableError{Reason: "RAUC not reachable"}
		}
		return nil, u.why
	}
	return u.rauc, nil
}

// Check says, before any byte of an upload is read, whether an upload of size bytes (-1:
// unknown) would be taken now: ErrUnavailable, ErrBusy or ErrTooLarge.
func (u *Updater) Check(ctx context.Context, size int64) error {
	if _, err := u.client(ctx); err != nil {
		return err
	}
	if size > u.o.MaxBundle {
		return fmt.Errorf("%w: %d bytes, at most %d (update.max_bundle)", ErrTooLarge, size, u.o.MaxBundle)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.busy != "" || u.rebooting {
		return u.busyErrLocked()
	}
	return nil
}

func (u *Updater) busyErrLocked() error {
	if u.rebooting {
		return fmt.Errorf("%w: the box is rebooting", ErrBusy)
	}
	if u.busy == "installing" && u.version != "" {
		return fmt.Errorf("%w: installing %s", ErrBusy, u.version)
	}
	return fmt.Errorf("%w (%s)", ErrBusy, u.busy)
}

// Accepted describes a bundle RAUC is installing.
type Accepted struct {
	Version    string `json:"version"`
	Compatible string `json:"compatible"`
	Size       int64  `json:"size"`
}

// InstallOptions qualify one installation.
type InstallOptions struct {
	// AllowDowngrade installs a bundle older than the booted slot's.
	AllowDowngrade bool
}

// Install streams body (size bytes, or -1 when unknown) into the spool, checks the bundle with
// RAUC and starts its installation into the inactive slot. It returns once RAUC is installing;
// the outcome is in Status. A bundle RAUC refuses is answered with a *RefusedError carrying
// RAUC's reason, and nothing on the box changes. Memory stays flat whatever the size: the body
// is copied through one 64 KiB buffer.
func (u *Updater) Install(ctx context.Context, body io.Reader, size int64, opts InstallOptions) (*Accepted, error) {
	if err := u.Check(ctx, size); err != nil {
		return nil, err
	}
	u.mu.Lock()
	if u.busy != "" || u.rebooting { // lost a race with another upload since Check
		err := u.busyErrLocked()
		u.mu.Unlock()
		return nil, err
	}
	u.busy, u.received, u.version = "receiving", 0, ""
	u.mu.Unlock()
	path, err := u.receive(ctx, body, size)
	if err == nil {
		var acc *Accepted
		if acc, err = u.start(ctx, path, opts); err == nil {
			acc.Size = u.received
			return acc, nil
		}
	}
	u.mu.Lock()
	if u.busy == "receiving" { // start did not hand the bundle to RAUC
		u.busy = ""
	}
	u.lastError = err.Error()
	u.lastDone = "refused"
	u.mu.Unlock()
	var h *handedError
	if !errors.As(err, &h) {
		if path != "" {
			os.Remove(path)
		}
		return nil, err
	}
	return nil, h.err
}

// handedError marks an error met after RAUC took the bundle: its spool file is then RAUC's to
// read, and removed when RAUC reports the end (finish).
type handedError struct{ err error }

func (e *handedError) Error() string { return e.err.Error() }
func (e *handedError) Unwrap() error { return e.err }

func handed(err error) error { return &handedError{err} }

// receive copies the body into a new file in the spool directory.
func (u *Updater) receive(ctx context.Context, body io.Reader, size int64) (string, error) {
	if err := os.MkdirAll(u.o.SpoolDir, 0o700); err != nil {
		return "", fmt.Errorf("update: spool directory: %w", err)
	}
	if size > 0 {
		var st unix.Statfs_t
		if err := unix.Statfs(u.o.SpoolDir, &st); err == nil {
			if free := int64(st.Bavail) * int64(st.Bsize); free < size+1<<20 {
				return "", fmt.Errorf("%w: %s holds %d bytes more, the bundle is %d", ErrNoSpace, u.o.SpoolDir, free, size)
			}
		}
	}
	f, err := os.CreateTemp(u.o.SpoolDir, "bundle-*.raucb")
	if err != nil {
		return "", fmt.Errorf("update: spool: %w", err)
	}
	path := f.Name()
	n, err := copyCounted(ctx, f, io.LimitReader(body, u.o.MaxBundle+1), &u.mu, &u.received)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("update: spool: %w", cerr)
	}
	switch {
	case err != nil:
		if errors.Is(err, unix.ENOSPC) {
			err = fmt.Errorf("%w: %s is full after %d bytes", ErrNoSpace, u.o.SpoolDir, n)
		}
	case n > u.o.MaxBundle:
		err = fmt.Errorf("%w: more than %d bytes (update.max_bundle)", ErrTooLarge, u.o.MaxBundle)
	case size >= 0 && n != size:
		err = fmt.Errorf("%w: %d of %d bytes received", ErrIncomplete, n, size)
	case n == 0:
		err = &RefusedError{Reason: "empty upload"}
	}
	if err != nil {
		os.Remove(path)
		return "", err
	}
	return path, nil
}

// copyCounted is io.Copy through one buffer, publishing the count under mu as it goes.
func copyCounted(ctx context.Context, w io.Writer, r io.Reader, mu *sync.Mutex, count *int64) (int64, error) {
	buf := make([]byte, 64<<10)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, rerr := r.Read(buf)
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return n, werr
			}
			n += int64(m)
			mu.Lock()
			*count = n
			mu.Unlock()
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, fmt.Errorf("%w: %v", ErrIncomplete, rerr)
		}
	}
}

// start checks the spooled bundle with RAUC and starts the installation.
func (u *Updater) start(ctx context.Context, path string, o InstallOptions) (*Accepted, error) {
	r, err := u.client(ctx)
	if err != nil {
		return nil, err
	}
	props, err := r.Props(ctx)
	if err != nil {
		return nil, err
	}
	if props.Operation != "idle" {
		return nil, fmt.Errorf("%w: RAUC is %s (started elsewhere)", ErrBusy, props.Operation)
	}
	compatible, version, infoErr := r.Info(ctx, path)
	if infoErr == nil {
		if compatible != props.Compatible {
			return nil, &RefusedError{Reason: fmt.Sprintf("wrong compatible: this box is %q, the bundle is for %q", props.Compatible, compatible)}
		}
		if !o.AllowDowngrade {
			if booted := u.bootedVersion(ctx, r, props.BootSlot); booted != "" && compareVersions(version, booted) < 0 {
				return nil, &RefusedError{Reason: fmt.Sprintf("downgrade: the bundle is %s, the running slot has %s (allow_downgrade=1 to install it anyway)", version, booted)}
			}
		}
	}
	var verdict chan int
	if infoErr != nil {
		verdict = make(chan int, 1)
	}
	u.mu.Lock()
	u.busy, u.spool, u.version, u.lastError, u.lastDone = "installing", path, version, "", ""
	u.waiter = verdict
	u.mu.Unlock()
	if err := r.InstallBundle(ctx, path); err != nil {
		u.finish(r, -1, err.Error())
		return nil, handed(err)
	}
	if infoErr != nil {
		// RAUC 1.8's Info says only "rauc info error": the reason comes from the installation,
		// which checks the bundle first and stops there. Wait for that verdict, bounded.
		u.log.Info("update: RAUC could not read the bundle; waiting for its reason", "info", infoErr)
		t := time.NewTimer(u.o.RefusalWait)
		defer t.Stop()
		select {
		case code, ok := <-verdict:
			if !ok {
				return nil, handed(&UnavailableError{Reason: "lost RAUC while it checked the bundle"})
			}
			if code != 0 {
				u.mu.Lock()
				reason := u.lastError
				u.mu.Unlock()
				return nil, handed(&RefusedError{Reason: reason})
			}
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return &Accepted{Version: version, Compatible: compatible}, nil
}

// watch follows one RAUC connection's Completed signals for the installation this Updater
// started, and forwards each to completedOnce's waiter.
func (u *Updater) watch(r *RAUC) {
	for code := range r.Completed() {
		msg := ""
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if p, err := r.Props(ctx); err == nil {
			msg = p.LastError
		}
		cancel()
		u.finish(r, code, msg)
	}
	u.mu.Lock()
	if u.busy == "installing" {
		u.busy = ""
		u.lastError, u.lastDone = "lost the connection to RAUC during the installation", "failed"
	}
	if u.waiter != nil {
		close(u.waiter)
		u.waiter = nil
	}
	u.mu.Unlock()
}

// finish records an installation's end and removes its spooled bundle.
func (u *Updater) finish(r *RAUC, code int, lastErr string) {
	u.mu.Lock()
	if u.busy != "installing" {
		u.mu.Unlock()
		return // an installation started by someone else (rauc install on the console)
	}
	spool, version := u.spool, u.version
	u.busy, u.spool = "", ""
	if code == 0 {
		u.lastError, u.lastDone = "", "installed "+orUnknown(version)+": reboot to run it"
	} else {
		if lastErr == "" {
			lastErr = "RAUC reported failure " + strconv.Itoa(code)
		}
		u.lastError, u.lastDone = lastErr, "failed"
	}
	waiter := u.waiter
	u.waiter = nil
	u.mu.Unlock()
	if spool != "" {
		os.Remove(spool)
	}
	u.log.Info("audit: firmware installation finished", "version", version, "ok", code == 0, "error", lastErr)
	if waiter != nil {
		waiter <- code // buffered: never blocks
	}
}

func orUnknown(v string) string {
	if v == "" {
		return "the bundle"
	}
	return v
}

// bootedVersion is the bundle version RAUC installed into the booted slot ("" if unknown: a
// slot written at the factory carries no version, and then no downgrade check applies).
func (u *Updater) bootedVersion(ctx context.Context, r *RAUC, bootSlot string) string {
	slots, err := r.Slots(ctx)
	if err != nil {
		return ""
	}
	for _, s := range slots {
		if s.Bootname == bootSlot || s.State == "booted" {
			return s.Version
		}
	}
	return ""
}

// compareVersions orders dotted versions numerically part by part ("2.10.0" > "2.9.1"); a
// part that is not a number compares as text. "v" prefixes are ignored.
func compareVersions(a, b string) int {
	pa := strings.FieldsFunc(strings.TrimPrefix(a, "v"), func(r rune) bool { return r == '.' || r == '-' || r == '+' })
	pb := strings.FieldsFunc(strings.TrimPrefix(b, "v"), func(r rune) bool { return r == '.' || r == '-' || r == '+' })
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y string
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		nx, ex := strconv.ParseUint(x, 10, 64)
		ny, ey := strconv.ParseUint(y, 10, 64)
		switch {
		case ex == nil && ey == nil:
			if nx != ny {
				if nx < ny {
					return -1
				}
				return 1
			}
		case x != y:
			if x == "" { // 2.0 < 2.0.1; 2.0.0-rc1 vs 2.0.0: shorter wins only for numbers
				return -1
			}
			if y == "" {
				return 1
			}
			return strings.Compare(x, y)
		}
	}
	return 0
}

// Status is what the page and GET /admin/api/update show.
type Status struct {
	Available  bool   `json:"available"`
	Reason     string `json:"reason,omitempty"`     // why not available
	Operation  string `json:"operation"`            // "idle" or "installing" (receiving the upload counts)
	Progress   int    `json:"progress"`             // 0-100, RAUC's
	Message    string `json:"message"`              // RAUC's current step, or the upload's
	Received   int64  `json:"received,omitempty"`   // bytes of the upload so far
	Installing string `json:"installing,omitempty"` // version being installed
	LastError  string `json:"last_error"`           // "" after a success
	LastResult string `json:"last_result,omitempty"`
	Compatible string `json:"compatible,omitempty"`
	Booted     string `json:"booted"`  // bootname of the running slot
	Primary    string `json:"primary"` // bootname the bootloader tries first
	Slots      []Slot `json:"slots"`
	Marked     string `json:"marked,omitempty"`   // RAUC's answer when this boot was marked good
	Fallback   string `json:"fallback,omitempty"` // "3.0.0 failed to start; running 2.0.0 again"
	Rebooting  bool   `json:"rebooting,omitempty"`
}

// Status gathers the facts for the page. It never fails: RAUC's absence is a fact too.
func (u *Updater) Status(ctx context.Context) Status {
	st := Status{Operation: "idle", Slots: []Slot{}}
	r, err := u.client(ctx)
	u.mu.Lock()
	st.LastError, st.LastResult, st.Marked, st.Rebooting = u.lastError, u.lastDone, u.marked, u.rebooting
	st.Installing, st.Received = u.version, u.received
	busy := u.busy
	u.mu.Unlock()
	if busy == "" {
		st.Installing, st.Received = "", 0
	}
	if busy == "receiving" {
		st.Operation, st.Message = "installing", "receiving the bundle"
	}
	if err != nil {
		st.Reason = err.Error()
		var ue *UnavailableError
		if errors.As(err, &ue) {
			st.Reason = ue.Reason // the page says "not available on this system" itself
		}
		return st
	}
	st.Available = true
	p, err := r.Props(ctx)
	if err != nil {
		st.Reason = err.Error()
		return st
	}
	st.Compatible, st.Booted = p.Compatible, p.BootSlot
	if p.Operation != "idle" || busy == "installing" {
		st.Operation, st.Progress, st.Message = "installing", p.Progress, p.Message
	}
	if busy == "" && p.LastError != "" && st.LastError == "" && st.LastResult == "" {
		st.LastError = p.LastError // an installation run from the console
	}
	primary, _ := r.Primary(ctx) // RAUC answers the slot's name (rootfs.1); the page shows bootnames
	if slots, err := r.Slots(ctx); err == nil {
		st.Slots = slots
	}
	st.Primary = primary
	for _, s := range st.Slots {
		if s.Name == primary {
			st.Primary = s.Bootname
		}
	}
	st.Fallback = fallback(st.Slots)
	return st
}

// fallback says whether the bootloader gave up on a newer installation: the other slot was
// installed after the booted one and the bootloader counts it bad.
func fallback(slots []Slot) string {
	var booted *Slot
	for i := range slots {
		if slots[i].State == "booted" {
			booted = &slots[i]
		}
	}
	if booted == nil {
		return ""
	}
	for _, s := range slots {
		if s.Name == booted.Name || s.Class != booted.Class || s.BootStatus != "bad" || s.Version == "" {
			continue
		}
		// RFC 3339 UTC stamps order as text; whole seconds: the same second counts as later
		if s.Installed >= booted.Installed {
			running := booted.Version
			if running == "" {
				running = "the previous version"
			}
			return fmt.Sprintf("%s failed to start; running %s again", s.Version, running)
		}
	}
	return ""
}

// MarkGood tells RAUC the booted slot works, so the bootloader keeps it. The caller calls it
// once, when the service is healthy after boot (store open, HTTP answering, dispatcher alive,
// watchdog petted); an unhealthy service never calls it, and the boot counter plus the
// watchdog bring the previous slot back.
func (u *Updater) MarkGood(ctx context.Context) error {
	r, err := u.client(ctx)
	if err != nil {
		return err
	}
	slot, msg, err := r.Mark(ctx, "good", "booted")
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.marked = msg
	u.mu.Unlock()
	u.log.Info("update: booted slot marked good", "slot", slot, "rauc", msg)
	return nil
}

// Reboot restarts the box with the configured command (init stops the service cleanly first),
// after delay so that the answer saying so reaches the browser. Refused while installing.
func (u *Updater) Reboot(delay time.Duration) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.busy != "" {
		return u.busyErrLocked()
	}
	if u.rebooting {
		return nil
	}
	u.rebooting = true
	cmd := u.o.RebootCommand
	u.log.Info("audit: reboot requested", "command", strings.Join(cmd, " "))
	time.AfterFunc(delay, func() {
		c := exec.Command(cmd[0], cmd[1:]...)
		if out, err := c.CombinedOutput(); err != nil {
			u.log.Error("update: reboot command failed", "command", strings.Join(cmd, " "), "err", err, "output", strings.TrimSpace(string(out)))
			u.mu.Lock()
			u.rebooting = false
			u.mu.Unlock()
		}
	})
	return nil
}

// SpoolOnDataDir reports whether dir lies inside dataDir (a configuration error: bundles must
// never eat the data partition both slots share).
func SpoolOnDataDir(dir, dataDir string) bool {
	a, err1 := filepath.Abs(dir)
	b, err2 := filepath.Abs(dataDir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(b, a)
	return err == nil && (rel == "." || !strings.HasPrefix(rel, ".."))
}
