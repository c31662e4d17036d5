// Times assembly/ops/vmath.ts's exp, log, tanh and sigmoid mapped over 2¹⁸ floats (the char-GPT's
// [16,64,256]; no tape, no bindings) against a plain copy loop, and reports each one's worst error
// in ulp against float64 Math over a dense sweep. Variants (other versions of vmath.ts) are
// compiled in a temporary copy of assembly/ and timed interleaved, so machine load hits all alike.
//
//   node scripts/perf/vmath-kernel.mjs [name=vmath-variant.ts ...] [-- exp log tanh sigmoid]
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, copyFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const asc = require.resolve('assemblyscript/bin/asc.js');
const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const variantArgs = argv.slice(0, dash < 0 ? undefined : dash);
const kernels = {
  copy: ['x', null, -1, 1], // name in vmath, float64 reference, sweep from, to
  exp: ['expV(x)', Math.exp, -100, 100],
  log: ['logV(x)', Math.log, 1e-4, 30],
  tanh: ['tanhV(x)', Math.tanh, -10, 10],
  sigmoid: ['sigmoidV(x)', (v) => 1 / (1 + Math.exp(-v)), -30, 30],
};
const names = ['copy', ...(dash < 0 ? Object.keys(kernels).slice(1) : argv.slice(dash + 1))];
const work = mkdtempSync(join(tmpdir(), 'vmath-kernel-'));
const variants = (variantArgs.length ? variantArgs : ['current=assembly/ops/vmath.ts']).map((v) => {
  const [name, file] = v.split('=');
  const dir = join(work, name);
  cpSync(resolve('assembly'), join(dir, 'assembly'), { recursive: true });
  copyFileSync(file, join(dir, 'assembly/ops/vmath.ts'));
  writeFileSync(join(dir, 'entry.ts'), 'import { expV, logV, tanhV, sigmoidV } from "./assembly/ops/vmath";\n' +
    'export { alloc } from "./assembly/alloc";\n' + names.map((k) => `export function ${k}(p: usize, q: usize, n: i32): void {\n` +
    `  for (let i = 0; i < n; i += 4) { let o = <usize>i << 2, x = v128.load(p + o); v128.store(q + o, ${kernels[k][0]}); }\n}\n`).join(''));
  const out = join(dir, 'vmath.wasm');
  execFileSync(process.execPath, [asc, join(dir, 'entry.ts'), '-o', out, '--enable', 'simd', '--runtime', 'stub',
    '-O3', '--noAssert', '--uncheckedBehavior', 'always', '--use', 'abort='], { stdio: 'inherit' });
  return { name, w: new WebAssembly.Instance(new WebAssembly.Module(readFileSync(out)), {}).exports };
});
rmSync(work, { recursive: true });

const n = 1 << 18, median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const k of names) {
  const [, reference, from, to] = kernels[k];
  const runs = variants.map(({ name, w }) => {
    const p = w.alloc(n * 4), q = w.alloc(n * 4);
    const x = new Float32Array(w.memory.buffer, p, n), y = new Float32Array(w.memory.buffer, q, n);
    let worst = 0, at = 0; // ulp of the float64 value, over a sweep of step 1e-4
    for (let start = from; reference && start < to; start += n * 1e-4) {
      for (let i = 0; i < n; i++) x[i] = start + i * 1e-4;
      w[k](p, q, n);
      for (let i = 0; i < n; i++) {
        const e = reference(x[i]);
        if (!(Math.abs(Math.fround(e)) >= 1e-37 && Math.abs(Math.fround(e)) < Infinity)) continue; // flushed, or overflows
        const ulp = Math.abs(y[i] - e) / (2 ** (Math.floor(Math.log2(Math.abs(e))) - 23));
        if (ulp > worst) { worst = ulp; at = x[i]; }
      }
    }
    for (let i = 0; i < n; i++) x[i] = from + Math.random() * (to - from);
    return { name, call: () => w[k](p, q, n), per: [], worst, at };
  });
  for (let r = 0; r < 200; r++) for (const run of runs) {
    const t0 = performance.now();
    run.call();
    run.per.push(performance.now() - t0);
  }
  console.log(`${k.padEnd(8)} ` + runs.map((r) => `${r.name}: ${(median(r.per) * 1000).toFixed(0).padStart(4)} µs` +
    (reference ? ` (${r.worst.toFixed(2)} ulp at ${r.at.toPrecision(6)})` : '')).join('   '));
}
