#!/usr/bin/env node
// Serves a minimal real Backstage frontend app (legacy or new frontend
// system), bundled in memory with esbuild at start-up, and forwards /api/* and
// /.backstage/* to a real Backstage backend. See README.md in this directory.
//
//   node tests/support/frontend/server.mjs --port 0 --app legacy \
//     --backend http://127.0.0.1:7007 --provider oidc --base-url http://127.0.0.1:7000
//
// stdout carries exactly one line, once listening:
//   READY {"port":PORT,"buildMs":N}
// It exits when its stdin closes (unless --keep-alive), on SIGTERM/SIGINT.
// Exit status: 0 stopped, 1 failure (bundle error, ...), 2 bad arguments,
// 3 port already in use.

import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const USAGE = `usage: node server.mjs --port PORT --app legacy|next --backend URL --provider ID --base-url URL
  --port PORT          listen port; 0 picks a free one (reported in READY)
  --host HOST          listen address (default 127.0.0.1)
  --app legacy|next    legacy (@backstage/app-defaults) or new (@backstage/frontend-defaults) frontend system
  --backend URL        a real Backstage backend; /api/* and /.backstage/* are forwarded to it
  --provider ID        the auth provider id ProxiedSignInPage uses (/api/auth/<ID>/refresh)
  --base-url URL       the public origin the browser uses (stagepass's): app.baseUrl and backend.baseUrl
  --node-env ENV       process.env.NODE_ENV in the bundle (default production)
  --minify             minify the bundle
  --verbose            log every request to stderr
  --keep-alive         do not exit when stdin closes (manual runs)`;

function usage(msg) {
  process.stderr.write(`server: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      app: { type: 'string' },
      backend: { type: 'string' },
      provider: { type: 'string' },
      'base-url': { type: 'string' },
      'node-env': { type: 'string', default: 'production' },
      minify: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      'keep-alive': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  }));
} catch (e) {
  usage(e.message);
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
for (const required of ['port', 'app', 'backend', 'provider', 'base-url']) {
  if (!args[required]) usage(`--${required} is required`);
}
const PORT = Number(args.port);
if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) usage(`bad --port ${args.port}`);
if (!['legacy', 'next'].includes(args.app)) usage(`--app must be legacy or next, not ${args.app}`);
if (!/^[A-Za-z0-9_-]+$/.test(args.provider)) usage(`bad --provider ${args.provider}`);
let backend;
let baseUrl;
try {
  backend = new URL(args.backend);
  baseUrl = new URL(args['base-url']);
} catch (e) {
  usage(`bad URL: ${e.message}`);
}
if (backend.protocol !== 'http:') usage('--backend must be an http:// URL');
// Backstage wants base URLs without a trailing slash.
const BASE_URL = baseUrl.href.replace(/\/+$/, '');
const BACKEND_PREFIX = backend.pathname.replace(/\/+$/, '');

const vlog = args.verbose ? (msg) => process.stderr.write(`server: ${msg}\n`) : () => {};

// Lifetime: like tests/support/backstage/backend.js.
let server;
function stop(code) {
  if (server) server.close();
  process.exit(code);
}
process.on('SIGTERM', () => stop(0));
process.on('SIGINT', () => stop(0));
if (!args['keep-alive']) {
  process.stdin.on('end', () => stop(0));
  process.stdin.on('close', () => stop(0));
  process.stdin.on('error', () => stop(0));
  process.stdin.resume();
}

// ---------------------------------------------------------------- bundle

const STATIC_PREFIX = '/static/';
const CONTENT_TYPES = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
};

const buildStarted = Date.now();
let assets; // Map: URL path -> { type, body }
let entryJs;
let entryCss;
try {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    absWorkingDir: HERE,
    entryPoints: { [args.app]: path.join(HERE, 'src', `${args.app}.jsx`) },
    bundle: true,
    write: false,
    outdir: path.join(HERE, 'out'), // never written: write is false
    publicPath: STATIC_PREFIX.replace(/\/$/, ''),
    assetNames: '[name]-[hash]',
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    minify: args.minify,
    logLevel: 'silent',
    define: {
      'process.env.NODE_ENV': JSON.stringify(args['node-env']),
      // core-app-api's default config loader: the static (build-time) config.
      // The runtime config is in index.html, see below.
      'process.env.APP_CONFIG': '[]',
      global: 'globalThis',
    },
    inject: [path.join(HERE, 'src', 'process-shim.js')],
    loader: {
      '.svg': 'file',
      '.png': 'file',
      '.woff': 'file',
      '.woff2': 'file',
      '.ttf': 'file',
      '.css': 'css',
    },
  });
  // The esbuild service process is not needed any more (frees ~100 MB).
  await esbuild.stop();
  for (const w of result.warnings) vlog(`esbuild warning: ${w.text}`);
  assets = new Map();
  for (const file of result.outputFiles) {
    const rel = path.relative(path.join(HERE, 'out'), file.path).split(path.sep).join('/');
    const type = CONTENT_TYPES[path.extname(rel)] || 'application/octet-stream';
    assets.set(`${STATIC_PREFIX}${rel}`, { type, body: Buffer.from(file.contents) });
  }
  entryJs = `${STATIC_PREFIX}${args.app}.js`;
  entryCss = assets.has(`${STATIC_PREFIX}${args.app}.css`) ? `${STATIC_PREFIX}${args.app}.css` : null;
  if (!assets.has(entryJs)) throw new Error(`esbuild produced no ${entryJs}`);
} catch (e) {
  const details = e.errors?.length
    ? e.errors.slice(0, 10).map((m) => `  ${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text}`).join('\n')
    : `  ${e.stack || e}`;
  process.stderr.write(`server: bundling ${args.app} failed\n${details}\n`);
  process.exit(1);
}
const buildMs = Date.now() - buildStarted;
vlog(`bundled ${args.app} in ${buildMs} ms: ${[...assets].map(([p, a]) => `${p} (${a.body.length} B)`).join(', ')}`);

// ---------------------------------------------------------------- index.html

// What Backstage's app-backend does: the runtime config goes into a
// <script type="backstage.io/config"> tag, read by the default config loader
// of both frontend systems (which also rewrites the base URLs to the
// document's origin when app and backend share one).
const runtimeConfig = [
  {
    context: 'stagepass-test',
    data: {
      app: { baseUrl: BASE_URL, title: `stagepass test app (${args.app})` },
      backend: { baseUrl: BASE_URL },
      stagepassTest: { provider: args.provider },
    },
  },
];
// JSON inside <script>: "<" escaped so no value can close the tag.
const configJson = JSON.stringify(runtimeConfig).replace(/</g, '\\u003c');
const indexHtml = Buffer.from(`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>stagepass test app (${args.app})</title>
    <link rel="icon" href="data:,">
    <script type="backstage.io/config">${configJson}</script>
${entryCss ? `    <link rel="stylesheet" href="${entryCss}">\n` : ''}  </head>
  <body>
    <noscript>You need to enable JavaScript to run this app.</noscript>
    <div id="root"></div>
    <script type="module" src="${entryJs}"></script>
  </body>
</html>
`);

// ---------------------------------------------------------------- proxy

// Hop-by-hop headers (RFC 9110 7.6.1) are not forwarded; everything else,
// Authorization and Cookie included, is.
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade',
]);

function forwardHeaders(rawHeaders, extraHop) {
  const out = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || extraHop.has(lower)) continue;
    out.push(name, rawHeaders[i + 1]);
  }
  return out;
}

function connectionTokens(headers) {
  return new Set(String(headers.connection || '').split(',').map((t) => t.trim().toLowerCase()).filter(Boolean));
}

function proxy(req, res) {
  const headers = forwardHeaders(req.rawHeaders, new Set([...connectionTokens(req.headers), 'host']));
  headers.push('Host', backend.host);
  const upstream = http.request({
    protocol: backend.protocol,
    hostname: backend.hostname,
    port: backend.port || 80,
    method: req.method,
    path: `${BACKEND_PREFIX}${req.url}`,
    headers,
    setHost: false,
  });
  upstream.on('response', (up) => {
    const resHeaders = forwardHeaders(up.rawHeaders, connectionTokens(up.headers));
    vlog(`${req.method} ${req.url} -> ${up.statusCode} (backend)`);
    res.writeHead(up.statusCode, up.statusMessage, resHeaders);
    up.pipe(res);
    up.on('error', () => res.destroy());
  });
  upstream.on('error', (e) => {
    vlog(`${req.method} ${req.url} -> 502 (${e.message})`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { name: 'BadGateway', message: `backend unreachable: ${e.message}` } }));
  });
  req.pipe(upstream);
  req.on('error', () => upstream.destroy());
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
}

// ---------------------------------------------------------------- server

function send(req, res, status, type, body, cache) {
  res.writeHead(status, {
    'content-type': type,
    'content-length': body.length,
    'cache-control': cache,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

server = http.createServer((req, res) => {
  const pathname = (req.url || '/').split('?')[0];
  if (pathname.startsWith('/api/') || pathname === '/api'
      || pathname.startsWith('/.backstage/') || pathname === '/.backstage') {
    proxy(req, res);
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    vlog(`${req.method} ${req.url} -> 405`);
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
    res.end('method not allowed\n');
    return;
  }
  if (pathname.startsWith(STATIC_PREFIX)) {
    const asset = assets.get(pathname);
    if (!asset) {
      vlog(`${req.method} ${req.url} -> 404`);
      send(req, res, 404, 'text/plain', Buffer.from('not found\n'), 'no-store');
      return;
    }
    vlog(`${req.method} ${req.url} -> 200 (${asset.body.length} B)`);
    send(req, res, 200, asset.type, asset.body, 'no-cache');
    return;
  }
  // Every other path is a route of the single-page app.
  vlog(`${req.method} ${req.url} -> 200 index.html`);
  send(req, res, 200, 'text/html; charset=utf-8', indexHtml, 'no-store');
});

server.on('error', (e) => {
  if (e.code === 'EADDRINUSE') {
    process.stderr.write(`server: ${args.host}:${PORT} is already in use\n`);
    process.exit(3);
  }
  process.stderr.write(`server: ${e.stack || e}\n`);
  process.exit(1);
});

server.listen(PORT, args.host, () => {
  const { port } = server.address();
  process.stdout.write(`READY ${JSON.stringify({ port, buildMs })}\n`);
});
