// The explorer on the demo graph, in headless Chromium, as alice and then as bob.
//
// Environment (set by tests/tests/explorer.rs): EXPLORER_URL (the gateway's root, ending in /),
// S4_BACKEND and CRM_BACKEND (the demo services' roots, called directly for the expected rows),
// S4_LOG and CRM_LOG (the recording forwarders' logs of what each backend received),
// ARTIFACTS (screenshots), CHROMIUM.
import {
  check, contextFor, decode, equal, fail, getJson, launch, pageOf, passedCount, resultTable,
  rowsOf, screenshot, waitForRun,
} from './lib.mjs';

const base = process.env.EXPLORER_URL;
const s4 = process.env.S4_BACKEND;
const s4Log = process.env.S4_LOG;
const crmLog = process.env.CRM_LOG;

const COLUMNS = ['BusinessPartner', 'BusinessPartnerFullName', 'Region'];

/** The rows the S/4 backend itself answers `user` for the query the builder is set up for. */
async function backendRows(user) {
  const query = `$select=${COLUMNS.join(',')}&$filter=BusinessPartnerCategory eq '2'&$orderby=BusinessPartnerFullName asc&$top=10`;
  const body = await getJson(`${s4}/A_BusinessPartner?${encodeURI(query)}`, user);
  return rowsOf(body).map((row) => COLUMNS.map((column) => row[column]));
}

async function requestLog(url) {
  const response = await fetch(url);
  return response.json();
}

/** Sets up the builder on A_BusinessPartner: three fields, a filter, an order and top; runs it. */
async function buildAndRun(page) {
  await page.waitForSelector('#builder input.pick-field[data-field="BusinessPartner"]');
  check(await page.isChecked('#builder input.pick-field[data-field="BusinessPartner"]'), 'the key is ticked by default');
  await page.check('#builder input.pick-field[data-field="BusinessPartnerFullName"]');
  await page.check('#builder input.pick-field[data-field="Region"]');
  const filter = page.locator('#builder .filter[data-field="BusinessPartnerCategory"]');
  await filter.locator('select').selectOption('eq');
  await filter.locator('input').fill('2');
  await page.selectOption('#builder-order', 'BusinessPartnerFullName:asc');
  await page.fill('#builder-top', '10');
  const before = await page.evaluate(() => Number(document.documentElement.dataset.run) || 0);
  await fetch(s4Log, { method: 'DELETE' });
  await fetch(crmLog, { method: 'DELETE' });
  await page.click('#builder-run');
  await waitForRun(page, before);
  const query = await page.inputValue('#query');
  check(/A_BusinessPartner\(\s*filter: \{BusinessPartnerCategory: \{eq: "2"\}\}\s*orderBy: \[\{BusinessPartnerFullName: asc\}\]\s*top: 10\s*\)/.test(query),
    'the builder wrote the filter, order and top into the editor', query);
  check(/nodes \{\s+BusinessPartner\s+BusinessPartnerFullName\s+Region\s+\}/.test(query), 'the builder wrote the ticked fields', query);
}

/** The table must show exactly the backend's rows for `user`; the URLs shown must be right. */
async function checkRun(page, user) {
  const table = await resultTable(page, 'sap_s4.A_BusinessPartner');
  equal(table.headers, COLUMNS, `${user}: the table has the selected columns`);
  const expected = await backendRows(user);
  check(expected.length > 0, `${user}: the backend has rows for the filter`);
  equal(table.rows, expected, `${user}: the table shows exactly the backend's rows`);

  // The backend URL shown is the one the backend received, and the only one of this run.
  const shown = await page.$$eval('.read[data-path="sap_s4.A_BusinessPartner"] .backend', (lines) => lines.map((line) => ({
    url: line.dataset.url, destination: line.dataset.destination, text: line.textContent,
  })));
  equal(shown.length, 1, `${user}: one backend request is shown`);
  check(shown[0].destination === 'S4', `${user}: it goes to destination S4`, shown[0]);
  const received = await requestLog(s4Log);
  equal(received.map((r) => `${r.method} ${decode(r.url)}`), [`GET ${decode(shown[0].url)}`],
    `${user}: the S/4 backend received exactly the URL shown`);
  equal(await requestLog(crmLog), [], `${user}: the CRM backend received nothing`);

  // The equivalent URL of the gateway's OData endpoint reads the same rows.
  const odata = await page.$eval('.read[data-path="sap_s4.A_BusinessPartner"] a.odata-url', (a) => a.dataset.url);
  check(odata.startsWith('odata/v4/sap.s4/A_BusinessPartner?'), `${user}: an /odata/v4 URL is shown`, odata);
  const answer = await page.evaluate(async (url) => {
    const response = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } });
    return { status: response.status, body: await response.json() };
  }, odata);
  equal(answer.status, 200, `${user}: the /odata/v4 URL answers`);
  equal(answer.body.value.map((row) => COLUMNS.map((c) => row[c])), expected, `${user}: the /odata/v4 URL reads the same rows`);
  return table.rows;
}

async function main() {
  const browser = await launch();
  const problems = [];
  try {
    // ----- alice -----
    const alice = await contextFor(browser, 'alice');
    const page = await pageOf(alice, problems);
    await page.goto(`${base}explorer`);
    await page.waitForSelector('html[data-ready="true"]');
    const model = await page.evaluate(async () => (await fetch('explorer/api/model', { credentials: 'same-origin' })).json());
    equal(await page.textContent('#entity-count'), `${model.entities.length} entities`, 'the page lists the entity count the model reports');
    equal(await page.$$eval('#namespaces li[data-ns]:not([data-ns=""])', (items) => items.map((li) => [li.dataset.ns, li.querySelector('.badge').textContent])),
      [['sap.s4', 'ready'], ['crm', 'ready']], 'namespaces with their state');
    const firstPaint = await page.evaluate(() => window.explorerFirstPaint);
    console.log(`first paint (demo, debug build): ${Math.round(firstPaint)} ms`);
    await screenshot(page, '01-alice-home');

    // Search as you type: an entity by name, a property by its label.
    await page.locator('#search').pressSequentially('full name', { delay: 15 });
    await page.waitForSelector('.row.property[data-entity="sap.s4/A_BusinessPartner"][data-property="BusinessPartnerFullName"]');
    check(true, 'search finds a property by its label');
    await page.fill('#search', '');
    await page.locator('#search').pressSequentially('opportun', { delay: 15 });
    await page.waitForSelector('.row.entity[data-entity="crm/Opportunities"]');
    equal(await page.$$eval('.row.entity', (rows) => rows.map((row) => row.dataset.entity)), ['crm/Opportunities'], 'search narrows the list to the matching entity');
    await screenshot(page, '02-alice-search');

    // Open it.
    await page.click('.row.entity[data-entity="crm/Opportunities"]');
    await page.waitForFunction(() => document.getElementById('entity-title').textContent === 'Opportunities');
    equal(await page.evaluate(() => location.hash), '#/entity/crm/Opportunities', 'the entity view is linkable');
    const opportunities = model.entities.find((e) => e.name === 'Opportunities');
    equal(await page.$$eval('table.properties tbody tr', (rows) => rows.map((row) => row.dataset.property)),
      opportunities.properties.map((p) => p.name), 'every property is listed');
    const partnerRow = await page.$eval('table.relations tr[data-relation="partner"]', (row) => row.textContent);
    check(partnerRow.includes('cross-source') && partnerRow.includes('sap.s4') && partnerRow.includes('to one'),
      'the cross-source association is listed with its target namespace', partnerRow);
    check(await page.isVisible('svg#diagram g.node.other[data-entity="sap.s4/A_BusinessPartner"]'), 'the diagram shows the partner in the other namespace');
    check(await page.isVisible('svg#diagram g.node.same[data-entity="crm/Accounts"]'), 'the diagram shows the account in the same namespace');
    await screenshot(page, '03-alice-opportunities');

    // Walk the relation into the other namespace by clicking its node.
    await page.click('svg#diagram g.node[data-entity="sap.s4/A_BusinessPartner"]');
    await page.waitForFunction(() => document.getElementById('entity-title').textContent === 'A_BusinessPartner');
    equal(await page.textContent('#entity-ns'), 'sap.s4', 'the walk ends in the other namespace');
    equal(await page.textContent('#entity-label'), 'Business Partner', 'with the entity\'s label');
    equal(await page.evaluate(() => location.hash), '#/entity/sap.s4/A_BusinessPartner', 'the hash follows the walk');
    const back = await page.$eval('table.relations tr[data-relation="opportunities"] a.relation-target', (a) => a.dataset.entity);
    equal(back, 'crm/Opportunities', 'the reverse association leads back to the CRM');
    await screenshot(page, '04-alice-partner');

    // A product's properties show what the service's annotations say: key, label, type with
    // precision, sap:filterable / sap:sortable, and the unit or currency property (sap:unit).
    await page.goto(`${base}explorer#/entity/sap.s4/A_Product`);
    await page.waitForFunction(() => document.getElementById('entity-title').textContent === 'A_Product');
    const cells = (name) => page.$eval(`table.properties tr[data-property="${name}"]`,
      (row) => [row.className, ...[...row.cells].map((cell) => cell.textContent)]);
    equal(await cells('Product'), ['key', 'Product', 'Product', 'Edm.String(40)', '✓', '✓', '', '–'], 'the key property, not nullable');
    equal((await cells('Price')).slice(2, 7), ['Price', 'Edm.Decimal(15,2)', '✓', '✓', 'Currency (currency)'], 'Price: its currency property, a currency');
    equal((await cells('NetWeight')).slice(4, 6), ['–', '✓'], 'NetWeight: sap:filterable="false"');
    equal((await cells('ProductDescription')).slice(4, 6), ['✓', '–'], 'ProductDescription: sap:sortable="false"');
    await page.goBack();
    await page.waitForFunction(() => document.getElementById('entity-title').textContent === 'A_BusinessPartner');

    // Build and run a query.
    await page.click('#tab-try');
    await page.waitForFunction(() => location.hash.endsWith('/try'));
    await buildAndRun(page);
    const aliceRows = await checkRun(page, 'alice');
    check(aliceRows.every((row) => row[2] === 'EU'), 'alice sees only region EU');
    await screenshot(page, '05-alice-try-table', '#requests');
    await page.click('#show-json');
    const json = JSON.parse(await page.textContent('#result-json'));
    equal(json.data.sap_s4.A_BusinessPartner.nodes.map((n) => COLUMNS.map((c) => n[c])), aliceRows, 'the JSON view shows the same answer');
    await screenshot(page, '06-alice-try-json', '#result-json');
    await page.click('#show-table');

    // The editor completes names from the model at the cursor and highlights the query.
    await page.fill('#query', '');
    await page.locator('#query').pressSequentially('{ sap_s4 { A_Bus', { delay: 10 });
    await page.waitForSelector('#completions:not([hidden]) li[data-name="A_BusinessPartner"]');
    equal(await page.$$eval('#completions li', (items) => items.map((li) => li.dataset.name)), ['A_BusinessPartner', 'A_BusinessPartnerByKey'], 'fields of the namespace are offered');
    await page.keyboard.press('Enter');
    equal(await page.inputValue('#query'), '{ sap_s4 { A_BusinessPartner', 'Enter takes the completion');
    await page.locator('#query').pressSequentially('(filter: {Busi', { delay: 10 });
    await page.waitForSelector('#completions:not([hidden]) li[data-name="BusinessPartnerCategory"]');
    check(true, 'filterable fields are offered inside filter');
    await page.keyboard.press('Escape');
    await page.locator('#query').pressSequentially('nessPartnerCategory: {', { delay: 5 });
    await page.keyboard.press('Control+Space');
    await page.waitForSelector('#completions:not([hidden]) li[data-name="startswith"]');
    check(true, 'operators are offered for a property');
    await page.keyboard.press('Escape');
    equal(await page.$$eval('#highlight .tok-field', (spans) => spans.map((s) => s.textContent)), ['sap_s4', 'A_BusinessPartner'], 'field names are highlighted');
    equal(await page.$$eval('#highlight .tok-arg', (spans) => spans.map((s) => s.textContent)), ['filter', 'BusinessPartnerCategory'], 'argument names are highlighted');

    // A query with an error names it.
    await page.fill('#query', '{ sap_s4 { A_BusinessPartner { nodes { NoSuchField } } } }');
    const runs = await page.evaluate(() => Number(document.documentElement.dataset.run));
    await page.click('#run');
    await waitForRun(page, runs);
    const errors = await page.textContent('#results');
    check(errors.includes('NoSuchField'), 'errors name the problem', errors);

    // Two named operations and variables: the one the cursor is in runs, with the variables.
    await page.fill('#query', [
      'query Products { sap_s4 { A_Product(top: 1) { nodes { Product } } } }',
      'query Partners($category: String) {',
      '  sap_s4 { A_BusinessPartner(filter: {BusinessPartnerCategory: {eq: $category}}, orderBy: [{BusinessPartnerFullName: asc}], top: 10) { nodes { BusinessPartner BusinessPartnerFullName Region } } }',
      '}',
    ].join('\n'));
    await page.fill('#variables', '{"category": "2"}');
    await page.$eval('#query', (area) => { area.focus(); area.setSelectionRange(area.value.length - 3, area.value.length - 3); });
    const beforeOperations = await page.evaluate(() => Number(document.documentElement.dataset.run));
    await fetch(s4Log, { method: 'DELETE' });
    await page.click('#run');
    await waitForRun(page, beforeOperations);
    const chosen = await resultTable(page, 'sap_s4.A_BusinessPartner');
    equal(chosen.rows, aliceRows, 'the operation at the cursor ran with the variables: the same rows as the builder\'s query');
    equal(await page.$$eval('table.results[data-path="sap_s4.A_Product"]', (tables) => tables.length), 0, 'the other operation did not run');
    const received = await requestLog(s4Log);
    check(received.length === 1 && decode(received[0].url).includes("BusinessPartnerCategory eq '2'"),
      'the variable reached the backend as a literal', received);
    // Variables that are not JSON are named, and nothing runs.
    await page.fill('#variables', '{category: 2');
    await page.click('#run');
    await page.waitForFunction(() => document.getElementById('run-status').textContent.startsWith('Variables are not JSON'));
    check(true, 'variables that are not JSON are refused before running');
    await page.fill('#variables', '');

    // ----- bob, straight from a link -----
    const bob = await contextFor(browser, 'bob');
    const bobPage = await pageOf(bob, problems);
    await bobPage.goto(`${base}explorer#/entity/sap.s4/A_BusinessPartner/try`);
    await bobPage.waitForSelector('html[data-ready="true"]');
    await bobPage.waitForFunction(() => document.getElementById('entity-title').textContent === 'A_BusinessPartner');
    await buildAndRun(bobPage);
    const bobRows = await checkRun(bobPage, 'bob');
    check(bobRows.every((row) => row[2] === 'US'), 'bob sees only region US');
    const aliceIds = new Set(aliceRows.map((row) => row[0]));
    check(bobRows.every((row) => !aliceIds.has(row[0])), 'bob sees none of alice\'s rows');
    await screenshot(bobPage, '07-bob-try-table', '#requests');

    // ----- nobody signed in: the model answers 401 with a Basic challenge, so the browser asks
    // for credentials (headless Chromium waits for them, as a person would be asked) -----
    const anonymous = await contextFor(browser, null);
    const anonymousPage = await anonymous.newPage();
    const refused = await anonymous.request.get(`${base}explorer/api/model`);
    equal(refused.status(), 401, 'signed out, the model is refused');
    check(/^Basic /.test(refused.headers()['www-authenticate'] || ''), 'with a Basic challenge, so the browser prompts', refused.headers());
    await anonymousPage.goto(`${base}explorer`);
    await anonymousPage.waitForTimeout(1000);
    equal(await anonymousPage.evaluate(() => document.documentElement.dataset.ready), undefined, 'the page waits for the credentials the browser asks for');
    await anonymous.close();
    // Credentials the gateway refuses: the page says so.
    const wrong = await browser.newContext({ httpCredentials: { username: 'alice', password: 'wrong' } });
    const wrongPage = await wrong.newPage();
    await wrongPage.goto(`${base}explorer`);
    await wrongPage.waitForSelector('html[data-ready="signin"]', { state: 'attached' });
    check((await wrongPage.textContent('#status')).includes('Sign-in required'), 'with refused credentials the page asks to sign in');
    await screenshot(wrongPage, '08-signed-out');

    equal(problems, [], 'no errors in the browser console');
    console.log(`all explorer checks passed (${passedCount()})`);
  } finally {
    await browser.close();
  }
}

main().catch(fail);
