/**
 * The status page's script (served at `/ui/app.js`): polls `/ui/api/status` twice a second,
 * derives write and read rates from the counters' deltas, lists keys under a prefix and follows
 * them live through `/ui/api/watch` (newline-delimited JSON read with fetch, so the endpoint's
 * token travels in a header, which EventSource cannot send). Plain browser JavaScript, kept in
 * a string so the package ships it without a build step; it must not contain backquotes.
 */
export const PAGE_JS = String.raw`(function () {
  'use strict';
  var POLL_MS = 500;
  var token = sessionStorage.getItem('quorumkv-token') || '';
  var previous = null;
  var watchAbort = null;
  var $ = function (id) { return document.getElementById(id); };

  function headers() { return token ? { authorization: 'Bearer ' + token } : {}; }

  function needToken() {
    $('token-form').hidden = false;
    setConn('token needed', 'bad');
  }

  function api(path, init) {
    return fetch(path, Object.assign({ headers: headers(), cache: 'no-store' }, init || {})).then(function (r) {
      if (r.status === 401) { needToken(); throw new Error('unauthorized'); }
      if (!r.ok) return r.text().then(function (t) { throw new Error(r.status + ' ' + t); });
      return r;
    });
  }

  function setConn(text, kind) {
    var el = $('conn');
    el.textContent = text;
    el.className = 'badge ' + (kind || '');
  }

  function cell(row, text, cls) {
    var td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function dl(el, pairs) {
    el.replaceChildren();
    pairs.forEach(function (p) {
      var dt = document.createElement('dt'); dt.textContent = p[0];
      var dd = document.createElement('dd'); dd.textContent = p[1];
      if (p[2]) dd.id = p[2];
      el.appendChild(dt); el.appendChild(dd);
    });
  }

  function ms(seconds) { return (seconds * 1000).toFixed(seconds < 0.01 ? 2 : 0) + ' ms'; }

  function rate(now, before, field, dt) {
    if (!before || dt <= 0) return '–';
    return Math.max(0, (now.metrics[field] - before.metrics[field]) / dt).toFixed(1) + ' /s';
  }

  function renderStatus(s) {
    setConn('live', 'ok');
    $('self').textContent = 'member ' + s.status.id + ' · ' + s.version;
    var body = $('members').tBodies[0];
    body.replaceChildren();
    s.members.forEach(function (m) {
      var tr = document.createElement('tr');
      tr.dataset.member = m.id;
      cell(tr, m.id + (m.id === s.status.id ? ' (this page)' : ''));
      cell(tr, m.role, 'role-' + m.role).dataset.role = m.role;
      cell(tr, m.url || '–');
      cell(tr, m.lag === null ? '–' : String(m.lag));
      body.appendChild(tr);
    });
    var st = s.status;
    dl($('raft'), [
      ['leader', st.leader || 'none', 'leader'],
      ['term', String(st.term)],
      ['commit index', String(st.commitIndex)],
      ['applied index', String(st.appliedIndex)],
      ['revision', String(st.revision) + ' (compacted at ' + st.compactRevision + ')'],
      ['leader changes seen', String(s.metrics.leaderChangesSeen)],
    ]);
    var dt = previous ? (s.time - previous.time) / 1000 : 0;
    var loop = s.metrics.eventLoopDelay;
    dl($('load'), [
      ['writes (applied entries)', rate(s, previous, 'proposalsApplied', dt), 'write-rate'],
      ['reads served', rate(s, previous, 'readsServed', dt), 'read-rate'],
      ['writes pending / failed', s.metrics.proposalsPending + ' / ' + s.metrics.proposalsFailed],
      ['event-loop delay p99 / max', ms(loop.p99Seconds) + ' / ' + ms(loop.maxSeconds)],
      ['keys · leases · watches', s.metrics.keys + ' · ' + s.metrics.leases + ' · ' + s.metrics.watches],
      ['slow applies', String(s.metrics.slowApplies)],
    ]);
    renderHistogram($('fsync'), s.metrics.walFsync);
    previous = s;
  }

  function renderHistogram(el, h) {
    el.replaceChildren();
    var counts = [];
    var last = 0;
    h.buckets.forEach(function (b) { counts.push(b.count - last); last = b.count; });
    var max = Math.max.apply(null, counts.concat([1]));
    h.buckets.forEach(function (b, i) {
      var bar = document.createElement('div');
      bar.style.height = Math.round((counts[i] / max) * 100) + '%';
      bar.title = (b.le === null ? '> last bound' : '≤ ' + ms(b.le)) + ': ' + counts[i];
      if (i % 3 === 0) {
        var label = document.createElement('span');
        label.textContent = b.le === null ? '+∞' : ms(b.le);
        bar.appendChild(label);
      }
      el.appendChild(bar);
    });
  }

  function poll() {
    api('/ui/api/status').then(function (r) { return r.json(); }).then(renderStatus).catch(function (err) {
      if (String(err.message) !== 'unauthorized') setConn('unreachable: ' + err.message, 'bad');
    }).finally(function () { setTimeout(poll, POLL_MS); });
  }

  function keyRow(kv) {
    var tr = document.createElement('tr');
    tr.dataset.key = kv.key;
    cell(tr, kv.key, 'value');
    cell(tr, kv.value, 'value');
    cell(tr, String(kv.modRevision));
    cell(tr, String(kv.version));
    cell(tr, kv.lease ? String(kv.lease) : '');
    return tr;
  }

  function upsert(kv) {
    var body = $('keys').tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var row = keyRow(kv);
    row.className = 'fresh';
    for (var i = 0; i < rows.length; i++) {
      var k = rows[i].dataset.key;
      if (k === kv.key) { body.replaceChild(row, rows[i]); return; }
      if (k > kv.key) { body.insertBefore(row, rows[i]); return; }
    }
    body.appendChild(row);
  }

  function remove(key) {
    var rows = $('keys').tBodies[0].rows;
    for (var i = 0; i < rows.length; i++) if (rows[i].dataset.key === key) { rows[i].remove(); return; }
  }

  function follow(prefix, fromRevision) {
    if (watchAbort) watchAbort.abort();
    var abort = new AbortController();
    watchAbort = abort;
    var url = '/ui/api/watch?prefix=' + encodeURIComponent(prefix) + '&startRevision=' + fromRevision;
    api(url, { signal: abort.signal }).then(function (r) {
      var reader = r.body.getReader();
      var decoder = new TextDecoder();
      var pending = '';
      var next = fromRevision;
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) throw new Error('stream ended');
          pending += decoder.decode(chunk.value, { stream: true });
          var lines = pending.split('\n');
          pending = lines.pop();
          lines.forEach(function (line) {
            if (!line) return;
            var m = JSON.parse(line);
            if (m.type === 'put') upsert(m.kv);
            else if (m.type === 'delete') remove(m.kv.key);
            if (m.revision) next = m.revision + 1;
          });
          return pump();
        });
      }
      return pump().catch(function (err) {
        if (abort.signal.aborted) return;
        $('browse-note').textContent = 'live updates paused (' + err.message + '); resuming…';
        setTimeout(function () { if (!abort.signal.aborted) follow(prefix, next); }, 1000);
      });
    }).catch(function (err) {
      if (abort.signal.aborted) return;
      setTimeout(function () { if (!abort.signal.aborted) follow(prefix, fromRevision); }, 1000);
    });
  }

  function browse(prefix) {
    if (watchAbort) watchAbort.abort();
    api('/ui/api/keys?prefix=' + encodeURIComponent(prefix)).then(function (r) { return r.json(); }).then(function (res) {
      var body = $('keys').tBodies[0];
      body.replaceChildren();
      res.kvs.forEach(function (kv) { body.appendChild(keyRow(kv)); });
      $('browse-note').textContent = 'listed ' + res.count + ' key(s)' + (res.more ? ' (first ' + res.kvs.length + ' shown)' : '') + ' at revision ' + res.revision + ', following changes live';
      follow(prefix, res.revision + 1);
    }).catch(function (err) {
      $('browse-note').textContent = 'cannot list keys: ' + err.message;
      setTimeout(function () { browse(prefix); }, 1000);
    });
  }

  $('token-form').addEventListener('submit', function (e) {
    e.preventDefault();
    token = $('token').value;
    sessionStorage.setItem('quorumkv-token', token);
    $('token-form').hidden = true;
    browse($('prefix').value);
  });
  $('browse').addEventListener('submit', function (e) { e.preventDefault(); browse($('prefix').value); });
  var initial = new URLSearchParams(location.search).get('prefix');
  if (initial !== null) $('prefix').value = initial;
  poll();
  browse($('prefix').value);
})();
`;
