package modem

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// instantModem answers on the far end of a net.Pipe at once: OK to everything, the "> "
// prompt to AT+CMGS, "+CMGS: 1" to a PDU. It measures our code (encode, engine, supervisor),
// not a modem or a tty.
func instantModem(tb testing.TB) func(ctx context.Context) (io.ReadWriteCloser, error) {
	return func(ctx context.Context) (io.ReadWriteCloser, error) {
		a, b := net.Pipe()
		go func() {
			r := bufio.NewReader(b)
			var cur []byte
			for {
				c, err := r.ReadByte()
				if err != nil {
					return
				}
				if c != '\r' && c != 0x1a {
					cur = append(cur, c)
					continue
				}
				cmd := string(cur)
				cur = cur[:0]
				var out string
				switch {
				case c == 0x1a:
					out = "\r\n+CMGS: 1\r\n\r\nOK\r\n"
				case strings.HasPrefix(cmd, "AT+CMGS="):
					out = "\r\n> "
				case cmd == "AT+CPIN?":
					out = "\r\n+CPIN: READY\r\n\r\nOK\r\n"
				case cmd == "AT+CREG?":
					out = "\r\n+CREG: 0,1\r\n\r\nOK\r\n"
				case cmd == "AT+CSQ":
					out = "\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
				default:
					out = "\r\nOK\r\n"
				}
				if _, err := b.Write([]byte(out)); err != nil {
					return
				}
			}
		}()
		return a, nil
	}
}

func benchSend(b *testing.B, text string) {
	m, err := New(Options{Open: instantModem(b), HealthEvery: time.Hour}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	for m.Health().Ready() != nil {
		<-m.Changed()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Send(ctx, "491701234567", text, SubmitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendShort: one single-part GSM 7-bit SMS, encode + AT+CMGF + AT+CMGS exchange.
func BenchmarkSendShort(b *testing.B) { benchSend(b, "ALARM: door 3 open at 02:14") }

// BenchmarkSendLongUCS2: a 3-part UCS-2 SMS (three AT+CMGS exchanges).
func BenchmarkSendLongUCS2(b *testing.B) {
	benchSend(b, strings.Repeat("Feuer 🔥 im Keller, bitte sofort prüfen! ", 4))
}

func BenchmarkEncodeSubmit(b *testing.B) {
	text := strings.Repeat("Temperatur im Serverraum ueber Grenzwert {31,5 C}. ", 5)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := EncodeSubmit("491701234567", text, SubmitOptions{}, fixedRef(1)); err != nil {
			b.Fatal(err)
		}
	}
}
