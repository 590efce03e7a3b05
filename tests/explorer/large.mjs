// The explorer on a graph of more than a thousand entities (Microsoft Graph's $metadata) beside a
// data source that failed to load, in headless Chromium.
//
// Environment (set by tests/tests/explorer.rs): EXPLORER_URL, EXPECTED_ENTITIES (the count of the
// gateway's composed graph), ARTIFACTS, CHROMIUM. Timings are printed, never asserted: speed is
// measured by bench/explorer.mjs.
import { check, contextFor, equal, fail, launch, pageOf, passedCount, screenshot, waitForRun } from './lib.mjs';

const base = process.env.EXPLORER_URL;
const expected = Number(process.env.EXPECTED_ENTITIES);

async function main() {
  const browser = await launch();
  const problems = [];
  try {
    const context = await contextFor(browser, 'alice');
    const page = await pageOf(context, problems);
    await page.goto(`${base}explorer`);
    await page.waitForSelector('html[data-ready="true"]', { timeout: 60000 });
    console.log(`first paint (Microsoft Graph, debug build): ${Math.round(await page.evaluate(() => window.explorerFirstPaint))} ms`);
    const model = await page.evaluate(async () => (await fetch('explorer/api/model', { credentials: 'same-origin' })).json());
    check(model.entities.length >= 1000, `the model has more than 1,000 entities (${model.entities.length})`);
    equal(model.entities.length, expected, 'the model API reports the composed graph\'s entities');
    equal(await page.textContent('#entity-count'), `${expected} entities`, 'the page lists that many entities');
    const kinds = new Set(model.entities.map((e) => e.kind));
    check(kinds.has('set') && kinds.has('singleton') && kinds.has('contained'), 'sets, singletons and entities reached by navigation are listed', [...kinds]);
    const rendered = await page.$$eval('#entity-list .row', (rows) => rows.length);
    check(rendered < 200, `the list renders only the rows in view (${rendered})`);

    // The source that failed, with its reason.
    const hr = await page.$eval('#namespaces li[data-ns="hr"]', (li) => ({ badge: li.querySelector('.badge').textContent, reason: li.querySelector('.reason')?.textContent || '' }));
    equal(hr.badge, 'failed', 'the failed source is marked failed');
    check(hr.reason.includes('HR'), 'with the reason it failed', hr.reason);
    const reason = await page.$eval('.ns-card[data-ns="hr"] td.error', (td) => td.textContent);
    check(reason.length > 0, 'the overview shows the failure reason', reason);
    await screenshot(page, '01-large-home');

    // Search as you type.
    const started = Date.now();
    await page.locator('#search').pressSequentially('user', { delay: 20 });
    await page.waitForSelector('.row.entity[data-entity="msgraph/users"]');
    console.log(`typing "user" until the hits show: ${Date.now() - started} ms (4 keys, 20 ms apart)`);
    const counts = await page.textContent('#search-count');
    const [entityHits, propertyHits] = counts.match(/\d+/g).map(Number);
    const expectedEntityHits = model.entities.filter((e) => `${e.name} ${e.label || ''}`.toLowerCase().includes('user')).length;
    equal(entityHits, expectedEntityHits, 'every entity whose name or label contains "user" is found');
    check(propertyHits > 0, `properties are found too (${propertyHits})`);
    const first = await page.$eval('#entity-list .row.entity', (row) => row.dataset.entity);
    check(first.startsWith('msgraph/user'), 'names starting with the text come first', first);
    await screenshot(page, '02-large-search');

    // Open users.
    await page.click('.row.entity[data-entity="msgraph/users"]');
    await page.waitForFunction(() => document.getElementById('entity-title').textContent === 'users');
    const users = model.entities.find((e) => e.name === 'users' && e.kind === 'set');
    equal(await page.$$eval('table.properties tbody tr', (rows) => rows.length), users.properties.length, 'every property of users is listed');
    equal(await page.$$eval('table.relations tbody tr', (rows) => rows.length), users.relations.length, 'every relation of users is listed');
    check((users.operations || []).length > 0, 'users has bound operations');
    equal(await page.$$eval('table.operations tbody tr', (rows) => rows.map((row) => row.dataset.operation)),
      users.operations.map((index) => model.operations[index].name), 'its bound operations are listed');
    const nodes = await page.$$eval('svg#diagram g.node', (items) => items.length);
    check(nodes > 1 && nodes <= 25, `the diagram draws a readable neighbourhood (${nodes} nodes)`);
    await screenshot(page, '03-large-users');

    // Walk to an entity reached only by navigation.
    const contained = users.relations.find((r) => model.entities[r.target].kind === 'contained');
    check(contained, 'users leads to an entity reached only by navigation');
    const target = model.entities[contained.target];
    await page.click(`table.relations tr[data-relation="${contained.name}"] a.relation-target`);
    await page.waitForFunction((name) => document.getElementById('entity-title').textContent === name, target.name);
    equal(await page.textContent('#entity-kind'), 'reached by navigation', `${target.name} is marked as reached by navigation`);
    await page.click('#tab-try');
    check((await page.textContent('#builder')).includes('has no root field'), 'its builder says how to reach it');

    // The plan of a query on users: the backend URL below the service's path.
    await page.goto(`${base}explorer#/entity/msgraph/users/try`);
    await page.waitForFunction(() => document.getElementById('entity-title').textContent === 'users' && !document.getElementById('pane-try').hidden);
    await page.click('#builder-run');
    await waitForRun(page, 0);
    const backend = await page.$eval('.read[data-path="msgraph.users"] .backend', (line) => line.dataset.url);
    check(backend.startsWith('/v1.0/users?$select=id'), 'the backend request is shown', backend);
    const odata = await page.$eval('.read[data-path="msgraph.users"] a.odata-url', (a) => a.dataset.url);
    check(odata.startsWith('odata/v4/msgraph/users?$select=id'), 'so is the /odata/v4 URL', odata);
    // The stand-in serves only `$metadata`: the read fails, and the page says where.
    const failures = await page.$$eval('#results .errors li', (items) => items.map((li) => li.textContent));
    check(failures.length > 0 && failures.every((text) => text.includes('at msgraph.users')),
      'the backend\'s failure is reported at its field', failures);
    await screenshot(page, '04-large-try', '#requests');

    equal(problems, [], 'no errors in the browser console');
    console.log(`all large-schema checks passed (${passedCount()})`);
  } finally {
    await browser.close();
  }
}

main().catch(fail);
