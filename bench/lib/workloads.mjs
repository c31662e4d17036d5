// Workload drivers. Each takes an implementation (an object whose methods build a workload's
// handle; the interface is in bench/README.md) and returns one result row per case. Timing goes
// through harness.measure only (by measureCall, in the implementation's own process); inputs
// and checks come from data.mjs, so every implementation gets the same inputs and the same
// verification.
import { measureCall, timeOnce, collectGarbage, Unavailable } from './harness.mjs';
import * as data from './data.mjs';
import { MLP, demoStep } from '../micrograd.mjs';

/** Runs one case, turning an Unavailable into "n/a" and any other exception into "error". */
async function runCase(key, fn) {
  try {
    return { key, status: 'ok', ...(await fn()) };
  } catch (e) {
    if (e instanceof Unavailable) return { key, status: 'na', reason: e.message };
    return { key, status: 'error', reason: errorText(e) };
  }
}

export function errorText(e) {
  const msg = e?.message ?? String(e);
  return msg.split('\n')[0].slice(0, 200);
}

function requireMethod(impl, name) {
  const why = unsupportedReason(impl, { method: name });
  if (why) throw new Unavailable(why);
  return impl[name].bind(impl);
}

const skipped = (key, why) => ({ key, status: 'skipped', reason: why });

/** Times a training-step handle after checking its first loss (`check(l0)`) and recording the first two. */
async function trainStep(make, spec, check, s) {
  const h = await make(spec);
  await h.step();
  const l0 = await h.loss();
  await h.step();
  const l1 = await h.loss();
  const t = await measureCall(h, 'step', s.timing);
  return { value: t.median, ms: t.median, samples: t.samples, check: check(l0), losses: [l0, l1], note: h.note };
}

const againstReference = (reference) => (loss) => data.checkLoss(loss, reference);

export const WORKLOADS = [
  {
    id: 'matmul',
    method: 'matmul',
    title: '(a) matmul f32',
    about: 'C = A·B, N×N float32, A and B uniform(-1, 1); checked against float64 dot products (all entries at N=64, 64 sampled entries above).',
    unit: 'GFLOP/s',
    higherIsBetter: true,
    async run(impl, s, report) {
      const make = requireMethod(impl, this.method);
      let prev = null; // { N, ms } of the last measured size, to predict the next one
      for (const N of [64, 256, 512, 1024]) {
        const key = `N=${N}`;
        const predicted = prev && prev.ms * (N / prev.N) ** 3;
        if (predicted && predicted * (s.timing.warmup + s.timing.minReps) > s.caseBudgetMs) {
          report(skipped(key, `skipped: ~${(predicted / 1000).toFixed(1)} s per run exceeds the ${s.quick ? '--quick ' : ''}budget`));
          continue;
        }
        const row = await runCase(key, async () => {
          const inputs = data.matmulInputs(N);
          const h = await make(inputs.A, inputs.B, N);
          await h.run();
          const C = await h.read();
          const check = data.checkMatmul(inputs, C);
          const t = await measureCall(h, 'run', s.timing);
          await h.dispose?.();
          return { value: (2 * N ** 3) / (t.median * 1e6), ms: t.median, samples: t.samples, check, digest: data.digest(C) };
        });
        if (row.status === 'ok') prev = { N, ms: row.ms };
        report(row);
      }
    },
  },
  {
    id: 'mlp',
    crossCheck: true,
    method: 'trainMlp',
    title: '(b) MLP train step',
    about: 'MLP 784→256→128→10, ReLU, batch 128, softmax cross-entropy (mean), SGD lr 0.01: forward, loss, backward, update. Same PyTorch-like initial weights and batch everywhere; first loss checked against float64 (rel 1e-3); second loss against the median of the peers (rel 1e-3), and the loss decrease of the first step within 5% of theirs.',
    unit: 'ms',
    async run(impl, s, report) {
      const make = requireMethod(impl, this.method);
      const spec = data.mlpSpec(128);
      report(await runCase('batch 128, SGD', () => trainStep(make, spec, againstReference(data.mlpLossReference(spec)), s)));
    },
  },
  {
    id: 'micrograd',
    method: 'micrograd',
    title: '(c) micrograd step',
    about: "micrograd's demo step: MLP(2, [16, 16, 1]) on 100 two-moons points, max-margin loss + 1e-4·L2, backward, SGD (lr 1 − 0.9·k/100); 65,481 scalar nodes a step. tapegrad builds the same graph from 0-d tensors, eagerly. First two losses checked against the port (rel 1e-3).",
    unit: 'ms',
    async run(impl, s, report) {
      const make = requireMethod(impl, this.method);
      const spec = data.microgradSpec();
      report(await runCase('MLP(2,[16,16,1]), 100 moons', async () => {
        const h = await make(spec);
        const losses = [(await h.step()).loss, (await h.step()).loss];
        const t = await measureCall(h, 'step', s.timing);
        const reference = portLosses(spec);
        const ok = losses.every((l, i) => Math.abs(l - reference[i]) <= 1e-3 * Math.abs(reference[i]));
        const check = { ok, detail: `first losses ${fmtList(losses)} vs the float64 port ${fmtList(reference)}` };
        return { value: t.median, ms: t.median, samples: t.samples, check, losses, nodes: h.nodesPerStep, note: h.note };
      }));
    },
  },
  {
    id: 'chain',
    method: 'chain',
    title: '(d) 200 elementwise ops',
    about: '200 chained ops alternating h+a, h·m, tanh(h) on 16-element tensors, then sum, backward to x; dx checked against float64.',
    unit: 'µs',
    async run(impl, s, report) {
      const make = requireMethod(impl, this.method);
      const spec = data.chainSpec();
      report(await runCase('add/mul/tanh ×200', async () => {
        const h = await make(spec);
        await h.step();
        const grad = await h.grad();
        const check = data.checkChainGrad(spec, grad);
        const t = await measureCall(h, 'step', { ...s.timing, minSampleMs: 20 });
        return { value: t.median * 1000, ms: t.median, samples: t.samples, inner: t.inner, check, digest: data.digest(grad) };
      }));
    },
  },
  {
    id: 'conv',
    crossCheck: true,
    method: 'trainConv',
    title: '(e) conv train step',
    about: 'Batch 64 of 1×8×8; conv 3×3 (1→8, padding 1) + ReLU, conv 3×3 (8→8, padding 1) + ReLU, linear 512→10, cross-entropy, SGD lr 0.01. Losses checked like (b).',
    unit: 'ms',
    async run(impl, s, report) {
      const make = requireMethod(impl, this.method);
      const spec = data.convSpec(64);
      report(await runCase('batch 64, SGD', () => trainStep(make, spec, againstReference(data.convLossReference(spec)), s)));
    },
  },
  {
    id: 'memory',
    method: 'trainMlp',
    title: '(f) memory',
    about: 'JS heap (after gc) and wasm memory before → after N training steps of the MLP of (b) at batch 8 (tapegrad: in tg.tidy; tfjs: in tf.tidy).',
    unit: 'MB',
    async run(impl, s, report) {
      const make = requireMethod(impl, this.method);
      const steps = s.memorySteps;
      report(await runCase(`${steps} steps`, async () => {
        const h = await make(data.mlpSpec(8));
        for (let i = 0; i < 10; i++) await h.step();
        const per = (await timeOnce(async () => { for (let i = 0; i < 20; i++) await h.step(); })) / 20;
        if (per * steps > s.memoryBudgetMs)
          return { status: 'skipped', reason: `skipped: ~${((per * steps) / 1000).toFixed(0)} s for ${steps} steps exceeds the ${s.quick ? '--quick ' : ''}budget` };
        const before = snapshot(impl);
        const t0 = performance.now();
        for (let i = 0; i < steps; i++) await h.step();
        const ms = (performance.now() - t0) / steps;
        const after = snapshot(impl);
        return { value: (after.heap - before.heap) / 2 ** 20, ms, before, after, note: h.note };
      }));
    },
  },
  {
    id: 'gpt',
    crossCheck: true,
    method: 'trainGpt',
    title: '(g) char-GPT train step',
    about: 'Character-level GPT (issue 9): vocab 86, context 64, embedding 64, 4 heads, 2 pre-LayerNorm blocks of causal self-attention (qkv 64→192, projection 64→64) and GELU MLP (64→256→64), final LayerNorm, lm head tied to the token embedding; 109,696 parameters, batch 16 (1024 next-token targets), cross-entropy, gradients clipped to norm 1, AdamW (lr 3e-4, weight decay 0.1). Same seeded weights (N(0, 0.02)) and token ids everywhere; first loss checked against ln(86) (±0.05), losses cross-checked like (b). ms per step (steps/s = 1000 / ms).',
    unit: 'ms',
    async run(impl, s, report) {
      const make = requireMethod(impl, this.method);
      const spec = data.gptSpec();
      report(await runCase('batch 16, AdamW', () => trainStep(make, spec, (loss) => data.checkGptLoss(loss, spec), s)));
    },
  },
  {
    id: 'makemore',
    crossCheck: true,
    method: 'trainMakemore',
    title: '(h) makemore MLP step',
    about: "Karpathy's makemore MLP (part 2): embedding C [27,10] of 3 characters, tanh(emb·W1 + b1) with W1 [30,200], logits h·W2 + b2 with W2 [200,27], cross-entropy, SGD lr 0.1, batch 32 of seeded character ids; weights N(0, 1) as in the lecture. First loss checked against float64 (rel 1e-3), losses cross-checked like (b).",
    unit: 'ms',
    async run(impl, s, report) {
      const make = requireMethod(impl, this.method);
      const spec = data.makemoreSpec(32);
      report(await runCase('batch 32, SGD', () => trainStep(make, spec, againstReference(data.makemoreLossReference(spec)), s)));
    },
  },
  {
    id: 'lstm',
    crossCheck: true,
    method: 'trainLstm',
    title: '(i) LSTM train step',
    about: 'One LSTM layer (issue 12): sequence 64, batch 32, input 32, hidden 128 (PyTorch\'s layout and initialization, seeded), a linear head 128→1 on every step, mean squared error, Adam (lr 1e-3): forward, backward through time and update. tapegrad nn.LSTM, PyTorch nn.LSTM, tfjs tf.layers.lstm (sigmoid gates, as PyTorch). First loss checked against float64 (rel 1e-3), losses cross-checked like (b).',
    unit: 'ms',
    async run(impl, s, report) {
      const make = requireMethod(impl, this.method);
      const spec = data.lstmSpec();
      report(await runCase('T 64, batch 32, Adam', () => trainStep(make, spec, againstReference(data.lstmLossReference(spec)), s)));
    },
  },
];

/** The first two losses of micrograd's demo, by the JS port (float64): the reference of (c). */
function portLosses({ X, y, nin, nouts, seed }) {
  const model = new MLP(nin, nouts, { random: data.rng(seed) });
  return [0, 1].map((k) => demoStep(model, X, y, k).loss);
}

const fmtList = (xs) => xs.map((x) => x.toFixed(6)).join(', ');

/** Why `impl` cannot run workload `w` at all (`unsupported[workload id]`, or no method for it), or null. */
export function unsupportedReason(impl, w) {
  const why = w.id && impl.unsupported?.[w.id];
  if (why) return why;
  return typeof impl[w.method] === 'function' ? null : impl.unsupported?.[w.method] ?? 'not benchmarked on this workload';
}

function snapshot(impl) {
  collectGarbage();
  return { heap: process.memoryUsage().heapUsed, ...impl.memoryStats?.() };
}
