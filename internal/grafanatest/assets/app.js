// Panelcast's stand-in for Grafana's frontend bundle (package grafanatest).
// Like Grafana's, it sets nothing until it has arrived and has fetched the
// dashboard, and it queries only some time after that.
(function () {
  'use strict';

  var route = /^\/(d|d-solo)\/([^/]+)/.exec(location.pathname);
  if (!route) {
    return; // the login page loads the bundle too, and has nothing to do
  }
  var solo = route[1] === 'd-solo';
  var uid = decodeURIComponent(route[2]);
  var params = new URLSearchParams(location.search);
  var settings = ((window.grafanaBootData || {}).settings || {}).panelcast || {};
  var root = document.getElementById('reactRoot');

  function ms(name, def) {
    var v = params.get(name);
    var n = v === null || v === '' ? NaN : Number(v);
    return isFinite(n) && n >= 0 ? n : def;
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function showMessage(text) {
    root.textContent = '';
    root.appendChild(el('div', 'page-message', text));
  }

  function getJSON(url, init) {
    return fetch(url, Object.assign({ credentials: 'same-origin' }, init)).then(function (res) {
      return res.json().then(
        function (body) { return { ok: res.ok, body: body }; },
        function () { return { ok: false, body: { message: 'HTTP ' + res.status } }; }
      );
    });
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  // Go layout 2006-01-02T15:04:05-07:00, in the browser's time zone.
  function localISO(d) {
    var off = -d.getTimezoneOffset();
    var sign = off < 0 ? '-' : '+';
    off = Math.abs(off);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) +
      'T' + pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) +
      sign + pad(Math.floor(off / 60)) + ':' + pad(off % 60);
  }

  var instant = new Date(settings.reportInstant);
  var timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  // What a time axis would show, so a picture tells its time zone and locale.
  var timeLabel = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })
    .format(instant) + ' ' + timeZone;

  getJSON('/api/panelcast-test/dashboards/' + encodeURIComponent(uid)).then(function (r) {
    if (!r.ok) {
      showMessage(r.body.message || 'Failed to load dashboard');
      return;
    }
    start(r.body);
  }, function (err) {
    showMessage('Failed to load dashboard: ' + err);
  });

  function start(model) {
    var cfg = model.meta.panelcast;
    var queryMs = ms('query', cfg.queryMs);
    var panels = model.dashboard.panels;
    if (solo) {
      // Scenes' solo page takes the panel's id or its key, panel-<id>.
      var id = Number(String(params.get('panelId')).replace(/^panel-/, ''));
      panels = panels.filter(function (p) { return p.id === id; });
      if (panels.length === 0) {
        showMessage('Panel not found');
        return;
      }
    }

    root.textContent = '';
    var container = el('div', solo ? 'panel-solo' : 'dashboard-grid');
    if (solo) document.body.classList.add('page-solo');
    root.appendChild(container);
    var views = new Map();
    panels.forEach(function (p) {
      var view = mountPanel(container, p);
      views.set(view.node, view);
    });

    var counting = cfg.signals === 'scenes' || cfg.signals === 'binding';
    if (counting) {
      window.__grafanaSceneContext = { uid: uid };
      window.__grafanaRunningQueryCount = 0;
    }
    if (cfg.signals === 'legacy') window.panelsRendered = 0;
    sendReport();

    var unpainted = views.size;
    function running(delta) {
      if (counting) window.__grafanaRunningQueryCount += delta;
    }
    function painted() {
      if (cfg.signals === 'legacy') window.panelsRendered += 1;
      unpainted -= 1;
      if (unpainted === 0 && cfg.signals === 'binding' &&
          typeof window.__grafanaImageRendererMessageChannel === 'function') {
        window.__grafanaImageRendererMessageChannel(cfg.bindingMessage);
      }
    }

    function run(view) {
      running(1);
      var url = '/api/ds/query?scenario=' + encodeURIComponent(uid) + '&ms=' + queryMs +
        '&panelId=' + view.panel.id;
      getJSON(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          queries: [{ refId: 'A', datasource: { type: 'grafana-testdata-datasource' } }],
          from: params.get('from'),
          to: params.get('to')
        })
      }).then(function (r) {
        if (!r.ok) {
          paintError(view, r.body.message || 'Query failed');
          running(-1);
          painted();
          return;
        }
        if (cfg.signals === 'binding') {
          // The count drains now, the picture comes with a later render pass.
          running(-1);
          setTimeout(function () {
            paintData(view, r.body);
            painted();
          }, cfg.bindingPaintDelayMs);
          return;
        }
        paintData(view, r.body);
        running(-1);
        painted();
        if (cfg.download) download(cfg.download);
      }, function (err) {
        paintError(view, 'Query failed: ' + err);
        running(-1);
        painted();
      });
    }

    setTimeout(function () {
      if (solo) {
        views.forEach(run);
        return;
      }
      // Dashboards load panels lazily, as Grafana's do: a panel queries
      // only once it is inside the viewport.
      var observer = new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          if (!entry.isIntersecting) return;
          observer.unobserve(entry.target);
          run(views.get(entry.target));
        });
      });
      views.forEach(function (view) { observer.observe(view.node); });
    }, ms('querystart', 200));
  }

  function mountPanel(parent, panel) {
    var node = el('div', 'panel-container');
    node.setAttribute('data-panelid', String(panel.id));
    if (!solo) node.style.height = panel.height ? panel.height + 'px' : '100vh';
    var header = el('div', 'panel-header');
    if (panel.title) { // like Grafana, a panel without a title has no header text
      header.appendChild(el('span', 'panel-title', panel.title));
      header.appendChild(el('span', 'panel-time', timeLabel));
    }
    var content = el('div', 'panel-content');
    node.appendChild(content);
    node.appendChild(header);
    parent.appendChild(node);
    return { panel: panel, node: node, header: header, content: content };
  }

  // fill paints the panel's area from fraction `from` of its height to the
  // bottom, at full device resolution so no edge is blurred.
  function fill(view, color, from) {
    var canvas = document.createElement('canvas');
    view.content.appendChild(canvas);
    var dpr = window.devicePixelRatio || 1;
    var w = Math.max(1, Math.round(canvas.clientWidth * dpr));
    var h = Math.max(1, Math.round(canvas.clientHeight * dpr));
    canvas.width = w;
    canvas.height = h;
    var top = Math.round(h * from);
    var ctx = canvas.getContext('2d');
    ctx.fillStyle = color;
    ctx.fillRect(0, top, w, h - top);
  }

  function paintData(view, body) {
    if (view.panel.type === 'table') {
      renderTable(view, body);
      return;
    }
    fill(view, settings.series, view.panel.fill === 'full' ? 0 : 0.5);
  }

  function paintError(view, message) {
    view.header.appendChild(el('span', 'panel-error', message));
    fill(view, settings.error, 0.5);
  }

  function renderTable(view, body) {
    var frame = body.results.A.frames[0];
    var table = el('table');
    var head = el('tr');
    frame.schema.fields.forEach(function (f) { head.appendChild(el('th', '', f.name)); });
    table.appendChild(head);
    frame.data.values[0].forEach(function (t, i) {
      var row = el('tr');
      row.appendChild(el('td', '', new Date(t).toISOString()));
      row.appendChild(el('td', '', String(frame.data.values[1][i])));
      table.appendChild(row);
    });
    view.content.appendChild(table);
  }

  // download saves the panel's data the way Grafana's export does: the data
  // is fetched by script and saved through a blob: URL, so no response of
  // the browser's carries the file. download=link clicks a link to a URL
  // that answers with Content-Disposition instead.
  function download(d) {
    if (params.get('download') === 'link') {
      clickDownload(d.url, d.fileName);
      return;
    }
    fetch(d.url, { credentials: 'same-origin' }).then(function (res) {
      return res.text();
    }).then(function (text) {
      var url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
      clickDownload(url, d.fileName);
      setTimeout(function () { URL.revokeObjectURL(url); }, 40000);
    });
  }

  function clickDownload(href, name) {
    var a = el('a');
    a.href = href;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    document.body.removeChild(a);
  }

  function sendReport() {
    fetch('/api/panelcast-test/report', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        scenario: uid,
        timeZone: timeZone,
        localTime: localISO(instant),
        language: navigator.language,
        userAgent: navigator.userAgent,
        width: window.innerWidth,
        height: window.innerHeight,
        dpr: window.devicePixelRatio,
        binding: typeof window.__grafanaImageRendererMessageChannel === 'function'
      })
    }).catch(function () {
      // The report is for tests; a page that cannot send it still renders.
    });
  }
})();
