// Package whatsapp is the wpp1 service: a provider.Driver that delivers files through the
// WhatsApp Business Cloud API (Meta's Graph API, https://graph.facebook.com).
//
// One Driver is one sender: a business phone number id and its access token. Text files become
// text messages (or template messages when info.template is given); image, audio, video and
// document files are first uploaded to the phone number's /media edge and then sent by media id,
// with info.caption where WhatsApp shows one. Everything WhatsApp would refuse for its shape
// (destination, sizes, MIME types, text and caption lengths, template parameters) is refused by
// Check, before the job is queued; what only Meta can know (a closed 24-hour window, a number not
// on WhatsApp, an expired token, throughput limits) comes back from Send classified with
// provider.Temp, provider.Perm or provider.SenderDown and the Graph error code ("131047").
//
// The driver spaces messages to the same recipient by PerRecipientGap (WhatsApp's pair rate
// limit, error 131056); the dispatcher paces the sender as a whole by provider.Sender.Rate.
// docs/WHATSAPP.md has the error table and the defaults with their reasons.
//
// Package cloudapitest is a local stand-in for the Cloud API, written from Meta's documentation,
// for tests of this package and of the whole gateway.
package whatsapp
