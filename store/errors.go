package store

import "errors"

var (
	// ErrNotFound: no such job for this device (unknown, another device's, deleted or archived).
	ErrNotFound = errors.New("no such job")
	// ErrState: the job is not in a state that allows the operation (e.g. /msg on a queued job).
	ErrState = errors.New("job is not in a state that allows this")
	// ErrQuota: storing the upload would take the store over its byte quota.
	ErrQuota = errors.New("store quota exceeded")
	// ErrClosed: the store is closed (shutting down).
	ErrClosed = errors.New("store closed")
	// ErrSchemaNewer: the data was written by a newer version (see SchemaVersion, SchemaError).
	ErrSchemaNewer = errors.New("store: data written by a newer version")
)
