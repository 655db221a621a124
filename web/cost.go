package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sync/semaphore"
)

// The cost of a request is decided from its headers, before its body is read (issue 11).
//
// The server runs with StreamRequestBody: fasthttp reads no more of a body than the route's
// prefetch (HeaderReceived) and hands the rest to the handler as a stream. readBody then reads
// the stream against the route's limit, and, for uploads, against a budget of bytes in flight
// shared by every request, so neither one large body nor many medium ones can exhaust memory.

const (
	// smallBody is what a route that takes no body (GET, HEAD, the login form) may carry.
	smallBody = 4 << 10
	// multipartSlack is the room for multipart framing above MaxBody.
	multipartSlack = 64 << 10
	// budgetStep is how much of the budget a chunked body takes at a time, as it arrives.
	budgetStep = 1 << 20
)

// The body rules come from the route table (routes.go, Route.Body): HeaderReceived, the Expect
// handler and readBody all consult it, so they cannot disagree.

// headerReceived tells fasthttp how much of the body to read before the handler runs.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	path, _, _ := bytes.Cut(h.RequestURI(), []byte("?"))
	r, _ := s.table.lookup(h.Method(), path)
	return fasthttp.RequestConfig{MaxRequestBodySize: s.rule(r).prefetch}
}

// errBusy: the budget of bodies in flight stayed full for Limits.BodyWait.
var errBusy = errors.New("busy")

// busyError is a request refused for lack of room now: 503 with Retry-After.
type busyError struct{ msg string }

func (e *busyError) Error() string { return e.msg }
func (e *busyError) Unwrap() error { return errBusy }

// budget is the bytes of request bodies held in memory at once.
type budget struct {
	sem  *semaphore.Weighted
	size int64
	wait time.Duration
}

func newBudget(size int64, wait time.Duration) *budget {
	return &budget{sem: semaphore.NewWeighted(size), size: size, wait: wait}
}

// handlingCopies is what an upload costs in memory per body byte while it is handled: the
// body, the parsed files (a copy the handler owns) and bbolt's page buffer at commit.
const handlingCopies = 3

// cost is what a body of n bytes is charged: its handling, capped at the whole budget (a
// largest upload then runs alone).
func (b *budget) cost(n int) int64 {
	return min(int64(n)*handlingCopies, b.size)
}

// take reserves n bytes, waiting at most b.wait for them.
func (b *budget) take(ctx context.Context, n int64) error {
	if n > b.size {
		return tooLarge("request body too large: %d bytes is more than the box holds at once (%d)", n, b.size)
	}
	if b.sem.TryAcquire(n) {
		return nil
	}
	// Not derived from ctx's cancellation: ctx may be a fasthttp.RequestCtx, reused for the next
	// request once the handler returns, and a context derived from it reads it from a goroutine.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.wait)
	defer cancel()
	if err := b.sem.Acquire(wctx, n); err != nil {
		return &busyError{"the gateway is receiving other uploads; try again in a few seconds"}
	}
	return nil
}

// readBody reads the request's body under its route's rule r and returns what releases its
// share of the budget. On error nothing is held and the connection is to be closed (the rest
// of the body was not read).
func (s *Server) readBody(ctx *fasthttp.RequestCtx, r bodyRule) (func(), error) {
	none := func() {}
	if r.raw {
		return none, nil
	}
	cl := ctx.Request.Header.ContentLength() // -1: chunked
	if cl > r.max {
		return none, tooLarge("request body too large: at most %d bytes on %s", r.max, ctx.Path())
	}
	stream := ctx.RequestBodyStream()
	if stream == nil { // not streaming (a server built without StreamRequestBody): already read
		return none, s.countArgs(ctx)
	}
	if r.streams(cl) && s.o.Store != nil && s.o.Store.Streams() { // read by the handler as it stores it (stream.go)
		if err := s.budget.take(ctx, streamCost); err != nil {
			return none, err
		}
		ctx.SetUserValue(streamingKey, true)
		return func() { s.budget.sem.Release(streamCost) }, nil
	}
	var held int64
	release := func() {
		if held > 0 {
			s.budget.sem.Release(held)
			held = 0
		}
	}
	var body []byte
	if cl >= 0 {
		if r.budget && cl > 0 {
			n := s.budget.cost(cl)
			if err := s.budget.take(ctx, n); err != nil {
				return none, err
			}
			held = n
		}
		body = make([]byte, cl)
		if _, err := io.ReadFull(stream, body); err != nil {
			release()
			return none, badRequest("request body cut short: %v", err)
		}
	} else {
		// Chunked: the length is known only at the end, so the body is read in pieces, each
		// counted (and charged to the budget) as it arrives, and joined once complete. Pieces,
		// not one growing slice: growing by doubling would hold twice the limit.
		var parts [][]byte
		total := 0
		for {
			piece := make([]byte, budgetStep)
			n, err := io.ReadFull(stream, piece)
			if n > 0 {
				total += n
				if total > r.max {
					release()
					return none, tooLarge("request body too large: at most %d bytes on %s", r.max, ctx.Path())
				}
				if r.budget {
					if e := s.budget.take(ctx, min(int64(n)*handlingCopies, s.budget.size-held)); e != nil {
						release()
						return none, e
					}
					held += min(int64(n)*handlingCopies, s.budget.size-held)
				}
				parts = append(parts, piece[:n])
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			if err != nil {
				release()
				return none, badRequest("request body cut short: %v", err)
			}
		}
		if len(parts) == 1 {
			body = parts[0]
		} else {
			body = bytes.Join(parts, nil)
		}
	}
	ctx.Request.SetBodyRaw(body) // no copy; the handler's reads (PostBody, PostArgs) see it
	if err := s.countArgs(ctx); err != nil {
		release()
		return none, err
	}
	return release, nil
}

// countArgs refuses an urlencoded body with more fields than Limits.MaxArgs before fasthttp
// parses it: its parser allocates per pair, ~100 times the body for "a&a&a&…".
func (s *Server) countArgs(ctx *fasthttp.RequestCtx) error {
	if !bytes.HasPrefix(ctx.Request.Header.ContentType(), []byte("application/x-www-form-urlencoded")) {
		return nil
	}
	if n := bytes.Count(ctx.Request.Body(), []byte("&")) + 1; n > s.o.Limits.MaxArgs {
		return tooLarge("too many form fields: %d, at most %d", n, s.o.Limits.MaxArgs)
	}
	return nil
}
