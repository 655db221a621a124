package main

import (
	"flag"
	"fmt"
	"io"

	"multimsg/envelope"
)

// RunKeygen is `multimsg keygen [-data DIR]`: creates the box's key if absent and
// prints its public PEM (what GET /key serves) on stdout.
func RunKeygen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("data", "/var/lib/multimsg", "data directory holding "+envelope.KeyFile)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: multimsg keygen [-data DIR]\n\nCreates the box's RSA-%d key in DIR/%s if absent (mode 0600) and prints its public key.\n\n", envelope.KeyBits, envelope.KeyFile)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	k, err := envelope.LoadOrCreate(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "multimsg keygen: %v\n", err)
		return 1
	}
	switch {
	case k.Created():
		fmt.Fprintf(stderr, "multimsg keygen: created %s\n", k.Path())
	case k.TightenedFrom() != 0:
		fmt.Fprintf(stderr, "multimsg keygen: %s was mode %v, now 0600; it may have been read by others\n", k.Path(), k.TightenedFrom())
	default:
		fmt.Fprintf(stderr, "multimsg keygen: %s exists, kept\n", k.Path())
	}
	if _, err := stdout.Write(k.PublicPEM()); err != nil {
		fmt.Fprintf(stderr, "multimsg keygen: %v\n", err)
		return 1
	}
	return 0
}
