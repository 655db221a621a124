// Package mailin is the box's SMTP door (SPEC §9, issue 15): devices that can only send alert
// e-mails (IP cameras, NVRs, UPSes, NAS boxes, PLC panels) hand them to the box on the LAN, and
// each mail becomes ordinary jobs — one per recipient — that go out by SMS, WhatsApp or a relay.
//
// The listener is github.com/emersion/go-smtp's server. What this package adds:
//
//   - who: the client is identified by identity.Identity, the same decision the HTTP API makes
//     (MAC from ARP, allow_macs, unknown_device), and owns the jobs its mails make;
//   - where to: each RCPT is resolved and checked when it is given (recipient.go):
//     "<number>@sms", "<number>@wpp1", a real address (relayed by the mail service) or an
//     admin-defined alias; a bad one is refused with 550 and the reason;
//   - what: the MIME message is parsed within bounds (message.go) and turned into each
//     service's files (job.go): the text by a per-service rule, attachments where the service
//     takes files, a note where it does not;
//   - durability: 250 is answered to DATA only once every job of the mail is committed
//     (store.CreateAll); anything that fails before is a 4xx, so the device sends again.
package mailin
