// micrograd's demo step (MLP(2, [16, 16, 1]), max-margin loss on 100 points) built from tapegrad's
// 0-d tensors by the bench's own MLP/demoLoss, on one thread: median ms a step. For profiling the
// scalar path (issue 14):  node --cpu-prof --cpu-prof-dir=/tmp/prof scripts/perf/micrograd.mjs
// TAPEGRAD_DIST=/path/to/index.js times another build; --trace times the step recorded once with
// tg.trace and replayed (inputs made once, as the bench's traced step does); --chain times a chain
// of 65,536 scalar ops (x·a + b alternating) with its backward and release instead: the core's
// per-node path without the demo's own JavaScript, so a change there shows ~1.5× larger.
// --sizes times that chain at 512 to 262,144 ops, alternated, in ns an op: flat, so the scalar
// path is not bound by its working set (the prototype's gain is fewer instructions a node).
// --vs /path/to/other/index.js loads both builds into this process and alternates their steps,
// one of each at a time, for a before/after ratio that the machine's drift hits alike (on a noisy
// VM two processes run minutes apart can differ by 50%): prints both medians and the median of
// the step-by-step ratios. The build loaded first comes out up to ~3% faster or slower even
// against itself, so --rounds N runs N processes in each load order and prints the geometric mean
// of the ratios (this build / the other); two copies of one build give 0.998–1.002 with N = 3.
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MLP, demoLoss } from '../../bench/micrograd.mjs';
import { microgradSpec, rng } from '../../bench/lib/data.mjs';

const args = process.argv.slice(2);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : null);
const dist = process.env.TAPEGRAD_DIST ?? new URL('../../dist/index.js', import.meta.url).pathname;
const vs = option('--vs');
const rounds = Number(option('--rounds') ?? 0);
const traced = args.includes('--trace');
const chain = args.includes('--chain');

/** The chain on build `tg`: run(n) makes n ops (x·a + b alternating) in tidy, with their backward. */
function chainOf(tg) {
  const a = tg.keep(tg.tensor(1.0001, { requiresGrad: true })), b = tg.keep(tg.tensor(0.5, { requiresGrad: true }));
  return (n) => tg.tidy(() => { let z = a; for (let i = 0; i < n; i++) z = i & 1 ? z.add(b) : z.mul(a); z.backward(); });
}

if (args.includes('--sizes')) {
  const tg = await import(pathToFileURL(dist).href);
  tg.setNumThreads(1);
  const run = chainOf(tg);
  const sizes = [512, 2048, 8192, 65536, 262144], total = 262144, ns = sizes.map(() => []);
  for (const n of sizes) for (let i = 0; i < 10; i++) run(n);
  for (let r = 0; r < 60; r++) {
    sizes.forEach((n, k) => { const t = performance.now(); for (let i = 0; i < total / n; i++) run(n); ns[k].push((performance.now() - t) / total * 1e6); });
  }
  const at = (xs, f) => xs.slice().sort((x, y) => x - y)[Math.floor(xs.length * f)];
  sizes.forEach((n, k) => console.log(`${n} ops: ${at(ns[k], 0.5).toFixed(1)} ns an op (median of 60; p10 ${at(ns[k], 0.1).toFixed(1)}, p90 ${at(ns[k], 0.9).toFixed(1)})`));
  process.exit(0);
}

if (vs && rounds > 0) {
  // both load orders, `rounds` processes each: the geometric mean cancels the first-loaded bias
  const passOn = args.filter((a, i) => a !== '--rounds' && args[i - 1] !== '--rounds' && a !== '--vs' && args[i - 1] !== '--vs');
  const ratio = (first, second) => {
    const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--vs', second, ...passOn],
      { env: { ...process.env, TAPEGRAD_DIST: first }, encoding: 'utf8' });
    const found = /ratio ([\d.]+)/.exec(run.stdout);
    if (!found) throw new Error(`micrograd.mjs: a child run failed:\n${run.stdout}${run.stderr}`);
    return Number(found[1]);
  };
  const logs = [];
  for (let r = 0; r < rounds; r++) logs.push(Math.log(ratio(dist, vs)), -Math.log(ratio(vs, dist)));
  const each = logs.map((l) => Math.exp(l).toFixed(3)).join(' ');
  console.log(`${dist} / ${vs}: ${Math.exp(logs.reduce((s, l) => s + l, 0) / logs.length).toFixed(3)} (geometric mean of ${logs.length} runs, both load orders: ${each})`);
  process.exit(0);
}

/** One training step of micrograd's demo (or the chain) on build `path`, warmed up. */
async function stepOf(path) {
  const tg = await import(pathToFileURL(path).href);
  tg.setNumThreads(1);
  if (chain) {
    const run = chainOf(tg);
    return () => run(65536);
  }
  const { X, y, seed } = microgradSpec(); // the bench's workload (c)
  const model = new MLP(2, [16, 16, 1], { random: rng(seed), scalar: (v) => tg.tensor(v, { requiresGrad: true }) });
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
const what = chain ? 'scalar chain (65,536 ops, backward, release)' : `micrograd step${traced ? ' (replayed)' : ''}`;
if (!vs) {
  console.log(`${what}: ${median(times[0]).toFixed(3)} ms (median of 30, one thread)`);
} else {
  const ratio = median(times[0].map((t, i) => t / times[1][i]));
  console.log(`${what}, one thread, medians of 100 alternated steps: ${dist} ${median(times[0]).toFixed(3)} ms, ${vs} ${median(times[1]).toFixed(3)} ms; ratio ${ratio.toFixed(3)}`);
}
