package sms_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
)

// An SMS-SUBMIT decoder written from 3GPP TS 23.040 §9.2.2.2 and TS 23.038 §6.2.1 for the tests
// against phonesim: it shares nothing with the driver's encoder (github.com/warthog618/sms and
// modem/pdu.go), so a mistake there cannot hide behind the same mistake here.

// submitPDU is one decoded SMS-SUBMIT.
type submitPDU struct {
	Dest       string
	DCS        byte
	Alphabet   string // "gsm7", "8bit", "ucs2"
	Ref, Parts int    // concatenation (UDH IEI 0x00 or 0x08); Parts 0 when not concatenated
	Seq        int
	Text       string
}

var gsm7Default = []rune("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")

var gsm7Ext = map[byte]rune{0x0A: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2F: '\\', 0x3C: '[', 0x3D: '~', 0x3E: ']', 0x40: '|', 0x65: '€'}

// decodeSubmitHex decodes the hex a host sends at the "> " prompt: SMSC address, then the TPDU.
func decodeSubmitHex(s string) (submitPDU, error) {
	var p submitPDU
	b, err := hex.DecodeString(strings.TrimSpace(strings.TrimSuffix(s, "\x1a")))
	if err != nil {
		return p, err
	}
	at := 0
	next := func() (byte, error) {
		if at >= len(b) {
			return 0, errors.New("PDU ends early")
		}
		at++
		return b[at-1], nil
	}
	smscLen, err := next()
	if err != nil {
		return p, err
	}
	at += int(smscLen)
	fo, err := next()
	if err != nil {
		return p, err
	}
	if fo&0x03 != 0x01 {
		return p, fmt.Errorf("TP-MTI %d, not SMS-SUBMIT", fo&3)
	}
	vpf := (fo >> 3) & 0x03
	udhi := fo&0x40 != 0
	if _, err := next(); err != nil { // TP-MR
		return p, err
	}
	digits, err := next()
	if err != nil {
		return p, err
	}
	if _, err := next(); err != nil { // type of address
		return p, err
	}
	var dest strings.Builder
	for i := 0; i < (int(digits)+1)/2; i++ {
		o, err := next()
		if err != nil {
			return p, err
		}
		for _, nib := range []byte{o & 0x0F, o >> 4} {
			if nib != 0x0F && dest.Len() < int(digits) {
				dest.WriteByte('0' + nib)
			}
		}
	}
	p.Dest = dest.String()
	if _, err := next(); err != nil { // TP-PID
		return p, err
	}
	if p.DCS, err = next(); err != nil {
		return p, err
	}
	switch vpf {
	case 2:
		at++
	case 1, 3:
		at += 7
	}
	udl, err := next()
	if err != nil {
		return p, err
	}
	if at > len(b) {
		return p, errors.New("PDU ends early")
	}
	ud := b[at:]
	switch {
	case p.DCS&0xC0 == 0x00 && (p.DCS>>2)&3 == 0, p.DCS&0xF4 == 0xF0:
		p.Alphabet = "gsm7"
	case p.DCS&0xC0 == 0x00 && (p.DCS>>2)&3 == 2:
		p.Alphabet = "ucs2"
	default:
		p.Alphabet = "8bit"
	}
	hdr := 0 // octets of the user data header, its length octet included
	if udhi {
		if len(ud) == 0 {
			return p, errors.New("UDHI set, no header")
		}
		hdr = int(ud[0]) + 1
		if hdr > len(ud) {
			return p, errors.New("UDH longer than the user data")
		}
		for i := 1; i+1 < hdr; {
			iei, l := ud[i], int(ud[i+1])
			v := ud[i+2 : min(i+2+l, hdr)]
			switch {
			case iei == 0x00 && len(v) == 3:
				p.Ref, p.Parts, p.Seq = int(v[0]), int(v[1]), int(v[2])
			case iei == 0x08 && len(v) == 4:
				p.Ref, p.Parts, p.Seq = int(v[0])<<8|int(v[1]), int(v[2]), int(v[3])
			}
			i += 2 + l
		}
	}
	switch p.Alphabet {
	case "gsm7":
		// udl counts septets, header included; the header is padded to a septet boundary.
		var sept []byte
		for i := 0; i < int(udl); i++ {
			bit := i * 7
			byteAt, shift := bit/8, bit%8
			if byteAt >= len(ud) {
				return p, errors.New("GSM 7-bit user data shorter than its length")
			}
			v := uint16(ud[byteAt]) >> shift
			if shift > 1 && byteAt+1 < len(ud) {
				v |= uint16(ud[byteAt+1]) << (8 - shift)
			}
			sept = append(sept, byte(v&0x7F))
		}
		skip := (hdr*8 + 6) / 7
		if skip > len(sept) {
			return p, errors.New("header longer than the user data")
		}
		var text []rune
		for i := skip; i < len(sept); i++ {
			c := sept[i]
			if c == 0x1B && i+1 < len(sept) {
				i++
				if r, ok := gsm7Ext[sept[i]]; ok {
					text = append(text, r)
				} else {
					text = append(text, gsm7Default[sept[i]])
				}
				continue
			}
			text = append(text, gsm7Default[c])
		}
		p.Text = string(text)
	case "ucs2":
		if int(udl) > len(ud) || (int(udl)-hdr)%2 != 0 {
			return p, errors.New("UCS-2 user data length is wrong")
		}
		body := ud[hdr:udl]
		u := make([]uint16, len(body)/2)
		for i := range u {
			u[i] = uint16(body[2*i])<<8 | uint16(body[2*i+1])
		}
		p.Text = string(utf16.Decode(u))
	default:
		p.Text = string(ud[hdr:min(int(udl), len(ud))])
	}
	return p, nil
}
