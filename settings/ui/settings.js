// multimsg settings: the only script of the page — a backup file picked is read into the
// restore box (the form posts text: a CSRF-checked urlencoded form, no upload route).
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
