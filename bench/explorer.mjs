#!/usr/bin/env node
// First paint of the schema explorer on a large graph: Microsoft Graph's $metadata (over 1,000
// entity types) composed by the release gateway, opened in headless Chromium.
//
// First paint is the time from navigation start to the entity list being rendered (the mark
// `explorer:entities-rendered` the page sets; `window.explorerFirstPaint`), each run in a fresh
// browser context, so nothing comes from the browser's cache. The first run also pays for the
// gateway building the model document of the generation (once per generation; later runs get it
// from the gateway's cache); it is reported apart. Also measured: the model document's size, its
// download, and search as you type (input event to the next painted frame, per keystroke).
//
// Needs: a release build (`cargo build --release -p bizgraph-gateway`), `npm ci --prefix
// tests/explorer`, /usr/bin/chromium. Usage: node bench/explorer.mjs [runs]
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'tests/explorer/package.json'));
const { chromium } = require('playwright-core');

const RUNS = Number(process.argv[2] || 15);
const BIN = process.env.BIZGRAPH_BIN || join(root, 'target/release/bizgraph');
const FIXTURES = process.env.BIZGRAPH_FIXTURES || join(root, '../shared/fixtures/odata');
const DOCUMENT = readFileSync(join(FIXTURES, 'MicrosoftGraph_v1.0.v4.csdl.xml'));
if (!existsSync(BIN)) {
  console.error(`${BIN} is missing: cargo build --release -p bizgraph-gateway`);
  process.exit(1);
}

const listen = (server) => new Promise((done) => server.listen(0, '127.0.0.1', () => done(server.address().port)));
const freePort = async () => {
  const server = createServer();
  const port = await listen(server);
  await new Promise((done) => server.close(done));
  return port;
};

// The backend: serves the document as $metadata.
const backend = createServer((request, response) => {
  if (request.url.endsWith('/$metadata')) {
    response.writeHead(200, { 'content-type': 'application/xml' });
    response.end(DOCUMENT);
  } else {
    response.writeHead(404);
    response.end();
  }
});
const backendPort = await listen(backend);

const work = mkdtempSync(join(tmpdir(), 'bizgraph-explorer-bench-'));
writeFileSync(join(work, 'destinations.json'), JSON.stringify([
  { Name: 'MSGRAPH', URL: `http://127.0.0.1:${backendPort}`, Authentication: 'NoAuthentication', ProxyType: 'Internet' },
]));
writeFileSync(join(work, 'settings.toml'), `
[destinations]
source = "file"
file = "${join(work, 'destinations.json').replaceAll('\\', '/')}"
[identity]
mode = "development"
[[identity.users]]
name = "alice"
password = "alice"
[graph]
refresh_interval_seconds = 0
[[graph.data_sources]]
name = "msgraph"
services = [{ destination = "MSGRAPH", path = "/v1.0" }]
`);
const port = await freePort();
const gateway = spawn(BIN, ['serve', '--config', join(work, 'settings.toml'), '--listen', `127.0.0.1:${port}`], {
  env: { ...process.env, BIZGRAPH_LOG: 'warn' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const base = `http://127.0.0.1:${port}/`;

async function ready() {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${base}readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error('the gateway did not become ready');
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const pick = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return `median ${median(values).toFixed(0)} ms, min ${sorted[0].toFixed(0)} ms, p90 ${pick(0.9).toFixed(0)} ms, max ${sorted[sorted.length - 1].toFixed(0)} ms`;
};

let browser;
try {
  await ready();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const load = async () => {
    const context = await browser.newContext({ httpCredentials: { username: 'alice', password: 'alice' }, viewport: { width: 1440, height: 1000 } });
    const page = await context.newPage();
    await page.goto(`${base}explorer`);
    await page.waitForSelector('html[data-ready="true"]', { timeout: 60000 });
    const result = await page.evaluate(() => {
      const model = performance.getEntriesByType('resource').find((entry) => entry.name.endsWith('/explorer/api/model'));
      return {
        firstPaint: window.explorerFirstPaint,
        entities: document.getElementById('entity-count').textContent,
        modelBytes: model ? model.encodedBodySize : 0,
        modelFetch: model ? model.responseEnd - model.startTime : 0,
      };
    });
    return { context, page, result };
  };

  const cold = await load();
  await cold.context.close();
  const paints = [];
  const fetches = [];
  let last;
  for (let run = 0; run < RUNS; run++) {
    const { context, page, result } = await load();
    paints.push(result.firstPaint);
    fetches.push(result.modelFetch);
    last = result;
    if (run === RUNS - 1) {
      // Search as you type: each keystroke's input event until the next frame is painted.
      const keystrokes = await page.evaluate(async () => {
        const input = document.getElementById('search');
        const frame = () => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
        const times = [];
        for (const text of ['u', 'us', 'use', 'user', 'user ', 'user p', 'user pr', 'user pri', 'user prin', 'user princ']) {
          const started = performance.now();
          input.value = text;
          input.dispatchEvent(new Event('input'));
          await frame();
          times.push(performance.now() - started);
        }
        return times;
      });
      console.log(`search as you type (input event to painted frame, 10 keystrokes): ${stats(keystrokes)}`);
    }
    await context.close();
  }
  console.log(`graph: ${last.entities}; model document ${(last.modelBytes / 1024).toFixed(0)} KiB`);
  console.log(`first load after start (the gateway builds the model document): first paint ${cold.result.firstPaint.toFixed(0)} ms`);
  console.log(`first paint over ${RUNS} fresh browser contexts: ${stats(paints)}`);
  console.log(`model download (of that): ${stats(fetches)}`);
} finally {
  if (browser) await browser.close();
  gateway.kill();
  backend.close();
  rmSync(work, { recursive: true, force: true });
}
