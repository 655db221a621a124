package sim

import "testing"

func TestParseAmount(t *testing.T) {
	cases := []struct {
		text string
		want float64
		ok   bool
	}{
		{"Your balance is 5.23 USD", 5.23, true},
		{"Saldo: 12,50 EUR. Bono 500MB valido hasta 31/12.", 12.5, true},
		{"Tu saldo es 1.234,56 €", 1234.56, true},
		{"Balance: $1,234.56", 1234.56, true},
		{"Rs. 100.50 balance, valid till 12/05/2027", 100.5, true},
		{"On 04.12.2026 your balance is 3,10 EUR", 3.1, true},
		{"Dial *111# to top up. Credit: 7.00", 7, true},
		{"Guthaben: 0,99 EUR", 0.99, true},
		{"Баланс: 100,50 руб.", 100.5, true},
		{"Solde 2 000 FCFA", 2000, true},
		{"0.500 KWD", 0.5, true},
		{"Saldo 1.234 Kz", 1234, true},
		{"Your balance is 5", 5, true},
		{"4G bundle 30days left 15.5", 15.5, true},
		{"Remaining 10:30 minutes", 0, false},
		{"Service unavailable, try later", 0, false},
		{"Dial *100#", 0, false},
		{"", 0, false},
		{"1.2.3", 0, false},
	}
	for _, c := range cases {
		got, ok := ParseAmount(c.text)
		if ok != c.ok || got != c.want {
			t.Errorf("ParseAmount(%q) = %v, %v; want %v, %v", c.text, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"Saldo: 12,50 EUR", "$1,234.56", "04.12.2026 3,10", "*111#", "2 000 FCFA", "1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		v, ok := ParseAmount(text)
		if ok && (v < 0 || v > 1e12 || v != v) {
			t.Fatalf("ParseAmount(%q) = %v", text, v)
		}
	})
}
