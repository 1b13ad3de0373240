/*
 * The desk's page: agents work their queue, admins watch the desk.
 *
 * Plain browser JavaScript, no build step and no dependency.  Every value
 * that comes from the API reaches the page through textContent or an
 * attribute set with setAttribute, never as markup.  The token lives in
 * sessionStorage (this tab only) and travels in the Authorization header,
 * never in a URL.  Every error of the API is shown to the person in a
 * role="alert" region, with its HTTP status and code.
 */
'use strict';

(function () {

const API = (document.querySelector('meta[name="cs-api"]') || {}).content
            || '/api/';
const TOKEN_KEY = 'cs-desk-token';
/* the heartbeat: well inside cs_presence_timeout's default of 60 s */
const HEARTBEAT_MS = 20000;
/* the admin's view and the agent's queue refresh themselves this often */
const REFRESH_MS = 30000;
const SVG_NS = 'http://www.w3.org/2000/svg';

const RANGES = {
    '24h':  { ms: 24 * 3600e3, bucket: 'hour' },
    '7d':   { ms: 7 * 24 * 3600e3, bucket: 'hour' },
    '30d':  { ms: 30 * 24 * 3600e3, bucket: 'day' },
    '365d': { ms: 365 * 24 * 3600e3, bucket: 'day' },
};

const $ = (id) => document.getElementById(id);

let me = null;          /* GET me's answer */
let presence = 'online';
let timers = [];
let openId = null;      /* the ticket shown */


/* --- the API ---------------------------------------------------------- */

class ApiError extends Error {
    constructor(status, code, message, field) {
        super(message);
        this.status = status;
        this.code = code;
        this.field = field;
    }
}

function token() {
    return sessionStorage.getItem(TOKEN_KEY) || '';
}

async function api(method, path, body) {
    const headers = { 'Authorization': 'Bearer ' + token() };
    const init = { method, headers, cache: 'no-store', credentials: 'omit',
                   referrerPolicy: 'no-referrer' };
    if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
    }

    let res;
    try {
        res = await fetch(API + path, init);
    } catch (e) {
        throw new ApiError(0, 'network_error',
                           'the desk did not answer (' + e.message + ')');
    }

    const text = await res.text();
    let json = null;
    try {
        json = JSON.parse(text);
    } catch (e) {
        json = null;
    }

    if (!res.ok || json === null || typeof json !== 'object'
        || json.status !== 'success')
    {
        const j = (json && typeof json === 'object') ? json : {};
        throw new ApiError(res.status,
                           typeof j.error === 'string' ? j.error
                                                       : 'http_' + res.status,
                           typeof j.message === 'string'
                               ? j.message
                               : (res.statusText || 'not a desk answer'),
                           typeof j.field === 'string' ? j.field : null);
    }
    return json;
}

/* a list endpoint, every page up to `max` items */
async function apiList(path, key, max) {
    const items = [];
    let cursor = null;
    do {
        const sep = path.includes('?') ? '&' : '?';
        const page = await api('GET', path + sep + 'limit=100'
                               + (cursor ? '&cursor='
                                           + encodeURIComponent(cursor) : ''));
        items.push(...(page[key] || []));
        cursor = page.cursor;
    } while (cursor && items.length < max);
    return { items, more: Boolean(cursor) };
}


/* --- DOM helpers: text only ------------------------------------------- */

/* el('p', {class: 'x'}, 'text', child, ...): strings become text nodes */
function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v !== null && v !== undefined && v !== false) {
            node.setAttribute(k, v === true ? '' : String(v));
        }
    }
    for (const c of children) {
        if (c === null || c === undefined) {
            continue;
        }
        node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
}

function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        node.setAttribute(k, String(v));
    }
    for (const c of children) {
        node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
}

function clear(node) {
    node.replaceChildren();
}

/* an error of the API, in the alert region `box` */
function showError(box, what, err) {
    const p = el('p', { class: 'error' });
    p.append(el('strong', {}, 'Error'), ': ' + what + ' failed: ');
    if (err instanceof ApiError) {
        p.append(el('span', { class: 'code' },
                    (err.status ? err.status + ' ' : '') + err.code));
        p.append(' \u2014 ' + err.message
                 + (err.field ? ' (field ' + err.field + ')' : ''));
        if (err.status === 401) {
            p.append('. Sign out and sign in again with a valid token.');
        }
    } else {
        p.append(String(err && err.message || err));
    }
    box.replaceChildren(p);
    /* the region speaks for itself (role="alert"); bring it into view */
    if (typeof box.scrollIntoView === 'function') {
        box.scrollIntoView({ block: 'nearest' });
    }
}

function clearError(box) {
    clear(box);
}

/* run an action, its error shown in `box` */
async function guarded(box, what, fn) {
    try {
        const r = await fn();
        clearError(box);
        return r;
    } catch (e) {
        showError(box, what, e);
        return undefined;
    }
}


/* --- formats ---------------------------------------------------------- */

function pad(n) {
    return String(n).padStart(2, '0');
}

/* ms since the epoch, in UTC (the trends' buckets are UTC too) */
function utc(ms, dateOnly) {
    if (ms === null || ms === undefined || ms === '') {
        return '\u2014';
    }
    const d = new Date(Number(ms));
    if (isNaN(d.getTime())) {
        return String(ms);
    }
    const day = d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-'
                + pad(d.getUTCDate());
    return dateOnly ? day
                    : day + ' ' + pad(d.getUTCHours()) + ':'
                      + pad(d.getUTCMinutes()) + ' UTC';
}

function percent(x) {
    return x === null || x === undefined ? 'no data' : x.toFixed(1) + ' %';
}

function seconds(s) {
    if (s === null || s === undefined) {
        return 'no data';
    }
    if (s < 120) {
        return Number(s.toFixed(1)) + ' s';
    }
    if (s < 7200) {
        return (s / 60).toFixed(1) + ' min';
    }
    if (s < 172800) {
        return (s / 3600).toFixed(1) + ' h';
    }
    return (s / 86400).toFixed(1) + ' d';
}

/* "1 ticket", "2 tickets" */
function count(n, word) {
    return n + ' ' + word + (n === 1 ? '' : 's');
}

function text(v) {
    return v === null || v === undefined || v === '' ? '\u2014' : String(v);
}


/* --- signing in and out ----------------------------------------------- */

function every(ms, fn) {
    timers.push(setInterval(fn, ms));
}

function stopTimers() {
    timers.forEach(clearInterval);
    timers = [];
}

async function signIn(tok) {
    sessionStorage.setItem(TOKEN_KEY, tok);
    const box = $('alert');
    let who;
    try {
        who = await api('GET', 'me');
    } catch (e) {
        sessionStorage.removeItem(TOKEN_KEY);
        showError(box, 'Signing in', e);
        return;
    }
    if (who.role !== 'agent' && who.role !== 'admin') {
        sessionStorage.removeItem(TOKEN_KEY);
        showError(box, 'Signing in',
                  new Error('this page is for agents and admins; a customer\'s'
                            + ' ticket token does not open it'));
        return;
    }
    clearError(box);
    me = who;
    $('login').hidden = true;
    $('who').textContent = 'Signed in as ' + who.name + ' (' + who.role + ')';
    $('who').hidden = false;
    $('signout').hidden = false;

    if (who.role === 'agent') {
        $('agent').hidden = false;
        startAgent();
    } else {
        $('admin').hidden = false;
        loadAdmin();
        every(REFRESH_MS, loadAdmin);
    }
    $('main').focus();
}

async function signOut() {
    stopTimers();
    if (me && me.role === 'agent') {
        /* say so rather than let the heartbeat lapse; an error is shown */
        await guarded($('alert'), 'Going offline', () =>
            api('PUT', 'agents/' + encodeURIComponent(me.name) + '/presence',
                { status: 'offline' }));
    }
    sessionStorage.removeItem(TOKEN_KEY);
    me = null;
    openId = null;
    for (const id of ['agent', 'admin', 'ticket', 'who', 'signout']) {
        $(id).hidden = true;
    }
    for (const id of ['queue', 'agents', 'backlog']) {
        clear($(id).tBodies[0]);
    }
    for (const id of ['figures', 'trends', 'insights', 'messages',
                      'ticket-fields', 'heartbeat', 'ticket-status'])
    {
        clear($(id));
    }
    $('login').hidden = false;
    $('token').focus();
}


/* --- the agent's view ------------------------------------------------- */

function agentPath(suffix) {
    return 'agents/' + encodeURIComponent(me.name) + suffix;
}

async function sendPresence() {
    const r = await guarded($('alert'), 'The presence heartbeat', () =>
        api('PUT', agentPath('/presence'), { status: presence }));
    if (r) {
        $('heartbeat').textContent = 'Presence: ' + presence
            + '. Heartbeat sent at ' + utc(Date.now()).slice(11)
            + '; sent every ' + HEARTBEAT_MS / 1000 + ' s while this page'
            + ' is open.';
    }
    return r;
}

function startAgent() {
    $('presence').value = presence;
    sendPresence().then(loadQueue);
    every(HEARTBEAT_MS, sendPresence);
    every(REFRESH_MS, loadQueue);
}

async function loadQueue() {
    const r = await guarded($('queue-error'), 'Loading the queue', () =>
        apiList(agentPath('/queue'), 'tickets', 100));
    if (!r) {
        return;
    }
    const body = $('queue').tBodies[0];
    clear(body);
    for (const t of r.items) {
        body.append(el('tr', { 'data-ticket': t.ticketId },
            el('td', {}, el('button', {
                type: 'button', class: 'link', 'data-open': t.ticketId,
                'aria-label': 'Open ticket ' + t.ticketId }, '#' + t.ticketId)),
            el('td', {}, text(t.state)),
            el('td', {}, text(t.priority)),
            el('td', {}, text(t.category)),
            el('td', { class: 'issue' }, text(t.issue)),
            el('td', {}, utc(t.createdAt))));
    }
    $('queue-empty').hidden = r.items.length > 0;
}

async function openTicket(id, focus) {
    const t = await guarded($('queue-error'), 'Opening ticket ' + id, () =>
        api('GET', 'tickets/' + encodeURIComponent(id)));
    if (!t) {
        return;
    }
    openId = t.ticketId;
    $('ticket-h').textContent = 'Ticket #' + t.ticketId;

    const dl = $('ticket-fields');
    clear(dl);
    const rows = [
        ['State', t.state], ['Agent', t.agent], ['Priority', t.priority],
        ['Category', t.category], ['Channel', t.channel],
        ['Email', t.email], ['Created', utc(t.createdAt)],
        ['First response', utc(t.firstResponseAt)],
        ['Solved', utc(t.solvedAt)], ['Issue', t.issue],
        ['Automatic answer', t.answer],
    ];
    for (const [k, v] of rows) {
        dl.append(el('dt', {}, k),
                  el('dd', { 'data-field': k.toLowerCase() }, text(v)));
    }

    const ol = $('messages');
    clear(ol);
    for (const m of t.messages || []) {
        const who = m.from === 'agent' ? 'Agent ' + text(m.agent)
                  : m.from === 'customer' ? 'Customer' : text(m.from);
        ol.append(el('li', { class: m.internal ? 'internal' : null },
            el('p', { class: 'meta' }, who + ', ' + utc(m.at)
                    + (m.internal ? ' \u2014 internal note' : '')),
            el('p', { class: 'body' }, text(m.body))));
    }
    if (!ol.childElementCount) {
        ol.append(el('li', { class: 'hint' }, 'No messages yet.'));
    }

    $('ticket').hidden = false;
    if (focus) {
        $('ticket').focus();
    }
}

async function reply(ev) {
    ev.preventDefault();
    if (openId === null) {
        return;
    }
    const id = openId;
    $('ticket-status').textContent = '';
    const r = await guarded($('alert'), 'Sending the reply to #' + id, () =>
        api('POST', 'tickets/' + id + '/messages',
            { body: $('reply').value, internal: $('internal').checked }));
    if (r) {
        $('reply').value = '';
        $('internal').checked = false;
        $('ticket-status').textContent = 'Reply sent to #' + id + '.';
        await openTicket(id, false);
        await loadQueue();
    }
}

async function changeState(ev) {
    ev.preventDefault();
    if (openId === null) {
        return;
    }
    const id = openId;
    const state = $('state').value;
    $('ticket-status').textContent = '';
    const r = await guarded($('alert'), 'Changing #' + id + ' to ' + state,
        () => api('POST', 'tickets/' + id + '/status', { state }));
    if (r) {
        $('ticket-status').textContent = 'Ticket #' + id + ' is now '
                                         + r.state + '.';
        await openTicket(id, false);
        await loadQueue();
    }
}


/* --- the admin's view ------------------------------------------------- */

function loadAdmin() {
    return Promise.all([loadAgents(), loadBacklog(), loadFigures(),
                        loadTrends(), loadInsights()]);
}

async function loadAgents() {
    const r = await guarded($('agents-error'), 'Loading the agents (GET agents)',
                            () => apiList('agents', 'agents', 1000));
    if (!r) {
        return;
    }
    const body = $('agents').tBodies[0];
    clear(body);
    for (const a of r.items) {
        body.append(el('tr', { 'data-agent': a.name },
            el('th', { scope: 'row' }, text(a.name)),
            /* the word itself, with a mark that differs by shape too */
            el('td', { class: 'presence ' + a.status },
               el('span', { 'aria-hidden': 'true', class: 'mark' },
                  a.status === 'online' ? '\u25cf'
                  : a.status === 'away' ? '\u25d0' : '\u25cb'),
               ' ' + text(a.status)),
            el('td', {}, text(a.load)),
            el('td', {}, text(a.capacity)),
            el('td', {}, utc(a.lastSeen))));
    }
    $('agents-empty').hidden = r.items.length > 0;
}

async function loadBacklog() {
    const r = await guarded($('backlog-error'),
                            'Loading the backlog (GET tickets?state=queued)',
                            () => apiList('tickets?state=queued', 'tickets',
                                          100));
    if (!r) {
        return;
    }
    const body = $('backlog').tBodies[0];
    clear(body);
    for (const t of r.items) {
        body.append(el('tr', { 'data-ticket': t.ticketId },
            el('th', { scope: 'row' }, '#' + t.ticketId),
            el('td', {}, text(t.priority)),
            el('td', {}, text(t.category)),
            el('td', { class: 'issue' }, text(t.issue)),
            el('td', {}, utc(t.createdAt))));
    }
    $('backlog-empty').hidden = r.items.length > 0;
    $('backlog-empty').textContent = 'The backlog is empty.';
    if (r.more) {
        $('backlog-empty').hidden = false;
        $('backlog-empty').textContent = 'The first ' + r.items.length
                                         + ' queued tickets are shown.';
    }
}

/*
 * one figure: a term, its value as shown (fmt of the API's number, which
 * stays in data-value: "" when the API has none) and how it was made
 */
function figure(dl, key, term, raw, fmt, detail) {
    dl.append(el('dt', {}, term),
              el('dd', { 'data-figure': key },
                 el('span', { class: 'value',
                              'data-value': raw === null ? '' : raw },
                    raw === null ? 'no data' : fmt(raw)),
                 detail ? el('span', { class: 'detail' }, ' (' + detail + ')')
                        : null));
}

async function loadFigures() {
    const m = await guarded($('figures-error'), 'Loading the figures (GET metrics)',
                            () => api('GET', 'metrics'));
    const dl = $('figures');
    if (!m) {
        clear(dl);
        return;
    }
    const n = (o, k) => (o && typeof o[k] === 'number') ? o[k] : 0;
    const v = (o, k) => (o && typeof o[k] === 'number') ? o[k] : null;
    const fr = m.firstResponse, rs = m.resolution, ar = m.autoResolution;
    clear(dl);

    const t = m.tickets || {};
    const byState = t.byState || {};
    figure(dl, 'tickets', 'Tickets', n(t, 'total'), String,
           Object.keys(byState).map((s) => byState[s] + ' ' + s).join(', '));
    figure(dl, 'csat', 'CSAT (ratings of 4 or 5)', v(m.csat, 'percent'),
           percent, n(m.csat, 'satisfied') + ' satisfied of '
                    + count(n(m.csat, 'ratings'), 'rating'));
    figure(dl, 'loyalty', 'Loyalty (customers with 2 or more tickets)',
           v(m.loyalty, 'percent'), percent,
           n(m.loyalty, 'repeat') + ' repeat of '
           + count(n(m.loyalty, 'customers'), 'customer'));
    figure(dl, 'ces', 'Customer effort (CES, 1 to 7)', v(m.ces, 'mean'),
           (x) => x.toFixed(1), count(n(m.ces, 'ratings'), 'rating'));
    figure(dl, 'firstResponseMedian', 'First response, median',
           v(fr, 'medianSeconds'), seconds, count(n(fr, 'count'), 'ticket'));
    figure(dl, 'firstResponseP90', 'First response, 90th percentile',
           v(fr, 'p90Seconds'), seconds, null);
    figure(dl, 'resolutionMedian', 'Resolution, median',
           v(rs, 'medianSeconds'), seconds, count(n(rs, 'count'), 'ticket'));
    figure(dl, 'resolutionP90', 'Resolution, 90th percentile',
           v(rs, 'p90Seconds'), seconds, null);
    figure(dl, 'autoResolution', 'Automatic resolution (never reopened)',
           v(ar, 'rate'), percent,
           n(ar, 'autoResolved') + ' answered by a rule, '
           + n(ar, 'reopened') + ' reopened, of '
           + count(n(ar, 'tickets'), 'ticket'));
}

/*
 * The trend of one category: a bar per bucket in plain SVG, named for
 * screen readers by its caption, with its counts in a table beside it.
 */
function trendChart(cat, buckets, bucket) {
    const counts = buckets.map((b) => Number((b.counts || {})[cat]) || 0);
    const total = counts.reduce((a, b) => a + b, 0);
    const max = Math.max(1, ...counts);
    const W = 600, H = 140, left = 36, bottom = 20, top = 8;
    const plotW = W - left - 4, plotH = H - bottom - top;
    const bw = plotW / Math.max(1, counts.length);
    const capId = 'trend-' + Math.random().toString(36).slice(2);

    const chart = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img',
                               'aria-labelledby': capId, class: 'chart' });
    chart.append(svg('line', { x1: left, y1: top + plotH, x2: W - 4,
                               y2: top + plotH, class: 'axis' }));
    chart.append(svg('line', { x1: left, y1: top, x2: left, y2: top + plotH,
                               class: 'axis' }));
    chart.append(svg('text', { x: left - 4, y: top + 10, 'text-anchor': 'end',
                               class: 'tick' }, String(max)));
    chart.append(svg('text', { x: left - 4, y: top + plotH,
                               'text-anchor': 'end', class: 'tick' }, '0'));
    counts.forEach((c, i) => {
        if (!c) {
            return;
        }
        const h = Math.max(1, c / max * plotH);
        chart.append(svg('rect', {
            x: (left + i * bw + bw * 0.1).toFixed(2),
            y: (top + plotH - h).toFixed(2),
            width: Math.max(0.5, bw * 0.8).toFixed(2), height: h.toFixed(2),
            class: 'bar' },
            svg('title', {}, utc(buckets[i].at, bucket === 'day') + ': ' + c)));
    });
    if (buckets.length) {
        chart.append(svg('text', { x: left, y: H - 4, class: 'tick' },
                         utc(buckets[0].at, bucket === 'day')));
        chart.append(svg('text', { x: W - 4, y: H - 4, 'text-anchor': 'end',
                                   class: 'tick' },
                         utc(buckets[buckets.length - 1].at,
                             bucket === 'day')));
    }

    const busiest = counts.indexOf(Math.max(...counts));
    const caption = cat + ': ' + total + ' new ticket' + (total === 1 ? '' : 's')
        + (total ? ', at most ' + counts[busiest] + ' in one ' + bucket
                   + ' (' + utc(buckets[busiest].at, bucket === 'day') + ')'
                 : '');

    const rows = el('tbody');
    counts.forEach((c, i) => {
        if (c) {
            rows.append(el('tr', {},
                el('td', {}, utc(buckets[i].at, bucket === 'day')),
                el('td', {}, String(c))));
        }
    });
    const table = el('details', {},
        el('summary', {}, 'Counts for ' + cat + ' (' + bucket
                          + 's with none left out)'),
        el('table', {},
           el('thead', {}, el('tr', {},
              el('th', { scope: 'col' }, bucket === 'day' ? 'Day' : 'Hour'),
              el('th', { scope: 'col' }, 'New tickets'))),
           rows));

    return el('figure', { class: 'trend', 'data-category': cat },
              el('figcaption', { id: capId }, caption), chart, table);
}

async function loadTrends() {
    const range = RANGES[$('trends-range').value] || RANGES['24h'];
    const to = Date.now();
    const from = to - range.ms;
    const r = await guarded($('trends-error'), 'Loading the trends (GET trends)',
        () => api('GET', 'trends?from=' + from + '&to=' + to + '&bucket='
                          + range.bucket));
    const box = $('trends');
    /* a refresh keeps the count tables the person opened */
    const opened = new Set(Array.from(
        box.querySelectorAll('figure.trend details[open]'),
        (d) => d.closest('figure').getAttribute('data-category')));
    clear(box);
    if (!r) {
        return;
    }
    const cats = r.categories || [];
    const buckets = r.buckets || [];
    for (const cat of cats) {
        const fig = trendChart(cat, buckets, r.bucket || range.bucket);
        fig.querySelector('details').open = opened.has(cat);
        box.append(fig);
    }
    if (!cats.length) {
        box.append(el('p', { class: 'hint' }, 'No tickets in this period.'));
    }
}

const ACTIONS = {
    add_rule: 'Add a rule',
    review_rule: 'Review the rule',
    investigate_surge: 'Look into the surge',
};

async function loadInsights() {
    const r = await guarded($('insights-error'),
                            'Loading the insights (GET insights)',
                            () => api('GET', 'insights'));
    const ul = $('insights');
    clear(ul);
    if (!r) {
        return;
    }
    for (const i of r.insights || []) {
        const kind = i.kind === 'unhappy' ? 'Unhappy customers'
                   : i.kind === 'surge' ? 'Surge' : text(i.kind);
        ul.append(el('li', { 'data-kind': i.kind, 'data-category': i.category },
            el('p', {}, el('strong', {}, kind + ' in ' + text(i.category)),
               ': ' + (ACTIONS[i.action] || text(i.action)) + '.'),
            el('p', {}, text(i.suggestion)),
            el('p', { class: 'detail' },
               i.count + ' of a threshold of ' + i.threshold + ' within '
               + seconds(i.windowSeconds) + '; tickets #' + i.firstTicketId
               + ' to #' + i.lastTicketId + '; '
               + (i.rule ? 'answered by the rule ' + i.rule
                         : 'no rule answers it'))));
    }
    $('insights-empty').hidden = (r.insights || []).length > 0;
}


/* --- wiring ----------------------------------------------------------- */

function start() {
    $('login-form').addEventListener('submit', (ev) => {
        ev.preventDefault();
        const tok = $('token').value.trim();
        $('token').value = '';
        if (tok) {
            signIn(tok);
        }
    });
    $('signout').addEventListener('click', signOut);

    $('presence-form').addEventListener('submit', (ev) => {
        ev.preventDefault();
        presence = $('presence').value;
        sendPresence().then(loadQueue);
    });
    $('queue-refresh').addEventListener('click', loadQueue);
    $('queue').addEventListener('click', (ev) => {
        const b = ev.target.closest('button[data-open]');
        if (b) {
            openTicket(b.getAttribute('data-open'), true);
        }
    });
    $('reply-form').addEventListener('submit', reply);
    $('state-form').addEventListener('submit', changeState);

    $('admin-refresh').addEventListener('click', loadAdmin);
    $('trends-form').addEventListener('submit', (ev) => {
        ev.preventDefault();
        loadTrends();
    });

    /* a reload of the tab keeps the session; a new tab asks again */
    if (token()) {
        signIn(token());
    } else {
        $('token').focus();
    }
}

start();

})();
