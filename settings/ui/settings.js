// multimsg settings: the only script of the page — a backup file picked is read into the
// restore box (the form posts text: a CSRF-checked urlencoded form, no upload route); a
// sender's "Probe this modem" posts the probe form with what its fieldset holds.
"use strict";
(function () {
  var box = document.getElementById("restore-toml");
  var pick = document.getElementById("restore-file");
  if (!box || !pick) return;
  pick.hidden = false;
  pick.addEventListener("change", function () {
    var f = pick.files && pick.files[0];
    if (!f) return;
    if (f.size > 262144) { box.value = ""; alert("That file is larger than a configuration can be (256 KiB)."); return; }
    f.text().then(function (t) { box.value = t; });
  });
})();
// "Probe this modem" in an SMS sender's fieldset posts the probe form with that fieldset's
// device, baud and PIN as typed (before they are saved): the form's own fields, so the server
// sees one probe form whatever the way in.
(function () {
  var form = document.getElementById("probe");
  if (!form) return;
  var buttons = document.querySelectorAll("button.probe-this");
  Array.prototype.forEach.call(buttons, function (b) {
    b.hidden = false;
    b.addEventListener("click", function () {
      var base = b.getAttribute("data-base");
      var val = function (k) { var e = document.getElementsByName(base + "." + k)[0]; return e ? e.value.trim() : ""; };
      if (!val("device")) { alert("Type the modem's serial device first."); return; }
      form.elements.sender.value = "";
      form.elements.device.value = val("device");
      form.elements.baud.value = val("baud");
      form.elements.pin.value = val("pin");
      // the fieldset's other values ride along, so the page comes back with them as typed
      Array.prototype.forEach.call(b.closest("fieldset").querySelectorAll("input[name], select[name], textarea[name]"), function (e) {
        if (e.type === "password" || (e.type === "checkbox" && !e.checked)) return;
        var h = document.createElement("input");
        h.type = "hidden"; h.name = e.name; h.value = e.value;
        form.appendChild(h);
      });
      form.submit();
    });
  });
})();
