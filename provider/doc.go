// Package provider defines what a delivery driver is (mail, WhatsApp, SMS), how its errors are
// classified, and the registry of services that /msg validates against and the dispatcher sends
// through.
//
// A service (mail, wpp1, sms) is a name, the file types it takes, whether it sends one delivery
// per file or one per job, its fallbacks, and one or more named senders (accounts). Each sender
// is a Driver. Adding a service is one new package under provider/ that builds a Service, plus
// one line where cmd/multimsg builds the Registry.
//
// Errors returned by Driver.Send are classified with the helpers in errors.go: Temporary (retry
// with backoff), Permanent (this delivery fails for good, the reason is kept) or Down (the sender
// itself needs an operator: it is marked unhealthy and its work waits or falls back). An error
// that carries no class is treated as temporary: at-least-once delivery prefers a retry to a loss.
package provider
