package mail

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"multimsg/provider"
)

// rawServer is a scripted SMTP peer on 127.0.0.1 for the misbehaviours a real server library
// will not produce: it runs script on each accepted connection.
func rawServer(t *testing.T, script func(c net.Conn, r *bufio.Reader)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				script(c, bufio.NewReader(c))
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func rawDriver(t *testing.T, port int, mod func(*Options)) *Driver {
	o := Options{Host: "127.0.0.1", Port: port, From: "gw@example.com", Timeout: 2 * time.Second, Hostname: "box.test"}
	if mod != nil {
		mod(&o)
	}
	d, err := New(o, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestGreeting554IsSenderDown(t *testing.T) {
	port := rawServer(t, func(c net.Conn, _ *bufio.Reader) {
		c.Write([]byte("554 5.7.1 mx.test no SMTP service for you\r\n"))
	})
	d := rawDriver(t, port, nil)
	_, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x")))
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Class != provider.Down || pe.Code != "554" || !strings.Contains(err.Error(), "no SMTP service") {
		t.Fatalf("Send = %v, want sender-down 554 with the server's text", err)
	}
}

func TestEndlessReplyIsBounded(t *testing.T) {
	port := rawServer(t, func(c net.Conn, _ *bufio.Reader) {
		c.Write([]byte("220-"))
		junk := []byte(strings.Repeat("x", 64<<10))
		for {
			if _, err := c.Write(junk); err != nil {
				return
			}
		}
	})
	d := rawDriver(t, port, nil)
	_, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x")))
	if provider.ClassOf(err) != provider.Temporary || !errors.Is(err, ErrReplyTooLong) {
		t.Fatalf("Send to a server that never stops talking = %v, want temporary ErrReplyTooLong", err)
	}
}

func TestHangUpAfterGreetingIsTemporary(t *testing.T) {
	port := rawServer(t, func(c net.Conn, r *bufio.Reader) {
		c.Write([]byte("220 mx.test ESMTP\r\n"))
		r.ReadString('\n') // EHLO, then hang up
	})
	d := rawDriver(t, port, nil)
	_, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x")))
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Class != provider.Temporary || pe.Code != "network" {
		t.Fatalf("Send = %v, want temporary network", err)
	}
}

// A LOGIN dialogue as some servers word it (lower case, no initial response).
func TestAuthLoginOddPrompts(t *testing.T) {
	got := make(chan []string, 1)
	port := rawServer(t, func(c net.Conn, r *bufio.Reader) {
		say := func(s string) { c.Write([]byte(s + "\r\n")) }
		read := func() string { l, _ := r.ReadString('\n'); return strings.TrimRight(l, "\r\n") }
		say("220 mx.test ESMTP")
		read()
		say("250-mx.test\r\n250 AUTH LOGIN")
		var lines []string
		lines = append(lines, read()) // AUTH LOGIN
		say("334 dXNlcm5hbWU6")       // "username:"
		lines = append(lines, read())
		say("334 cGFzc3dvcmQ6") // "password:"
		lines = append(lines, read())
		say("235 2.7.0 ok")
		got <- lines
		for {
			l := read()
			switch {
			case l == "" || strings.HasPrefix(l, "QUIT"):
				return
			case l == "DATA":
				say("354 go")
				for read() != "." {
				}
				say("250 2.0.0 Ok: queued as 4F2A1")
			default:
				say("250 ok")
			}
		}
	})
	d := rawDriver(t, port, func(o *Options) { o.Username, o.Password = "ann", "pw" })
	if _, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x"))); err != nil {
		t.Fatalf("Send: %v", err)
	}
	lines := <-got
	if want := []string{"AUTH LOGIN", "YW5u", "cHc="}; strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("AUTH dialogue = %q, want %q", lines, want)
	}
}
