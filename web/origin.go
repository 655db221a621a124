package web

import (
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/valyala/fasthttp"
)

// Nobody else's browser drives the box (issue 11, item 9).
//
// Device clients (curl, Python, firmware, `multimsg send`) send neither Origin nor
// Sec-Fetch-Site; a browser sends Origin on every cross-origin POST and Sec-Fetch-Site on every
// request. So a device route refuses a request that carries Origin, or Sec-Fetch-Site other than
// "none" (a URL typed by the user). Host must name this box: an IP literal, or one of its
// names; a page that rebinds its own DNS name to the box's address still sends its own name.

// hostNames are the names the box answers to on device routes, besides IP literals.
func hostNames(extra []string) map[string]bool {
	m := map[string]bool{"localhost": true}
	if h, err := os.Hostname(); err == nil && h != "" {
		h = strings.ToLower(h)
		m[h], m[h+".local"], m[h+".lan"] = true, true, true
	}
	for _, h := range extra {
		m[strings.ToLower(strings.TrimSuffix(h, "."))] = true
	}
	return m
}

// fromBrowser refuses a device-route request that a web page made, or that names another host.
func (s *Server) fromBrowser(ctx *fasthttp.RequestCtx) error {
	h := &ctx.Request.Header
	if o := h.Peek("Origin"); len(o) > 0 {
		return &reqError{status: http.StatusForbidden, msg: "requests from web pages are refused on device routes (Origin: " + clip(string(o)) + "); devices send no Origin"}
	}
	if site := h.Peek("Sec-Fetch-Site"); len(site) > 0 && string(site) != "none" {
		return &reqError{status: http.StatusForbidden, msg: "requests from web pages are refused on device routes (Sec-Fetch-Site: " + clip(string(site)) + ")"}
	}
	host := string(h.Host())
	if host == "" {
		return nil // HTTP/1.0 without Host: not a browser
	}
	name := host
	if n, _, err := net.SplitHostPort(host); err == nil {
		name = n
	}
	name = strings.TrimSuffix(strings.Trim(name, "[]"), ".")
	if net.ParseIP(name) != nil || s.hosts[strings.ToLower(name)] {
		return nil
	}
	return &reqError{status: http.StatusForbidden, msg: "Host " + clip(host) + " is not a name of this box; use its address or a name in host_names"}
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
