// Package web is the gateway's HTTP front on fasthttp: the seed-compatible device API (/key,
// /data, /msg, /cons), the convenience routes (/send, /healthz), and the admin side: the status
// page and its JSON, the admin actions (retry, cancel, pause/resume, compact), firmware updates and
// reboot (update.go, through package update) and /metrics (docs/ADMIN.md; files admin_*.go,
// metrics.go).
//
// Who is asking is decided by package identity (MAC from ARP, loopback = "local"); web adds
// the browser cross-site checks of the device routes (origin.go). Every request's cost is
// bounded before it is paid: each route's body limit (the route table), uploads streamed
// against a byte budget and connections per IP (cost.go), bcrypt and RSA behind semaphores
// (crypto_gate.go).
//
// Handlers parse, copy what they keep, store durably, then answer; nothing keeps a
// *fasthttp.RequestCtx or its byte slices after the handler returns. One route table
// (routes.go) drives routing, 405s, auth, body limits and metric labels; other packages add
// entries through Options.Routes. Handlers return an error, and one function (fail) maps it to
// a status code and a message from one catalogue, as plain text or, with Accept:
// application/json (or on a JSON route), as {"error": "..."}.
package web
