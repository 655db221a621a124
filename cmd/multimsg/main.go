// Command multimsg is the message gateway: `multimsg serve` runs it; the other subcommands are
// its client (send), its admin tools (passwd, keygen), the boot's partition growth (growdata), a field technician's modem probe (modem),
// and version.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is stamped at build time: -ldflags "-X main.version=..."
var version = "dev"

const usage = `multimsg — message gateway

usage: multimsg <command> [flags]

commands:
  serve    run the gateway (SIGTERM/SIGINT stop it cleanly)
  send     send files through a gateway: encrypt, upload, set parameters, wait for the result
  passwd   read an admin password on stdin and print its bcrypt hash for admin.password_hash
  keygen   create the box's RSA key in the data dir if absent and print its public key
  modem    probe a GSM modem and print its health
  growdata grow the data partition and its filesystem to the end of the card (boot, as root)
  version  print the version

"multimsg <command> -h" lists a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stderr)
	case "send":
		return RunSend(ctx, rest, stdout, stderr)
	case "passwd":
		return runPasswd(rest, stdin, stdout, stderr)
	case "keygen":
		return RunKeygen(rest, stdout, stderr)
	case "modem":
		return RunModem(ctx, rest, stdout, stderr)
	case "growdata":
		return runGrowData(rest, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "multimsg", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "multimsg: unknown command %q\n\n%s", cmd, usage)
	return 2
}
