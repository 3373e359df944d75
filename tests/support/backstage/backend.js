#!/usr/bin/env node
// A real Backstage backend (auth + catalog + permission with the allow-all
// policy) for stagepass integration tests. See README.md in this directory.
//
//   node tests/support/backstage/backend.js --port <free port> \
//     [--catalog catalog.yaml] [--permissions on|off] \
//     [--public-key pub.pem --private-key key.pem --key-id KID] \
//     [--token <static service token>] [--log-file backstage.log]
//
// It writes its own app-config (in a temporary directory), starts Backstage,
// and prints exactly one line to stdout once the backend is ready AND every
// entity from the catalog file (with each user's memberOf relations) is
// visible:
//
//   READY {"baseUrl":"http://127.0.0.1:PORT", ...}
//
// Everything else (Backstage's own logs) goes to stderr, or to --log-file.
// It exits when its stdin closes (unless --keep-alive), so a crashed test
// never leaves it behind. Exit status: 0 on stdin close/SIGTERM/SIGINT,
// 1 on failure (including not ready within --ready-timeout), 2 on bad
// arguments, 3 when the port is already in use.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const HERE = __dirname;
const started = Date.now();

const USAGE = `usage: node backend.js --port PORT [options]
  --port PORT            port to listen on (required; Backstage cannot use 0 because
                         backend.baseUrl must be the real address: pick a free port first)
  --host HOST            listen host and baseUrl host (default 127.0.0.1)
  --catalog FILE         multi-document YAML of User/Group entities (default ./catalog.yaml)
  --permissions on|off   permission.enabled (default on; policy is allow-all)
  --public-key FILE      SPKI PEM  } auth.keyStore static key used to verify user tokens;
  --private-key FILE     PKCS8 PEM } all three or none (none: Backstage's own
  --key-id KID           key id    } database key store)
  --algorithm ALG        key algorithm (default ES256)
  --token TOKEN          static external-access token (default stagepass-tests-static-token)
  --token-subject SUB    its subject (default stagepass-tests)
  --app-base-url URL     app.baseUrl (default: the backend's baseUrl)
  --oauth2-proxy-resolver NAME
                         enable the oauth2Proxy provider with this sign-in resolver
                         (repeatable, tried in order; e.g. forwardedUserMatchingUserEntityName)
  --config FILE          extra app-config merged over the generated one (repeatable)
  --log-file FILE        write Backstage's logs there instead of stderr
  --ready-timeout SECS   give up (exit 1) if not ready by then (default 120)
  --keep-alive           do not exit when stdin closes (for manual runs)
  --print-config         print the generated app-config to stdout and exit`;

let args;
try {
  args = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      catalog: { type: 'string', default: path.join(HERE, 'catalog.yaml') },
      permissions: { type: 'string', default: 'on' },
      'public-key': { type: 'string' },
      'private-key': { type: 'string' },
      'key-id': { type: 'string' },
      algorithm: { type: 'string', default: 'ES256' },
      token: { type: 'string', default: 'stagepass-tests-static-token' },
      'token-subject': { type: 'string', default: 'stagepass-tests' },
      'app-base-url': { type: 'string' },
      'oauth2-proxy-resolver': { type: 'string', multiple: true, default: [] },
      config: { type: 'string', multiple: true, default: [] },
      'log-file': { type: 'string' },
      'ready-timeout': { type: 'string', default: '120' },
      'keep-alive': { type: 'boolean', default: false },
      'print-config': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  }).values;
} catch (e) {
  console.error(`${e.message}\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

function fail(message) {
  console.error(`backstage harness: ${message}`);
  process.exit(1);
}

const port = Number(args.port);
if (!Number.isInteger(port) || port <= 0 || port > 65535) fail(`--port must be a port number\n${USAGE}`);
if (!['on', 'off'].includes(args.permissions)) fail('--permissions must be on or off');
const keyArgs = [args['public-key'], args['private-key'], args['key-id']];
if (keyArgs.some(Boolean) && !keyArgs.every(Boolean)) {
  fail('--public-key, --private-key and --key-id go together');
}
if (args.token.length < 8) fail('--token must be at least 8 characters');

// Relative paths are the caller's (its cwd); Backstage itself runs from HERE.
const abs = p => path.resolve(process.cwd(), p);
const catalogFile = abs(args.catalog);
const extraConfigs = args.config.map(abs);
const logFile = args['log-file'] && abs(args['log-file']);
const baseUrl = `http://${args.host.includes(':') ? `[${args.host}]` : args.host}:${port}`;

// The entities the caller expects; READY waits for all of them.
const YAML = require('yaml');
let expected;
try {
  expected = YAML.parseAllDocuments(fs.readFileSync(catalogFile, 'utf8'))
    .map(d => d.toJS())
    .filter(e => e && ['User', 'Group'].includes(e.kind) && e.metadata && e.metadata.name);
} catch (e) {
  fail(`cannot read --catalog ${catalogFile}: ${e.message}`);
}
if (expected.length === 0) fail(`no User or Group entities in ${catalogFile}`);

const config = {
  app: { baseUrl: args['app-base-url'] || baseUrl },
  backend: {
    baseUrl,
    listen: { host: args.host, port },
    database: { client: 'better-sqlite3', connection: ':memory:' },
    auth: {
      externalAccess: [
        { type: 'static', options: { token: args.token, subject: args['token-subject'] } },
      ],
    },
  },
  auth: {
    ...(args['key-id'] && {
      keyStore: {
        provider: 'static',
        static: {
          keys: [
            {
              publicKeyFile: abs(args['public-key']),
              privateKeyFile: abs(args['private-key']),
              keyId: args['key-id'],
              algorithm: args.algorithm,
            },
          ],
        },
      },
    }),
    // The oauth2Proxy provider has no environment level; Backstage refuses
    // to start it without resolvers, so it is configured only when asked.
    providers: args['oauth2-proxy-resolver'].length
      ? { oauth2Proxy: { signIn: { resolvers: args['oauth2-proxy-resolver'].map(resolver => ({ resolver })) } } }
      : {},
  },
  permission: { enabled: args.permissions === 'on' },
  catalog: {
    rules: [{ allow: ['User', 'Group'] }],
    locations: [{ type: 'file', target: catalogFile, rules: [{ allow: ['User', 'Group'] }] }],
  },
};
const configText = YAML.stringify(config);
if (args['print-config']) {
  process.stdout.write(configText);
  process.exit(0);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stagepass-backstage-'));
const configFile = path.join(tmp, 'app-config.yaml');
fs.writeFileSync(configFile, configText);
const cleanup = () => fs.rmSync(tmp, { recursive: true, force: true });
process.on('exit', cleanup);

// stdout carries only the READY line: route every other write (Backstage's
// winston console transport, its "Loading config" console.log) to the log.
const writeStdout = process.stdout.write.bind(process.stdout);
const writeStderr = process.stderr.write.bind(process.stderr);
const logStream = logFile ? fs.createWriteStream(logFile, { flags: 'a' }) : null;
const writeLog = logStream
  ? (chunk, encoding, cb) => logStream.write(chunk, encoding, cb)
  : process.stderr.write.bind(process.stderr);
process.stdout.write = writeLog;
if (logStream) process.stderr.write = writeLog;

// JSON log lines, and no "skip misconfigured providers" development mode.
if (!process.env.NODE_ENV) process.env.NODE_ENV = 'production';
process.chdir(HERE);

let backend;
let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(code), 5000);
  force.unref();
  try {
    if (backend) await backend.stop();
  } catch (e) {
    console.error(e);
  }
  if (logStream) logStream.end(() => process.exit(code));
  else process.exit(code);
}
process.on('SIGTERM', () => stop(0));
process.on('SIGINT', () => stop(0));
if (!args['keep-alive']) {
  process.stdin.on('end', () => stop(0));
  process.stdin.on('close', () => stop(0));
  process.stdin.on('error', () => stop(0));
  process.stdin.resume();
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

async function get(url, headers) {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
    const body = await res.text();
    return { status: res.status, body };
  } catch (e) {
    return { status: 0, body: String(e) };
  }
}

// Readiness of the plugins, then of the catalog contents.
async function waitUntilReady() {
  const deadline = started + Number(args['ready-timeout']) * 1000;
  const auth = { authorization: `Bearer ${args.token}` };
  let last = '';
  const pending = new Set(expected);
  let healthy = false;
  while (Date.now() < deadline) {
    if (!healthy) {
      const r = await get(`${baseUrl}/.backstage/health/v1/readiness`);
      healthy = r.status === 200;
      last = `readiness ${r.status} ${r.body}`;
    }
    if (healthy) {
      for (const entity of [...pending]) {
        const ns = entity.metadata.namespace || 'default';
        const url = `${baseUrl}/api/catalog/entities/by-name/${entity.kind.toLowerCase()}/${ns}/${entity.metadata.name}`;
        const r = await get(url, auth);
        last = `${url} -> ${r.status} ${r.body.slice(0, 200)}`;
        if (r.status !== 200) break;
        const want = entity.kind === 'User' ? entity.spec?.memberOf ?? [] : [];
        const have = new Set(
          (JSON.parse(r.body).relations ?? [])
            .filter(rel => rel.type === 'memberOf')
            .map(rel => rel.targetRef),
        );
        const missing = want.filter(g => {
          const ref = g.includes(':') ? g : `group:${g.includes('/') ? g : `${ns}/${g}`}`;
          return !have.has(ref.toLowerCase());
        });
        if (missing.length > 0) {
          last = `${url}: memberOf relations not stitched yet (${missing})`;
          break;
        }
        pending.delete(entity);
      }
      if (pending.size === 0) return;
    }
    await sleep(200);
  }
  throw new Error(`not ready after ${args['ready-timeout']} s; last check: ${last}`);
}

async function main() {
  const { createBackend } = require('@backstage/backend-defaults');
  const { rootConfigServiceFactory } = require('@backstage/backend-defaults/rootConfig');
  backend = createBackend();
  // Our config files only: no app-config.yaml lookup in the cwd.
  const argv = [process.argv[0], __filename, '--config', configFile];
  for (const extra of extraConfigs) argv.push('--config', extra);
  backend.add(rootConfigServiceFactory({ argv }));
  backend.add(require('@backstage/plugin-auth-backend').default);
  // Unconfigured, it registers nothing: /api/auth/oauth2Proxy/* is then 404.
  backend.add(require('@backstage/plugin-auth-backend-module-oauth2-proxy-provider').default);
  backend.add(require('@backstage/plugin-catalog-backend').default);
  backend.add(require('@backstage/plugin-permission-backend').default);
  backend.add(require('@backstage/plugin-permission-backend-module-allow-all-policy').default);
  await backend.start();
  await waitUntilReady();
  const ready = {
    baseUrl,
    token: args.token,
    permissions: args.permissions === 'on',
    pid: process.pid,
    readyMs: Date.now() - started,
  };
  writeStdout(`READY ${JSON.stringify(ready)}\n`);
}

main().catch(e => {
  const message = `backstage harness: ${e && e.stack ? e.stack : e}\n`;
  writeStderr(message);
  if (logStream) logStream.write(message);
  // 3: the port was taken (the caller's free-port probe raced); retry with another.
  const inUse = e && (e.code === 'EADDRINUSE' || /EADDRINUSE/.test(String(e.message)));
  stop(inUse ? 3 : 1);
});
