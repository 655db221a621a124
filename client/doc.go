// Package client is a Go client of the box's device API (SPEC §1): GET /key, POST /data
// (optionally encrypted with package envelope), /msg, /cons and /send. It is what
// `multimsg send`, the end-to-end tests and the load generator use, so it speaks the
// wire format exactly as a device would: multipart/form-data uploads whose parts are
// named by form field, a "key" part when the files are encrypted, urlencoded /msg
// with `type` and `info` as JSON.
//
// Every request asks for JSON (Accept: application/json) and still understands the
// seed's plain-text answers. A non-2xx answer is an [*APIError] carrying the status and
// the server's reason.
package client
