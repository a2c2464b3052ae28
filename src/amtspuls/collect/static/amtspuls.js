/* amtspuls tracker: no cookies, no storage, no fingerprinting; form fields by name only.
   Attributes: data-site, data-respect-dnt, data-search-param (q), data-downloads. */
(function (w, d) {
  var s = d.currentScript, n = navigator, l = w.location;
  if (!s) return;
  function opt(k, v) { var x = s.getAttribute('data-' + k); return x == null ? v : x; }
  if (opt('respect-dnt', 0) !== 0 && (n.doNotTrack == '1' || w.doNotTrack == '1' || n.globalPrivacyControl)) return;
  var api = new URL(s.src).origin + '/api/collect', site = opt('site', l.hostname),
    qp = opt('search-param', 'q'),
    exts = opt('downloads', 'pdf,doc,docx,odt,rtf,xls,xlsx,ods,csv,ppt,pptx,zip,ics,vcf,epub').split(','),
    cur, ref = d.referrer || null, vis = 0, t0 = 0, clicks = [], started = [], last = {};

  function send(o) {
    o.site = site;
    o.url = o.url || l.href;
    var b = JSON.stringify(o);
    try { if (n.sendBeacon && n.sendBeacon(api, b)) return; } catch (e) {}
    try { fetch(api, { method: 'POST', body: b, keepalive: true, credentials: 'omit', mode: 'no-cors' }); } catch (e) {}
  }

  // engagement: time the page was visible, sent when it is hidden or left
  function running() { t0 = d.visibilityState == 'visible' ? Date.now() : 0; }
  function engaged() {
    if (t0) vis += Date.now() - t0;
    t0 = 0;
    if (vis > 0 && cur) send({ type: 'engagement', url: cur, engagement_ms: vis });
    vis = 0;
  }
  d.addEventListener('visibilitychange', function () { d.visibilityState == 'hidden' ? engaged() : running(); });
  w.addEventListener('pagehide', engaged);

  function has404(e) { return e && e.hasAttribute('data-amtspuls-404'); }
  function page() {
    if (cur == l.href) return;
    if (cur) { engaged(); running(); }
    var o = { type: 'pageview', referrer: ref, title: d.title }, q = new URL(l.href).searchParams.get(qp), r;
    if (has404(d.documentElement) || has404(d.body)) o.type = 'not_found';
    else if (q) {
      o.type = 'search';
      o.query = q;
      r = d.querySelector('[data-amtspuls-results]');
      r = r && parseInt(r.getAttribute('data-amtspuls-results'), 10);
      if (r >= 0) o.results = r;
    }
    cur = l.href;
    send(o);
    ref = cur;
  }

  // clicks: downloads, outbound links, rage clicks (3 within 1 s within 30 px)
  function desc(e) {
    return e.tagName.toLowerCase() + (e.id ? '#' + e.id : e.getAttribute('name') ? '[name=' + e.getAttribute('name') + ']' : '');
  }
  function click(e) {
    var t = e.target, a = t.closest && t.closest('a[href]'), u, m, now = Date.now();
    if (e.type == 'click') {
      clicks = clicks.filter(function (c) { return now - c[0] < 1000 && Math.abs(c[1] - e.clientX) < 30 && Math.abs(c[2] - e.clientY) < 30; });
      if (clicks.push([now, e.clientX, e.clientY]) == 3) send({ type: 'rage_click', name: desc(t) });
    }
    if (!a) return;
    try { u = new URL(a.href); } catch (x) { return; }
    if (!/^https?:$/.test(u.protocol)) return;
    m = /\.([a-z0-9]+)$/i.exec(u.pathname);
    if (a.hasAttribute('download') || m && exts.indexOf(m[1].toLowerCase()) >= 0) send({ type: 'download', target: a.href });
    else if (u.host != l.host) send({ type: 'outlink', target: a.href });
  }
  d.addEventListener('click', click, true);
  d.addEventListener('auxclick', click, true);

  // forms: start, submit, validation errors; a field is named, its value never read
  function form(e) { var f = e.form || e.closest && e.closest('form'); return f && (f.getAttribute('name') || f.getAttribute('id') || f.getAttribute('action') || l.pathname); }
  function field(e) { return e.getAttribute('name') || e.getAttribute('id'); }
  function start(e) {
    var f = form(e.target);
    if (f && started.indexOf(f) < 0) { started.push(f); send({ type: 'form_start', form: f, field: field(e.target) }); }
  }
  function fail(e) {
    var k = form(e) + '|' + field(e), now = Date.now();
    if (now - (last[k] || 0) < 500) return;
    last[k] = now;
    send({ type: 'form_error', form: form(e), field: field(e) });
  }
  d.addEventListener('input', start, true);
  d.addEventListener('change', start, true);
  d.addEventListener('submit', function (e) {
    var f = form(e.target);
    started.splice(started.indexOf(f) >>> 0, 1);
    send({ type: 'form_submit', form: f });
  }, true);
  d.addEventListener('invalid', function (e) { fail(e.target); }, true);
  if (w.MutationObserver) new MutationObserver(function (ms) {
    ms.forEach(function (m) { if (m.target.getAttribute('aria-invalid') == 'true') fail(m.target); });
  }).observe(d.documentElement, { subtree: true, attributes: true, attributeFilter: ['aria-invalid'] });

  // pages, including navigation through the history API
  var push = history.pushState;
  history.pushState = function () { push.apply(this, arguments); page(); };
  w.addEventListener('popstate', page);
  running();
  page();
})(window, document);
