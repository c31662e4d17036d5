// trace(fn) records a step once and run() replays it in one call. The oracle is the same step
// run eagerly on an identical model: replays must reproduce it number for number.
import { afterEach, describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';

const { nn, optim } = tg;
const F = nn.functional;

/** Two identical models (same seed), one to train eagerly and one through a trace. */
function twinModels(seed: number): [tg.nn.Module, tg.nn.Module] {
  const make = (): tg.nn.Module => {
    tg.manualSeed(seed);
    return new nn.Sequential(new nn.Linear(6, 16), new nn.Tanh(), new nn.Dropout(0.2), new nn.Linear(16, 4));
  };
  return [make(), make()];
}

/** Deterministic batches: batch k of 8 rows of 6 features, and labels. */
function batch(k: number): { x: number[][]; y: number[] } {
  const x = Array.from({ length: 8 }, (_, i) => Array.from({ length: 6 }, (_, j) => Math.sin(k * 7.1 + i * 1.3 + j * 0.7)));
  return { x, y: x.map((row) => (row[0] > 0 ? 1 : 0) + (row[1] > 0 ? 2 : 0)) };
}

afterEach(() => tg.manualSeed(0));

describe('trace', () => {
  it('replaying a training step matches eager training, batch after batch, schedule included', () => {
    const before = tg.memory();
    const [eagerModel, tracedModel] = twinModels(3);
    const eagerOpt = new optim.Adam(eagerModel.parameters(), { lr: 0.02 });
    const tracedOpt = new optim.Adam(tracedModel.parameters(), { lr: 0.02 });
    const eagerSched = new optim.StepLR(eagerOpt, { stepSize: 3, gamma: 0.5 });
    const tracedSched = new optim.StepLR(tracedOpt, { stepSize: 3, gamma: 0.5 });

    // The traced step reads its batch from tensors made outside it, refilled before each run.
    const x = tg.keep(tg.zeros([8, 6]));
    const labels = tg.keep(tg.zeros([8]));
    const step = (model: tg.nn.Module, opt: tg.optim.Optimizer, input: tg.Tensor, y: tg.Index): tg.Tensor =>
      tg.tidy(() => {
        opt.zeroGrad();
        const loss = F.crossEntropy(model.forward(input), y);
        loss.backward();
        tg.optim.clipGradNorm(model.parameters(), 1.0);
        opt.step();
        return loss;
      });

    tg.manualSeed(11); // dropout draws: the same sequence for both runs
    const eagerLosses: number[] = [];
    for (let k = 0; k < 8; k++) {
      const { x: xs, y } = batch(k);
      eagerLosses.push(tg.tidy(() => step(eagerModel, eagerOpt, tg.tensor(xs), y).item()));
      eagerSched.step();
    }

    tg.manualSeed(11);
    const tracedLosses: number[] = [];
    const first = batch(0);
    tg.tidy(() => { x.copy_(tg.tensor(first.x)); labels.copy_(tg.tensor(first.y)); });
    const replay = tg.trace(() => step(tracedModel, tracedOpt, x, labels));
    tracedLosses.push(replay.output.item());
    tracedSched.step();
    for (let k = 1; k < 8; k++) {
      const { x: xs, y } = batch(k);
      tg.tidy(() => { x.copy_(tg.tensor(xs)); labels.copy_(tg.tensor(y)); });
      tracedLosses.push(replay.run().item());
      tracedSched.step();
    }

    expect(tracedLosses).toEqual(eagerLosses);
    expect(tracedOpt.steps).toBe(8);
    const pe = eagerModel.parameters(), pt = tracedModel.parameters();
    pt.forEach((p, i) => expect(Array.from(p.data())).toEqual(Array.from(pe[i].data())));

    replay.dispose();
    eagerOpt.dispose();
    tracedOpt.dispose();
    tg.dispose([x, labels, ...pe, ...pt]);
    expect(tg.memory().tensors).toBe(before.tensors);
    expect(tg.memory().bytes).toBe(before.bytes);
  });

  it('replays a scalar graph (micrograd-style) exactly', () => {
    const weights = (): tg.Tensor[] => [0.5, -0.3, 0.8, 0.1].map((v) => tg.keep(tg.tensor(v, { requiresGrad: true })));
    const points = [[0.2, 0.9], [-0.7, 0.4], [0.5, -0.5]].map((row) => row.map((v) => tg.keep(tg.tensor(v))));
    const loss = ([w0, w1, w2, b]: tg.Tensor[]): tg.Tensor => {
      let total = tg.tensor(0);
      for (const [a, c] of points) total = total.add(tg.relu(tg.add(1, w0.mul(a).add(w1.mul(c)).tanh().mul(w2).add(b).neg())));
      return total;
    };
    const eagerW = weights(), tracedW = weights();
    const eagerOpt = new optim.SGD(eagerW, { lr: 0.1, momentum: 0.9 });
    const tracedOpt = new optim.SGD(tracedW, { lr: 0.1, momentum: 0.9 });
    const eager = Array.from({ length: 5 }, () =>
      tg.tidy(() => { eagerOpt.zeroGrad(); const l = loss(eagerW); l.backward(); eagerOpt.step(); return l.item(); }));
    const replay = tg.trace(() => tg.tidy(() => { tracedOpt.zeroGrad(); const l = loss(tracedW); l.backward(); tracedOpt.step(); return l; }));
    const traced = [replay.output.item(), ...Array.from({ length: 4 }, () => replay.run().item())];
    expect(traced).toEqual(eager);
    tracedW.forEach((w, i) => expect(w.item()).toBe(eagerW[i].item()));
    replay.dispose();
    tg.dispose([...eagerW, ...tracedW, ...points.flat()]);
    eagerOpt.dispose();
    tracedOpt.dispose();
  });

  it('gives clear errors, and a failing fn leaves nothing behind', () => {
    const before = tg.memory();
    expect(() => tg.trace(() => tg.trace(() => 1))).toThrow(/already recording/);
    expect(() => tg.trace(() => tg.tidy(() => tg.ones([3]).add(tg.ones([4]))))).toThrow(/add: shapes \[3\] and \[4\]/);
    expect(tg.memory().tensors).toBe(before.tensors);
    const t = tg.trace(() => tg.tidy(() => tg.ones([2]).mul(3)));
    expect(t.run().toArray()).toEqual([3, 3]);
    t.dispose();
    expect(() => t.run()).toThrow(/disposed/);
    expect(tg.memory()).toEqual(before);
  });
});
