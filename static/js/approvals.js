// The approvals queue's swap rules (a file, not hx-on attributes: the
// Content-Security-Policy allows no inline script and no eval).
// - beforeSwap: errors (400, 403, 409) carry the queue fragment too, with the
//   message; let htmx swap them.
// - oobBeforeSwap: while a decision is in flight, skip the live body the
//   websocket sends: it would detach the submitting form, and htmx could then
//   no longer place the response's badge. The response itself brings the
//   whole queue as it is after the decision.
"use strict";
document.addEventListener("htmx:beforeSwap", function (event) {
  if (!event.target.closest || !event.target.closest("#approvals-queue")) return;
  if ([400, 403, 409].includes(event.detail.xhr.status)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
document.addEventListener("htmx:oobBeforeSwap", function (event) {
  var target = event.detail.target;
  if (target && target.id === "approvals-body" && target.querySelector(".htmx-request")) {
    event.detail.shouldSwap = false;
  }
});
