package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"multimsg/hw/serial"
	"multimsg/modem"
)

// Exit codes of `multimsg modem`.
const (
	modemExitReady    = 0 // the modem can send
	modemExitNotReady = 1 // it answers, but cannot send now (SIM, registration): see the output
	modemExitUsage    = 2
	modemExitAbsent   = 3 // the port does not open, or the modem does not answer
)

// RunModem is `multimsg modem -device PATH [-baud N] [-pin PIN] [-timeout D] [-json]`: it
// brings a modem up as `serve` does, printing each step (command, answer, what it meant), then
// its health: the field technician's first tool. The PIN is entered
// at most once, and only when the SIM asks for it.
func RunModem(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("modem", flag.ContinueOnError)
	fs.SetOutput(stderr)
	device := fs.String("device", "", "serial device of the modem (prefer /dev/serial/by-id/...)")
	baud := fs.Int("baud", 115200, "baud rate")
	pin := fs.String("pin", "", "SIM PIN, entered once if the SIM asks for it")
	timeout := fs.Duration("timeout", 5*time.Second, "timeout of each AT command")
	asJSON := fs.Bool("json", false, "print the health as JSON")
	verbose := fs.Bool("v", false, "log the AT exchange to stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: multimsg modem -device PATH [-baud N] [-pin PIN] [-timeout D] [-json] [-v]")
		fmt.Fprintln(stderr, "Probes a GSM modem and prints its health: SIM, registration, operator, signal, SMSC.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return modemExitReady
		}
		return modemExitUsage
	}
	if *device == "" || fs.NArg() > 0 {
		fs.Usage()
		return modemExitUsage
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	port, err := serial.Open(*device, *baud, 0)
	if err != nil {
		fmt.Fprintf(stderr, "multimsg modem: %v\n", err)
		return modemExitAbsent
	}
	defer port.Close()
	var rw io.ReadWriter = port
	if *verbose {
		rw = &traced{rw: port, log: log}
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "bringing up %s:\n", *device)
	}
	h, steps, perr := modem.Probe(ctx, rw, *pin, *timeout, log)

	if *asJSON {
		if err := writeProbeJSON(stdout, *device, h, steps, perr); err != nil {
			return modemExitUsage
		}
	} else {
		for _, s := range steps {
			fmt.Fprintf(stdout, "  %s\n", s)
		}
		fmt.Fprintln(stdout)
		printHealth(stdout, *device, h, perr)
	}
	switch {
	case perr == nil:
		return modemExitReady
	case !h.Present:
		return modemExitAbsent
	}
	return modemExitNotReady
}

// probeStep is one bring-up step in `multimsg modem -json`.
type probeStep struct {
	Cmd    string `json:"cmd"`
	Answer string `json:"answer"`
	MS     int64  `json:"ms"`
	Note   string `json:"note,omitempty"`
}

// writeProbeJSON prints the modem's health (its status-page JSON, modem.Health) with the
// probe's own facts added to the same object.
func writeProbeJSON(w io.Writer, device string, h modem.Health, steps []modem.Step, perr error) error {
	extra := struct {
		Device   string      `json:"device"`
		Ready    bool        `json:"ready"`
		NotReady string      `json:"not_ready,omitempty"`
		Steps    []probeStep `json:"steps"`
	}{Device: device, Ready: perr == nil, Steps: make([]probeStep, len(steps))}
	if perr != nil {
		extra.NotReady = perr.Error()
	}
	for i, s := range steps {
		extra.Steps[i] = probeStep{Cmd: s.Cmd, Answer: s.Answer, MS: s.Took.Milliseconds(), Note: s.Note}
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return err
	}
	eb, err := json.Marshal(extra)
	if err != nil {
		return err
	}
	// Both are objects: one object with the health's fields, then the probe's.
	joined := append(append(hb[:len(hb)-1:len(hb)-1], ','), eb[1:]...)
	var out bytes.Buffer
	if err := json.Indent(&out, joined, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

func printHealth(w io.Writer, device string, h modem.Health, perr error) {
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	orDash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	fmt.Fprintf(w, "device:      %s\n", device)
	fmt.Fprintf(w, "present:     %s\n", yes(h.Present))
	fmt.Fprintf(w, "model:       %s\n", orDash(h.Model))
	fmt.Fprintf(w, "radio:       %s\n", orDash(h.Radio))
	fmt.Fprintf(w, "sim:         %s\n", orDash(h.SIM))
	reg := yes(h.Registered)
	if h.RegStatus != "" {
		reg += " (" + h.RegStatus + ")"
	}
	fmt.Fprintf(w, "registered:  %s\n", reg)
	fmt.Fprintf(w, "operator:    %s\n", orDash(h.Operator))
	if h.HasSignal {
		fmt.Fprintf(w, "signal:      %d dBm\n", h.SignalDBM)
	} else {
		fmt.Fprintf(w, "signal:      unknown\n")
	}
	fmt.Fprintf(w, "smsc:        %s\n", orDash(h.SMSC))
	if perr == nil {
		fmt.Fprintf(w, "ready:       yes\n")
		return
	}
	fmt.Fprintf(w, "ready:       no: %v\n", perr)
}

// traced logs the wire for -v.
type traced struct {
	rw  io.ReadWriter
	log *slog.Logger
}

func (t *traced) Read(b []byte) (int, error) {
	n, err := t.rw.Read(b)
	if n > 0 {
		t.log.Debug("rx", "data", modem.Redact(string(b[:n])))
	}
	return n, err
}

func (t *traced) Write(b []byte) (int, error) {
	t.log.Debug("tx", "data", modem.Redact(string(b)))
	return t.rw.Write(b)
}
