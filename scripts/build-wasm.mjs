// Compiles assembly/ into build/core.wasm (SIMD) and build/core-relaxed.wasm (relaxed SIMD),
// using the targets in asconfig.json. The bindings pick one at load time.
//
// Both builds are inlined in the bundle, but they differ only where relaxed instructions replace
// SIMD ones, so the relaxed build ships as a patch over the SIMD one: the differing middle span
// (build/relaxed-patch.bin) and the lengths of the shared prefix and suffix
// (build/relaxed-patch.json). That keeps the second build to a few KB of the download.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const asc = require.resolve('assemblyscript/bin/asc.js');
for (const target of ['simd', 'relaxed-simd']) {
  execFileSync(process.execPath, [asc, 'assembly/index.ts', '--target', target], { stdio: 'inherit' });
}

const simd = readFileSync('build/core.wasm');
const relaxed = readFileSync('build/core-relaxed.wasm');
let prefix = 0;
while (prefix < simd.length && prefix < relaxed.length && simd[prefix] === relaxed[prefix]) prefix++;
let suffix = 0;
while (suffix < simd.length - prefix && suffix < relaxed.length - prefix &&
  simd[simd.length - 1 - suffix] === relaxed[relaxed.length - 1 - suffix]) suffix++;
const patch = relaxed.subarray(prefix, relaxed.length - suffix);
writeFileSync('build/relaxed-patch.bin', patch);
writeFileSync('build/relaxed-patch.json', JSON.stringify({ prefix, suffix }) + '\n');
console.log(`wasm: simd ${simd.length} B, relaxed ${relaxed.length} B, shipped as a ${patch.length} B patch`);
