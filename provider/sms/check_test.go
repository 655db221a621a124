package sms_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"multimsg/modem"
	"multimsg/provider"
	"multimsg/provider/sms"
)

func offlineDriver(t *testing.T, segments int) *sms.Driver {
	t.Helper()
	d, err := sms.New(sms.Options{Segments: segments, Open: func(context.Context) (io.ReadWriteCloser, error) {
		return nil, errors.New("no modem in this test")
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestCheck(t *testing.T) {
	d := offlineDriver(t, 0)
	text := func(name, s string) provider.File { return provider.File{Name: name, Type: "text", Data: []byte(s)} }
	tests := []struct {
		name  string
		req   provider.Request
		field string // "" ok
		msg   string // part of the message
	}{
		{"ok", provider.Request{Dest: "491701234567", Files: []provider.File{text("a", "hi")}}, "", ""},
		{"ok 8 digits", provider.Request{Dest: "12345678", Files: []provider.File{text("a", "hi")}}, "", ""},
		{"ok 15 digits", provider.Request{Dest: "123456789012345", Files: []provider.File{text("a", "hi")}}, "", ""},
		{"plus", provider.Request{Dest: "+491701234567", Files: []provider.File{text("a", "hi")}}, "dest", "digits only"},
		{"short", provider.Request{Dest: "1234567", Files: []provider.File{text("a", "hi")}}, "dest", "8 to 15"},
		{"long", provider.Request{Dest: "1234567890123456", Files: []provider.File{text("a", "hi")}}, "dest", "8 to 15"},
		{"spaces", provider.Request{Dest: "49 170 1234567", Files: []provider.File{text("a", "hi")}}, "dest", ""},
		{"not utf8", provider.Request{Dest: "491701234567", Files: []provider.File{text("bin", "\xff\xfe\x00")}}, "type", `"bin" is not UTF-8`},
		{"empty", provider.Request{Dest: "491701234567", Files: []provider.File{text("e", "\n")}}, "type", `"e" is empty`},
		{"6 parts ok", provider.Request{Dest: "491701234567", Files: []provider.File{text("a", strings.Repeat("a", 918))}}, "", ""},
		{"7 parts", provider.Request{Dest: "491701234567", Files: []provider.File{text("long.txt", strings.Repeat("a", 919))}}, "type", `"long.txt" needs 7 SMS segments`},
		{"ucs2 7 parts", provider.Request{Dest: "491701234567", Files: []provider.File{text("u", strings.Repeat("ж", 403))}}, "type", "needs 7 SMS segments (UCS-2"},
		{"huge", provider.Request{Dest: "491701234567", Files: []provider.File{text("h", strings.Repeat("a", 1<<20))}}, "type", `"h" is 1048576 bytes`},
		{"second file too long", provider.Request{Dest: "491701234567", Files: []provider.File{text("a", "ok"), text("b", strings.Repeat("€", 500))}}, "type", `"b" needs`},
		{"flash", provider.Request{Dest: "491701234567", Files: []provider.File{text("a", "hi")}, Info: provider.Info{"flash": json.RawMessage("true")}}, "", ""},
		{"validity", provider.Request{Dest: "491701234567", Files: []provider.File{text("a", "hi")}, Info: provider.Info{"validity": json.RawMessage(`"1h"`)}}, "", ""},
		{"bad validity", provider.Request{Dest: "491701234567", Files: []provider.File{text("a", "hi")}, Info: provider.Info{"validity": json.RawMessage(`"soon"`)}}, "info", "validity"},
		{"validity too short", provider.Request{Dest: "491701234567", Files: []provider.File{text("a", "hi")}, Info: provider.Info{"validity": json.RawMessage(`"1m"`)}}, "info", "out of range"},
		{"flash not bool", provider.Request{Dest: "491701234567", Files: []provider.File{text("a", "hi")}, Info: provider.Info{"flash": json.RawMessage(`"yes"`)}}, "info", "flash"},
		{"unknown key", provider.Request{Dest: "491701234567", Files: []provider.File{text("a", "hi")}, Info: provider.Info{"subject": json.RawMessage(`"x"`), "caption": json.RawMessage(`"y"`)}}, "info", "caption, subject"},
		{"wrong type", provider.Request{Dest: "491701234567", Files: []provider.File{{Name: "p", Type: "image", Data: []byte("x")}}}, "type", "only text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := d.Check(tt.req)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Check = %v, want ok", err)
				}
				return
			}
			var ce *provider.CheckError
			if !errors.As(err, &ce) || ce.Field != tt.field || !strings.Contains(ce.Error(), tt.msg) {
				t.Fatalf("Check = %v, want a %s error containing %q", err, tt.field, tt.msg)
			}
		})
	}
}

func TestCheckSegmentLimitConfigurable(t *testing.T) {
	d := offlineDriver(t, 1)
	err := d.Check(provider.Request{Dest: "491701234567", Files: []provider.File{{Name: "a", Type: "text", Data: []byte(strings.Repeat("a", 161))}}})
	if err == nil || !strings.Contains(err.Error(), "needs 2 SMS segments") || !strings.Contains(err.Error(), "limit of 1") {
		t.Fatalf("Check = %v", err)
	}
}

func TestServiceAndOffline(t *testing.T) {
	d := offlineDriver(t, 0)
	s := sms.Service([]provider.Sender{{Name: "default", Driver: d, Concurrency: 1}}, nil, 0)
	if s.Name != "sms" || !s.PerFile || len(s.Types) != 1 || s.Types[0] != "text" {
		t.Errorf("Service = %+v", s)
	}
	if _, err := provider.NewRegistry(s); err != nil {
		t.Fatal(err)
	}
	// No modem: the job waits (temporary), it is not lost.
	_, err := d.Send(context.Background(), provider.Delivery{Dest: "491701234567", Files: []provider.File{{Name: "a", Type: "text", Data: []byte("x")}}})
	if err == nil || provider.ClassOf(err) != provider.Temporary {
		t.Fatalf("Send without a modem = %v, want temporary", err)
	}
	waitHealth(t, d, "open error recorded", func(h modem.Health) bool { return strings.Contains(h.LastError, "no modem") })
	h := d.Health()
	if f := h.Facts.(modem.Health); h.OK || f.Present != false || !strings.Contains(f.LastError, "no modem in this test") {
		t.Errorf("Health = %+v", h)
	}
	// Two files in one delivery is a dispatcher bug: permanent.
	two := []provider.File{{Name: "a", Type: "text", Data: []byte("x")}, {Name: "b", Type: "text", Data: []byte("y")}}
	if _, err := d.Send(context.Background(), provider.Delivery{Dest: "491701234567", Files: two}); provider.ClassOf(err) != provider.Permanent {
		t.Errorf("Send with two files = %v", err)
	}
}
