/* augur's web UI (docs/HTTP.md, "Web UI"): plain JavaScript, no framework,
 * no build step, nothing from another origin.  The token lives in this
 * tab's sessionStorage and goes out only in the Authorization header of
 * fetch() calls to this origin's /v1 API; the event stream is read with
 * fetch() too (EventSource cannot send that header, and a token must never
 * be put in a URL). */
(function () {
  'use strict';

  var TOKEN_KEY = 'augur.token';
  var MAX_EVENTS = 500;       /* the timeline keeps the newest this many */
  var BACKLOG = 1000;         /* events replayed at sign-in */
  var MAX_WORKFLOWS = 300;    /* workflows kept in the table */
  var MAX_POINTS = 500;       /* score points kept per resource */
  var HOST_KINDS = { host: true, vm: true, container: true };
  var TERMINAL = { done: true, rolled_back: true, failed: true, cancelled: true };

  var S = {
    token: null,
    session: 0,            /* bumped at each sign-in and sign-out */
    who: null,
    status: null,
    policy: { migrate_threshold: 0.8, provision_threshold: 0.5 },
    resources: new Map(),  /* id -> resource */
    edges: [],
    claims: new Map(),     /* workload -> claim */
    workloads: new Map(),  /* id -> workload */
    workflows: new Map(),  /* id -> workflow */
    cohorts: [],
    shadows: [],
    events: [],            /* newest first */
    history: new Map(),    /* resource id -> [{t, p, src}] oldest first */
    lastRev: 0,
    streamCtrl: null,
    streamError: null,
    selected: null,
    prediction: null,      /* the last POST /v1/predict_failure answer */
    view: 'fleet',
    chartId: null
  };

  /* ---- DOM helpers -------------------------------------------------- */

  function $(id) { return document.getElementById(id); }

  /* h('div', {class: 'x', data: {id: 'a'}}, child, 'text', [more]): an
   * element built with properties and text nodes only, never with HTML
   * strings, so no value from the API can become markup. */
  function h(tag, attrs) {
    var el = tag.indexOf('svg:') === 0
      ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
      : document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === undefined || v === null || v === false) return;
        if (k === 'data') {
          Object.keys(v).forEach(function (d) {
            if (v[d] !== undefined && v[d] !== null) el.setAttribute('data-' + d, String(v[d]));
          });
        } else if (k === 'on') {
          Object.keys(v).forEach(function (ev) { el.addEventListener(ev, v[ev]); });
        } else if (k === 'text') {
          el.textContent = String(v);
        } else {
          el.setAttribute(k, v === true ? '' : String(v));
        }
      });
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  /* append(el, child, ...): nodes, text, arrays of them; null skipped. */
  function append(el) {
    for (var i = 1; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === undefined || c === null || c === false) continue;
      if (Array.isArray(c)) { c.forEach(function (x) { append(el, x); }); continue; }
      el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
    }
  }

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

  function fmtP(p) { return typeof p === 'number' ? p.toFixed(2) : '—'; }

  function fmtTime(ms) {
    if (!ms) return '—';
    var d = new Date(ms);
    var pad = function (n) { return (n < 10 ? '0' : '') + n; };
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  function fmtClock(ms) { return ms ? fmtTime(ms).slice(11) : '—'; }

  function fmtMem(mb) { return mb >= 1024 ? (mb / 1024).toFixed(0) + 'G' : (mb || 0) + 'M'; }

  function risk(r) {
    var p = r && r.score && typeof r.score.p === 'number' ? r.score.p : null;
    if (p === null) return 'none';
    if (p >= S.policy.migrate_threshold) return 'crit';
    if (p >= S.policy.provision_threshold) return 'warn';
    if (p >= 0.2) return 'watch';
    return 'ok';
  }

  function reasonText(x) {
    if (x === null || x === undefined) return '';
    if (typeof x !== 'object') return String(x);
    var name = x.feature || x.name || x.reason || x.metric || '';
    var v = x.contribution !== undefined ? x.contribution : x.value;
    if (name && typeof v === 'number') return name + ' ' + (v >= 0 ? '+' : '') + v.toFixed(3);
    if (name) return String(name);
    return JSON.stringify(x);
  }

  function reasonsOf(r) {
    var rs = r && r.score && Array.isArray(r.score.reasons) ? r.score.reasons : [];
    return rs.map(reasonText);
  }

  /* ---- errors ------------------------------------------------------- */

  function ApiError(status, code, message) {
    this.status = status;
    this.code = code;
    this.message = message;
  }
  ApiError.prototype = Object.create(Error.prototype);

  /* The banner: @transient errors (the node unreachable, 5xx) clear
   * themselves once a call succeeds again; the others (a refusal of what
   * the operator asked for) stay until dismissed. */
  var bannerTransient = false;
  function showBanner(msg, transient) {
    $('banner-text').textContent = fmtClock(Date.now()) + ' — ' + msg;
    $('banner').hidden = false;
    bannerTransient = !!transient;
  }

  function hideBanner() { $('banner').hidden = true; bannerTransient = false; }

  function recovered() { if (bannerTransient) hideBanner(); }

  function errText(e) {
    if (e instanceof ApiError) {
      return (e.status ? e.status + ' ' : '') + e.code + ': ' + e.message;
    }
    return String(e && e.message || e);
  }

  /* An API error anywhere: 401 signs out (the token expired or its
   * principal was removed), anything else shows the banner. */
  function report(e, what) {
    if (e instanceof ApiError && e.status === 401) {
      signOut('Signed out: the token was refused (' + e.code + ': ' + e.message + ')');
      return;
    }
    var transient = !(e instanceof ApiError) || e.status === 0 || e.status >= 500;
    showBanner((what ? what + ': ' : '') + errText(e), transient);
  }

  /* ---- the API ------------------------------------------------------ */

  function authHeaders(extra) {
    var hd = { Authorization: 'Bearer ' + S.token };
    if (extra) Object.keys(extra).forEach(function (k) { hd[k] = extra[k]; });
    return hd;
  }

  function api(method, path, body) {
    var opts = {
      method: method,
      headers: authHeaders({ Accept: 'application/json' }),
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer'
    };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        if (text) {
          try { data = JSON.parse(text); } catch (ignored) { data = null; }
        }
        if (!res.ok) {
          var err = data && data.error ? data.error : {};
          throw new ApiError(res.status, err.code || 'HTTP' + res.status,
            err.message || text.slice(0, 200) || res.statusText);
        }
        recovered();
        return data;
      });
    }, function (e) {
      throw new ApiError(0, 'ENET', 'cannot reach augurd (' + e.message + ')');
    });
  }

  /* Every item of a paged list ({"items","next"}), at most @pages pages. */
  function apiList(path, pages) {
    var items = [];
    var left = pages || 20;
    function page(after) {
      var url = path + (path.indexOf('?') < 0 ? '?' : '&') + 'limit=1000' +
        (after !== null && after !== undefined ? '&after=' + encodeURIComponent(String(after)) : '');
      return api('GET', url).then(function (p) {
        if (Array.isArray(p)) return p;
        items = items.concat(p && p.items ? p.items : []);
        if (p && p.next !== null && p.next !== undefined && --left > 0) return page(p.next);
        return items;
      });
    }
    return page(null);
  }

  /* ---- sign in and out ---------------------------------------------- */

  function showLogin(msg) {
    $('app').hidden = true;
    $('logout').hidden = true;
    $('who').textContent = '';
    $('cluster').textContent = '';
    $('login').hidden = false;
    var err = $('login-error');
    err.textContent = msg || '';
    err.hidden = !msg;
    $('token-input').value = '';
    $('token-input').focus();
  }

  function signIn(token) {
    token = (token || '').trim();
    if (!token) { showLogin('Paste a token first.'); return; }
    var session = ++S.session;
    S.token = token;
    $('login-submit').disabled = true;
    api('GET', '/v1/whoami').then(function (who) {
      if (session !== S.session) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      S.who = who || {};
      $('login').hidden = true;
      $('app').hidden = false;
      $('logout').hidden = false;
      $('who').textContent = (S.who.principal || '?') + ' (' + (S.who.role || '?') + ')';
      $('who').setAttribute('data-role', S.who.role || '');
      $('mig-submit').disabled = S.who.role === 'reader' || S.who.role === 'agent';
      hideBanner();
      start(session);
    }).catch(function (e) {
      if (session !== S.session) return;
      S.token = null;
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin(e.status === 401
        ? 'Token refused: ' + e.message
        : 'Cannot sign in: ' + errText(e));
    }).then(function () { $('login-submit').disabled = false; });
  }

  function signOut(msg) {
    S.session++;
    S.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    if (S.streamCtrl) S.streamCtrl.abort();
    S.streamCtrl = null;
    setStream('off');
    hideBanner();
    showLogin(msg);
  }

  /* ---- loading ------------------------------------------------------ */

  function start(session) {
    S.resources = new Map(); S.edges = []; S.claims = new Map();
    S.workloads = new Map(); S.workflows = new Map(); S.events = [];
    S.history = new Map(); S.lastRev = 0; S.selected = null;
    renderAll();
    Promise.all([loadStatus(), loadPolicy()]).then(function () {
      return Promise.all([loadFleet(), loadWorkflows(), loadCohorts()]);
    }).then(function () {
      if (session !== S.session) return;
      var rev = S.status && typeof S.status.rev === 'number' ? S.status.rev : 0;
      streamLoop(session, Math.max(1, rev - BACKLOG + 1), rev + 1);
    }).catch(function (e) {
      if (session === S.session) report(e, 'loading');
      if (session === S.session && S.token) streamLoop(session, 0, 0);
    });
    setTimeout(function tick() {
      if (session !== S.session) return;
      loadStatus().catch(function (e) { report(e, 'status'); });
      setTimeout(tick, 10000);
    }, 10000);
  }

  function loadStatus() {
    return api('GET', '/v1/status').then(function (st) {
      S.status = st || {};
      renderCluster();
    });
  }

  function loadPolicy() {
    return api('GET', '/v1/policy').then(function (p) {
      var keys = p && Array.isArray(p.keys) ? p.keys : [];
      keys.forEach(function (k) { S.policy[k.key] = k.value; });
      Array.prototype.forEach.call(document.querySelectorAll('.thr-migrate'),
        function (el) { el.textContent = String(S.policy.migrate_threshold); });
      Array.prototype.forEach.call(document.querySelectorAll('.thr-provision'),
        function (el) { el.textContent = String(S.policy.provision_threshold); });
    }).catch(function (e) {
      if (e.status === 401) throw e;
      /* A reader may not see the policy: keep the defaults. */
    });
  }

  function loadFleet() {
    return Promise.all([
      apiList('/v1/resources'), apiList('/v1/edges'),
      apiList('/v1/claims'), apiList('/v1/workloads')
    ]).then(function (r) {
      S.resources = new Map();
      r[0].forEach(function (x) { S.resources.set(x.id, x); noteScore(x, null); });
      S.edges = r[1];
      S.claims = new Map();
      r[2].forEach(function (c) { if (!c.kind || c.kind === 'active') S.claims.set(c.workload, c); });
      S.workloads = new Map();
      r[3].forEach(function (w) { S.workloads.set(w.id, w); });
      paint('fleet', renderFleet);
      renderMigrateForm();
      renderScoreSelect();
      if (S.view === 'scores') renderChart();
    });
  }

  function loadWorkflows() {
    return apiList('/v1/workflows', 5).then(function (items) {
      items.forEach(function (w) { S.workflows.set(w.id, w); });
      trimWorkflows();
      renderWorkflows();
    });
  }

  function loadCohorts() {
    return Promise.all([apiList('/v1/cohorts'), apiList('/v1/shadows')]).then(function (r) {
      S.cohorts = r[0];
      S.shadows = r[1];
      renderCohorts();
    });
  }

  /* Coalesce reloads that many events ask for at once. */
  var pending = {};
  function later(name, fn, ms) {
    if (pending[name]) return;
    pending[name] = setTimeout(function () {
      pending[name] = null;
      var session = S.session;
      fn().catch(function (e) { if (session === S.session) report(e, 'refresh'); });
    }, ms);
  }

  /* ---- the event stream --------------------------------------------- */

  function setStream(state, why) {
    var el = $('stream-state');
    el.setAttribute('data-state', state);
    el.textContent = 'stream: ' + state + (why ? ' (' + why + ')' : '');
  }

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  /* Read /v1/events for as long as @session lasts: from @from (0: the
   * server's default) at first, then from after the last revision seen
   * (Last-Event-ID and ?from= agree), reconnecting with a backoff.  When the
   * first request is refused (its backlog compacted), start at @fallback. */
  function streamLoop(session, from, fallback) {
    var backoff = 500;
    var first = true;
    function once() {
      if (session !== S.session) return Promise.resolve();
      var hd = authHeaders({ Accept: 'text/event-stream' });
      var q = '';
      if (S.lastRev > 0) {
        hd['Last-Event-ID'] = String(S.lastRev);
        q = '?from=' + (S.lastRev + 1);
      } else if (from > 0) {
        q = '?from=' + from;
      }
      var ctrl = new AbortController();
      S.streamCtrl = ctrl;
      setStream(first ? 'connecting' : 'reconnecting');
      return fetch('/v1/events' + q, {
        headers: hd, signal: ctrl.signal, cache: 'no-store',
        credentials: 'omit', referrerPolicy: 'no-referrer'
      }).then(function (res) {
        if (!res.ok) {
          return res.text().then(function (t) {
            var err = {};
            try { err = JSON.parse(t).error || {}; } catch (ignored) { err = {}; }
            throw new ApiError(res.status, err.code || 'HTTP' + res.status, err.message || res.statusText);
          });
        }
        if (!res.body) throw new ApiError(0, 'ESTREAM', 'this browser cannot read a streamed body');
        first = false;
        backoff = 500;
        setStream('live');
        recovered();
        return readSse(res.body, session);
      }).then(function () {
        if (session !== S.session) return;
        var se = S.streamError;
        S.streamError = null;
        if (!se) { setStream('reconnecting', 'the stream ended'); return; }
        if (se.code === 'EAUTH' || se.code === 'EPERM') {
          report(new ApiError(401, se.code, se.message));
          return;
        }
        if (se.code === 'ECOMPACTED') {
          /* The revisions asked for are gone from the event log: start
           * again from what the lists say now, and stream from there. */
          setStream('resyncing', se.message);
          return Promise.all([loadStatus(), loadFleet(), loadWorkflows(), loadCohorts()]).then(function () {
            var rev = S.status && typeof S.status.rev === 'number' ? S.status.rev : 0;
            S.lastRev = Math.max(S.lastRev, rev);
            from = rev + 1;
            backoff = 0;
          });
        }
        setStream('reconnecting', se.code + ': ' + se.message);
        showBanner('event stream: ' + se.code + ': ' + se.message, true);
      }, function (e) {
        if (session !== S.session) return;
        if (e instanceof ApiError && e.status === 401) { report(e); return; }
        if (e instanceof ApiError && e.status >= 400 && e.status < 500 && S.lastRev === 0 && from !== fallback) {
          from = fallback; /* the backlog is gone: start from now */
          return;
        }
        setStream('reconnecting', errText(e));
      }).then(function () {
        if (session !== S.session) return;
        var wait = backoff;
        backoff = Math.min(Math.max(backoff * 2, 500), 10000);
        return sleep(wait).then(once);
      });
    }
    return once();
  }

  /* The text/event-stream format (HTML's "Server-sent events"): lines of
   * "field: value", an event ends at a blank line; ":" lines are comments
   * (keep-alives). */
  function readSse(body, session) {
    var reader = body.getReader();
    var dec = new TextDecoder();
    var buf = '';
    var ev = { id: null, event: '', data: [] };
    function line(l) {
      if (l === '') {
        if (ev.data.length) dispatch(ev);
        ev = { id: null, event: '', data: [] };
        return;
      }
      if (l.charAt(0) === ':') return;
      var c = l.indexOf(':');
      var field = c < 0 ? l : l.slice(0, c);
      var v = c < 0 ? '' : l.slice(c + 1);
      if (v.charAt(0) === ' ') v = v.slice(1);
      if (field === 'data') ev.data.push(v);
      else if (field === 'id') ev.id = v;
      else if (field === 'event') ev.event = v;
    }
    function pump() {
      return reader.read().then(function (r) {
        if (session !== S.session) { reader.cancel(); return; }
        if (r.done) return;
        buf += dec.decode(r.value, { stream: true });
        for (;;) {
          var i = buf.search(/[\r\n]/);
          if (i < 0) break;
          if (buf.charAt(i) === '\r' && i === buf.length - 1) break; /* \r\n split */
          var n = buf.charAt(i) === '\r' && buf.charAt(i + 1) === '\n' ? 2 : 1;
          line(buf.slice(0, i));
          buf = buf.slice(i + n);
        }
        return pump();
      });
    }
    return pump();
  }

  function dispatch(ev) {
    var obj;
    try { obj = JSON.parse(ev.data.join('\n')); } catch (e) {
      showBanner('event stream: an event that is not JSON (' + ev.data.join(' ').slice(0, 80) + ')');
      return;
    }
    if (ev.event === 'error' || (obj && obj.error)) {
      /* The server ends a stream with one "error" event: remember it for
       * streamLoop, which decides what comes next. */
      var err = obj && obj.error ? obj.error : obj || {};
      S.streamError = { code: String(err.code || 'ESTREAM'), message: String(err.message || '') };
      return;
    }
    var rev = Number(ev.id || (obj && obj.rev) || 0);
    if (rev && rev <= S.lastRev) return; /* a duplicate after a reconnect */
    if (rev) S.lastRev = rev;
    if (!obj.op && ev.event) obj.op = ev.event;
    onEvent(obj);
  }

  /* ---- applying events ---------------------------------------------- */

  function isWorkflow(d) { return d && d.steps && Array.isArray(d.steps) && d.workload !== undefined && d.id !== undefined; }
  function isResource(d) { return d && typeof d.id === 'string' && d.kind !== undefined && d.capacity !== undefined; }
  function isClaim(d) { return d && d.workload !== undefined && d.host !== undefined && d.epoch !== undefined && !d.steps && d.lag_ms === undefined; }

  function onEvent(e) {
    var op = String(e.op || '');
    var d = e.data;
    S.events.unshift(e);
    if (S.events.length > MAX_EVENTS) S.events.length = MAX_EVENTS;
    paint('events', renderEvents);

    if (isWorkflow(d)) {
      var old = S.workflows.get(d.id);
      S.workflows.set(d.id, d);
      trimWorkflows();
      paint('workflows', renderWorkflows);
      if (!old || old.state !== d.state || old.step !== d.step) later('fleet', loadFleet, 400);
    }
    if (isResource(d)) {
      if (op === 'resource.remove') S.resources.delete(d.id); else S.resources.set(d.id, d);
      noteScore(d, e.time);
      paint('fleet', renderFleet);
      if (S.view === 'scores') paint('chart', renderChart);
    }
    if (isClaim(d)) {
      if (/release|remove|delete/.test(op)) S.claims.delete(d.workload); else S.claims.set(d.workload, d);
      paint('fleet', renderFleet);
    }
    if (/^(resource|edge|claim|workload)\./.test(op) && !isResource(d)) later('fleet', loadFleet, 400);
    if (/^(cohort|shadow|score|claim|workflow)\./.test(op)) later('cohorts', loadCohorts, 600);
  }

  /* A score point for the history: from a score event (@t its time) or the
   * resource as loaded (@t null). */
  function noteScore(r, t) {
    if (!r || !r.score || typeof r.score.p !== 'number') return;
    var pts = S.history.get(r.id);
    if (!pts) { pts = []; S.history.set(r.id, pts); }
    var at = r.score.updated_at || t || Date.now();
    var last = pts[pts.length - 1];
    if (last && last.t === at && last.p === r.score.p) return;
    pts.push({ t: at, p: r.score.p, src: r.score.model || (r.manual_until ? 'manual' : 'score') });
    pts.sort(function (a, b) { return a.t - b.t; });
    if (pts.length > MAX_POINTS) pts.splice(0, pts.length - MAX_POINTS);
  }

  function trimWorkflows() {
    if (S.workflows.size <= MAX_WORKFLOWS) return;
    var ids = Array.from(S.workflows.keys()).sort(function (a, b) { return a - b; });
    ids.slice(0, ids.length - MAX_WORKFLOWS).forEach(function (id) { S.workflows.delete(id); });
  }

  /* Render at most once a frame per part, and not while a pointer is
   * down on that part: replacing the element under it would lose the
   * click. */
  var painting = {};
  var held = null;
  function paint(name, fn) {
    if (painting[name]) return;
    painting[name] = true;
    requestAnimationFrame(function again() {
      if (held === name) { setTimeout(function () { requestAnimationFrame(again); }, 100); return; }
      painting[name] = false;
      fn();
    });
  }

  /* ---- rendering: header -------------------------------------------- */

  function renderCluster() {
    var st = S.status || {};
    var el = clear($('cluster'));
    append(el, [
      h('span', { class: 'kv' }, h('span', { class: 'k', text: 'node' }), ' ', String(st.node || '?')),
      h('span', { class: 'kv' }, h('span', { class: 'k', text: 'leader' }), ' ', String(st.leader || 'none')),
      h('span', { class: 'kv' }, h('span', { class: 'k', text: 'term' }), ' ', String(st.term || '?')),
      h('span', { class: 'kv' }, h('span', { class: 'k', text: 'rev' }), ' ', String(Math.max(st.rev || 0, S.lastRev)))
    ]);
  }

  function renderAll() {
    renderFleet(); renderCohorts(); renderWorkflows(); renderEvents();
    renderMigrateForm(); renderScoreSelect(); renderChart();
  }

  /* ---- rendering: fleet --------------------------------------------- */

  /* Which rack a resource stands in: its "rack" label, else the rack of
   * the resource it draws power from, else none. */
  function rackOf(r, depsOf) {
    if (r.labels && r.labels.rack) return String(r.labels.rack);
    var deps = depsOf.get(r.id) || [];
    for (var i = 0; i < deps.length; i++) {
      var t = S.resources.get(deps[i].to);
      if (deps[i].kind === 'power' && t && t.labels && t.labels.rack) return String(t.labels.rack);
    }
    for (var j = 0; j < deps.length; j++) {
      if (deps[j].kind === 'power') return 'on ' + deps[j].to;
    }
    return '';
  }

  function matches(r, f) {
    if (!f) return true;
    var hay = [r.id, r.kind, r.state].concat(Object.keys(r.labels || {}).map(function (k) {
      return k + '=' + r.labels[k];
    })).join(' ').toLowerCase();
    return hay.indexOf(f) >= 0;
  }

  function tileTitle(r, deps) {
    var parts = [r.id + ' (' + r.kind + ', ' + r.state + ')'];
    parts.push('p_fail ' + (r.score ? fmtP(r.score.p) : 'none'));
    var rs = reasonsOf(r);
    if (rs.length) parts.push('reasons: ' + rs.join(', '));
    if (deps && deps.length) parts.push('depends on ' + deps.map(function (e) { return e.to + ' (' + e.kind + ')'; }).join(', '));
    return parts.join('\n');
  }

  function resTile(r, depsOf, dependents, workloadsOn) {
    var rk = risk(r);
    var deps = depsOf.get(r.id) || [];
    var host = !!HOST_KINDS[r.kind];
    var score = r.score && typeof r.score.p === 'number' ? r.score.p : null;
    var label = r.id + ', ' + r.kind + ', ' + r.state + ', p_fail ' + (score === null ? 'none' : fmtP(score));
    var tile = h('div', {
      class: 'res ' + (host ? 'host' : 'infra') + ' risk-' + rk + (S.selected === r.id ? ' selected' : '') +
        (r.state && r.state !== 'active' ? ' state-' + r.state : ''),
      role: 'button', tabindex: '0', title: tileTitle(r, deps), 'aria-label': label,
      'aria-pressed': S.selected === r.id ? 'true' : 'false',
      data: { id: r.id, kind: r.kind, risk: rk, score: score === null ? '' : String(score), state: r.state }
    });
    append(tile, h('span', { class: 'rid', text: r.id }));
    append(tile, h('span', { class: 'p', text: score === null ? '—' : fmtP(score) }));
    if (host) {
      var cap = r.capacity || {}, used = r.used || {};
      append(tile, h('span', { class: 'meta' },
        r.state + ' · cpu ' + (used.cpu || 0) + '/' + (cap.cpu || 0) + ' · mem ' + fmtMem(used.mem_mb) + '/' + fmtMem(cap.mem_mb)));
      var wl = workloadsOn.get(r.id) || [];
      var ws = h('span', { class: 'wls' });
      wl.forEach(function (c) { append(ws, h('span', { class: 'wl', data: { workload: c.workload }, text: c.workload })); });
      if (!wl.length) append(ws, h('span', { class: 'muted', text: 'no workloads' }));
      append(tile, ws);
    } else {
      var n = (dependents.get(r.id) || []).length;
      append(tile, h('span', { class: 'meta', text: r.kind + ' · ' + r.state + ' · ' + n + ' dependent' + (n === 1 ? '' : 's') }));
    }
    var rs = reasonsOf(r);
    if (rs.length) append(tile, h('span', { class: 'why', text: rs.slice(0, 2).join(', ') }));
    return tile;
  }

  function renderFleet() {
    var root = $('fleet');
    var f = ($('fleet-filter').value || '').trim().toLowerCase();
    var depsOf = new Map(), dependents = new Map(), workloadsOn = new Map();
    S.edges.forEach(function (e) {
      if (!depsOf.has(e.from)) depsOf.set(e.from, []);
      depsOf.get(e.from).push(e);
      if (!dependents.has(e.to)) dependents.set(e.to, []);
      dependents.get(e.to).push(e);
    });
    S.claims.forEach(function (c) {
      if (!workloadsOn.has(c.host)) workloadsOn.set(c.host, []);
      workloadsOn.get(c.host).push(c);
    });
    var racks = new Map();
    var hosts = 0, atRisk = 0;
    Array.from(S.resources.values()).sort(function (a, b) { return a.id < b.id ? -1 : a.id > b.id ? 1 : 0; })
      .forEach(function (r) {
        if (HOST_KINDS[r.kind]) { hosts++; if (risk(r) === 'crit' || risk(r) === 'warn') atRisk++; }
        if (!matches(r, f)) return;
        var rk = rackOf(r, depsOf);
        if (!racks.has(rk)) racks.set(rk, { infra: [], hosts: [] });
        racks.get(rk)[HOST_KINDS[r.kind] ? 'hosts' : 'infra'].push(r);
      });
    $('fleet-summary').textContent = S.resources.size + ' resources · ' + hosts + ' hosts · ' +
      atRisk + ' at risk · ' + S.claims.size + ' workloads placed';
    var focused = document.activeElement && document.activeElement.getAttribute &&
      root.contains(document.activeElement) ? document.activeElement.getAttribute('data-id') : null;
    clear(root);
    if (!S.resources.size) {
      append(root, h('p', { class: 'muted', text: S.token ? 'No resources yet (augur resource add).' : '' }));
    }
    Array.from(racks.keys()).sort(function (a, b) {
      if (!a) return 1; if (!b) return -1; return a < b ? -1 : a > b ? 1 : 0;
    }).forEach(function (rk) {
      var g = racks.get(rk);
      var infra = g.infra.slice().sort(function (a, b) {
        var o = { psu: 0, pdu: 0, power: 0, switch: 1 };
        var x = o[a.kind] !== undefined ? o[a.kind] : 2, y = o[b.kind] !== undefined ? o[b.kind] : 2;
        return x - y || (a.id < b.id ? -1 : 1);
      });
      var name = rk ? (rk.indexOf('on ') === 0 ? 'power ' + rk.slice(3) : 'rack ' + rk) : 'not in a rack';
      var card = h('article', { class: 'rack card', data: { rack: rk }, 'aria-label': name },
        h('header', null, h('h3', { text: name }),
          h('span', { class: 'muted', text: g.hosts.length + ' host' + (g.hosts.length === 1 ? '' : 's') })));
      if (infra.length) {
        append(card, h('div', { class: 'infra-row', 'aria-label': 'power and network' },
          infra.map(function (r) { return resTile(r, depsOf, dependents, workloadsOn); })));
      }
      append(card, h('div', { class: 'host-grid' },
        g.hosts.map(function (r) { return resTile(r, depsOf, dependents, workloadsOn); })));
      append(root, card);
    });
    if (focused) {
      var el = root.querySelector('[data-id="' + CSS.escape(focused) + '"]');
      if (el) el.focus();
    }
    renderDetail();
  }

  function select(id) {
    S.selected = S.selected === id ? null : id;
    Array.prototype.forEach.call($('fleet').querySelectorAll('.res'), function (el) {
      var on = el.getAttribute('data-id') === S.selected;
      el.classList.toggle('selected', on);
      el.setAttribute('aria-pressed', on ? 'true' : 'false');
    });
    Array.prototype.forEach.call($('fleet').querySelectorAll('.res.related'), function (el) {
      el.classList.remove('related');
    });
    if (S.selected) {
      S.edges.forEach(function (e) {
        var other = e.from === S.selected ? e.to : e.to === S.selected ? e.from : null;
        if (!other) return;
        var el = $('fleet').querySelector('.res[data-id="' + CSS.escape(other) + '"]');
        if (el) el.classList.add('related');
      });
    }
    renderDetail();
  }

  function kv(k, v) { return [h('dt', { text: k }), h('dd', null, v)]; }

  function renderDetail(prediction) {
    var box = clear($('detail'));
    var r = S.selected ? S.resources.get(S.selected) : null;
    if (!r) {
      append(box, h('p', { class: 'muted', text: 'Select a resource to see its score, reasons and dependencies.' }));
      return;
    }
    var sc = r.score;
    var deps = S.edges.filter(function (e) { return e.from === r.id; });
    var dependents = S.edges.filter(function (e) { return e.to === r.id; });
    var wl = [];
    S.claims.forEach(function (c) { if (c.host === r.id) wl.push(c.workload + ' (epoch ' + c.epoch + ')'); });
    var labels = Object.keys(r.labels || {}).map(function (k) { return k + '=' + r.labels[k]; }).join(', ');
    append(box, h('header', { class: 'detail-head' },
      h('h3', { text: r.id, data: { id: r.id } }),
      h('span', { class: 'chip risk-' + risk(r), text: sc ? 'p_fail ' + fmtP(sc.p) : 'no score' })));
    var dl = h('dl', { class: 'kvs' });
    append(dl, [
      kv('kind', r.kind), kv('state', r.state + (r.leased === false ? ' (no lease)' : '')),
      kv('labels', labels || '—'),
      HOST_KINDS[r.kind] ? kv('cpu', (r.used && r.used.cpu || 0) + ' / ' + (r.capacity && r.capacity.cpu || 0)) : null,
      HOST_KINDS[r.kind] ? kv('memory', fmtMem(r.used && r.used.mem_mb) + ' / ' + fmtMem(r.capacity && r.capacity.mem_mb)) : null,
      HOST_KINDS[r.kind] ? kv('workloads', wl.join(', ') || '—') : null,
      kv('depends on', deps.map(function (e) { return e.to + ' (' + e.kind + ')'; }).join(', ') || '—'),
      kv('dependents', dependents.length ? dependents.map(function (e) { return e.from; }).join(', ') : '—'),
      sc ? kv('score window', sc.window + ' s') : null,
      sc ? kv('updated', fmtTime(sc.updated_at)) : null,
      sc && sc.model ? kv('model', sc.model) : null,
      sc && typeof sc.confidence === 'number' ? kv('confidence', sc.confidence.toFixed(2)) : null,
      r.manual_until ? kv('set by hand until', fmtTime(r.manual_until)) : null
    ]);
    append(box, dl);
    var rs = reasonsOf(r);
    append(box, h('h4', { text: 'Reasons' }));
    append(box, rs.length ? h('ul', { class: 'reasons' }, rs.map(function (t) { return h('li', { text: t }); }))
      : h('p', { class: 'muted', text: sc ? 'The committed score names no reasons (set by hand, or a model that gives none).' : 'No score.' }));
    var actions = h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'btn', id: 'predict-btn', on: { click: function () { predict(r.id); } } }, 'Predict now'),
      h('button', { type: 'button', class: 'btn-quiet', on: { click: function () { showScores(r.id); } } }, 'Score history'));
    append(box, actions);
    /* The last prediction asked for this resource stays until another
     * resource is selected, across the re-renders events cause. */
    if (prediction) S.prediction = prediction;
    if (S.prediction && S.prediction.resource === r.id) append(box, renderPrediction(S.prediction));
  }

  function renderPrediction(p) {
    var box = h('div', { class: 'prediction', id: 'prediction', data: { resource: p.resource } });
    append(box, h('h4', { text: 'Leader\'s live prediction' }));
    var dl = h('dl', { class: 'kvs' });
    append(dl, [
      kv('p_fail', fmtP(p.p_fail)),
      kv('confidence', typeof p.confidence === 'number' ? p.confidence.toFixed(2) : '—'),
      kv('model', p.model || '—'),
      kv('window', (p.window_s || '—') + ' s'),
      p.correlated ? kv('correlated', fmtP(p.correlated.p) + (p.correlated.via && p.correlated.via.length
        ? ' via ' + p.correlated.via.map(reasonText).join(', ') : '')) : null,
      kv('reports', String(p.reports === undefined ? '—' : p.reports)),
      p.stale ? kv('stale', 'yes (a follower\'s committed score)') : null
    ]);
    append(box, dl);
    var rs = Array.isArray(p.reasons) ? p.reasons.map(reasonText) : [];
    append(box, rs.length ? h('ul', { class: 'reasons' }, rs.map(function (t) { return h('li', { text: t }); }))
      : h('p', { class: 'muted', text: 'No reasons given.' }));
    return box;
  }

  function predict(id) {
    var btn = $('predict-btn');
    if (btn) btn.disabled = true;
    api('POST', '/v1/predict_failure', { resource: id }).then(function (p) {
      if (S.selected === id) renderDetail(p);
    }).catch(function (e) {
      report(e, 'predict ' + id);
      if (btn) btn.disabled = false;
    });
  }

  /* ---- rendering: cohorts and shadows ------------------------------- */

  function meter(v, low, high) {
    return h('meter', { min: '0', max: '1', low: String(low), high: String(high), optimum: '1', value: String(v || 0) });
  }

  function renderCohorts() {
    var tb = clear($('cohorts').tBodies[0]);
    if (!S.cohorts.length) {
      append(tb, h('tr', null, h('td', { colspan: '6', class: 'muted', text: 'No cohorts (augur cohort create).' })));
    }
    S.cohorts.forEach(function (c) {
      var weak = (c.min_resilience !== undefined && c.resilience < c.min_resilience);
      append(tb, h('tr', { data: { name: c.name }, class: weak ? 'weak' : '' },
        h('th', { scope: 'row', text: c.name }),
        h('td', { text: (c.workloads || []).join(', ') }),
        h('td', null, (c.spread || '—') + ' ', c.spread_ok === false ? h('span', { class: 'chip bad', text: 'not spread' }) : null),
        h('td', { text: (c.running !== undefined ? c.running : '?') + ' / min ' + (c.min_available !== undefined ? c.min_available : '?') }),
        h('td', { class: 'res-cell' }, meter(c.resilience, c.min_resilience || 0.5, 0.99), ' ',
          h('span', { class: weak ? 'bad-text' : '', text: fmtP(c.resilience) }),
          h('span', { class: 'muted', text: ' (min ' + fmtP(c.min_resilience) + ')' })),
        h('td', { text: (c.weakest || []).map(function (w) {
          return w.resource + ' p ' + fmtP(w.p) + ' (+' + fmtP(w.gain) + ')';
        }).join(', ') || '—' })));
    });
    var sb = clear($('shadows').tBodies[0]);
    if (!S.shadows.length) {
      append(sb, h('tr', null, h('td', { colspan: '7', class: 'muted', text: 'No shadows.' })));
    }
    S.shadows.forEach(function (s) {
      append(sb, h('tr', { data: { workload: s.workload, host: s.host } },
        h('th', { scope: 'row', text: s.workload }), h('td', { text: s.host }), h('td', { text: String(s.epoch) }),
        h('td', null, h('span', { class: 'chip st-' + s.state, text: s.state })),
        h('td', { text: (s.lag_ms || 0) + ' ms' }), h('td', { text: s.drift || '—' }),
        h('td', { text: fmtClock(s.updated_at) })));
    });
  }

  /* ---- rendering: workflows ----------------------------------------- */

  /* The share of live traffic on the new instance: the last shift_P step
   * done, 100 once the claim moved, 0 after an unshift; and the one being
   * shifted to now. */
  function traffic(w) {
    var share = null, to = null;
    (w.steps || []).forEach(function (s) {
      var m = /^shift_(\d+)$/.exec(s.name);
      if (m) {
        if (share === null) share = 0;
        if (s.state === 'done') share = Number(m[1]);
        else if (s.state === 'running') to = Number(m[1]);
      } else if (s.name === 'unshift' && s.state === 'done') {
        share = 0;
      } else if (s.name === 'transfer' && s.state === 'done' && share !== null) {
        share = 100;
      }
    });
    return { share: share, to: to };
  }

  /* The KPI verdicts: the details of the traffic steps that have one. */
  function kpis(w) {
    return (w.steps || []).filter(function (s) {
      return (s.name === 'mirror' || /^shift_\d+$/.test(s.name)) && s.detail;
    }).map(function (s) { return s.name + ': ' + s.detail; });
  }

  function workflowRow(w) {
    var steps = w.steps || [];
    var cur = steps[Math.min(w.step || 0, steps.length - 1)];
    var t = traffic(w);
    var k = kpis(w);
    var active = !TERMINAL[w.state];
    var chips = h('span', { class: 'steps', 'aria-label': 'steps' }, steps.map(function (s, i) {
      return h('span', {
        class: 'step st-' + s.state + (i === w.step && active ? ' current' : ''),
        title: s.name + ': ' + s.state + (s.attempt > 1 ? ' (attempt ' + s.attempt + ')' : '') + (s.detail ? ' — ' + s.detail : ''),
        data: { step: s.name, state: s.state }
      }, s.name);
    }));
    var acts = h('td', { class: 'acts' });
    var mayWrite = !(S.who && (S.who.role === 'reader' || S.who.role === 'agent'));
    if (active) {
      append(acts, h('button', { type: 'button', class: 'btn-quiet danger', data: { action: 'cancel', id: w.id },
        disabled: !mayWrite, title: mayWrite ? null : 'needs an operator\'s token',
        'aria-label': 'Cancel workflow ' + w.id }, 'Cancel'));
    }
    if (active && w.approved === false) {
      append(acts, h('button', { type: 'button', class: 'btn-quiet', data: { action: 'approve', id: w.id },
        disabled: !mayWrite, title: mayWrite ? null : 'needs an operator\'s token',
        'aria-label': 'Approve workflow ' + w.id }, 'Approve'));
    }
    var tcell = h('td', { class: 'traffic' });
    if (t.share === null) {
      append(tcell, h('span', { class: 'muted', text: '—' }));
    } else {
      append(tcell, h('meter', { min: '0', max: '100', value: String(t.share) }), ' ',
        h('span', { class: 'share', text: t.share + '%' + (t.to !== null ? ' → ' + t.to + '%' : '') }));
    }
    return h('tr', { class: 'wf wf-' + w.state, data: { id: w.id, state: w.state, workload: w.workload } },
      h('th', { scope: 'row', text: String(w.id) }),
      h('td', { text: w.workload }),
      h('td', { text: (w.from || '?') + ' → ' + (w.to || '?') }),
      h('td', { text: (w.strategy || '') + ' · ' + (w.reason || '') }),
      h('td', null, h('span', { class: 'chip wfs-' + w.state, data: { role: 'state' }, text: w.state }),
        w.approved === false ? h('span', { class: 'chip warn', text: 'awaiting approval' }) : null),
      h('td', { class: 'stepcell' },
        h('span', { class: 'curstep', text: cur ? cur.name + (active ? ' (' + cur.state + ')' : '') + ' · ' + Math.min((w.step || 0) + (active ? 1 : 0), steps.length) + '/' + steps.length : '—' }),
        chips),
      tcell,
      h('td', { class: 'kpis', title: k.join('\n') || null },
        k.length ? h('div', { text: k[k.length - 1] }) : h('span', { class: 'muted', text: '—' }),
        k.length > 1 ? h('div', { class: 'muted', text: '+ ' + (k.length - 1) + ' earlier (hover)' }) : null),
      h('td', { class: 'err' }, w.error ? h('span', { class: 'bad-text', text: w.error }) : h('span', { class: 'muted', text: '—' })),
      acts);
  }

  function renderWorkflows() {
    var tb = clear($('workflows').tBodies[0]);
    var f = $('wf-filter').value;
    var list = Array.from(S.workflows.values()).sort(function (a, b) { return b.id - a.id; });
    var nActive = list.filter(function (w) { return !TERMINAL[w.state]; }).length;
    $('wf-active').textContent = nActive ? String(nActive) : '';
    list = list.filter(function (w) {
      return f === 'all' || (f === 'active' ? !TERMINAL[w.state] : w.state === f);
    });
    if (!list.length) {
      append(tb, h('tr', null, h('td', { colspan: '10', class: 'muted', text: 'No workflows.' })));
    }
    list.forEach(function (w) { append(tb, workflowRow(w)); });
  }

  function renderMigrateForm() {
    var sel = $('mig-workload'), to = $('mig-to');
    var keepW = sel.value, keepT = to.value;
    var ids = Array.from(S.workloads.keys()).sort();
    clear(sel);
    if (!ids.length) append(sel, h('option', { value: '', text: '(no workloads)' }));
    ids.forEach(function (id) {
      var c = S.claims.get(id);
      append(sel, h('option', { value: id, text: id + (c ? ' (on ' + c.host + ')' : ' (not placed)') }));
    });
    if (keepW && S.workloads.has(keepW)) sel.value = keepW;
    clear(to);
    append(to, h('option', { value: '', text: '(the cluster picks)' }));
    Array.from(S.resources.values()).filter(function (r) { return HOST_KINDS[r.kind]; })
      .sort(function (a, b) { return a.id < b.id ? -1 : 1; })
      .forEach(function (r) {
        append(to, h('option', { value: r.id, text: r.id + ' (' + r.state + ', p ' + (r.score ? fmtP(r.score.p) : '—') + ')' }));
      });
    if (keepT && S.resources.has(keepT)) to.value = keepT;
  }

  function migrate(ev) {
    ev.preventDefault();
    var body = { workload: $('mig-workload').value };
    if (!body.workload) { $('mig-result').textContent = 'Pick a workload.'; return; }
    if ($('mig-to').value) body.to = $('mig-to').value;
    if ($('mig-strategy').value) body.strategy = $('mig-strategy').value;
    $('mig-submit').disabled = true;
    $('mig-result').textContent = 'Starting…';
    api('POST', '/v1/orchestrate_migration', body).then(function (w) {
      if (isWorkflow(w)) {
        var known = S.workflows.get(w.id);
        /* The stream may be ahead of the answer: keep the later state. */
        if (!known || (known.updated_at || 0) <= (w.updated_at || 0)) S.workflows.set(w.id, w);
        renderWorkflows();
      }
      $('mig-result').textContent = 'Workflow ' + (w && w.id) + ' started: ' + body.workload +
        ' ' + (w && w.from ? w.from : '') + ' → ' + (w && w.to ? w.to : '?') + '.';
      $('mig-result').setAttribute('data-workflow', String(w && w.id));
      $('mig-result').setAttribute('data-workflow-state', String(w && w.state));
    }).catch(function (e) {
      $('mig-result').textContent = 'Refused: ' + errText(e);
      report(e, 'migration of ' + body.workload);
    }).then(function () {
      $('mig-submit').disabled = S.who && (S.who.role === 'reader' || S.who.role === 'agent');
    });
  }

  function workflowAction(ev) {
    var b = ev.target.closest('button[data-action]');
    if (!b) return;
    var id = b.getAttribute('data-id'), action = b.getAttribute('data-action');
    b.disabled = true;
    api('POST', '/v1/workflows/' + encodeURIComponent(id) + '/' + action).then(function (w) {
      if (isWorkflow(w)) { S.workflows.set(w.id, w); renderWorkflows(); }
    }).catch(function (e) {
      b.disabled = false;
      report(e, action + ' workflow ' + id);
    });
  }

  /* ---- rendering: events -------------------------------------------- */

  function subject(e) {
    var d = e.data || {};
    if (d.steps) {
      var s = d.steps[Math.min(d.step || 0, d.steps.length - 1)];
      return 'workflow ' + d.id + ' ' + d.workload + ': ' + d.state + (s ? ' · ' + s.name + ' ' + s.state : '') + (d.error ? ' · ' + d.error : '');
    }
    if (d.score && typeof d.score.p === 'number' && /score/.test(e.op)) return d.id + ' p ' + fmtP(d.score.p);
    if (d.id !== undefined && d.kind) return d.id + ' (' + d.kind + (d.state ? ', ' + d.state : '') + ')';
    if (d.workload && d.host) return d.workload + ' @ ' + d.host + (d.epoch !== undefined ? ' epoch ' + d.epoch : '') + (d.state ? ' ' + d.state : '');
    if (d.from && d.to) return d.from + ' → ' + d.to + (d.kind ? ' (' + d.kind + ')' : '');
    if (d.raft_address !== undefined) return 'node ' + d.id + ' (' + d.raft_address + (d.role ? ', ' + d.role : '') + ')';
    if (d.name) return String(d.name);
    if (d.id !== undefined) return String(d.id);
    return '';
  }

  function renderEvents() {
    var ol = clear($('events'));
    var f = ($('ev-filter').value || '').trim().toLowerCase();
    var shown = 0;
    S.events.forEach(function (e) {
      var subj = subject(e);
      if (f && (String(e.op) + ' ' + subj + ' ' + (e.principal || '') + ' ' + e.rev).toLowerCase().indexOf(f) < 0) return;
      shown++;
      append(ol, h('li', { class: 'ev', data: { rev: e.rev, op: e.op }, value: String(e.rev || '') },
        h('details', null,
          h('summary', null,
            h('span', { class: 'rev', text: '#' + (e.rev || '?') }),
            h('time', { datetime: e.time ? new Date(e.time).toISOString() : '', text: fmtClock(e.time) }),
            h('span', { class: 'op op-' + String(e.op || '').split('.')[0], text: e.op || '?' }),
            h('span', { class: 'subj', text: subj }),
            h('span', { class: 'who muted', text: e.principal || '' })),
          h('pre', { text: JSON.stringify(e.data, null, 2) }))));
    });
    $('events-summary').textContent = shown + ' of the last ' + S.events.length + ' events (at most ' + MAX_EVENTS + ')';
    renderCluster();
  }

  /* ---- rendering: score over time ----------------------------------- */

  function renderScoreSelect() {
    var sel = $('score-resource');
    var keep = S.chartId || sel.value;
    clear(sel);
    var ids = Array.from(S.resources.keys()).sort();
    ids.forEach(function (id) {
      var r = S.resources.get(id);
      append(sel, h('option', { value: id, text: id + (r.score ? ' (p ' + fmtP(r.score.p) + ')' : '') }));
    });
    if (keep && S.resources.has(keep)) sel.value = keep;
    else {
      var scored = ids.filter(function (id) { return S.history.has(id); });
      if (scored.length) sel.value = scored[0];
    }
    S.chartId = sel.value || null;
  }

  function showScores(id) {
    S.chartId = id;
    renderScoreSelect();
    switchView('scores');
  }

  function points(id) {
    var pts = (S.history.get(id) || []).slice();
    var r = S.resources.get(id);
    if (r && r.score && typeof r.score.p === 'number') {
      pts.push({ t: Date.now(), p: r.score.p, src: 'now', now: true });
    }
    return pts;
  }

  function renderChart() {
    var box = clear($('chart'));
    var tb = clear($('score-points').tBodies[0]);
    var id = S.chartId;
    if (!id) { append(box, h('p', { class: 'muted', text: 'No resource.' })); return; }
    var pts = points(id);
    box.setAttribute('data-resource', id);
    box.setAttribute('data-points', String(pts.length));
    if (!pts.length) {
      append(box, h('p', { class: 'muted', text: id + ' has no score yet.' }));
      return;
    }
    var W = 720, H = 240, L = 44, R = 12, T = 12, B = 28;
    var t0 = pts[0].t, t1 = pts[pts.length - 1].t;
    if (t1 - t0 < 60000) t0 = t1 - 60000;
    var x = function (t) { return L + (W - L - R) * (t - t0) / (t1 - t0); };
    var y = function (p) { return T + (H - T - B) * (1 - p); };
    var svg = h('svg:svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'plot', role: 'img',
      'aria-label': 'p_fail of ' + id + ' over time, ' + pts.length + ' points' });
    append(svg, h('svg:title', { text: 'p_fail of ' + id + ' over time' }));
    [0, 0.25, 0.5, 0.75, 1].forEach(function (v) {
      append(svg, h('svg:line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'gridline' }));
      append(svg, h('svg:text', { x: L - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end', text: v.toFixed(2) }));
    });
    [['migrate', S.policy.migrate_threshold], ['provision', S.policy.provision_threshold]].forEach(function (th) {
      if (typeof th[1] !== 'number') return;
      append(svg, h('svg:line', { x1: L, x2: W - R, y1: y(th[1]), y2: y(th[1]), class: 'thr thr-' + th[0] }));
      append(svg, h('svg:text', { x: W - R - 4, y: y(th[1]) - 4, class: 'axis thr-label', 'text-anchor': 'end', text: th[0] + ' ' + th[1] }));
    });
    append(svg, h('svg:text', { x: L, y: H - 8, class: 'axis', text: fmtTime(t0) }));
    append(svg, h('svg:text', { x: W - R, y: H - 8, class: 'axis', 'text-anchor': 'end', text: fmtTime(t1) }));
    /* A step line: a score holds until the next one. */
    var d = 'M' + x(pts[0].t).toFixed(1) + ' ' + y(pts[0].p).toFixed(1);
    for (var i = 1; i < pts.length; i++) {
      d += ' H' + x(pts[i].t).toFixed(1) + ' V' + y(pts[i].p).toFixed(1);
    }
    append(svg, h('svg:path', { d: d.trim(), class: 'series' }));
    pts.forEach(function (pt) {
      append(svg, h('svg:circle', { cx: x(pt.t).toFixed(1), cy: y(pt.p).toFixed(1), r: pt.now ? 4 : 3,
        class: 'pt risk-' + risk({ score: { p: pt.p } }) + (pt.now ? ' now' : ''), data: { p: pt.p, t: pt.t } },
      h('svg:title', { text: fmtTime(pt.t) + ': p_fail ' + fmtP(pt.p) + ' (' + pt.src + ')' })));
    });
    append(box, svg);
    pts.slice().reverse().slice(0, 50).forEach(function (pt) {
      append(tb, h('tr', null, h('td', { text: pt.now ? 'now' : fmtTime(pt.t) }), h('td', { text: fmtP(pt.p) }),
        h('td', { text: pt.now ? 'current score' : pt.src })));
    });
  }

  /* ---- views -------------------------------------------------------- */

  function switchView(name) {
    S.view = name;
    Array.prototype.forEach.call(document.querySelectorAll('[role=tab]'), function (t) {
      var on = t.getAttribute('data-view') === name;
      t.setAttribute('aria-selected', on ? 'true' : 'false');
      t.tabIndex = on ? 0 : -1;
      $('view-' + t.getAttribute('data-view')).hidden = !on;
    });
    if (name === 'scores') { renderScoreSelect(); renderChart(); }
  }

  function onTabKey(ev) {
    var tabs = Array.prototype.slice.call(document.querySelectorAll('[role=tab]'));
    var i = tabs.indexOf(ev.target);
    if (i < 0) return;
    var j = ev.key === 'ArrowRight' ? (i + 1) % tabs.length : ev.key === 'ArrowLeft' ? (i + tabs.length - 1) % tabs.length
      : ev.key === 'Home' ? 0 : ev.key === 'End' ? tabs.length - 1 : -1;
    if (j < 0) return;
    ev.preventDefault();
    tabs[j].focus();
    switchView(tabs[j].getAttribute('data-view'));
  }

  /* ---- start -------------------------------------------------------- */

  function init() {
    $('login-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      signIn($('token-input').value);
    });
    $('logout').addEventListener('click', function () { signOut(); });
    $('banner-close').addEventListener('click', hideBanner);
    Array.prototype.forEach.call(document.querySelectorAll('[role=tab]'), function (t) {
      t.addEventListener('click', function () { switchView(t.getAttribute('data-view')); });
      t.addEventListener('keydown', onTabKey);
    });
    [['fleet', 'fleet'], ['detail', 'fleet'], ['workflows', 'workflows']].forEach(function (p) {
      $(p[0]).addEventListener('pointerdown', function () { held = p[1]; });
    });
    document.addEventListener('pointerup', function () { held = null; });
    document.addEventListener('pointercancel', function () { held = null; });
    $('fleet').addEventListener('click', function (ev) {
      var el = ev.target.closest('.res');
      if (el) select(el.getAttribute('data-id'));
    });
    $('fleet').addEventListener('keydown', function (ev) {
      if (ev.key !== 'Enter' && ev.key !== ' ') return;
      var el = ev.target.closest('.res');
      if (!el) return;
      ev.preventDefault();
      select(el.getAttribute('data-id'));
    });
    $('fleet-filter').addEventListener('input', function () { renderFleet(); });
    $('migrate-form').addEventListener('submit', migrate);
    $('workflows').addEventListener('click', workflowAction);
    $('wf-filter').addEventListener('change', renderWorkflows);
    $('ev-filter').addEventListener('input', renderEvents);
    $('score-resource').addEventListener('change', function () { S.chartId = $('score-resource').value; renderChart(); });

    /* A #token= link opened in this tab later (same document). */
    window.addEventListener('hashchange', function () {
      var t = tokenFromHash();
      if (t !== null) signIn(t);
    });
    var token = tokenFromHash();
    if (token === null) token = sessionStorage.getItem(TOKEN_KEY);
    if (token) signIn(token); else showLogin();
  }

  /* /ui/#token=T signs in with T, which is taken out of the address bar
   * and the history at once; a fragment never reaches the server. */
  function tokenFromHash() {
    var m = /(?:^#|&)token=([^&]*)/.exec(location.hash || '');
    if (!m) return null;
    var token;
    try { token = decodeURIComponent(m[1]); } catch (e) { token = m[1]; }
    history.replaceState(null, '', location.pathname + location.search);
    return token;
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
