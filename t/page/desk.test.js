// Drives the desk's page in Debian's chromium (playwright-core) for
// t/046-page.t, which starts nginx and Redis, makes the desk's data, runs
// this script and checks Redis and the API against what it reports.
//
//   node desk.test.js agent|admin|bad    (settings in the environment)
//
// DESK_URL      the page, e.g. http://127.0.0.1:22400/desk/
// DESK_TOKEN    the token to paste (agent token or admin key)
// DESK_TICKET   agent: the ticket to work to solved
// DESK_SHOTS    the directory for screenshots (build/page)
// DESK_TIMEOUT  ms for each wait (default 15000)
// CHROMIUM      the browser (default /usr/lib/chromium/chromium)
//
// It prints one JSON line: what the page showed.  Every wait is bounded;
// a watchdog ends the run if the whole takes too long.
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const mode = process.argv[2];
const url = process.env.DESK_URL;
const tok = process.env.DESK_TOKEN || '';
const shots = process.env.DESK_SHOTS || 'build/page';
const timeout = Number(process.env.DESK_TIMEOUT || 15000);
const exe = process.env.CHROMIUM
    || ['/usr/lib/chromium/chromium', '/usr/bin/chromium']
        .find((p) => fs.existsSync(p));

// the page's heartbeat interval (desk.js HEARTBEAT_MS)
const HEARTBEAT_MS = 20000;

const watchdog = setTimeout(() => {
    process.stderr.write('desk.test.js: no result after ' + 6 * timeout
                         + ' ms\n');
    process.exit(2);
}, 6 * timeout);

async function text(loc) {
    return (await loc.textContent({ timeout })).replace(/\s+/g, ' ').trim();
}

// waits until fn(page) is true, within the timeout
function until(page, fn, arg) {
    return page.waitForFunction(fn, arg, { timeout, polling: 50 });
}

// controls without a label, buttons without a name (both must be none)
function unnamed(page) {
    return page.evaluate(() => [
        ...Array.from(document.querySelectorAll('input, select, textarea'))
            .filter((e) => !e.labels || !e.labels.length)
            .map((e) => 'unlabelled ' + (e.id || e.tagName)),
        ...Array.from(document.querySelectorAll('button'))
            .filter((b) => !(b.getAttribute('aria-label')
                             || b.textContent.trim()))
            .map((b) => 'unnamed button ' + b.outerHTML.slice(0, 60)),
    ]);
}

async function signIn(page, token) {
    await page.goto(url, { timeout });
    // keyboard only: the field has the focus; type, then Enter
    const field = page.getByLabel('Agent token or admin key');
    await field.waitFor({ timeout });
    await field.fill(token);
    await field.press('Enter');
}

async function agent(page, out) {
    const id = process.env.DESK_TICKET;
    const presence = [];
    page.on('request', (r) => {
        if (r.method() === 'PUT' && /\/presence$/.test(r.url())) {
            presence.push(JSON.parse(r.postData() || '{}').status);
        }
    });

    await signIn(page, tok);
    await until(page, () => /\(agent\)/.test(
        document.getElementById('who').textContent));
    out.who = await text(page.locator('#who'));
    out.url = page.url();
    out.stored = await page.evaluate(
        () => sessionStorage.getItem('cs-desk-token'));

    // the first heartbeat at once; the next one after HEARTBEAT_MS (the
    // page's clock is playwright's, moved forward, not waited for)
    await until(page, () => /Heartbeat sent/.test(
        document.getElementById('heartbeat').textContent));
    const first = presence.length;
    const next = page.waitForRequest(
        (r) => r.method() === 'PUT' && /\/presence$/.test(r.url()),
        { timeout });
    await page.clock.runFor(HEARTBEAT_MS + 1000);
    await next;
    out.heartbeats = { before: first, after: presence.length,
                       statuses: presence.slice() };

    // the queue shows the ticket; open it with the keyboard
    const open = page.locator('button[data-open="' + id + '"]');
    await open.waitFor({ timeout });
    out.queueRow = await page.locator('#queue tr[data-ticket="' + id + '"]')
        .evaluate((r) => Array.from(r.cells, (c) => c.textContent.trim())
                             .join(' | '));
    await open.focus();
    await page.keyboard.press('Enter');
    await until(page, (i) => !document.getElementById('ticket').hidden
        && document.getElementById('ticket-h').textContent === 'Ticket #' + i,
        id);
    out.issue = await text(page.locator('#ticket-fields dd[data-field=issue]'));
    out.unnamed = await unnamed(page);

    // a reply that would be markup if the page used innerHTML
    const body = 'We are on it <img src=x onerror="window.pwned=1"> &amp; '
                 + 'back soon';
    await page.getByLabel('Reply').fill(body);
    await page.getByRole('button', { name: 'Send the reply' }).click();
    await until(page, () => /Reply sent/.test(
        document.getElementById('ticket-status').textContent));
    const last = page.locator('#messages li').last();
    out.replyShown = await text(last.locator('.body'));
    out.injected = await page.evaluate(
        () => Boolean(window.pwned) || document.querySelectorAll(
            '#messages img').length > 0);

    // an agent may not close an assigned ticket: the API's 409 is shown
    await page.getByLabel('New state').selectOption('closed');
    await page.getByRole('button', { name: 'Change the state' }).click();
    await until(page, () => /409/.test(
        document.getElementById('alert').textContent));
    out.errorShown = await text(page.locator('#alert'));
    out.errorRole = await page.locator('#alert').getAttribute('role');
    await page.screenshot({ path: path.join(shots, 'agent-error.png'),
                            fullPage: true });

    // solved
    await page.getByLabel('New state').selectOption('solved');
    await page.getByRole('button', { name: 'Change the state' }).click();
    await until(page, (i) => document.getElementById('ticket-status')
        .textContent === 'Ticket #' + i + ' is now solved.', id);
    out.status = await text(page.locator('#ticket-status'));
    out.alertAfter = await text(page.locator('#alert'));
    out.stateShown = await text(page.locator('#ticket-fields dd[data-field=state]'));
    // a solved ticket leaves the open queue
    await until(page, (i) => !document.querySelector(
        '#queue tr[data-ticket="' + i + '"]'), id);
    await page.screenshot({ path: path.join(shots, 'agent.png'),
                            fullPage: true });

    // presence away, by the form
    await page.getByLabel('Presence').selectOption('away');
    await page.getByRole('button', { name: 'Set presence' }).click();
    await until(page, () => /Presence: away/.test(
        document.getElementById('heartbeat').textContent));
    out.presence = presence.slice();
}

async function admin(page, out) {
    await signIn(page, tok);
    await until(page, () => /\(admin\)/.test(
        document.getElementById('who').textContent));
    out.who = await text(page.locator('#who'));

    // every section has answered: with its data or with its error
    const sections = ['agents', 'backlog', 'figures', 'trends', 'insights'];
    await until(page, (ids) => ids.every((s) => {
        const err = document.getElementById(s + '-error').textContent;
        const box = document.getElementById(s);
        const filled = box.tagName === 'TABLE'
            ? box.tBodies[0].rows.length > 0 : box.childElementCount > 0;
        const empty = document.getElementById(s + '-empty');
        return err !== '' || filled || (empty && !empty.hidden);
    }), sections);

    out.errors = {};
    for (const s of sections) {
        out.errors[s] = await text(page.locator('#' + s + '-error'));
    }
    out.agents = await page.locator('#agents tbody tr').evaluateAll(
        (rows) => rows.map((r) => Array.from(r.cells,
            (c) => c.textContent.replace(/\s+/g, ' ').trim())));
    out.backlog = await page.locator('#backlog tbody tr').evaluateAll(
        (rows) => rows.map((r) => r.getAttribute('data-ticket')));
    out.figures = await page.locator('#figures dd').evaluateAll(
        (dds) => Object.fromEntries(dds.map((d) => [
            d.getAttribute('data-figure'),
            { shown: d.querySelector('.value').textContent,
              value: d.querySelector('.value').getAttribute('data-value') },
        ])));
    out.trends = await page.locator('#trends figure').evaluateAll(
        (fs) => fs.map((f) => ({
            category: f.getAttribute('data-category'),
            caption: f.querySelector('figcaption').textContent,
            bars: f.querySelectorAll('svg rect.bar').length,
            label: f.querySelector('svg').getAttribute('aria-labelledby')
                   === f.querySelector('figcaption').id })));
    out.insights = await page.locator('#insights li').evaluateAll(
        (lis) => lis.map((l) => ({ kind: l.getAttribute('data-kind'),
                                   category: l.getAttribute('data-category'),
                                   text: l.textContent })));
    out.unnamed = await unnamed(page);
    await page.screenshot({ path: path.join(shots, 'admin.png'),
                            fullPage: true });
}

async function bad(page, out) {
    await signIn(page, tok);
    await until(page, () => document.getElementById('alert')
        .textContent !== '');
    out.errorShown = await text(page.locator('#alert'));
    out.loginVisible = await page.locator('#login').isVisible();
    out.stored = await page.evaluate(
        () => sessionStorage.getItem('cs-desk-token'));
    await page.screenshot({ path: path.join(shots, 'signin-error.png'),
                            fullPage: true });
}

(async () => {
    const modes = { agent, admin, bad };
    if (!modes[mode] || !url || !exe) {
        throw new Error('usage: DESK_URL=... node desk.test.js agent|admin|bad'
                        + (exe ? '' : ' (no chromium found)'));
    }
    fs.mkdirSync(shots, { recursive: true });
    const browser = await chromium.launch({
        executablePath: exe, headless: true, timeout,
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const out = { mode };
    try {
        const context = await browser.newContext(
            { viewport: { width: 1100, height: 900 } });
        const page = await context.newPage();
        out.console = [];
        out.pageErrors = [];
        page.on('pageerror', (e) => out.pageErrors.push(e.message));
        page.on('console', (m) => {
            if (m.type() === 'error') {
                out.console.push(m.text());
            }
        });
        await page.clock.install();
        await modes[mode](page, out);
    } finally {
        await browser.close();
    }
    process.stdout.write(JSON.stringify(out) + '\n');
    clearTimeout(watchdog);
})().catch((e) => {
    process.stderr.write('desk.test.js ' + mode + ': ' + (e.stack || e)
                         + '\n');
    process.exit(1);
});
