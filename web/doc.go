// Package web is the gateway's HTTP front on fasthttp: the seed-compatible device API (/key,
// /data, /msg, /cons), the convenience routes (/send, /healthz), and the admin side: the status
// page, its JSON, the admin actions and /metrics (docs/ADMIN.md; files admin_*.go, metrics.go).
//
// Handlers parse, copy what they keep, store durably, then answer; nothing keeps a
// *fasthttp.RequestCtx or its byte slices after the handler returns. One route table
// (routes.go) drives routing, 405s, auth, body limits and metric labels; other packages add
// entries through Options.Routes. Handlers return an error, and one function (fail) maps it to
// a status code and a message from one catalogue, as plain text or, with Accept:
// application/json (or on a JSON route), as {"error": "..."}.
package web
