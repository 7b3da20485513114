import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(root, 'node_modules', '.bin', 'tsc');

test('a TypeScript service type-checks against the declarations', { skip: !existsSync(tsc) && 'npm ci first (tsc)' }, () => {
  const config = join(root, 'test', 'ts', 'tsconfig.json');
  writeFileSync(config, JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', paths: { '@islet/sdk': ['../../index.d.ts'], '@islet/sdk/testing': ['../../testing.d.ts'] } },
    files: ['service.ts'],
  }));
  try {
    const r = spawnSync(tsc, ['-p', config], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    // And a wrong one is refused: the declarations are not `any`.
    writeFileSync(join(root, 'test', 'ts', 'bad.ts'), "import { storage } from '@islet/sdk';\nconst n: string = storage.increment('k');\nexport { n };\n");
    writeFileSync(config, JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', paths: { '@islet/sdk': ['../../index.d.ts'] } },
      files: ['bad.ts'],
    }));
    const bad = spawnSync(tsc, ['-p', config], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stdout, /number.*string|Type 'number' is not assignable/);
  } finally {
    rmSync(config, { force: true });
    rmSync(join(root, 'test', 'ts', 'bad.ts'), { force: true });
  }
});
