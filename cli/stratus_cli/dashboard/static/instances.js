// The instances table keeps itself current while servers change (a build walking its task states, a stop,
// a reboot): every few seconds it fetches its own tbody again (/dashboard/instances/rows with the page's
// filter, sort and page) and swaps it in, until no row is changing. Plain JavaScript, no inline script; the
// page works without it (its Refresh link).
"use strict";
(function () {
  var INTERVAL_MS = 3000;
  var timer = null;

  function rows() {
    return document.getElementById("instance-rows");
  }

  function changing() {
    var body = rows();
    return body !== null && body.getAttribute("data-transitional") === "true";
  }

  function schedule() {
    if (timer === null && changing()) {
      timer = window.setTimeout(poll, INTERVAL_MS);
    }
  }

  function swap(html) {
    var current = rows();
    // the fragment is a tbody: parsed inside a table, taken as a node (never run, never inserted as markup)
    var parsed = new DOMParser().parseFromString("<table>" + html + "</table>", "text/html");
    var fresh = parsed.getElementById("instance-rows");
    if (current === null || fresh === null) {
      return;
    }
    // a row whose actions menu is open keeps it open after the swap
    var open = current.querySelector("details[open]");
    var openRow = open ? open.closest("tr").id : null;
    var adopted = document.importNode(fresh, true);
    current.replaceWith(adopted);
    if (openRow) {
      var again = document.getElementById(openRow);
      var menu = again ? again.querySelector("details") : null;
      if (menu) {
        menu.open = true;
      }
    }
  }

  function poll() {
    timer = null;
    var body = rows();
    if (body === null) {
      return;
    }
    if (document.hidden) {  // nobody is looking: look again later
      schedule();
      return;
    }
    fetch(body.getAttribute("data-rows-url"), {credentials: "same-origin", cache: "no-store",
                                                headers: {"Accept": "text/html"}})
      .then(function (response) {
        // a redirect is the login page: the session ended; stop, the Refresh link still works
        if (!response.ok || response.redirected) {
          throw new Error("instances: the rows answered " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        swap(html);
        schedule();
      })
      .catch(function () { /* stopped: the page stays as it is */ });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", schedule);
  } else {
    schedule();
  }
})();
