package modemsim

import (
	"encoding/hex"
	"os"
	"strings"

	"github.com/warthog618/sms/encoding/gsm7"
)

// USSD is how a simulated modem and its network answer USSD requests, with the variations met on
// real modems (27.007 leaves the string's encoding to the TE character set, and vendors differ).
type USSD struct {
	Answers map[string]string // code → the network's text; a code not here is "+CUSD: 4"
	// Unsupported: the modem has no USSD at all (AT+CUSD answers ERROR).
	Unsupported bool
	// PackedOnly: the modem takes the code only packed as GSM 7-bit hex ("AA180C3602" for
	// *100#) and answers packed hex too, as Huawei's do; a plain code is ERROR.
	PackedOnly bool
	// UCS2: the answer comes as UCS-2 hex with a GSM DCS (AT+CSCS="UCS2" modems).
	UCS2 bool
	// InReply: the +CUSD line comes before the OK (phonesim, some SIMCom); otherwise it comes
	// as an unsolicited line after it, as on most modems.
	InReply bool
	// Open: the network keeps the session open (+CUSD: 1, a menu) until AT+CUSD=2.
	Open bool
	// Silent: the network never answers (the request times out).
	Silent bool
}

// ussd answers AT+CUSD commands.
func (s *Sim) ussd(m *os.File, cmd, up string) {
	u := s.p.USSD
	if u.Unsupported {
		s.reply(m, cmd, "ERROR")
		return
	}
	switch {
	case up == "AT+CUSD=2":
		s.mu.Lock()
		open := s.ussdOpen
		s.ussdOpen = false
		s.cusdCancels++
		s.mu.Unlock()
		if !open {
			s.reply(m, cmd, "ERROR") // no session: many modems say so
			return
		}
		s.reply(m, cmd, "OK")
		return
	case !strings.HasPrefix(up, "AT+CUSD=1,"):
		s.reply(m, cmd, "OK")
		return
	}
	f := strings.SplitN(cmd[len("AT+CUSD=1,"):], ",", 2)
	code := strings.Trim(f[0], `"`)
	if u.PackedOnly {
		b, err := hex.DecodeString(code)
		if err != nil {
			s.reply(m, cmd, "+CME ERROR: 4")
			return
		}
		code = strings.TrimRight(string(gsm7.Unpack7BitUSSD(b, 0)), "\r")
	} else if strings.Trim(code, "0123456789*#") != "" {
		s.reply(m, cmd, "ERROR")
		return
	}
	s.mu.Lock()
	text, known := s.ussdAnswers[code]
	if !known {
		text, known = u.Answers[code]
	}
	s.mu.Unlock()
	var line string
	switch {
	case u.Silent:
	case !known:
		line = "+CUSD: 4"
	default:
		st := "0"
		if u.Open {
			st = "1"
			s.mu.Lock()
			s.ussdOpen = true
			s.mu.Unlock()
		}
		line = "+CUSD: " + st + `,"` + s.ussdText(text) + `",15`
	}
	if u.InReply && line != "" {
		s.reply(m, cmd, "OK", line)
		return
	}
	s.reply(m, cmd, "OK")
	if line != "" {
		s.Unsolicited(line)
	}
}

func (s *Sim) ussdText(text string) string {
	switch {
	case s.p.USSD.UCS2:
		var b strings.Builder
		for _, r := range text {
			if r > 0xFFFF {
				r = '?'
			}
			b.WriteString(strings.ToUpper(hex.EncodeToString([]byte{byte(r >> 8), byte(r)})))
		}
		return b.String()
	case s.p.USSD.PackedOnly:
		u, err := gsm7.Encode([]byte(text))
		if err != nil {
			return text
		}
		return strings.ToUpper(hex.EncodeToString(gsm7.Pack7BitUSSD(u, 0)))
	}
	return text
}

// SetUSSD changes what the network answers to code (a credit that goes down).
func (s *Sim) SetUSSD(code, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ussdAnswers == nil {
		s.ussdAnswers = map[string]string{}
	}
	s.ussdAnswers[code] = text
}

// USSDCancels is how many AT+CUSD=2 the modem was sent.
func (s *Sim) USSDCancels() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cusdCancels
}
