#!/usr/bin/env node
// Drive a real headless Chromium through an OIDC sign-in behind stagepass.
//
//   node tests/support/browser/signin.mjs --url http://127.0.0.1:PORT/some/page --login alice
//
// Options:
//   --url URL            protected page on the stagepass origin (required)
//   --login USER         login typed into the OP's dev login form (required)
//   --password PW        password typed (default "x"; the dev OP accepts any)
//   --timeout MS         deadline once Chromium is up (default 30000; its
//                        launch has 60 s of its own)
//   --expect-url URL     URL to wait for instead of --url (default: --url)
//   --screenshot FILE    save a PNG of the final page (also on failure)
//   --chromium PATH      browser binary (default $CHROMIUM or /usr/bin/chromium)
//   --allow-external     do not block requests to non-loopback hosts
//
// On success prints ONE JSON line to stdout and exits 0:
//   {"finalUrl":"...","status":200,"bodyText":"...","cookies":["name",...],"steps":[...]}
// On failure prints "signin: <reason>" (plus diagnostics) to stderr and exits 1.
// Usage errors exit 2.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    login: { type: 'string' },
    password: { type: 'string', default: 'x' },
    timeout: { type: 'string', default: '30000' },
    'expect-url': { type: 'string' },
    screenshot: { type: 'string' },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
    'allow-external': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
  strict: true,
});

function usage(msg) {
  process.stderr.write(`signin: ${msg}\nusage: node signin.mjs --url <protected url> --login <user> [--password x] [--timeout 30000]\n`);
  process.exit(2);
}
if (!args.url) usage('--url is required');
if (!args.login) usage('--login is required');
let target;
let expected;
try {
  target = new URL(args.url);
  expected = new URL(args['expect-url'] || args.url);
} catch (e) {
  usage(`bad URL: ${e.message}`);
}
const TIMEOUT = Number(args.timeout);
if (!Number.isFinite(TIMEOUT) || TIMEOUT <= 0) usage('--timeout must be a positive number of ms');

// The deadline counts from the moment Chromium is up: how long a cold browser
// takes to start on a loaded machine says nothing about the sign-in.
let started = Date.now();
// Within nextest's limit for the whole test with the deadline after it.
const LAUNCH_TIMEOUT = 60000;
const remaining = () => Math.max(1, TIMEOUT - (Date.now() - started));
const vlog = args.verbose ? (...a) => process.stderr.write(`signin: ${a.join(' ')}\n`) : () => {};

const LOOPBACK = (host) => host === 'localhost' || host.endsWith('.localhost')
  || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]' || host === '::1';

const sameTarget = (u) => {
  const x = new URL(u);
  return x.origin === expected.origin && x.pathname === expected.pathname && x.search === expected.search;
};

const userDataDir = mkdtempSync(path.join(tmpdir(), 'stagepass-chromium-'));
let context;
let page;
const steps = []; // main-frame navigations: "STATUS URL"
let lastMainStatus = null;
let lastMainUrl = null;

async function cleanup() {
  try { if (context) await context.close(); } catch { /* ignore */ }
  try { rmSync(userDataDir, { recursive: true, force: true }); } catch { /* ignore */ }
}

async function fail(reason) {
  let diag = '';
  try {
    if (page) {
      if (args.screenshot) await page.screenshot({ path: args.screenshot, fullPage: true }).catch(() => {});
      const body = await page.evaluate(() => document.body?.innerText ?? '').catch(() => '');
      diag = `\n  current url: ${page.url()}\n  last status: ${lastMainStatus}\n  navigations:\n    ${steps.join('\n    ')}\n  body: ${body.slice(0, 1000).replace(/\n/g, '\n        ')}`;
    }
  } catch { /* ignore */ }
  process.stderr.write(`signin: ${reason}${diag}\n`);
  await cleanup();
  process.exit(1);
}

let hardDeadline;

try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: args.chromium,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
    // Its own allowance: on a loaded 2-core machine a cold Chromium can take
    // more than 20 s to start.
    timeout: LAUNCH_TIMEOUT,
    ignoreHTTPSErrors: true,
  });
} catch (e) {
  await fail(`cannot launch Chromium at ${args.chromium}: ${e.message.split('\n')[0]}\n  (install it with: apt-get install -y chromium)`);
}
started = Date.now();
hardDeadline = setTimeout(() => {
  fail(`timed out after ${TIMEOUT} ms`);
}, TIMEOUT + 2000);
hardDeadline.unref();

try {
  page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(remaining());

  if (!args['allow-external']) {
    // Only loopback traffic: the OP's pages @import web fonts, which must not
    // leave the machine (and would stall 'load' without a network).
    await context.route('**/*', (route) => {
      let host;
      try { host = new URL(route.request().url()).hostname; } catch { return route.continue(); }
      if (LOOPBACK(host) || host === '' || route.request().url().startsWith('data:')) return route.continue();
      vlog('blocked', route.request().url());
      return route.abort('blockedbyclient');
    });
  }

  page.on('response', (res) => {
    const req = res.request();
    if (req.isNavigationRequest() && req.frame() === page.mainFrame()) {
      steps.push(`${res.status()} ${req.method()} ${res.url()}`);
      lastMainStatus = res.status();
      lastMainUrl = res.url();
      vlog('nav', res.status(), req.method(), res.url());
    }
  });

  // 1. Open the protected page: stagepass redirects to the OP's /auth, which
  //    redirects to its /interaction/<uid> login form.
  await page.goto(target.href, { waitUntil: 'domcontentloaded', timeout: remaining() });

  // 2. Either the OP login form shows up, or we are already back (SSO).
  const loginInput = page.locator('input[name="login"]');
  const landed = await Promise.race([
    loginInput.waitFor({ state: 'visible', timeout: remaining() }).then(() => 'form'),
    page.waitForURL((u) => sameTarget(u.href), { timeout: remaining(), waitUntil: 'domcontentloaded' }).then(() => 'target'),
  ]).catch((e) => `error: ${e.message.split('\n')[0]}`);
  if (landed.startsWith('error')) await fail(`neither the OP login form nor ${expected.href} appeared (${landed})`);

  if (landed === 'form') {
    const opOrigin = new URL(page.url()).origin;
    if (opOrigin === expected.origin) vlog('warning: login form is on the stagepass origin');
    vlog('login form at', page.url());
    await loginInput.fill(args.login);
    await page.locator('input[name="password"]').fill(args.password);
    // 3. Submit: OP -> /auth/<uid> -> stagepass callback -> original URL.
    await Promise.all([
      page.waitForURL((u) => sameTarget(u.href), { timeout: remaining(), waitUntil: 'domcontentloaded' }),
      page.locator('form button[type="submit"], form [type="submit"]').first().click({ timeout: remaining() }),
    ]).catch(async (e) => {
      await fail(`did not return to ${expected.href} after submitting the login form (${e.message.split('\n')[0]})`);
    });
  }

  await page.waitForLoadState('domcontentloaded', { timeout: remaining() }).catch(() => {});
  const finalUrl = page.url();
  const bodyText = (await page.evaluate(() => document.body?.innerText ?? '')).slice(0, 2000);
  const cookies = (await context.cookies(expected.origin)).map((c) => c.name);
  if (args.screenshot) await page.screenshot({ path: args.screenshot, fullPage: true }).catch(() => {});
  const status = lastMainUrl && sameTarget(lastMainUrl) ? lastMainStatus : null;

  process.stdout.write(`${JSON.stringify({ finalUrl, status, bodyText, cookies, steps })}\n`);
  await cleanup();
  process.exit(0);
} catch (e) {
  await fail(e.message.split('\n')[0]);
}
