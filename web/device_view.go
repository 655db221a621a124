package web

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"multimsg/store"
)

// ttlPrefix starts the reason the store and the dispatcher record for a file out of time.
const ttlPrefix = "not delivered within its time to live"

// deviceReason is what /cons shows a device about a file's last error. The full text, kept for
// admins, may carry the box's internals: addresses and ports of relays, TLS and DNS failures,
// file paths, a provider's account errors. A device is told the provider's reason only when
// the provider refused this message for good (a bad address, rejected content: the device's
// business); otherwise what happened, and that the admin page has the rest.
func deviceReason(f store.File) string {
	e := f.LastError
	switch {
	case e == "":
		return ""
	case strings.HasPrefix(e, ttlPrefix):
		if i := strings.Index(e, "; last error: "); i >= 0 {
			return e[:i]
		}
		return e
	}
	var last *store.Attempt
	if n := len(f.History); n > 0 {
		last = &f.History[n-1]
	}
	switch {
	case f.State == store.FileFailed && last != nil && !last.OK && last.Class == "permanent" && last.Error == e:
		return e
	case f.State == store.FileFailed && last == nil:
		return e // not from a provider: an admin's cancel, or the box's own refusal
	case f.State == store.FileFailed:
		return "failed at " + f.Service + "; the admin page has the provider's reason"
	}
	return "not delivered yet by " + f.Service + "; retrying (the admin page has the provider's reason)"
}

// keyDigest names an encrypted upload's wrapped key for the store's replay index: a copy of
// the upload captured on the LAN carries the same key part and is refused. "" for a plain
// upload.
func keyDigest(wrapped []byte) string {
	if wrapped == nil {
		return ""
	}
	sum := sha256.Sum256(wrapped)
	return hex.EncodeToString(sum[:16]) // 128 bits: no two honest uploads collide
}
