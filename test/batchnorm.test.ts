// nn.BatchNorm1d / nn.BatchNorm2d against PyTorch 1.13 (scripts/gen_batchnorm_fixtures.py): three
// training steps (outputs, input and parameter gradients, running statistics and the batch count
// after each), then eval(); a checkpoint PyTorch saved (num_batches_tracked int64) loaded through
// tg.load; and replay under tg.trace, errors, reprs.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tg from '../dist/index.js';
import { expectClose } from './helpers';

type Json = { shape: number[]; data: number[] };
interface Step { input: Json; upstream: Json; out: Json; grads: Record<string, Json>; after: Record<string, Json> }
interface Case {
  name: string; module: 'BatchNorm1d' | 'BatchNorm2d'; args: [number]; kwargs: Record<string, unknown>;
  state: Record<string, Json>; steps: Step[]; eval: { input: Json; out: Json };
}
const fixtures = JSON.parse(readFileSync(new URL('./fixtures/batchnorm.json', import.meta.url), 'utf8')) as {
  cases: Case[]; checkpoint: { input: Json; out: Json; num_batches_tracked: number; keys: string[] };
};
const make = (j: Json, requiresGrad = false) => tg.tensor(Float32Array.from(j.data), { shape: j.shape, requiresGrad });
const near = (t: tg.Tensor, j: Json, what: string) => {
  expect(t.shape, what).toEqual(j.shape);
  expectClose(t.data(), j.data, 1e-5, 1e-5, what);
};

describe('BatchNorm against PyTorch', () => {
  for (const c of fixtures.cases) {
    it(c.name, () => tg.tidy(() => {
      const m = new tg.nn[c.module](c.args[0], c.kwargs as never);
      m.loadStateDict(Object.fromEntries(Object.entries(c.state).map(([k, v]) => [k, make(v)]))); // strict: PyTorch's keys
      c.steps.forEach((s, i) => {
        m.zeroGrad();
        const x = make(s.input, true);
        const y = m.forward(x);
        near(y, s.out, `step ${i} out`);
        y.backward(make(s.upstream));
        near(x.grad!, s.grads.input, `step ${i} input grad`);
        if (s.grads.weight) near(m.weight!.grad!, s.grads.weight, `step ${i} weight grad`);
        if (s.grads.bias) near(m.bias!.grad!, s.grads.bias, `step ${i} bias grad`);
        const state = m.stateDict();
        expect(Object.keys(state).filter((k) => k !== 'weight' && k !== 'bias')).toEqual(Object.keys(s.after));
        for (const [k, v] of Object.entries(s.after)) near(state[k], v, `step ${i} ${k}`);
      });
      m.eval();
      near(m.forward(make(c.eval.input)), c.eval.out, 'eval out');
      tg.dispose([...m.parameters(), ...m.buffers()]);
    }));
  }

  it('loads a checkpoint PyTorch saved (num_batches_tracked int64) and gives its eval outputs', () => tg.tidy(() => {
    const ck = fixtures.checkpoint;
    const state = tg.load(readFileSync(new URL('./fixtures/batchnorm.safetensors', import.meta.url)));
    expect(Object.keys(state)).toEqual(ck.keys);
    const m = new tg.nn.BatchNorm2d(3).eval();
    expect(Object.keys(m.stateDict())).toEqual(ck.keys);
    m.loadStateDict(state);
    expect(m.numBatchesTracked!.item()).toBe(ck.num_batches_tracked);
    near(m.forward(make(ck.input)), ck.out, 'eval out');
    tg.dispose([...m.parameters(), ...m.buffers()]);
  }));
});

describe('BatchNorm', () => {
  it('a traced training step replays as eagerly: outputs, gradients, running statistics (momentum null too)', () => {
    for (const momentum of [0.1, null]) {
      const twin = () => new tg.nn.BatchNorm2d(2, { momentum });
      const [a, b] = [twin(), twin()];
      const x = tg.keep(tg.zeros([3, 2, 2, 2]));
      const step = (m: tg.nn.BatchNorm2d) => () => tg.tidy(() => { m.zeroGrad(); const y = m.forward(x).square().mean(); y.backward(); return y.detach(); });
      const fill = (k: number) => x.copy_(tg.tidy(() => tg.tensor(Array.from({ length: 24 }, (_, i) => Math.sin(i * 1.7 + k) * (k + 1)), { shape: [3, 2, 2, 2] })));
      fill(0);
      const tr = tg.trace(step(b));
      step(a)().dispose();
      for (let k = 1; k < 4; k++) {
        fill(k);
        const e = step(a)();
        expect(tr.run().item()).toBe(e.item());
        e.dispose();
        for (const [key, t] of Object.entries(a.stateDict())) expect(Array.from(b.stateDict()[key].data()), key).toEqual(Array.from(t.data()));
        expect(Array.from(b.weight!.grad!.data())).toEqual(Array.from(a.weight!.grad!.data()));
      }
      expect(b.numBatchesTracked!.item()).toBe(4);
      tr.dispose();
      tg.dispose([x, ...a.parameters(), ...a.buffers(), ...b.parameters(), ...b.buffers()]);
    }
  });

  it('errors name the layer and the shapes; reprs as PyTorch', () => tg.tidy(() => {
    const bn = new tg.nn.BatchNorm2d(3);
    expect(() => bn.forward(tg.ones([2, 3, 4]))).toThrow(/BatchNorm2d: expected input of 4-D \[N, 3, \.\.\.\], got shape \[2,3,4\]/);
    expect(() => bn.forward(tg.ones([2, 4, 2, 2]))).toThrow(/BatchNorm2d: expected input of 4-D \[N, 3, \.\.\.\], got shape \[2,4,2,2\]/);
    expect(() => new tg.nn.BatchNorm1d(3).forward(tg.ones([1, 3]))).toThrow(/BatchNorm1d: expected more than 1 value per channel when training, got input of shape \[1,3\]/);
    expect(() => new tg.nn.BatchNorm1d(0)).toThrow(/BatchNorm1d: numFeatures/);
    expect(() => new tg.nn.BatchNorm1d(3, { momentom: 0.1 } as never)).toThrow(/unknown option "momentom"/);
    expect(new tg.nn.BatchNorm1d(3).eval().forward(tg.ones([1, 3])).shape).toEqual([1, 3]); // eval: one row is fine
    expect([new tg.nn.BatchNorm2d(4), new tg.nn.BatchNorm1d(2, { momentum: null, affine: false, trackRunningStats: false, eps: 1e-3 })].map(String)).toEqual([
      'BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)',
      'BatchNorm1d(2, eps=0.001, momentum=None, affine=False, track_running_stats=False)',
    ]);
    expect(new tg.nn.BatchNorm1d(2, { trackRunningStats: false }).stateDict()).toMatchObject({});
    expect(Object.keys(new tg.nn.BatchNorm1d(2, { trackRunningStats: false }).stateDict())).toEqual(['weight', 'bias']);
  }));
});
