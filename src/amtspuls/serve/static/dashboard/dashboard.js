// amtspuls dashboard: progressive enhancement only. Every page works without this file;
// with it, the overview's live figures follow Server-Sent Events. Text is set with
// textContent (never as HTML), so nothing received can run as markup or script.
(function () {
  "use strict";
  var section = document.querySelector("section.live[data-live-url]");
  if (!section || !window.EventSource) { return; }
  var lang = document.documentElement.lang || "de";
  var number = new Intl.NumberFormat(lang === "de" ? "de-DE" : "en-GB");

  function setFigure(key, value) {
    var el = document.querySelector('[data-live="' + key + '"]');
    if (el) { el.textContent = number.format(value); el.setAttribute("data-value", String(value)); }
  }

  function cell(tag, kind, key, value, text) {
    var el = document.createElement(tag);
    el.className = kind;
    el.setAttribute("data-key", key);
    el.setAttribute("data-value", value === null || value === undefined ? "" : String(value));
    if (tag === "th") { el.setAttribute("scope", "row"); }
    if (kind === "code" && text !== "–") {
      var code = document.createElement("code");
      code.textContent = text;
      el.appendChild(code);
    } else {
      el.textContent = text;
    }
    return el;
  }

  function fill(tableId, rows, label, count) {
    var table = document.getElementById(tableId);
    if (!table) { return; }
    var body = table.tBodies[0];
    var fresh = document.createElement("tbody");
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      var fmt = function (v) { return v === null || v === undefined ? "–" : number.format(v); };
      tr.appendChild(cell("th", label === "path" ? "code" : "text", label, r[label], String(r[label])));
      tr.appendChild(cell("td", "int", count, r[count], fmt(r[count])));
      tr.appendChild(cell("td", "int", "visitors", r.visitors, fmt(r.visitors)));
      fresh.appendChild(tr);
    });
    if (!rows.length) {
      var tr = document.createElement("tr");
      var td = document.createElement("td");
      td.colSpan = 3; td.className = "empty";
      td.textContent = body.querySelector("td.empty") ? body.querySelector("td.empty").textContent : "–";
      tr.appendChild(td); fresh.appendChild(tr);
    }
    table.replaceChild(fresh, body);
  }

  var source = new EventSource(section.getAttribute("data-live-url"));
  source.addEventListener("live", function (event) {
    var data;
    try { data = JSON.parse(event.data); } catch (e) { return; }
    setFigure("visitors_5min", data.visitors_5min);
    setFigure("visitors_30min", data.visitors_30min);
    fill("t-live-pages", data.top_pages || [], "path", "pageviews");
    fill("t-live-searches", data.top_searches || [], "query", "searches");
    document.body.setAttribute("data-live-updated", String(Date.now()));
  });
})();
