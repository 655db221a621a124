package web

import "strconv"

// simCard is the SIM panel (docs/SIM.md): the credit as the watch last read it, and a box to
// send a USSD code (balance, top-up codes are the operator's). sim.js refreshes the credit and
// posts the code to /admin/api/ussd. Shown only when the credit is watched.
func simCard(p *page, d *pageData) {
	c := d.SIM
	if c == nil {
		return
	}
	amount := "—"
	if c.Amount != nil {
		amount = strconv.FormatFloat(*c.Amount, 'f', -1, 64)
	}
	low := "off"
	if c.Low > 0 {
		low = "below " + strconv.FormatFloat(c.Low, 'f', -1, 64)
	}
	p.printf(`
<section class="card" id="sim">
  <h2>SIM</h2>
  <dl>
    <dt>credit</dt><dd><b data-k="sim_amount">%s</b> <span class="muted" data-k="sim_at">%s</span></dd>
    <dt>network said</dt><dd data-k="sim_answer">%s</dd>
    <dt>last error</dt><dd data-k="sim_error">%s</dd>
    <dt>alert</dt><dd><span data-k="sim_low">%s</span> · <span data-k="sim_alerts">%d</span> raised</dd>
    <dt>checks</dt><dd><span data-k="sim_checks">%d</span> (<span data-k="sim_unparsed">%d</span> without an amount, <span data-k="sim_failed">%d</span> failed) · code %s · next <span data-k="sim_next">%s</span></dd>
  </dl>
  <form method="post" action="/admin/api/ussd" id="ussd-form" class="ussd">`,
		amount, orDash(stamp(c.At)), orDash(c.Answer), orDash(c.Error), low, c.Alerts, c.Checks, c.Unparsed, c.Failed, c.Code, orDash(stamp(c.NextCheck)))
	csrfField(p, d.CSRF)
	p.raw(`
    <label>USSD code <input name="code" inputmode="tel" pattern="[0-9*#]{1,160}" required placeholder="*100#" autocomplete="off"></label>
    <button type="submit">Send</button>
  </form>
  <p id="ussd-answer" class="ussd-answer" role="status" aria-live="polite" hidden></p>
</section>
`)
}
