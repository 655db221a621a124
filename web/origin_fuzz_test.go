package web

import (
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// FuzzRequestHeaders: the header checks of issue 11 (the Host check, the device cookie, the
// login limiter's key) take anything without panicking, and never accept a forged cookie.
func FuzzRequestHeaders(f *testing.F) {
	for _, s := range []string{"127.0.0.1:8080", "[::1]:80", "evil.example", "localhost.", "[", ":", "", "x.y.z:99999"} {
		f.Add(s, "a.b", []byte{192, 0, 2, 1})
	}
	f.Add("gw.lan", "", []byte(net.ParseIP("2001:db8::1")))
	s := &Server{hosts: hostNames([]string{"gw.lan"}), adm: newAdminState(time.Now)}
	f.Fuzz(func(t *testing.T, host, cookie string, ip []byte) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetHost(host)
		_ = s.fromBrowser(&ctx)
		if s.adm.deviceKey([]byte(cookie)) != "" {
			t.Fatalf("forged device cookie %q accepted", cookie)
		}
		_ = limitKey(net.IP(ip))
	})
}
