// Throwaway measurement of the f32 gemm kernel through the public API (not a test, not the bench).
//
//   node scripts/perf/matmul-probe.mjs                                   # simd build
//   node --experimental-wasm-relaxed-simd scripts/perf/matmul-probe.mjs  # relaxed-simd build
//   node scripts/perf/matmul-probe.mjs --dist /tmp/other/dist/index.js --quick
//
// Prints, for the build the bindings picked: square matmul GFLOP/s (2N³ / median time) at
// N = 64, 256, 512, 1024, and the MLP 784→256→128→10 (batch 128) layer products: forward
// (x·Wᵀ through nn.functional.linear, and x·W through matmul) and backward (dX = dY·W and
// dW = dYᵀ·x for linear; dX = dY·Wᵀ and dW = xᵀ·dY for matmul), each alone.
import { pathToFileURL } from 'node:url';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const quick = args.includes('--quick');
const here = dirname(fileURLToPath(import.meta.url));
const distPath = opt('--dist') ? resolve(opt('--dist')) : resolve(here, '../../dist/index.js');
const tg = await import(pathToFileURL(distPath).href);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };

/** Median seconds per call of fn over `samples` samples of `inner` calls each (after warm-up). */
function time(fn, flops) {
  const target = quick ? 0.01 : 0.03; // seconds per sample
  let inner = 1;
  for (;;) { // warm up and size a sample
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) fn();
    const dt = (performance.now() - t0) / 1e3;
    if (dt > target) break;
    inner = Math.ceil(inner * Math.min(10, (1.5 * target) / Math.max(dt, 1e-6)));
  }
  const samples = quick ? 7 : 21;
  const per = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) fn();
    per.push((performance.now() - t0) / 1e3 / inner);
  }
  const sec = median(per);
  return { us: sec * 1e6, gflops: flops / sec / 1e9 };
}

/** Like time(), but only the part of each call done by `timed` (setup excluded), via a clock per call. */
function timeSplit(setup, timed, flops) {
  const reps = quick ? 40 : 200;
  for (let i = 0; i < 20; i++) tg.tidy(() => timed(setup()));
  const per = [];
  for (let s = 0; s < reps; s++) {
    tg.tidy(() => {
      const st = setup();
      const t0 = performance.now();
      timed(st);
      per.push((performance.now() - t0) / 1e3);
    });
  }
  const sec = median(per);
  return { us: sec * 1e6, gflops: flops / sec / 1e9 };
}

const rows = [];
const fmt = (r) => `${r.gflops.toFixed(1).padStart(6)} GFLOP/s ${r.us.toFixed(1).padStart(9)} µs`;
function report(label, r) { rows.push({ label, ...r }); console.log(`${label.padEnd(44)} ${fmt(r)}`); }

console.log(`build: ${tg.build}   node ${process.version}`);
tg.manualSeed(1);

for (const N of [64, 256, 512, 1024]) {
  const a = tg.keep(tg.randn([N, N])), b = tg.keep(tg.randn([N, N]));
  report(`matmul ${N}×${N}·${N}×${N}`, time(() => tg.matmul(a, b).dispose(), 2 * N ** 3));
  tg.dispose([a, b]);
}

const BATCH = 128;
const layers = [[784, 256], [256, 128], [128, 10]];
let totalUs = 0;
for (const [inF, outF] of layers) {
  const M = BATCH, K = inF, N = outF, fl = 2 * M * K * N;
  const x = tg.keep(tg.randn([M, K]));
  const xg = tg.keep(tg.randn([M, K], { requiresGrad: true }));
  const wt = tg.keep(tg.randn([N, K], { requiresGrad: true })); // nn.Linear layout [out, in]
  const w = tg.keep(tg.randn([K, N], { requiresGrad: true }));
  const dy = tg.keep(tg.randn([M, N]));
  const tag = `${M}×${K}·${K}×${N}`;
  const f1 = time(() => tg.nn.functional.linear(x, wt).dispose(), fl);
  report(`linear fwd  x·Wᵀ      ${tag}`, f1);
  report(`matmul fwd  x·W       ${tag}`, time(() => tg.matmul(x, w).dispose(), fl));
  // backward of linear with x not requiring grad: dW = dYᵀ·x only
  const bW = timeSplit(() => tg.nn.functional.linear(x, wt), (y) => y.backward(dy), fl);
  report(`linear bwd  dW=dYᵀ·x  ${tag}`, bW);
  const bXW = timeSplit(() => tg.nn.functional.linear(xg, wt), (y) => y.backward(dy), 2 * fl);
  report(`linear bwd  dX=dY·W + dW`, bXW);
  report(`matmul bwd  dW=xᵀ·dY  ${tag}`, timeSplit(() => tg.matmul(x, w), (y) => y.backward(dy), fl));
  report(`matmul bwd  dX=dY·Wᵀ + dW`, timeSplit(() => tg.matmul(xg, w), (y) => y.backward(dy), 2 * fl));
  // The MLP step: the first layer's input needs no gradient.
  totalUs += f1.us + (inF === 784 ? bW.us : bXW.us);
  for (const t of [xg, wt, w]) t.zeroGrad();
  tg.dispose([x, xg, wt, w, dy]);
}
console.log(`MLP layer products, forward + backward (linear): ${totalUs.toFixed(0)} µs (≈ 130 MFLOP → ${(130e6 / totalUs / 1e3).toFixed(1)} GFLOP/s)`);

if (opt('--json')) {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(opt('--json'), JSON.stringify({ build: tg.build, node: process.version, rows }, null, 2));
}
