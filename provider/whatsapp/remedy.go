package whatsapp

// remedies say what an admin can do about a Cloud API error code (Meta's error-codes page),
// shown under a test message's outcome on the settings page.
var remedies = map[int]string{
	0:      "Meta could not authenticate the token: paste a valid access token in the sender's token field.",
	10:     "The token lacks a permission: give its system user whatsapp_business_messaging (Meta Business Settings), or make a new token.",
	100:    "A parameter is wrong: check phone_number_id (the phone number's id, not the business account's) and the number.",
	190:    "The access token has expired or was revoked: make a new one (a system user's token does not expire) and paste it in the sender's token field.",
	368:    "Meta restricted the account for a policy violation: see Meta Business Support.",
	130429: "Meta's message throughput was reached: try again later.",
	131026: "WhatsApp cannot deliver to this number: check it is on WhatsApp (country code, no leading 0) and that its user accepted WhatsApp's latest terms.",
	131030: "The number is not in the allowed list of a test number: add it in Meta's developer console (WhatsApp → API Setup → To), or send from a production number.",
	131031: "The business account is locked: see Meta Business Support.",
	131047: "More than 24 hours have passed since this recipient last wrote: send an approved template, or ask them to write first.",
	131048: "Meta limits this number for spam: send less, and see the number's quality rating.",
	131056: "Too many messages to this recipient in a short time: wait before sending again.",
	133010: "The phone number is not registered on the Cloud API: register it in Meta's developer console.",
}

// Remedy is what an admin can do about the error, or "" when nothing is known.
func (e *APIError) Remedy() string {
	if r, ok := remedies[e.Code]; ok {
		return r
	}
	if e.Code >= 200 && e.Code <= 299 {
		return remedies[10]
	}
	return ""
}
