package update

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/godbus/dbus/v5"
)

// RAUC's D-Bus names (rauc 1.8: Info, InstallBundle, Mark, GetSlotStatus, GetPrimary; the
// properties Operation, LastError, Progress, Compatible, BootSlot; the signal Completed).
const (
	raucName  = "de.pengutronix.rauc"
	raucPath  = dbus.ObjectPath("/")
	raucIface = "de.pengutronix.rauc.Installer"
)

// RAUC is a connection to the RAUC service on a D-Bus. Methods may be called from any goroutine.
type RAUC struct {
	conn *dbus.Conn
	obj  dbus.BusObject
	done chan int // Completed(result), buffered; the Updater reads it
}

// Dial connects to RAUC on the bus at address, or on the system bus when address is ""
// (DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket). It fails with an
// *UnavailableError when there is no bus or no RAUC on it.
func Dial(ctx context.Context, address string) (*RAUC, error) {
	var conn *dbus.Conn
	var err error
	if address == "" {
		address = os.Getenv("DBUS_SYSTEM_BUS_ADDRESS")
	}
	if address == "" {
		address = "unix:path=/run/dbus/system_bus_socket"
	}
	// A private connection: the Updater owns it and closes it (dbus.SystemBus would be shared).
	// Its lifetime is not ctx's (godbus ties the connection to the context it is given, and
	// keeps it: a request's context must not outlive the request); ctx bounds the calls below.
	conn, err = dbus.Connect(address, dbus.WithContext(context.Background()))
	if err != nil {
		return nil, &UnavailableError{Reason: "no system D-Bus at " + address + ": " + err.Error()}
	}
	var has bool
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, raucName).Store(&has); err != nil {
		conn.Close()
		return nil, &UnavailableError{Reason: "asking the bus for RAUC: " + err.Error()}
	}
	if !has {
		// RAUC may be D-Bus activated (Buildroot's package installs it so, without an init
		// script): ask the bus to start it.
		var started uint32
		if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.StartServiceByName", 0, raucName, uint32(0)).Store(&started); err != nil {
			conn.Close()
			return nil, &UnavailableError{Reason: "RAUC (" + raucName + ") is not running on the system bus, and the bus cannot start it: " + err.Error()}
		}
	}
	r := &RAUC{conn: conn, obj: conn.Object(raucName, raucPath), done: make(chan int, 4)}
	if err := conn.AddMatchSignalContext(ctx, dbus.WithMatchObjectPath(raucPath),
		dbus.WithMatchInterface(raucIface), dbus.WithMatchMember("Completed")); err != nil {
		conn.Close()
		return nil, fmt.Errorf("update: subscribing to RAUC's Completed signal: %w", err)
	}
	sig := make(chan *dbus.Signal, 8)
	conn.Signal(sig)
	go func() { // ends when the connection closes (godbus closes sig)
		for s := range sig {
			if s.Name != raucIface+".Completed" || len(s.Body) != 1 {
				continue
			}
			if code, ok := s.Body[0].(int32); ok {
				select {
				case r.done <- int(code):
				default: // nobody waiting for a result they did not start
				}
			}
		}
		close(r.done)
	}()
	return r, nil
}

// Close ends the connection.
func (r *RAUC) Close() error { return r.conn.Close() }

// Completed delivers RAUC's result code (0 success) for each installation it finishes; it is
// closed when the connection is lost.
func (r *RAUC) Completed() <-chan int { return r.done }

// Alive reports whether the connection still works.
func (r *RAUC) Alive() bool { return r.conn.Connected() }

func (r *RAUC) call(ctx context.Context, method string, args ...any) *dbus.Call {
	return r.obj.CallWithContext(ctx, raucIface+"."+method, 0, args...)
}

// Info asks RAUC to verify bundle path (signature against the keyring, format) and returns
// its compatible and version. RAUC 1.8 reports every failure as "rauc info error": the reason
// only comes from an installation attempt (see Updater.Install).
func (r *RAUC) Info(ctx context.Context, path string) (compatible, version string, err error) {
	err = r.call(ctx, "Info", path).Store(&compatible, &version)
	return compatible, version, dbusErr("Info", err)
}

// InstallBundle starts an installation; the result arrives on Completed.
func (r *RAUC) InstallBundle(ctx context.Context, path string) error {
	return dbusErr("InstallBundle", r.call(ctx, "InstallBundle", path, map[string]dbus.Variant{}).Err)
}

// Mark marks a slot ("booted", "other" or a slot name) "good", "bad" or "active".
func (r *RAUC) Mark(ctx context.Context, state, slot string) (slotName, message string, err error) {
	err = r.call(ctx, "Mark", state, slot).Store(&slotName, &message)
	return slotName, message, dbusErr("Mark", err)
}

// Primary is the bootname of the slot the bootloader will try first.
func (r *RAUC) Primary(ctx context.Context) (string, error) {
	var p string
	err := r.call(ctx, "GetPrimary").Store(&p)
	return p, dbusErr("GetPrimary", err)
}

// Props are RAUC's properties.
type Props struct {
	Operation  string // "idle" or "installing"
	LastError  string
	Progress   int // percent
	Message    string
	Compatible string
	BootSlot   string // the booted slot's bootname
}

// Props reads RAUC's properties in one call.
func (r *RAUC) Props(ctx context.Context) (Props, error) {
	var m map[string]dbus.Variant
	if err := r.obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.GetAll", 0, raucIface).Store(&m); err != nil {
		return Props{}, dbusErr("GetAll", err)
	}
	var p Props
	str := func(k string) string { s, _ := m[k].Value().(string); return s }
	p.Operation, p.LastError, p.Compatible, p.BootSlot = str("Operation"), str("LastError"), str("Compatible"), str("BootSlot")
	if v, ok := m["Progress"].Value().([]any); ok && len(v) == 3 {
		if pc, ok := v[0].(int32); ok {
			p.Progress = int(pc)
		}
		p.Message, _ = v[1].(string)
	}
	return p, nil
}

// Slot is one slot as RAUC reports it.
type Slot struct {
	Name       string `json:"name"`        // rootfs.0
	Bootname   string `json:"bootname"`    // A
	State      string `json:"state"`       // booted, active, inactive
	BootStatus string `json:"boot_status"` // good, bad (the bootloader's view)
	Version    string `json:"version"`     // the bundle version installed into it ("" if never)
	Installed  string `json:"installed"`   // RFC 3339 time of that installation
	Class      string `json:"class"`
}

// Slots lists the slots, by name.
func (r *RAUC) Slots(ctx context.Context) ([]Slot, error) {
	var raw []struct {
		Name   string
		Status map[string]dbus.Variant
	}
	if err := r.call(ctx, "GetSlotStatus").Store(&raw); err != nil {
		return nil, dbusErr("GetSlotStatus", err)
	}
	out := make([]Slot, 0, len(raw))
	for _, s := range raw {
		str := func(k string) string { v, _ := s.Status[k].Value().(string); return v }
		out = append(out, Slot{
			Name: s.Name, Bootname: str("bootname"), State: str("state"), BootStatus: str("boot-status"),
			Version: str("bundle.version"), Installed: str("installed.timestamp"), Class: str("class"),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// dbusErr names the method and keeps RAUC's message (a *dbus.Error's body) readable.
func dbusErr(method string, err error) error {
	if err == nil {
		return nil
	}
	var de dbus.Error
	if errors.As(err, &de) && len(de.Body) > 0 {
		if msg, ok := de.Body[0].(string); ok {
			return &CallError{Method: method, Name: de.Name, Message: msg}
		}
	}
	return fmt.Errorf("update: RAUC %s: %w", method, err)
}

// CallError is an error RAUC answered to a method call.
type CallError struct {
	Method, Name, Message string
}

func (e *CallError) Error() string {
	return "RAUC " + e.Method + ": " + strings.TrimSpace(e.Message)
}
