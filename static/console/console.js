// The console's own behaviour, kept out of the pages so that the Content-Security-Policy
// allows no inline script and htmx evaluates nothing (allowEval is off in base.html).
"use strict";

// Confirmations: a button or form with data-confirm="question" submits only once the
// question is answered OK.
document.addEventListener("submit", (event) => {
  const question = event.submitter?.dataset.confirm ?? event.target.dataset.confirm;
  if (question !== undefined && !window.confirm(question)) {
    event.preventDefault();
  }
});

// Live fragments poll fast while the tab is visible and slowly while it is hidden:
//   hx-trigger="every 2s, visibilitychange from:document" data-poll-hidden="30s"
// While hidden, a poll goes out only when the last one (of the fragment with that id) is
// that old; coming back to the tab polls at once. (htmx's own [filters] need eval.)
const lastPoll = new Map();
document.addEventListener("htmx:confirm", (event) => {
  const element = event.detail.elt;
  const hiddenEvery = element.dataset.pollHidden;
  if (hiddenEvery === undefined) {
    return;
  }
  const now = Date.now();
  if (document.visibilityState === "hidden") {
    const viaVisibility = event.detail.triggeringEvent?.type === "visibilitychange";
    const last = lastPoll.get(element.id) ?? 0;
    if (viaVisibility || now - last < htmx.parseInterval(hiddenEvery)) {
      event.preventDefault();
      return;
    }
  }
  lastPoll.set(element.id, now);
});
