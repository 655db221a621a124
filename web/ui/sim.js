// multimsg admin page, SIM panel (docs/SIM.md): keeps the credit current from
// /admin/api/status and sends the USSD box's code to /admin/api/ussd, showing the network's
// answer. textContent only: the answer is the network's text, never markup.
"use strict";
(function () {
  const card = document.getElementById("sim");
  if (!card) return;
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const q = (k) => card.querySelector(`[data-k="${k}"]`);
  const dash = (v) => (v === undefined || v === null || v === "" || String(v).startsWith("0001-")) ? "—" : String(v);
  const when = (v) => dash(v) === "—" ? "—" : new Date(v).toISOString().slice(0, 19) + "Z"; // as the server renders it

  async function refresh() {
    try {
      const r = await fetch("/admin/api/status", { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
      if (!r.ok) return;
      const c = (await r.json()).sim;
      if (!c) return;
      q("sim_amount").textContent = c.amount === undefined ? "—" : String(c.amount);
      q("sim_at").textContent = when(c.at);
      q("sim_answer").textContent = dash(c.answer);
      q("sim_error").textContent = dash(c.error);
      q("sim_low").textContent = c.low ? "below " + c.low : "off";
      q("sim_alerts").textContent = c.alerts;
      q("sim_checks").textContent = c.checks;
      q("sim_unparsed").textContent = c.unparsed;
      q("sim_failed").textContent = c.failed;
      q("sim_next").textContent = when(c.next_check);
    } catch (e) { /* the main refresh shows the connection state */ }
  }

  const form = document.getElementById("ussd-form");
  const out = document.getElementById("ussd-answer");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const btn = form.querySelector("button");
    btn.disabled = true;
    out.hidden = false;
    out.classList.remove("err");
    out.textContent = "asking the network…";
    try {
      const r = await fetch(form.action, {
        method: "POST", credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ code: form.elements.code.value.trim() }),
      });
      const body = await r.json().catch(() => ({}));
      if (r.ok) out.textContent = body.text || "(the network sent no text)";
      else { out.textContent = body.error || ("failed: HTTP " + r.status); out.classList.add("err"); }
    } catch (e) {
      out.textContent = "failed: " + e.message;
      out.classList.add("err");
    }
    btn.disabled = false;
    refresh();
  });
  form.dataset.ready = "1"; // the box posts through this script from now on (tests wait for it)
  setInterval(refresh, 30000);
})();
