// Times assembly/ops/matmul.ts's gemm called directly (no tape, no bindings), for one build, and
// checks it against a float64 reference. Variants (other versions of matmul.ts) are compiled in a
// temporary copy of assembly/ and timed interleaved, so machine load hits all of them alike.
//
//   node scripts/perf/gemm-kernel.mjs simd [name=matmul-variant.ts ...] [-- M,N,K[,form] ...]
//   node --experimental-wasm-relaxed-simd scripts/perf/gemm-kernel.mjs relaxed ...
//
// form: nn (A·B, the default), nt (A·Bᵀ, B stored N×K), tn (Aᵀ·B, A stored K×M).
// Prints GFLOP/s from the median and the best of 15 samples.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, copyFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const asc = require.resolve('assemblyscript/bin/asc.js');
const argv = process.argv.slice(2);
const which = argv[0] === 'relaxed' ? 'relaxed' : 'simd';
const dash = argv.indexOf('--');
const variantArgs = argv.slice(1, dash < 0 ? undefined : dash);
const shapeArgs = dash < 0 ? [] : argv.slice(dash + 1);
const enable = which === 'relaxed' ? 'simd,relaxed-simd' : 'simd';
const work = mkdtempSync(join(tmpdir(), 'gemm-kernel-'));
const variants = (variantArgs.length ? variantArgs : ['current=assembly/ops/matmul.ts']).map((v) => {
  const [name, file] = v.split('=');
  const dir = join(work, name);
  cpSync(resolve('assembly'), join(dir, 'assembly'), { recursive: true });
  copyFileSync(file, join(dir, 'assembly/ops/matmul.ts'));
  writeFileSync(join(dir, 'entry.ts'), 'export { gemm } from "./assembly/ops/matmul";\nexport { alloc } from "./assembly/alloc";\n');
  const out = join(dir, 'gemm.wasm');
  execFileSync(process.execPath, [asc, join(dir, 'entry.ts'), '-o', out, '--enable', enable, '--runtime', 'stub',
    '-O3', '--noAssert', '--uncheckedBehavior', 'always', '--use', 'abort='], { stdio: 'inherit' });
  return { name, w: new WebAssembly.Instance(new WebAssembly.Module(readFileSync(out)), {}).exports };
});
rmSync(work, { recursive: true });

const shapes = shapeArgs.length ? shapeArgs :
  ['64,64,64', '256,256,256', '512,512,512', '1024,1024,1024',
   '128,256,784,nt', '128,784,256,nn', '256,784,128,tn', '128,128,256,nt', '128,256,128,nn', '128,256,128,tn',
   '128,10,128,nt', '128,128,10,nn', '10,128,128,tn'];
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const s of shapes) {
  const [M, N, K] = s.split(',').map(Number), form = s.split(',')[3] ?? 'nn';
  const [sam, sak] = form === 'tn' ? [1, M] : [K, 1];
  const [sbk, sbn] = form === 'nt' ? [1, K] : [N, 1];
  const A = Float32Array.from({ length: M * K }, () => Math.random() - 0.5);
  const B = Float32Array.from({ length: K * N }, () => Math.random() - 0.5);
  const runs = variants.map(({ name, w }) => {
    const a = w.alloc(M * K * 4), b = w.alloc(K * N * 4), c = w.alloc(M * N * 4);
    new Float32Array(w.memory.buffer).set(A, a >> 2);
    new Float32Array(w.memory.buffer).set(B, b >> 2);
    const call = () => w.gemm(M, N, K, a, sam, sak, b, sbk, sbn, c, 0);
    let inner = 1;
    for (;;) { const t0 = performance.now(); for (let i = 0; i < inner; i++) call(); if (performance.now() - t0 > 20) break; inner *= 2; }
    // check against a float64 reference
    const g = new Float32Array(w.memory.buffer);
    let maxErr = 0;
    for (let i = 0; i < M; i += Math.max(1, M >> 5)) for (let j = 0; j < N; j += Math.max(1, N >> 5)) {
      let ref = 0;
      for (let k = 0; k < K; k++) ref += A[i * sam + k * sak] * B[k * sbk + j * sbn];
      maxErr = Math.max(maxErr, Math.abs(ref - g[(c >> 2) + i * N + j]) / Math.sqrt(K));
    }
    return { name, call, inner, per: [], maxErr };
  });
  for (let r = 0; r < 15; r++) for (const run of runs) {
    const t0 = performance.now();
    for (let i = 0; i < run.inner; i++) run.call();
    run.per.push((performance.now() - t0) / run.inner);
  }
  const fl = 2 * M * N * K / 1e6;
  console.log(`${which} ${`${M}×${K}·${K}×${N} ${form}`.padEnd(22)} ` + runs.map((r) =>
    `${r.name}: ${(fl / median(r.per)).toFixed(1).padStart(5)} (best ${(fl / Math.min(...r.per)).toFixed(1).padStart(5)})${r.maxErr > 1e-5 ? ` ERR ${r.maxErr.toExponential(1)}` : ''}`).join('  '));
}
