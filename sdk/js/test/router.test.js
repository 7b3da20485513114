import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router, Request, Response, storage, StorageError } from '../src/index.js';
import { TestEnv } from '../src/testing/index.js';

const router = new Router()
  .get('/reports/mine', () => 'mine')
  .get('/reports/{id}', (req) => `report ${req.param('id')}`)
  .get('/files/{*path}', (req) => req.param('path'))
  .post('/json', (req) => ({ got: req.json(), q: req.query('q') }))
  .get('/fail', () => {
    throw new StorageError('conflict');
  })
  .get('/crash', () => {
    throw new TypeError('boom');
  });

test('routes by specificity, with path parameters and catch-alls', () => {
  const env = new TestEnv();
  assert.equal(env.call(router, Request.get('/reports/42')).bodyText(), 'report 42');
  assert.equal(env.call(router, Request.get('/reports/mine')).bodyText(), 'mine');
  assert.equal(env.call(router, Request.get('/files/a/b.txt')).bodyText(), 'a/b.txt');
  assert.equal(env.call(router, Request.get('/reports/42/')).bodyText(), 'report 42');
});

test('404, 405 with allow, HEAD falls back to GET without body', () => {
  const env = new TestEnv();
  const nope = env.call(router, Request.get('/nope'));
  assert.equal(nope.status, 404);
  assert.equal(nope.errorCode(), 'not_found');
  const del = env.call(router, Request.delete('/reports/42'));
  assert.equal(del.status, 405);
  assert.equal(del.header('allow'), 'GET, HEAD');
  const head = env.call(router, new Request('HEAD', '/reports/42'));
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
});

test('JSON bodies and query parameters; malformed JSON is 400 invalid_json', () => {
  const env = new TestEnv();
  const ok = env.call(router, Request.postJson('/json?q=a%20b', { n: 1 }));
  assert.deepEqual(ok.bodyJson(), { got: { n: 1 }, q: 'a b' });
  const bad = env.call(router, Request.post('/json', '{nope'));
  assert.equal(bad.status, 400);
  assert.equal(bad.errorCode(), 'invalid_json');
});

test('thrown SDK errors answer with their status and code; other exceptions crash', () => {
  const env = new TestEnv();
  const r = env.call(router, Request.get('/fail'));
  assert.equal(r.status, 409);
  assert.equal(r.errorCode(), 'storage_conflict');
  assert.throws(() => env.call(router, Request.get('/crash')), TypeError);
  // The crash leaves its reason in the log (stderr is not wired for JS guests).
  assert.match(env.logs()[0].message, /^uncaught exception: TypeError: boom\n/);
});

test('the host strips authorization and cookie headers', () => {
  const env = new TestEnv();
  const r = new Router().get('/h', (req) => ({ auth: req.header('authorization') ?? null, x: req.header('x-a') }));
  const res = env.call(r, Request.get('/h').withHeader('Authorization', 'Bearer t').withHeader('X-A', '1'));
  assert.deepEqual(res.bodyJson(), { auth: null, x: '1' });
});

test('Response helpers', () => {
  assert.equal(Response.noContent().status, 204);
  assert.equal(Response.html('<p>').header('content-type'), 'text/html; charset=utf-8');
  assert.equal(Response.unauthorized().errorCode(), 'unauthenticated');
  assert.equal(Response.text('x').withHeader('X-Y', '1').header('x-y'), '1');
  assert.throws(() => new Router().get('/a/{*x}/b', () => ''), /must be last/);
});

test('capability calls outside a TestEnv or component say so', async () => {
  const sys = await import('../src/sys.js');
  const previous = sys.install(null);
  try {
    assert.throws(() => storage.get('k'), /no Islet host/);
  } finally {
    sys.install(previous);
  }
});

test('error answers carry the request id the host passes; other answers are untouched', () => {
  const r = new Router()
    .get('/ok', () => ({ error: 'not an error answer' }))
    .get('/own', () => Response.json({ error: { code: 'c', request_id: 'mine' } }, 400))
    .get('/text', () => Response.text('no').withStatus(500))
    .get('/fail', () => {
      throw new StorageError('quota-exceeded');
    });
  const env = new TestEnv();
  const id = (path, method = 'GET') => env.call(r, new Request(method, path, [['X-Request-Id', 'r-9']]));
  assert.equal(id('/nowhere').bodyJson().error.request_id, 'r-9');
  assert.equal(id('/fail').bodyJson().error.request_id, 'r-9');
  assert.equal(id('/fail').errorCode(), 'storage_quota_exceeded');
  assert.equal(id('/ok', 'POST').bodyJson().error.request_id, 'r-9');
  assert.equal(id('/own').bodyJson().error.request_id, 'mine');
  assert.equal(id('/ok').bodyJson().error, 'not an error answer');
  assert.equal(id('/text').bodyText(), 'no');
  // TestEnv plays the host: each call gets an id of its own.
  const first = env.call(r, Request.get('/nowhere')).bodyJson().error.request_id;
  const second = env.call(r, Request.get('/nowhere')).bodyJson().error.request_id;
  assert.match(first, /^test-\d+$/);
  assert.notEqual(first, second);
  // Router.handle without a host id leaves the body as built.
  assert.equal(r.handle(Request.get('/nowhere')).bodyJson().error.request_id, undefined);
});
