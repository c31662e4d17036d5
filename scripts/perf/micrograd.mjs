// micrograd's demo step (MLP(2, [16, 16, 1]), max-margin loss on 100 points) built from tapegrad's
// 0-d tensors by the bench's own MLP/demoLoss, on one thread: median ms a step. For profiling the
// scalar path (issue 14):  node --cpu-prof --cpu-prof-dir=/tmp/prof scripts/perf/micrograd.mjs
// TAPEGRAD_DIST=/path/to/index.js times another build; --trace times the step recorded once with
// tg.trace and replayed (inputs made once, as the bench's traced step does).
// --vs /path/to/other/index.js loads both builds into this process and alternates their steps,
// one of each at a time, for a before/after ratio that the machine's drift hits alike (on a noisy
// VM two processes run minutes apart can differ by 50%): prints both medians and the median of
// the step-by-step ratios. The build loaded first comes out ~2–3% faster even against itself:
// run both orders and take the geometric mean of ratio and 1 / (the other order's ratio).
import { pathToFileURL } from 'node:url';
import { MLP, demoLoss } from '../../bench/micrograd.mjs';

const dist = process.env.TAPEGRAD_DIST ?? new URL('../../dist/index.js', import.meta.url).pathname;
const vs = process.argv.includes('--vs') ? process.argv[process.argv.indexOf('--vs') + 1] : null;
const traced = process.argv.includes('--trace');

/** One training step of micrograd's demo on build `path`, warmed up. */
async function stepOf(path) {
  const tg = await import(pathToFileURL(path).href);
  tg.setNumThreads(1);
  let s = 1;
  const random = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const X = Array.from({ length: 100 }, () => [random() * 2 - 1, random() * 2 - 1]);
  const y = X.map(([a, b]) => (a * b > 0 ? 1 : -1));
  const model = new MLP(2, [16, 16, 1], { random, scalar: (v) => tg.tensor(v, { requiresGrad: true }) });
  const opt = new tg.optim.SGD(model.parameters(), { lr: 0.1 });
  const inputs = traced ? X.map((row) => row.map((v) => tg.keep(tg.tensor(v)))) : X;
  const eager = () => tg.tidy(() => {
    const out = demoLoss(model, inputs, y, traced ? { scalar: (v) => v, read: () => NaN } : { scalar: (v) => tg.tensor(v), read: (t) => t.item() });
    opt.zeroGrad();
    out.totalLoss.backward();
    opt.step();
    return out.totalLoss.detach();
  });
  const program = traced ? tg.trace(eager) : null;
  return program ? () => program.run() : eager;
}

const time = (step) => { const t = performance.now(); step(); return performance.now() - t; };
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
const steps = [await stepOf(dist), ...(vs ? [await stepOf(vs)] : [])];
const warm = performance.now();
while (performance.now() - warm < 2000) for (const step of steps) step();
const times = steps.map(() => []);
for (let i = 0; i < (vs ? 100 : 30); i++) steps.forEach((step, k) => times[k].push(time(step)));
const what = `micrograd step${traced ? ' (replayed)' : ''}`;
if (!vs) {
  console.log(`${what}: ${median(times[0]).toFixed(3)} ms (median of 30, one thread)`);
} else {
  const ratio = median(times[0].map((t, i) => t / times[1][i]));
  console.log(`${what}, one thread, medians of 100 alternated steps: ${dist} ${median(times[0]).toFixed(3)} ms, ${vs} ${median(times[1]).toFixed(3)} ms; ratio ${ratio.toFixed(3)}`);
}
