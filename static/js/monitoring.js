// Session day. No inline scripts (Content-Security-Policy: script-src 'self').
(function () {
  "use strict";
  // IV ketamine: show weight x mg/kg as the nurse types; the server computes the stored total.
  var weight = document.getElementById("id_weight_kg");
  var perKg = document.getElementById("id_mg_per_kg");
  var total = document.getElementById("iv-total");
  function update() {
    var w = parseFloat(weight.value), d = parseFloat(perKg.value);
    total.textContent = (w > 0 && d > 0) ? (Math.round(w * d * 10) / 10) + " mg" : "–";
  }
  if (weight && perKg && total) {
    weight.addEventListener("input", update);
    perKg.addEventListener("input", update);
    update();
  }
})();
