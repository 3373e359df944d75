#!/usr/bin/env node
// Looks at stagepass's pages in real Chromium: screenshots at desktop and
// phone width, and an axe-core accessibility check of each.
//
//   node pages.mjs gallery --dir DIR --out OUT
//       every DIR/<name>.html (pages a test fetched from a running stagepass)
//   node pages.mjs quickstart --url URL --pick LABEL --out OUT
//       opens URL, expects the development sign-in page, picks LABEL, and
//       expects the built-in whoami page; checks both pages on the way
//
// Prints one JSON line: {"pages": {"<name>": {"violations": [...]}}, ...}.
// Violations are axe's serious and critical ones (id, impact, help, nodes).
// Screenshots: OUT/<name>-desktop.png and OUT/<name>-phone.png.
'use strict';

import { readFileSync, readdirSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const SIZES = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };

const [mode, ...rest] = process.argv.slice(2);
const { values: args } = parseArgs({
  args: rest,
  options: {
    dir: { type: 'string' },
    url: { type: 'string' },
    pick: { type: 'string' },
    out: { type: 'string' },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
  },
  strict: true,
});
if (!args.out) fail('--out is required');
mkdirSync(args.out, { recursive: true });

const browser = await chromium.launch({
  executablePath: args.chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
// axe is injected as a script: the pages' own policy forbids every script.
const context = await browser.newContext({ bypassCSP: true, viewport: SIZES.desktop });
const page = await context.newPage();
const result = { pages: {} };

try {
  if (mode === 'gallery') await gallery();
  else if (mode === 'quickstart') await quickstart();
  else fail(`unknown mode ${mode}`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (e) {
  fail(e.stack || String(e));
} finally {
  await browser.close();
}

async function gallery() {
  if (!args.dir) fail('--dir is required');
  for (const file of readdirSync(args.dir).filter(f => f.endsWith('.html')).sort()) {
    await page.setContent(readFileSync(path.join(args.dir, file), 'utf8'), { waitUntil: 'load' });
    await look(file.replace(/\.html$/, ''));
  }
}

async function quickstart() {
  if (!args.url || !args.pick) fail('--url and --pick are required');
  await page.goto(args.url, { waitUntil: 'load' });
  await look('quickstart-sign-in');
  await page.getByRole('button', { name: `Sign in as ${args.pick}` }).click();
  await page.waitForLoadState('load');
  result.heading = await page.locator('h1').innerText();
  result.finalUrl = page.url();
  result.text = await page.locator('main').innerText();
  await look('quickstart-whoami');
}

/** Screenshots at both widths and axe's serious and critical violations. */
async function look(name) {
  for (const [size, viewport] of Object.entries(SIZES)) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: path.join(args.out, `${name}-${size}.png`), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    if (overflow) (result.overflow ??= []).push(`${name}@${size}`);
  }
  await page.setViewportSize(SIZES.desktop);
  await page.addScriptTag({ path: AXE });
  const report = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  result.pages[name] = {
    violations: report.violations
      .filter(v => v.impact === 'serious' || v.impact === 'critical')
      .map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.html).slice(0, 3) })),
  };
}

function fail(reason) {
  process.stderr.write(`pages: ${reason}\n`);
  process.exit(1);
}
