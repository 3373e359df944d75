#!/usr/bin/env node
// Documents, by running them, the facts about the Backstage identity token
// that stagepass injects: which hand-made ES256 JWTs this exact Backstage
// release accepts, with permissions off and on. No JWT library: the header
// is exactly what each case says (nothing adds `typ`).
//
//   node tests/support/backstage/verify-token.mjs [--json] [--keep-logs DIR]
//
// Starts backend.js twice (--permissions off, then on) with a fresh ES256 key
// pair in auth.keyStore (static), sends each token to a few endpoints and
// prints the statuses plus the warn/error lines Backstage logged for it.
// Exits 1 if one of the expectations of the brief (cases a-d) does not hold.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const asJson = process.argv.includes('--json');
// --keep-logs DIR: copy Backstage's two log files (JSON lines) there.
const keepLogs = process.argv.includes('--keep-logs') ? process.argv[process.argv.indexOf('--keep-logs') + 1] : null;
const STATIC_TOKEN = 'stagepass-tests-static-token';
const KID = 'stagepass-test-key';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stagepass-verify-token-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function keyPair() {
  return crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}
const ours = keyPair();
const foreign = keyPair();
const publicKeyFile = path.join(tmp, 'public.pem');
const privateKeyFile = path.join(tmp, 'private.pem');
fs.writeFileSync(publicKeyFile, ours.publicKey.export({ type: 'spki', format: 'pem' }));
fs.writeFileSync(privateKeyFile, ours.privateKey.export({ type: 'pkcs8', format: 'pem' }));

const b64url = value => Buffer.from(JSON.stringify(value)).toString('base64url');
function jwt(header, claims, privateKey = ours.privateKey) {
  const input = `${b64url(header)}.${b64url(claims)}`;
  // JWS ES256 wants the raw r||s signature, not DER.
  const signature = crypto.sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

const now = () => Math.floor(Date.now() / 1000);
const claims = (extra = {}) => ({
  iss: 'http://anything',
  sub: 'user:default/alice',
  ent: ['user:default/alice', 'group:default/team-a'],
  aud: 'backstage',
  iat: now(),
  exp: now() + 3600,
  ...extra,
});
// Backstage's user identity proof: the signature of a limited-user token
// (header {typ, alg, kid}, payload {sub, iat, exp}, serialised exactly so),
// which Backstage rebuilds from the user token to act on a user's behalf.
function uip(c) {
  const limited = jwt({ typ: 'vnd.backstage.limited-user', alg: 'ES256', kid: KID }, { sub: c.sub, iat: c.iat, exp: c.exp });
  return limited.split('.')[2];
}
function nativeToken() {
  const c = claims();
  return jwt({ typ: 'vnd.backstage.user', alg: 'ES256', kid: KID }, { ...c, uip: uip(c) });
}
const without = (obj, key) => Object.fromEntries(Object.entries(obj).filter(([k]) => k !== key));

// [id, description, () => token, expected by-name status {off, on} or null (informative)]
const CASES = [
  ['a', 'header {alg:ES256,kid} (no typ); iss/sub/ent/aud/iat/exp', () => jwt({ alg: 'ES256', kid: KID }, claims()), { off: 200, on: 200 }],
  ['b', 'as (a) with typ:"JWT"', () => jwt({ alg: 'ES256', kid: KID, typ: 'JWT' }, claims()), { on: 'refused' }],
  ['c', 'as (a), expired (iat -2h, exp -1h)', () => jwt({ alg: 'ES256', kid: KID }, claims({ iat: now() - 7200, exp: now() - 3600 })), { off: 401, on: 401 }],
  ['d', 'as (a), signed by a foreign key (same kid)', () => jwt({ alg: 'ES256', kid: KID }, claims(), foreign.privateKey), { off: 401, on: 401 }],
  ['e', 'as (a) with typ:"vnd.backstage.user" (no uip)', () => jwt({ alg: 'ES256', kid: KID, typ: 'vnd.backstage.user' }, claims()), null],
  ['f', 'as (a) without ent', () => jwt({ alg: 'ES256', kid: KID }, without(claims(), 'ent')), null],
  ['g', 'as (a) without exp', () => jwt({ alg: 'ES256', kid: KID }, without(claims(), 'exp')), null],
  ['h', 'as (a) without aud', () => jwt({ alg: 'ES256', kid: KID }, without(claims(), 'aud')), null],
  ['i', 'as (a) with aud:["backstage"] (array)', () => jwt({ alg: 'ES256', kid: KID }, claims({ aud: ['backstage'] })), null],
  ['j', 'as (a), unknown kid', () => jwt({ alg: 'ES256', kid: 'other-kid' }, claims()), null],
  ['k', 'as (a) without kid', () => jwt({ alg: 'ES256' }, claims()), null],
  ['l', 'as (a) for a user not in the catalog (sub/ent user:default/carol)', () => jwt({ alg: 'ES256', kid: KID }, claims({ sub: 'user:default/carol', ent: ['user:default/carol'] })), null],
  ['m', 'as (a) with iat 1 h in the future', () => jwt({ alg: 'ES256', kid: KID }, claims({ iat: now() + 3600, exp: now() + 7200 })), null],
  ['n', 'as (a) with nbf 1 h in the future', () => jwt({ alg: 'ES256', kid: KID }, claims({ nbf: now() + 3600 })), null],
  ['o', 'as (a) but ent names team-b (alice is in team-a in the catalog)', () => jwt({ alg: 'ES256', kid: KID }, claims({ ent: ['user:default/alice', 'group:default/team-b'] })), null],
  ['t', 'Backstage native form: typ:"vnd.backstage.user", claims of (a) plus a valid uip by the same key', nativeToken, null],
  ['u', 'the limited-user token that (t) stands for (typ:"vnd.backstage.limited-user", sub/iat/exp only)', () => {
    const c = claims();
    return jwt({ typ: 'vnd.backstage.limited-user', alg: 'ES256', kid: KID }, { sub: c.sub, iat: c.iat, exp: c.exp });
  }, null],
  ['s', 'the static external-access token (service principal)', () => STATIC_TOKEN, { off: 200, on: 200 }],
];

const REQUESTS = {
  byName: { method: 'GET', path: '/api/catalog/entities/by-name/user/default/alice' },
  userinfo: { method: 'GET', path: '/api/auth/v1/userinfo' },
  whoAmI: { method: 'POST', path: '/api/auth/.backstage/actions/v1/actions/auth:who-am-i/invoke', body: {} },
};
// Extra requests made only with the token of case (a).
const EXTRA = {
  groupsOfAlice: { method: 'GET', path: '/api/catalog/entities/by-query?filter=kind=group,relations.hasMember=user:default/alice&fields=metadata.name' },
  aliceByEmail: { method: 'GET', path: '/api/catalog/entities/by-query?filter=kind=user,spec.profile.email=ALICE@EXAMPLE.COM&fields=metadata.name,relations' },
  permissionAuthorize: {
    method: 'POST',
    path: '/api/permission/authorize',
    body: { items: [{ id: '1', permission: { type: 'basic', name: 'catalog.entity.create', attributes: { action: 'create' } } }] },
  },
  entitiesUnpaged: { method: 'GET', path: '/api/catalog/entities?filter=kind=user&fields=metadata.name' },
  listActions: { method: 'GET', path: '/api/auth/.backstage/actions/v1/actions' },
};

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startBackend(permissions) {
  const port = await freePort();
  const logFile = path.join(tmp, `backstage-${permissions}.log`);
  const t0 = Date.now();
  const child = spawn(
    process.execPath,
    [
      path.join(HERE, 'backend.js'),
      '--port', String(port),
      '--permissions', permissions,
      '--public-key', publicKeyFile,
      '--private-key', privateKeyFile,
      '--key-id', KID,
      '--token', STATIC_TOKEN,
      '--log-file', logFile,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = readline.createInterface({ input: child.stdout });
  const ready = await new Promise((resolve, reject) => {
    lines.on('line', line => {
      if (line.startsWith('READY ')) resolve(JSON.parse(line.slice(6)));
    });
    child.once('exit', code => reject(new Error(`backend.js exited (${code}) before READY; see ${logFile}`)));
  });
  return { child, ready, logFile, spawnToReadyMs: Date.now() - t0 };
}

async function stopBackend(backend) {
  const exited = new Promise(resolve => backend.child.once('exit', resolve));
  backend.child.stdin.end(); // the harness exits when stdin closes
  await exited;
}

function rssKb(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  } catch {
    return null;
  }
}

async function call(baseUrl, request, token) {
  const res = await fetch(baseUrl + request.path, {
    method: request.method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(request.body && { 'content-type': 'application/json' }),
    },
    body: request.body && JSON.stringify(request.body),
  });
  const body = await res.text();
  return { status: res.status, body };
}

// Warn/error lines Backstage wrote to its log since `offset`.
function logLinesSince(logFile, offset) {
  const text = fs.readFileSync(logFile).subarray(offset).toString('utf8'); // offset is in bytes
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (entry.level === 'info') continue;
    const detail = [entry.name, entry.code].filter(Boolean).join(' ');
    out.push(`[${entry.plugin ?? entry.service}] ${entry.level}: ${entry.message}${detail ? ` (${detail})` : ''}`);
  }
  return [...new Set(out)];
}

const summary = (r) => {
  let note = '';
  try {
    const body = JSON.parse(r.body);
    if (body.error) note = `${body.error.name}: ${body.error.message}`;
    else if (body.output?.userInfo) note = `userInfo=${JSON.stringify(body.output.userInfo)}`;
    else if (body.items && 'totalItems' in body) note = `items=${JSON.stringify(body.items.map(i => i.metadata?.name))}`;
    else if (Array.isArray(body.items)) note = JSON.stringify(body.items);
    else if (Array.isArray(body)) note = `${body.length} entities`;
    else if (body.metadata) note = `entity ${body.metadata.name}`;
  } catch {
    note = r.body;
  }
  if (note.length > 300) note = `${note.slice(0, 300)}…`;
  return `${r.status}${note ? ` ${note}` : ''}`;
};

const results = { modes: {} };
let failures = 0;
for (const permissions of ['off', 'on']) {
  const backend = await startBackend(permissions);
  const { baseUrl } = backend.ready;
  const mode = { readyMs: backend.ready.readyMs, spawnToReadyMs: backend.spawnToReadyMs, rssKbAtReady: rssKb(backend.child.pid), cases: {} };
  results.modes[permissions] = mode;
  for (const [id, description, make, expected] of CASES) {
    const token = make();
    const offset = fs.statSync(backend.logFile).size;
    const res = {};
    for (const [name, request] of Object.entries(id === 'a' ? { ...REQUESTS, ...EXTRA } : REQUESTS)) {
      res[name] = await call(baseUrl, request, token);
    }
    await new Promise(r => setTimeout(r, 100)); // let the log flush
    const header = id === 's' ? null : JSON.parse(Buffer.from(token.split('.')[0], 'base64url'));
    const want = expected?.[permissions];
    let ok = true;
    if (want === 'refused') ok = res.byName.status >= 400;
    else if (want !== undefined) ok = res.byName.status === want;
    if (!ok) failures += 1;
    mode.cases[id] = { description, header, responses: res, log: logLinesSince(backend.logFile, offset), expected: want ?? null, ok };
  }
  // A burst of requests, for the memory figure.
  const token = CASES[0][2]();
  const t0 = Date.now();
  for (let i = 0; i < 500; i += 1) await call(baseUrl, REQUESTS.byName, token);
  mode.burst = { requests: 500, ms: Date.now() - t0, rssKbAfter: rssKb(backend.child.pid) };
  await stopBackend(backend);
  if (keepLogs) {
    fs.mkdirSync(keepLogs, { recursive: true });
    fs.copyFileSync(backend.logFile, path.join(keepLogs, path.basename(backend.logFile)));
  }
}

if (asJson) {
  for (const mode of Object.values(results.modes)) {
    for (const c of Object.values(mode.cases)) {
      for (const r of Object.values(c.responses)) if (r.body.length > 2000) r.body = `${r.body.slice(0, 2000)}…`;
    }
  }
  console.log(JSON.stringify(results, null, 2));
} else {
  for (const [permissions, mode] of Object.entries(results.modes)) {
    console.log(`\n=== permission.enabled: ${permissions === 'on'}  (READY after ${mode.readyMs} ms in the harness, ${mode.spawnToReadyMs} ms from spawn; RSS ${mode.rssKbAtReady} kB; 500 by-name requests in ${mode.burst.ms} ms, RSS after ${mode.burst.rssKbAfter} kB)`);
    for (const [id, c] of Object.entries(mode.cases)) {
      const flag = c.expected === null ? '' : c.ok ? ' [as expected]' : ` [UNEXPECTED: wanted ${c.expected}]`;
      console.log(`\n(${id}) ${c.description}${flag}`);
      if (c.header) console.log(`    header ${JSON.stringify(c.header)}`);
      for (const [name, r] of Object.entries(c.responses)) console.log(`    ${name.padEnd(20)} ${summary(r)}`);
      for (const line of c.log) console.log(`    log: ${line}`);
    }
  }
  console.log(failures ? `\n${failures} expectation(s) failed` : '\nall expectations (a-d, s) hold');
}
process.exit(failures ? 1 : 0);
