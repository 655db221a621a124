package serial

import "errors"

// ErrGone: the device behind the port vanished or hung up (unplugged, reset, pty closed).
// Close the port and open the path again (Opener) until the device is back.
var ErrGone = errors.New("serial device gone")
