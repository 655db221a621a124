package web

// inboundCard lists the newest inbound SMS: when, from whom (masked), which modem, whether all
// parts came, the rule that matched and how its forwarding went. Never the text: the page
// shows metadata, as for jobs; devices allowed to read the inbox get the text at GET /inbox.
func inboundCard(p *page, d *pageData) {
	p.raw(`
<section class="card" id="inbound-card">
  <h2>Inbound SMS <span class="muted">(<span id="inbound-total">`)
	p.printf("%d", d.InboundTotal)
	p.raw(`</span> kept)</span></h2>
  <div class="scroll">
  <table>
    <thead><tr><th>received</th><th>from</th><th>modem</th><th>state</th><th>rule</th><th>forwarding</th><th>last error</th></tr></thead>
    <tbody id="inbound">
    `)
	for _, m := range d.Inbound {
		state := m.State
		if m.Parts > 1 {
			state += " (" + itoa(m.Got) + "/" + itoa(m.Parts) + " parts)"
		}
		p.printf(`<tr data-id="%s" class="in-%s"><td class="c-when" title="%s">%s</td><td class="mono">%s</td><td>%s</td><td>%s</td><td>%s</td><td class="c-fwd">%s</td><td class="err">%s</td></tr>
    `, m.ID, m.State, stamp(m.Received), ago(m.Received, d.Now), m.From, m.Sender, state, m.Rule, m.Forwarding, m.Error)
	}
	if len(d.Inbound) == 0 {
		p.raw(`<tr><td colspan="7" class="muted">No SMS received yet.</td></tr>`)
	}
	p.raw(`
    </tbody>
  </table>
  </div>
</section>
`)
}

// reportSuffix adds a file's status-report state to the state shown for its job.
func reportSuffix(r string) string {
	if r == "" {
		return ""
	}
	return " · " + r
}
