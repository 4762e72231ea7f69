// zksim trace page: a swimlane timeline (one row per event, grouped by step) drawn only for
// the rows in view, and the znode tree at the selected step rebuilt from snapshots and deltas.
(function () {
  'use strict';
  var errors = [];
  function report(msg) {
    errors.push(String(msg));
    var pre = document.getElementById('errors');
    if (pre) pre.textContent = errors.join('\n');
    document.body.setAttribute('data-errors', String(errors.length));
  }
  window.addEventListener('error', function (e) { report('error: ' + e.message); });
  var consoleError = console.error;
  console.error = function () {
    report('console.error: ' + Array.prototype.join.call(arguments, ' '));
    consoleError.apply(console, arguments);
  };

  var D = JSON.parse(document.getElementById('trace-data').textContent);
  var rows = D.rows, steps = D.steps, lanes = D.lanes;
  var nLanes = lanes.length, zkLane = nLanes - 1;
  var SVGNS = 'http://www.w3.org/2000/svg', BUCKET = 256;
  // A lane: its line LINE_AT px from its left edge, labels LABEL_GAP px right of the line, up
  // to LANE_PAD px short of the lane's right edge. Lanes are sized to their labels (in
  // characters: at least MIN_CH, and no more is asked for than MAX_CH), the server's wider.
  var LINE_AT = 10, LABEL_GAP = 8, LANE_PAD = 4;
  var MIN_CH = 8, MAX_CH = 48, ZK_MIN_CH = 24, ZK_MAX_CH = 72;
  var ROW_HEIGHTS = [1, 2, 4, 8, 12, 18];
  var rowH = 18;
  var range = [0, rows.length]; // rows shown: [from, to)
  var selected = -1, hoverTask = -1, pinnedTask = -1, hoverRow = -1;
  var GUT = 80, charW = 6.7; // set by layout(): the gutter's width, a label character's
  var lefts = [], widths = [];

  var KIND = {
    send: ['#1565c0', 'request sent'], hand: ['#0d47a1', 'server answered'],
    chg: ['#2e7d32', 'znode change'], rep: ['#1565c0', 'reply received'],
    watch: ['#ef6c00', 'watch/session event'], lost: ['#c62828', 'lost'],
    timer: ['#9e9e9e', 'timer'], chose: ['#9e9e9e', 'choice'], log: ['#9e9e9e', 'log'],
    crash: ['#b71c1c', 'crash'], sess: ['#6a1b9a', 'session'], disc: ['#e65100', 'disconnect'],
    recon: ['#6a1b9a', 'reconnect'], claim: ['#00695c', 'claim'], act: ['#777777', 'action'],
    viol: ['#c62828', 'violation']
  };

  // The longest label of each lane, in characters (what the lane would need to show all).
  var longest = lanes.map(function () { return 0; });
  rows.forEach(function (r) { if (r[1] >= 0) longest[r[1]] = Math.max(longest[r[1]], r[3].length); });
  var timeMax = steps.length ? steps[steps.length - 1][0] : 0;

  // Step of each row, first row of each step, rows of each task, arrows by bucket.
  var taskRows = D.tasks.map(function () { return []; });
  rows.forEach(function (r, i) { if (r[4] >= 0) taskRows[r[4]].push(i); });
  function stepEnd(s) { return s + 1 < steps.length ? steps[s + 1][2] : rows.length; }
  var buckets = [];
  D.msgs.forEach(function (m, i) {
    for (var b = Math.floor(m[0] / BUCKET); b <= Math.floor(m[1] / BUCKET); b++) {
      (buckets[b] = buckets[b] || []).push(i);
    }
  });

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function esc(s) {
    return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  }

  // ---- the page's frame
  var body = document.body;
  body.appendChild(el('pre', { id: 'errors' }));
  var bar = body.appendChild(el('div', { id: 'bar' }));
  bar.appendChild(el('h1', {}, 'zksim: ' + D.title));
  bar.appendChild(el('span', { 'class': 'verdict' }, D.verdict));
  var viol = bar.appendChild(el('span', { id: 'violations' }));
  D.violations.forEach(function (v) {
    var a = viol.appendChild(el('a', { title: 'go to step ' + v[1] }, 'VIOLATED at step ' + v[1] + ': ' + v[0]));
    a.addEventListener('click', function () { select(v[1], true); });
  });
  var zoomBox = bar.appendChild(el('span', {}));
  var zoomOut = zoomBox.appendChild(el('button', { title: 'smaller rows (ctrl+wheel)' }, '−'));
  var zoomIn = zoomBox.appendChild(el('button', { title: 'larger rows (ctrl+wheel)' }, '+'));
  var rangeBox = bar.appendChild(el('span', {}));
  rangeBox.appendChild(document.createTextNode('steps '));
  var fromIn = rangeBox.appendChild(el('input', { type: 'number', min: '0', max: String(steps.length - 1), value: '0' }));
  rangeBox.appendChild(document.createTextNode(' to '));
  var toIn = rangeBox.appendChild(el('input', { type: 'number', min: '0', max: String(steps.length - 1), value: String(steps.length - 1) }));
  var showBtn = rangeBox.appendChild(el('button', {}, 'show'));
  var allBtn = rangeBox.appendChild(el('button', {}, 'all'));
  var taskSel = bar.appendChild(el('select', { title: 'follow a task' }));
  taskSel.appendChild(el('option', { value: '-1' }, 'task: (none)'));
  D.tasks.forEach(function (t, i) { taskSel.appendChild(el('option', { value: String(i) }, 'task ' + t)); });
  var legend = bar.appendChild(el('span', { id: 'legend' }));
  [['#ffe08a', 'owns /master'], ['#cfcfcf', 'crashed'], ['#ffd0b0', 'disconnected'], ['#ffef60', 'task followed']].forEach(function (l) {
    var s = legend.appendChild(el('span', {}));
    s.appendChild(el('i', { style: 'background:' + l[0] }));
    s.appendChild(document.createTextNode(l[1]));
  });

  var main = body.appendChild(el('div', { id: 'main' }));
  var timeline = main.appendChild(el('div', { id: 'timeline' }));
  var heads = timeline.appendChild(el('div', { id: 'heads' }));
  var headsIn = heads.appendChild(el('div', { id: 'heads-in' }));
  var scroll = timeline.appendChild(el('div', { id: 'scroll' }));
  var spacer = scroll.appendChild(el('div', { id: 'spacer' }));
  var svg = document.createElementNS(SVGNS, 'svg');
  svg.setAttribute('id', 'svg');
  scroll.appendChild(svg);
  var side = main.appendChild(el('div', { id: 'side' }));
  var stepInfo = side.appendChild(el('div', { id: 'stepinfo' }));
  var treeBox = side.appendChild(el('div', { id: 'tree' }));
  var taskBox = side.appendChild(el('div', { id: 'task' }));

  // ---- geometry
  function laneLeft(l) { return lefts[l]; }
  function laneWidth(l) { return widths[l]; }
  function laneX(l) { return lefts[l] + LINE_AT; }
  function totalWidth() { return GUT + widths.reduce(function (a, b) { return a + b; }, 0); }
  // The width of one label character (labels are monospace), measured once drawn.
  function measureChar() {
    var t = document.createElementNS(SVGNS, 'text');
    t.textContent = new Array(51).join('m');
    svg.appendChild(t);
    var w = t.getComputedTextLength() / 50;
    svg.removeChild(t);
    return w > 0 ? w : 6.7;
  }
  // `label` cut to what fits in `px` pixels, an ellipsis marking the cut ('' if nothing fits).
  function fit(label, px) {
    var n = Math.floor(px / charW);
    if (label.length <= n) return label;
    return n < 2 ? '' : label.slice(0, n - 1) + '…';
  }
  // Lane widths for `avail` pixels: each lane its minimum, then what is left shared in
  // proportion to what more each would need to show its longest label whole (capped). If even
  // the minima do not fit (many processes), the processes' lanes share what the server's
  // leaves, down to two characters a label; past that the timeline scrolls sideways.
  function allocate(avail) {
    var frame = LINE_AT + LABEL_GAP + LANE_PAD;
    var min = [], want = [], sumMin = 0, sumWant = 0;
    for (var l = 0; l < nLanes; l++) {
      var zk = l === zkLane;
      min[l] = frame + (zk ? ZK_MIN_CH : MIN_CH) * charW;
      want[l] = Math.max(min[l], frame + Math.min(longest[l], zk ? ZK_MAX_CH : MAX_CH) * charW);
      sumMin += min[l];
      sumWant += want[l];
    }
    return want.map(function (w, l) {
      if (sumWant <= avail) return Math.floor(w * avail / sumWant);
      if (sumMin <= avail) return Math.floor(min[l] + (w - min[l]) * (avail - sumMin) / (sumWant - sumMin));
      if (l === zkLane) return Math.ceil(min[l]);
      return Math.floor(Math.max(frame + 2 * charW, (avail - min[zkLane]) / (nLanes - 1)));
    });
  }
  function layout() {
    charW = measureChar();
    // The gutter: the step number, then the time right-aligned in a smaller font.
    GUT = Math.ceil(4 + String(steps.length - 1).length * charW + 8 + (String(timeMax).length + 2) * charW * 9.5 / 11 + 6);
    widths = allocate(scroll.clientWidth - GUT - 1);
    lefts = [];
    for (var l = 0, x = GUT; l < nLanes; l++) { lefts.push(x); x += widths[l]; }
    headsIn.textContent = '';
    lanes.forEach(function (name, l) {
      var full = l === zkLane ? 'zk (server)' : name;
      var h = headsIn.appendChild(el('div', { 'class': 'lane-head' + (l === zkLane ? ' zk' : ''), 'data-lane': name, title: full }, full));
      h.style.left = laneLeft(l) + 'px';
      h.style.width = laneWidth(l) + 'px';
    });
    spacer.style.height = ((range[1] - range[0]) * rowH + 40) + 'px';
    spacer.style.width = totalWidth() + 'px';
    draw();
  }

  // ---- drawing the rows in view
  var pending = false;
  function schedule() {
    if (!pending) { pending = true; requestAnimationFrame(function () { pending = false; draw(); }); }
  }
  var view = [0, 0];
  function draw() {
    var top = scroll.scrollTop, h = scroll.clientHeight || 600;
    var r0 = Math.max(range[0], range[0] + Math.floor(top / rowH) - 4);
    var r1 = Math.min(range[1], range[0] + Math.ceil((top + h) / rowH) + 4);
    view = [r0, r1];
    var W = totalWidth(), H = Math.max(1, (r1 - r0) * rowH);
    svg.setAttribute('width', W);
    svg.setAttribute('height', H);
    svg.style.top = ((r0 - range[0]) * rowH) + 'px';
    var y = function (r) { return (r - r0) * rowH; };
    var mid = function (r) { return (r - r0) * rowH + rowH / 2; };
    var out = [];
    out.push('<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
      '<rect width="6" height="6" fill="#e4e4e4"/><line x1="0" y1="0" x2="0" y2="6" stroke="#b5b5b5" stroke-width="3"/></pattern>' +
      '<marker id="ah" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#5c6b80"/></marker>' +
      '<marker id="ahl" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#c62828"/></marker></defs>');
    // lane states
    var ordered = ['master', 'disconnected', 'crashed', 'killed'];
    ordered.forEach(function (state) {
      D.spans.forEach(function (sp) {
        if (sp[3] !== state || sp[1] <= r0 || sp[0] >= r1) return;
        var a = Math.max(sp[0], r0), b = Math.min(sp[1], r1);
        var x = laneLeft(sp[2]) + 2, w = laneWidth(sp[2]) - 4;
        var fill = state === 'master' ? '#ffe08a' : state === 'disconnected' ? '#ffd0b0' : 'url(#hatch)';
        var op = state === 'master' ? 0.8 : 0.75;
        out.push('<rect class="span ' + state + '" x="' + x + '" y="' + y(a) + '" width="' + w + '" height="' + (b - a) * rowH +
          '" fill="' + fill + '" opacity="' + op + '"><title>' + lanes[sp[2]] + ' ' + (state === 'master' ? 'owns /master' : state) + '</title></rect>');
      });
    });
    // the selected step
    if (selected >= 0) {
      var sa = Math.max(steps[selected][2], r0), sb = Math.min(stepEnd(selected), r1);
      if (sb > sa) out.push('<rect x="0" y="' + y(sa) + '" width="' + W + '" height="' + (sb - sa) * rowH + '" fill="#4f8ef7" opacity="0.16"/>');
    }
    // lane lines
    for (var l = 0; l < nLanes; l++) {
      out.push('<line x1="' + laneX(l) + '" y1="0" x2="' + laneX(l) + '" y2="' + H + '" stroke="' + (l === zkLane ? '#0d47a1' : '#c3c9d3') + '" stroke-width="' + (l === zkLane ? 2 : 1) + '"/>');
    }
    var task = pinnedTask >= 0 ? pinnedTask : hoverTask;
    var text = rowH >= 12;
    var drawn = 0;
    var lastGutter = -1e9;
    // Row backgrounds under the arrows; markers and labels over them (a label's white halo
    // keeps it readable where an arrow crosses it). A label stays inside its lane, cut with
    // an ellipsis; its title (the tooltip) has it whole.
    var bg = [], fg = [];
    function label(x, yy, room, whole, attrs) {
      var t = fit(whole, room);
      if (t) fg.push('<text x="' + x + '" y="' + yy + '"' + attrs + '>' + esc(t) + '<title>' + esc(whole) + '</title></text>');
    }
    for (var r = r0; r < r1; r++) {
      var row = rows[r], s = row[0], lane = row[1], kind = row[2];
      var isFirst = steps[s][2] === r;
      var base = y(r) + rowH - 5;
      if (isFirst && (rowH >= 4 || (r - lastGutter) * rowH >= 14)) {
        bg.push('<line x1="0" y1="' + y(r) + '" x2="' + W + '" y2="' + y(r) + '" stroke="#e3e6eb"/>');
      }
      if (isFirst && (r - lastGutter) * rowH >= 12) {
        lastGutter = r;
        fg.push('<text x="4" y="' + (y(r) + Math.min(rowH, 12) - 1) + '" fill="#4a5568">' + s + '</text>' +
          '<text x="' + (GUT - 6) + '" y="' + (y(r) + Math.min(rowH, 12) - 1) + '" fill="#8a94a6" text-anchor="end" style="font-size:9.5px">' + steps[s][0] + 'ms</text>');
      }
      if (task >= 0 && row[4] === task) {
        bg.push('<rect class="task-hl" x="' + GUT + '" y="' + y(r) + '" width="' + (W - GUT) + '" height="' + rowH + '" fill="#ffef60" opacity="0.55"/>');
      }
      if (kind === 'viol') {
        bg.push('<rect class="viol" x="0" y="' + y(r) + '" width="' + W + '" height="' + Math.max(rowH, 2) + '" fill="#c62828"/>');
        if (text) label(GUT + 6, base, W - GUT - 12, row[3] + ' (step ' + s + ')', ' class="row wide" fill="#fff" font-weight="700"');
        drawn++;
        continue;
      }
      if (lane < 0) {
        if (text) label(GUT + 6, base, W - GUT - 12, row[3], ' class="row wide" fill="#8a94a6" font-style="italic"');
        drawn++;
        continue;
      }
      var color = (KIND[kind] || ['#333'])[0], x = laneX(lane), cy = mid(r);
      var rr = Math.max(1, Math.min(4, rowH / 3));
      if (kind === 'crash') {
        fg.push('<path d="M' + (x - 6) + ',' + (cy - 6) + 'L' + (x + 6) + ',' + (cy + 6) + 'M' + (x + 6) + ',' + (cy - 6) + 'L' + (x - 6) + ',' + (cy + 6) + '" stroke="' + color + '" stroke-width="3"/>');
      } else if (kind === 'watch') {
        fg.push('<path d="M' + x + ',' + (cy - rr - 1) + 'L' + (x + rr + 1) + ',' + cy + 'L' + x + ',' + (cy + rr + 1) + 'L' + (x - rr - 1) + ',' + cy + 'z" fill="' + color + '"/>');
      } else if (kind === 'hand' || kind === 'chg') {
        fg.push('<rect x="' + (x - rr) + '" y="' + (cy - rr) + '" width="' + 2 * rr + '" height="' + 2 * rr + '" fill="' + color + '"/>');
      } else {
        fg.push('<circle cx="' + x + '" cy="' + cy + '" r="' + rr + '" fill="' + color + '"/>');
      }
      drawn++;
      if (text) {
        var lx = x + LABEL_GAP;
        var weight = (kind === 'crash' || kind === 'claim' || kind === 'disc' || (kind === 'chg' && /EXPIRED|\/master/.test(row[3]))) ? ' font-weight="700"' : '';
        var fill = kind === 'timer' || kind === 'chose' || kind === 'log' ? '#8a94a6' : kind === 'chg' && /EXPIRED/.test(row[3]) ? '#b71c1c' : color;
        label(lx, base, laneLeft(lane) + laneWidth(lane) - LANE_PAD - lx, row[3], ' class="row" data-lane="' + esc(lanes[lane]) + '" fill="' + fill + '"' + weight);
      }
    }
    out.push(bg.join(''));
    // arrows overlapping the view
    var seen = {};
    for (var b = Math.floor(r0 / BUCKET); b <= Math.floor(Math.max(r0, r1 - 1) / BUCKET); b++) {
      (buckets[b] || []).forEach(function (i) {
        if (seen[i]) return;
        seen[i] = true;
        var m = D.msgs[i];
        if (m[1] < r0 || m[0] >= r1) return;
        var x1 = laneX(rows[m[0]][1]), x2 = laneX(rows[m[1]][1]);
        var lost = m[2] === 'lost';
        out.push('<line class="msg ' + m[2] + '" x1="' + x1 + '" y1="' + mid(m[0]) + '" x2="' + x2 + '" y2="' + mid(m[1]) +
          '" stroke="' + (lost ? '#c62828' : '#5c6b80') + '" stroke-width="1.2" opacity="0.75"' + (lost ? ' stroke-dasharray="4 3"' : '') +
          ' marker-end="url(#' + (lost ? 'ahl' : 'ah') + ')"/>');
      });
    }
    out.push(fg.join(''));
    if (hoverRow >= r0 && hoverRow < r1) {
      out.push('<rect x="0" y="' + y(hoverRow) + '" width="' + W + '" height="' + rowH + '" fill="none" stroke="#4f8ef7"/>');
    }
    svg.innerHTML = out.join('');
    body.setAttribute('data-drawn', String(drawn));
    body.setAttribute('data-view', r0 + '-' + r1);
  }

  // ---- the tree at a step
  function segs(p) { return p === '/' ? [] : p.split('/').slice(1); }
  function cmpPath(a, b) {
    var x = segs(a), y = segs(b);
    for (var i = 0; i < Math.min(x.length, y.length); i++) {
      if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
    }
    return x.length - y.length;
  }
  function treeAt(s) {
    var T = D.tree;
    if (s < 0 || s >= T.deltas.length || T.snaps.length === 0) return null;
    var k = Math.min(Math.floor(s / T.every), T.snaps.length - 1);
    var m = new Map();
    T.snaps[k].forEach(function (n) { m.set(n[0], n); });
    for (var i = k * T.every + 1; i <= s; i++) {
      T.deltas[i].forEach(function (d) { if (d.length === 1) m.delete(d[0]); else m.set(d[0], d); });
    }
    return m;
  }
  function showTree(s) {
    treeBox.textContent = '';
    var now = treeAt(s);
    if (!now) {
      treeBox.appendChild(el('div', { 'class': 'err' }, D.tree.error || 'no tree at this step'));
      return;
    }
    var changed = {}, gone = [];
    D.tree.deltas[s].forEach(function (d) {
      changed[d[0]] = true;
      if (d.length === 1) gone.push(d[0]);
    });
    var before = gone.length ? treeAt(s - 1) : null;
    var all = Array.from(now.values());
    gone.forEach(function (p) { if (before && before.has(p)) all.push(before.get(p)); });
    all.sort(function (a, b) { return cmpPath(a[0], b[0]); });
    treeBox.appendChild(el('div', { 'class': 'meta' }, 'znodes after step ' + s + ' (' + now.size + '); changed in this step highlighted'));
    all.forEach(function (n) {
      var depth = segs(n[0]).length;
      var name = depth === 0 ? '/' : segs(n[0])[depth - 1];
      var isGone = !now.has(n[0]);
      var d = treeBox.appendChild(el('div', { 'class': 'node' + (isGone ? ' gone' : changed[n[0]] ? ' changed' : ''), 'data-path': n[0], title: n[0] + '  mzxid 0x' + n[6].toString(16) + '  cversion ' + n[4] }));
      // Indented by depth; a node too long for the panel wraps under its name.
      d.style.paddingLeft = (Math.max(0, depth - 1) * 2 + 2) + 'ch';
      d.appendChild(document.createTextNode('/' + (depth === 0 ? '' : name) + ' '));
      d.appendChild(el('span', {}, n[1] + ' '));
      d.appendChild(el('span', { 'class': 'meta' }, 'v' + n[2] + (n[5] ? ' [' + n[5] + ']' : '') + ' '));
      if (n[3]) d.appendChild(el('span', { 'class': 'owner' }, 'ephemeral of ' + n[3]));
    });
  }
  function showStep(s) {
    stepInfo.textContent = '';
    stepInfo.appendChild(el('div', {}, 'step ' + s + ' · ' + steps[s][0] + 'ms · ' + steps[s][1]));
    // One line an event, wrapped under its text (not cut) when longer than the panel.
    var events = stepInfo.appendChild(el('div', { 'class': 'events' }));
    for (var r = steps[s][2]; r < stepEnd(s); r++) {
      var row = rows[r];
      var line = events.appendChild(el('div', {}));
      line.appendChild(el('span', { 'class': 'who' }, row[1] < 0 ? '' : lanes[row[1]]));
      line.appendChild(document.createTextNode(row[3]));
    }
    showTree(s);
  }
  function showTask() {
    taskBox.textContent = '';
    var t = pinnedTask >= 0 ? pinnedTask : hoverTask;
    if (t < 0) { taskBox.appendChild(el('div', { 'class': 'meta' }, 'hover a row to follow its task; click to pin it')); return; }
    taskBox.appendChild(el('b', {}, 'task ' + D.tasks[t] + (pinnedTask >= 0 ? ' (pinned)' : '')));
    taskRows[t].forEach(function (r) {
      var row = rows[r];
      var line = 'step ' + row[0] + '  ' + (lanes[row[1]] || '') + '  ' + row[3];
      var d = taskBox.appendChild(el('div', { title: line }, line));
      d.addEventListener('click', function () { select(row[0], true); });
    });
  }

  // ---- interaction
  function scrollToRow(r) {
    if (r < range[0] || r >= range[1]) { range = [0, rows.length]; layout(); }
    scroll.scrollTop = Math.max(0, (r - range[0]) * rowH - scroll.clientHeight / 3);
  }
  function select(s, scrollThere) {
    if (s < 0 || s >= steps.length) return;
    selected = s;
    body.setAttribute('data-selected', String(s));
    showStep(s);
    if (scrollThere) scrollToRow(steps[s][2]);
    draw();
  }
  function rowAt(ev) {
    var rect = svg.getBoundingClientRect();
    var r = view[0] + Math.floor((ev.clientY - rect.top) / rowH);
    return r >= view[0] && r < view[1] ? r : -1;
  }
  svg.addEventListener('mousemove', function (ev) {
    var r = rowAt(ev);
    if (r === hoverRow) return;
    hoverRow = r;
    var t = r >= 0 ? rows[r][4] : -1;
    if (t !== hoverTask) { hoverTask = t; if (pinnedTask < 0) showTask(); }
    svg.setAttribute('data-hover', r);
    schedule();
  });
  svg.addEventListener('click', function (ev) {
    var r = rowAt(ev);
    if (r < 0) return;
    if (rows[r][4] >= 0) { pinnedTask = pinnedTask === rows[r][4] ? -1 : rows[r][4]; taskSel.value = String(pinnedTask); showTask(); }
    select(rows[r][0], false);
  });
  scroll.addEventListener('scroll', function () {
    headsIn.style.transform = 'translateX(' + -scroll.scrollLeft + 'px)';
    schedule();
  });
  window.addEventListener('resize', layout);
  function zoom(dir, anchorRow) {
    var i = ROW_HEIGHTS.indexOf(rowH) + dir;
    if (i < 0 || i >= ROW_HEIGHTS.length) return;
    var keep = anchorRow !== undefined ? anchorRow : view[0];
    var offset = (keep - range[0]) * rowH - scroll.scrollTop;
    rowH = ROW_HEIGHTS[i];
    layout();
    scroll.scrollTop = Math.max(0, (keep - range[0]) * rowH - offset * rowH / ROW_HEIGHTS[i - dir]);
    draw();
  }
  zoomIn.addEventListener('click', function () { zoom(1); });
  zoomOut.addEventListener('click', function () { zoom(-1); });
  scroll.addEventListener('wheel', function (ev) {
    if (!ev.ctrlKey) return;
    ev.preventDefault();
    zoom(ev.deltaY < 0 ? 1 : -1, rowAt(ev) >= 0 ? rowAt(ev) : undefined);
  }, { passive: false });
  function showRange(a, b) {
    a = Math.max(0, Math.min(steps.length - 1, a | 0));
    b = Math.max(a, Math.min(steps.length - 1, b | 0));
    fromIn.value = a; toIn.value = b;
    range = [steps[a][2], stepEnd(b)];
    scroll.scrollTop = 0;
    layout();
  }
  showBtn.addEventListener('click', function () { showRange(+fromIn.value, +toIn.value); });
  allBtn.addEventListener('click', function () { showRange(0, steps.length - 1); });
  taskSel.addEventListener('change', function () {
    pinnedTask = +taskSel.value;
    showTask();
    if (pinnedTask >= 0 && taskRows[pinnedTask].length) select(rows[taskRows[pinnedTask][0]][0], true);
    draw();
  });
  document.addEventListener('keydown', function (ev) {
    if (ev.target && ev.target.tagName === 'INPUT') return;
    if (ev.key === 'ArrowDown' || ev.key === 'j') { select(selected + 1, true); ev.preventDefault(); }
    if (ev.key === 'ArrowUp' || ev.key === 'k') { select(selected - 1, true); ev.preventDefault(); }
  });

  // ---- start: `#step=N` selects a step, `#from=A&to=B` shows a range; else the first
  // violation, else the start.
  var hash = {};
  location.hash.replace(/^#/, '').split('&').forEach(function (kv) {
    var p = kv.split('=');
    if (p.length === 2) hash[p[0]] = parseInt(p[1], 10);
  });
  if (hash.rowh && ROW_HEIGHTS.indexOf(hash.rowh) >= 0) rowH = hash.rowh;
  layout();
  if (!isNaN(hash.from) || !isNaN(hash.to)) {
    showRange(isNaN(hash.from) ? 0 : hash.from, isNaN(hash.to) ? steps.length - 1 : hash.to);
  }
  var first = !isNaN(hash.step) ? hash.step : D.violations.length ? D.violations[0][1] : 0;
  select(Math.min(first, steps.length - 1), first > 0);
  showTask();
  body.setAttribute('data-lanes', String(document.querySelectorAll('.lane-head').length));
  // Steps taken, as every command counts them: the start (step 0) is not one.
  body.setAttribute('data-steps', String(D.steps_taken));
  body.setAttribute('data-rows', String(rows.length));
  body.setAttribute('data-errors', String(errors.length));
  // Milliseconds from navigation start to the first drawing (for measuring big traces).
  body.setAttribute('data-ready-ms', String(Math.round(performance.now())));
  body.setAttribute('data-ready', '1');
})();
