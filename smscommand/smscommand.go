// Package smscommand lets an admin command the box by SMS when SMS is the only way to reach it
// (the uplink is down): Teltonika's "SMS Utilities" rules, as a text that starts with a key and
// then a command — "<key> status", "<key> pause wpp1/main", "<key> resume wpp1/main",
// "<key> retry", "<key> balance", "<key> reboot".
//
// Only numbers on the allow list with the right key are answered, by one SMS. Anyone else, or a
// wrong key, gets no answer at all (no oracle telling a guesser how close it came); the attempt
// is counted and audited (with the key masked), and a number that keeps failing is ignored for a
// while. The key is a secret: it is never logged, shown or exported.
package smscommand

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Names are the commands the box takes.
var Names = []string{"status", "pause", "resume", "retry", "balance", "reboot"}

// Box is what the commands act on; the gateway implements it.
type Box interface {
	Status(ctx context.Context) string               // queue depth, senders' health, uplink, last balance
	Pause(ctx context.Context, sender string) error  // "<service>/<sender>" or a sender name
	Resume(ctx context.Context, sender string) error // the same
	Retry(ctx context.Context) (int, error)          // every waiting delivery due now; how many
	Balance(ctx context.Context) (string, error)     // the SIM's credit, asked now
	Reboot(ctx context.Context) error                // in a little while: the answer goes out first
}

// Options configure who may command the box.
type Options struct {
	Allow []string // numbers that may command the box (E.164, compared normalised)
	Key   string   // the text starts with it
	// MaxFailures failed attempts from one number within Window silence that number until the
	// window has passed (defaults 5 and 1h).
	MaxFailures int
	Window      time.Duration
	Now         func() time.Time
}

// MaxReply is one GSM 7-bit SMS: a reply never costs more than one message.
const MaxReply = 160

// Outcome is what became of one inbound text.
type Outcome int

const (
	// NotCommand: an ordinary message, for the forwarding rules.
	NotCommand Outcome = iota
	// Done: a command from an allowed number with the key; Reply is to be sent back.
	Done
	// Refused: a command attempt that is not answered (unknown number, wrong key, unknown
	// command, or a number silenced after repeated failures). It is not forwarded either.
	Refused
)

func (o Outcome) String() string {
	switch o {
	case Done:
		return "command"
	case Refused:
		return "command refused"
	}
	return "message"
}

// Result says what Handle did with a text.
type Result struct {
	Outcome Outcome
	Command string // the command's name ("" when none was recognised)
	Reply   string // for Done: the answer to send by SMS (≤ MaxReply characters)
	Reason  string // for Refused, for the audit: "number not allowed", "wrong key", ...
	Audit   string // the text as it may be logged: the key masked
}

// Commands checks and runs command texts.
type Commands struct {
	o     Options
	allow map[string]bool
	mu    sync.Mutex
	fails map[string][]time.Time // per number: recent failures

	done, refused atomic.Uint64 // since start, for /metrics
}

// Counts are the command texts handled since start: answered, and refused (not answered).
type Counts struct{ Done, Refused uint64 }

// Counts says how many commands were answered and refused since start.
func (c *Commands) Counts() Counts { return Counts{Done: c.done.Load(), Refused: c.refused.Load()} }

// New checks the options. An empty key or allow list is refused: a box must not be
// commandable by anyone.
func New(o Options) (*Commands, error) {
	if len(o.Key) < 8 {
		return nil, errors.New("sms.commands.key: must be at least 8 characters")
	}
	if strings.ContainsAny(o.Key, " \t\r\n") || !utf8.ValidString(o.Key) {
		return nil, errors.New("sms.commands.key: must be one word (no spaces)")
	}
	if len(o.Allow) == 0 {
		return nil, errors.New("sms.commands.allow: list the numbers that may command the box")
	}
	c := &Commands{o: o, allow: map[string]bool{}, fails: map[string][]time.Time{}}
	for i, n := range o.Allow {
		norm, ok := Normalize(n)
		if !ok {
			return nil, fmt.Errorf("sms.commands.allow[%d]: %q is not a phone number in E.164 form (+34600111222)", i, n)
		}
		c.allow[norm] = true
	}
	if c.o.MaxFailures <= 0 {
		c.o.MaxFailures = 5
	}
	if c.o.Window <= 0 {
		c.o.Window = time.Hour
	}
	if c.o.Now == nil {
		c.o.Now = time.Now
	}
	return c, nil
}

// Normalize reduces a phone number to its digits with one leading "+" when international:
// "+34 600-111-222", "0034600111222" and "+34600111222" are the same number. ok is false for
// anything that is not 3 to 15 digits.
func Normalize(n string) (string, bool) {
	n = strings.TrimSpace(n)
	intl := strings.HasPrefix(n, "+")
	var b strings.Builder
	for _, c := range strings.TrimPrefix(n, "+") {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == ' ' || c == '-' || c == '(' || c == ')' || c == '.':
		default:
			return "", false
		}
	}
	d := b.String()
	if !intl && strings.HasPrefix(d, "00") {
		d, intl = d[2:], true
	}
	if len(d) < 3 || len(d) > 15 {
		return "", false
	}
	if intl {
		return "+" + d, true
	}
	return d, true
}

// parse splits a text into key, command and argument when it has the shape of a command:
// "<word> <command> [<arg>]" with a known command name.
func parse(text string) (key, cmd, arg string, ok bool) {
	f := strings.Fields(text)
	if len(f) < 2 || len(f) > 3 || len(text) > MaxReply*2 {
		return "", "", "", false
	}
	cmd = strings.ToLower(f[1])
	for _, n := range Names {
		if cmd == n {
			if len(f) == 3 {
				arg = f[2]
			}
			return f[0], cmd, arg, true
		}
	}
	return "", "", "", false
}

// Handle decides what an inbound text from from is, and runs it when it is a command the
// number may give. It is called once per message, after the message is durable; the caller
// records the Result with the message so a restart never runs or answers it twice.
func (c *Commands) Handle(ctx context.Context, box Box, from, text string) Result {
	key, cmd, arg, ok := parse(text)
	if !ok {
		return Result{Outcome: NotCommand}
	}
	audit := "*** " + strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(text), key))
	r := Result{Command: cmd, Audit: strings.ReplaceAll(audit, c.o.Key, "***")}
	num, _ := Normalize(from)
	if c.silenced(num) {
		c.refused.Add(1)
		r.Outcome, r.Reason = Refused, "too many failed attempts from this number"
		return r
	}
	switch {
	case !c.allow[num]:
		r.Reason = "number not allowed"
	case subtle.ConstantTimeCompare([]byte(key), []byte(c.o.Key)) != 1:
		r.Reason = "wrong key"
	}
	if r.Reason != "" {
		c.fail(num)
		c.refused.Add(1)
		r.Outcome = Refused
		return r
	}
	c.done.Add(1)
	r.Outcome = Done
	r.Reply = fit(c.run(ctx, box, cmd, arg))
	return r
}

func (c *Commands) run(ctx context.Context, box Box, cmd, arg string) string {
	switch cmd {
	case "status":
		return box.Status(ctx)
	case "pause", "resume":
		if arg == "" {
			return cmd + ": name the sender, e.g. " + cmd + " wpp1/main"
		}
		f := box.Pause
		if cmd == "resume" {
			f = box.Resume
		}
		if err := f(ctx, arg); err != nil {
			return cmd + " " + arg + ": " + err.Error()
		}
		return cmd + "d " + arg
	case "retry":
		n, err := box.Retry(ctx)
		if err != nil {
			return "retry: " + err.Error()
		}
		return fmt.Sprintf("retry: %d deliveries due now", n)
	case "balance":
		s, err := box.Balance(ctx)
		if err != nil {
			return "balance: " + err.Error()
		}
		return s
	case "reboot":
		if err := box.Reboot(ctx); err != nil {
			return "reboot: " + err.Error()
		}
		return "rebooting in 30 s"
	}
	return ""
}

// silenced reports whether num failed MaxFailures times within Window.
func (c *Commands) silenced(num string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.recent(num)) >= c.o.MaxFailures
}

func (c *Commands) fail(num string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fails[num] = append(c.recent(num), c.o.Now())
	if len(c.fails) > 1024 { // bounded: forget the numbers whose failures are old
		for n := range c.fails {
			if len(c.recent(n)) == 0 {
				delete(c.fails, n)
			}
		}
	}
}

// recent drops failures older than Window; c.mu is held.
func (c *Commands) recent(num string) []time.Time {
	cut := c.o.Now().Add(-c.o.Window)
	f := c.fails[num]
	i := 0
	for i < len(f) && f[i].Before(cut) {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(c.fails, num)
		return nil
	}
	c.fails[num] = f
	return f
}

// fit cuts a reply to one SMS.
func fit(s string) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= MaxReply {
		return s
	}
	r := []rune(s)
	return string(r[:MaxReply-3]) + "..."
}
