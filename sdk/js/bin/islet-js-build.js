#!/usr/bin/env node
// islet-js-build [DIR] [--out FILE]: build the JS mini-service in DIR (default .) into a component.
import { build } from '../src/build.js';

const args = process.argv.slice(2);
let dir = '.';
let out;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--out') out = args[++i];
  else if (args[i] === '-h' || args[i] === '--help') {
    console.log('usage: islet-js-build [DIR] [--out FILE]   (default FILE: DIR/dist/component.wasm)');
    process.exit(0);
  } else dir = args[i];
}
try {
  const r = await build(dir, out);
  console.error(`built ${r.out} (${(r.bytes / 1048576).toFixed(1)} MiB, capabilities: ${r.capabilities.join(', ') || 'none'}) in ${(r.ms / 1000).toFixed(1)} s`);
} catch (e) {
  console.error(`islet-js-build: ${e.message ?? e}`);
  process.exit(1);
}
