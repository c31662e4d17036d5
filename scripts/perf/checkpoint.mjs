// tg.checkpoint on a 32-layer MLP (Linear 128→128 + tanh, batch 1024): peak tensor bytes
// (peakMemory()) and the training step's time, plain against checkpointed segments of 4
// layers, alternated in one process (issue 11's target: peak ≥ 3× lower at ≤ 1.5× the time).
// Run: npm run build && node scripts/perf/checkpoint.mjs   (TAPEGRAD_DIST=… for another build)
import { pathToFileURL } from 'node:url';

const dist = process.env.TAPEGRAD_DIST ?? new URL('../../dist/index.js', import.meta.url).pathname;
const tg = await import(pathToFileURL(dist).href);
const L = 32, W = 128, B = 1024, SEGMENT = 4;
tg.manualSeed(0);
const layers = Array.from({ length: L }, () => new tg.nn.Linear(W, W));
const input = tg.keep(tg.randn([B, W]));
const block = (h, from, n) => { for (let i = from; i < from + n; i++) h = layers[i].forward(h).tanh(); return h; };
const variants = {
  plain: (h) => block(h, 0, L),
  [`checkpoint every ${SEGMENT}`]: (h) => { for (let i = 0; i < L; i += SEGMENT) { const from = i; h = tg.checkpoint((t) => block(t, from, SEGMENT), h); } return h; },
};
const step = (f) => tg.tidy(() => { for (const l of layers) l.zeroGrad(); f(input).square().mean().backward(); });
const peakOf = (f) => { step(f); const base = tg.memory().bytes; tg.resetPeakMemory(); step(f); return tg.peakMemory() - base; };
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
const peaks = Object.fromEntries(Object.entries(variants).map(([k, f]) => [k, peakOf(f)]));
const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (let r = 0; r < 15; r++) for (const [k, f] of Object.entries(variants)) { const t0 = performance.now(); step(f); times[k].push(performance.now() - t0); }
console.log(`32-layer MLP, batch ${B}, build ${tg.build}, ${tg.getNumThreads()} thread(s)`);
for (const k of Object.keys(variants)) {
  const ms = median(times[k]), base = median(times.plain);
  console.log(`${k.padEnd(32)} peak ${(peaks[k] / 2 ** 20).toFixed(1).padStart(5)} MB (${(peaks.plain / peaks[k]).toFixed(2)}× less)   ${ms.toFixed(1).padStart(6)} ms (${(ms / base).toFixed(2)}× the time)`);
}
