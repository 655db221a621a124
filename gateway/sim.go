package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"multimsg/modem"
	"multimsg/provider"
	"multimsg/provider/sms"
	"multimsg/sim"
	"multimsg/store"
	"multimsg/web"

	"github.com/valyala/fasthttp"
)

// boxDevice owns the jobs the box makes for itself (the SIM's low-credit alert): they show in
// the admin's lists like any device's, and the retention rules apply to them alike.
const boxDevice = "box"

// simWatch builds the credit watch of [sim] (docs/SIM.md): the chosen modem is asked for the
// credit by USSD, and the alert is a job. Without a balance code it is off; without a modem it
// says so and stays off (a box whose modem is set up later).
func (g *Gateway) simWatch() error {
	c := g.cfg.SIM
	if c.BalanceUSSD == "" {
		return nil
	}
	d, err := g.modem(c.Sender)
	if err != nil {
		g.log.Warn("sim: the credit is not watched", "err", err)
		return nil
	}
	g.SIM, err = sim.New(sim.Options{
		Code: c.BalanceUSSD, Every: c.BalanceEvery.D(), FirstAfter: c.FirstCheck.D(), Low: c.LowBalance,
		Ask: func(ctx context.Context, code string) (string, error) {
			d, err := g.modem(c.Sender) // the modem now: a reload may have rebuilt it
			if err != nil {
				return "", err
			}
			u, err := d.Modem().USSD(ctx, code, 0)
			return u.Text, err
		},
		Alert: func(ctx context.Context, text string) error {
			return g.boxJob(ctx, c.Alert.Serv, c.Alert.Dest, "SIM credit low", text)
		},
		StateFile: filepath.Join(g.cfg.DataDir, "sim", "credit.json"),
		Log:       g.log,
	})
	if err != nil {
		return err
	}
	d.NotifyReady(g.SIM.Ready)
	return nil
}

// modem returns the named sms sender's driver, or the first one for "".
func (g *Gateway) modem(name string) (*sms.Driver, error) {
	svc, err := g.Reg.Service(sms.ServiceName)
	if err != nil {
		return nil, err
	}
	for _, s := range svc.Senders {
		if d, ok := s.Driver.(*sms.Driver); ok && (name == "" || s.Name == name) {
			return d, nil
		}
	}
	if name != "" {
		return nil, fmt.Errorf("no sms sender %q", name)
	}
	return nil, errors.New("no sms sender (modem) is configured")
}

// USSD sends a USSD code through the named modem ("" the first) and returns the network's
// answer (POST /admin/api/ussd).
func (g *Gateway) USSD(ctx context.Context, sender, code string) (modem.USSD, error) {
	d, err := g.modem(sender)
	if err != nil {
		return modem.USSD{}, err
	}
	return d.Modem().USSD(ctx, code, 0)
}

// boxJob queues a text from the box itself to dest through service serv, checked by the
// registry as /msg checks a device's job.
func (g *Gateway) boxJob(ctx context.Context, serv, dest, subject, text string) error {
	f := provider.File{Name: "text", Filename: "alert.txt", MIME: "text/plain; charset=utf-8", Type: "text", Data: []byte(text)}
	var info provider.Info
	if serv == "mail" {
		s, _ := json.Marshal(subject)
		info = provider.Info{"subject": s}
	}
	typed, svc, snd, err := g.Reg.Resolve(provider.Params{Service: serv, Dest: dest, Types: map[string]string{f.Name: f.Type}, Info: info}, []provider.File{f})
	if err != nil {
		return fmt.Errorf("the box's own message to %s %s: %w", serv, dest, err)
	}
	var raw json.RawMessage
	if len(info) > 0 {
		raw, _ = json.Marshal(info)
	}
	sender := snd.Name
	if svc.ShareLoad {
		sender = ""
	}
	t := typed[0]
	_, err = g.Store.Create(ctx, store.NewJob{Device: boxDevice, Via: "box",
		Files:  []store.NewFile{{Name: t.Name, Filename: t.Filename, MIME: t.MIME, Data: t.Data}},
		Params: &store.Params{Service: svc.Name, Sender: sender, Dest: dest, Info: raw, Types: []string{t.Type}}})
	return err
}

// ussdRoute is POST /admin/api/ussd (docs/SIM.md): {"code": "*100#"} (JSON, or a form field)
// answers {"text": "...", "status": 0}; the modem is the first sms sender unless "sender" names
// another. Admin only; the page's USSD box posts it with its CSRF token.
func (g *Gateway) ussdRoute() web.Route {
	return web.Route{Method: "POST", Path: "/admin/api/ussd", Auth: web.AuthAdminWrite, Body: web.BodyForm, JSON: true,
		Audit: "ussd", Handle: func(ctx *fasthttp.RequestCtx) error {
			var req struct {
				Code   string `json:"code"`
				Sender string `json:"sender"`
			}
			if strings.HasPrefix(string(ctx.Request.Header.ContentType()), "application/json") {
				if err := json.Unmarshal(ctx.PostBody(), &req); err != nil {
					return web.Errorf(http.StatusBadRequest, "body: %v; want {\"code\": \"*100#\"}", err)
				}
			} else {
				req.Code, req.Sender = string(ctx.PostArgs().Peek("code")), string(ctx.PostArgs().Peek("sender"))
			}
			if !modem.ValidUSSDCode(req.Code) {
				return web.Errorf(http.StatusBadRequest, "code %q is not a USSD code (digits, * and #, ending in #)", req.Code)
			}
			rctx, cancel := context.WithTimeout(context.Background(), modem.DefaultUSSDTimeout+10*time.Second)
			defer cancel()
			u, err := g.USSD(rctx, req.Sender, req.Code)
			g.log.Info("ussd: asked from the admin API", "ip", ctx.RemoteIP().String(), "code", req.Code, "err", err)
			if err != nil {
				return web.Errorf(ussdStatus(err), "ussd %s: %v", req.Code, err)
			}
			ctx.SetContentType("application/json")
			return json.NewEncoder(ctx).Encode(map[string]any{"text": u.Text, "status": u.Status})
		}}
}

// ussdStatus: what a failed USSD request answers.
func ussdStatus(err error) int {
	switch {
	case errors.Is(err, modem.ErrBadUSSD):
		return http.StatusBadRequest
	case errors.Is(err, modem.ErrUSSDTimeout):
		return http.StatusGatewayTimeout
	case errors.Is(err, modem.ErrUSSDUnsupported):
		return http.StatusBadGateway
	}
	return http.StatusServiceUnavailable // no modem, not ready, not registered
}

// simStatus is the credit for the page, the JSON and /metrics (nil: not watched).
func (g *Gateway) simStatus() func() sim.Status {
	if g.SIM == nil {
		return nil
	}
	return g.SIM.Status
}
