package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"

	"multimsg/hw/growfs"
)

// runGrowData is `multimsg growdata [-data DIR]`: the box's boot runs it (as root, before the
// service) to grow the data partition and its filesystem to the end of the card. Nothing to do
// is not an error; it logs what it did on stderr (the init script passes that to syslog).
func runGrowData(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("growdata", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("data", "/var/lib/multimsg", "mount point of the data partition")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: multimsg growdata [-data DIR]\n\nGrows the partition mounted on DIR (the last on its card, MBR) and its ext4 filesystem to the end of the card, online.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	r, err := growfs.Grow(*dir, growfs.Options{}, log)
	if err != nil {
		log.Error("multimsg growdata: the data partition was not grown", "dir", *dir, "err", err)
		return 1
	}
	if r.Grown() {
		log.Info("multimsg growdata: data partition grown to the end of the card", "result", r.String())
	} else {
		log.Info("multimsg growdata: data partition already fills the card", "device", r.Device, "bytes", r.FSAt)
	}
	return 0
}
