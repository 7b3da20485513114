// The real component path without a host: build the bus-card sample with
// islet-js-build, check its imports, transpile it with jco and drive its
// exports against a TestEnv's host (the WIT shapes the SDK sees in
// wasmtime). Slow (a componentize-js build): `npm run test:component`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from '../src/build.js';

const here = dirname(fileURLToPath(import.meta.url));
const sample = join(here, '..', '..', '..', 'plugins', 'bus-card');
const jco = join(here, '..', 'node_modules', '.bin', 'jco');

test('the bus-card component imports only its capabilities and serves, pays and notifies', { timeout: 900_000 }, async () => {
  const work = await mkdtemp(join(here, '..', '.component-test-'));
  try {
    const out = join(work, 'bus-card.wasm');
    await build(sample, out);
    const wit = execFileSync(jco, ['wit', out], { encoding: 'utf8' });
    const imports = wit.split('\n').filter((l) => /^\s*import /.test(l)).map((l) => l.trim()).sort();
    assert.deepEqual(imports, [
      'import islet:platform/identity@0.1.0;',
      'import islet:platform/log@0.1.0;',
      'import islet:platform/notification@0.1.0;',
      'import islet:platform/payment@0.1.0;',
      'import islet:platform/storage@0.1.0;',
      'import islet:platform/types@0.1.0;',
    ]);
    const host = join(work, 'host.js');
    await writeFile(host, `import { TestEnv } from ${JSON.stringify(pathToFileURL(join(here, '..', 'src', 'testing', 'index.js')).href)};
export const env = new TestEnv();
const b = env.backend();
export const identity = b.identity, storage = b.storage, log = b.log, payment = b.payment, notification = b.notification, types = {};
`);
    const maps = ['identity', 'storage', 'log', 'payment', 'notification', 'types'].flatMap((i) => ['--map', `islet:platform/${i}@0.1.0=../host.js#${i}`]);
    execFileSync(jco, ['transpile', out, '-o', join(work, 'js'), '--name', 'bus', '--no-typescript', '--quiet', ...maps]);
    const { handler, paymentEvents } = await import(pathToFileURL(join(work, 'js', 'bus.js')).href);
    const { env } = await import(pathToFileURL(host).href);
    const enc = new TextEncoder();
    const dec = new TextDecoder();
    const call = (method, path, body = '') => {
      const r = handler.handle({ method, path, query: '', headers: [], body: enc.encode(body) });
      return { status: r.status, body: dec.decode(r.body) };
    };

    assert.equal(call('GET', '/api/card').status, 401);
    env.grantMerchant('transport-fees').asCaller('alice').consentMessages('alice', 'topup-credited', 1);
    assert.equal(call('PUT', '/api/card', '{"number":"31000012"}').status, 200);
    const started = call('POST', '/api/topups', '{"amount_fen":5000}');
    assert.deepEqual([started.status, JSON.parse(started.body)], [201, { order_id: 'o1', checkout_url: '/pay/o1' }]);
    env.pay('o1');
    const paid = env.ledger.events[0];
    assert.equal(paymentEvents.onPayment({ ...paid, attempt: 1 }), undefined);
    assert.equal(paymentEvents.onPayment({ ...paid, attempt: 2 }), undefined);
    assert.equal(JSON.parse(call('GET', '/api/card').body).card.balance_fen, 5000);
    assert.equal(env.sent().length, 1);
    env.setStorageUnavailable('down');
    assert.throws(() => paymentEvents.onPayment({ ...paid, attempt: 3 }), (e) => e.payload === 'storage is unavailable: down');
    assert.equal(call('GET', '/nope').status, 404);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
