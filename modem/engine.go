package modem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// URC is an unsolicited result code (+CMTI, +CDS, RING, +CREG: ...). For +CMT, +CDS and +CBM,
// PDU is the hex line that followed.
type URC struct {
	Line Line
	PDU  string
}

// EngineOptions tune an Engine. Zero values take the defaults.
type EngineOptions struct {
	// OnURC is called for every unsolicited line (a two-line one with its PDU), in the
	// engine's reader goroutine: it must not block. Nil drops them (after logging at debug
	// level).
	OnURC func(URC)
	// Trace logs every line in and out at debug level.
	Trace bool
}

// maxReplyLines bounds the information lines kept for one command (a babbling modem).
const maxReplyLines = 64

// Reply is what a command answered before its final result code.
type Reply struct {
	Lines []Line // information lines (echo removed)
}

// Find returns the body of the first line with prefix ("+CSQ"), and whether there was one.
func (r Reply) Find(prefix string) (string, bool) {
	for _, l := range r.Lines {
		if l.Prefix == prefix {
			return l.Body, true
		}
	}
	return "", false
}

// Engine runs AT commands over an io.ReadWriter. One goroutine owns the port: it writes
// commands and takes replies; callers hand it requests over a channel, so commands are
// serialised. A second goroutine reads bytes, cuts them into lines and takes unsolicited
// lines out of the stream (urcStage) before the owner sees any, because a Read cannot be
// selected on.
//
// The reader goroutine ends when a Read fails (io.EOF or another error, which closes the
// engine with ErrPort) or, after Close, at the next Read that returns. A reader that returns
// (0, nil) periodically (hw/serial does, on its read timeout) lets it end promptly; for a
// blocking reader, close the port after Close.
type Engine struct {
	rw   io.ReadWriter
	log  *slog.Logger
	opts EngineOptions
	urcs urcStage // unsolicited lines leave the stream here, before own sees a line

	reqs   chan *request
	events chan event
	quit   chan struct{}
	done   chan struct{} // closed when the owner goroutine has returned

	closeOnce sync.Once
	errMu     sync.Mutex
	err       error // why the engine stopped
}

type event struct {
	line   string
	prompt bool
	err    error
}

type request struct {
	ctx   context.Context
	cmd   string
	shown string // cmd as errors and traces show it (a PIN masked)
	pdu   string // for AT+CMGS: the hex PDU sent at the "> " prompt
	// each, if set, takes every information line in the owner goroutine instead of the
	// reply keeping them (a listing of unknown length: AT+CMGL); it must not block.
	each    func(Line)
	timeout time.Duration
	reply   chan result
}

type result struct {
	reply Reply
	err   error
}

// NewEngine starts an engine on rw. Close stops it; it does not close rw.
func NewEngine(rw io.ReadWriter, log *slog.Logger, opts EngineOptions) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		rw:     rw,
		log:    log,
		opts:   opts,
		reqs:   make(chan *request),
		events: make(chan event, 16),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go e.read()
	go e.own()
	return e
}

// Close stops the engine; commands in flight fail with ErrClosed. It does not close the port.
func (e *Engine) Close() error {
	e.stop(ErrClosed)
	<-e.done
	return nil
}

// Done is closed once the engine has stopped (Close, or the port failed: see Err).
func (e *Engine) Done() <-chan struct{} { return e.done }

// Err is why the engine stopped: ErrClosed, or an error wrapping ErrPort. Nil while it runs.
func (e *Engine) Err() error {
	e.errMu.Lock()
	defer e.errMu.Unlock()
	return e.err
}

func (e *Engine) stop(err error) {
	e.closeOnce.Do(func() {
		e.errMu.Lock()
		e.err = err
		e.errMu.Unlock()
		close(e.quit)
	})
}

// Command runs one AT command ("AT+CSQ") and waits for its final result code, at most
// timeout. A failed final result is an error wrapping *CMEError, *CMSError or ErrError; no
// answer in time is ErrTimeout.
func (e *Engine) Command(ctx context.Context, cmd string, timeout time.Duration) (Reply, error) {
	return e.command(ctx, cmd, Redact(cmd), timeout)
}

// command is Command with the text errors and traces show in place of cmd.
func (e *Engine) command(ctx context.Context, cmd, shown string, timeout time.Duration) (Reply, error) {
	return e.do(&request{ctx: ctx, cmd: cmd, shown: shown, timeout: timeout})
}

// SubmitPDU sends one SMS-SUBMIT: AT+CMGS=<tpduLen>, waits for the "> " prompt, sends the hex
// PDU (SMSC part included) and Ctrl-Z, and returns the message reference from "+CMGS: <mr>".
func (e *Engine) SubmitPDU(ctx context.Context, tpduLen int, pduHex string, timeout time.Duration) (int, error) {
	cmd := fmt.Sprintf("AT+CMGS=%d", tpduLen)
	r, err := e.do(&request{ctx: ctx, cmd: cmd, shown: cmd, pdu: pduHex, timeout: timeout})
	if err != nil {
		return 0, err
	}
	body, ok := r.Find("+CMGS")
	if !ok {
		return 0, &CommandError{Cmd: cmd, Err: fmt.Errorf("%w: OK without +CMGS", ErrBadReply)}
	}
	mr := IntField(Fields(body), 0, -1)
	if mr < 0 {
		return 0, &CommandError{Cmd: cmd, Err: fmt.Errorf("%w: +CMGS: %q", ErrBadReply, body)}
	}
	return mr, nil
}

// CommandEach runs cmd like Command but hands each information line to each as it arrives, in
// the goroutine that owns the port, instead of keeping them: for answers of unknown length
// (AT+CMGL with a full store), so the caller bounds what it keeps. each must not block. The
// timeout bounds the silence before the first line and between lines, not the whole answer.
func (e *Engine) CommandEach(ctx context.Context, cmd string, timeout time.Duration, each func(Line)) error {
	_, err := e.do(&request{ctx: ctx, cmd: cmd, shown: Redact(cmd), timeout: timeout, each: each})
	return err
}

func (e *Engine) do(r *request) (Reply, error) {
	r.reply = make(chan result, 1)
	if r.shown == "" {
		r.shown = Redact(r.cmd)
	}
	if r.timeout <= 0 {
		r.timeout = 10 * time.Second
	}
	select {
	case e.reqs <- r:
	case <-r.ctx.Done():
		return Reply{}, &CommandError{Cmd: r.shown, Err: r.ctx.Err()}
	case <-e.done:
		return Reply{}, &CommandError{Cmd: r.shown, Err: e.Err()}
	}
	res := <-r.reply // the owner always answers
	return res.reply, res.err
}

// read cuts the byte stream into lines and prompts and hands them to the owner.
func (e *Engine) read() {
	buf := make([]byte, 512)
	var acc []byte
	send := func(ev event) bool {
		select {
		case e.events <- ev:
			return true
		case <-e.quit:
			return false
		}
	}
	for {
		n, err := e.rw.Read(buf)
		if n > 0 && e.opts.Trace {
			e.log.Debug("modem rx", "bytes", Redact(string(buf[:n])))
		}
		acc = append(acc, buf[:n]...)
		for {
			i := bytes.IndexAny(acc, "\r\n")
			if i < 0 {
				break
			}
			line := string(acc[:i])
			acc = acc[i+1:]
			line = strings.TrimSpace(line)
			if line == "" || !e.urcs.take(line, e.urc) {
				continue
			}
			if !send(event{line: line}) {
				return
			}
		}
		if len(acc) > 0 && acc[0] == '>' && len(bytes.TrimSpace(acc[1:])) == 0 {
			acc = acc[:0]
			if !send(event{prompt: true}) {
				return
			}
		}
		if len(acc) > maxLine {
			// A runaway line without an ending: keep the bound, drop the excess.
			line := strings.TrimSpace(string(acc[:maxLine]))
			acc = acc[:0]
			if line != "" && e.urcs.take(line, e.urc) && !send(event{line: line}) {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("%w: end of file (port closed or hung up)", ErrPort)
			} else {
				err = fmt.Errorf("%w: %v", ErrPort, err)
			}
			send(event{err: err})
			return
		}
		select {
		case <-e.quit:
			return
		default:
		}
	}
}

// own is the goroutine that owns the port: the only writer, and the only reader of events.
func (e *Engine) own() {
	defer close(e.done)
	for {
		select {
		case <-e.quit:
			e.drainRequests()
			return
		case ev := <-e.events:
			if ev.err != nil {
				e.fail(ev.err)
				continue
			}
			if ev.line != "" {
				// Unsolicited lines never get here (urcStage): a leftover of a command
				// abandoned on timeout, or noise.
				e.log.Debug("modem stale line dropped", "line", Redact(ev.line))
			}
		case r := <-e.reqs:
			e.urcs.setRunning(commandPrefix(r.cmd))
			res, settle := e.exec(r)
			r.reply <- res
			if settle != nil {
				// The caller gave up; wait out the command's final result (or its timeout)
				// so a late "OK" is not taken as the next command's.
				e.settle(settle)
				settle.Stop()
			}
			e.urcs.setRunning("")
		}
	}
}

func (e *Engine) fail(err error) {
	e.log.Warn("modem port failed", "err", err)
	e.stop(err)
}

func (e *Engine) drainRequests() {
	for {
		select {
		case r := <-e.reqs:
			r.reply <- result{err: &CommandError{Cmd: r.shown, Err: e.Err()}}
		default:
			return
		}
	}
}

func (e *Engine) urc(u URC) {
	if e.opts.OnURC != nil {
		e.opts.OnURC(u)
		return
	}
	e.log.Debug("modem unsolicited", "line", Redact(u.Line.Text))
}

func (e *Engine) write(s string) error {
	if e.opts.Trace {
		e.log.Debug("modem tx", "bytes", Redact(s))
	}
	if _, err := io.WriteString(e.rw, s); err != nil {
		err = fmt.Errorf("%w: write: %v", ErrPort, err)
		e.fail(err)
		return err
	}
	return nil
}

// exec runs one request to its final result code. It is the only place commands are written.
// When the caller gave up before the final result, it returns the command's timer for settle.
func (e *Engine) exec(r *request) (res result, settle *time.Timer) {
	if err := r.ctx.Err(); err != nil {
		return r.fail(err), nil
	}
	e.discardStale()
	if err := e.write(r.cmd + "\r"); err != nil {
		return r.fail(err), nil
	}
	timer := time.NewTimer(r.timeout)
	defer func() {
		if settle == nil {
			timer.Stop()
		}
	}()
	x := &exchange{r: r}
	for {
		select {
		case <-e.quit:
			return r.fail(e.Err()), nil
		case <-r.ctx.Done():
			e.leavePrompt(x)
			return r.fail(r.ctx.Err()), timer
		case <-timer.C:
			e.leavePrompt(x)
			return r.fail(fmt.Errorf("%w (%s)", ErrTimeout, r.timeout)), nil
		case ev := <-e.events:
			if res, done := e.step(x, ev); done {
				return res, nil
			}
			if r.each != nil {
				timer.Reset(r.timeout) // a listing: the timeout bounds the silence between lines
			}
		}
	}
}

func (r *request) fail(err error) result { return result{err: &CommandError{Cmd: r.shown, Err: err}} }

// exchange is the state of one command in flight.
type exchange struct {
	r       *request
	sentPDU bool // the PDU went at the "> " prompt
	reply   Reply
}

// leavePrompt escapes a "> " prompt the PDU was never sent at, so the modem sends nothing.
func (e *Engine) leavePrompt(x *exchange) {
	if x.r.pdu != "" && !x.sentPDU {
		_ = e.write("\x1b")
	}
}

// step takes one event of the command's exchange; done once the command has its result.
func (e *Engine) step(x *exchange, ev event) (result, bool) {
	r := x.r
	switch {
	case ev.err != nil:
		e.fail(ev.err)
		return r.fail(ev.err), true
	case ev.prompt:
		if r.pdu != "" && !x.sentPDU {
			x.sentPDU = true
			if err := e.write(r.pdu + "\x1a"); err != nil {
				return r.fail(err), true
			}
		}
		return result{}, false
	}
	l := ParseLine(ev.line)
	switch {
	case l.Kind == OK && r.pdu != "" && !x.sentPDU:
		return r.fail(ErrNoPrompt), true
	case l.Kind == OK:
		return result{reply: x.reply}, true
	case l.Kind == Fail:
		return r.fail(l.Err), true
	case strings.EqualFold(l.Text, r.cmd) || (x.sentPDU && strings.Contains(l.Text, r.pdu)):
		// echo (ATE1, or before ATE0 took effect), or the PDU echoed back
	case r.each != nil:
		r.each(l)
	case len(x.reply.Lines) < maxReplyLines:
		x.reply.Lines = append(x.reply.Lines, l)
	}
	return result{}, false
}

// settle keeps reading, after its caller gave up on a command, until the command's final
// result arrives or its timeout ends, so that a late "OK" is not taken as the next command's.
func (e *Engine) settle(timer *time.Timer) {
	for {
		select {
		case <-e.quit:
			return
		case <-timer.C:
			return
		case ev := <-e.events:
			if ev.err != nil {
				e.fail(ev.err)
				return
			}
			if ev.prompt {
				continue
			}
			if ParseLine(ev.line).Kind != Info {
				return
			}
		}
	}
}

// discardStale drops lines that arrived before a command is written (leftovers of a command
// abandoned on timeout: unsolicited ones left the stream in urcStage), so they are not taken
// as its reply.
func (e *Engine) discardStale() {
	for {
		select {
		case ev := <-e.events:
			if ev.err != nil {
				e.fail(ev.err)
				return
			}
			if ev.line != "" {
				e.log.Debug("modem stale line dropped", "line", Redact(ev.line))
			}
		default:
			return
		}
	}
}

// commandPrefix is the reply prefix of cmd: "AT+CSQ" → "+CSQ", "AT+CREG?" → "+CREG".
func commandPrefix(cmd string) string {
	c := strings.ToUpper(cmd)
	c = strings.TrimPrefix(c, "AT")
	if len(c) == 0 || (c[0] != '+' && c[0] != '^') {
		return ""
	}
	end := strings.IndexAny(c, "=?")
	if end < 0 {
		end = len(c)
	}
	return c[:end]
}
