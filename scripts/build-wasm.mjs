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
// The SIMD build is inlined as text (build/core.wasm.txt, see toText), not base64 nor hex: each
// byte stays a whole number of characters, so repeats in the wasm stay repeats for gzip, and the
// frequent bytes take one character, so gzip's 32 KB window sees more of the wasm: it packs to
// 27.6 KB where hex took 30.5 KB and base64 36.7 KB.
//
// WASM_NAMES=1 npm run build keeps the functions' names (a name section), so that a profile
// (node --cpu-prof) names wasm functions; not for shipping: the names add ~10 KB.
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
  const names = process.env.WASM_NAMES === '1';
  execFileSync(process.execPath, [asc, 'assembly/index.ts', '--target', target, ...(names ? ['--debug'] : [])], { stdio: 'inherit' });
  const module = binaryen.readBinary(readFileSync(file));
  module.setFeatures(features);
  binaryen.setOptimizeLevel(3);
  binaryen.setShrinkLevel(0);
  binaryen.setDebugInfo(names);
  module.optimize();
  if (!module.validate()) throw new Error(`build-wasm: ${file} does not validate after optimization`);
  writeFileSync(file, module.emitBinary());
  module.dispose();
}

const simd = readFileSync('build/core.wasm');
const relaxed = readFileSync('build/core-relaxed.wasm');
const patch = diff(simd, relaxed);
writeFileSync('build/relaxed-patch.bin', patch);
writeFileSync('build/core.wasm.txt', toText(simd));
console.log(`wasm: simd ${simd.length} B, relaxed ${relaxed.length} B, shipped as a ${patch.length} B patch`);

/**
 * The wasm as text that every bundler prints verbatim, read back by bindings/core.ts's fromText:
 * digits are the 89 printable ASCII characters that no string literal escapes (all but the three
 * quotes, backslash, $ and <). The 87 most frequent bytes, in the order the text's first 174
 * characters list them (in hex), take one digit each; the rest, in ascending order, take two, the
 * first of them digit 87 or 88.
 *
 *   text = hex(87 most frequent bytes) · one digit per frequent byte | (87 + ⌊j/89⌋, j mod 89) for the j-th other byte
 */
function toText(bytes) {
  const digits = [...Array(95)].map((_, i) => String.fromCharCode(32 + i)).filter((c) => !`"$'<\\\``.includes(c));
  const count = new Array(256).fill(0);
  for (const b of bytes) count[b]++;
  const frequent = [...Array(256).keys()].sort((x, y) => count[y] - count[x] || x - y).slice(0, 87);
  const rest = [...Array(256).keys()].filter((b) => !frequent.includes(b));
  const code = [];
  frequent.forEach((b, i) => { code[b] = digits[i]; });
  rest.forEach((b, j) => { code[b] = digits[87 + Math.floor(j / 89)] + digits[j % 89]; });
  return Buffer.from(frequent).toString('hex') + Array.from(bytes, (b) => code[b]).join('');
}

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
