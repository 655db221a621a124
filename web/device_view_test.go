package web

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"multimsg/store"
)

// What a device reads in /cons and in a 500 answer never carries the box's internals (issue
// 11, item 14): relay addresses, file paths, account errors stay in the log and on the admin
// page.
func TestDeviceSeesNoInternals(t *testing.T) {
	at := time.Date(2026, 12, 4, 4, 0, 0, 0, time.UTC)
	attempt := func(class, err string) []store.Attempt {
		return []store.Attempt{{At: at, Service: "mail", Sender: "default", Class: class, Error: err}}
	}
	const refused = "dial tcp 10.20.30.40:587: connect: connection refused"
	tests := []struct {
		name     string
		f        store.File
		want     string // exact answer, or
		mustNot  string // a secret it must not contain
		mustHave string
	}{
		{name: "delivered", f: store.File{State: store.FileDelivered}, want: ""},
		{name: "retrying after a network error", mustNot: "10.20.30.40", mustHave: "retrying",
			f: store.File{State: store.FilePending, Service: "mail", LastError: refused, History: attempt("temporary", refused)}},
		{name: "sender down", mustNot: "token",
			f: store.File{State: store.FilePending, Service: "wpp1", LastError: "sender unhealthy: 190: Invalid OAuth access token EAAG..."}},
		{name: "refused for good: the provider's reason", want: "550: 5.1.1 No such user here",
			f: store.File{State: store.FileFailed, Service: "mail", LastError: "550: 5.1.1 No such user here", History: attempt("permanent", "550: 5.1.1 No such user here")}},
		{name: "out of time", want: ttlPrefix + " (24h0m0s)",
			f: store.File{State: store.FileFailed, Service: "mail", LastError: ttlPrefix + " (24h0m0s); last error: " + refused, History: attempt("temporary", refused)}},
		{name: "failed after a fallback gave up", mustNot: "/var/lib", mustHave: "admin page",
			f: store.File{State: store.FileFailed, Service: "mail", LastError: "open /var/lib/multimsg/outbox/tmp/x: input/output error",
				History: attempt("sender-down", "open /var/lib/multimsg/outbox/tmp/x: input/output error")}},
		{name: "cancelled by an admin", want: "cancelled by an admin",
			f: store.File{State: store.FileFailed, Service: "mail", LastError: "cancelled by an admin"}},
	}
	for _, tc := range tests {
		got := deviceReason(tc.f)
		switch {
		case tc.mustNot == "" && tc.mustHave == "" && got != tc.want:
			t.Errorf("%s: deviceReason = %q, want %q", tc.name, got, tc.want)
		case tc.mustNot != "" && strings.Contains(got, tc.mustNot):
			t.Errorf("%s: deviceReason = %q, shows %q", tc.name, got, tc.mustNot)
		case tc.mustHave != "" && !strings.Contains(got, tc.mustHave):
			t.Errorf("%s: deviceReason = %q, want it to say %q", tc.name, got, tc.mustHave)
		}
	}
	internal := fmt.Errorf("store: commit: %w", errors.New("write /var/lib/multimsg/multimsg.db: input/output error"))
	if status, msg := classify(internal); status != 500 || strings.Contains(msg, "/var/lib") || strings.Contains(msg, "commit") {
		t.Errorf("classify(%v) = %d %q, want 500 without the error's text", internal, status, msg)
	}
}
