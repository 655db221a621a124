// Package provider defines what a delivery driver is (mail, WhatsApp, SMS), how its errors are
// classified, and the registry of services that /msg validates against and the dispatcher sends
// through.
//
// A service (mail, wpp1, sms) is a name, the file types it takes, whether it sends one delivery
// per file or one per job, its fallbacks, and one or more named senders (accounts). Each sender
// is a Driver. A service is also a Unit (unit.go): its package owns its TOML table (a Config
// struct tagged for package setting: defaults, bounds, labels), its checks and its constructor
// (Build). Adding a service is one new package under provider/ that declares a Unit, plus one
// line in provider/units; docs/DESIGN.md ("Adding a service") shows the whole diff.
//
// Errors returned by Driver.Send are classified with the helpers in errors.go: Temporary (retry
// with backoff), Permanent (this delivery fails for good, the reason is kept) or Down (the sender
// itself needs an operator: it is marked unhealthy and its work waits or falls back). An error
// that carries no class is treated as temporary: at-least-once delivery prefers a retry to a loss.
package provider
