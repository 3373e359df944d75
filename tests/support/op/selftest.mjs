#!/usr/bin/env node
// Self-test of the OP fixture: starts server.mjs, performs the exact HTTP
// login sequence a Rust test performs (documented in README.md), exchanges the
// code, refreshes, and checks every /__test/ control. Exits non-zero on failure.
//
//   node tests/support/op/selftest.mjs
//
// Prints "N passed, N failed" at the end.

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { createRemoteJWKSet, jwtVerify, decodeJwt, decodeProtectedHeader } from 'jose';

const here = path.dirname(fileURLToPath(import.meta.url));
const REDIRECT = 'http://127.0.0.1:9/callback';
const POST_LOGOUT = 'http://127.0.0.1:9/signed-out';
const CLIENT_ID = 'stagepass';
const SECRET = 'selftest-secret';

let passed = 0;
let failed = 0;
function check(name, cond, extra = '') {
  if (cond) { passed += 1; console.log(`ok   ${name}`); } else { failed += 1; console.log(`FAIL ${name} ${extra}`); }
}

async function startOp(extraArgs = []) {
  const t0 = performance.now();
  const child = spawn(process.execPath, [path.join(here, 'server.mjs'),
    '--host', '127.0.0.2', '--port', '0',
    '--client-id', CLIENT_ID, '--client-secret', SECRET,
    '--redirect-uri', REDIRECT, '--post-logout-redirect-uri', POST_LOGOUT,
    ...extraArgs], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const rl = createInterface({ input: child.stdout });
  const line = await new Promise((resolve, reject) => {
    const to = setTimeout(() => reject(new Error(`no READY in 10s; stderr:\n${stderr}`)), 10000);
    rl.once('line', (l) => { clearTimeout(to); resolve(l); });
    child.once('exit', (c) => reject(new Error(`OP exited ${c}; stderr:\n${stderr}`)));
  });
  const ms = performance.now() - t0;
  if (!line.startsWith('READY ')) throw new Error(`unexpected first line: ${line}`);
  const info = JSON.parse(line.slice(6));
  return { child, info, ms, stderr: () => stderr };
}

// Minimal cookie jar for one host (path-aware, like a browser).
class Jar {
  constructor() { this.cookies = new Map(); }

  store(res) {
    for (const sc of res.headers.getSetCookie()) {
      const [nv, ...attrs] = sc.split(';').map((s) => s.trim());
      const eq = nv.indexOf('=');
      const name = nv.slice(0, eq);
      const value = nv.slice(eq + 1);
      let p = '/';
      let expired = false;
      for (const a of attrs) {
        const [k, v] = a.split('=');
        if (k.toLowerCase() === 'path') p = v;
        if (k.toLowerCase() === 'expires' && new Date(v) < new Date()) expired = true;
      }
      const key = `${name}|${p}`;
      if (expired || value === '') this.cookies.delete(key); else this.cookies.set(key, { name, value, path: p });
    }
  }

  header(urlPath) {
    return [...this.cookies.values()]
      .filter((c) => urlPath === c.path || urlPath.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/')
      .map((c) => `${c.name}=${c.value}`).join('; ');
  }

  names() { return [...this.cookies.values()].map((c) => `${c.name}@${c.path}`); }
}

async function get(jar, url) {
  const u = new URL(url);
  const res = await fetch(u, { redirect: 'manual', headers: { cookie: jar.header(u.pathname) } });
  jar.store(res);
  return res;
}

async function postForm(jar, url, form) {
  const u = new URL(url);
  const res = await fetch(u, {
    method: 'POST', redirect: 'manual',
    headers: { cookie: jar.header(u.pathname), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  jar.store(res);
  return res;
}

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
};

// The login sequence exactly as documented in README.md.
async function login(issuer, user, { jar = new Jar(), scope = 'openid email profile groups', trace = false } = {}) {
  const { verifier, challenge } = pkce();
  const stateParam = randomBytes(8).toString('hex');
  const nonce = randomBytes(8).toString('hex');
  const auth = new URL('/auth', issuer);
  auth.search = new URLSearchParams({
    response_type: 'code', client_id: CLIENT_ID, redirect_uri: REDIRECT, scope,
    state: stateParam, nonce, code_challenge: challenge, code_challenge_method: 'S256',
  }).toString();
  const chain = [];
  // 1. GET /auth?...  -> 303 /interaction/<uid>  (sets _interaction, _interaction_resume)
  let res = await get(jar, auth);
  chain.push(`${res.status} ${res.headers.get('location')}`);
  let loc = new URL(res.headers.get('location'), issuer);
  if (!loc.pathname.startsWith('/interaction/')) {
    // Existing OP session (SSO): straight back to the redirect_uri.
    return { redirected: loc, chain, verifier, nonce, state: stateParam, jar };
  }
  // 2. POST /interaction/<uid>  prompt=login&login=<user>&password=x  -> 303 /auth/<uid>
  res = await postForm(jar, loc, { prompt: 'login', login: user, password: 'x' });
  chain.push(`${res.status} ${res.headers.get('location')}`);
  loc = new URL(res.headers.get('location'), issuer);
  // 3. GET /auth/<uid> (with _interaction_resume) -> 303 redirect_uri?code&state&iss (sets _session)
  res = await get(jar, loc);
  chain.push(`${res.status} ${res.headers.get('location')}`);
  loc = new URL(res.headers.get('location'), issuer);
  if (trace) console.log('     chain:', chain.join('  ->  '), '\n     cookies:', jar.names().join(' '));
  return { redirected: loc, chain, verifier, nonce, state: stateParam, jar };
}

function basic() { return `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(SECRET)}`).toString('base64')}`; }

async function token(issuer, form, { post = false } = {}) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams(form);
  if (post) { body.set('client_id', CLIENT_ID); body.set('client_secret', SECRET); } else headers.authorization = basic();
  const res = await fetch(new URL('/token', issuer), { method: 'POST', headers, body: body.toString() });
  return { status: res.status, json: await res.json() };
}

async function codeFlow(issuer, user, opts = {}) {
  const l = await login(issuer, user, opts);
  const code = l.redirected.searchParams.get('code');
  const t = await token(issuer, {
    grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: l.verifier,
  }, opts);
  return { ...l, code, tok: t };
}

const ctl = async (issuer, p, body) => {
  const res = await fetch(new URL(p, issuer), {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return res.status === 204 ? null : res.json();
};

async function verifyFails(issuer, idToken) {
  const jwks = createRemoteJWKSet(new URL('/jwks', issuer), { cacheMaxAge: 0, cooldownDuration: 0 });
  try {
    await jwtVerify(idToken, jwks, { issuer, audience: CLIENT_ID, clockTolerance: 0 });
    return null;
  } catch (e) { return e.code || e.message; }
}

async function main() {
  // ------------------------------------------------------------------ RS256
  const op = await startOp();
  const { issuer } = op.info;
  console.log(`READY in ${op.ms.toFixed(0)} ms: ${JSON.stringify(op.info)}`);
  check('startup < 2 s', op.ms < 2000, `${op.ms} ms`);
  check('issuer on 127.0.0.2', issuer.startsWith('http://127.0.0.2:'));

  const disc = await (await fetch(new URL('/.well-known/openid-configuration', issuer))).json();
  check('discovery issuer', disc.issuer === issuer);
  check('discovery code only', JSON.stringify(disc.response_types_supported) === '["code"]', JSON.stringify(disc.response_types_supported));
  check('discovery S256', disc.code_challenge_methods_supported.includes('S256'));

  const f = await codeFlow(issuer, 'alice', { trace: true });
  check('redirect to callback with code+state+iss', f.redirected.origin + f.redirected.pathname === REDIRECT
    && f.code && f.redirected.searchParams.get('state') === f.state && f.redirected.searchParams.get('iss') === issuer, f.redirected.href);
  check('token 200', f.tok.status === 200, JSON.stringify(f.tok.json));
  check('refresh_token issued without offline_access', typeof f.tok.json.refresh_token === 'string');
  const jwks = createRemoteJWKSet(new URL('/jwks', issuer));
  const { payload, protectedHeader } = await jwtVerify(f.tok.json.id_token, jwks, { issuer, audience: CLIENT_ID });
  console.log('     id_token header', JSON.stringify(protectedHeader), '\n     payload', JSON.stringify(payload));
  check('id_token claims', payload.sub === 'alice' && payload.email === 'alice@example.com' && payload.nonce === f.nonce
    && payload.groups?.[0] === 'team-a' && !('name' in payload) && payload.given_name === 'Alice' && payload.preferred_username === 'alice');
  check('id_token alg RS256', protectedHeader.alg === 'RS256');

  // PKCE is required.
  {
    const jar = new Jar();
    const u = new URL('/auth', issuer);
    u.search = new URLSearchParams({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: REDIRECT, scope: 'openid', state: 's' }).toString();
    const r = await get(jar, u);
    const l = new URL(r.headers.get('location'));
    check('authorize without PKCE -> error to callback', l.searchParams.get('error') === 'invalid_request', l.href);
  }

  const ui = await (await fetch(new URL('/me', issuer), { headers: { authorization: `Bearer ${f.tok.json.access_token}` } })).json();
  check('userinfo', ui.sub === 'alice' && ui.email === 'alice@example.com', JSON.stringify(ui));

  const r1 = await token(issuer, { grant_type: 'refresh_token', refresh_token: f.tok.json.refresh_token });
  check('refresh 200 with id_token', r1.status === 200 && typeof r1.json.id_token === 'string', JSON.stringify(r1.json));
  const rp = (await jwtVerify(r1.json.id_token, jwks, { issuer, audience: CLIENT_ID })).payload;
  check('refreshed id_token same sub', rp.sub === 'alice');

  // SSO: second authorize with the OP session cookie goes straight back.
  const sso = await login(issuer, 'ignored', { jar: f.jar });
  check('SSO: second /auth -> 303 straight to callback', sso.redirected.searchParams.get('code') && sso.chain.length === 1, sso.chain.join(' '));

  // Code replay must fail, and (per spec) revokes what the code issued.
  {
    const g = await codeFlow(issuer, 'replay', { jar: f.jar });
    const replay = await token(issuer, { grant_type: 'authorization_code', code: g.code, redirect_uri: REDIRECT, code_verifier: g.verifier });
    check('code replay -> invalid_grant', replay.status === 400 && replay.json.error === 'invalid_grant');
    const rr = await token(issuer, { grant_type: 'refresh_token', refresh_token: g.tok.json.refresh_token });
    check('code replay revokes the grant (refresh fails)', rr.status === 400 && rr.json.error === 'invalid_grant');
  }

  // '@' login.
  const at = await codeFlow(issuer, 'bob.smith@corp.example');
  const atp = decodeJwt(at.tok.json.id_token);
  check('@ login: sub=local part, email=login', atp.sub === 'bob.smith' && atp.email === 'bob.smith@corp.example' && atp.given_name === 'Bob' && atp.family_name === 'Smith', JSON.stringify(atp));
  const atr = await token(issuer, { grant_type: 'refresh_token', refresh_token: at.tok.json.refresh_token });
  check('@ login refresh keeps email', decodeJwt(atr.json.id_token).email === 'bob.smith@corp.example');

  // ----------------------------------------------------------- misbehaviour
  const pub = (await ctl(issuer, '/__test/state')).publicJwk;
  const expectations = {
    'bad-signature': (t, h, p, e) => e === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' && h.alg === 'RS256',
    'alg-none': (t, h, p, e) => h.alg === 'none' && t.endsWith('.') && e,
    'wrong-iss': (t, h, p, e) => p.iss === 'http://evil.invalid' && e === 'ERR_JWT_CLAIM_VALIDATION_FAILED',
    'wrong-aud': (t, h, p, e) => p.aud === 'some-other-client' && e === 'ERR_JWT_CLAIM_VALIDATION_FAILED',
    expired: (t, h, p, e) => p.exp < Date.now() / 1000 && p.iat < p.exp && e === 'ERR_JWT_EXPIRED',
    'wrong-nonce': (t, h, p, e, n) => p.nonce !== n && p.nonce.startsWith('wrong-nonce-') && e === null,
    'wrong-sub': (t, h, p, e) => p.sub.startsWith('someone-else-') && e === null,
    'hs256-with-public-key': (t, h, p, e) => h.alg === 'HS256' && h.kid === pub.kid && e,
    'foreign-key': (t, h, p, e) => h.kid === pub.kid && h.alg === 'RS256' && e === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    'multi-aud-no-azp': (t, h, p, e) => Array.isArray(p.aud) && p.aud.length === 2 && p.aud[0] === CLIENT_ID && !('azp' in p) && e === null,
    'bad-at-hash': (t, h, p, e) => typeof p.at_hash === 'string' && e === null,
  };
  for (const [mode, ok] of Object.entries(expectations)) {
    await ctl(issuer, '/__test/misbehave', { mode });
    const m = await codeFlow(issuer, 'carol', { jar: f.jar });
    const t = m.tok.json.id_token;
    const h = decodeProtectedHeader(t);
    const p = decodeJwt(t);
    const e = await verifyFails(issuer, t);
    check(`misbehave ${mode} (code grant)`, ok(t, h, p, e, m.nonce), `header=${JSON.stringify(h)} payload=${JSON.stringify(p)} verify=${e}`);
    // Also on refresh.
    const rr = await token(issuer, { grant_type: 'refresh_token', refresh_token: m.tok.json.refresh_token });
    const t2 = rr.json.id_token;
    check(`misbehave ${mode} (refresh grant)`, ok(t2, decodeProtectedHeader(t2), decodeJwt(t2), await verifyFails(issuer, t2), m.nonce));
  }
  // HS256 secret really is the public key PEM (alg confusion succeeds against a naive verifier).
  {
    await ctl(issuer, '/__test/misbehave', { mode: 'hs256-with-public-key' });
    const m = await codeFlow(issuer, 'dave', { jar: f.jar });
    const { createPublicKey, createHmac } = await import('node:crypto');
    const pem = createPublicKey({ key: pub, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const [h, p, s] = m.tok.json.id_token.split('.');
    check('hs256 HMAC key = SPKI PEM of the JWKS key', createHmac('sha256', pem).update(`${h}.${p}`).digest('base64url') === s);
  }
  // grantType filter + refresh-invalid-grant.
  await ctl(issuer, '/__test/misbehave', { mode: 'expired', grantType: 'refresh_token' });
  {
    const m = await codeFlow(issuer, 'erin', { jar: f.jar });
    check('grantType filter: code grant untouched', await verifyFails(issuer, m.tok.json.id_token) === null);
    const rr = await token(issuer, { grant_type: 'refresh_token', refresh_token: m.tok.json.refresh_token });
    check('grantType filter: refresh tampered', await verifyFails(issuer, rr.json.id_token) === 'ERR_JWT_EXPIRED');
    await ctl(issuer, '/__test/misbehave', { mode: 'refresh-invalid-grant' });
    const ri = await token(issuer, { grant_type: 'refresh_token', refresh_token: m.tok.json.refresh_token });
    check('refresh-invalid-grant', ri.status === 400 && ri.json.error === 'invalid_grant', JSON.stringify(ri));
  }
  await ctl(issuer, '/__test/misbehave', { mode: 'none' });
  check('misbehave unknown mode -> 400', (await fetch(new URL('/__test/misbehave', issuer), { method: 'POST', body: '{"mode":"nope"}' })).status === 400);

  // ------------------------------------------------------------ rotate keys
  await ctl(issuer, '/__test/stats/reset', {});
  const before = await (await fetch(new URL('/jwks', issuer))).json();
  const pre = await codeFlow(issuer, 'frank', { jar: f.jar });
  await ctl(issuer, '/__test/rotate-keys', {});
  const after = await (await fetch(new URL('/jwks', issuer))).json();
  check('rotate: JWKS has exactly one, new kid', after.keys.length === 1 && after.keys[0].kid !== before.keys[0].kid, `${before.keys[0].kid} -> ${after.keys[0].kid}`);
  const post = await token(issuer, { grant_type: 'refresh_token', refresh_token: pre.tok.json.refresh_token });
  check('rotate: old refresh token still works', post.status === 200);
  check('rotate: new tokens use new kid', decodeProtectedHeader(post.json.id_token).kid === after.keys[0].kid);
  check('rotate: old id_token no longer verifies', await verifyFails(issuer, pre.tok.json.id_token) !== null);
  check('rotate: new id_token verifies', await verifyFails(issuer, post.json.id_token) === null);
  const sso2 = await login(issuer, 'x', { jar: f.jar });
  check('rotate: OP session survives (SSO)', sso2.chain.length === 1 && sso2.redirected.searchParams.get('code'));
  const st = await ctl(issuer, '/__test/stats');
  // jwks: 2 direct GETs + 1 per verifyFails() + 1 re-fetch when the old kid is unknown = 5
  check('stats count jwks/token', st.jwks === 5 && st.token >= 2 && st.token_refresh_token === 1 && st.token_authorization_code === 1, JSON.stringify(st));

  // ---------------------------------------------------------------- down
  await ctl(issuer, '/__test/down', { down: true });
  const d1 = await fetch(new URL('/jwks', issuer));
  const d2 = await fetch(new URL('/.well-known/openid-configuration', issuer));
  check('down: 503', d1.status === 503 && d2.status === 503);
  check('down: /__test/ still answers', (await fetch(new URL('/__test/stats', issuer))).status === 200);
  await ctl(issuer, '/__test/down', { down: false });
  check('up again', (await fetch(new URL('/jwks', issuer))).status === 200);

  // ------------------------------------------------------------- latency
  await ctl(issuer, '/__test/latency', { ms: 300, endpoints: ['jwks'] });
  let t0 = performance.now();
  await fetch(new URL('/jwks', issuer));
  check('latency applied', performance.now() - t0 >= 290);
  await ctl(issuer, '/__test/latency', { ms: 0 });

  // ------------------------------------------------------ abort / denied
  {
    const jar = new Jar();
    const { challenge } = pkce();
    const u = new URL('/auth', issuer);
    u.search = new URLSearchParams({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: REDIRECT, scope: 'openid', state: 'sa', code_challenge: challenge, code_challenge_method: 'S256' }).toString();
    let r = await get(jar, u);
    const uid = r.headers.get('location').split('/').pop();
    r = await get(jar, new URL(`/interaction/${uid}/abort`, issuer));
    r = await get(jar, new URL(r.headers.get('location'), issuer));
    const l = new URL(r.headers.get('location'));
    check('abort -> error=access_denied at callback', l.searchParams.get('error') === 'access_denied' && l.searchParams.get('state') === 'sa', l.href);
  }

  // -------------------------------------------------- RP-initiated logout
  {
    const m = await codeFlow(issuer, 'gina');
    const u = new URL('/session/end', issuer);
    u.search = new URLSearchParams({ id_token_hint: m.tok.json.id_token, post_logout_redirect_uri: POST_LOGOUT, state: 'lo' }).toString();
    const r = await get(m.jar, u);
    const html = await r.text();
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
    check('logout page has xsrf form', r.status === 200 && xsrf);
    const c = await postForm(m.jar, new URL('/session/end/confirm', issuer), { xsrf, logout: 'yes' });
    check('logout confirm -> post_logout_redirect_uri', c.status === 303 && c.headers.get('location') === `${POST_LOGOUT}?state=lo`, `${c.status} ${c.headers.get('location')}`);
    const again = await login(issuer, 'gina2', { jar: m.jar });
    check('after logout a new /auth asks for login again', again.chain.length === 3, again.chain.join(' '));
  }

  // Default method is client_secret_basic: client_secret_post is refused.
  {
    const g = await codeFlow(issuer, 'poster', { jar: f.jar });
    const pr = await token(issuer, { grant_type: 'refresh_token', refresh_token: g.tok.json.refresh_token }, { post: true });
    check('client_secret_post refused when basic configured', pr.status === 401 && pr.json.error === 'invalid_client', JSON.stringify(pr));
  }

  // Without rotation the same refresh token comes back.
  check('refresh token not rotated by default', r1.json.refresh_token === f.tok.json.refresh_token);

  // ------------------------------------------------------ revocation
  {
    const m = await codeFlow(issuer, 'hank');
    const rv = await fetch(new URL('/token/revocation', issuer), {
      method: 'POST', headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: m.tok.json.refresh_token, token_type_hint: 'refresh_token' }).toString(),
    });
    const rr = await token(issuer, { grant_type: 'refresh_token', refresh_token: m.tok.json.refresh_token });
    check('revocation endpoint revokes refresh token', rv.status === 200 && rr.status === 400 && rr.json.error === 'invalid_grant');
  }

  // ----------------------------------------------- exit when stdin closes
  {
    const exited = new Promise((r) => op.child.once('exit', (c, s) => r({ c, s })));
    t0 = performance.now();
    op.child.stdin.end();
    const ex = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 3000))]);
    check('exits when stdin closes', ex !== null, '');
    if (ex === null) op.child.kill();
  }

  // ------------------------------------- ES256 / PS256 / client_secret_post / short TTL
  for (const alg of ['ES256', 'PS256']) {
    const o = await startOp(['--alg', alg, '--token-endpoint-auth-method', 'client_secret_post', '--access-token-ttl', '5', '--id-token-ttl', '7']);
    console.log(`     ${alg} READY in ${o.ms.toFixed(0)} ms`);
    const m = await codeFlow(o.info.issuer, 'ivy', { post: true });
    const h = decodeProtectedHeader(m.tok.json.id_token);
    const p = decodeJwt(m.tok.json.id_token);
    check(`${alg}: id_token alg + client_secret_post`, m.tok.status === 200 && h.alg === alg && await verifyFails(o.info.issuer, m.tok.json.id_token) === null, JSON.stringify(m.tok));
    check(`${alg}: ttl flags`, m.tok.json.expires_in === 5 && p.exp - p.iat === 7, `${m.tok.json.expires_in} ${p.exp - p.iat}`);
    const basicRes = await token(o.info.issuer, { grant_type: 'refresh_token', refresh_token: m.tok.json.refresh_token });
    check(`${alg}: client_secret_basic rejected when post configured`, basicRes.status === 401 && basicRes.json.error === 'invalid_client', JSON.stringify(basicRes));
    await ctl(o.info.issuer, '/__test/misbehave', { mode: 'foreign-key' });
    const fk = await codeFlow(o.info.issuer, 'ivy', { post: true, jar: m.jar });
    check(`${alg}: foreign-key`, await verifyFails(o.info.issuer, fk.tok.json.id_token) === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    o.child.kill();
  }

  // --refresh-token-rotation always: new refresh token each time; reusing the old one fails.
  {
    const o = await startOp(['--refresh-token-rotation', 'always']);
    const m = await codeFlow(o.info.issuer, 'jack');
    const a = await token(o.info.issuer, { grant_type: 'refresh_token', refresh_token: m.tok.json.refresh_token });
    check('rotation always: new refresh token', a.status === 200 && a.json.refresh_token && a.json.refresh_token !== m.tok.json.refresh_token);
    const reuse = await token(o.info.issuer, { grant_type: 'refresh_token', refresh_token: m.tok.json.refresh_token });
    check('rotation always: old refresh token refused', reuse.status === 400 && reuse.json.error === 'invalid_grant');
    o.child.kill();
  }

  console.log(`\n${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.error(e); console.log(`\n${passed} passed, ${failed + 1} failed`); process.exit(1); });
