// Injected by esbuild (server.mjs) into every module that mentions `process`:
// Backstage's webpack build provides a browser `process`; this is the part its
// packages touch. process.env.NODE_ENV and process.env.APP_CONFIG are replaced
// at build time (esbuild `define`), so they never reach this object.
export const process = {
  env: {},
  browser: true,
  version: '',
  versions: {},
  platform: 'browser',
  argv: [],
  cwd: () => '/',
  nextTick: (fn, ...args) => queueMicrotask(() => fn(...args)),
};
