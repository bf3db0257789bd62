// Meta Layer console. Plain JavaScript, no library, no other origin. Every value from the layer reaches
// the page as text (textContent, text nodes), never parsed as HTML. The admin token is read from the sign-in field once,
// sent to /console/session and dropped; the session is an HttpOnly cookie the script never sees. Every
// write carries the session's CSRF token in the X-Console-CSRF header.
'use strict';

(function () {
  const STATES = ['pending', 'delivering', 'paused', 'delivered', 'expired', 'dead', 'superseded'];
  const SCOPES = ['messages', 'calls', 'settings', 'templates', 'media', 'webhooks'];
  let csrf = null;

  // ---- DOM helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') node.textContent = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  const $ = (id) => document.getElementById(id);

  function flash(message, bad) {
    const f = $('flash');
    f.textContent = message || '';
    f.className = bad ? 'bad' : '';
  }

  function when(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  function copyButton(value, what) {
    return el('button', {
      type: 'button', class: 'small secondary', 'aria-label': 'Copy ' + what,
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(value);
        } catch (e) {
          const t = el('textarea', {}, value);
          document.body.append(t);
          t.select();
          document.execCommand('copy');
          t.remove();
        }
        flash(what + ' copied.');
      }
    }, 'Copy');
  }

  // ---- the API (the admin API behind the session)

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(method, path, body) {
    const headers = { 'Accept': 'application/json' };
    if (method !== 'GET') headers['X-Console-CSRF'] = csrf || '';
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch('/console/api' + path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body)
    });
    let json = null;
    try { json = await res.json(); } catch (e) { json = null; }
    if (res.status === 401) { showSignIn('Your session ended: sign in again.'); throw new ApiError(401, 'signed out'); }
    if (!res.ok) throw new ApiError(res.status, (json && json.error && json.error.message) || ('HTTP ' + res.status));
    return json;
  }

  async function act(what, fn) {
    try {
      const r = await fn();
      if (what) flash(what);
      return r;
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) flash(e.message, true);
      return undefined;
    }
  }

  // ---- session

  function showSignIn(message) {
    csrf = null;
    $('nav').hidden = true;
    $('view').replaceChildren();
    flash('');
    $('sign-in').hidden = false;
    $('sign-in-error').textContent = message || '';
    $('token').focus();
  }

  async function signIn(event) {
    event.preventDefault();
    const field = $('token');
    const token = field.value;
    field.value = '';
    const res = await fetch('/console/session', {
      method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify({ token })
    });
    const json = await res.json().catch(() => null);
    if (res.status !== 201) {
      $('sign-in-error').textContent = (json && json.error && json.error.message) || ('HTTP ' + res.status);
      field.focus();
      return;
    }
    csrf = json.csrf;
    enter();
  }

  async function signOut() {
    await fetch('/console/session', { method: 'DELETE', credentials: 'same-origin', headers: { 'X-Console-CSRF': csrf || '' } });
    showSignIn('Signed out.');
  }

  function enter() {
    $('sign-in').hidden = true;
    $('nav').hidden = false;
    route();
  }

  // ---- pages

  function route() {
    if (!csrf) return;
    const [page, ...rest] = (location.hash || '#numbers').slice(1).split('/');
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.dataset.page === page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    const view = $('view');
    view.replaceChildren();
    if (page === 'deliveries') deliveriesPage(view, rest[0]);
    else if (page === 'calls') callsPage(view, rest[0], rest[1]);
    else if (page === 'charts') chartsPage(view);
    else numbersPage(view);
  }

  // Numbers: a card per number with its IDs, keys, subscriptions and doctor result.
  async function numbersPage(view) {
    view.append(el('h1', {}, 'Numbers'), addNumberForm());
    const list = el('div', { class: 'cards', id: 'numbers' });
    view.append(list);
    const numbers = await act(null, () => api('GET', '/numbers'));
    const keys = await act(null, () => api('GET', '/keys'));
    if (!numbers || !keys) return;
    if (numbers.data.length === 0) list.append(el('p', { class: 'hint' }, 'No number yet: add one above.'));
    for (const n of numbers.data) {
      const card = el('article', { class: 'card number', 'data-number': n.phone_number_id });
      list.append(card);
      renderNumber(card, n, keys.data.filter((k) => k.phone_number_id === n.phone_number_id));
    }
  }

  function addNumberForm() {
    const field = (id, label, type) => [el('label', { for: id }, label),
      el('input', { id, name: id, type: type || 'text', required: true, autocomplete: 'off', spellcheck: 'false' })];
    const form = el('form', { id: 'add-number', autocomplete: 'off' },
      el('div', { class: 'inline' },
        el('div', {}, field('phone', 'Phone (E.164, with +)')),
        el('div', {}, field('phone_number_id', 'Phone Number ID')),
        el('div', {}, field('waba_id', 'WABA ID')),
        el('div', {}, field('business_id', 'Business Account ID'))),
      field('meta_token', 'Meta access token (never shown again)', 'password'),
      el('button', { type: 'submit' }, 'Add number'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = {};
      for (const k of ['phone', 'phone_number_id', 'waba_id', 'business_id', 'meta_token']) body[k] = form.elements[k].value.trim();
      form.elements.meta_token.value = '';
      const added = await act('Number added.', () => api('POST', '/numbers', body));
      if (added) route();
    });
    return el('details', { class: 'panel' }, el('summary', {}, 'Add a number'), form);
  }

  async function renderNumber(card, n, keys) {
    const id = n.phone_number_id;
    const ids = el('dl', { class: 'ids' });
    for (const [label, value] of [['Phone', n.phone], ['Phone Number ID', id], ['WABA ID', n.waba_id],
      ['Business Account ID', n.business_id]]) {
      ids.append(el('dt', {}, label), el('dd', { class: 'mono' }, value), el('div', {}, copyButton(value, label)));
    }
    const actions = el('div', { class: 'actions' });
    card.append(el('h2', {}, n.phone), ids, actions);
    const live = keys.filter((k) => !k.revoked_at);

    const rotate = el('button', { type: 'button', class: 'secondary', onclick: () => {
      const input = el('input', { type: 'password', id: 'rotate-' + id, autocomplete: 'off', 'aria-label': 'New Meta token' });
      const form = el('form', { class: 'inline' }, input, el('button', { type: 'submit' }, 'Save token'),
        el('button', { type: 'button', class: 'secondary', onclick: () => form.remove() }, 'Cancel'));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const token = input.value;
        input.value = '';
        if (await act('Token replaced.', () => api('PATCH', '/numbers/' + encodeURIComponent(id), { meta_token: token }))) form.remove();
      });
      actions.after(form);
      input.focus();
    } }, 'Rotate token');

    const remove = el('button', { type: 'button', class: 'danger', onclick: async () => {
      const subs = await act(null, () => api('GET', '/numbers/' + encodeURIComponent(id) + '/webhooks'));
      const count = subs ? subs.data.length : 0;
      const box = el('div', { class: 'confirm', role: 'alertdialog', 'aria-label': 'Confirm removal' },
        el('p', {}, 'Remove ' + n.phone + ' (' + id + ')? This also removes its ' + live.length + ' key(s) and ' + count +
          ' webhook subscription(s) with their delivery logs and pending deliveries. Its keys stop working at once.'),
        el('button', { type: 'button', class: 'danger confirm-remove', onclick: async () => {
          if (await act('Number removed.', () => api('DELETE', '/numbers/' + encodeURIComponent(id)))) route();
        } }, 'Remove for good'),
        el('button', { type: 'button', class: 'secondary', onclick: () => box.remove() }, 'Cancel'));
      actions.after(box);
      box.querySelector('button').focus();
    } }, 'Remove');
    actions.append(rotate, remove);

    card.append(keysSection(id, keys), subscriptionsSection(id), doctorSection(id));
  }

  function keysSection(id, keys) {
    const section = el('section', { class: 'keys' }, el('h3', {}, 'Keys'));
    const rows = keys.map((k) => el('tr', { 'data-key': k.id },
      el('td', { class: 'mono' }, k.prefix + '…'),
      el('td', {}, k.scopes.join(', ')),
      el('td', {}, when(k.created_at)),
      el('td', {}, when(k.last_used_at)),
      el('td', {}, k.revoked_at ? 'revoked ' + when(k.revoked_at)
        : el('button', { type: 'button', class: 'small danger revoke', onclick: async () => {
          if (await act('Key ' + k.prefix + '… revoked.', () => api('DELETE', '/keys/' + encodeURIComponent(k.id)))) route();
        } }, 'Revoke'))));
    section.append(rows.length === 0 ? el('p', { class: 'hint' }, 'No key yet.')
      : el('div', { class: 'table-wrap' }, el('table', {},
        el('thead', {}, el('tr', {}, ['Prefix', 'Scopes', 'Created', 'Last used', ''].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, rows))));

    const boxes = SCOPES.map((s) => el('label', { class: 'scope' },
      el('input', { type: 'checkbox', name: 'scope', value: s, checked: true }), ' ' + s));
    const form = el('form', { class: 'create-key' }, el('fieldset', {}, el('legend', {}, 'Scopes of a new key'), boxes),
      el('button', { type: 'submit' }, 'Create a key'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const scopes = [...form.querySelectorAll('input[name=scope]:checked')].map((i) => i.value);
      const created = await act(null, () => api('POST', '/keys', { phone_number_id: id, scopes }));
      if (!created) return;
      // the key lives only in this box: closing it (or leaving the page) forgets it
      const box = el('div', { class: 'once', role: 'alert' },
        el('strong', {}, 'Copy this key now: it is shown once and cannot be read again.'),
        el('code', { class: 'new-key' }, created.key),
        copyButton(created.key, 'Key'),
        el('button', { type: 'button', class: 'secondary done', onclick: () => { box.remove(); route(); } }, 'Done'));
      created.key = null;
      form.after(box);
      box.querySelector('.done').focus();
    });
    section.append(el('details', {}, el('summary', {}, 'Create a key'), form));
    return section;
  }

  function subscriptionsSection(id) {
    const section = el('section', { class: 'subscriptions' }, el('h3', {}, 'Subscriptions'));
    const list = el('div', {});
    section.append(list);
    (async () => {
      const subs = await act(null, () => api('GET', '/numbers/' + encodeURIComponent(id) + '/webhooks'));
      if (!subs) return;
      if (subs.data.length === 0) list.append(el('p', { class: 'hint' }, 'No subscription yet.'));
      for (const s of subs.data) list.append(subscriptionRow(s));
    })();
    const field = (name, label, type, required) => [el('label', { for: name + '-' + id }, label),
      el('input', { id: name + '-' + id, name, type: type || 'text', required: !!required, autocomplete: 'off' })];
    const form = el('form', { class: 'create-subscription', autocomplete: 'off' },
      field('name', 'Name', 'text', true), field('url', 'URL', 'url', true),
      field('events', 'Events (comma-separated: messages, calls, statuses, …)', 'text', true),
      field('secret', 'Signing secret (optional, never shown again)', 'password', false),
      el('button', { type: 'submit' }, 'Create subscription'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = { name: form.elements.name.value.trim(), url: form.elements.url.value.trim(),
        events: splitList(form.elements.events.value) };
      if (form.elements.secret.value) body.secret = form.elements.secret.value;
      form.elements.secret.value = '';
      if (await act('Subscription created.', () => api('POST', '/numbers/' + encodeURIComponent(id) + '/webhooks', body))) route();
    });
    section.append(el('details', {}, el('summary', {}, 'Add a subscription'), form));
    return section;
  }

  function splitList(text) {
    return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  }

  function subscriptionRow(s) {
    const row = el('div', { class: 'panel subscription', 'data-subscription': s.id },
      el('strong', {}, s.name), ' ', el('span', { class: 'hint' }, s.active ? '(on)' : '(off)'),
      el('div', { class: 'mono' }, s.url),
      el('div', {}, 'Events: ', s.events.join(', ')));
    const events = el('input', { type: 'text', value: s.events.join(', '), 'aria-label': 'Events of ' + s.name });
    const edit = el('form', { class: 'inline edit-events' }, events, el('button', { type: 'submit', class: 'small' }, 'Save events'));
    edit.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (await act('Events saved.', () => api('PATCH', '/webhooks/' + encodeURIComponent(s.id), { events: splitList(events.value) }))) route();
    });
    row.append(edit,
      el('button', { type: 'button', class: 'small secondary toggle', onclick: async () => {
        if (await act(s.active ? 'Subscription turned off.' : 'Subscription turned on.',
          () => api('PATCH', '/webhooks/' + encodeURIComponent(s.id), { active: !s.active }))) route();
      } }, s.active ? 'Turn off' : 'Turn on'),
      el('button', { type: 'button', class: 'small secondary send-test', onclick: () =>
        act('Test event queued.', () => api('POST', '/webhooks/' + encodeURIComponent(s.id) + '/test')) }, 'Send a test event'),
      el('a', { href: '#deliveries/' + encodeURIComponent(s.id), class: 'delivery-log' }, 'Delivery log'));
    return row;
  }

  // The doctor's checks, when the layer has the doctor (a 404 hides the section).
  function doctorSection(id) {
    const section = el('section', { class: 'doctor', hidden: true }, el('h3', {}, 'Doctor'));
    (async () => {
      const res = await fetch('/console/api/numbers/' + encodeURIComponent(id) + '/doctor',
        { credentials: 'same-origin', cache: 'no-store', headers: { 'Accept': 'application/json' } });
      if (res.status !== 200) return;
      const json = await res.json().catch(() => null);
      if (!json || !Array.isArray(json.checks)) return;
      section.append(el('ul', {}, json.checks.map((c) => el('li', {},
        el('span', { class: 'check-' + c.status }, '[' + c.status + '] '), el('strong', {}, c.name), ': ', c.detail || '',
        c.fix ? el('div', { class: 'hint' }, 'Fix: ' + c.fix) : null))));
      section.hidden = false;
    })();
    return section;
  }

  // Deliveries: pick a subscription, filter its log, see each attempt, replay one or many.
  async function deliveriesPage(view, subscriptionId) {
    view.append(el('h1', {}, 'Deliveries'));
    const numbers = await act(null, () => api('GET', '/numbers'));
    if (!numbers) return;
    const picker = el('select', { id: 'subscription', 'aria-label': 'Subscription' }, el('option', { value: '' }, 'Choose a subscription…'));
    for (const n of numbers.data) {
      const subs = await act(null, () => api('GET', '/numbers/' + encodeURIComponent(n.phone_number_id) + '/webhooks'));
      for (const s of (subs ? subs.data : [])) {
        picker.append(el('option', { value: s.id, selected: s.id === subscriptionId }, n.phone + ' — ' + s.name));
      }
    }
    picker.addEventListener('change', () => { location.hash = '#deliveries/' + encodeURIComponent(picker.value); });
    const state = el('select', { id: 'filter-state', 'aria-label': 'State' }, el('option', { value: '' }, 'any state'),
      STATES.map((s) => el('option', { value: s }, s)));
    const field = el('input', { type: 'text', id: 'filter-field', placeholder: 'field (messages, calls, test…)', 'aria-label': 'Field' });
    const since = el('select', { id: 'filter-time', 'aria-label': 'Time' }, el('option', { value: '' }, 'any time'),
      el('option', { value: '15' }, 'last 15 minutes'), el('option', { value: '60' }, 'last hour'),
      el('option', { value: '1440' }, 'last 24 hours'));
    const refresh = el('button', { type: 'submit', id: 'refresh' }, 'Show');
    const filters = el('form', { class: 'inline panel filters' }, picker, state, field, since, refresh);
    const out = el('div', { id: 'deliveries' });
    view.append(filters, out);
    filters.addEventListener('submit', (e) => { e.preventDefault(); load(); });

    async function load() {
      out.replaceChildren();
      if (!picker.value) { out.append(el('p', { class: 'hint' }, 'Choose a subscription.')); return; }
      const q = '?limit=200' + (state.value ? '&status=' + encodeURIComponent(state.value) : '');
      const log = await act(null, () => api('GET', '/webhooks/' + encodeURIComponent(picker.value) + '/deliveries' + q));
      if (!log) return;
      const cutoff = since.value ? Date.now() - Number(since.value) * 60000 : 0;
      const wanted = log.data.filter((d) => (!field.value.trim() || d.field === field.value.trim())
        && (!cutoff || new Date(d.created_at).getTime() >= cutoff));
      const replaySelected = el('button', { type: 'button', id: 'replay-selected', onclick: async () => {
        const ids = [...out.querySelectorAll('input.pick:checked')].map((i) => i.value);
        let done = 0;
        for (const id of ids) {
          if (await act(null, () => api('POST', '/webhooks/' + encodeURIComponent(picker.value) + '/deliveries/' + encodeURIComponent(id) + '/retry'))) done++;
        }
        flash(done + ' of ' + ids.length + ' deliveries replayed.', done < ids.length);
        load();
      } }, 'Replay selected');
      const body = el('tbody', {});
      for (const d of wanted) {
        body.append(el('tr', { class: 'delivery', 'data-delivery': d.id },
          el('td', {}, el('input', { type: 'checkbox', class: 'pick', value: d.id, 'aria-label': 'Select ' + d.id })),
          el('td', {}, when(d.created_at)), el('td', {}, d.field), el('td', {}, d.lane),
          el('td', { class: 'state state-' + d.state }, d.state), el('td', {}, String(d.attempt_count)),
          el('td', {}, el('button', { type: 'button', class: 'small replay', onclick: async () => {
            if (await act('Delivery replayed.', () => api('POST', '/webhooks/' + encodeURIComponent(picker.value) + '/deliveries/' + encodeURIComponent(d.id) + '/retry'))) load();
          } }, 'Replay'))));
        if (d.attempts.length > 0) {
          body.append(el('tr', { class: 'attempts' }, el('td', {}), el('td', { colspan: 6 },
            el('table', {}, el('thead', {}, el('tr', {}, ['#', 'At', 'Status', 'Latency', 'Answer'].map((h) => el('th', { scope: 'col' }, h)))),
              el('tbody', {}, d.attempts.map((a) => el('tr', {},
                el('td', {}, String(a.number)), el('td', {}, when(a.at)),
                el('td', {}, a.status_code !== null ? String(a.status_code) : (a.error_class || '—')),
                el('td', {}, a.latency_ms !== null && a.latency_ms !== undefined ? a.latency_ms + ' ms' : '—'),
                el('td', {}, el('span', { class: 'excerpt mono' }, a.response_excerpt || a.error || '')))))))));
        }
      }
      out.append(el('p', { class: 'hint' }, wanted.length + ' of the ' + log.data.length + ' latest deliveries match.'),
        replaySelected,
        el('div', { class: 'table-wrap' }, el('table', {},
          el('thead', {}, el('tr', {}, ['', 'Created', 'Field', 'Lane', 'State', 'Attempts', ''].map((h) => el('th', { scope: 'col' }, h)))),
          body)));
    }
    load();
  }

  // Calls: a number's recent calls with their state, and one call's timeline.
  async function callsPage(view, numberId, wacid) {
    view.append(el('h1', {}, 'Calls'));
    const numbers = await act(null, () => api('GET', '/numbers'));
    if (!numbers) return;
    const picker = el('select', { id: 'call-number', 'aria-label': 'Number' }, el('option', { value: '' }, 'Choose a number…'),
      numbers.data.map((n) => el('option', { value: n.phone_number_id, selected: n.phone_number_id === numberId }, n.phone)));
    picker.addEventListener('change', () => { location.hash = '#calls/' + encodeURIComponent(picker.value); });
    view.append(el('div', { class: 'panel' }, picker));
    if (!numberId) return;
    const base = '/numbers/' + encodeURIComponent(numberId) + '/calls';
    const calls = await act(null, () => api('GET', base + '?limit=50'));
    if (!calls) return;
    view.append(calls.data.length === 0 ? el('p', { class: 'hint' }, 'No call recorded for this number.')
      : el('div', { class: 'table-wrap' }, el('table', { id: 'calls' },
        el('thead', {}, el('tr', {}, ['Created', 'Direction', 'User', 'State', 'Duration', ''].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, calls.data.map((c) => el('tr', {},
          el('td', {}, when(c.created_at)), el('td', {}, c.direction), el('td', { class: 'mono' }, c.user_wa_id || '—'),
          el('td', { class: 'state' }, c.state), el('td', {}, c.duration_seconds !== null && c.duration_seconds !== undefined ? c.duration_seconds + ' s' : '—'),
          el('td', {}, el('a', { href: '#calls/' + encodeURIComponent(numberId) + '/' + encodeURIComponent(c.wacid) }, 'Timeline'))))))));
    if (!wacid) return;
    const call = await act(null, () => api('GET', base + '/' + encodeURIComponent(wacid)));
    if (!call) return;
    view.append(el('section', { class: 'panel timeline' }, el('h2', {}, 'Call ' + call.wacid),
      el('p', {}, 'State: ', el('strong', {}, call.state), call.answered_by ? ' · answered by ' + call.answered_by : ''),
      el('ol', {}, (call.timeline || []).map((t) => el('li', {},
        el('span', { class: 'mono' }, when(t.at)), ' ', el('strong', {}, t.source + ' ' + t.name), ' (' + t.actor + ')',
        t.http_status ? ' → ' + t.http_status : '')))));
  }

  // Charts: per lane, deliveries per minute and their latency over the last hour, and the queue depth,
  // drawn by hand as small SVG charts from /admin/v1/stats.
  const SVG = 'http://www.w3.org/2000/svg';

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  // A bar chart of values (null: no bar) with its maximum labelled; described for screen readers.
  function barChart(title, values, unit, css) {
    const w = 360, h = 120, pad = 24, n = values.length;
    const max = Math.max(1, ...values.filter((v) => v !== null));
    const bw = (w - pad) / n;
    const chart = svg('svg', { viewBox: '0 0 ' + w + ' ' + h, class: 'chart ' + css, role: 'img', 'aria-label': title });
    chart.append(svg('title', {}, title));
    chart.append(svg('line', { x1: pad, y1: h - 16, x2: w, y2: h - 16, class: 'axis' }));
    chart.append(svg('text', { x: 0, y: 12, class: 'tick' }, String(max)));
    chart.append(svg('text', { x: 0, y: h - 18, class: 'tick' }, '0'));
    chart.append(svg('text', { x: pad, y: h - 2, class: 'tick' }, '−60 min'));
    chart.append(svg('text', { x: w - 28, y: h - 2, class: 'tick' }, 'now'));
    values.forEach((v, i) => {
      if (v === null || v === 0) return;
      const bh = Math.max(1, (v / max) * (h - 32));
      chart.append(svg('rect', { x: pad + i * bw, y: h - 16 - bh, width: Math.max(1, bw - 1), height: bh },
        svg('title', {}, v + ' ' + unit)));
    });
    return el('figure', { class: 'chart-box' }, chart, el('figcaption', {}, title));
  }

  async function chartsPage(view) {
    view.append(el('h1', {}, 'Charts'), el('p', { class: 'hint' }, 'The last hour, a minute a bar, from the relay store.'));
    const stats = await act(null, () => api('GET', '/stats'));
    if (!stats) return;
    const grid = el('div', { class: 'cards', id: 'charts' });
    view.append(grid);
    for (const lane of stats.data) {
      const delivered = lane.minutes.map((m) => m.delivered);
      const latency = lane.minutes.map((m) => m.mean_latency_ms);
      const total = delivered.reduce((a, b) => a + b, 0);
      const worst = Math.max(0, ...lane.minutes.map((m) => m.max_latency_ms || 0));
      grid.append(el('section', { class: 'card lane', 'data-lane': lane.lane },
        el('h2', {}, lane.lane === 'calls' ? 'Calls lane' : 'Default lane (messages, statuses, …)'),
        el('p', {}, 'Queue depth now: ', el('strong', { class: 'queue-depth' },
          String(lane.queue_depth) + (lane.queue_depth_capped ? '+' : '')),
          ' · delivered in the hour: ', el('strong', {}, String(total)),
          ' · slowest: ', el('strong', {}, total ? worst + ' ms' : '—')),
        barChart('Deliveries per minute', delivered, 'delivered', 'count'),
        barChart('Mean ingest-to-delivery latency (ms)', latency, 'ms', 'latency')));
    }
  }

  // ---- start: a live session (a reload) goes straight in; otherwise the sign-in form

  document.addEventListener('DOMContentLoaded', async () => {
    $('sign-in-form').addEventListener('submit', signIn);
    $('sign-out').addEventListener('click', signOut);
    window.addEventListener('hashchange', () => { flash(''); route(); });
    const res = await fetch('/console/session', { credentials: 'same-origin', cache: 'no-store' });
    if (res.status === 200) {
      csrf = (await res.json()).csrf;
      enter();
    } else {
      showSignIn('');
    }
  });
})();
