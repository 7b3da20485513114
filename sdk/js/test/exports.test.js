// The TypeScript declarations cover every export, and declare nothing the
// runtime lacks: module exports, namespace members, class members.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as sdk from '../src/index.js';
import * as testing from '../src/testing/index.js';

const read = (name) => readFileSync(fileURLToPath(new URL(`../${name}`, import.meta.url)), 'utf8');

/** Top-level values a .d.ts declares (classes, consts, functions, namespaces; not types). */
function declaredValues(dts) {
  const names = new Set();
  for (const m of dts.matchAll(/^export (?:declare )?(?:class|const|function|namespace) (\w+)/gm)) names.add(m[1]);
  for (const m of dts.matchAll(/^export \{([^}]+)\} from/gm)) for (const n of m[1].split(',')) names.add(n.trim());
  return names;
}

/** The member names declared in the block that starts at `export <kind> name`. */
function declaredMembers(dts, name) {
  const start = dts.search(new RegExp(`^export (?:declare )?(?:class|const|namespace) ${name}\\b`, 'm'));
  assert.ok(start >= 0, `${name} is not declared`);
  const body = dts.slice(start).split(/^\}/m)[0];
  const members = new Set();
  for (const m of body.matchAll(/^ {2}(?:static |readonly |function |const )*(\w+)\??[(<:]/gm)) members.add(m[1]);
  members.delete('constructor');
  return members;
}

const sorted = (s) => [...s].sort();

test('index.d.ts declares exactly the runtime exports of @islet/sdk', () => {
  assert.deepEqual(sorted(declaredValues(read('index.d.ts'))), sorted(Object.keys(sdk)));
});

test('testing.d.ts declares exactly the runtime exports of @islet/sdk/testing', () => {
  assert.deepEqual(sorted(declaredValues(read('testing.d.ts'))), sorted(Object.keys(testing)));
});

test('every capability function is declared, and nothing more', () => {
  const dts = read('index.d.ts');
  for (const ns of ['identity', 'storage', 'log', 'payment', 'notification']) {
    const runtime = Object.keys(sdk[ns]);
    assert.deepEqual(sorted(declaredMembers(dts, ns)), sorted(runtime), ns);
  }
});

/** Own methods and static functions of a class (not private `#` ones). */
function classMembers(cls) {
  const names = new Set();
  for (const n of Object.getOwnPropertyNames(cls.prototype)) if (n !== 'constructor') names.add(n);
  for (const n of Object.getOwnPropertyNames(cls)) if (typeof cls[n] === 'function') names.add(n);
  return names;
}

test('every class method is declared', () => {
  const dts = read('index.d.ts');
  for (const [name, cls] of [['Request', sdk.Request], ['Response', sdk.Response], ['Router', sdk.Router]]) {
    const declared = declaredMembers(dts, name);
    const missing = [...classMembers(cls)].filter((m) => !declared.has(m));
    assert.deepEqual(missing, [], `${name} methods missing from index.d.ts`);
  }
  const declared = declaredMembers(read('testing.d.ts'), 'TestEnv');
  const missing = [...classMembers(testing.TestEnv)].filter((m) => !declared.has(m));
  assert.deepEqual(missing, [], 'TestEnv methods missing from testing.d.ts');
  // And nothing is declared that does not exist (fields are set in constructors).
  const env = new testing.TestEnv();
  const extra = [...declared].filter((m) => !(m in env));
  assert.deepEqual(extra, [], 'declared TestEnv members that do not exist');
});
