// Package settings is the admin's way to set up and run the box from its page (issue 14):
// forms rendered from the settings' own descriptions (package setting), validated by the same
// code that checks the file at start, written atomically with the previous file kept, and
// applied live by the gateway (Applier); SIGHUP applies a hand-edited file the same way.
package settings

// Applied is what a Reload did.
type Applied struct {
	Changed []string // every key that changed
	Live    []string // applied now
	Rebuilt []string // services whose drivers were rebuilt
	Restart []string // changed, but read only at start: applied at the next start
}
