/**
 * Build a JS mini-service into a component: read the capabilities from
 * islet.toml, write a WIT world importing only those interfaces, generate
 * the entry that wires the SDK to the imports, bundle with rolldown, and
 * componentize with every optional WASI feature disabled, so the component
 * imports only `islet:platform` interfaces.
 */
import { readFile, writeFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
const PKG = 'islet:platform@0.1.0';

/** The functions of each capability interface, as componentize-js names them. */
export const INTERFACES = {
  identity: ['currentCaller', 'claim', 'departmentSubject'],
  storage: ['get', 'set', 'delete', 'listKeys', 'compareAndSwap', 'increment'],
  log: ['write'],
  payment: ['createOrder', 'getOrder', 'findOrder', 'closeOrder', 'refund'],
  notification: ['send'],
};

/** The `capabilities = [...]` of an islet.toml text. */
export function capabilitiesOf(manifest) {
  const m = /^\s*capabilities\s*=\s*\[([^\]]*)\]/m.exec(manifest);
  if (!m) return [];
  return [...m[1].matchAll(/"([^"]+)"/g)].map((x) => x[1]);
}

/** The WIT world for `caps`: the declared capability imports, the handler export, payment-events when paying. */
export function worldFor(caps) {
  const known = caps.filter((c) => c in INTERFACES);
  const lines = known.map((c) => `  import ${c};`);
  lines.push('  export handler;');
  if (known.includes('payment')) lines.push('  export payment-events;');
  return `\nworld islet-js-service {\n${lines.join('\n')}\n}\n`;
}

/** The generated entry module for `caps` and the service module at `appPath`. */
export function entryFor(caps, appPath) {
  const known = caps.filter((c) => c in INTERFACES);
  const imports = known.map((c) => `import { ${INTERFACES[c].map((f) => `${f} as ${c}_${f}`).join(', ')} } from '${PKG.replace('@', `/${c}@`)}';`);
  const backend = known.map((c) => `  ${c}: { ${INTERFACES[c].map((f) => `${f}: ${c}_${f}`).join(', ')} },`);
  return [
    ...imports,
    `import { install } from ${JSON.stringify(join(here, 'sys.js'))};`,
    `import { serve, deliver } from ${JSON.stringify(join(here, 'guest.js'))};`,
    `import * as app from ${JSON.stringify(appPath)};`,
    `install({\n${backend.join('\n')}\n});`,
    'export const handler = { handle: (request) => serve(app, request) };',
    known.includes('payment') ? 'export const paymentEvents = { onPayment: (event) => deliver(app, event) };' : '',
  ].join('\n');
}

/** Build the plugin in `dir` into `out` (default `dir/dist/component.wasm`); returns `{out, bytes, imports, ms}`. */
export async function build(dir, out) {
  const started = Date.now();
  dir = resolve(dir);
  out = resolve(out ?? join(dir, 'dist', 'component.wasm'));
  const manifest = await readFile(join(dir, 'islet.toml'), 'utf8');
  const caps = capabilitiesOf(manifest);
  const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
  const appPath = resolve(dir, pkg.islet?.entry ?? pkg.main ?? 'src/index.js');
  if (!existsSync(appPath)) throw new Error(`the service module ${appPath} does not exist (set "main" in package.json)`);

  // componentize-js reads the WIT through the WASI shim, whose recent
  // versions start without any preopened folder: open the root to it.
  const { _setPreopens } = await import('@bytecodealliance/preview2-shim/filesystem');
  _setPreopens({ '/': '/' });
  const work = await mkdtemp(join(tmpdir(), 'islet-js-'));
  try {
    const wit = join(work, 'wit');
    await mkdir(wit);
    const platform = await readFile(join(here, '..', 'wit', 'platform.wit'), 'utf8');
    await writeFile(join(wit, 'platform.wit'), platform + worldFor(caps));
    const entry = join(work, 'entry.js');
    await writeFile(entry, entryFor(caps, appPath));

    const { rolldown } = await import('rolldown');
    // `@islet/sdk` is this SDK: the plugin builds against the builder's copy
    // (one module instance, and no install needed just to build).
    const bundle = await rolldown({
      input: entry,
      external: [/^islet:platform\//],
      resolve: { alias: { '@islet/sdk': join(here, 'index.js') } },
      logLevel: 'warn',
    });
    const bundled = join(work, 'service.js');
    await bundle.write({ file: bundled, format: 'esm', codeSplitting: false });
    await bundle.close();

    const { componentize } = await import('@bytecodealliance/componentize-js');
    const { component } = await componentize({
      sourcePath: bundled,
      witPath: join(wit, 'platform.wit'),
      worldName: 'islet-js-service',
      disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
    });
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, component);
    return { out, bytes: component.length, capabilities: caps, ms: Date.now() - started };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
