// Package envelope is the seed protocol's encryption: the box's RSA key pair and the
// hybrid scheme devices use to send files only the box can read.
//
// A device that wants its files encrypted fetches the box's public key (GET /key),
// draws a random AES key of 16, 24 or 32 bytes, wraps it with RSA-OAEP (SHA-256,
// MGF1-SHA-256, empty label) under the box's public key and sends it as the upload's
// "key" part; every other part is then
//
//	12-byte nonce ‖ AES-GCM ciphertext ‖ 16-byte tag   (no associated data)
//
// The server side is [Key] (the private key kept in the data directory, see
// [LoadOrCreate]), [Key.Unwrap] and [Opener.Open]; the client side (multimsg send,
// tests, the load generator) is [ParsePublicPEM], [NewSealer] and [Sealer.Seal].
// docs/ENCRYPTION.md is the wire format for client authors.
//
// Errors: [ErrKey], [ErrAuth] and [ErrShort] say what went wrong; they always arrive
// inside a [*FileError] that names the part ("key" for the wrapped key), so a web
// handler can answer 400 with a message a person can act on.
package envelope
