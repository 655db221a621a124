// The Update panel of the admin page (docs/UPDATE.md): firmware version and slots, a bundle
// upload with progress, RAUC's progress and result, the reboot button. Self-contained: it
// fills <section id="update-card"> from GET /admin/api/update and needs nothing else of the
// page but its CSRF meta tag.
(function () {
  "use strict";
  const card = document.getElementById("update-card");
  if (!card) return;
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const body = card.querySelector("#update");
  let uploading = false, rebooting = false, timer = 0, last = null;

  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") el.className = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (v !== false && v !== null && v !== undefined) el.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids) if (k !== null && k !== undefined && k !== false) el.append(k);
    return el;
  }
  function schedule(ms) { clearTimeout(timer); timer = setTimeout(refresh, ms); }
  function note(text, cls) { const p = body.querySelector(".up-note"); if (p) { p.textContent = text; p.className = "up-note " + (cls || ""); } }

  async function refresh() {
    if (rebooting) return;
    try {
      const r = await fetch("/admin/api/update", { headers: { Accept: "application/json" }, credentials: "same-origin" });
      const st = await r.json();
      if (!r.ok && !st.reason) st.reason = st.error || ("HTTP " + r.status);
      last = st;
      if (!uploading) render(st);
      schedule(st.operation === "installing" ? 1000 : 5000);
    } catch (e) {
      schedule(5000);
    }
  }

  function slotRows(st) {
    return st.slots.map((s) => h("tr", { class: s.state === "booted" ? "booted" : "" },
      h("td", { "data-label": "slot" }, s.bootname + (s.state === "booted" ? " (running)" : "")),
      h("td", { "data-label": "version" }, s.version || "—"),
      h("td", { "data-label": "boot" }, h("span", { class: "pill " + (s.boot_status === "good" ? "ok" : "bad") }, s.boot_status || "?")),
      h("td", { "data-label": "next" }, st.primary === s.bootname ? "boots next" : "")));
  }

  function render(st) {
    card.hidden = false;
    body.replaceChildren();
    body.append(h("p", { class: "up-version" }, "Running ", h("b", {}, st.version || "?"),
      st.available && st.booted ? " from slot " + st.booted : ""));
    if (!st.available) {
      body.append(h("p", { class: "muted up-unavail" }, "Firmware updates are not available on this system: " + (st.reason || "RAUC is not running") + "."));
      return;
    }
    if (st.fallback) body.append(h("p", { class: "up-banner bad", role: "alert" }, st.fallback + "."));
    if (st.slots && st.slots.length) {
      body.append(h("table", { class: "up-slots" },
        h("thead", {}, h("tr", {}, h("th", {}, "Slot"), h("th", {}, "Version"), h("th", {}, "Boot"), h("th", {}, ""))),
        h("tbody", {}, ...slotRows(st))));
    }
    const installing = st.operation === "installing";
    if (installing) {
      body.append(h("div", { class: "up-progress" },
        h("progress", { max: "100", value: String(st.progress || 0) }),
        h("span", {}, (st.installing ? st.installing + ": " : "") + (st.message || "installing") + " (" + (st.progress || 0) + " %)")));
    } else if (st.last_error) {
      body.append(h("p", { class: "up-banner bad" }, "Last update failed: " + st.last_error));
    } else if (st.last_result) {
      body.append(h("p", { class: "up-banner ok" }, st.last_result[0].toUpperCase() + st.last_result.slice(1) + "."));
    }
    const file = h("input", { type: "file", id: "up-file", accept: ".raucb", disabled: installing || undefined });
    const go = h("button", { type: "submit", disabled: installing || undefined }, "Install");
    body.append(h("form", { class: "up-form", onsubmit: (e) => { e.preventDefault(); upload(file.files[0]); } },
      h("label", { for: "up-file" }, "Bundle (.raucb)"), file, go));
    body.append(h("p", { class: "up-note" }));
    body.append(h("div", { class: "up-actions" },
      h("button", { type: "button", class: "danger", id: "up-reboot", disabled: installing || undefined, onclick: reboot }, "Reboot")));
  }

  function upload(f) {
    if (!f) { note("Choose a bundle file first.", "bad"); return; }
    uploading = true;
    const bar = h("progress", { max: "100", value: "0" });
    const label = h("span", {}, "Uploading " + f.name + "…");
    body.querySelector(".up-form").replaceWith(h("div", { class: "up-progress" }, bar, label));
    const x = new XMLHttpRequest();
    x.open("POST", "/admin/api/update");
    x.setRequestHeader("Content-Type", "application/octet-stream");
    x.setRequestHeader("X-CSRF-Token", csrf);
    x.setRequestHeader("Accept", "application/json");
    x.upload.onprogress = (e) => {
      if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); label.textContent = "Uploading " + f.name + ": " + bar.value + " %"; }
    };
    x.onload = () => {
      uploading = false;
      let msg = "";
      try { const j = JSON.parse(x.responseText); msg = j.error || ("Installing " + (j.version || "") + "…"); } catch (e) { msg = "HTTP " + x.status; }
      refresh().then(() => note(x.status === 202 ? msg : "Refused: " + msg, x.status === 202 ? "ok" : "bad"));
    };
    x.onerror = () => { uploading = false; refresh().then(() => note("The upload was interrupted.", "bad")); };
    x.send(f);
  }

  async function reboot() {
    if (!confirm("Reboot the box now? Messages wait in the store and are sent after the restart.")) return;
    const r = await fetch("/admin/api/reboot", { method: "POST", credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": csrf } });
    const j = await r.json().catch(() => ({}));
    if (r.status !== 202) { note("Reboot refused: " + (j.error || r.status), "bad"); return; }
    rebooting = true;
    clearTimeout(timer);
    body.replaceChildren(h("p", { class: "up-banner ok", role: "status" }, "Rebooting… this page reloads when the box answers again."));
    const t0 = Date.now();
    const wait = async () => {
      try {
        const ok = await fetch("/healthz", { cache: "no-store" });
        if (ok.ok && Date.now() - t0 > 10000) { location.reload(); return; }
      } catch (e) { /* down: rebooting */ }
      setTimeout(wait, 2000);
    };
    setTimeout(wait, 5000);
  }

  refresh();
})();
