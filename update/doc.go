// Package update installs firmware through RAUC over the system D-Bus (SPEC §12): it streams an
// uploaded bundle to a spool directory on tmpfs, asks RAUC what the bundle is (signature,
// compatible, version) and to install it into the inactive slot, reports RAUC's progress, and
// marks the booted slot good once the caller says the service is healthy.
//
// The updater never writes a slot, a bootloader variable or a signature check of its own: RAUC
// owns all of that, with the keyring the image ships. This package only carries bytes to RAUC and
// facts back. The client is pure Go (github.com/godbus/dbus/v5), so the binary stays static.
//
// A system without RAUC on its bus (a laptop, `make run`) gets an Updater that says so: every
// call answers ErrUnavailable with the reason, and the status carries it for the page.
package update
