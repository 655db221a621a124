package watchdog

import "errors"

// ErrUnhealthy is reported (wrapped, via the logger) when a health check fails: the dog is not
// petted on that tick.
var ErrUnhealthy = errors.New("watchdog: service unhealthy, not petting")

// ErrNotDevice is returned by [Dog.SetTimeout] and [Dog.Timeout] when the path is not a
// watchdog character device (a file or FIFO used in tests), which has no timeout to set.
var ErrNotDevice = errors.New("watchdog: not a character device")

// ErrClosed is returned by operations on a [Dog] after [Dog.Close].
var ErrClosed = errors.New("watchdog: closed")
