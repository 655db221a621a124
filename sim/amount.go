package sim

import (
	"strconv"
	"strings"
	"unicode"
)

// maxAnswer bounds the text ParseAmount reads; a USSD answer is at most 182 characters.
const maxAnswer = 1024

// ParseAmount finds the credit in an operator's USSD answer: the first amount in it, read with a
// decimal comma or point ("12,50 EUR", "$5.23", "Saldo 1.234,56 €", "Rs. 100.50").
//
// Numbers that are not amounts are passed over: dates and times ("04.12.2026", "31/12", "10:30"),
// USSD codes ("*111#") and numbers glued to letters ("500MB", "4G"). A number next to a currency
// mark or word, or after a word that says balance, is taken before the first bare number. An
// answer with no number that reads as an amount gives ok == false: it is shown and counted by the
// caller, never guessed.
//
// Thousands: "1.234,56" and "1,234.56" are 1234.56. A lone separator followed by exactly three
// digits ("1.234") is read as grouping (1234) unless the whole part is 0 ("0.500" is 0.5).
func ParseAmount(text string) (amount float64, ok bool) {
	if len(text) > maxAnswer {
		text = text[:maxAnswer]
	}
	nums := numbers(text)
	first := -1
	for i, n := range nums {
		if !n.plausible() {
			continue
		}
		if n.marked {
			return n.value, true
		}
		if first < 0 {
			first = i
		}
	}
	if first < 0 {
		return 0, false
	}
	return nums[first].value, true
}

type number struct {
	raw    string
	value  float64
	ok     bool
	marked bool // beside a currency or after a balance word
	skip   bool // a date, time, code or a number glued to letters
}

func (n number) plausible() bool { return n.ok && !n.skip }

// currencies are the marks and words that name money around an amount (lower case).
var currencies = []string{
	"€", "$", "£", "¥", "₹", "₽", "₺", "₦", "₱", "₩", "₪", "₫", "r$",
	"eur", "euro", "euros", "usd", "gbp", "chf", "mxn", "cop", "ars", "clp", "pen", "brl", "inr", "rs",
	"rs.", "rub", "руб", "руб.", "uah", "pln", "zł", "czk", "kč", "huf", "ron", "lei", "try", "tl",
	"zar", "ngn", "kes", "ksh", "ghs", "tzs", "ugx", "xof", "xaf", "cfa", "fcfa", "mad", "dh", "egp",
	"le", "php", "idr", "rp", "myr", "rm", "thb", "vnd", "pkr", "bdt", "tk", "lkr", "aud", "nzd",
	"cad", "kwd", "bhd", "sar", "aed", "qar", "jod", "dzd", "tnd", "ugx", "etb", "birr", "kz", "mzn",
	"mt", "nok", "sek", "dkk", "kr", "bob", "pyg", "uyu", "gs", "s/", "s/.", "bs", "q", "gtq", "hnl",
	"l", "nio", "c$", "crc", "₡", "dop", "rd$", "cup",
}

// balanceWords say that the number after them is the credit (lower case).
var balanceWords = []string{
	"balance", "credit", "saldo", "crédito", "credito", "solde", "guthaben", "saldo:", "баланс",
	"bakiye", "kredit", "sold", "restante", "disponible", "available",
}

// numbers lists the numbers in text with what surrounds them.
func numbers(text string) []number {
	lower := strings.ToLower(text)
	var out []number
	r := []rune(lower)
	for i := 0; i < len(r); {
		if !unicode.IsDigit(r[i]) {
			i++
			continue
		}
		start := i
		for i < len(r) && (unicode.IsDigit(r[i]) || (r[i] == '.' || r[i] == ',' || r[i] == '\'' || r[i] == ' ' && i+1 < len(r) && groupAfter(r, i)) && i+1 < len(r) && unicode.IsDigit(r[i+1])) {
			i++
		}
		raw := string(r[start:i])
		n := number{raw: raw}
		n.value, n.ok = readNumber(raw)
		before, after := string(r[:start]), string(r[i:])
		n.skip = notAnAmount(raw, before, after)
		n.marked = hasCurrency(before, after) || afterBalanceWord(before)
		out = append(out, n)
		if len(out) == 64 {
			break
		}
	}
	return out
}

// groupAfter: a space is a thousands separator only when exactly three digits follow it
// ("1 234,50").
func groupAfter(r []rune, i int) bool {
	j := i + 1
	for j < len(r) && unicode.IsDigit(r[j]) {
		j++
	}
	return j-i-1 == 3 && (j == len(r) || !unicode.IsLetter(r[j]))
}

// notAnAmount: dates, times, codes and numbers glued to letters.
func notAnAmount(raw, before, after string) bool {
	seps := strings.Count(raw, ".") + strings.Count(raw, ",")
	if seps >= 2 && strings.Contains(raw, ".") && !strings.Contains(raw, ",") {
		// 04.12.2026 (and 1.234.567 is read as grouping only with a decimal comma after it)
		if p := strings.Split(raw, "."); len(p) == 3 && len(p[0]) <= 2 && len(p[1]) <= 2 {
			return true
		}
	}
	if strings.HasPrefix(after, "/") || strings.HasPrefix(after, ":") || strings.HasPrefix(after, "-") && len(after) > 1 && unicode.IsDigit([]rune(after)[1]) {
		return true
	}
	if b := []rune(before); len(b) > 0 {
		switch last := b[len(b)-1]; {
		case last == '*' || last == '#' || last == '/' || last == ':' || last == '+':
			return true
		case unicode.IsLetter(last) && !isCurrencyTail(string(b)):
			return true // "4g", "abc123"
		}
	}
	if a := []rune(after); len(a) > 0 {
		switch {
		case a[0] == '#' || a[0] == '*' || a[0] == '%':
			return true
		case unicode.IsLetter(a[0]) && !hasCurrency("", after):
			return true // "500mb", "30days"
		}
	}
	return false
}

func isCurrencyTail(before string) bool {
	before = strings.TrimRightFunc(before, unicode.IsSpace)
	for _, c := range currencies {
		if strings.HasSuffix(before, c) {
			return true
		}
	}
	return false
}

func hasCurrency(before, after string) bool {
	if isCurrencyTail(before) {
		return true
	}
	after = strings.TrimLeftFunc(after, unicode.IsSpace)
	for _, c := range currencies {
		if strings.HasPrefix(after, c) {
			rest := []rune(after[len(c):])
			if len(rest) == 0 || !unicode.IsLetter(rest[0]) || len([]rune(c)) == 1 && !unicode.IsLetter([]rune(c)[0]) {
				return true
			}
		}
	}
	return false
}

func afterBalanceWord(before string) bool {
	before = strings.TrimRightFunc(before, func(r rune) bool { return unicode.IsSpace(r) || r == ':' || r == '=' })
	before = strings.TrimSuffix(before, " is")
	before = strings.TrimSuffix(before, " es")
	before = strings.TrimSuffix(before, " est")
	before = strings.TrimSuffix(before, " ist")
	before = strings.TrimRightFunc(before, unicode.IsSpace)
	for _, w := range balanceWords {
		if strings.HasSuffix(before, w) {
			return true
		}
	}
	return false
}

// readNumber reads digits with grouping and a decimal comma or point.
func readNumber(raw string) (float64, bool) {
	s := strings.NewReplacer(" ", "", "'", "").Replace(raw)
	dots, commas := strings.Count(s, "."), strings.Count(s, ",")
	switch {
	case dots > 0 && commas > 0:
		// the later one is the decimal mark
		if strings.LastIndexByte(s, ',') > strings.LastIndexByte(s, '.') {
			s = strings.ReplaceAll(s, ".", "")
			s = strings.Replace(s, ",", ".", 1)
		} else {
			s = strings.ReplaceAll(s, ",", "")
		}
		if strings.Count(s, ".") > 1 {
			return 0, false
		}
	case dots+commas > 1:
		sep := "."
		if commas > 0 {
			sep = ","
		}
		for _, g := range strings.Split(s, sep)[1:] {
			if len(g) != 3 {
				return 0, false
			}
		}
		s = strings.ReplaceAll(s, sep, "")
	case dots+commas == 1:
		s = strings.Replace(s, ",", ".", 1)
		whole, frac, _ := strings.Cut(s, ".")
		if len(frac) == 3 && whole != "0" {
			s = whole + frac
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v > 1e12 {
		return 0, false
	}
	return v, true
}
