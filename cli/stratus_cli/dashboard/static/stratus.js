// The dashboard's progressive enhancement, in plain JavaScript (no build step, no inline script: the pages'
// Content-Security-Policy allows only this file). Every page works without it.
"use strict";
(function () {
  // A form or button with data-confirm asks before it is sent (row actions: stop, delete, ...).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    var question = (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
