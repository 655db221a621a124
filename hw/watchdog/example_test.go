package watchdog_test

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"time"

	"multimsg/hw/watchdog"
)

// How serve wires the watchdog: optional when the device is missing, petted while the store
// is writable, disarmed only on a clean shutdown.
func Example() {
	log := slog.Default()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	storeWritable := func(ctx context.Context) error { return nil } // e.g. a tiny bbolt Update

	dog, err := watchdog.Open("/dev/watchdog", watchdog.Options{Logger: log})
	if errors.Is(err, fs.ErrNotExist) {
		log.Warn("no watchdog on this board", "err", err)
		return
	} else if err != nil {
		log.Error("watchdog", "err", err)
		return
	}
	if _, err := dog.SetTimeout(15 * time.Second); err != nil {
		log.Warn("watchdog keeps its default timeout", "err", err)
	}
	if err := dog.Run(ctx, 5*time.Second, storeWritable); err != nil {
		log.Error("watchdog", "err", err) // not disarmed: the board resets
		return
	}
	dog.Close() // ctx done: clean shutdown, magic close
}
