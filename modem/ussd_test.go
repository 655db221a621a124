package modem

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/warthog618/sms/encoding/gsm7"
)

// ucs2Hex is UTF-16BE in hex, built with the standard library (not our decoder's code).
func ucs2Hex(s string) string {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

// packedHex is a GSM 7-bit text packed as on the air for USSD, by warthog618/sms's encoder.
func packedHex(t *testing.T, s string) string {
	u, err := gsm7.Encode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ToUpper(hex.EncodeToString(gsm7.Pack7BitUSSD(u, 0)))
}

func TestParseCUSD(t *testing.T) {
	long := "Saldo: 12,50 EUR. Bono 500 MB valido hasta 31/12. Recarga en *111# o en la web."
	cases := []struct {
		name, body string
		want       USSD
	}{
		{"text as the modem decoded it", `0,"Your balance is 5.23 USD",15`, USSD{0, "Your balance is 5.23 USD", 15}},
		// the request "*100#" packed is the vector Huawei modems are documented with
		{"Huawei packed 7-bit", `0,"AA180C3602",15`, USSD{0, "*100#", 15}},
		{"packed, long", `1,"` + packedHex(t, long) + `",15`, USSD{1, long, 15}},
		{"UCS-2 dcs 72", `0,"` + ucs2Hex("Баланс: 100,50 руб.") + `",72`, USSD{0, "Баланс: 100,50 руб.", 72}},
		{"GSM dcs but UCS-2 charset", `2,"` + ucs2Hex("Saldo 3,10 EUR") + `",15`, USSD{2, "Saldo 3,10 EUR", 15}},
		{"dcs 0x11 with language", `0,"` + ucs2Hex("enSaldo 1 €") + `",17`, USSD{0, "enSaldo 1 €", 17}},
		{"status only", `4`, USSD{4, "", -1}},
		// the answers oFono phonesim's default script gives (usr/share/ofono-phonesim/default.xml)
		{"phonesim 8-bit", `0,"5553534420737472696E672072656365697665642066726F6D205353",68`, USSD{0, "USSD string received from SS", 68}},
		{"phonesim UCS-2", `0,"005500530053004400200073007400720069006E0067002000720065006300650069007600650064002000660072006F006D002000530053",72`, USSD{0, "USSD string received from SS", 72}},
		{"no dcs", `0,"Balance 2"`, USSD{0, "Balance 2", -1}},
		{"comma inside the text", `0,"Saldo 1,5 EUR, valido",15`, USSD{0, "Saldo 1,5 EUR, valido", 15}},
		{"short hex-looking word stays", `0,"CAFE",15`, USSD{0, "CAFE", 15}},
		{"hex that decodes to nothing readable stays", `0,"0000000000000000",15`, USSD{0, "0000000000000000", 15}},
	}
	for _, c := range cases {
		got, err := ParseCUSD(c.body)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: ParseCUSD(%q) = %+v, want %+v", c.name, c.body, got, c.want)
		}
	}
}

func TestParseCUSDRefuses(t *testing.T) {
	for _, body := range []string{``, `"0"`, `9,"x",15`, `x`, `0,"a",999`, `0,"` + strings.Repeat("A", 3000) + `",15`} {
		if _, err := ParseCUSD(body); !errors.Is(err, ErrUSSD) {
			t.Errorf("ParseCUSD(%q) = %v, want ErrUSSD", clip(body), err)
		}
	}
}

func FuzzParseCUSD(f *testing.F) {
	for _, s := range []string{`0,"AA180C3602",15`, `1,"00420061",72`, `4`, `2,"text, more",15`, `0,"",0`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		u, err := ParseCUSD(body)
		if err != nil {
			return
		}
		if u.Status < 0 || u.Status > 5 || u.DCS < -1 || u.DCS > 255 || len(u.Text) > 4*maxUSSDText {
			t.Fatalf("ParseCUSD(%q) = %+v", body, u)
		}
	})
}
