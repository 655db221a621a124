package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"multimsg/client"
	"multimsg/envelope"
)

// typeFlags collects repeated -type name=type flags.
type typeFlags []string

func (t *typeFlags) String() string     { return strings.Join(*t, ",") }
func (t *typeFlags) Set(s string) error { *t = append(*t, s); return nil }

// RunSend is `multimsg send`: encrypts FILEs with the box's key (unless -plain), uploads
// them, sets the parameters and waits for the result. State changes go to stderr, the
// final state to stdout. Exit status: 0 delivered, 1 not delivered or an error, 2 usage.
func RunSend(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "http://127.0.0.1:8080", "the box's URL")
	serv := fs.String("serv", "", "service: mail, wpp1 or sms (required)")
	dest := fs.String("dest", "", "destination: address(es) for mail, digits with country code for wpp1/sms (required)")
	var types typeFlags
	fs.Var(&types, "type", "`name=type` for a file (repeatable); files without one get a guess from their content type")
	info := fs.String("info", "", `service parameters as a JSON object, e.g. {"subject": "Door open"}`)
	sender := fs.String("sender", "", "sender account of the service (default: the box's first)")
	plain := fs.Bool("plain", false, "send the files unencrypted")
	keyFile := fs.String("key", "", "the box's public key (PEM) to encrypt to, instead of asking the box (GET /key) at every run; a `FILE` that does not exist yet is filled from the box once and trusted from then on")
	poll := fs.Duration("poll", time.Second, "how often to ask for the job's state")
	timeout := fs.Duration("timeout", 0, "give up waiting after this long (0: wait until the job finishes)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: multimsg send -serv SERVICE -dest DEST [flags] FILE...\n\nSends FILEs as one job through the box and waits until it is delivered.\nEach file's name (without directories) is its name in -type.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *serv == "" || *dest == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "multimsg send: -serv, -dest and at least one FILE are required")
		fs.Usage()
		return 2
	}
	given, err := client.ParseTypes(types)
	if err != nil {
		fmt.Fprintf(stderr, "multimsg send: %v\n", err)
		return 2
	}
	infoMap, err := client.ParseInfo(*info)
	if err != nil {
		fmt.Fprintf(stderr, "multimsg send: %v\n", err)
		return 2
	}
	files, err := client.ReadFiles(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "multimsg send: %v\n", err)
		return 1
	}
	typeMap, err := client.CompleteTypes(*serv, files, given)
	if err != nil {
		fmt.Fprintf(stderr, "multimsg send: %v\n", err)
		return 2
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}

	start := time.Now()
	progress := func(id string, s client.State) {
		fmt.Fprintf(stderr, "%6.1fs  job %s: %s\n", time.Since(start).Seconds(), id, s)
	}
	how := "encrypted with the box's key"
	if *plain {
		how = "unencrypted"
	}
	fmt.Fprintf(stderr, "multimsg send: %d file(s) to %s via %s, %s\n", len(files), *dest, *serv, how)
	c := client.New(*server, nil)
	var lastRetry string
	c.SetRetryHook(func(err error) {
		if msg := err.Error(); msg != lastRetry { // display only: say each new trouble once
			lastRetry = msg
			fmt.Fprintf(stderr, "%6.1fs  box not answering (%v), retrying\n", time.Since(start).Seconds(), err)
		}
	})
	if *keyFile != "" && !*plain {
		if err := pinKey(ctx, c, *keyFile, stderr); err != nil {
			fmt.Fprintf(stderr, "multimsg send: -key %s: %v\n", *keyFile, err)
			return 1
		}
	}
	p := client.Params{Service: *serv, Dest: *dest, Types: typeMap, Info: infoMap, Sender: *sender}
	id, state, err := c.Deliver(ctx, files, p, !*plain, *poll, progress)
	if err != nil {
		switch {
		case id == "":
			fmt.Fprintf(stderr, "multimsg send: %v\n", err)
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			fmt.Fprintf(stderr, "multimsg send: stopped waiting (%v); job %s stays on the box (last state %q): consult it with POST /cons id=%s\n", err, id, state, id)
		case errors.Is(err, client.ErrNotFound) && state == client.Queued:
			fmt.Fprintf(stderr, "multimsg send: job %s: %v (it may have finished while the answer was lost)\n", id, err)
		default:
			fmt.Fprintf(stderr, "multimsg send: job %s (last state %q): %v\n", id, state, err)
		}
		if state != "" {
			fmt.Fprintln(stdout, state)
		}
		return 1
	}
	fmt.Fprintln(stdout, state)
	if err := client.Outcome(state); err != nil {
		fmt.Fprintf(stderr, "multimsg send: job %s: %v\n", id, err)
		return 1
	}
	return 0
}

// pinKey makes c encrypt to the key in path. GET /key is unauthenticated: anyone on the LAN
// can answer it in the box's place and read what is then encrypted to their key. A key read
// from a file the user trusts (copied from the box's console, or pinned at the first run, when
// the path does not exist yet: trust on first use) closes that for every later run.
func pinKey(ctx context.Context, c *client.Client, path string, stderr io.Writer) error {
	b, err := os.ReadFile(path)
	if err == nil {
		pub, err := envelope.ParsePublicPEM(b)
		if err != nil {
			return err
		}
		c.SetPublicKey(pub)
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	pub, pemBytes, err := c.Key(ctx)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(pemBytes)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return err
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	fmt.Fprintf(stderr, "multimsg send: first use: pinned the box's key SHA256:%s into %s; later runs encrypt to it without asking the box (compare it with the box's; delete the file only if the box's key was changed on purpose)\n",
		base64.RawStdEncoding.EncodeToString(sum[:]), path)
	c.SetPublicKey(pub)
	return nil
}
