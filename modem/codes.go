package modem

import "strings"

// codeInfo is one row of an error table: the standard text and what the code means for a
// message. The tables are the one place that decides retry vs operator vs reject.
type codeInfo struct {
	text string
	kind Kind
}

// cmsCodes: 3GPP TS 27.005 §3.2.5 (300-500), TS 24.011 RP causes (0-127), TS 23.040 TP-FCS
// (128-255). Codes not listed are Retry.
var cmsCodes = map[int]codeInfo{
	// RP causes (TS 24.011 Annex E): what the network said about this message.
	1:   {"unassigned (unallocated) number", Reject},
	8:   {"operator determined barring", Operator},
	10:  {"call barred", Operator},
	21:  {"short message transfer rejected", Reject},
	22:  {"memory capacity exceeded", Retry},
	27:  {"destination out of order", Retry},
	28:  {"unidentified subscriber", Reject},
	29:  {"facility rejected", Reject},
	30:  {"unknown subscriber", Reject},
	38:  {"network out of order", Retry},
	41:  {"temporary failure", Retry},
	42:  {"congestion", Retry},
	47:  {"resources unavailable, unspecified", Retry},
	50:  {"requested facility not subscribed", Operator},
	69:  {"requested facility not implemented", Reject},
	81:  {"invalid short message transfer reference value", Retry},
	95:  {"invalid message, unspecified", Reject},
	96:  {"invalid mandatory information", Reject},
	97:  {"message type non-existent or not implemented", Reject},
	98:  {"message not compatible with short message protocol state", Retry},
	99:  {"information element non-existent or not implemented", Reject},
	111: {"protocol error, unspecified", Retry},
	127: {"interworking, unspecified", Retry},
	// TP-FCS (TS 23.040 §9.2.3.22).
	128: {"telematic interworking not supported", Reject},
	129: {"short message type 0 not supported", Reject},
	130: {"cannot replace short message", Reject},
	143: {"unspecified TP-PID error", Reject},
	144: {"data coding scheme (alphabet) not supported", Reject},
	145: {"message class not supported", Reject},
	159: {"unspecified TP-DCS error", Reject},
	160: {"command cannot be actioned", Reject},
	161: {"command unsupported", Reject},
	175: {"unspecified TP-Command error", Reject},
	176: {"TPDU not supported", Reject},
	192: {"SC busy", Retry},
	193: {"no SC subscription", Operator},
	194: {"SC system failure", Retry},
	195: {"invalid SME address", Reject},
	196: {"destination SME barred", Reject},
	197: {"SM rejected - duplicate SM", Reject},
	198: {"TP-VPF not supported", Reject},
	199: {"TP-VP not supported", Reject},
	208: {"SIM SMS storage full", Retry},
	209: {"no SMS storage capability in SIM", Operator},
	210: {"error in MS", Retry},
	211: {"memory capacity exceeded", Retry},
	212: {"SIM application toolkit busy", Retry},
	213: {"SIM data download error", Retry},
	255: {"unspecified error cause", Retry},
	// TS 27.005 ME/TA errors.
	300: {"ME failure", Retry},
	301: {"SMS service of ME reserved", Retry},
	302: {"operation not allowed", Retry},
	303: {"operation not supported", Retry},
	304: {"invalid PDU mode parameter", Reject},
	305: {"invalid text mode parameter", Reject},
	310: {"SIM not inserted", Operator},
	311: {"SIM PIN required", Operator},
	312: {"PH-SIM PIN required", Operator},
	313: {"SIM failure", Operator},
	314: {"SIM busy", Retry},
	315: {"SIM wrong", Operator},
	316: {"SIM PUK required", Operator},
	317: {"SIM PIN2 required", Operator},
	318: {"SIM PUK2 required", Operator},
	320: {"memory failure", Retry},
	321: {"invalid memory index", Retry},
	322: {"memory full", Retry},
	330: {"SMSC address unknown", Operator},
	331: {"no network service", Retry},
	332: {"network timeout", Retry},
	340: {"no +CNMA acknowledgement expected", Retry},
	500: {"unknown error", Retry},
}

// cmeCodes: 3GPP TS 27.007 §9.2.
var cmeCodes = map[int]codeInfo{
	0:   {"phone failure", Retry},
	1:   {"no connection to phone", Retry},
	3:   {"operation not allowed", Retry},
	4:   {"operation not supported", Retry},
	5:   {"PH-SIM PIN required", Operator},
	10:  {"SIM not inserted", Operator},
	11:  {"SIM PIN required", Operator},
	12:  {"SIM PUK required", Operator},
	13:  {"SIM failure", Operator},
	14:  {"SIM busy", Retry},
	15:  {"SIM wrong", Operator},
	16:  {"incorrect password", Operator},
	17:  {"SIM PIN2 required", Operator},
	18:  {"SIM PUK2 required", Operator},
	20:  {"memory full", Retry},
	21:  {"invalid index", Retry},
	22:  {"not found", Retry},
	23:  {"memory failure", Retry},
	30:  {"no network service", Retry},
	31:  {"network timeout", Retry},
	32:  {"network not allowed - emergency calls only", Operator},
	100: {"unknown", Retry},
}

func cmsKind(code int) Kind {
	if c, ok := cmsCodes[code]; ok {
		return c.kind
	}
	return Retry
}

func cmeKind(code int) Kind {
	if c, ok := cmeCodes[code]; ok {
		return c.kind
	}
	return Retry
}

// codeText is the standard meaning of code in table, or "".
func codeText(table map[int]codeInfo, code int) string {
	if c, ok := table[code]; ok {
		return c.text
	}
	return "unlisted code"
}

// codeByText maps a verbose error text (AT+CMEE=2, or a modem that never gives numbers) back
// to its code, so the classification is the same either way. -1: unknown text.
func codeByText(table map[int]codeInfo, text string) int {
	t := strings.ToLower(strings.TrimSpace(text))
	for code, c := range table {
		if strings.ToLower(c.text) == t {
			return code
		}
	}
	return -1
}
