// GFLOP/s of matmul forward + backward (three products) on a GPT's skinny and batched shapes,
// each against a 512² square product timed alternately in the same process (so the machine's
// drift hits both alike): the target is ≥ 80% of the square's rate.
// Run: npm run build && node scripts/perf/gemm-shapes.mjs   (TAPEGRAD_DIST=… for another build)
import { pathToFileURL } from 'node:url';

const dist = process.env.TAPEGRAD_DIST ?? new URL('../../dist/index.js', import.meta.url).pathname;
const tg = await import(pathToFileURL(dist).href);
const F = tg.nn.functional;
tg.manualSeed(0);
const param = (shape) => tg.keep(tg.randn(shape).mul(0.1).detach().requiresGrad_(true));

/** name → [flops of forward + backward, inputs, forward]. */
const shapes = {
  'square 512² (reference)': [3 * 2 * 512 ** 3, ...(() => { const a = param([512, 512]), b = param([512, 512]); return [[a, b], () => a.matmul(b)]; })()],
  'linear 1024×64 → 192': [3 * 2 * 1024 * 64 * 192, ...(() => { const x = param([16, 64, 64]), w = param([192, 64]), b = param([192]); return [[x, w, b], () => F.linear(x, w, b)]; })()],
  'linear 1024×64 → 256': [3 * 2 * 1024 * 64 * 256, ...(() => { const x = param([16, 64, 64]), w = param([256, 64]), b = param([256]); return [[x, w, b], () => F.linear(x, w, b)]; })()],
  'linear 1024×256 → 64': [3 * 2 * 1024 * 256 * 64, ...(() => { const x = param([16, 64, 256]), w = param([64, 256]), b = param([64]); return [[x, w, b], () => F.linear(x, w, b)]; })()],
  'batched [64,64,16]·[64,16,64]': [3 * 2 * 64 * 64 * 16 * 64, ...(() => { const q = param([64, 64, 16]), k = param([64, 16, 64]); return [[q, k], () => q.matmul(k)]; })()],
  'batched [64,64,64]·[64,64,16]': [3 * 2 * 64 * 64 * 64 * 16, ...(() => { const p = param([64, 64, 64]), v = param([64, 64, 16]); return [[p, v], () => p.matmul(v)]; })()],
};
const seeds = Object.fromEntries(Object.entries(shapes).map(([n, [, , f]]) => [n, tg.keep(tg.noGrad(() => tg.randn(f().shape)))]));
const step = (name) => { const [, inputs, f] = shapes[name]; tg.tidy(() => { for (const t of inputs) t.zeroGrad(); f().backward(seeds[name]); }); };
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
const time = (name) => { const t0 = performance.now(); step(name); return performance.now() - t0; };

const ref = 'square 512² (reference)';
console.log(`matmul forward + backward, GFLOP/s (median), build ${tg.build}`);
for (const name of Object.keys(shapes)) {
  if (name === ref) continue;
  for (let i = 0; i < 5; i++) { step(ref); step(name); }
  const a = [], r = [];
  // the square takes ~25 ms, the shape ~1 ms: time it in runs of equal duration
  const reps = Math.max(1, Math.round(shapes[ref][0] / shapes[name][0]));
  for (let i = 0; i < 15; i++) {
    r.push(shapes[ref][0] / time(ref) / 1e6);
    for (let j = 0; j < reps; j++) a.push(shapes[name][0] / time(name) / 1e6);
  }
  const ga = median(a), gr = median(r);
  console.log(`${name.padEnd(32)} ${ga.toFixed(1).padStart(6)}   square ${gr.toFixed(1).padStart(5)}   ${(100 * ga / gr).toFixed(0).padStart(4)}%`);
}
