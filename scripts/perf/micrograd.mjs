// micrograd's demo step (MLP(2, [16, 16, 1]), max-margin loss on 100 points) built from tapegrad's
// 0-d tensors by the bench's own MLP/demoLoss, on one thread: median ms a step. For profiling the
// scalar path (issue 14):  node --cpu-prof --cpu-prof-dir=/tmp/prof scripts/perf/micrograd.mjs
// TAPEGRAD_DIST=/path/to/index.js times another build; --trace times the step recorded once with
// tg.trace and replayed (inputs made once, as the bench's traced step does).
import { pathToFileURL } from 'node:url';
import { MLP, demoLoss } from '../../bench/micrograd.mjs';

const dist = process.env.TAPEGRAD_DIST ?? new URL('../../dist/index.js', import.meta.url).pathname;
const tg = await import(pathToFileURL(dist).href);
tg.setNumThreads(1);
let s = 1;
const random = () => (s = (s * 16807) % 2147483647) / 2147483647;
const X = Array.from({ length: 100 }, () => [random() * 2 - 1, random() * 2 - 1]);
const y = X.map(([a, b]) => (a * b > 0 ? 1 : -1));
const model = new MLP(2, [16, 16, 1], { random, scalar: (v) => tg.tensor(v, { requiresGrad: true }) });
const opt = new tg.optim.SGD(model.parameters(), { lr: 0.1 });
const traced = process.argv.includes('--trace');
const inputs = traced ? X.map((row) => row.map((v) => tg.keep(tg.tensor(v)))) : X;
const eager = () => tg.tidy(() => {
  const out = demoLoss(model, inputs, y, traced ? { scalar: (v) => v, read: () => NaN } : { scalar: (v) => tg.tensor(v), read: (t) => t.item() });
  opt.zeroGrad();
  out.totalLoss.backward();
  opt.step();
  return out.totalLoss.detach();
});
const program = traced ? tg.trace(eager) : null;
const step = program ? () => program.run() : eager;
const warm = performance.now();
while (performance.now() - warm < 2000) step();
const times = [];
for (let i = 0; i < 30; i++) { const t = performance.now(); step(); times.push(performance.now() - t); }
times.sort((a, b) => a - b);
console.log(`micrograd step${traced ? ' (replayed)' : ''}: ${times[15].toFixed(3)} ms (median of 30, one thread)`);
