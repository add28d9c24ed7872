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
// After a refused action the page opens the step, and the form's address (#step) names it: the
// window lands on the refusal itself (the reasons or the first field in error), wherever the
// step's other parts put it; a form without a step (the outcome scores) lands on its first error.
(function () {
  "use strict";
  var selector = "[data-refused], .is-invalid, .invalid-feedback";
  var step = window.location.hash ? document.getElementById(window.location.hash.slice(1)) : null;
  var refused = (step && step.querySelector(selector)) || document.querySelector("main " + selector.split(", ").join(", main "));
  if (refused) {
    var details = refused.closest("details");
    if (details) {
      details.open = true;
    }
    var land = function () { refused.scrollIntoView({ block: "center", behavior: "instant" }); };
    land();
    // The browser's own jump to #step comes after this script: land again once it has happened.
    window.addEventListener("load", function () { setTimeout(land, 0); });
  }
})();
