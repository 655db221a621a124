// Package web is the gateway's HTTP front on fasthttp: the seed-compatible device API (/key,
// /data, /msg, /cons), the convenience routes (/send, /healthz), and the admin side: the status
// page and its JSON, the admin actions (retry, cancel, pause/resume, compact), firmware updates and
// reboot (update.go, through package update) and /metrics (docs/ADMIN.md; files admin_*.go,
// metrics.go).
//
// Who is asking is decided by package identity (MAC from ARP, loopback = "local"); web adds
// the browser cross-site checks of the device routes (origin.go). Every request's cost is
// bounded before it is paid (cost.go: per-route body limits from the headers, uploads streamed
// against a byte budget, connections per IP; crypto_gate.go: bcrypt and RSA behind
// semaphores).
//
// Handlers parse, copy what they keep, store durably, then answer; nothing keeps a
// *fasthttp.RequestCtx or its byte slices after the handler returns. Errors of the device API
// go through one function (fail) that maps them to a status code and a message from one
// catalogue (errors.go), as plain text or, with Accept: application/json, as {"error": "..."};
// 5xx are logged there. The admin API's update routes answer JSON errors of their own
// (update.go).
package web
