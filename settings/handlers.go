package settings

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/crypto/bcrypt"

	"multimsg/config"
	"multimsg/provider"
	"multimsg/provider/units"
	"multimsg/setting"
	"multimsg/web"
)

//go:embed ui/settings.css
var css []byte

//go:embed ui/settings.js
var js []byte

// Routes are the settings pages' entries in web's route table (docs/ADMIN.md, "Settings").
func (m *Manager) Routes() []web.Route {
	return []web.Route{
		{Method: "GET", Path: "/admin/settings", Auth: web.AuthSession, Handle: m.page},
		{Method: "POST", Path: "/admin/settings", Auth: web.AuthSessionCSRF, Body: web.BodyForm, Handle: m.save},
		{Method: "POST", Path: "/admin/settings/test", Auth: web.AuthSessionCSRF, Body: web.BodyForm, Handle: m.test},
		{Method: "POST", Path: "/admin/settings/devices", Auth: web.AuthSessionCSRF, Body: web.BodyForm, Handle: m.device},
		{Method: "POST", Path: "/admin/settings/probe", Auth: web.AuthSessionCSRF, Body: web.BodyForm, Handle: m.probe},
		{Method: "GET", Path: "/admin/settings/backup", Auth: web.AuthAdmin, Handle: m.backup},
		{Method: "POST", Path: "/admin/settings/backup", Auth: web.AuthSessionCSRF, Body: web.BodyForm, Handle: m.backup},
		{Method: "POST", Path: "/admin/settings/restore", Auth: web.AuthSessionCSRF, Body: web.BodyForm, Handle: m.restore},
		{Method: "POST", Path: "/admin/settings/restart", Auth: web.AuthSessionCSRF, Body: web.BodyForm, Handle: m.restart},
		{Method: "GET", Path: "/admin/settings/settings.css", Handle: asset("text/css; charset=utf-8", css)},
		{Method: "GET", Path: "/admin/settings/settings.js", Handle: asset("text/javascript; charset=utf-8", js)},
	}
}

func asset(ct string, b []byte) web.Handler {
	return func(ctx *fasthttp.RequestCtx) error {
		ctx.SetContentType(ct)
		ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
		ctx.Response.Header.Set("Cache-Control", "no-cache")
		ctx.SetBody(b)
		return nil
	}
}

func (m *Manager) newView(ctx *fasthttp.RequestCtx) *view {
	cfg := m.o.Gateway.Config()
	v := &view{CSRF: web.CSRFOf(ctx), Cfg: &cfg, Audit: m.audit.last(20), Ports: serialPorts(),
		Reg: m.o.Registry, Live: m.o.Gateway.Live, Tests: map[string]string{},
		Pending: m.Pending(), CanRestart: m.o.Restart != nil, Known: m.knownDevices()}
	for _, k := range v.Pending {
		if n := m.heldNote(k); n != "" {
			v.Held = append(v.Held, n)
		}
	}
	return v
}

func (m *Manager) page(ctx *fasthttp.RequestCtx) error {
	v := m.newView(ctx)
	if s := string(ctx.QueryArgs().Peek("saved")); s != "" {
		v.Notice = m.savedNotice()
	}
	web.Render(ctx, http.StatusOK, func(p *web.Page) { render(p, v) })
	return nil
}

// savedNotice says what the last change did.
func (m *Manager) savedNotice() string {
	es := m.audit.last(1)
	if len(es) == 0 {
		return ""
	}
	e := es[0]
	switch {
	case e.Err != "":
		return "Saved, but: " + e.Err
	case len(e.Keys) == 0:
		return "Nothing changed."
	case len(e.Restart) > 0:
		return "Saved and applied. These take effect at the next start (the Restart box below): " + strings.Join(e.Restart, ", ")
	}
	return "Saved and applied: " + strings.Join(e.Keys, ", ")
}

func who(ctx *fasthttp.RequestCtx) string { return "admin from " + ctx.RemoteIP().String() }

// formError is a form that could not be applied: errors by key, shown next to their fields.
type formError struct {
	section string
	errs    map[string]string
	top     string
}

func (e *formError) Error() string { return "settings not applied" }

// save applies one section's form: the posted fields over a copy of the running
// configuration; nothing is written or applied unless the whole result is valid.
func (m *Manager) save(ctx *fasthttp.RequestCtx) error {
	args := ctx.PostArgs()
	section := string(args.Peek("section"))
	cur := m.o.Gateway.Config()
	next, err := Copy(&cur)
	if err != nil {
		return err
	}
	raw := map[string]string{}
	errs := map[string]string{}
	switch {
	case section == "admin":
		m.password(args, &next, errs)
	case slices.ContainsFunc(boxSections, func(s boxSection) bool { return s.ID == section }):
		i := slices.IndexFunc(boxSections, func(s boxSection) bool { return s.ID == section })
		for _, k := range boxSections[i].Keys {
			if vals := args.PeekMulti(k); len(vals) > 0 {
				val := string(vals[len(vals)-1])
				raw[k] = val
				if err := setting.Set(&next, k, val); err != nil {
					errs[k] = message(err)
				}
			}
		}
	default:
		u := slices.IndexFunc(units.All(), func(u provider.Unit) bool { return u.Name == section })
		if u < 0 {
			return web.Errorf(http.StatusBadRequest, "no settings section %q", section)
		}
		serviceForm(args, units.All()[u], next.Service(section), raw, errs)
	}
	if len(errs) == 0 {
		_, err = m.Apply(next, who(ctx), "page")
		var se *setting.Error
		switch {
		case err == nil:
			ctx.Response.Header.Set("Location", "/admin/settings?saved="+section+"#"+section)
			ctx.SetStatusCode(http.StatusSeeOther)
			return nil
		case errors.As(err, &se) && se.Key != "":
			errs[se.Key] = se.Msg
		default:
			return m.fail(ctx, &formError{section: section, top: err.Error()}, raw)
		}
	}
	return m.fail(ctx, &formError{section: section, errs: errs}, raw)
}

// fail shows the page again with the values as typed and each error next to its field.
func (m *Manager) fail(ctx *fasthttp.RequestCtx, fe *formError, raw map[string]string) error {
	v := m.newView(ctx)
	v.Raw, v.Errs, v.Section, v.Top = raw, fe.errs, fe.section, fe.top
	if v.Top == "" {
		v.Top = "Not saved: correct the fields marked below; nothing was changed."
	}
	web.Render(ctx, http.StatusUnprocessableEntity, func(p *web.Page) { render(p, v) })
	return nil
}

func message(err error) string {
	var se *setting.Error
	if errors.As(err, &se) {
		return se.Msg
	}
	return err.Error()
}

// serviceForm sets a service's posted fields on svc: its common keys, its senders (an empty
// secret keeps the old value; the empty "add" fieldset is ignored), then removals.
func serviceForm(args *fasthttp.Args, u provider.Unit, svc provider.Settings, raw, errs map[string]string) {
	fs := setting.Fields(u.New())
	set := func(k, sub string, f setting.Field) {
		vals := args.PeekMulti(k)
		if len(vals) == 0 {
			return
		}
		val := string(vals[len(vals)-1])
		if f.Secret && val == "" {
			return // write-only: empty keeps it
		}
		if strings.TrimSpace(val) == "" && f.Default != "" {
			val = f.Default // a field emptied: its default, as in the file
		}
		if !f.Secret {
			raw[k] = val
		}
		if err := setting.Set(svc, sub, val); err != nil {
			errs[k] = message(err)
		}
	}
	for _, f := range fs {
		switch f.Kind {
		case setting.Table, setting.Map:
		case setting.Tables:
			n := count(svc, f.Key)
			for i := 0; i <= n && i < maxSenders; i++ {
				base := f.Key + "[" + itoa(i) + "]"
				if i == n && strings.TrimSpace(string(args.Peek(u.Name+"."+base+".name"))) == "" {
					break // the "add one" fieldset left empty
				}
				for _, sf := range f.Fields {
					if sf.Kind == setting.Table || sf.Kind == setting.Tables || sf.Kind == setting.Map {
						continue
					}
					set(u.Name+"."+base+"."+sf.Key, base+"."+sf.Key, sf)
				}
			}
		default:
			set(u.Name+"."+f.Key, f.Key, f)
		}
	}
	var removes []string
	for _, r := range args.PeekMulti("remove") {
		removes = append(removes, strings.TrimPrefix(string(r), u.Name+"."))
	}
	slices.Sort(removes)
	for i := len(removes) - 1; i >= 0; i-- { // highest index first: the others keep theirs
		if err := setting.Remove(svc, removes[i]); err != nil {
			errs[u.Name+"."+removes[i]] = message(err)
		}
	}
}

// minPassword is the shortest admin password the page takes.
const minPassword = 10

func (m *Manager) password(args *fasthttp.Args, next *config.Config, errs map[string]string) {
	pw, again := string(args.Peek("admin.password")), string(args.Peek("admin.confirm"))
	switch {
	case len(pw) < minPassword:
		errs["admin.password"] = fmt.Sprintf("at least %d characters", minPassword)
	case len(pw) > 72:
		errs["admin.password"] = "at most 72 bytes (bcrypt reads no more)"
	case pw != again:
		errs["admin.confirm"] = "the two passwords differ"
	default:
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
		if err != nil {
			errs["admin.password"] = err.Error()
			return
		}
		next.Admin.PasswordHash = string(h)
	}
}

// remedier is a driver's typed error that says what an admin can do about it (a modem's
// +CMS ERROR, Meta's error code).
type remedier interface{ Remedy() string }

// testText is the text of a test message.
const testText = "multimsg test message: this sender works."

// test sends a test message through a live sender's driver (Check, then Send) and shows the
// outcome: the relay's or Meta's answer, the modem's CMS error.
func (m *Manager) test(ctx *fasthttp.RequestCtx) error {
	args := ctx.PostArgs()
	service, sender := string(args.Peek("service")), string(args.Peek("sender"))
	dest := strings.TrimSpace(string(args.Peek("dest")))
	v := m.newView(ctx)
	v.Tests[service] = m.sendTest(ctx, service, sender, dest)
	m.o.Log.Info("settings: test message", "who", who(ctx), "service", service, "sender", sender, "outcome", v.Tests[service])
	web.Render(ctx, http.StatusOK, func(p *web.Page) { render(p, v) })
	return nil
}

func (m *Manager) sendTest(ctx context.Context, service, sender, dest string) string {
	svc, err := m.o.Registry.Service(service)
	if err != nil {
		return "Not sent: " + err.Error()
	}
	snd, err := svc.Sender(sender)
	if err != nil {
		return "Not sent: " + err.Error()
	}
	files := []provider.File{{Name: "text", Type: "text", MIME: "text/plain; charset=utf-8", Data: []byte(testText)}}
	if err := snd.Driver.Check(provider.Request{Dest: dest, Files: files}); err != nil {
		return "Not sent: " + err.Error()
	}
	// not derived from the request's cancellation: fasthttp reuses its RequestCtx (web/cost.go, take)
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.o.TestTimeout)
	defer cancel()
	start := time.Now()
	rc, err := snd.Driver.Send(tctx, provider.Delivery{JobID: "test-" + start.UTC().Format("20060102T150405Z"), Device: "admin",
		Service: service, Sender: snd.Name, Dest: dest, Files: files, Attempt: 1})
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		out := fmt.Sprintf("Failed after %s (%s): %v", took, provider.ClassOf(err), err)
		var r remedier
		if errors.As(err, &r) && r.Remedy() != "" {
			out += "\nWhat to do: " + r.Remedy()
		}
		return out
	}
	out := fmt.Sprintf("Sent through %s/%s to %s in %s.", service, snd.Name, dest, took)
	if rc.MessageID != "" {
		out += " Message id: " + rc.MessageID
	}
	return out
}

// backup downloads the configuration: without secrets (GET), or with them on an explicit
// choice (POST with secrets=1 from the page's form, which warns).
func (m *Manager) backup(ctx *fasthttp.RequestCtx) error {
	cur := m.o.Gateway.Config()
	with := ctx.IsPost() && string(ctx.PostArgs().Peek("secrets")) == "1"
	out := cur
	if !with {
		var err error
		if out, err = withoutSecrets(&cur); err != nil {
			return err
		}
	}
	b, err := encode(&out)
	if err != nil {
		return err
	}
	name := "multimsg.toml"
	if with {
		name = "multimsg-with-secrets.toml"
	}
	m.o.Log.Info("audit: configuration downloaded", "who", who(ctx), "secrets", with)
	ctx.Response.Header.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.SetContentType("application/toml; charset=utf-8")
	ctx.SetBody(b)
	return nil
}

// restore applies an uploaded backup: parsed and checked as the file is at start; secrets it
// leaves empty keep their current values.
func (m *Manager) restore(ctx *fasthttp.RequestCtx) error {
	text := string(ctx.PostArgs().Peek("toml"))
	raw := map[string]string{"toml": text}
	fe := &formError{section: "backup", errs: map[string]string{}}
	if strings.TrimSpace(text) == "" {
		fe.errs["toml"] = "paste a configuration, or pick its file"
		return m.fail(ctx, fe, raw)
	}
	next, err := config.Decode(text, "(restored)")
	if err != nil {
		fe.errs["toml"] = err.Error()
		return m.fail(ctx, fe, raw)
	}
	cur := m.o.Gateway.Config()
	keepSecrets(&next, &cur)
	if _, err := m.Apply(next, who(ctx), "restore"); err != nil {
		fe.errs["toml"] = err.Error()
		return m.fail(ctx, fe, raw)
	}
	ctx.Response.Header.Set("Location", "/admin/settings?saved=backup#audit")
	ctx.SetStatusCode(http.StatusSeeOther)
	return nil
}
