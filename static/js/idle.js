// The idle sign-out, announced: on a page with a form, a minute before the idle limit signs the
// user out (SESSION_IDLE_MINUTES, given by <body data-idle-seconds>), a warning counts down and
// offers to stay signed in, so what a nurse is typing is not lost. Typing does not reach the
// server; a request does. No inline scripts (Content-Security-Policy: script-src 'self').
(function () {
  "use strict";
  var body = document.body;
  var idle = parseInt(body.dataset.idleSeconds || "", 10);
  var keepAlive = body.dataset.keepAlive;
  var forms = document.querySelectorAll("main form[method='post'], main form[method='POST']");
  if (!(idle > 60) || !keepAlive || forms.length === 0) {
    return;
  }
  var WARN_BEFORE = 60;
  var timer = null;
  var banner = null;

  function hide() {
    if (banner) {
      banner.remove();
      banner = null;
    }
  }

  function show() {
    hide();
    banner = document.createElement("div");
    banner.className = "alert alert-warning idle-warning d-flex flex-wrap align-items-center gap-2";
    banner.setAttribute("role", "alertdialog");
    banner.setAttribute("aria-live", "assertive");
    var text = document.createElement("span");
    text.append("You will be signed out for inactivity in ");
    var left = document.createElement("strong");
    left.dataset.countdownUntil = new Date(Date.now() + WARN_BEFORE * 1000).toISOString();
    left.dataset.countdownDone = "now";
    left.textContent = "1:00";
    text.append(left, ". Save what you are typing, or stay signed in.");
    var stay = document.createElement("button");
    stay.type = "button";
    stay.className = "btn btn-primary";
    stay.textContent = "Stay signed in";
    stay.addEventListener("click", function () {
      // Any request of the user counts as activity; the sign-in page only redirects a signed-in user.
      fetch(keepAlive, { credentials: "same-origin", redirect: "manual" }).then(hide).then(arm);
    });
    banner.append(text, stay);
    body.append(banner);
    stay.focus();
  }

  function arm() {
    clearTimeout(timer);
    timer = setTimeout(show, (idle - WARN_BEFORE) * 1000);
  }

  arm();
})();
