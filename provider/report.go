package provider

import "fmt"

// ReportMeaning says what a status report's TP-ST (3GPP TS 23.040 §9.2.3.15) means, in words
// an operator can act on.
func ReportMeaning(st int) string {
	if m, ok := tpst[st]; ok {
		return m
	}
	switch {
	case st < 0x20:
		return fmt.Sprintf("delivered (TP-ST 0x%02X, reserved/SC-specific)", st)
	case st < 0x40:
		return fmt.Sprintf("temporary error, the SMSC is still trying (TP-ST 0x%02X)", st)
	case st < 0x60:
		return fmt.Sprintf("permanent error, the SMSC gave up (TP-ST 0x%02X)", st)
	default:
		return fmt.Sprintf("temporary error, the SMSC gave up (TP-ST 0x%02X)", st)
	}
}

// tpst are the values TS 23.040 §9.2.3.15 names.
var tpst = map[int]string{
	0x00: "received by the handset",
	0x01: "forwarded by the SMSC to the handset, delivery not confirmed",
	0x02: "replaced by the SMSC",
	0x20: "congestion; the SMSC is still trying",
	0x21: "the handset is busy; the SMSC is still trying",
	0x22: "no response from the handset; the SMSC is still trying",
	0x23: "service rejected; the SMSC is still trying",
	0x24: "quality of service not available; the SMSC is still trying",
	0x25: "error in the handset; the SMSC is still trying",
	0x40: "remote procedure error",
	0x41: "incompatible destination",
	0x42: "connection rejected by the handset",
	0x43: "not obtainable",
	0x44: "quality of service not available",
	0x45: "no interworking available",
	0x46: "validity period expired before delivery",
	0x47: "deleted by the originating handset",
	0x48: "deleted by the SMSC administration",
	0x49: "the message does not exist",
	0x60: "congestion; the SMSC gave up",
	0x61: "the handset was busy; the SMSC gave up",
	0x62: "no response from the handset; the SMSC gave up",
	0x63: "service rejected; the SMSC gave up",
	0x64: "quality of service not available; the SMSC gave up",
	0x65: "error in the handset; the SMSC gave up",
}
