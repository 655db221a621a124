package modem

// cmsRemedies say what an admin can do about a +CMS ERROR the network or modem gave a send:
// the settings page shows them under a test message's outcome. Codes the box retries by itself
// and that no admin can help are left out.
var cmsRemedies = map[int]string{
	1:   "The number does not exist: check it (country code, no leading 0).",
	8:   "The operator bars SMS from this SIM: ask the operator to allow them.",
	10:  "Sending is barred on this SIM: ask the operator, or check the SIM's barring settings.",
	21:  "The network refused the message: check the number and that the SIM's plan allows SMS to it.",
	28:  "The network does not know the recipient: check the number.",
	30:  "The recipient is unknown to the network: check the number.",
	50:  "The SIM's subscription has no SMS: ask the operator to enable it.",
	193: "The SIM has no SMS service-centre subscription: ask the operator.",
	195: "The destination address is refused: check the number.",
	196: "The recipient is barred from receiving: check the number.",
	300: "The modem failed: probe it; if this persists, reset or replace it.",
	310: "No SIM: insert one, then probe the modem.",
	311: "The SIM needs its PIN: set the sender's SIM PIN and save.",
	313: "The SIM failed: reseat or replace it.",
	316: "The SIM is locked (PUK): unlock it in a phone, then set the right PIN.",
	330: "The SIM has no SMS service-centre (SMSC) number: ask the operator for it and set it on the SIM (in a phone, or AT+CSCA=\"+…\").",
	331: "No network: check the antenna and coverage; probe the modem for the signal and registration.",
	332: "The network did not answer in time: try again; if it persists, check the signal.",
	500: "The modem gave no reason: check the SIM's credit and that SMS are enabled on its plan, then the number; probe the modem.",
}

// Remedy is what an admin can do about the error, or "" when it is not theirs to fix.
func (e *CMSError) Remedy() string { return cmsRemedies[e.Code] }
