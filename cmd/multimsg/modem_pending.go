package main

import (
	"context"
	"fmt"
	"io"
)

// RunModem is replaced by the modem probe when the SMS work lands.
func RunModem(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "multimsg modem: not in this build yet")
	return 1
}
