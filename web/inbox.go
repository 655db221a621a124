package web

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"multimsg/provider"
	"multimsg/store"
)

// Inbound SMS for LAN devices (GET /inbox) and the admin page, and the status-report detail of
// sent SMS (issue 13, docs/SMS.md). The store keeps the messages; package inbox stores and
// forwards them; this file only shows them.

// InboundView is one inbound message in GET /inbox and on the admin page.
type InboundView struct {
	ID       string    `json:"id"`
	From     string    `json:"from"` // masked on the admin page
	Sender   string    `json:"sender"`
	Sent     time.Time `json:"sent"`
	Received time.Time `json:"received"`
	State    string    `json:"state"` // complete, incomplete (parts missing after the wait), assembling
	Parts    int       `json:"parts"`
	Got      int       `json:"got"`
	Text     string    `json:"text"`
	Data     string    `json:"data,omitempty"` // 8-bit user data, base64
	// The forwarding: the rule that matched ("" none yet), its job and that job's state.
	Rule       string `json:"rule,omitempty"`
	Job        string `json:"job,omitempty"`
	Forwarding string `json:"forwarding"` // waiting, queued, delivered, partial, failed, none (no rule), refused (the service refused it), purged
	Error      string `json:"error,omitempty"`
}

const (
	inboxDefault = 50
	inboxMax     = 500
	adminInbound = 20
)

func (s *Server) inboundView(m *store.InMessage, full bool) InboundView {
	v := InboundView{ID: m.ID, From: m.From, Sender: m.Sender, Sent: m.Sent.UTC(), Received: m.Received.UTC(),
		State: string(m.State), Parts: m.Parts, Got: len(m.Got), Rule: m.Rule, Job: m.Job, Forwarding: "waiting"}
	if full {
		v.Text = m.Text()
		if d := m.Data(); len(d) > 0 {
			v.Data = base64.StdEncoding.EncodeToString(d)
		}
	} else {
		v.From = MaskDest(m.From)
	}
	switch {
	case m.Forwarded && m.Job == "" && m.Note != "":
		v.Forwarding, v.Error = "refused", m.Note
	case m.Forwarded && m.Job == "":
		v.Forwarding = "none"
	case m.Job != "":
		if j, err := s.o.Store.Get(m.Job); err == nil {
			v.Forwarding = string(j.State)
			for _, f := range j.Files {
				if f.LastError != "" {
					v.Error = f.LastError
				}
			}
			if j.State == store.Delivered {
				v.Error = ""
			}
		} else {
			v.Forwarding = "purged"
		}
	}
	if len(v.Error) > maxErrorLen {
		v.Error = v.Error[:maxErrorLen] + "…"
	}
	return v
}

// inbox answers GET /inbox?since=<id>&before=<id>&limit=<n>: inbound messages whose parts are
// all in (or whose wait ended), newest first, as JSON. since returns the messages newer than
// the id a device saw last; before pages back. Only devices named in sms.inbox.devices.
func (s *Server) inbox(ctx *fasthttp.RequestCtx) error {
	dev := DeviceOf(ctx).ID
	if !slices.Contains(s.o.InboxDevices, dev) && !slices.Contains(s.o.InboxDevices, "*") {
		return Errorf(http.StatusForbidden, "device %s may not read the inbox; an admin can add it to sms.inbox.devices", dev)
	}
	args := ctx.QueryArgs()
	q := store.InQuery{Since: string(args.Peek("since")), Before: string(args.Peek("before")), Limit: inboxDefault, Done: true}
	for _, c := range []string{q.Since, q.Before} {
		if c != "" && !store.ValidID(c) {
			return badRequest("since and before take a message id from an earlier answer")
		}
	}
	if l := args.Peek("limit"); l != nil {
		n, err := strconv.Atoi(string(l))
		if err != nil || n < 1 || n > inboxMax {
			return badRequest("limit must be a number from 1 to %d", inboxMax)
		}
		q.Limit = n
	}
	ms, err := s.o.Store.Inbox(q)
	if err != nil {
		return err
	}
	out := struct {
		Messages []InboundView `json:"messages"`
		More     bool          `json:"more"` // as many as limit: page on with before=<last id>
	}{Messages: make([]InboundView, len(ms)), More: len(ms) == q.Limit}
	for i := range ms {
		out.Messages[i] = s.inboundView(&ms[i], true)
	}
	ctx.Request.Header.Set("Accept", "application/json") // a new route: JSON whatever was asked
	reply(ctx, 200, "", out)
	return nil
}

// inboundStatus is the admin page's list: the newest messages, sender masked, text left out
// (the page shows metadata, not contents, as for jobs).
func (s *Server) inboundStatus() ([]InboundView, int64) {
	out := []InboundView{}
	ms, err := s.o.Store.Inbox(store.InQuery{Limit: adminInbound})
	if err != nil {
		s.log.Error("web: listing inbound messages", "err", err)
		return out, 0
	}
	for i := range ms {
		out = append(out, s.inboundView(&ms[i], false))
	}
	n, _ := s.o.Store.InCounts()
	return out, n
}

// reportOf is a file's status-report state for /cons and the page, with the failure's meaning.
func reportOf(f *store.File, now time.Time, wait time.Duration) (string, string) {
	st, p := f.Report(now, wait)
	if p != nil {
		return st, provider.ReportMeaning(p.Status) + " (part " + strconv.Itoa(slices.Index(f.Parts, *p)+1) + " of " + strconv.Itoa(len(f.Parts)) + ")"
	}
	return st, ""
}

// jobReport sums up the reports of a job's files for the page: the first failure, else the
// weakest state of any file.
func jobReport(j *store.Job, now time.Time, wait time.Duration) string {
	rank := map[string]int{store.ReportHandset: 1, store.ReportAccepted: 2, store.ReportUnconfirmed: 3}
	best := ""
	for i := range j.Files {
		st, why := reportOf(&j.Files[i], now, wait)
		if st == store.ReportFailed {
			return st + ": " + why
		}
		if rank[st] > rank[best] {
			best = st
		}
	}
	return best
}
