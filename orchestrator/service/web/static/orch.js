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

  function logOf(step) {
    return document.querySelector('pre.log[data-log="' + CSS.escape(step) + '"]');
  }

  // Adds text to a step's log (for a source of live log lines).
  function appendLog(step, text) {
    var pre = logOf(step);
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

  function poll(live) {
    var timer = window.setInterval(function () {
      refresh(live).then(function (state) {
        if (!state || !OPEN_STATES[state]) window.clearInterval(timer);
      }, function () { /* a failed poll is retried at the next tick */ });
    }, POLL_MS);
  }

  // A log event carries the byte range of the step's log it holds; each <pre> knows how many
  // bytes it shows (data-size). Text already shown is skipped; a gap means the page missed
  // some: false, and the caller fetches the live part again.
  function addLog(event) {
    var pre = logOf(event.step);
    if (!pre) return false;
    var have = parseInt(pre.getAttribute("data-size") || "0", 10);
    if (event.end <= have) return true;
    if (event.offset > have) return false;
    var text = event.text;
    if (event.offset < have) {
      var bytes = new TextEncoder().encode(text).slice(have - event.offset);
      text = new TextDecoder().decode(bytes);
    }
    appendLog(event.step, text);
    pre.setAttribute("data-size", String(event.end));
    return true;
  }

  // Server-sent events: log lines are appended as they come; a change of state fetches the
  // live part again (the page reloads once the run ended). Without them: polling.
  function stream(live) {
    var source = new EventSource(live.getAttribute("data-events-url"));
    var ended = false;
    var due = null;
    function soon() {
      if (due !== null) return;
      due = window.setTimeout(function () {
        due = null;
        refresh(live).then(null, function () { /* the next event tries again */ });
      }, 100);
    }
    source.addEventListener("log", function (message) {
      if (!addLog(JSON.parse(message.data))) soon();
    });
    source.addEventListener("step", soon);
    source.addEventListener("state", soon);
    source.addEventListener("end", function () {
      ended = true;
      source.close();
      soon();
    });
    source.onerror = function () {
      if (ended) return;
      source.close();
      poll(live);
    };
  }

  function follow(live) {
    if (window.EventSource && live.getAttribute("data-events-url")) stream(live);
    else poll(live);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var live = document.getElementById("live");
    if (live && live.getAttribute("data-follow")) follow(live);
  });

  window.orch = { refresh: refresh, appendLog: appendLog, addLog: addLog, follow: follow };
})();
