// Site-wide behaviour. No inline scripts anywhere (Content-Security-Policy: script-src 'self').
(function () {
  "use strict";
  // Confirmation prompts: <button data-confirm="Cancel this session?">
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = (button && button.dataset.confirm) || event.target.dataset.confirm;
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });
  // Countdowns: <span data-countdown-until="ISO-8601">; shows mm:ss left, then "now".
  function tick() {
    document.querySelectorAll("[data-countdown-until]").forEach(function (el) {
      var left = Math.round((Date.parse(el.dataset.countdownUntil) - Date.now()) / 1000);
      if (left <= 0) {
        el.textContent = el.dataset.countdownDone || "now";
        return;
      }
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = m + ":" + (s < 10 ? "0" : "") + s;
    });
  }
  tick();
  setInterval(tick, 1000);
  // Board refreshes must not count as activity for the idle timeout.
  document.body.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.triggeringEvent === undefined || event.detail.elt.dataset.idleRefresh !== undefined) {
      event.detail.headers["X-Idle-Refresh"] = "1";
    }
  });
})();
