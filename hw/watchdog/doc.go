// Package watchdog keeps a Linux hardware watchdog (/dev/watchdog) from resetting the board for
// as long as the service is healthy, and lets it reset the board when the service wedges.
//
// Opening the device arms the timer. [Dog.Run] pets it on every tick while a health check
// passes (store writable, dispatcher loop alive: the caller decides) and stops petting while the
// check fails or hangs, so the board reboots once the driver's timeout runs out. A crash or a
// SIGKILL leaves the timer armed too: the board reboots, which is how the appliance restarts a
// dead service under BusyBox init, which does not respawn daemons.
//
// On a clean shutdown [Dog.Close] writes the magic character 'V' before closing, which tells
// drivers that support magic close to disarm instead of rebooting (drivers built with
// CONFIG_WATCHDOG_NOWAYOUT ignore it and reboot anyway: that is their point).
//
// A path that is not a character device (a regular file, a FIFO) is driven with plain writes
// only, so tests and boards without a watchdog can use the same code.
package watchdog
