(function () {
  'use strict';
  // The tests come from servers under test: everything is set with textContent, never parsed as markup.
  var D = JSON.parse(document.getElementById('mes-data').textContent);
  var L = D.labels;
  var BATCH = 100;
  var PRINTED_LINES = 60;
  var list = document.getElementById('test-list');
  var sentinel = document.getElementById('sentinel');
  var state = {verdicts: new Set(), component: '', level: '', q: ''};
  var shown = [];
  var rendered = 0;
  var bodyBytes = null;  // every body's UTF-8 bytes end to end, once decompressed
  var bodyStarts = [0];
  var bodiesProblem = null;
  var pendingBodies = [];

  // A server's bidi override (U+202E…) would reorder the evidence around it: written out, as pytest_mes/printable.py
  // writes it (the JSON keeps the text as it came).
  var BIDI = /[\u202A-\u202E\u2066-\u2069]/g;
  function writtenOut(text) {
    return String(text).replace(BIDI, function (c) { return '\\u' + c.charCodeAt(0).toString(16); });
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = writtenOut(text);
    return e;
  }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) if (arguments[i] !== null && arguments[i] !== undefined) parent.append(arguments[i]);
    return parent;
  }
  function anchor(text, url) {
    if (!/^https?:\/\//i.test(url || '')) return el('span', null, text);
    var a = el('a', null, text);
    a.href = url;
    a.rel = 'noreferrer';
    return a;
  }
  function badge(v) { return el('span', 'badge v-' + v, L[v] || v); }
  function ms(n) {
    if (typeof n !== 'number') return '';
    return n < 1000 ? n.toFixed(0) + ' ms' : (n / 1000).toFixed(2) + ' s';
  }
  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (m, k) { return values[k] === undefined ? m : values[k]; });
  }

  // --- filters -------------------------------------------------------------------------------------------
  function searchText(t) {
    if (t._s === undefined) {
      var refs = (t.requirements || []).map(function (r) { return r.ref; }).join(' ');
      t._s = [t.id, t.title, t.nodeid, t.reason, t.component, t.actor, t.level, refs].join(' ').toLowerCase();
    }
    return t._s;
  }
  function matches(t) {
    if (state.verdicts.size && !state.verdicts.has(t.verdict)) return false;
    if (state.component && t.component !== state.component) return false;
    if (state.level && t.level !== state.level) return false;
    if (!state.q) return true;
    var text = searchText(t);
    return state.q.split(/\s+/).every(function (term) { return text.indexOf(term) >= 0; });
  }
  function applyFilters() {
    shown = D.tests.filter(matches);
    rendered = 0;
    list.replaceChildren();
    if (!shown.length) list.append(el('p', 'muted', L.no_tests));
    renderMore();
    document.getElementById('shown-count').textContent = shown.length + ' / ' + D.tests.length + ' ' + L.shown;
  }
  function renderMore(upTo) {
    var end = Math.min(shown.length, Math.max(rendered + BATCH, upTo || 0));
    var frag = document.createDocumentFragment();
    for (; rendered < end; rendered++) frag.append(row(shown[rendered]));
    list.append(frag);
    if (observer) { observer.unobserve(sentinel); observer.observe(sentinel); }
  }
  var observer = 'IntersectionObserver' in window ? new IntersectionObserver(function (entries) {
    if (entries[entries.length - 1].isIntersecting && rendered < shown.length) renderMore();
  }, {rootMargin: '1200px'}) : null;

  function readHash() {
    var params = {};
    location.hash.replace(/^#/, '').split('&').forEach(function (part) {
      var i = part.indexOf('=');
      try {
        if (i > 0) params[decodeURIComponent(part.slice(0, i))] = decodeURIComponent(part.slice(i + 1));
      } catch (e) { /* a mangled link (a lone "%"): that filter is ignored, the page still opens */ }
    });
    return params;
  }
  function writeHash() {
    var parts = [];
    if (state.verdicts.size) parts.push('verdict=' + Array.from(state.verdicts).join(','));
    if (state.component) parts.push('component=' + encodeURIComponent(state.component));
    if (state.level) parts.push('level=' + encodeURIComponent(state.level));
    if (state.q) parts.push('q=' + encodeURIComponent(state.q));
    history.replaceState(null, '', parts.length ? '#' + parts.join('&') : location.pathname + location.search);
  }
  function setState(params) {
    state.verdicts = new Set((params.verdict || '').split(',').filter(Boolean));
    state.component = params.component || '';
    state.level = params.level || '';
    state.q = (params.q || '').trim().toLowerCase();
    document.querySelectorAll('input[name=verdict]').forEach(function (box) { box.checked = state.verdicts.has(box.value); });
    document.getElementById('f-component').value = state.component;
    document.getElementById('f-level').value = state.level;
    document.getElementById('f-search').value = params.q || '';
  }
  function fromControls() {
    state.verdicts = new Set(Array.from(document.querySelectorAll('input[name=verdict]:checked')).map(function (b) { return b.value; }));
    state.component = document.getElementById('f-component').value;
    state.level = document.getElementById('f-level').value;
    state.q = document.getElementById('f-search').value.trim().toLowerCase();
    applyFilters();
    writeHash();
  }
  function options(select, values) {
    add(select, el('option', null, L.all));
    select.lastChild.value = '';
    values.forEach(function (v) { var o = el('option', null, v); o.value = v; select.append(o); });
  }
  function unique(key, order) {
    var seen = Array.from(new Set(D.tests.map(function (t) { return t[key]; }).filter(Boolean)));
    return seen.sort(function (a, b) { return order ? order.indexOf(a) - order.indexOf(b) : a < b ? -1 : a > b ? 1 : 0; });
  }

  // --- a test --------------------------------------------------------------------------------------------
  // A test or an exchange is one line until opened: its body is built once, the first time it is opened.
  function lazyDetails(cls, fill) {
    var d = el('details', cls);
    var filled = false;
    d._fill = function () { if (!filled) { filled = true; fill(); } };
    d.addEventListener('toggle', function () { if (d.open) d._fill(); });
    return d;
  }
  function row(t) {
    var d = lazyDetails('test', function () { build(d, t); });
    d.dataset.verdict = t.verdict;
    d.dataset.id = t.id;
    var s = add(el('summary'), badge(t.verdict), el('span', 'tid', t.id), el('span', 'ttitle', t.title),
      el('span', 'muted', [t.component, t.actor, t.level].filter(Boolean).join(' · ')), el('span', 'muted', ms(t.duration_ms)));
    if (t.reason) s.append(el('span', 'reason', t.reason));
    d.append(s);
    return d;
  }
  function build(d, t) {
    var body = el('div', 'tbody');
    var reqs = el('ul', 'reqs');
    (t.requirements || []).forEach(function (r) {
      add(reqs, add(el('li'), anchor(r.ref, r.url), ' ', el('strong', null, r.level || ''),
        r.transaction ? ' · ' + r.transaction : null, r.text ? add(el('div', 'muted'), r.text) : null));
    });
    add(body, add(el('p'), el('strong', null, L.verdict + L.colon), badge(t.verdict), t.reason ? ' ' + t.reason : null),
      (t.requirements || []).length ? add(el('div'), el('strong', null, L.requirement), reqs) : null,
      el('p', 'muted', (t.nodeid || '') + (t.file ? ' — ' + t.file + (t.line ? ':' + t.line : '') : '')));
    if (t.waiver) {
      add(body, add(el('div', 'waiver-box'), el('strong', null, L.waiver + L.colon), t.waiver.justification || '',
        el('div', 'muted', [t.waiver.author, t.waiver.expires ? L.expires + ' ' + t.waiver.expires : ''].filter(Boolean).join(' · '))));
    }
    if ((t.notes || []).length) add(body, el('h4', null, L.notes), el('pre', null, t.notes.join('\n')));
    var names = Object.keys(t.variables || {});
    if (names.length) {
      add(body, add(el('details'), el('summary', null, L.variables + ' (' + names.length + ')'),
        el('pre', null, names.map(function (n) { return n + ' = ' + t.variables[n]; }).join('\n'))));
    }
    if ((t.steps || []).length) {
      body.append(el('h4', null, L.steps));
      t.steps.forEach(function (s) { body.append(step(s, d)); });
    }
    if ((t.exchanges || []).length) {
      var cap = t.exchanges[0].body_cap;
      add(body, add(el('h4', null, L.exchanges + ' '), cap ? el('span', 'muted', '(' + fmt(L.body_cap, {cap: cap}) + ')') : null));
      var nodes = {};
      t.exchanges.forEach(function (e) { nodes[e.id] = body.appendChild(exchange(e)); });
      // The evidence of what went wrong is shown at once: the exchanges of the steps that did not pass.
      (t.steps || []).forEach(function (s) { if (s.outcome !== 'passed' && nodes[s.exchange]) openDetails(nodes[s.exchange]); });
    }
    d.append(body);
  }
  function step(s, d) {
    var box = add(el('div', 'step'), add(el('div'), el('strong', null, (L['phase.' + s.phase] || s.phase || '') + ' · ' + (s.name || '')),
      ' ', el('span', 'o-' + s.outcome, L['check.' + s.outcome] || s.outcome), s.line ? el('span', 'muted', ' (l. ' + s.line + ')') : null));
    if (s.error) box.append(el('pre', null, s.error));
    if ((s.source || []).length) {
      var yaml = add(el('details'), el('summary', 'muted', L.yaml), el('pre', null, s.source.map(function (line) {
        return String(line[0]).padStart(5) + ' | ' + line[1];
      }).join('\n')));
      yaml.open = s.outcome !== 'passed';
      box.append(yaml);
    }
    (s.checks || []).forEach(function (c) {
      var line = add(el('div', 'check'), el('span', 'o-' + c.outcome, '● ' + (L['check.' + c.outcome] || c.outcome)), ' ',
        el('code', null, c.label || c.kind), c.line ? el('span', 'muted', ' (l. ' + c.line + ')') : null);
      if (c.outcome !== 'passed') {  // a met check is one line; one that was not says what and why
        add(line, el('div', null, L.expected + L.colon + (c.expected === null || c.expected === undefined ? '' : c.expected)),
          el('div', null, L.actual + L.colon + (c.actual === null || c.actual === undefined ? '' : c.actual)),
          c.because ? el('div', 'muted', L.because + L.colon + c.because) : null, c.detail ? el('pre', null, c.detail) : null);
      }
      if ((c.items || []).length) {
        line.append(el('div', null, L.items + L.colon + c.items.map(function (i) { return '[' + i.index + ']' + (i.id ? ' ' + i.id : ''); }).join(', ')));
      }
      (c.issues || []).forEach(function (i) { line.append(issue(i, s.exchange, d)); });
      box.append(line);
    });
    return box;
  }
  function issue(i, exchangeId, d) {
    var box = add(el('div', 'issue'), el('span', 'sev-' + i.severity, (L['severity.' + i.severity] || i.severity || '').toUpperCase()), ' ', i.message || '',
      i.message_id ? el('span', 'muted', ' [' + i.message_id + ']') : null);
    add(box, add(el('div'), el('code', null, i.expression || ''), i.count > 1 ? ' × ' + i.count + ' ' + L.occurrences : null,
      i.profile ? add(el('span', 'muted'), ' · ' + L.profile + ' ', anchor(i.profile, i.profile)) : null,
      i.source ? el('span', 'muted', ' · ' + L.source + ' ' + i.source) : null));
    if ((i.locations || []).length > 1) {
      var more = add(el('details'), el('summary', 'muted', L.locations + ' (' + i.locations.length + ')'));
      more.append(el('pre', null, i.locations.join('\n')));
      box.append(more);
    }
    if (exchangeId) {
      var a = el('a', 'to-exchange', '→ ' + L.exchange + ' ' + exchangeId);
      a.href = '#';
      a.addEventListener('click', function (ev) { ev.preventDefault(); revealExchange(d, exchangeId); });
      box.append(a);
    }
    return box;
  }
  function exchange(e) {
    var x = lazyDetails('exchange', function () { buildExchange(x, e); });
    x.dataset.ex = e.id;
    var status = e.status !== null && e.status !== undefined ? e.status + ' ' + (e.reason || '') : L.no_answer;
    x.append(el('summary', null, e.id + ' · ' + e.method + ' ' + e.url + ' → ' + status + ' · ' + ms(e.elapsed_ms)));
    return x;
  }
  function buildExchange(x, e) {
    if (e.error) x.append(add(el('p', 'alert'), e.error));
    add(x, el('h5', null, L.request), headers(e.request_headers), bodyBlock(e.request_body),
      el('h5', null, L.response + (e.started_at ? ' · ' + e.started_at : '') + ' · ' + L.elapsed + ' ' + ms(e.elapsed_ms)),
      headers(e.response_headers), bodyBlock(e.response_body));
    if (e.body_truncated) x.append(el('p', 'alert', fmt(L.truncated, {cap: e.body_cap, size: e.response_size})));
    if ((e.redirects || []).length) add(x, el('h5', null, L.redirects), el('pre', null, e.redirects.map(String).join('\n')));
    if ((e.notes || []).length) add(x, el('h5', null, L.notes), el('pre', null, e.notes.map(String).join('\n')));
  }
  function headers(map) {
    var names = Object.keys(map || {});
    return names.length ? el('pre', 'headers', names.map(function (n) { return n + ': ' + map[n]; }).join('\n')) : null;
  }
  function bodyBlock(ref) {
    if (ref === null || ref === undefined) return el('p', 'muted', L.no_body);
    var box = add(el('div'), el('pre', 'body', bodiesProblem || L.loading));
    if (bodyBytes) fillBody(box, bodyText(ref)); else if (!bodiesProblem) pendingBodies.push([box, ref]);
    return box;
  }
  function fillBody(box, text) {
    box.firstChild.textContent = writtenOut(text);
    var lines = text.split('\n').length;
    if (lines > PRINTED_LINES) {  // on paper a body is cut, and says so; the screen shows it whole
      box.firstChild.classList.add('long');
      box.append(el('p', 'print-only muted', fmt(L.print_cut, {n: PRINTED_LINES, total: lines})));
    }
  }
  function openDetails(d) {
    d._fill();
    d.open = true;
  }
  function bringIntoView(node) {
    var top = node.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight - 80) node.scrollIntoView({block: 'start'});
  }
  function revealExchange(d, id) {
    var target = Array.from(d.querySelectorAll('details.exchange')).filter(function (x) { return x.dataset.ex === id; })[0];
    if (!target) return;
    openDetails(target);
    bringIntoView(target);
    target.classList.add('flash');
    setTimeout(function () { target.classList.remove('flash'); }, 1500);
  }
  function revealTest(id) {
    var at = shown.findIndex(function (t) { return t.id === id; });
    if (at < 0) { setState({}); applyFilters(); at = shown.findIndex(function (t) { return t.id === id; }); }
    if (at < 0) return;
    renderMore(at + 1);
    var d = list.children[at];
    openDetails(d);
    bringIntoView(d);
  }
  // Printing opens every test shown (and with it the exchanges of the steps that failed); the other exchanges
  // stay one line each — method, URL, status, time — so that a PDF of 1,000 tests stays readable.
  function expandAll() {
    renderMore(shown.length);
    list.querySelectorAll('details.test').forEach(openDetails);
  }

  // --- exchange bodies: one gzip block, decompressed after the list is drawn, decoded one by one when shown ----
  function bodyText(ref) {
    return new TextDecoder('utf-8').decode(bodyBytes.subarray(bodyStarts[ref], bodyStarts[ref + 1]));
  }
  function loadBodies() {
    var node = document.getElementById('mes-bodies');
    var finish = function (bytes, problem) {
      bodyBytes = bytes;
      bodiesProblem = problem;
      pendingBodies.forEach(function (p) {
        if (bytes) fillBody(p[0], bodyText(p[1])); else p[0].firstChild.textContent = problem;
      });
      pendingBodies = [];
      document.documentElement.setAttribute('data-bodies-ready', performance.now().toFixed(1));
    };
    D.body_lengths.forEach(function (n, i) { bodyStarts.push(bodyStarts[i] + n); });
    if (!node || typeof DecompressionStream === 'undefined') { finish(null, L.bodies_unavailable); return; }
    var binary = atob(node.textContent.trim());
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer()
      .then(function (buffer) { finish(new Uint8Array(buffer), null); })
      .catch(function () { finish(null, L.bodies_unavailable); });
  }

  // --- start ---------------------------------------------------------------------------------------------
  D.verdicts.forEach(function (v) {
    var n = D.tests.filter(function (t) { return t.verdict === v; }).length;
    var span = document.querySelector('[data-count="' + v + '"]');
    if (span) span.textContent = String(n);
  });
  options(document.getElementById('f-component'), unique('component'));
  options(document.getElementById('f-level'), unique('level', ['SHALL', 'SHOULD', 'MAY']));
  document.querySelectorAll('input[name=verdict], #f-component, #f-level').forEach(function (c) { c.addEventListener('change', fromControls); });
  var typing = null;
  document.getElementById('f-search').addEventListener('input', function () { clearTimeout(typing); typing = setTimeout(fromControls, 150); });
  document.getElementById('expand-all').addEventListener('click', expandAll);
  window.addEventListener('beforeprint', expandAll);
  function followHash() {
    var params = readHash();
    setState(params);
    applyFilters();
    if (params.test) revealTest(params.test);
  }
  window.addEventListener('hashchange', followHash);
  followHash();
  document.documentElement.setAttribute('data-ready', performance.now().toFixed(1));
  setTimeout(loadBodies, 0);
})();
