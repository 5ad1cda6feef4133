// Live alerts: follows /alerts/stream (server-sent events) from the cursor the page was
// rendered at. EventSource reconnects by itself and sends the last event id it saw
// (Last-Event-ID), so a dropped connection resumes where it stopped. New alerts are built with
// textContent only: alert messages and identifiers are callers' strings, never HTML.
(function () {
  "use strict";
  var list = document.getElementById("alerts");
  var state = document.getElementById("live-state");
  var empty = document.getElementById("alerts-empty");
  if (!list || !window.EventSource) { return; }
  var KEEP = 100; // alerts kept on the page
  var seen = new Set(Array.prototype.map.call(list.children, function (li) { return li.dataset.id; }));

  function setState(text, name) {
    state.textContent = text;
    state.dataset.state = name;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function render(a) {
    var li = el("li", "alert sev-" + a.severity + " fresh");
    li.dataset.id = a.id;
    var head = el("div", "alert-head");
    head.appendChild(el("span", "sev", a.severity));
    var kind = a.kind.replace(/_/g, " ").toLowerCase() + (a.percent ? " " + a.percent + " %" : "");
    head.appendChild(el("span", "kind", kind));
    var who = el("a", "subj", a.subject);
    who.href = "/subject?" + new URLSearchParams({ scope: a.scope, id: a.identifier }).toString();
    head.appendChild(who);
    var time = el("time", "", a.time.slice(0, 19).replace("T", " ") + " UTC");
    time.dateTime = a.time;
    head.appendChild(time);
    li.appendChild(head);
    if (a.amounts) { li.appendChild(el("div", "amounts", a.amounts)); }
    if (a.message) { li.appendChild(el("div", "message", a.message)); }
    return li;
  }

  var params = new URLSearchParams();
  if (list.dataset.cursor) { params.set("cursor", list.dataset.cursor); }
  if (list.dataset.scope) {
    params.set("scope", list.dataset.scope);
    params.set("id", list.dataset.id);
  }
  var source = new EventSource("/alerts/stream?" + params.toString());
  source.onopen = function () { setState("live", "live"); };
  source.onerror = function () {
    if (source.readyState === EventSource.CLOSED) {
      setState("disconnected: reload the page (or log in again)", "closed");
    } else {
      setState("reconnecting…", "reconnecting");
    }
  };
  // The server tells the page to stop (rather than ending the stream, after which EventSource
  // would reconnect again and again) when the stream failed for a reason a retry won't fix.
  source.addEventListener("stop", function (event) {
    source.close();
    setState("stopped: " + event.data, "closed");
  });
  source.addEventListener("alert", function (event) {
    var a = JSON.parse(event.data);
    if (seen.has(a.id)) { return; }
    seen.add(a.id);
    list.insertBefore(render(a), list.firstChild);
    while (list.children.length > KEEP) { list.removeChild(list.lastChild); }
    if (empty) { empty.hidden = true; }
  });
})();
