#!/usr/bin/env node
// Drive a real headless Chromium through Backstage's own frontend behind
// stagepass: sign in (OIDC dev login form, or stagepass's guest picker), read
// what the app's IdentityApi and a catalog call say, sign out with the app's
// own identityApi.signOut(), and check that a new sign-in is required.
//
//   node tests/support/frontend/drive.mjs --url http://127.0.0.1:PORT/ --mode oidc \
//     --login alice --screenshots /tmp/shots
//
// Options:
//   --url URL               the app root on the stagepass origin (required)
//   --mode oidc|guest       how stagepass signs people in (required)
//   --login USER            OIDC: typed into the OP's login form; guest: the catalog user picked (required)
//   --password PW           OIDC password (default "x"; the dev OP accepts any)
//   --screenshots DIR       where NN-<step>.png go (required; created if missing)
//   --timeout MS            deadline once Chromium is up (default 60000; its
//                           launch has 60 s of its own)
//   --signout-timeout MS    how long to wait for the login form / picker after sign-out (default 15000)
//   --chromium PATH         browser binary (default $CHROMIUM or /usr/bin/chromium)
//   --allow-external        do not block requests to non-loopback hosts
//   --verbose               log navigations and actions to stderr
//
// On success prints ONE JSON line to stdout and exits 0:
//   {"signedIn":{...},"afterSignOut":{...},"consoleErrors":[...],"failedRequests":[...],"screenshots":[...],...}
// On failure prints "drive: <reason>" (plus diagnostics) to stderr, saves
// NN-failure.png and exits 1. Usage errors exit 2.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

function usage(msg) {
  process.stderr.write(`drive: ${msg}\nusage: node drive.mjs --url <app root on stagepass> --mode oidc|guest --login <user> --screenshots <dir> [--timeout 60000]\n`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      url: { type: 'string' },
      mode: { type: 'string' },
      login: { type: 'string' },
      password: { type: 'string', default: 'x' },
      screenshots: { type: 'string' },
      timeout: { type: 'string', default: '60000' },
      'signout-timeout': { type: 'string', default: '15000' },
      chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
      'allow-external': { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
    },
    strict: true,
  }));
} catch (e) {
  usage(e.message);
}
if (!args.url) usage('--url is required');
if (!args.mode) usage('--mode is required');
if (!['oidc', 'guest'].includes(args.mode)) usage(`--mode must be oidc or guest, not ${args.mode}`);
if (!args.login) usage('--login is required');
if (!args.screenshots) usage('--screenshots is required');
let target;
try {
  target = new URL(args.url);
} catch (e) {
  usage(`bad URL: ${e.message}`);
}
const TIMEOUT = Number(args.timeout);
if (!Number.isFinite(TIMEOUT) || TIMEOUT <= 0) usage('--timeout must be a positive number of ms');
const SIGNOUT_TIMEOUT = Number(args['signout-timeout']);
if (!Number.isFinite(SIGNOUT_TIMEOUT) || SIGNOUT_TIMEOUT <= 0) usage('--signout-timeout must be a positive number of ms');
const shotDir = path.resolve(args.screenshots);
try {
  mkdirSync(shotDir, { recursive: true });
} catch (e) {
  usage(`cannot create ${shotDir}: ${e.message}`);
}

// The deadline counts from the moment Chromium is up: how long a cold browser
// takes to start on a loaded machine says nothing about the app.
let started = Date.now();
// Within nextest's limit for the whole test with the deadline after it.
const LAUNCH_TIMEOUT = 60000;
const remaining = () => Math.max(1, TIMEOUT - (Date.now() - started));
const vlog = args.verbose ? (...a) => process.stderr.write(`drive: ${a.join(' ')}\n`) : () => {};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const LOOPBACK = (host) => host === 'localhost' || host.endsWith('.localhost')
  || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]' || host === '::1';

const PROXIED_SIGN_IN_FAILED = 'You do not appear to be signed in';

const userDataDir = mkdtempSync(path.join(tmpdir(), 'stagepass-chromium-'));
let context;
let page;
const screenshots = [];
const consoleErrors = [];
const failedRequests = [];
const blockedRequests = [];
const navigations = []; // "STATUS METHOD URL" of main-frame navigations
const timings = {};
let shotNo = 0;
let lastNav = null; // { status, url, at } of the latest main-frame navigation
let lastAppNavAt = null; // when the latest 200 main-frame document from the stagepass origin arrived

async function shot(step) {
  shotNo += 1;
  const file = path.join(shotDir, `${String(shotNo).padStart(2, '0')}-${step}.png`);
  try {
    await page.screenshot({ path: file, fullPage: true, timeout: Math.min(10000, remaining()) });
    screenshots.push(file);
    vlog('screenshot', file);
  } catch (e) {
    vlog(`screenshot ${file} failed: ${e.message.split('\n')[0]}`);
  }
  return file;
}

async function cleanup() {
  try { if (context) await context.close(); } catch { /* ignore */ }
  try { rmSync(userDataDir, { recursive: true, force: true }); } catch { /* ignore */ }
}

let failing = false;
async function fail(reason) {
  if (failing) return;
  failing = true;
  let diag = '';
  try {
    if (page) {
      await shot('failure');
      const body = await page.evaluate(() => document.body?.innerText ?? '').catch(() => '');
      diag += `\n  current url: ${page.url()}`;
      diag += `\n  navigations:\n    ${navigations.join('\n    ')}`;
      diag += `\n  body: ${body.slice(0, 1500).replace(/\n/g, '\n        ')}`;
    }
    diag += `\n  console errors: ${consoleErrors.length ? `\n    ${consoleErrors.map((e) => e.slice(0, 500)).join('\n    ')}` : 'none'}`;
    diag += `\n  failed requests: ${failedRequests.length ? `\n    ${failedRequests.map((r) => `${r.status ?? r.failure} ${r.method} ${r.url}`).join('\n    ')}` : 'none'}`;
    diag += `\n  screenshots: ${screenshots.join(' ')}`;
  } catch { /* ignore */ }
  process.stderr.write(`drive: ${reason}${diag}\n`);
  await cleanup();
  process.exit(1);
}

let hardDeadline;

// What the current page is, in one round trip. null while navigating.
async function probe() {
  try {
    return await page.evaluate((failedText) => {
      const visible = (el) => !!el && el.getClientRects().length > 0;
      const q = (sel) => document.querySelector(sel);
      const text = document.body?.innerText ?? '';
      return {
        url: location.href,
        readyState: document.readyState,
        identityState: q('[data-testid="identity-state"]')?.textContent ?? null,
        loginForm: visible(q('input[name="login"]')),
        consentForm: visible(q('form input[name="prompt"][value="consent"]')),
        picker: !!q('form input[name="user"]'),
        logoutConfirm: !!document.getElementById('op.logoutForm'),
        proxiedSignInFailed: text.includes(failedText),
      };
    }, PROXIED_SIGN_IN_FAILED);
  } catch {
    return null;
  }
}

// ProxiedSignInPage's ErrorPanel shows only a title; the error (e.g. zod's
// "Expected string, received null") is in the collapsed details. Expand them.
async function proxiedSignInFailure() {
  try {
    const summary = page.locator('[aria-expanded="false"]').first();
    if (await summary.count()) await summary.click({ timeout: 3000 });
    await sleep(500);
  } catch { /* keep what we have */ }
  const text = await page.evaluate(() => {
    const alert = document.querySelector('.MuiAccordion-root') || document.body;
    return alert.innerText || alert.textContent || '';
  }).catch(() => '');
  return `ProxiedSignInPage failed: ${text.trim().replace(/\s*\n\s*/g, ' | ')}`;
}

async function clickQuietly(locator, what) {
  try {
    await locator.first().click({ timeout: Math.min(5000, remaining()) });
    vlog('clicked', what);
    return true;
  } catch (e) {
    vlog(`click on ${what} failed (the page probably moved on): ${e.message.split('\n')[0]}`);
    return false;
  }
}

async function readIdentityPage() {
  return page.evaluate(() => {
    const t = (id) => document.querySelector(`[data-testid="${id}"]`)?.textContent ?? '';
    return {
      userEntityRef: t('user-entity-ref'),
      ownershipEntityRefs: t('ownership-entity-refs').split(',').filter(Boolean),
      displayName: t('display-name'),
      email: t('email'),
      catalogStatus: t('catalog-status') === '' ? null : Number(t('catalog-status')),
      catalogName: t('catalog-name'),
      catalogBody: t('catalog-body') || undefined,
      url: location.href,
    };
  });
}

try {
  const launchStarted = Date.now();
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
      timeout: LAUNCH_TIMEOUT,
      ignoreHTTPSErrors: true,
      viewport: { width: 1280, height: 800 },
    });
  } catch (e) {
    await fail(`cannot launch Chromium at ${args.chromium}: ${e.message.split('\n')[0]}\n  (install it with: apt-get install -y chromium)`);
  }
  timings.launchMs = Date.now() - launchStarted;
  started = Date.now();
  hardDeadline = setTimeout(() => {
    fail(`timed out after ${TIMEOUT} ms`);
  }, TIMEOUT + 5000);
  hardDeadline.unref();

  page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(remaining());

  if (!args['allow-external']) {
    // Only loopback traffic: nothing may leave the machine.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      let host;
      try { host = new URL(url).hostname; } catch { return route.continue(); }
      if (LOOPBACK(host) || host === '' || url.startsWith('data:')) return route.continue();
      blockedRequests.push(url);
      vlog('blocked', url);
      return route.abort('blockedbyclient');
    });
  }

  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const loc = msg.location();
    // Chromium logs each request we abort above (the OP's pages @import web
    // fonts) as an error; those are ours and listed in blockedRequests.
    if (msg.text().includes('net::ERR_BLOCKED_BY_CLIENT') && blockedRequests.includes(loc?.url)) return;
    consoleErrors.push(`${msg.text()}${loc?.url ? ` (${loc.url}${loc.lineNumber ? `:${loc.lineNumber}` : ''})` : ''}`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`pageerror: ${err.message}`));
  page.on('response', (res) => {
    const req = res.request();
    let origin;
    try { origin = new URL(res.url()).origin; } catch { return; }
    if (req.isNavigationRequest() && req.frame() === page.mainFrame()) {
      navigations.push(`${res.status()} ${req.method()} ${res.url()}`);
      lastNav = { status: res.status(), url: res.url(), at: Date.now() };
      if (origin === target.origin && res.status() === 200) lastAppNavAt = Date.now();
      vlog('nav', res.status(), req.method(), res.url());
    }
    if (origin === target.origin && res.status() >= 400) {
      failedRequests.push({ status: res.status(), method: req.method(), url: res.url() });
      vlog('failed', res.status(), req.method(), res.url());
    }
  });
  page.on('requestfailed', (req) => {
    let origin;
    try { origin = new URL(req.url()).origin; } catch { return; }
    if (origin !== target.origin) return;
    failedRequests.push({ status: null, failure: req.failure()?.errorText ?? 'failed', method: req.method(), url: req.url() });
    vlog('requestfailed', req.failure()?.errorText, req.method(), req.url());
  });

  // ---------------------------------------------------------------- sign in
  const signInStarted = Date.now();
  await page.goto(target.href, { waitUntil: 'domcontentloaded', timeout: remaining() });

  let loginFormSeen = false;
  let pickerSeen = false;
  let consentClicks = 0;
  let signedIn = null;
  for (;;) {
    if (remaining() <= 1) await fail('timed out waiting for the Backstage app to show the signed-in identity');
    const s = await probe();
    if (!s) {
      await sleep(100);
      continue;
    }
    if (s.proxiedSignInFailed) {
      await shot('sign-in-failed');
      await fail(await proxiedSignInFailure());
    }
    if (s.identityState === 'ready') {
      signedIn = await readIdentityPage();
      if (lastAppNavAt) timings.appLoadMs = Date.now() - lastAppNavAt;
      break;
    }
    // An error page (stagepass's 403 "not in the catalog", a 5xx, an OP error):
    // the app's index.html and every sign-in page answer 200.
    if (lastNav && lastNav.status >= 400 && s.readyState === 'complete' && s.url === lastNav.url) {
      await fail(`sign-in stopped on an error page: ${lastNav.status} ${lastNav.url}`);
    }
    if (args.mode === 'oidc' && s.picker) await fail('stagepass shows its guest picker, but --mode is oidc');
    if (args.mode === 'guest' && s.loginForm) await fail(`an OP login form is shown (${s.url}), but --mode is guest`);
    if (s.identityState === 'error') {
      const err = await page.locator('[data-testid="identity-error"]').textContent().catch(() => '');
      await shot('identity-error');
      await fail(`the IdentityPage failed: ${err}`);
    }
    if (args.mode === 'oidc' && s.loginForm) {
      if (loginFormSeen) {
        await fail(`the OP login form was shown again after submitting it (${s.url})`);
      }
      loginFormSeen = true;
      if (new URL(s.url).origin === target.origin) vlog('warning: the login form is on the stagepass origin');
      await shot('login-form');
      await page.locator('input[name="login"]').fill(args.login);
      await page.locator('input[name="password"]').fill(args.password);
      await shot('login-filled');
      await clickQuietly(page.locator('form button[type="submit"], form [type="submit"]'), 'login submit');
      await page.waitForURL((u) => u.href !== s.url, { timeout: remaining(), waitUntil: 'commit' }).catch(() => {});
      continue;
    }
    if (args.mode === 'oidc' && s.consentForm) {
      if (consentClicks >= 3) await fail(`the OP consent form keeps coming back (${s.url})`);
      consentClicks += 1;
      await shot('consent');
      await clickQuietly(page.locator('form button[type="submit"]'), 'consent submit');
      await page.waitForURL((u) => u.href !== s.url, { timeout: remaining(), waitUntil: 'commit' }).catch(() => {});
      continue;
    }
    if (args.mode === 'guest' && s.picker) {
      if (pickerSeen) await fail(`the guest picker was shown again after picking ${args.login} (${s.url})`);
      pickerSeen = true;
      await shot('guest-picker');
      const offered = await page.locator('form input[name="user"]').evaluateAll((els) => els.map((e) => e.value));
      if (!offered.includes(args.login)) {
        await fail(`the guest picker does not offer ${JSON.stringify(args.login)}; it offers ${JSON.stringify(offered)}`);
      }
      const form = page.locator('form').filter({ has: page.locator(`input[name="user"][value="${args.login.replace(/["\\]/g, '\\$&')}"]`) });
      await clickQuietly(form.locator('button[type="submit"]'), `guest pick ${args.login}`);
      await page.waitForURL((u) => u.href !== s.url, { timeout: remaining(), waitUntil: 'commit' }).catch(() => {});
      continue;
    }
    await sleep(150);
  }
  timings.signInMs = Date.now() - signInStarted;
  await shot('signed-in');

  // ---------------------------------------------------------------- sign out
  // The button calls identityApi.signOut(), as Backstage's Settings menu does.
  const signOutStarted = Date.now();
  const signedInUrl = page.url();
  const navigationsBeforeSignOut = navigations.length;
  await page.locator('[data-testid="sign-out"]').click({ timeout: remaining() });
  const signOutDeadline = Date.now() + Math.min(SIGNOUT_TIMEOUT, remaining());
  const afterSignOut = { url: null, loginFormShown: false, pickerShown: false, endSessionShown: false, confirmClicked: false };
  let confirmShot = false;
  let leftApp = false;
  for (;;) {
    const s = await probe();
    if (s) {
      if (s.url !== signedInUrl) leftApp = true;
      if (s.logoutConfirm) {
        afterSignOut.endSessionShown = true;
        if (!confirmShot) {
          confirmShot = true;
          await shot('sign-out-confirm');
        }
        // The fixture OP's page submits itself; click in case it has not.
        if (!afterSignOut.confirmClicked) {
          afterSignOut.confirmClicked = await clickQuietly(page.getByRole('button', { name: 'Yes, sign me out' }), 'Yes, sign me out');
        }
      } else if (args.mode === 'oidc' && s.loginForm) {
        afterSignOut.loginFormShown = true;
        break;
      } else if (args.mode === 'guest' && s.picker) {
        afterSignOut.pickerShown = true;
        break;
      } else if (s.identityState === 'ready' && leftApp) {
        vlog('the app is signed in again after sign-out');
        break; // signed in again without a login: the caller sees both false
      } else if (s.proxiedSignInFailed && leftApp) {
        vlog('the app shows the ProxiedSignInPage error after sign-out');
        break;
      }
    }
    if (Date.now() >= signOutDeadline) {
      vlog(`neither the login form nor the picker appeared within ${SIGNOUT_TIMEOUT} ms after sign-out`);
      break;
    }
    await sleep(150);
  }
  await page.waitForLoadState('domcontentloaded', { timeout: Math.min(5000, remaining()) }).catch(() => {});
  afterSignOut.url = page.url();
  afterSignOut.navigations = navigations.slice(navigationsBeforeSignOut);
  // The fixture OP's end_session page submits itself at once, usually before
  // a probe sees it: its navigation is the evidence.
  if (afterSignOut.navigations.some((n) => /^200 GET \S*\/session\/end(\?|$)/.test(n))) afterSignOut.endSessionShown = true;
  if (!afterSignOut.loginFormShown && !afterSignOut.pickerShown) {
    afterSignOut.bodyText = (await page.evaluate(() => document.body?.innerText ?? '').catch(() => '')).slice(0, 1000);
  }
  timings.signOutMs = Date.now() - signOutStarted;
  await shot('signed-out');
  timings.totalMs = timings.launchMs + (Date.now() - started);

  const out = {
    signedIn,
    afterSignOut,
    consoleErrors,
    failedRequests,
    blockedRequests,
    navigations,
    screenshots,
    timings,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  await cleanup();
  process.exit(0);
} catch (e) {
  await fail(e.message.split('\n')[0]);
}
