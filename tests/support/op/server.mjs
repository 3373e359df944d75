#!/usr/bin/env node
// Real OpenID Provider fixture for stagepass integration tests.
//
// Wraps the certified `oidc-provider` library (pinned in package.json) with:
//   * a single confidential client configured from the command line,
//   * dev interactions (any login, any password) with consent skipped,
//   * a test control API under /__test/ that makes the OP misbehave at runtime.
//
// Usage (see README.md next to this file):
//   node tests/support/op/server.mjs --host 127.0.0.2 --port 0 \
//     --client-id stagepass --client-secret s3cret \
//     --redirect-uri http://127.0.0.1:PORT/callback [--redirect-uri ...] \
//     [--post-logout-redirect-uri URL ...] [--alg RS256|ES256|PS256] \
//     [--token-endpoint-auth-method client_secret_basic|client_secret_post] \
//     [--access-token-ttl 3600] [--id-token-ttl 3600] [--refresh-token-ttl 1209600] \
//     [--accounts FILE] [--machine-client ID:SECRET] [--machine-claims JSON]
//     [--tls-cert PEM --tls-key PEM] [--backchannel-logout-uri URL]
//
// --machine-client adds a second client that may only use the
// client_credentials grant. Its tokens are JWT access tokens (RFC 9068) for
// the resource API_RESOURCE below (aud = API_AUDIENCE), or for
// OTHER_RESOURCE when it asks for `resource=<OTHER_RESOURCE>`;
// --machine-claims adds claims to them.
//
// On ready it prints exactly one line to stdout:
//   READY {"issuer":"http://127.0.0.2:PORT","port":PORT,...}
// Everything else (oidc-provider's runtime/dev warnings, logs) goes to stderr.

import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, fstatSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';

// oidc-provider prints "Unsupported runtime" / devInteractions warnings via
// console.warn/console.info; make sure *nothing* but the READY line reaches stdout.
console.log = (...a) => console.error(...a);
console.info = (...a) => console.error(...a);

const { default: Provider, errors } = await import('oidc-provider');
const { CompactSign } = await import('jose');
const { default: MemoryAdapter } = await import('./memory_adapter.mjs');

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

const { values: args } = parseArgs({
  options: {
    host: { type: 'string', default: process.env.OP_HOST || '127.0.0.2' },
    port: { type: 'string', default: process.env.OP_PORT || '0' },
    'client-id': { type: 'string', default: process.env.OP_CLIENT_ID || 'stagepass' },
    'client-secret': { type: 'string', default: process.env.OP_CLIENT_SECRET || 'stagepass-test-secret' },
    'redirect-uri': { type: 'string', multiple: true, default: [] },
    'post-logout-redirect-uri': { type: 'string', multiple: true, default: [] },
    'token-endpoint-auth-method': { type: 'string', default: 'client_secret_basic' },
    alg: { type: 'string', default: 'RS256' },
    'access-token-ttl': { type: 'string', default: '3600' },
    'id-token-ttl': { type: 'string', default: '3600' },
    'refresh-token-ttl': { type: 'string', default: String(14 * 24 * 3600) },
    'session-ttl': { type: 'string', default: String(14 * 24 * 3600) },
    'refresh-token-rotation': { type: 'string', default: 'default' }, // default | always | never
    accounts: { type: 'string' },
    'machine-client': { type: 'string' },
    'tls-cert': { type: 'string' },
    'backchannel-logout-uri': { type: 'string' },
    'tls-key': { type: 'string' },
    'machine-claims': { type: 'string', default: '{}' },
    'lenient-client-auth': { type: 'boolean', default: false },
    'exit-on-stdin-close': { type: 'string', default: 'auto' }, // auto | true | false
    verbose: { type: 'boolean', default: false },
  },
  strict: true,
});

function die(msg) {
  process.stderr.write(`op/server.mjs: ${msg}\n`);
  process.exit(2);
}

function positiveInt(name) {
  const v = Number(args[name]);
  if (!Number.isSafeInteger(v) || v <= 0) die(`--${name} must be a positive integer, got ${args[name]}`);
  return v;
}

const HOST = args.host;
const PORT = Number(args.port);
if (!Number.isSafeInteger(PORT) || PORT < 0 || PORT > 65535) die(`bad --port ${args.port}`);
const CLIENT_ID = args['client-id'];
const CLIENT_SECRET = args['client-secret'];
const REDIRECT_URIS = [...args['redirect-uri'], ...(process.env.OP_REDIRECT_URI ? process.env.OP_REDIRECT_URI.split(/\s+/).filter(Boolean) : [])];
if (REDIRECT_URIS.length === 0) die('at least one --redirect-uri is required (the proxy\'s exact callback URL)');
const POST_LOGOUT_REDIRECT_URIS = args['post-logout-redirect-uri'];
const AUTH_METHOD = args['token-endpoint-auth-method'];
if (!['client_secret_basic', 'client_secret_post'].includes(AUTH_METHOD)) {
  die(`--token-endpoint-auth-method must be client_secret_basic or client_secret_post, got ${AUTH_METHOD}`);
}
const ALG = args.alg;
if (!['RS256', 'ES256', 'PS256'].includes(ALG)) die(`--alg must be RS256, ES256 or PS256, got ${ALG}`);
const ACCESS_TOKEN_TTL = positiveInt('access-token-ttl');
const ID_TOKEN_TTL = positiveInt('id-token-ttl');
const REFRESH_TOKEN_TTL = positiveInt('refresh-token-ttl');
const SESSION_TTL = positiveInt('session-ttl');
const RT_ROTATION = args['refresh-token-rotation'];
if (!['default', 'always', 'never'].includes(RT_ROTATION)) die(`--refresh-token-rotation must be default, always or never, got ${RT_ROTATION}`);

let ACCOUNTS = {};
if (args.accounts) {
  try {
    ACCOUNTS = JSON.parse(readFileSync(args.accounts, 'utf8'));
  } catch (e) {
    die(`cannot read --accounts ${args.accounts}: ${e.message}`);
  }
}

// The API a machine client's tokens are for, and another one it may ask for.
const API_RESOURCE = 'https://api.stagepass.test';
const API_AUDIENCE = 'https://api.stagepass.test';
const OTHER_RESOURCE = 'https://other-api.stagepass.test';
let MACHINE = null;
if (args['machine-client']) {
  const [id, secret] = args['machine-client'].split(':');
  if (!id || !secret) die('--machine-client must be ID:SECRET');
  let claims;
  try { claims = JSON.parse(args['machine-claims']); } catch (e) { die(`--machine-claims: ${e.message}`); }
  MACHINE = { id, secret, claims };
}

const log = args.verbose ? (...a) => console.error('[op]', ...a) : () => {};

// ---------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------

// sub -> login, so that findAccount(sub) can rebuild the claims of a login
// such as "alice@corp.example" whose sub is "alice".
const loginForSub = new Map();

function subForLogin(login) {
  const override = ACCOUNTS[login];
  if (override && typeof override.sub === 'string' && override.sub) return override.sub;
  if (login.includes('@')) return login.slice(0, login.indexOf('@')) || login;
  return login;
}

function titleCase(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

function claimsForLogin(login, sub) {
  const local = login.includes('@') ? login.slice(0, login.indexOf('@')) : login;
  const parts = local.split(/[._\-+]+/).filter(Boolean);
  const given = titleCase(parts[0] || local);
  const family = parts.length > 1 ? parts.slice(1).map(titleCase).join(' ') : 'Tester';
  const base = {
    sub,
    email: login.includes('@') ? login : `${login}@example.com`,
    email_verified: true,
    given_name: given,
    family_name: family,
    preferred_username: local,
    // No `picture` and no `name` by default: Entra ID v2 and a default
    // Keycloak realm send no picture, many enterprise IdPs no `name`, and a
    // test IdP that always sends them hides "field missing" bugs. A test
    // that needs `name` gives it through `--accounts`.
    groups: ['team-a'],
  };
  const override = ACCOUNTS[login] || ACCOUNTS[sub] || {};
  const merged = { ...base, ...override, sub };
  // An override may delete a claim by setting it to null.
  for (const [k, v] of Object.entries(merged)) if (v === null) delete merged[k];
  return merged;
}

async function findAccount(_ctx, id) {
  if (!id) return undefined;
  const login = loginForSub.get(id) ?? id;
  const sub = subForLogin(login);
  return {
    accountId: sub,
    async claims() {
      return claimsForLogin(login, sub);
    },
  };
}

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

let keyCounter = 0;

function makeKey(alg, kid) {
  const kp = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  keyCounter += 1;
  const k = kid || `test-key-${keyCounter}-${randomBytes(4).toString('hex')}`;
  return {
    alg,
    kid: k,
    privateKey: kp.privateKey,
    publicKey: kp.publicKey,
    privateJwk: { ...kp.privateKey.export({ format: 'jwk' }), kid: k, alg, use: 'sig' },
    publicJwk: { ...kp.publicKey.export({ format: 'jwk' }), kid: k, alg, use: 'sig' },
  };
}

// Cookie signing keys are shared by every Provider instance so that sessions
// and interactions survive /__test/rotate-keys.
const COOKIE_KEYS = [randomBytes(32).toString('hex')];

// `department` stands for the custom claims IdPs add by mapper (Keycloak,
// Okta): nobody has one unless --accounts gives it.
const ALL_CLAIMS = ['email', 'email_verified', 'name', 'given_name', 'family_name',
  'preferred_username', 'picture', 'groups', 'department'];
const ALL_SCOPES = 'openid email profile groups offline_access';

// ---------------------------------------------------------------------------
// Test control state
// ---------------------------------------------------------------------------

const MODES = new Set([
  'none', 'bad-signature', 'alg-none', 'wrong-iss', 'wrong-aud', 'expired',
  'wrong-nonce', 'hs256-with-public-key', 'foreign-key', 'multi-aud-no-azp',
  'bad-at-hash', 'wrong-sub', 'refresh-invalid-grant', 'foreign-azp', 'multi-aud-foreign-azp', 'token-500', 'token-garbage',
]);

const ENDPOINTS = ['discovery', 'jwks', 'token', 'userinfo', 'authorization', 'interaction',
  'end_session', 'revocation', 'introspection', 'other'];

const state = {
  mode: 'none',
  grantType: null, // null = any; or 'authorization_code' | 'refresh_token'
  hsSecret: 'pem', // pem | jwk | der (for hs256-with-public-key)
  down: false,
  latency: {}, // endpoint -> ms
  foreignKey: null,
};

function zeroStats() {
  const s = { token_authorization_code: 0, token_refresh_token: 0, token_other: 0, id_tokens_tampered: 0 };
  for (const e of ENDPOINTS) s[e] = 0;
  return s;
}
let stats = zeroStats();

let currentKey = makeKey(ALG);
let provider; // current Provider instance (swapped by rotate-keys)
let providerHandler; // its request handler
let generation = 0;

// ---------------------------------------------------------------------------
// ID token tampering
// ---------------------------------------------------------------------------

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const encJson = (obj) => b64u(JSON.stringify(obj));
const decJson = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));

async function signWith(header, payload, key) {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader(header)
    .sign(key);
}

function hmacSecret() {
  switch (state.hsSecret) {
    case 'jwk': return Buffer.from(JSON.stringify(
      Object.fromEntries(Object.entries(currentKey.publicJwk).filter(([k]) => !['kid', 'alg', 'use'].includes(k))),
    ));
    case 'der': return currentKey.publicKey.export({ type: 'spki', format: 'der' });
    case 'pem':
    default: return Buffer.from(currentKey.publicKey.export({ type: 'spki', format: 'pem' }));
  }
}

async function tamper(idToken, mode, clientId) {
  const [h, p, s] = idToken.split('.');
  const header = decJson(h);
  const payload = decJson(p);
  const nowS = Math.floor(Date.now() / 1000);
  const resign = (pl) => signWith(header, pl, currentKey.privateKey);

  switch (mode) {
    case 'bad-signature': {
      const sig = Buffer.from(s, 'base64url');
      sig[0] ^= 0xff;
      sig[sig.length >> 1] ^= 0x55;
      sig[sig.length - 1] ^= 0x01;
      return `${h}.${p}.${b64u(sig)}`;
    }
    case 'alg-none':
      return `${encJson({ ...header, alg: 'none' })}.${p}.`;
    case 'wrong-iss':
      return resign({ ...payload, iss: 'http://evil.invalid' });
    case 'wrong-aud':
      return resign({ ...payload, aud: 'some-other-client', azp: undefined });
    case 'expired':
      return resign({ ...payload, iat: nowS - 7200, auth_time: nowS - 7200, exp: nowS - 3600 });
    case 'wrong-nonce':
      return resign({ ...payload, nonce: `wrong-nonce-${randomBytes(8).toString('hex')}` });
    case 'wrong-sub':
      return resign({ ...payload, sub: `someone-else-${randomBytes(4).toString('hex')}` });
    case 'multi-aud-no-azp': {
      const { azp, ...rest } = payload; // eslint-disable-line no-unused-vars
      return resign({ ...rest, aud: [clientId, 'another-audience'] });
    }
    case 'foreign-azp':
      return resign({ ...payload, azp: 'another-client' });
    case 'multi-aud-foreign-azp':
      return resign({ ...payload, aud: [clientId, 'another-client'], azp: 'another-client' });
    case 'bad-at-hash':
      return resign({ ...payload, at_hash: b64u(randomBytes(16)) });
    case 'hs256-with-public-key': {
      const hdr = encJson({ ...header, alg: 'HS256' });
      const mac = createHmac('sha256', hmacSecret()).update(`${hdr}.${p}`).digest();
      return `${hdr}.${p}.${b64u(mac)}`;
    }
    case 'foreign-key': {
      if (!state.foreignKey || state.foreignKey.alg !== currentKey.alg) {
        state.foreignKey = makeKey(currentKey.alg, currentKey.kid);
      }
      return signWith(header, payload, state.foreignKey.privateKey);
    }
    default:
      return idToken;
  }
}

// ---------------------------------------------------------------------------
// Provider construction (called at start and on every key rotation)
// ---------------------------------------------------------------------------

async function logoutSource(ctx, form) {
  // Auto-submitting confirmation: a browser signs out without a click; an HTTP
  // client POSTs xsrf=<value>&logout=yes to /session/end/confirm.
  ctx.body = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Logout Request</title></head>
<body>
<h1>Do you want to sign-out from ${ctx.host}?</h1>
${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>
<script>
  (function () {
    var f = document.getElementById('op.logoutForm');
    var i = document.createElement('input');
    i.type = 'hidden'; i.name = 'logout'; i.value = 'yes';
    f.appendChild(i); f.submit();
  })();
</script>
</body></html>`;
}

async function postLogoutSuccessSource(ctx) {
  ctx.body = '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign-out Success</title></head>'
    + '<body><h1>Sign-out Success</h1></body></html>';
}

function buildProvider(issuer) {
  const client = {
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: REDIRECT_URIS,
    post_logout_redirect_uris: POST_LOGOUT_REDIRECT_URIS,
    response_types: ['code'],
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: AUTH_METHOD,
    id_token_signed_response_alg: currentKey.alg,
    scope: ALL_SCOPES,
    // OIDC Back-Channel Logout: the OP posts a logout_token here when the
    // person's OP session ends; ID tokens then carry `sid`.
    ...(args['backchannel-logout-uri'] ? {
      backchannel_logout_uri: args['backchannel-logout-uri'],
      backchannel_logout_session_required: true,
    } : {}),
  };

  const clients = [client];
  if (MACHINE) {
    clients.push({
      client_id: MACHINE.id,
      client_secret: MACHINE.secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: AUTH_METHOD,
    });
  }

  const p = new Provider(issuer, {
    adapter: MemoryAdapter,
    clients,
    jwks: { keys: [currentKey.privateJwk] },
    cookies: { keys: COOKIE_KEYS },
    findAccount,
    scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username', 'picture', 'department'],
      groups: ['groups'],
    },
    conformIdTokenClaims: false,
    // oidc-provider refuses to post to special-use addresses (SSRF
    // protection); in the tests stagepass's back-channel logout endpoint
    // is on loopback, so let that through here, and only here.
    fetch: (url, options) => {
      const { dispatcher, ...rest } = options; // eslint-disable-line no-unused-vars
      return globalThis.fetch(url, rest);
    },
    responseTypes: ['code'],
    clockTolerance: 0,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      revocation: { enabled: true },
      introspection: { enabled: true },
      userinfo: { enabled: true },
      clientCredentials: { enabled: Boolean(MACHINE) },
      backchannelLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Only the machine client gets JWT access tokens by default; the
        // sign-in client's stay opaque, as they were.
        defaultResource: (_ctx, c, oneOf) => oneOf
          ?? (MACHINE && c?.clientId === MACHINE.id ? API_RESOURCE : undefined),
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx, resource) => {
          const audience = { [API_RESOURCE]: API_AUDIENCE, [OTHER_RESOURCE]: OTHER_RESOURCE }[resource];
          if (!audience) throw new errors.InvalidTarget();
          return {
            scope: 'api:read api:write',
            audience,
            accessTokenFormat: 'jwt',
            accessTokenTTL: ACCESS_TOKEN_TTL,
            jwt: { sign: { alg: currentKey.alg } },
          };
        },
      },
    },
    extraTokenClaims: (_ctx, token) => (MACHINE && token.clientId === MACHINE.id
      ? MACHINE.claims : undefined),
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL,
      ClientCredentials: ACCESS_TOKEN_TTL,
      IdToken: ID_TOKEN_TTL,
      RefreshToken: REFRESH_TOKEN_TTL,
      AuthorizationCode: 60,
      Interaction: 3600,
      Session: SESSION_TTL,
      Grant: SESSION_TTL,
    },
    // Always issue a refresh token to our client, even without offline_access
    // (oidc-provider drops offline_access unless prompt=consent is requested).
    issueRefreshToken: async (_ctx, c) => c.clientId === CLIENT_ID,
    // default: oidc-provider rotates a confidential client's refresh token once
    // 70 % of its lifetime has passed.
    ...(RT_ROTATION === 'default' ? {} : { rotateRefreshToken: () => RT_ROTATION === 'always' }),
    // Skip the consent prompt: grant every scope and claim to our client.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      let grant;
      if (grantId) grant = await ctx.oidc.provider.Grant.find(grantId);
      if (!grant) {
        grant = new ctx.oidc.provider.Grant({
          clientId: ctx.oidc.client.clientId,
          accountId: ctx.oidc.session.accountId,
        });
      }
      grant.addOIDCScope(ALL_SCOPES);
      grant.addOIDCClaims(ALL_CLAIMS);
      await grant.save();
      return grant;
    },
    renderError(ctx, out, error) {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>oops! something went wrong</title></head>
<body><h1>oops! something went wrong</h1><pre id="error">${JSON.stringify(out, null, 2).replace(/</g, '&lt;')}</pre></body></html>`;
      log('renderError', out, error?.message);
    },
  });

  // The dev login form passes the typed login as accountId; map it to the sub
  // (e.g. "alice@corp.example" -> "alice") so that session, grant, code and
  // tokens all carry the same accountId, and remember the login for claims.
  const origFinished = p.interactionFinished.bind(p);
  p.interactionFinished = async (req, res, result, opts) => {
    if (result?.login?.accountId) {
      const login = String(result.login.accountId);
      const sub = subForLogin(login);
      loginForSub.set(sub, login);
      result.login.accountId = sub;
    }
    return origFinished(req, res, result, opts);
  };

  // Misbehaviour middleware: rewrites the id_token of /token responses.
  p.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route !== 'token') return;
    const gt = ctx.oidc.params?.grant_type;
    if (gt === 'authorization_code') stats.token_authorization_code += 1;
    else if (gt === 'refresh_token') stats.token_refresh_token += 1;
    else stats.token_other += 1;
    if (ctx.status !== 200 || !ctx.body || typeof ctx.body !== 'object') return;
    if (state.mode === 'none') return;
    if (state.grantType && state.grantType !== gt) return;
    if (state.mode === 'token-500') {
      ctx.status = 500;
      ctx.body = { error: 'server_error', error_description: 'test misbehaviour' };
      return;
    }
    if (state.mode === 'token-garbage') {
      ctx.status = 200;
      ctx.type = 'text/html';
      ctx.body = '<html><body>Service temporarily unavailable</body></html>';
      return;
    }
    if (state.mode === 'refresh-invalid-grant') {
      if (gt !== 'refresh_token') return;
      ctx.status = 400;
      ctx.body = { error: 'invalid_grant', error_description: 'grant request is invalid (test misbehaviour)' };
      return;
    }
    if (typeof ctx.body.id_token === 'string') {
      ctx.body = { ...ctx.body, id_token: await tamper(ctx.body.id_token, state.mode, ctx.oidc.client?.clientId || CLIENT_ID) };
      stats.id_tokens_tampered += 1;
    }
  });

  p.on('server_error', (_ctx, err) => console.error('[op] server_error', err));
  p.on('backchannel.error', (_ctx, err, client) => console.error('[op] backchannel.error', client?.clientId, err?.message));
  p.on('backchannel.success', (_ctx, client) => log('backchannel.success', client?.clientId));
  if (args.verbose) {
    p.on('grant.error', (_ctx, err) => console.error('[op] grant.error', err.message, err.error_description || ''));
    p.on('authorization.error', (_ctx, err) => console.error('[op] authorization.error', err.message, err.error_description || ''));
  }
  return p;
}

function installProvider(issuer) {
  provider = buildProvider(issuer);
  providerHandler = provider.callback();
  generation += 1;
}

// ---------------------------------------------------------------------------
// HTTP server: /__test/ control API in front of the provider
// ---------------------------------------------------------------------------

function classify(path) {
  if (path === '/.well-known/openid-configuration') return 'discovery';
  if (path === '/jwks') return 'jwks';
  if (path === '/token') return 'token';
  if (path === '/me') return 'userinfo';
  if (path === '/token/revocation') return 'revocation';
  if (path === '/token/introspection') return 'introspection';
  if (path === '/auth' || path.startsWith('/auth/')) return 'authorization';
  if (path.startsWith('/interaction/')) return 'interaction';
  if (path.startsWith('/session/end')) return 'end_session';
  return 'other';
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendEmpty(res, status = 204) {
  res.writeHead(status, { 'cache-control': 'no-store' });
  res.end();
}

async function handleTest(req, res, path, issuer) {
  let body = {};
  if (req.method === 'POST') {
    const raw = await readBody(req);
    if (raw.trim()) {
      try { body = JSON.parse(raw); } catch { return sendJson(res, 400, { error: 'body must be JSON' }); }
    }
  }
  const route = `${req.method} ${path}`;
  switch (route) {
    case 'POST /__test/misbehave': {
      const mode = body.mode ?? 'none';
      if (!MODES.has(mode)) return sendJson(res, 400, { error: `unknown mode ${mode}`, modes: [...MODES] });
      if (body.grantType != null && !['authorization_code', 'refresh_token'].includes(body.grantType)) {
        return sendJson(res, 400, { error: 'grantType must be authorization_code or refresh_token' });
      }
      if (body.hsSecret != null && !['pem', 'jwk', 'der'].includes(body.hsSecret)) {
        return sendJson(res, 400, { error: 'hsSecret must be pem, jwk or der' });
      }
      state.mode = mode;
      state.grantType = body.grantType ?? null;
      state.hsSecret = body.hsSecret ?? 'pem';
      log('misbehave', state.mode, state.grantType || 'any grant');
      return sendEmpty(res);
    }
    case 'POST /__test/rotate-keys': {
      const old = currentKey.kid;
      currentKey = makeKey(body.alg || currentKey.alg);
      state.foreignKey = null;
      installProvider(issuer);
      log('rotated keys', old, '->', currentKey.kid);
      return sendEmpty(res);
    }
    case 'POST /__test/down':
      state.down = body.down !== false;
      return sendEmpty(res);
    case 'POST /__test/latency': {
      const ms = Number(body.ms ?? 0);
      if (!Number.isFinite(ms) || ms < 0) return sendJson(res, 400, { error: 'ms must be >= 0' });
      const eps = body.endpoints ?? ENDPOINTS;
      for (const e of eps) if (!ENDPOINTS.includes(e)) return sendJson(res, 400, { error: `unknown endpoint ${e}`, endpoints: ENDPOINTS });
      for (const e of eps) state.latency[e] = ms;
      return sendEmpty(res);
    }
    case 'POST /__test/sign': {
      // Signs arbitrary claims with the OP's current key: tokens the OP
      // would never issue (expired, other issuer) but that verify with its JWKS.
      if (typeof body.claims !== 'object' || body.claims === null) return sendJson(res, 400, { error: 'claims must be an object' });
      const header = { alg: currentKey.alg, kid: currentKey.kid, typ: 'at+jwt', ...(body.header || {}) };
      const token = await signWith(header, body.claims, currentKey.privateKey);
      return sendJson(res, 200, { token });
    }
    case 'GET /__test/stats':
      return sendJson(res, 200, stats);
    case 'POST /__test/stats/reset':
      stats = zeroStats();
      return sendEmpty(res);
    case 'POST /__test/reset':
      state.mode = 'none'; state.grantType = null; state.hsSecret = 'pem';
      state.down = false; state.latency = {};
      stats = zeroStats();
      return sendEmpty(res);
    case 'GET /__test/state':
      return sendJson(res, 200, {
        mode: state.mode,
        grantType: state.grantType,
        hsSecret: state.hsSecret,
        down: state.down,
        latency: state.latency,
        kid: currentKey.kid,
        alg: currentKey.alg,
        generation,
        publicJwk: currentKey.publicJwk,
      });
    default:
      return sendJson(res, 404, { error: `no such test route ${route}` });
  }
}

// --tls-cert/--tls-key: serve https with that certificate (one from a
// company CA, in the tests of private CAs).
const server = args['tls-cert']
  ? https.createServer({ cert: readFileSync(args['tls-cert']), key: readFileSync(args['tls-key']) })
  : http.createServer();
server.keepAliveTimeout = 5000;

await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(PORT, HOST, resolve);
});
const { port } = server.address();
const hostForUrl = HOST.includes(':') ? `[${HOST}]` : HOST;
const ISSUER = `${args['tls-cert'] ? 'https' : 'http'}://${hostForUrl}:${port}`;

installProvider(ISSUER);

server.on('request', async (req, res) => {
  const path = (req.url || '/').split('?')[0];
  try {
    if (path.startsWith('/__test/')) {
      await handleTest(req, res, path, ISSUER);
      return;
    }
    const ep = classify(path);
    stats[ep] += 1;
    // oidc-provider accepts client_secret_basic and client_secret_post
    // interchangeably; enforce the configured one so tests prove which one
    // the RP really uses.
    if (!args['lenient-client-auth'] && req.method === 'POST'
      && (ep === 'token' || ep === 'revocation' || ep === 'introspection')) {
      const hasBasic = /^basic\s/i.test(req.headers.authorization || '');
      if ((AUTH_METHOD === 'client_secret_basic') !== hasBasic) {
        res.writeHead(401, {
          'content-type': 'application/json', 'cache-control': 'no-store',
          ...(AUTH_METHOD === 'client_secret_basic' ? { 'www-authenticate': 'Basic realm="op"' } : {}),
        });
        res.end(JSON.stringify({
          error: 'invalid_client',
          error_description: `client authentication must use ${AUTH_METHOD} (test OP is strict)`,
        }));
        return;
      }
    }
    const delay = state.latency[ep];
    if (delay) await new Promise((r) => setTimeout(r, delay));
    if (state.down) {
      res.writeHead(503, { 'content-type': 'application/json', 'cache-control': 'no-store', 'retry-after': '1' });
      res.end(JSON.stringify({ error: 'temporarily_unavailable', error_description: 'IdP is down (test control)' }));
      return;
    }
    providerHandler(req, res);
  } catch (e) {
    console.error('[op] handler error', e);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
  }
});

// ---------------------------------------------------------------------------
// Lifetime: exit when stdin closes (if it is a pipe/socket) or on signals.
// ---------------------------------------------------------------------------

function shutdown(code = 0) {
  server.close();
  server.closeAllConnections?.();
  process.exit(code);
}
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));

let watchStdin = args['exit-on-stdin-close'] === 'true';
if (args['exit-on-stdin-close'] === 'auto') {
  try {
    const st = fstatSync(0);
    watchStdin = st.isFIFO() || st.isSocket();
  } catch { watchStdin = false; }
}
if (watchStdin) {
  process.stdin.on('data', () => {});
  process.stdin.on('end', () => shutdown(0));
  process.stdin.on('close', () => shutdown(0));
  process.stdin.on('error', () => shutdown(0));
  process.stdin.resume();
}

// A test harness may stop reading stdout after the READY line.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

process.stdout.write(`READY ${JSON.stringify({
  issuer: ISSUER,
  port,
  clientId: CLIENT_ID,
  apiAudience: API_AUDIENCE,
  otherResource: OTHER_RESOURCE,
  alg: currentKey.alg,
  kid: currentKey.kid,
  pid: process.pid,
})}\n`);
