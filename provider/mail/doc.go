// Package mail is the e-mail driver of multimsg: it turns one job (text and html bodies, files
// as attachments) into one RFC 5322 / MIME message and delivers it over SMTP to a relay, or
// into a local Maildir.
//
// # Client library
//
// SMTP uses the standard library's net/smtp, over a connection of ours (deadlineConn) that puts
// every read and write under Options.Timeout, is cut at once when the Send's context ends, and
// bounds what the server may send between two of our commands (net/textproto has no line
// limit). net/smtp is frozen but complete for submission: it exposes StartTLS after our own
// EHLO name, Extension, Reset, Noop, and reports replies as *textproto.Error with the code,
// which is what classification needs. github.com/emersion/go-smtp's client (also in go.mod)
// was the alternative; it sets and clears deadlines itself and leaves the DATA body without
// one, and its STARTTLS constructor says EHLO as "localhost" before TLS. Its server is what the
// tests run against, so the client and the test peer are different implementations.
//
// # Errors
//
// Send's errors are classified in one place (Driver.classify): 4xx → provider.Temp; 5xx →
// provider.Perm with the server's code and text; 530/534/535/538 and any 5xx while
// greeting, EHLO, STARTTLS or AUTH → provider.SenderDown (the sender's configuration is wrong,
// not the message); network failures and timeouts → Temp; certificate errors → SenderDown.
// docs/MAIL.md has the full table.
//
// # Credentials
//
// AUTH PLAIN (preferred) or LOGIN is used when a username is configured. New refuses a username
// on a tls = "none" connection unless the host is loopback ("localhost", 127.0.0.0/8, ::1): a
// password must not cross a network in the clear. A server that does not offer STARTTLS when
// configured for it is SenderDown; there is no silent downgrade.
//
// # Connection reuse
//
// A Driver keeps one SMTP connection and sends one message at a time over it (concurrent Sends
// wait their turn, honouring their context). Before reuse it says NOOP (RSET if the previous
// transaction did not finish) and redials when that fails; a connection idle for
// Options.IdleTimeout is closed with QUIT.
//
// # Partial recipients
//
// When the server refuses some recipients for good (5xx at RCPT) and accepts others, the message
// goes to the accepted ones and Send succeeds; the refusals are logged and shown in Health. When
// any recipient is refused temporarily (4xx), nothing is sent and Send returns Temp, so that the
// retry reaches everyone without a second copy to anyone. When all are refused for good, Perm.
package mail
