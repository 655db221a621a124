package web

import (
	"bytes"
	"io"

	"github.com/valyala/fasthttp"
)

// Streamed request bodies.
//
// The server runs with fasthttp's StreamRequestBody, so a handler may read a large body as a
// stream (the firmware upload: hundreds of MiB that must never sit in memory). fasthttp then
// reads at most 8 KiB of a body before the handler runs. Every route that is not in streamed
// gets its body buffered here first, under the server's limit, exactly as before streaming:
// those handlers keep calling PostBody and parsing forms as they did.

// streamed reports whether path reads its own body (declares its own limit and streaming).
func streamed(ctx *fasthttp.RequestCtx) bool {
	return string(ctx.Path()) == updatePath && ctx.IsPost()
}

// bufferBody reads the body of a non-streamed route into memory, refusing (413) one over the
// server's limit from its Content-Length before reading it, or once the limit is passed for a
// chunked body. It reports whether the handler may run; when not, it has answered.
func (s *Server) bufferBody(ctx *fasthttp.RequestCtx) bool {
	if !ctx.Request.IsBodyStream() {
		return true
	}
	limit := s.srv.MaxRequestBodySize
	cl := ctx.Request.Header.ContentLength()
	if cl > limit {
		ctx.SetConnectionClose() // the unread body must not be taken for the next request
		s.transportError(ctx, fasthttp.ErrBodyTooLarge)
		return false
	}
	if cl >= 0 {
		// A known length within the limit: read exactly that, once, into a slice the request
		// then owns. (fasthttp's own Body() would turn a read error, a client that stalls
		// mid-body, into the body's text instead of an error.)
		b := make([]byte, cl)
		if _, err := io.ReadFull(ctx.RequestBodyStream(), b); err != nil {
			ctx.SetConnectionClose()
			s.transportError(ctx, err)
			return false
		}
		ctx.Request.SetBodyRaw(b)
		return true
	}
	// Chunked: read up to the limit, and one byte more to tell "over" from "at".
	var b bytes.Buffer
	n, err := b.ReadFrom(io.LimitReader(ctx.RequestBodyStream(), int64(limit)+1))
	if err == nil && n > int64(limit) {
		err = fasthttp.ErrBodyTooLarge
	}
	if err != nil {
		ctx.SetConnectionClose()
		s.transportError(ctx, err)
		return false
	}
	ctx.Request.SetBody(b.Bytes())
	return true
}
