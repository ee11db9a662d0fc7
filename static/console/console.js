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

// Fields that only some choices of a form's strategy select use: a wrapper with
// data-strategies="cascade parallel" shows only while the select holds one of those
// values, so nothing typed into a field the chosen strategy ignores goes unseen.
function showChosenFields(form) {
  const select = form.querySelector("select[name=strategy]");
  if (select === null) {
    return;
  }
  for (const wrapper of form.querySelectorAll("[data-strategies]")) {
    wrapper.hidden = !wrapper.dataset.strategies.split(" ").includes(select.value);
  }
}
function showChosenFieldsIn(root) {
  for (const form of root.querySelectorAll("form")) {
    showChosenFields(form);
  }
}
document.addEventListener("change", (event) => {
  if (event.target.matches?.("select[name=strategy]") && event.target.form) {
    showChosenFields(event.target.form);
  }
});
document.addEventListener("DOMContentLoaded", () => showChosenFieldsIn(document));
document.addEventListener("htmx:afterSwap", (event) => showChosenFieldsIn(event.detail.elt));
