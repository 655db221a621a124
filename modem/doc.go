// Package modem talks to a GSM modem over a serial line: an AT command engine over an
// io.ReadWriter (engine.go), SMS-SUBMIT PDUs in GSM 7-bit or UCS-2 with concatenation
// (pdu.go, on github.com/warthog618/sms), the modem's health (health.go) and a supervisor
// that initialises it, sends, resets a silent modem and reopens an unplugged one (modem.go).
//
// The port itself is opened elsewhere (hw/serial for a real device, a pty in tests); this
// package sees only io.ReadWriter / io.ReadWriteCloser. Errors carry the modem's code
// (CMSError, CMEError) and KindOf says whether a failure is worth a retry, needs an operator,
// or rejects the message.
package modem
