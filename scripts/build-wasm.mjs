// Compiles assembly/ into build/core.wasm (SIMD) and build/core-relaxed.wasm (relaxed SIMD),
// using the targets in asconfig.json. The bindings pick one at load time.
//
// asconfig.json compiles at shrinkLevel 1, which makes AssemblyScript's standard library use its
// compact math: at shrink level 0 Math.log/exp/pow bring ~10.7 KB of f64 lookup tables (random
// data to gzip, a third of the download) for calls made off the hot paths (Box–Muller, Adam's bias
// correction, scalar tails). Each build then gets a second Binaryen pass at -O3 with shrink
// level 0, which inlines as a speed build does.
//
// Both builds are inlined in the bundle, but they differ only where relaxed instructions replace
// SIMD ones, so the relaxed build ships as a patch over the SIMD one (build/relaxed-patch.bin, in
// the format bindings/patch.ts reads): runs copied from the SIMD build, and the bytes between them.
// The SIMD build is inlined as hex text (build/core.wasm.hex), not base64: each byte stays two
// characters, so repeats in the wasm stay repeats for gzip, which then packs it 14% smaller.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import binaryen from 'assemblyscript/binaryen';

const require = createRequire(import.meta.url);
const asc = require.resolve('assemblyscript/bin/asc.js');
// AssemblyScript's default features, plus SIMD (and relaxed SIMD): what each target enables
const { MVP, MutableGlobals, SignExt, NontrappingFPToInt, BulkMemory, BulkMemoryOpt, SIMD128, RelaxedSIMD, Atomics } = binaryen.Features;
const BASE = MVP | MutableGlobals | SignExt | NontrappingFPToInt | BulkMemory | BulkMemoryOpt | SIMD128 | Atomics;
for (const [target, file, features] of [['simd', 'build/core.wasm', BASE], ['relaxed-simd', 'build/core-relaxed.wasm', BASE | RelaxedSIMD]]) {
  execFileSync(process.execPath, [asc, 'assembly/index.ts', '--target', target], { stdio: 'inherit' });
  const module = binaryen.readBinary(readFileSync(file));
  module.setFeatures(features);
  binaryen.setOptimizeLevel(3);
  binaryen.setShrinkLevel(0);
  module.optimize();
  if (!module.validate()) throw new Error(`build-wasm: ${file} does not validate after optimization`);
  writeFileSync(file, module.emitBinary());
  module.dispose();
}

const simd = readFileSync('build/core.wasm');
const relaxed = readFileSync('build/core-relaxed.wasm');
const patch = diff(simd, relaxed);
writeFileSync('build/relaxed-patch.bin', patch);
writeFileSync('build/core.wasm.hex', simd.toString('hex'));
console.log(`wasm: simd ${simd.length} B, relaxed ${relaxed.length} B, shipped as a ${patch.length} B patch`);

/**
 * Greedy copy/insert diff: at each position of `target`, the longest run (≥ MIN bytes) found in
 * `base` through an index of its MIN-byte windows, preferring the run that continues the last copy.
 */
function diff(base, target) {
  const MIN = 8;
  const index = new Map();
  for (let i = 0; i + MIN <= base.length; i++) {
    const key = base.toString('latin1', i, i + MIN);
    const list = index.get(key);
    if (!list) index.set(key, [i]);
    else if (list.length < 16) list.push(i);
  }
  const out = [];
  const varint = (v) => { do { let b = v & 0x7f; v = Math.floor(v / 128); if (v) b |= 0x80; out.push(b); } while (v); };
  let literal = [];
  const flush = () => {
    if (!literal.length) return;
    out.push(1); varint(literal.length); out.push(...literal);
    literal = [];
  };
  let next = -1; // where the last copy ended in base
  for (let t = 0; t < target.length;) {
    let best = -1, bestLength = 0;
    const candidates = [...(index.get(target.toString('latin1', t, t + MIN)) ?? [])];
    if (next >= 0) candidates.unshift(next);
    for (const s of candidates) {
      let n = 0;
      while (s + n < base.length && t + n < target.length && base[s + n] === target[t + n]) n++;
      if (n > bestLength) { best = s; bestLength = n; }
    }
    if (bestLength >= MIN) {
      flush();
      out.push(0); varint(best); varint(bestLength);
      t += bestLength;
      next = best + bestLength;
    } else {
      literal.push(target[t++]);
      next = next >= 0 ? next + 1 : -1;
    }
  }
  flush();
  return Buffer.from(out);
}
