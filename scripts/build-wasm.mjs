// Compiles assembly/ into build/core.wasm (SIMD) and build/core-relaxed.wasm (relaxed SIMD),
// using the targets in asconfig.json. The bindings pick one at load time.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const asc = require.resolve('assemblyscript/bin/asc.js');
for (const target of ['simd', 'relaxed-simd']) {
  execFileSync(process.execPath, [asc, 'assembly/index.ts', '--target', target], { stdio: 'inherit' });
}
