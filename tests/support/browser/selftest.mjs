#!/usr/bin/env node
// Self-test of signin.mjs without stagepass: starts the OP fixture on
// 127.0.0.2 and a minimal relying party on 127.0.0.1 (authorization code +
// PKCE + state + nonce, cookie session), then runs signin.mjs against the RP's
// protected page. Also checks the failure path (unreachable page -> exit 1).
//
//   node tests/support/browser/selftest.mjs
//
// Needs `npm ci` in tests/support/op and tests/support/browser and /usr/bin/chromium.

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const opScript = path.join(here, '..', 'op', 'server.mjs');
const signin = path.join(here, 'signin.mjs');

let passed = 0;
let failed = 0;
const check = (name, cond, extra = '') => {
  if (cond) { passed += 1; console.log(`ok   ${name}`); } else { failed += 1; console.log(`FAIL ${name} ${extra}`); }
};

// ---- minimal RP on 127.0.0.1 ------------------------------------------------
const rp = http.createServer();
await new Promise((r) => rp.listen(0, '127.0.0.1', r));
const RP = `http://127.0.0.1:${rp.address().port}`;
const CALLBACK = `${RP}/callback`;

// ---- OP ---------------------------------------------------------------------
const t0 = performance.now();
const op = spawn(process.execPath, [opScript, '--host', '127.0.0.2', '--port', '0',
  '--client-id', 'rp', '--client-secret', 'rp-secret', '--redirect-uri', CALLBACK], { stdio: ['pipe', 'pipe', 'inherit'] });
const ready = await new Promise((resolve) => createInterface({ input: op.stdout }).once('line', resolve));
const { issuer } = JSON.parse(ready.slice('READY '.length));
console.log(`OP ready in ${(performance.now() - t0).toFixed(0)} ms at ${issuer}; RP at ${RP}`);

const pending = new Map(); // state -> { verifier, nonce, returnTo }
const sessions = new Map(); // sid -> claims
const cookieOf = (req, name) => (req.headers.cookie || '').split(/;\s*/).map((c) => c.split('=')).find(([k]) => k === name)?.[1];

rp.on('request', async (req, res) => {
  const url = new URL(req.url, RP);
  try {
    if (url.pathname === '/callback') {
      const st = pending.get(url.searchParams.get('state'));
      if (!st || cookieOf(req, 'rp_state') !== url.searchParams.get('state')) { res.writeHead(400); res.end('bad state'); return; }
      pending.delete(url.searchParams.get('state'));
      const tr = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from('rp:rp-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: url.searchParams.get('code'), redirect_uri: CALLBACK, code_verifier: st.verifier }),
      });
      const tok = await tr.json();
      const claims = JSON.parse(Buffer.from(tok.id_token.split('.')[1], 'base64url'));
      if (claims.nonce !== st.nonce) { res.writeHead(400); res.end('bad nonce'); return; }
      const sid = randomBytes(16).toString('hex');
      sessions.set(sid, claims);
      res.writeHead(302, { location: st.returnTo, 'set-cookie': [`rp_session=${sid}; Path=/; HttpOnly; SameSite=Lax`, 'rp_state=; Path=/; Max-Age=0'] });
      res.end();
      return;
    }
    const claims = sessions.get(cookieOf(req, 'rp_session'));
    if (!claims) {
      const verifier = randomBytes(32).toString('base64url');
      const state = randomBytes(12).toString('hex');
      const nonce = randomBytes(12).toString('hex');
      pending.set(state, { verifier, nonce, returnTo: url.pathname + url.search });
      const auth = new URL('/auth', issuer);
      auth.search = new URLSearchParams({
        response_type: 'code', client_id: 'rp', redirect_uri: CALLBACK, scope: 'openid email profile groups',
        state, nonce, code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
      }).toString();
      res.writeHead(302, { location: auth.href, 'set-cookie': `rp_state=${state}; Path=/; HttpOnly; SameSite=Lax` });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html><body><h1>Protected page</h1><p>Hello ${claims.email}</p><p>groups: ${claims.groups.join(',')}</p></body></html>`);
  } catch (e) {
    res.writeHead(500); res.end(String(e));
  }
});

function run(argv) {
  return new Promise((resolve) => {
    const t = performance.now();
    const c = spawn(process.execPath, [signin, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = ''; let err = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { err += d; });
    c.on('exit', (code) => resolve({ code, out, err, ms: performance.now() - t }));
  });
}

const protectedUrl = `${RP}/app/page?x=1`;
const r = await run(['--url', protectedUrl, '--login', 'alice', '--screenshot', '/tmp/signin-selftest.png']);
console.log(`signin.mjs exit ${r.code} in ${r.ms.toFixed(0)} ms\n  stdout: ${r.out.trim()}\n  stderr: ${r.err.trim()}`);
let j = {};
try { j = JSON.parse(r.out); } catch { /* checked below */ }
check('exit 0 + one JSON line', r.code === 0 && r.out.trim().split('\n').length === 1);
check('finalUrl is the original URL', j.finalUrl === protectedUrl, j.finalUrl);
check('status 200', j.status === 200, String(j.status));
check('bodyText shows the signed-in user', /Hello alice@example\.com/.test(j.bodyText || ''), j.bodyText);
check('cookies for the RP origin only (rp_session, no OP cookies)', Array.isArray(j.cookies) && j.cookies.includes('rp_session') && !j.cookies.some((n) => n.startsWith('_session')), JSON.stringify(j.cookies));

const r2 = await run(['--url', protectedUrl, '--login', 'bob@corp.example']);
const j2 = JSON.parse(r2.out || '{}');
check('@ login', r2.code === 0 && /Hello bob@corp\.example/.test(j2.bodyText || ''), r2.err);

// Failure path: the OP is down -> no login form -> exit 1 with a message.
await fetch(`${issuer}/__test/down`, { method: 'POST', body: '{"down":true}' });
const r3 = await run(['--url', protectedUrl, '--login', 'alice', '--timeout', '5000']);
check('OP down -> exit 1 with a clear message', r3.code === 1 && r3.out === '' && /signin: /.test(r3.err), `${r3.code} ${r3.err}`);
console.log(`  (failure stderr: ${r3.err.split('\n')[0]}; took ${r3.ms.toFixed(0)} ms)`);
await fetch(`${issuer}/__test/down`, { method: 'POST', body: '{"down":false}' });

const r4 = await run(['--login', 'alice']);
check('usage error -> exit 2', r4.code === 2);

op.stdin.end();
rp.close();
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
