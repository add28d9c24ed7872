// Scheduling pages. No inline scripts (Content-Security-Policy: script-src 'self').
(function () {
  "use strict";
  // "Saved escorts" buttons fill the ride-home form with that contact.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-escort-fill]");
    if (!button) {
      return;
    }
    var form = document.getElementById("transport-form");
    if (!form) {
      return;
    }
    var set = function (name, value) {
      var field = form.querySelector('[name="' + name + '"]');
      if (field) {
        field.value = value;
      }
    };
    set("kind", "escort");
    set("name", button.dataset.name || "");
    set("phone", button.dataset.phone || "");
    set("relationship", button.dataset.relationship || "");
    var name = form.querySelector('[name="name"]');
    if (name) {
      name.focus();
    }
  });
})();
