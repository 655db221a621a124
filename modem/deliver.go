package modem

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
)

// The decoders below read what a modem hands the host in PDU mode (AT+CMGL, AT+CMGR, +CMT,
// +CDS): the SMSC address (TS 24.011) followed by an SMS-DELIVER or SMS-STATUS-REPORT TPDU
// (TS 23.040 §9.2.2.1, §9.2.2.3), user data in the GSM 7-bit default alphabet with its
// extension table, UCS-2 or 8-bit (TS 23.038 §4, §6.2). They are our own, not the library's
// that encodes our submits, so that the tests can use that library as an encoder nobody here
// wrote; every length is checked before it is used and the whole PDU is bounded.

// MTKind is which TPDU a mobile-terminated PDU carries.
type MTKind int

const (
	// KindDeliver is an SMS-DELIVER: a message someone sent to this SIM.
	KindDeliver MTKind = iota
	// KindStatusReport is an SMS-STATUS-REPORT: what became of a message we sent.
	KindStatusReport
	// KindOther is anything else (an SMS-SUBMIT stored on the SIM, a reserved type).
	KindOther
)

// Concat says which part of a concatenated message a Deliver is (TS 23.040 §9.2.3.24.1, .8).
type Concat struct {
	Ref     int // shared by every part of the message
	RefBits int // 8 or 16
	Parts   int
	Seq     int // 1-based
}

// Deliver is one decoded SMS-DELIVER: one part of a message.
type Deliver struct {
	SMSC     string    // the service centre, "+…" when international; "" when absent
	From     string    // the originator: "+<digits>" international, digits, or an alphanumeric name
	Sent     time.Time // TP-SCTS, in the zone the service centre gave
	Alphabet Alphabet  // GSM7, UCS2 or Bit8
	Text     string    // the text of a GSM7 or UCS2 part
	Data     []byte    // the user data of an 8-bit part (UDH removed)
	Class0   bool      // a flash message
	Concat   *Concat   // nil for a single message
	TPDU     []byte    // the TPDU as received (SMSC part removed)
	PDU      []byte    // the whole PDU as received, SMSC part included
}

// Bit8 is 8-bit data (TS 23.038 §4): not text.
const Bit8 Alphabet = "8bit"

// Report is one decoded SMS-STATUS-REPORT.
type Report struct {
	SMSC       string
	Ref        int    // TP-MR of the message it reports on
	Recipient  string // TP-RA: "+…" when international
	Status     int    // TP-ST (TS 23.040 §9.2.3.15)
	SCTime     time.Time
	Discharged time.Time // TP-DT: when the status was reached
	TPDU       []byte
}

// StatusText names a TP-ST (TS 23.040 §9.2.3.15) for logs and pages.
func StatusText(st int) string {
	switch {
	case st == 0x00:
		return "received by the handset"
	case st == 0x01:
		return "forwarded, delivery unconfirmed"
	case st == 0x02:
		return "replaced by the service centre"
	case st < 0x20:
		return "delivered"
	case st == 0x20:
		return "congestion, still trying"
	case st == 0x21:
		return "handset busy, still trying"
	case st == 0x22:
		return "no response from the handset, still trying"
	case st == 0x23:
		return "service rejected, still trying"
	case st < 0x40:
		return "temporary error, still trying"
	case st == 0x40, st == 0x60:
		return "failed: remote procedure error"
	case st == 0x41:
		return "failed: incompatible destination"
	case st == 0x42:
		return "failed: connection rejected by the handset"
	case st == 0x43:
		return "failed: not obtainable"
	case st == 0x45:
		return "failed: no interworking available"
	case st == 0x46, st == 0x66:
		return "failed: validity period expired"
	case st == 0x47:
		return "failed: deleted by the sender"
	case st == 0x48:
		return "failed: deleted by the service centre"
	case st == 0x49:
		return "failed: message does not exist"
	case st < 0x60:
		return "failed: permanent error"
	case st < 0x80:
		return "failed: temporary error, no more tries"
	}
	return "reserved status"
}

// maxMTHex bounds a mobile-terminated PDU in hex: SMSC (12 octets) and the longest TPDU, an
// SMS-DELIVER of 1 + 12 + 2 + 7 + 1 + 140 octets, with room to spare.
const maxMTHex = 2 * 200

// MTKindOf says which TPDU pduHex (with its SMSC part) carries, without decoding it all.
func MTKindOf(pduHex string) (MTKind, error) {
	_, tpdu, err := splitSMSC(pduHex)
	if err != nil {
		return KindOther, err
	}
	switch tpdu[0] & 0x03 {
	case 0x00:
		return KindDeliver, nil
	case 0x02:
		return KindStatusReport, nil
	}
	return KindOther, nil
}

// splitSMSC decodes the hex and splits off the SMSC address.
func splitSMSC(pduHex string) (smsc string, tpdu []byte, err error) {
	smsc, tpdu, _, err = splitPDU(pduHex)
	return smsc, tpdu, err
}

// splitPDU is splitSMSC that also returns the whole PDU.
func splitPDU(pduHex string) (smsc string, tpdu, whole []byte, err error) {
	if len(pduHex) > maxMTHex {
		return "", nil, nil, fmt.Errorf("%w: %d hex digits, more than %d", ErrPDU, len(pduHex), maxMTHex)
	}
	b, err := hex.DecodeString(pduHex)
	if err != nil {
		return "", nil, nil, fmt.Errorf("%w: not hex: %v", ErrPDU, err)
	}
	if len(b) < 1 || int(b[0]) > 11 || 1+int(b[0]) >= len(b) {
		return "", nil, nil, fmt.Errorf("%w: SMSC part of %d octets in a PDU of %d", ErrPDU, firstOr(b), len(b))
	}
	n := int(b[0])
	if n > 0 {
		smsc = decodeSemiOctets(b[2:1+n], 2*(n-1))
		if b[1]&0x70 == 0x10 {
			smsc = "+" + smsc
		}
	}
	return smsc, b[1+n:], b, nil
}

func firstOr(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	return int(b[0])
}

// reader walks a TPDU, failing once on the first read past its end.
type reader struct {
	b   []byte
	i   int
	err error
}

func (r *reader) bytes(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || r.i+n > len(r.b) {
		r.err = fmt.Errorf("%w: TPDU ends in %s (%d octets, need %d more at %d)", ErrPDU, what, len(r.b), n, r.i)
		return nil
	}
	out := r.b[r.i : r.i+n]
	r.i += n
	return out
}

func (r *reader) byte(what string) byte {
	if b := r.bytes(1, what); b != nil {
		return b[0]
	}
	return 0
}

// address reads a TP-OA / TP-RA (TS 23.040 §9.1.2.5): digits count, type, semi-octets; an
// alphanumeric one is GSM 7-bit packed.
func (r *reader) address(what string) string {
	digits := int(r.byte(what))
	toa := r.byte(what)
	if digits > 20 {
		r.err = fmt.Errorf("%w: %s of %d digits, at most 20", ErrPDU, what, digits)
		return ""
	}
	raw := r.bytes((digits+1)/2, what)
	if r.err != nil {
		return ""
	}
	switch toa & 0x70 {
	case 0x50: // alphanumeric (TS 23.038 default alphabet)
		return gsm7Text(unpackSeptets(raw, digits*4/7))
	case 0x10:
		return "+" + decodeSemiOctets(raw, digits)
	}
	return decodeSemiOctets(raw, digits)
}

// decodeSemiOctets reads n BCD digits, low nibble first; A-E are '*', '#', 'a', 'b', 'c'.
func decodeSemiOctets(b []byte, n int) string {
	const digits = "0123456789*#abc"
	var s strings.Builder
	for i := 0; i < n && i/2 < len(b); i++ {
		d := b[i/2] & 0x0f
		if i%2 == 1 {
			d = b[i/2] >> 4
		}
		if d == 0x0f {
			break // filler
		}
		s.WriteByte(digits[d])
	}
	return s.String()
}

// timestamp reads a TP-SCTS / TP-DT (TS 23.040 §9.2.3.11): semi-octets YYMMDDhhmmss and the
// zone in quarter hours, its sign in bit 3 of the first semi-octet.
func (r *reader) timestamp(what string) time.Time {
	b := r.bytes(7, what)
	if r.err != nil {
		return time.Time{}
	}
	var f [6]int
	for i := range f {
		lo, hi := int(b[i]&0x0f), int(b[i]>>4)
		if lo > 9 || hi > 9 {
			r.err = fmt.Errorf("%w: %s is not decimal (% X)", ErrPDU, what, b)
			return time.Time{}
		}
		f[i] = lo*10 + hi
	}
	tzLo, tzHi := int(b[6]&0x07), int(b[6]>>4)
	quarters := tzLo*10 + tzHi
	if tzHi > 9 || quarters > 4*18 {
		r.err = fmt.Errorf("%w: %s zone is out of range (%02X)", ErrPDU, what, b[6])
		return time.Time{}
	}
	offset := quarters * 15 * 60
	if b[6]&0x08 != 0 {
		offset = -offset
	}
	year := 2000 + f[0]
	if f[0] >= 90 {
		year = 1900 + f[0] // the 1990s, as in the oldest published examples
	}
	if f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 59 {
		r.err = fmt.Errorf("%w: %s is not a date (% X)", ErrPDU, what, b[:6])
		return time.Time{}
	}
	zone := time.FixedZone(zoneName(offset), offset)
	return time.Date(year, time.Month(f[1]), f[2], f[3], f[4], f[5], 0, zone)
}

func zoneName(offset int) string {
	sign := '+'
	if offset < 0 {
		sign, offset = '-', -offset
	}
	return fmt.Sprintf("UTC%c%02d:%02d", sign, offset/3600, offset/60%60)
}

// DecodeDeliver decodes an SMS-DELIVER with its SMSC part, as AT+CMGR/AT+CMGL/+CMT give it.
func DecodeDeliver(pduHex string) (*Deliver, error) {
	smsc, tp, whole, err := splitPDU(pduHex)
	if err != nil {
		return nil, err
	}
	fo := tp[0]
	if fo&0x03 != 0x00 {
		return nil, fmt.Errorf("%w: not an SMS-DELIVER (TP-MTI %d)", ErrPDU, fo&0x03)
	}
	r := &reader{b: tp, i: 1}
	d := &Deliver{SMSC: smsc, TPDU: tp, PDU: whole}
	d.From = r.address("originator address")
	r.byte("TP-PID")
	dcs := r.byte("TP-DCS")
	d.Sent = r.timestamp("TP-SCTS")
	udl := int(r.byte("TP-UDL"))
	if r.err != nil {
		return nil, r.err
	}
	d.Alphabet, d.Class0 = dcsAlphabet(dcs)
	ud := tp[r.i:]
	udh, body, err := splitUD(ud, udl, d.Alphabet, fo&0x40 != 0)
	if err != nil {
		return nil, err
	}
	d.Concat = concatOf(udh)
	switch d.Alphabet {
	case GSM7:
		d.Text = gsm7Text(body)
	case UCS2:
		d.Text = ucs2Text(body)
	default:
		d.Data = append([]byte(nil), body...)
	}
	return d, nil
}

// dcsAlphabet reads a TP-DCS (TS 23.038 §4): the alphabet and whether it is class 0. Reserved
// codings are read as GSM 7-bit, as the standard asks; compressed text as 8-bit data (we cannot
// decompress it, and the bytes are kept).
func dcsAlphabet(dcs byte) (Alphabet, bool) {
	switch {
	case dcs&0xc0 == 0x00 || dcs&0xc0 == 0x40: // general data coding, automatic deletion
		class0 := dcs&0x10 != 0 && dcs&0x03 == 0
		if dcs&0x20 != 0 {
			return Bit8, class0
		}
		switch dcs & 0x0c {
		case 0x04:
			return Bit8, class0
		case 0x08:
			return UCS2, class0
		}
		return GSM7, class0
	case dcs&0xf0 == 0xe0: // message waiting, store, UCS-2
		return UCS2, false
	case dcs&0xf0 == 0xf0: // data coding / message class
		class0 := dcs&0x03 == 0
		if dcs&0x04 != 0 {
			return Bit8, class0
		}
		return GSM7, class0
	}
	return GSM7, false // message waiting (discard, store) GSM7; reserved groups
}

// splitUD checks the user data against TP-UDL and splits off the header (TS 23.040 §9.2.3.24):
// body is septets (one per byte) for GSM7, octets otherwise.
func splitUD(ud []byte, udl int, a Alphabet, udhi bool) (udh, body []byte, err error) {
	octets := udl
	if a == GSM7 {
		if udl > 160 {
			return nil, nil, fmt.Errorf("%w: TP-UDL %d septets, at most 160", ErrPDU, udl)
		}
		octets = (udl*7 + 7) / 8
	} else if udl > 140 {
		return nil, nil, fmt.Errorf("%w: TP-UDL %d octets, at most 140", ErrPDU, udl)
	}
	if len(ud) < octets {
		return nil, nil, fmt.Errorf("%w: user data of %d octets, TP-UDL says %d", ErrPDU, len(ud), octets)
	}
	ud = ud[:octets]
	hl := 0
	if udhi {
		if len(ud) < 1 || 1+int(ud[0]) > len(ud) {
			return nil, nil, fmt.Errorf("%w: user data header longer than the user data", ErrPDU)
		}
		hl = 1 + int(ud[0])
		udh = ud[1:hl]
	}
	if a != GSM7 {
		return udh, ud[hl:], nil
	}
	skip := (hl*8 + 6) / 7 // the header and the fill bits up to a septet boundary
	if skip > udl {
		return nil, nil, fmt.Errorf("%w: user data header longer than TP-UDL", ErrPDU)
	}
	return udh, unpackSeptets(ud, udl)[skip:], nil
}

// concatOf finds the concatenation element in a user data header: 8-bit reference (IEI 0x00)
// or 16-bit (0x08). An element with impossible numbers is ignored, as TS 23.040 §9.2.3.24.1
// asks: the part is then taken as a whole message.
func concatOf(udh []byte) *Concat {
	for i := 0; i+2 <= len(udh); {
		id, n := udh[i], int(udh[i+1])
		if i+2+n > len(udh) {
			return nil
		}
		ie := udh[i+2 : i+2+n]
		i += 2 + n
		var c *Concat
		switch {
		case id == 0x00 && n == 3:
			c = &Concat{Ref: int(ie[0]), RefBits: 8, Parts: int(ie[1]), Seq: int(ie[2])}
		case id == 0x08 && n == 4:
			c = &Concat{Ref: int(ie[0])<<8 | int(ie[1]), RefBits: 16, Parts: int(ie[2]), Seq: int(ie[3])}
		default:
			continue
		}
		if c.Parts < 1 || c.Seq < 1 || c.Seq > c.Parts {
			return nil
		}
		return c
	}
	return nil
}

// unpackSeptets unpacks n septets from packed GSM 7-bit (TS 23.038 §6.1.2.1.1), one per byte.
func unpackSeptets(b []byte, n int) []byte {
	out := make([]byte, 0, n)
	for i := 0; i < n; i++ {
		bit := i * 7
		j, shift := bit/8, uint(bit%8)
		if j >= len(b) {
			break
		}
		v := b[j] >> shift
		if shift > 1 && j+1 < len(b) {
			v |= b[j+1] << (8 - shift)
		}
		out = append(out, v&0x7f)
	}
	return out
}

// gsm7Text maps septets to text through the default alphabet and its extension table (TS
// 23.038 §6.2.1, §6.2.1.1). An escape followed by a code the extension table lacks shows the
// default alphabet's character, as the standard asks.
func gsm7Text(septets []byte) string {
	var s strings.Builder
	for i := 0; i < len(septets); i++ {
		c := septets[i] & 0x7f
		if c == 0x1b && i+1 < len(septets) {
			i++
			n := septets[i] & 0x7f
			if r, ok := gsm7Ext[n]; ok {
				s.WriteRune(r)
			} else {
				s.WriteRune(gsm7Default[n])
			}
			continue
		}
		if c == 0x1b {
			s.WriteRune(' ') // a lone escape at the end
			continue
		}
		s.WriteRune(gsm7Default[c])
	}
	return s.String()
}

// ucs2Text decodes UTF-16 big-endian. A surrogate half at the end of a part (a sender that split
// a pair across parts) becomes U+FFFD; an odd last octet is dropped.
func ucs2Text(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return string(utf16.Decode(u))
}

// gsm7Default is the GSM 7-bit default alphabet (TS 23.038 §6.2.1); 0x1B, the escape, shows
// as a space where it cannot be an escape (TS 23.038 note 1).
var gsm7Default = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// gsm7Ext is the default alphabet extension table (TS 23.038 §6.2.1.1).
var gsm7Ext = map[byte]rune{
	0x0a: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2f: '\\', 0x3c: '[', 0x3d: '~', 0x3e: ']',
	0x40: '|', 0x65: '€',
}

// DecodeStatusReport decodes an SMS-STATUS-REPORT with its SMSC part, as +CDS and AT+CMGR
// give it. Only the mandatory fields are read (TS 23.040 §9.2.2.3); what follows TP-ST is
// optional and ignored.
func DecodeStatusReport(pduHex string) (*Report, error) {
	smsc, tp, err := splitSMSC(pduHex)
	if err != nil {
		return nil, err
	}
	if tp[0]&0x03 != 0x02 {
		return nil, fmt.Errorf("%w: not an SMS-STATUS-REPORT (TP-MTI %d)", ErrPDU, tp[0]&0x03)
	}
	r := &reader{b: tp, i: 1}
	rep := &Report{SMSC: smsc, TPDU: tp}
	rep.Ref = int(r.byte("TP-MR"))
	rep.Recipient = r.address("recipient address")
	rep.SCTime = r.timestamp("TP-SCTS")
	rep.Discharged = r.timestamp("TP-DT")
	rep.Status = int(r.byte("TP-ST"))
	if r.err != nil {
		return nil, r.err
	}
	return rep, nil
}
