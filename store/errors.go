package store

import "errors"

var (
	// ErrNotFound: no such job for this device (unknown, another device's, deleted or archived).
	ErrNotFound = errors.New("no such job")
	// ErrState: the job is not in a state that allows the operation (e.g. /msg on a queued job).
	ErrState = errors.New("job is not in a state that allows this")
	// ErrQuota: storing the upload would take the store over its byte quota.
	ErrQuota = errors.New("store quota exceeded")
	// ErrTooMany: the device has as many jobs waiting for /msg as the store keeps per device.
	ErrTooMany = errors.New("too many jobs waiting for parameters")
	// ErrReplay: an encrypted upload whose wrapped key a kept job already came with.
	ErrReplay = errors.New("encrypted upload replayed")
	// ErrFailed: a commit's fsync failed; the store takes no more writes until it is opened again.
	ErrFailed = errors.New("store stopped after a failed fsync")
	// ErrDiskFull: the data partition cannot take the write (its floor reached, or ENOSPC);
	// nothing was stored, and writes succeed again once space is freed.
	ErrDiskFull = errors.New("data partition full")
	// ErrIO: the data partition failed a write (EIO); nothing was stored.
	ErrIO = errors.New("data partition write failed")
	// ErrClosed: the store is closed (shutting down).
	ErrClosed = errors.New("store closed")
	// ErrSchemaNewer: the data was written by a newer version (see SchemaVersion, SchemaError).
	ErrSchemaNewer = errors.New("store: data written by a newer version")
	// ErrInboxFull: the inbox holds as many inbound messages (or bytes) as it keeps, and none
	// of them is forwarded yet, so none can be purged to make room.
	ErrInboxFull = errors.New("inbox full")
)
