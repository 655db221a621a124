// multimsg admin page: refreshes the page's sections from /admin/api/status every few seconds
// and runs the admin actions (retry, cancel, pause, resume) without a reload. Everything is
// built with DOM calls and textContent: no HTML from data, no inline script (the page's CSP
// forbids both). The server renders the same page first (admin_render.go), so this script
// only keeps it current.
"use strict";
(function () {
  const REFRESH_MS = 5000;
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const MODEM_KEYS = ["present", "sim", "registered", "registration", "operator", "signal_dbm", "smsc", "model", "last_error"];

  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  }
  function s(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  function bytes(n) {
    if (n < 1024) return n + " B";
    let u = -1;
    do { n /= 1024; u++; } while (n >= 1024 && u < 4);
    return n.toFixed(1) + " " + "KMGTP"[u] + "iB";
  }
  function ago(t, now) {
    if (!t || t.startsWith("0001-")) return "never";
    const d = (now - Date.parse(t)) / 1000;
    if (d < 5) return "just now";
    if (d < 60) return Math.floor(d) + " s ago";
    if (d < 3600) return Math.floor(d / 60) + " min ago";
    if (d < 172800) return Math.floor(d / 3600) + " h ago";
    return Math.floor(d / 86400) + " days ago";
  }
  function pct(a, b) { return b > 0 ? Math.min(100, Math.floor(a * 100 / b)) : 0; }
  function actForm(action, fields, label, cls) {
    const f = h("form", { method: "post", action: "/admin/api/" + action, class: "act" },
      h("input", { type: "hidden", name: "csrf", value: csrf }));
    for (const [k, v] of Object.entries(fields)) f.append(h("input", { type: "hidden", name: k, value: v }));
    f.append(h("button", { type: "submit", class: cls, text: label }));
    return f;
  }

  function counts(st) {
    for (const b of document.querySelectorAll("#counts b[data-k]")) {
      const k = b.dataset.k;
      b.textContent = k === "queue_depth" ? st.queue_depth : (st.jobs[k] || 0);
    }
  }

  function chart(hours) {
    const w = 480, ht = 150, top = 8, bottom = 18;
    let peak = 1;
    for (const x of hours) peak = Math.max(peak, x.accepted, x.delivered, x.failed);
    const svg = s("svg", { class: "chart", viewBox: `0 0 ${w} ${ht}`, role: "img",
      "aria-label": "jobs accepted, delivered and failed per hour over the last 24 hours" });
    svg.append(s("line", { class: "axis", x1: 0, y1: ht - bottom, x2: w, y2: ht - bottom }));
    const p = s("text", { class: "peak", x: 2, y: top + 2 }); p.textContent = peak; svg.append(p);
    const slot = w / Math.max(hours.length, 1), plot = ht - bottom - top;
    hours.forEach((x, i) => {
      const x0 = i * slot, hour = new Date(x.start).getUTCHours();
      const g = s("g");
      const title = s("title");
      title.textContent = `${String(hour).padStart(2, "0")}:00 UTC: ${x.accepted} accepted, ${x.delivered} delivered, ${x.failed} failed`;
      g.append(title, s("rect", { class: "hit", x: x0, y: 0, width: slot, height: ht - bottom }));
      [x.accepted, x.delivered, x.failed].forEach((v, k) => {
        let bh = plot * v / peak;
        if (v > 0 && bh < 1.5) bh = 1.5;
        g.append(s("rect", { class: "s" + k, x: (x0 + slot * (0.1 + 0.27 * k)).toFixed(1),
          y: (ht - bottom - bh).toFixed(1), width: (slot * 0.25).toFixed(1), height: bh.toFixed(1) }));
      });
      svg.append(g);
      if (hour % 6 === 0 && i > 0 && i < hours.length - 1) {
        const t = s("text", { class: "tick", x: (x0 + slot / 2).toFixed(1), y: ht - 4 });
        t.textContent = String(hour).padStart(2, "0") + "h";
        svg.append(t);
      }
    });
    $("chart").replaceChildren(svg);
  }

  function truthy(v) {
    if (typeof v === "boolean") return v;
    if (typeof v === "number") return v !== 0;
    if (typeof v === "string") return !["", "0", "false", "no", "none", "absent", "missing", "not registered", "denied", "searching", "unknown"].includes(v.toLowerCase());
    return false;
  }
  function factText(v) {
    if (v === undefined || v === null || v === "") return "—";
    if (typeof v === "boolean") return v ? "yes" : "no";
    return String(v);
  }
  function signalBars(d) { return d >= -73 ? 4 : d >= -83 ? 3 : d >= -93 ? 2 : d >= -105 ? 1 : 0; }
  // The same rows as the template's modem block (admin_view.go, modemRows).
  function modem(sender, facts) {
    const dbm = typeof facts.signal_dbm === "number" ? facts.signal_dbm : parseFloat(facts.signal_dbm);
    const has = !Number.isNaN(dbm);
    const n = has && !("present" in facts && !truthy(facts.present)) ? signalBars(dbm) : 0;
    const bars = s("svg", { class: "bars", viewBox: "0 0 20 16", role: "img", "aria-label": n + " of 4 bars" });
    for (let i = 0; i < 4; i++) bars.append(s("rect", { class: i < n ? "on" : "off", x: i * 5, y: 12 - i * 4, width: 4, height: 4 + i * 4 }));
    // not present: the facts are the last known state, greyed (as the template does)
    const gone = "present" in facts && !truthy(facts.present);
    const ok = (b) => (gone ? "stale" : b ? "ok" : "bad");
    const rows = [["signal", has && !gone ? `${Math.round(dbm)} dBm (${n}/4)` : has ? `${Math.round(dbm)} dBm (last known)` : "unknown", gone ? "stale" : undefined]];
    if ("present" in facts) rows.push(["modem", gone ? "not present" : "present", gone ? "bad" : "ok"]);
    if ("sim" in facts) rows.push(["SIM", factText(facts.sim), ok(facts.sim === true || String(facts.sim).toLowerCase() === "ready")]);
    if ("registered" in facts) {
      rows.push(["registered", factText(facts.registered) + (facts.registration ? ` (${facts.registration})` : ""), ok(truthy(facts.registered))]);
    }
    for (const [k, label] of [["operator", "operator"], ["smsc", "SMSC"], ["model", "model"]]) {
      if (facts[k] !== undefined && facts[k] !== null && facts[k] !== "") rows.push([label, factText(facts[k])]);
    }
    const said = [sender.last_error, sender.problem, (sender.driver || {}).detail].join("\n");
    if (typeof facts.last_error === "string" && facts.last_error && !said.includes(facts.last_error)) rows.push(["last problem", facts.last_error, "bad"]);
    const dl = h("dl", {});
    for (const [label, value, cls] of rows) dl.append(h("dt", { text: label }), h("dd", { class: cls, text: value }));
    return h("div", { class: "modem" }, bars, dl);
  }

  function senders(st, now) {
    const out = st.senders.map((x) => {
      const state = x.paused ? "paused" : x.healthy ? "healthy" : "unhealthy";
      const dl = h("dl", {},
        h("dt", { text: "last success" }), h("dd", { title: x.last_ok || "", text: ago(x.last_ok, now) }),
        h("dt", { text: "last error" }),
        x.last_error ? h("dd", {}, h("span", { class: x.last_ok && Date.parse(x.last_ok) > Date.parse(x.last_error_at) ? "muted" : "err", text: x.last_error }), " ",
          h("span", { class: "muted", title: x.last_error_at || "", text: "(" + ago(x.last_error_at, now) + ")" }))
          : h("dd", { text: "none" }),
        x.problem ? h("dt", { text: "problem" }) : null, x.problem ? h("dd", { class: "err", text: x.problem }) : null,
        h("dt", { text: "sent / failed" }), h("dd", { text: x.sent + " / " + x.failures }));
      const drv = x.driver || {};
      const facts = drv.facts || {};
      const isModem = x.service === "sms" || Object.keys(facts).some((k) => MODEM_KEYS.includes(k) && k !== "last_error" && k !== "model");
      // a modem's detail is what its block shows
      if (drv.detail && drv.detail !== x.last_error && drv.detail !== x.problem && !isModem) dl.append(h("dt", { text: "driver" }), h("dd", { text: drv.detail }));
      for (const k of Object.keys(facts).sort()) {
        const v = facts[k];
        if ((isModem && MODEM_KEYS.includes(k)) || v === null || v === "" || String(v) === (x.last_error || "")) continue;
        dl.append(h("dt", { text: k }), h("dd", { text: factText(v) }));
      }

      return h("div", { class: "sender " + state },
        h("div", { class: "row" }, h("b", { text: x.service + " / " + x.name }), h("span", { class: "badge", text: state }),
          actForm(x.paused ? "resume" : "pause", { service: x.service, sender: x.name }, x.paused ? "Resume" : "Pause")),
        dl, isModem ? modem(x, facts) : null);
    });
    $("senders").replaceChildren(...(out.length ? out : [h("p", { class: "muted", text: "No sender configured." })]));
  }

  function recent(st, now) {
    const rows = st.recent.map((j) => h("tr", { "data-id": j.id, class: "st-" + j.state },
      h("td", { class: "c-id id", title: j.id, text: j.id.length > 10 ? j.id.slice(0, 4) + "…" + j.id.slice(-4) : j.id }),
      h("td", { class: "c-when", title: j.created, text: ago(j.created, now) }),
      h("td", { class: "c-dev" }, ...deviceCell(j.device_name, j.device), j.via === "mail" ? h("span", { class: "via", title: "arrived by e-mail (SMTP)", text: "via mail" }) : null),
      h("td", { class: "c-svc", text: (j.service || "") + (j.sender ? "/" + j.sender : "") }),
      h("td", { class: "c-dest", text: j.dest || "" }),
      h("td", { class: "c-state" }, h("span", { class: "state", text: j.state + (j.report ? " · " + j.report : "") + (j.archived ? " (archived)" : "") })),
      h("td", { class: "c-tries num", text: j.attempts }),
      h("td", { class: "c-err err", text: j.error || "" }),
      h("td", { class: "c-acts acts" },
        j.can_retry ? actForm("retry", { id: j.id }, "Retry") : null,
        j.can_cancel ? actForm("cancel", { id: j.id }, "Cancel", "danger") : null)));
    $("recent").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 9, class: "muted", text: "No jobs yet." }))]));
  }

  function inbound(st, now) {
    const rows = (st.inbound || []).map((m) => h("tr", { "data-id": m.id, class: "in-" + m.state },
      h("td", { class: "c-when", title: m.received, text: ago(m.received, now) }),
      h("td", { class: "mono", text: m.from }),
      h("td", { text: m.sender }),
      h("td", { text: m.state + (m.parts > 1 ? ` (${m.got}/${m.parts} parts)` : "") }),
      h("td", { text: m.rule || "" }),
      h("td", { class: "c-fwd", text: m.forwarding }),
      h("td", { class: "err", text: m.error || "" })));
    $("inbound").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 7, class: "muted", text: "No SMS received yet." }))]));
    $("inbound-total").textContent = st.inbound_total || 0;
  }

  // a device as the admin sees it: the admin's label (device_names) beside its MAC
  function deviceCell(name, mac) {
    return [name ? h("span", { class: "dname", text: name }) : null, name ? " " : null, h("span", { class: "mono", text: mac })];
  }

  function devices(st, now) {
    const rows = st.devices.map((d) => h("tr", d.refused ? { class: "refused" } : {},
      h("td", { class: "c-device" }, ...deviceCell(d.name, d.mac)), h("td", { class: "mono", text: d.ip }),
      h("td", { title: d.last_seen, text: ago(d.last_seen, now) }), h("td", { class: "num", text: d.jobs }),
      h("td", { class: "c-access", text: d.refused || "allowed" })));
    $("devices").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 5, class: "muted", text: "No device seen yet." }))]));
  }

  function box(st) {
    const q = (k) => document.querySelector(`#facts [data-k="${k}"]`);
    const p = pct(st.store.bytes, st.store.quota);
    q("store").textContent = `${bytes(st.store.bytes)} of ${bytes(st.store.quota)} (${p}%)`;
    q("store_meter").value = p;
    q("file").textContent = `${bytes(st.store.file_bytes)} (${bytes(st.store.in_use_bytes)} in use, ${bytes(st.store.free_in_file_bytes)} free)`;
    q("headroom").textContent = `${bytes(st.store.headroom_bytes)} (floor ${bytes(st.store.disk_floor_bytes)} kept free)`;
    q("disk").textContent = st.disk ? `${bytes(st.disk.free_bytes)} of ${bytes(st.disk.total_bytes)}` : "—";
    q("uptime").textContent = st.uptime;
    $("uptime").textContent = st.uptime;
  }

  function render(st) {
    const now = Date.parse(st.now);
    counts(st); chart(st.history); senders(st, now); recent(st, now); inbound(st, now); devices(st, now); box(st);
    $("chart-loading").hidden = !st.history_loading;
    document.body.dataset.updated = st.now;
  }

  let timer = null;
  async function refresh() {
    clearTimeout(timer);
    try {
      const r = await fetch("/admin/api/status", { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
      if (r.status === 401) { location.href = "/admin/login"; return; }
      if (!r.ok) throw new Error("status " + r.status);
      render(await r.json());
      $("live").classList.remove("stale");
      $("live").textContent = "live";
    } catch (e) {
      $("live").classList.add("stale");
      $("live").textContent = "offline — retrying";
    } finally {
      timer = setTimeout(refresh, REFRESH_MS);
    }
  }

  function toast(msg, bad) {
    const t = $("toast");
    t.textContent = msg;
    t.className = "toast" + (bad ? " error" : "");
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, 10000);
  }

  // Actions: the forms work without script (the server answers with a redirect); with it, they
  // post in the background and the page refreshes at once.
  document.addEventListener("submit", async (ev) => {
    const f = ev.target;
    if (!f.classList.contains("act")) return;
    ev.preventDefault();
    const btn = f.querySelector("button");
    if (btn) btn.disabled = true;
    try {
      const r = await fetch(f.action, {
        method: "POST", credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": csrf },
        body: new URLSearchParams(new FormData(f)),
      });
      const body = await r.json().catch(() => ({}));
      if (!r.ok) toast(body.error || ("failed: HTTP " + r.status), true);
      else toast(body.id ? `job ${body.id.slice(0, 8)}: ${body.state}` : `${body.service}/${body.sender}: ${body.state}`);
    } catch (e) {
      toast("action failed: " + e.message, true);
    }
    refresh();
  });

  timer = setTimeout(refresh, REFRESH_MS);
})();
