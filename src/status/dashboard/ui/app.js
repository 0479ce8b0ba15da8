// The fog dashboard: lays out the view the controller sends (status/dashboard/view.ts)
// and follows it live over server-sent events. It decides nothing and asks
// for nothing else: read-only, no reloads, no other origin.
/* global document, window, EventSource */

const $ = (id) => document.getElementById(id);
const Node = window.Node;
const main = $('main');
const groupBy = $('groupby');
/** @type {any} */
let view;
let receivedAt = 0;
let lastMessageAt = 0;

/** An element with text children only (never HTML from the status): h('td', { class: 'x' }, 'text', child). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === false) continue;
    if (k.startsWith('data-')) el.dataset[k.slice(5).replace(/-(\w)/g, (_, c) => c.toUpperCase())] = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** 1.2s below 10 s, whole seconds below 2 min, then minutes and hours: as the CLI says it. */
function duration(ms) {
  if (ms < 10_000) return `${(Math.round(ms / 100) / 10).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 120 ? `${m}m` : `${Math.floor(m / 60)}h`;
}
/** An age that keeps counting between updates. */
function since(ms) {
  return ms === undefined ? 'never' : h('span', { 'data-age': ms, 'data-at': receivedAt }, `${duration(ms)} ago`);
}
function tick() {
  const now = performance.now();
  for (const el of document.querySelectorAll('[data-age]')) el.textContent = `${duration(Number(el.dataset.age) + now - Number(el.dataset.at))} ago`;
  if (lastMessageAt && now - lastMessageAt > 40_000) setConn('no word from the controller for 40 s: reconnecting…', 'bad');
}

const serviceLink = (name) => h('a', { href: `#/service/${encodeURIComponent(name)}` }, name);
const nodeLink = (name) => (name ? h('a', { href: `#/node/${encodeURIComponent(name)}` }, name) : '<none>');
const badge = (text, tone) => h('span', { class: `badge ${tone}` }, text);
function table(caption, head, rows, cls) {
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      { class: cls },
      caption && h('caption', {}, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          head.map((x) => h('th', { scope: 'col' }, x)),
        ),
      ),
      h('tbody', {}, rows),
    ),
  );
}
function section(id, title, ...body) {
  return h('section', { id, 'aria-labelledby': `${id}-h` }, h('h2', { id: `${id}-h` }, title), ...body);
}
function chip(r, withNode) {
  const state = r.state === 'running' && !r.ready ? 'running, not ready' : r.state;
  return h(
    'a',
    {
      class: `chip ${r.tone}`,
      href: `#/service/${encodeURIComponent(r.service)}`,
      title: `${r.name} on ${r.node || 'no node'}: ${state}${r.message ? ` (${r.message})` : ''}`,
      'data-replica': r.name,
      'data-state': r.state,
      'data-restarts': r.restarts,
    },
    r.name,
    withNode ? ` @ ${r.node || '<none>'}` : '',
    r.tone === 'ok' ? '' : h('span', { class: 'state' }, ` ${state}`),
  );
}
function meter(label, text, share) {
  const pct = share === undefined ? undefined : Math.round(share * 100);
  return h(
    'div',
    { class: 'meter' },
    h('span', {}, `${label} `, h('b', {}, text)),
    pct === undefined ? '' : h('meter', { min: 0, max: 100, value: pct, high: 90, 'aria-label': `${label} reserved ${pct}%` }),
  );
}

// ---- the overview ---------------------------------------------------------

function attention() {
  const items = [];
  if (view.desired.folderError) items.push(h('li', { class: 'bad' }, view.desired.folderError));
  for (const e of view.desired.errors)
    items.push(
      h(
        'li',
        { class: 'bad', 'data-error': e.where },
        h('code', {}, e.where),
        `: ${e.message}`,
        e.object ? ` (${e.object}: ${view.desired.held.includes(e.object) ? 'its last good version stays in force' : 'not applied'})` : '',
      ),
    );
  for (const n of view.nodes.filter((x) => x.tone === 'bad'))
    items.push(h('li', { class: 'bad' }, 'Node ', nodeLink(n.name), ` is ${n.status}: last seen `, since(n.lastSeenMs), n.message ? ` (${n.message})` : ''));
  for (const s of view.services.filter((x) => x.tone === 'bad')) {
    items.push(
      h(
        'li',
        { class: 'bad' },
        'Service ',
        serviceLink(s.name),
        ' ',
        badge(s.status, 'bad'),
        s.unschedulable ? h('p', {}, s.unschedulable.message) : '',
        ...s.conditions.filter((c) => c.status && c.type !== 'Available' && c.type !== 'Progressing' && c.type !== 'Unschedulable').map((c) => h('p', {}, c.message)),
        s.failures.length
          ? h('p', {}, `${s.failures.length} failed action(s): `, s.failures.map((f) => `${f.action} on ${f.node} failed ${f.attempts} time(s) (${f.code}), next try ${f.next}`).join('; '))
          : '',
      ),
    );
  }
  if (view.sync && view.sync.tone === 'bad') items.push(h('li', { class: 'bad' }, `GitOps sync is ${view.sync.state}: see below`));
  return section(
    'attention',
    'Needs attention',
    items.length ? h('ul', { class: 'problems' }, items) : h('p', { class: 'ok-text' }, 'Nothing: every node is Ready and every service is where it should be.'),
  );
}

function fleet() {
  const key = groupBy.value;
  const groups = new Map();
  for (const n of view.nodes) {
    const g = key ? (n.labels[key] ?? `no ${key}`) : 'all nodes';
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(n);
  }
  const names = [...groups.keys()].sort();
  return section(
    'fleet',
    `Nodes (${view.nodes.filter((n) => n.tone !== 'bad').length}/${view.nodes.length} Ready)`,
    names.map((g) =>
      h(
        'div',
        { class: 'group' },
        h('h3', {}, key ? `${key}: ${g}` : g),
        h(
          'ul',
          { class: 'nodes' },
          groups.get(g).map((n) =>
            h(
              'li',
              { class: `node ${n.tone}`, 'data-node': n.name, 'data-status': n.status },
              h('div', { class: 'node-head' }, h('h4', {}, nodeLink(n.name)), badge(n.status, n.tone)),
              h('p', { class: 'muted' }, 'last seen ', since(n.lastSeenMs)),
              meter('CPU', n.cpu, n.cpuUse),
              meter('Memory', n.memory, n.memoryUse),
              n.devices.length ? h('p', { class: 'muted' }, 'Devices: ', n.devices.join(', ')) : '',
              n.message ? h('p', { class: 'bad-text' }, n.message) : '',
              n.replicas.length
                ? h(
                    'div',
                    { class: 'chips', 'aria-label': `replicas on ${n.name}` },
                    n.replicas.map((r) => chip(r, false)),
                  )
                : h('p', { class: 'muted' }, 'no replicas'),
            ),
          ),
        ),
      ),
    ),
  );
}

function servicesTable(list) {
  return table(
    '',
    ['NAME', 'MODE', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'STATUS'],
    list.map((s) =>
      h(
        'tr',
        { 'data-service': s.name, 'data-status': s.status },
        h('th', { scope: 'row' }, serviceLink(s.name)),
        h('td', {}, s.mode),
        h('td', {}, s.ready),
        h('td', {}, s.upToDate),
        h('td', {}, s.available),
        h('td', {}, badge(s.status, s.tone)),
      ),
    ),
    'services',
  );
}

function eventsTable(events) {
  if (events.length === 0) return h('p', { class: 'muted' }, 'No events yet.');
  return table(
    '',
    ['AGE', 'TYPE', 'REASON', 'OBJECT', 'COUNT', 'MESSAGE'],
    events.map((e) => {
      const [kind, name] = e.object.split('/');
      const link = kind === 'service' ? serviceLink(name) : kind === 'node' ? nodeLink(name) : e.object;
      return h(
        'tr',
        { class: e.type === 'Warning' ? 'warning' : undefined, 'data-reason': e.reason, 'data-object': e.object },
        h('td', {}, e.age),
        h('td', {}, e.type),
        h('td', {}, e.reason),
        h('td', {}, kind, ' ', link),
        h('td', {}, e.count > 1 ? `×${e.count}` : ''),
        h('td', {}, e.message),
      );
    }),
    'events',
  );
}

function syncSection() {
  if (!view.sync) return '';
  return section('sync', 'GitOps sync', h('p', {}, badge(view.sync.state, view.sync.tone)), h('pre', {}, view.sync.text));
}

function overview() {
  return [
    attention(),
    fleet(),
    section('services', `Services (${view.services.length})`, servicesTable(view.services)),
    syncSection(),
    section('events', 'Events, newest first', eventsTable(view.events.slice(0, 40))),
  ];
}

// ---- one service, one node ------------------------------------------------

function dl(pairs) {
  return h(
    'dl',
    {},
    pairs.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );
}

function serviceDetail(name) {
  const s = view.services.find((x) => x.name === name);
  if (!s)
    return [
      h('h2', {}, `Service ${name}`),
      h('p', {}, 'No service by this name is in the status now (it may have been removed, or not reconciled yet). ', h('a', { href: '#/' }, 'Back to the overview')),
    ];
  const why = [];
  if (s.held) why.push(h('p', { class: 'bad-text' }, `This service's manifest is invalid now; its last good version stays in force.`));
  if (s.errors.length)
    why.push(
      h('h3', {}, 'Manifest errors'),
      h(
        'ul',
        {},
        s.errors.map((e) => h('li', {}, h('code', {}, e))),
      ),
    );
  if (s.unschedulable) {
    why.push(h('h3', {}, 'Why it is not placed'), h('p', { class: 'bad-text', 'data-unschedulable': s.name }, s.unschedulable.message));
    why.push(
      table(
        'The first filter that rejected each node',
        ['NODE', 'REASON'],
        s.unschedulable.perNode.map((p) => h('tr', {}, h('th', { scope: 'row' }, nodeLink(p.node)), h('td', {}, p.message))),
      ),
    );
  }
  if (s.failures.length) {
    why.push(h('h3', {}, 'Failed actions'));
    why.push(
      table(
        '',
        ['ACTION', 'SLOT', 'NODE', 'CODE', 'ATTEMPTS', 'LAST', 'NEXT TRY', 'MESSAGE'],
        s.failures.map((f) =>
          h(
            'tr',
            {},
            [f.action, f.slot, nodeLink(f.node), f.code, f.attempts, f.last, f.next, f.message].map((x) => h('td', {}, x)),
          ),
        ),
      ),
    );
  }
  return [
    h('h2', {}, 'Service ', s.name, ' ', badge(s.status, s.tone)),
    dl([
      ['Ready', s.ready],
      ['Up to date', s.upToDate],
      ['Available', s.available],
      ['Mode', s.mode],
      ['Image', s.image],
      ['Source', s.source],
    ]),
    why.length ? section('why', 'Why', ...why) : '',
    section(
      'conditions',
      'Conditions',
      table(
        '',
        ['TYPE', 'STATUS', 'REASON', 'MESSAGE'],
        s.conditions.map((c) =>
          h(
            'tr',
            {},
            [c.type, String(c.status), c.reason, c.message].map((x) => h('td', {}, x)),
          ),
        ),
      ),
    ),
    section(
      'replicas',
      'Replicas',
      s.replicas.length
        ? table(
            '',
            ['REPLICA', 'NODE', 'STATE', 'READY', 'RESTARTS', 'UP-TO-DATE', 'MESSAGE'],
            s.replicas.map((r) =>
              h(
                'tr',
                { class: r.tone },
                h('td', {}, chip(r, false)),
                h('td', {}, nodeLink(r.node)),
                [r.state, String(r.ready), r.restarts, String(r.upToDate), r.message ?? ''].map((x) => h('td', {}, x)),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'none'),
    ),
    section('events', 'Events, newest first', eventsTable(view.events.filter((e) => e.object === `service/${s.name}`))),
  ];
}

function nodeDetail(name) {
  const n = view.nodes.find((x) => x.name === name);
  if (!n) return [h('h2', {}, `Node ${name}`), h('p', {}, 'No node by this name is in the status now. ', h('a', { href: '#/' }, 'Back to the overview'))];
  const labels = Object.entries(n.labels).map(([k, v]) => `${k}=${v}`);
  return [
    h('h2', {}, 'Node ', n.name, ' ', badge(n.status, n.tone)),
    dl([
      ['Last seen', since(n.lastSeenMs)],
      ['Message', n.message],
      ['CPU reserved/capacity', n.cpu],
      ['Memory reserved/capacity', n.memory],
      ['Devices', n.devices.join(', ') || 'none'],
      ['Labels', labels.join(', ') || 'none'],
    ]),
    section(
      'replicas',
      `Replicas (${n.replicas.length})`,
      n.replicas.length
        ? h(
            'div',
            { class: 'chips' },
            n.replicas.map((r) => chip(r, false)),
          )
        : h('p', { class: 'muted' }, 'none'),
    ),
    section('events', 'Events, newest first', eventsTable(view.events.filter((e) => e.object === `node/${n.name}`))),
  ];
}

// ---- rendering, keeping the reader's place --------------------------------

function route() {
  const m = /^#\/(service|node)\/(.+)$/.exec(window.location.hash);
  return m ? { kind: m[1], name: decodeURIComponent(m[2]) } : { kind: 'overview' };
}

function render() {
  if (!view) return;
  const r = route();
  // The focused link is made anew: find it again by its target and text.
  const active = document.activeElement;
  const focusKey = active && main.contains(active) && active.getAttribute('href') !== null ? `${active.getAttribute('href')}|${active.textContent}` : undefined;
  main.replaceChildren(...[r.kind === 'service' ? serviceDetail(r.name) : r.kind === 'node' ? nodeDetail(r.name) : overview()].flat().filter(Boolean));
  if (focusKey)
    for (const a of main.querySelectorAll('a[href]'))
      if (`${a.getAttribute('href')}|${a.textContent}` === focusKey) {
        a.focus({ preventScroll: true });
        break;
      }
  document.title = `${r.kind === 'overview' ? 'fog' : `${r.name} · fog`} · ${view.cluster}`;
  const bad = view.services.filter((s) => s.tone === 'bad').length + view.nodes.filter((n) => n.tone === 'bad').length + view.desired.errors.length;
  $('cluster').textContent = `cluster ${view.cluster}`;
  $('summary').textContent = `${view.nodes.length} node(s), ${view.services.length} service(s): ${bad ? `${bad} problem(s)` : 'all well'}`;
  document.body.dataset.problems = String(bad);
}

function fillGroupBy() {
  const keys = view.labelKeys;
  const have = [...groupBy.options].map((o) => o.value).join();
  if (have === ['', ...keys].join()) return;
  const saved = localStorage.getItem('fog.groupBy');
  const chosen = saved !== null && (saved === '' || keys.includes(saved)) ? saved : (['zone', 'line'].find((k) => keys.includes(k)) ?? keys[0] ?? '');
  groupBy.replaceChildren(h('option', { value: '' }, '(none)'), ...keys.map((k) => h('option', { value: k }, k)));
  groupBy.value = chosen;
}

function setConn(text, tone) {
  const c = $('conn');
  c.textContent = text;
  c.className = `conn ${tone}`;
}

function connect() {
  const es = new EventSource('/v1/dashboard?watch=1');
  es.addEventListener('status', (e) => {
    view = JSON.parse(e.data);
    receivedAt = lastMessageAt = performance.now();
    fillGroupBy();
    render();
    setConn(`live · updated ${new Date(view.wall).toLocaleTimeString()}`, 'ok');
  });
  es.addEventListener('open', () => (lastMessageAt = performance.now()));
  es.addEventListener('heartbeat', () => (lastMessageAt = performance.now()));
  es.onerror = () => {
    setConn('connection lost: reconnecting… (what you see may be old)', 'bad');
    // A refused or non-stream answer (no controller behind fogctl dashboard) closes it for good: try again later.
    if (es.readyState === EventSource.CLOSED) window.setTimeout(connect, 3000);
  };
}

groupBy.addEventListener('change', () => {
  localStorage.setItem('fog.groupBy', groupBy.value);
  render();
});
window.addEventListener('hashchange', () => {
  render();
  main.focus({ preventScroll: false });
});
window.setInterval(tick, 1000);
connect();
