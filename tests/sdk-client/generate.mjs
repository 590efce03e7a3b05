#!/usr/bin/env node
// Generates typed SAP Cloud SDK clients from the `$metadata` documents the gateway served.
//
//   node tests/sdk-client/generate.mjs <work dir>
//
// Reads `<work dir>/metadata/<namespace>.xml` (the documents exactly as served at
// `/odata/v4/<namespace>/$metadata`) and writes:
//
// - `<work dir>/as-served/<name>/`: the generator (`generate-odata-client`, the CLI users run) on
//   each document as served, one run per document, without transpiling. Its exit code and every
//   line it printed are recorded: this is the verdict on our `$metadata` as it is.
// - `<work dir>/edmx/<name>.edmx`: the input of the real run. Byte for byte the served document,
//   except that navigation property bindings whose target is an entity set of another document
//   (`Target="Namespace.Container/Set"`, how a cross-source association appears in a composed
//   namespace) are left out: the generator only resolves targets in the document's own entity
//   container and fails on anything else ("Failed to find the entity from the service"). Without
//   the binding it leaves that navigation property out of the typed client; run.mjs then reaches
//   it with a custom `$expand`. Every removed binding is recorded. (The gateway writes no such
//   binding any more, so this step is a guard: the Rust test requires that it removes nothing.)
// - `<work dir>/generated/<name>/`: the real run, with `--transpile`, and the service base path
//   (`/odata/v4/<namespace>`) given through `--optionsPerService`, since a v4 `$metadata` carries
//   no URL of its own.
// - `<work dir>/summary.json`: `{ asServed: { <namespace>: { exitCode, output } },
//   removedBindings: { <namespace>: [..] }, generated: { exitCode, output }, clients: {..} }`.
//
// `<name>` is the namespace with dots replaced by dashes: the generator derives class and
// function names from the file name, and `sap.s4.edmx` would become the TypeScript identifier
// `Sap.S4` (a syntax error in the generated code). The file name is the client's own choice.
//
// Exits 0 when the real run succeeded; the caller judges the as-served verdicts from the summary.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const generatorBin = join(here, 'node_modules', '.bin', 'generate-odata-client');

const workArg = process.argv[2];
if (!workArg) {
  process.stderr.write('usage: node generate.mjs <work dir with metadata/<namespace>.xml>\n');
  process.exit(2);
}
const work = resolve(workArg);
if (!existsSync(generatorBin)) {
  process.stderr.write(`${generatorBin} is missing: run \`npm ci --prefix tests/sdk-client\` first\n`);
  process.exit(2);
}

// The generated code imports @sap-cloud-sdk/odata-v4 and friends, and tsc resolves them upward
// from the output folder: make this project's node_modules visible from the work folder.
const link = join(work, 'node_modules');
if (!existsSync(link)) symlinkSync(join(here, 'node_modules'), link, 'dir');

const fileName = namespace => namespace.replaceAll('.', '-');
// The generator's logger colours its level names; the summary keeps plain text.
// eslint-disable-next-line no-control-regex
const plain = text => text.replace(/\u001b\[[0-9;]*m/g, '');

function generator(args) {
  const result = spawnSync(generatorBin, args, { cwd: work, encoding: 'utf8' });
  if (result.error) throw result.error;
  const output = plain(`${result.stdout}${result.stderr}`)
    .split('\n')
    .filter(line => line.trim() !== '' && !line.startsWith('npm warn'));
  return { exitCode: result.status, output };
}

const namespaces = readdirSync(join(work, 'metadata'))
  .filter(file => file.endsWith('.xml'))
  .map(file => file.slice(0, -'.xml'.length))
  .sort();
if (namespaces.length === 0) {
  process.stderr.write(`no <namespace>.xml in ${join(work, 'metadata')}\n`);
  process.exit(2);
}

const summary = { asServed: {}, removedBindings: {}, generated: null, clients: {} };

// 1. Each document as served, one generator run each.
for (const namespace of namespaces) {
  const input = join(work, 'as-served-input', `${fileName(namespace)}.edmx`);
  mkdirSync(dirname(input), { recursive: true });
  writeFileSync(input, readFileSync(join(work, 'metadata', `${namespace}.xml`)));
  const outputDir = join(work, 'as-served', fileName(namespace));
  rmSync(outputDir, { recursive: true, force: true });
  summary.asServed[namespace] = generator(['--input', input, '--outputDir', outputDir]);
  const { exitCode, output } = summary.asServed[namespace];
  console.log(`as served: ${namespace}: generator exit code ${exitCode}`);
  for (const line of output) console.log(`  | ${line.length > 600 ? `${line.slice(0, 600)}…` : line}`);
  // The generator's message dumps its whole service model; name the navigation it choked on.
  for (const line of output) {
    for (const [, name, from, to] of line.matchAll(/"originalName":"([^"]+)",[^{}]*?"from":"([^"]+)","to":"([^"]*\/[^"]*)"/g)) {
      console.log(`  (the navigation property it could not resolve: ${from}/${name} -> ${to})`);
    }
  }
}

// 2. The real run's inputs: cross-document navigation property bindings left out.
const crossDocumentBinding = /[ \t]*<NavigationPropertyBinding\s+Path="([^"]*)"\s+Target="([^"]*\/[^"]*)"\s*\/>\r?\n?/g;
const optionsPerService = {};
mkdirSync(join(work, 'edmx'), { recursive: true });
for (const namespace of namespaces) {
  const served = readFileSync(join(work, 'metadata', `${namespace}.xml`), 'utf8');
  const removed = [];
  const edmx = served.replace(crossDocumentBinding, (_line, path, target) => {
    removed.push({ path, target });
    return '';
  });
  summary.removedBindings[namespace] = removed;
  for (const { path, target } of removed) {
    console.log(`left out for the generator: ${namespace}: NavigationPropertyBinding Path="${path}" Target="${target}"`);
  }
  const file = `edmx/${fileName(namespace)}.edmx`;
  writeFileSync(join(work, file), edmx);
  optionsPerService[file] = {
    directoryName: fileName(namespace),
    packageName: fileName(namespace),
    basePath: `/odata/v4/${namespace}`
  };
}
writeFileSync(join(work, 'options-per-service.json'), `${JSON.stringify(optionsPerService, null, 2)}\n`);

// 3. The real run: all documents, transpiled to CommonJS with type declarations.
rmSync(join(work, 'generated'), { recursive: true, force: true });
const started = Date.now();
summary.generated = generator([
  '--input', 'edmx',
  '--outputDir', 'generated',
  '--optionsPerService', 'options-per-service.json',
  '--transpile'
]);
summary.generated.seconds = (Date.now() - started) / 1000;
console.log(`generated (transpiled): generator exit code ${summary.generated.exitCode} in ${summary.generated.seconds} s`);
for (const line of summary.generated.output) console.log(`  | ${line}`);
for (const namespace of namespaces) {
  const dir = join(work, 'generated', fileName(namespace));
  summary.clients[namespace] = existsSync(join(dir, 'index.js')) ? dir : null;
}
writeFileSync(join(work, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
process.exit(summary.generated.exitCode === 0 && Object.values(summary.clients).every(Boolean) ? 0 : 1);
