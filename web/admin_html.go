package web

import (
	"fmt"
	"github.com/valyala/fasthttp"
	"html"
	"strings"
)

// page builds HTML in a buffer. The admin pages are written with it instead of html/template:
// text/template's executor calls reflect.Value.MethodByName, which makes the linker keep every
// exported method of every type that reaches an interface — about 4 MB of the binary (fasthttp's
// file server, brotli, zstd) that nothing calls (issue 19, docs/DESIGN.md).
//
// Escaping is by construction: each method is named for the one HTML context it writes into
// and escapes for it, so a value from a device, a provider or a modem cannot reach markup
// unescaped:
//
//   - raw: markup. Its argument must be a string literal (TestRawTakesLiterals checks every
//     call in this package), never data.
//   - text: element content. html.EscapeString escapes < > & ' ", which is also what a quoted
//     attribute value needs, so printf's %s may sit in content or inside "…".
//   - attr: a whole attribute, name="value", the value escaped and always quoted.
//   - url: an attribute holding a URL: only relative, http(s) and mailto URLs pass; anything
//     else (javascript:, data:, vbscript:) becomes "about:invalid#blocked".
//   - printf: a literal format whose string arguments are escaped as text, its numbers written
//     as numbers; for the SVG charts and short runs of markup with values in them.
//
// There is no inline script or style on these pages (the CSP forbids them), so there is no
// script or CSS context to escape for.
type page struct{ b []byte }

// raw writes markup. Only string literals: TestRawTakesLiterals fails the build otherwise.
func (p *page) raw(markup string) { p.b = append(p.b, markup...) }

// text writes s as element content (or inside a quoted attribute value), escaped.
func (p *page) text(s string) { p.b = append(p.b, html.EscapeString(s)...) }

// attr writes ` name="value"`, the value escaped. name must be a literal attribute name.
func (p *page) attr(name, value string) {
	p.b = append(p.b, ' ')
	p.b = append(p.b, name...)
	p.b = append(p.b, `="`...)
	p.text(value)
	p.b = append(p.b, '"')
}

// url writes ` name="u"` for an attribute that holds a URL (href, src, action), refusing the
// schemes that run code or carry documents of their own.
func (p *page) url(name, u string) { p.attr(name, safeURL(u)) }

// printf writes a literal format with its arguments: strings (and anything not a number) are
// escaped as text, numbers written as they are.
func (p *page) printf(format string, args ...any) {
	for i, a := range args {
		switch a := a.(type) {
		case int, int64, int32, uint, uint64, uint32, float64, float32, bool:
		case string:
			args[i] = html.EscapeString(a)
		default:
			args[i] = html.EscapeString(fmt.Sprint(a))
		}
	}
	p.b = fmt.Appendf(p.b, format, args...)
}

// blockedURL replaces a URL whose scheme is not allowed (what html/template writes too).
const blockedURL = "about:invalid#blocked"

// safeURL passes relative URLs and the http, https and mailto schemes, and blocks the rest.
// The scheme is read as a browser would: ASCII control characters and spaces are stripped
// before it ("java\tscript:" is javascript:), letters compared without case.
func safeURL(u string) string {
	clean := strings.Map(func(r rune) rune {
		if r <= ' ' {
			return -1
		}
		return r
	}, u)
	i := strings.IndexAny(clean, ":/?#")
	if i < 0 || clean[i] != ':' {
		return u // no scheme: relative
	}
	switch strings.ToLower(clean[:i]) {
	case "http", "https", "mailto":
		return u
	}
	return blockedURL
}

// Page is the page writer for admin pages written outside web (the settings pages): the same
// escaping by construction, through exported names. Raw, Printf, Attr and URL take string
// literals as their first argument, as here (the caller's package tests it, as
// TestRawTakesLiterals does here).
type Page = page

// Raw writes markup: a string literal only.
func (p *page) Raw(markup string) { p.raw(markup) }

// Text writes s as element content (or inside a quoted attribute value), escaped.
func (p *page) Text(s string) { p.text(s) }

// Attr writes ` name="value"`, the value escaped; name a literal.
func (p *page) Attr(name, value string) { p.attr(name, value) }

// URL writes an attribute holding a URL, refusing schemes that run code.
func (p *page) URL(name, u string) { p.url(name, u) }

// Printf writes a literal format, its string arguments escaped as text.
func (p *page) Printf(format string, args ...any) { p.printf(format, args...) }

// Render answers an admin page built by write, with the admin pages' headers (CSP, no
// framing, no caching).
func Render(ctx *fasthttp.RequestCtx, status int, write func(*Page)) {
	p := page{b: make([]byte, 0, 16<<10)}
	write(&p)
	adminHeaders(ctx)
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(p.b)
}
