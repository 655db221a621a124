package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// runPasswd reads a password (the first line of stdin) and prints its bcrypt hash.
func runPasswd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("passwd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cost := fs.Int("cost", bcrypt.DefaultCost, "bcrypt cost")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fmt.Fprintln(stderr, "admin password (one line on stdin):")
	line, err := bufio.NewReader(io.LimitReader(stdin, 1024)).ReadString('\n')
	if err != nil && err != io.EOF {
		fmt.Fprintf(stderr, "multimsg passwd: %v\n", err)
		return 1
	}
	pass := strings.TrimRight(line, "\r\n")
	if len(pass) < 8 || len(pass) > 72 {
		fmt.Fprintln(stderr, "multimsg passwd: the password must be 8 to 72 bytes")
		return 1
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pass), *cost)
	if err != nil {
		fmt.Fprintf(stderr, "multimsg passwd: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", h)
	fmt.Fprintln(stderr, "put it in the config: [admin] password_hash = \"<the line above>\"")
	return 0
}
