// Before/after ratios of the bench's tapegrad workloads between this build (dist/, or
// TAPEGRAD_DIST) and another (--vs path/to/index.js), each step timed alternately in one process
// so that the machine's drift (2x on this VM within a minute) hits both builds alike. Each round
// runs two child processes, one in each load order (the build loaded first comes out a few percent
// faster or slower even against itself), and a workload's ratio is the geometric mean of the
// rounds' medians of step-by-step ratios (this build / the other: < 1 is faster). One thread.
//
//   node scripts/perf/workloads-ab.mjs --vs /path/to/other/index.js [--workload mlp,conv] [--rounds 2]
//
// Workloads: the bench's trainers, with its specs (bench/lib/data.mjs): mlp (b), chain (d), conv
// (e), gpt (g), makemore (h), lstm (i). micrograd (c) has its own script, micrograd.mjs --vs.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as data from '../../bench/lib/data.mjs';

const WORKLOADS = {
  mlp: ['trainMlp', () => data.mlpSpec(128)],
  chain: ['chain', () => data.chainSpec()],
  conv: ['trainConv', () => data.convSpec(64)],
  gpt: ['trainGpt', () => data.gptSpec()],
  makemore: ['trainMakemore', () => data.makemoreSpec(32)],
  lstm: ['trainLstm', () => data.lstmSpec()],
};
const args = process.argv.slice(2);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : null);
const dist = process.env.TAPEGRAD_DIST ?? fileURLToPath(new URL('../../dist/index.js', import.meta.url));
const vs = option('--vs');
if (!vs) throw new Error('workloads-ab.mjs: --vs /path/to/other/index.js is required');
const names = (option('--workload') ?? Object.keys(WORKLOADS).join(',')).split(',');
for (const name of names) if (!WORKLOADS[name]) throw new Error(`workloads-ab.mjs: no workload ${name} (${Object.keys(WORKLOADS).join(', ')})`);

if (option('--child')) {
  // one workload, the two builds in the order given: prints the median of step-by-step ratios (first / second)
  const [method, spec] = WORKLOADS[option('--child')];
  const steps = [];
  for (const [k, path] of [dist, vs].entries()) {
    process.env.TAPEGRAD_DIST = path; // read when the bench's module loads: one module instance per build
    const { default: impl } = await import(`../../bench/impls/tapegrad.mjs?build=${k}`);
    impl.threads = 1;
    await impl.init();
    const handle = await impl[method](spec());
    steps.push(() => handle.step());
  }
  const time = (step) => { const t = performance.now(); step(); return performance.now() - t; };
  const warm = performance.now();
  while (performance.now() - warm < 1500) for (const step of steps) step();
  const budget = performance.now();
  const ratios = [];
  while (ratios.length < 30 || (ratios.length < 400 && performance.now() - budget < 6000)) ratios.push(time(steps[0]) / time(steps[1]));
  console.log(`ratio ${ratios.sort((a, b) => a - b)[ratios.length >> 1]}`);
  process.exit(0);
}

const rounds = Number(option('--rounds') ?? 2);
const ratio = (name, first, second) => {
  const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--vs', second, '--child', name],
    { env: { ...process.env, TAPEGRAD_DIST: first }, encoding: 'utf8' });
  const found = /ratio ([\d.]+)/.exec(run.stdout);
  if (!found) throw new Error(`workloads-ab.mjs: the ${name} child failed:\n${run.stdout}${run.stderr}`);
  return Number(found[1]);
};
console.log(`${dist} / ${vs}, one thread (< 1: this build is faster)`);
for (const name of names) {
  const logs = [];
  for (let r = 0; r < rounds; r++) logs.push(Math.log(ratio(name, dist, vs)), -Math.log(ratio(name, vs, dist)));
  const each = logs.map((l) => Math.exp(l).toFixed(3)).join(' ');
  console.log(`${name}: ${Math.exp(logs.reduce((s, l) => s + l, 0) / logs.length).toFixed(3)} (geometric mean of ${logs.length} runs, both load orders: ${each})`);
}
