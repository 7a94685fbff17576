// orch web view: follows a run in progress. Vanilla JavaScript, no dependencies.
"use strict";
(function () {
  var POLL_MS = 1500;
  var OPEN_STATES = { pending: true, running: true, waiting: true };

  // The steps whose <details> the reader opened, so a refresh keeps them open.
  function openSteps(root) {
    var open = {};
    root.querySelectorAll("details[data-step]").forEach(function (el) {
      open[el.getAttribute("data-step")] = el.open;
    });
    return open;
  }

  function restore(root, open) {
    root.querySelectorAll("details[data-step]").forEach(function (el) {
      var name = el.getAttribute("data-step");
      if (Object.prototype.hasOwnProperty.call(open, name)) el.open = open[name];
    });
  }

  // Adds text to a step's log (for a source of live log lines).
  function appendLog(step, text) {
    var pre = document.querySelector('pre.log[data-log="' + CSS.escape(step) + '"]');
    if (!pre) return;
    var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.classList.remove("empty");
    pre.appendChild(document.createTextNode(text));
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }

  // Fetches the live part of the run page again; the whole page reloads once the run ends.
  function refresh(live) {
    return fetch(live.getAttribute("data-live-url"), {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
      cache: "no-store",
    }).then(function (response) {
      if (response.redirected || !response.ok) {
        window.location.reload();
        return null;
      }
      var state = response.headers.get("X-Orch-Run-State") || "";
      return response.text().then(function (html) {
        var open = openSteps(live);
        live.innerHTML = html;
        restore(live, open);
        live.setAttribute("data-state", state);
        if (!OPEN_STATES[state]) window.location.reload();
        return state;
      });
    });
  }

  function follow(live) {
    var timer = window.setInterval(function () {
      refresh(live).then(function (state) {
        if (!state || !OPEN_STATES[state]) window.clearInterval(timer);
      }, function () { /* a failed poll is retried at the next tick */ });
    }, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var live = document.getElementById("live");
    if (live && live.getAttribute("data-follow")) follow(live);
  });

  window.orch = { refresh: refresh, appendLog: appendLog, follow: follow };
})();
