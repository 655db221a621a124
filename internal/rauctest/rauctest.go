// Package rauctest runs a real RAUC service (Debian's rauc, 1.8) on a private D-Bus with two
// file-backed root slots, for tests of the update package and the HTTP update route.
//
// The bootloader is RAUC's "custom" backend: a shell script that keeps U-Boot's variables
// (BOOT_ORDER, BOOT_A_LEFT, BOOT_B_LEFT) in a file and applies the same rules as the box's
// boot.scr (buildroot/board/multimsg/rauc/boot.cmd): set-primary puts the slot first with 3
// attempts, "bad" empties its attempts, and Boot picks the first slot in the order with
// attempts left and takes one. Restarting the service with another --override-boot-slot is a
// reboot into that slot.
//
// Bundles: the host this runs on may lack device-mapper (no /dev/mapper/control in a
// container), which RAUC needs to mount verity bundles. The box refuses plain bundles; the test
// system allows them only where verity cannot be mounted (see System.Verity), so installs run
// end to end everywhere, and verity bundles are still built and checked (signature, Info).
package rauctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"multimsg/internal/peertest"
	"multimsg/internal/poll"
)

// Compatible is the test system's compatible string.
const Compatible = "multimsg-test"

// System is one RAUC service on its own bus.
type System struct {
	Dir     string // everything lives here
	Bus     string // the bus address (give it to update.Options.Bus)
	Cert    string // the dev certificate RAUC trusts (keyring)
	Key     string // its private key
	Verity  bool   // device-mapper works here: the system refuses plain bundles as the box does
	SlotA   string // slot image files
	SlotB   string
	env     string // the bootloader's variables
	conf    string
	dbus    *exec.Cmd
	svc     *exec.Cmd
	svcLog  string
	t       testing.TB
	booted  string
	bundles int
}

// Start starts dbus-daemon and rauc service, booted from slot A. Everything stops at cleanup.
// It needs rauc, dbus-daemon, mksquashfs and openssl, and root (RAUC loop-mounts bundles).
func Start(t testing.TB) *System {
	t.Helper()
	for _, b := range []string{"rauc", "dbus-daemon", "dbus-send", "mksquashfs", "openssl"} {
		peertest.Binary(t, b)
	}
	peertest.Root(t, "rauc service loop-mounts bundles")
	// A short path: a unix socket's path is limited to 108 bytes, t.TempDir's can be longer.
	dir, err := os.MkdirTemp("", "rauctest-"+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &System{Dir: dir, t: t, env: filepath.Join(dir, "bootenv"), conf: filepath.Join(dir, "system.conf"),
		SlotA: filepath.Join(dir, "slotA.img"), SlotB: filepath.Join(dir, "slotB.img")}
	s.Cert, s.Key = s.MakeKey("dev")
	_, err = os.Stat("/dev/mapper/control")
	s.Verity = err == nil
	for _, f := range []string{s.SlotA, s.SlotB} {
		if err := os.WriteFile(f, make([]byte, 4<<20), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.writeEnv(map[string]string{"BOOT_ORDER": "A B", "BOOT_A_LEFT": "3", "BOOT_B_LEFT": "3"})
	backend := filepath.Join(dir, "bootloader")
	write(t, backend, 0o755, strings.ReplaceAll(backendScript, "@ENV@", s.env))
	formats := "plain verity"
	if s.Verity {
		formats = "-plain"
	}
	write(t, s.conf, 0o644, fmt.Sprintf(`[system]
compatible=%s
bootloader=custom
bundle-formats=%s
statusfile=%s/status.raucs
data-directory=%s/rauc-data
max-bundle-download-size=1073741824

[handlers]
bootloader-custom-backend=%s

[keyring]
path=%s

[slot.rootfs.0]
device=%s
type=raw
bootname=A

[slot.rootfs.1]
device=%s
type=raw
bootname=B
`, Compatible, formats, dir, dir, backend, s.Cert, s.SlotA, s.SlotB))
	sock := filepath.Join(dir, "bus")
	write(t, filepath.Join(dir, "bus.conf"), 0o644, fmt.Sprintf(busConf, sock))
	s.Bus = "unix:path=" + sock
	s.dbus = exec.Command("dbus-daemon", "--nofork", "--nopidfile", "--config-file="+filepath.Join(dir, "bus.conf"))
	s.dbus.Stderr = os.Stderr
	if err := s.dbus.Start(); err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	t.Cleanup(func() { s.dbus.Process.Kill(); s.dbus.Wait() })
	poll.Until(t, 10*time.Second, "dbus-daemon's socket", func() bool { _, err := os.Stat(sock); return err == nil })
	s.startService("A")
	t.Cleanup(s.stopService)
	return s
}

// Booted is the bootname the service runs as.
func (s *System) Booted() string { return s.booted }

func (s *System) startService(bootname string) {
	t := s.t
	s.svcLog = filepath.Join(s.Dir, "rauc-"+bootname+"-"+strconv.FormatInt(time.Now().UnixNano(), 36)+".log")
	lf, err := os.Create(s.svcLog)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	s.svc = exec.Command("rauc", "service", "--conf="+s.conf, "--override-boot-slot="+bootname, "--mount="+filepath.Join(s.Dir, "mnt"))
	s.svc.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+s.Bus)
	s.svc.Stdout, s.svc.Stderr = lf, lf
	if err := s.svc.Start(); err != nil {
		t.Fatalf("rauc service: %v", err)
	}
	s.booted = bootname
	poll.Until(t, 20*time.Second, "rauc service on the bus", func() bool {
		out, err := exec.Command("dbus-send", "--bus="+s.Bus, "--print-reply", "--dest=org.freedesktop.DBus",
			"/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", "string:de.pengutronix.rauc").CombinedOutput()
		return err == nil && strings.Contains(string(out), "boolean true")
	})
}

func (s *System) stopService() {
	if s.svc == nil {
		return
	}
	s.svc.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.svc.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.svc.Process.Kill()
		<-done
	}
	s.svc = nil
}

// StopService stops RAUC (the bus stays): a box whose RAUC died.
func (s *System) StopService() { s.stopService() }

// Log is the current service's log, for failure messages.
func (s *System) Log() string {
	b, _ := os.ReadFile(s.svcLog)
	return string(b)
}

// Reboot stops RAUC, runs the boot script's choice (the first slot in BOOT_ORDER with attempts
// left, taking one attempt) and starts RAUC again as booted from it. It returns the bootname.
func (s *System) Reboot() string {
	s.stopService()
	env := s.Env()
	chosen := ""
	for _, b := range strings.Fields(env["BOOT_ORDER"]) {
		if n, _ := strconv.Atoi(env["BOOT_"+b+"_LEFT"]); n > 0 {
			env["BOOT_"+b+"_LEFT"] = strconv.Itoa(n - 1)
			chosen = b
			break
		}
	}
	if chosen == "" { // boot.cmd: nothing left, reset the counters and try again from the top
		env["BOOT_A_LEFT"], env["BOOT_B_LEFT"] = "3", "3"
		chosen = strings.Fields(env["BOOT_ORDER"])[0]
		env["BOOT_"+chosen+"_LEFT"] = "2"
	}
	s.writeEnv(env)
	s.startService(chosen)
	return chosen
}

// Env reads the bootloader's variables.
func (s *System) Env() map[string]string {
	b, err := os.ReadFile(s.env)
	if err != nil {
		s.t.Fatal(err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = strings.Trim(v, `"`)
		}
	}
	return m
}

func (s *System) writeEnv(m map[string]string) {
	write(s.t, s.env, 0o644, fmt.Sprintf("BOOT_ORDER=\"%s\"\nBOOT_A_LEFT=%s\nBOOT_B_LEFT=%s\n", m["BOOT_ORDER"], m["BOOT_A_LEFT"], m["BOOT_B_LEFT"]))
}

// MakeKey makes a self-signed signing certificate and key named name (a dev key: never a
// release key).
func (s *System) MakeKey(name string) (cert, key string) {
	cert, key = filepath.Join(s.Dir, name+".cert.pem"), filepath.Join(s.Dir, name+".key.pem")
	out, err := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
		"-days", "365", "-subj", "/O=multimsg test/CN="+name).CombinedOutput()
	if err != nil {
		s.t.Fatalf("openssl: %v\n%s", err, out)
	}
	return cert, key
}

// BundleOptions describe a bundle to build.
type BundleOptions struct {
	Version    string
	Compatible string // default Compatible
	Format     string // "verity" (default: plain where the system cannot mount verity)
	Cert, Key  string // default the system's dev key
	Payload    []byte // the rootfs image (default 256 KiB of a pattern naming the version)
}

// Bundle builds a signed bundle and returns its path. The input directory is a fresh copy each
// time: rauc 1.8 rewrites manifest.raucm in it.
func (s *System) Bundle(o BundleOptions) string {
	t := s.t
	if o.Compatible == "" {
		o.Compatible = Compatible
	}
	if o.Format == "" {
		o.Format = "verity"
		if !s.Verity {
			o.Format = "plain"
		}
	}
	if o.Cert == "" {
		o.Cert, o.Key = s.Cert, s.Key
	}
	if o.Payload == nil {
		o.Payload = []byte(strings.Repeat("rootfs "+o.Version+"\n", (256<<10)/(len(o.Version)+8)))
	}
	s.bundles++
	in := filepath.Join(s.Dir, fmt.Sprintf("in-%d", s.bundles))
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(in, "rootfs.img"), 0o644, string(o.Payload))
	write(t, filepath.Join(in, "manifest.raucm"), 0o644, fmt.Sprintf("[update]\ncompatible=%s\nversion=%s\n\n[bundle]\nformat=%s\n\n[image.rootfs]\nfilename=rootfs.img\n",
		o.Compatible, o.Version, o.Format))
	out := filepath.Join(s.Dir, fmt.Sprintf("bundle-%d-%s.raucb", s.bundles, o.Version))
	if b, err := exec.Command("rauc", "bundle", "--cert="+o.Cert, "--key="+o.Key, in, out).CombinedOutput(); err != nil {
		t.Fatalf("rauc bundle: %v\n%s", err, b)
	}
	return out
}

// SlotHolds reports whether slot file path starts with payload.
func SlotHolds(t testing.TB, path string, payload []byte) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return len(b) >= len(payload) && string(b[:len(payload)]) == string(payload)
}

func write(t testing.TB, path string, mode os.FileMode, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}

// busConf is a system bus of our own: anyone may own names and talk (the box's real policy is
// in buildroot/).
const busConf = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
`

// backendScript is RAUC's custom bootloader backend with U-Boot's variables and rules.
const backendScript = `#!/bin/sh
# RAUC custom bootloader backend: U-Boot's BOOT_ORDER / BOOT_x_LEFT kept in a file.
env=@ENV@
. "$env"
save() { printf 'BOOT_ORDER="%s"\nBOOT_A_LEFT=%s\nBOOT_B_LEFT=%s\n' "$BOOT_ORDER" "$BOOT_A_LEFT" "$BOOT_B_LEFT" >"$env.new" && mv "$env.new" "$env"; }
left() { eval echo "\$BOOT_${1}_LEFT"; }
case "$1" in
get-primary)
	for b in $BOOT_ORDER; do [ "$(left "$b")" -gt 0 ] && { echo "$b"; exit 0; }; done
	exit 1 ;;
set-primary)
	order=$2; for b in $BOOT_ORDER; do [ "$b" = "$2" ] || order="$order $b"; done
	BOOT_ORDER=$order; eval "BOOT_${2}_LEFT=3"; save ;;
get-state)
	[ "$(left "$2")" -gt 0 ] && echo good || echo bad ;;
set-state)
	case $3 in good) eval "BOOT_${2}_LEFT=3" ;; bad) eval "BOOT_${2}_LEFT=0" ;; *) exit 1 ;; esac
	save ;;
*) exit 1 ;;
esac
`

// PowerCut kills RAUC without warning, as a power cut would.
func (s *System) PowerCut() {
	if s.svc == nil {
		return
	}
	s.svc.Process.Kill()
	s.svc.Wait()
	s.svc = nil
}
