// Shared helpers of the explorer's browser tests: Debian's Chromium through playwright-core,
// checks that count and report, screenshots, and direct calls to backends.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  // Without these, Chromium's own background connections fail noisily on a closed network.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ARGS,
  });
}

/** A browser context signed in as `user` (HTTP Basic, answered when the gateway challenges). */
export async function contextFor(browser, user) {
  const context = await browser.newContext({
    viewport: { width: 1440, height: 1000 },
    ...(user ? { httpCredentials: { username: user, password: user } } : {}),
  });
  return context;
}

/** A page that reports its console errors and uncaught exceptions as failures. */
export async function pageOf(context, problems) {
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // Answers with an error status are the gateway's to give (a refused query is 400); Chromium
    // logs each as "Failed to load resource". Script errors are what count here.
    if (message.type() === 'error' && !/^Failed to load resource/.test(message.text())) problems.push(`console error: ${message.text()}`);
  });
  return page;
}

let passed = 0;
/** Asserts `condition`, printing what was checked. */
export function check(condition, what, detail) {
  if (!condition) {
    const extra = detail === undefined ? '' : `\n  ${typeof detail === 'string' ? detail : JSON.stringify(detail, null, 2)}`;
    throw new Error(`check failed: ${what}${extra}`);
  }
  passed++;
  console.log(`ok ${passed} - ${what}`);
}

export function equal(actual, expected, what) {
  check(JSON.stringify(actual) === JSON.stringify(expected), what,
    `expected ${JSON.stringify(expected)}\n  actual   ${JSON.stringify(actual)}`);
}

export function passedCount() {
  return passed;
}

export function artifacts() {
  const dir = process.env.ARTIFACTS || 'explorer-artifacts';
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Saves a screenshot; `focus` names an element to scroll into view first (the panes scroll). */
export async function screenshot(page, name, focus) {
  if (focus) await page.locator(focus).first().scrollIntoViewIfNeeded();
  const path = join(artifacts(), `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot ${path}`);
}

export const basic = (user) => `Basic ${Buffer.from(`${user}:${user}`).toString('base64')}`;

/** GET a URL as `user`, JSON. */
export async function getJson(url, user) {
  const response = await fetch(url, { headers: { authorization: basic(user), accept: 'application/json' } });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}: ${text}`);
  return JSON.parse(text);
}

/** The rows of an OData answer: v4 `value`, v2 `d.results`. */
export function rowsOf(body) {
  if (Array.isArray(body.value)) return body.value;
  if (body.d && Array.isArray(body.d.results)) return body.d.results;
  throw new Error(`no collection in ${JSON.stringify(body).slice(0, 300)}`);
}

/** A results table of the page: headers and cell texts. */
export async function resultTable(page, path) {
  return page.$eval(`table.results[data-path="${path}"]`, (table) => ({
    headers: [...table.tHead.rows[0].cells].map((cell) => cell.textContent),
    rows: [...table.tBodies[0].rows].map((row) => [...row.cells].map((cell) => cell.textContent)),
  }));
}

/** Waits until a run started after `previous` runs finished; returns its number. */
export async function waitForRun(page, previous) {
  await page.waitForFunction((before) => {
    const run = Number(document.documentElement.dataset.run);
    return Number.isInteger(run) && run > before;
  }, previous);
  return page.evaluate(() => Number(document.documentElement.dataset.run));
}

export const decode = (url) => decodeURIComponent(url);

export function fail(error) {
  console.error(error && error.stack ? error.stack : String(error));
  process.exitCode = 1;
}
