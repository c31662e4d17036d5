// tg.optim against PyTorch (test/fixtures/optim.json, scripts/gen_nn_fixtures.py): ten training
// steps of Sequential(Linear(4,8), Tanh(), Linear(8,3)) with crossEntropy on fixed data, from the
// same initial weights, for each optimizer configuration; the parameters are compared after every
// step. Also clipGradNorm (returned norm and clipped gradients) and the LR schedules.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { expectClose } from './helpers.js';

type Tensor = InstanceType<typeof tg.Tensor>;

interface Data { shape: number[]; data: number[] }
interface SchedulerSpec { kind: 'StepLR' | 'CosineAnnealingLR'; stepSize?: number; gamma?: number; tMax?: number; etaMin?: number }
interface Trajectory {
  name: string;
  optimizer: 'SGD' | 'Adam' | 'AdamW';
  options: Record<string, unknown>;
  scheduler: SchedulerSpec | null;
  steps: { loss: number; lr: number; params: Record<string, number[]> }[];
}
interface Clip {
  name: string;
  maxNorm: number;
  normType: number | 'inf';
  params: Data[];
  grads: Data[];
  totalNorm: number;
  clipped: Data[];
}
interface Schedule { name: string; lr: number; scheduler: SchedulerSpec; lrs: number[] }

const fixture = JSON.parse(readFileSync(new URL('./fixtures/optim.json', import.meta.url), 'utf8')) as {
  steps: number;
  data: { x: Data; labels: number[] };
  initial: Record<string, Data>;
  trajectories: Trajectory[];
  clips: Clip[];
  schedules: Schedule[];
};

const RTOL = 1e-4;
const ATOL = 1e-5;

const toTensor = (d: Data, requiresGrad = false): Tensor => tg.tensor(d.data, { shape: d.shape, requiresGrad });

function makeScheduler(spec: SchedulerSpec | null, opt: InstanceType<typeof tg.optim.SGD> | InstanceType<typeof tg.optim.Adam>) {
  if (!spec) return null;
  if (spec.kind === 'StepLR') return new tg.optim.StepLR(opt, { stepSize: spec.stepSize!, ...(spec.gamma !== undefined ? { gamma: spec.gamma } : {}) });
  return new tg.optim.CosineAnnealingLR(opt, { tMax: spec.tMax!, ...(spec.etaMin !== undefined ? { etaMin: spec.etaMin } : {}) });
}

function makeOptimizer(t: Trajectory, params: Tensor[]) {
  const o = t.options;
  if (t.optimizer === 'SGD') return new tg.optim.SGD(params, o as { lr: number });
  if (t.optimizer === 'Adam') return new tg.optim.Adam(params, o);
  return new tg.optim.AdamW(params, o);
}

/** Largest deviation from PyTorch over every trajectory, step and parameter element. */
const worst = { abs: 0, absAt: '', ratio: 0, ratioAt: '' };

describe('optimizer trajectories vs PyTorch (test/fixtures/optim.json)', () => {
  it('covers SGD, Adam and AdamW', () => {
    expect(new Set(fixture.trajectories.map((t) => t.optimizer))).toEqual(new Set(['SGD', 'Adam', 'AdamW']));
  });

  for (const t of fixture.trajectories) {
    it(`${t.name}: ${fixture.steps} steps`, () => {
      const model = new tg.nn.Sequential(new tg.nn.Linear(4, 8), new tg.nn.Tanh(), new tg.nn.Linear(8, 3));
      // The optimizer is built before loadStateDict: loading copies into the tensors it holds.
      const opt = makeOptimizer(t, model.parameters());
      const sched = makeScheduler(t.scheduler, opt);
      tg.tidy(() => model.loadStateDict(Object.fromEntries(Object.entries(fixture.initial).map(([k, v]) => [k, toTensor(v)]))));
      const x = tg.keep(toTensor(fixture.data.x));
      try {
        t.steps.forEach((expected, i) => {
          tg.tidy(() => {
            opt.zeroGrad();
            const loss = tg.nn.functional.crossEntropy(model.forward(x), fixture.data.labels);
            expectClose([loss.item()], [expected.loss], RTOL, ATOL, `${t.name}: loss before step ${i + 1}`);
            loss.backward();
            expect(opt.lr).toBeCloseTo(expected.lr, 12);
            opt.step();
            sched?.step();
          });
          for (const [k, p] of Object.entries(model.stateDict())) {
            const actual = p.data();
            const want = expected.params[k];
            for (let j = 0; j < want.length; j++) {
              const d = Math.abs(actual[j] - want[j]);
              const ratio = d / (ATOL + RTOL * Math.abs(want[j]));
              if (d > worst.abs) Object.assign(worst, { abs: d, absAt: `${t.name}, step ${i + 1}, ${k}[${j}]: ${actual[j]} vs ${want[j]}` });
              if (ratio > worst.ratio) Object.assign(worst, { ratio, ratioAt: `${t.name}, step ${i + 1}, ${k}[${j}]` });
            }
            expectClose(actual, want, RTOL, ATOL, `${t.name}: ${k} after step ${i + 1}`, p.shape);
          }
        });
      } finally {
        x.dispose();
        opt.dispose();
        model.dispose();
      }
    });
  }

  afterAll(() => {
    console.log(
      `optimizer trajectories: largest |tapegrad - PyTorch| = ${worst.abs.toExponential(3)} (${worst.absAt}); ` +
        `largest |diff| / (atol + rtol·|expected|) = ${worst.ratio.toFixed(3)} (${worst.ratioAt}) with rtol ${RTOL}, atol ${ATOL}`,
    );
  });
});

describe('clipGradNorm vs PyTorch', () => {
  for (const c of fixture.clips) {
    it(c.name, () => {
      tg.tidy(() => {
        const params = c.params.map((p) => toTensor(p, true));
        // give each parameter the fixture's gradient: d/dp sum(p · g) = g
        params.map((p, i) => p.mul(toTensor(c.grads[i])).sum()).reduce((a, b) => a.add(b)).backward();
        const norm = tg.optim.clipGradNorm(params, c.maxNorm, c.normType === 'inf' ? Infinity : c.normType);
        expectClose([norm], [c.totalNorm], RTOL, ATOL, `${c.name}: total norm`);
        params.forEach((p, i) => expectClose(p.grad!.data(), c.clipped[i].data, RTOL, ATOL, `${c.name}: grad ${i}`, c.clipped[i].shape));
        params.forEach((p, i) => expectClose(p.data(), Float32Array.from(c.params[i].data), 0, 0, `${c.name}: param ${i} unchanged`));
      });
    });
  }
});

describe('LR schedules vs PyTorch', () => {
  for (const s of fixture.schedules) {
    it(s.name, () => {
      tg.tidy(() => {
        const p = tg.zeros([2], { requiresGrad: true });
        const opt = new tg.optim.SGD([p], { lr: s.lr });
        const sched = makeScheduler(s.scheduler, opt)!;
        const lrs = [opt.lr];
        const last = [sched.getLastLr()[0]];
        for (let i = 1; i < s.lrs.length; i++) {
          opt.step();
          sched.step();
          lrs.push(opt.lr);
          last.push(sched.getLastLr()[0]);
        }
        expectClose(lrs, s.lrs, 1e-12, 1e-15, `${s.name}: opt.lr`);
        expectClose(last, s.lrs, 1e-12, 1e-15, `${s.name}: getLastLr()`);
        opt.dispose();
        p.dispose();
      });
    });
  }
});

describe('optimizer state dicts resume a trajectory', () => {
  for (const name of ['SGD momentum 0.9', 'SGD nesterov', 'Adam lr 0.01 betas [0.8,0.99] eps 1e-6', 'AdamW weightDecay 0.1']) {
    const t = fixture.trajectories.find((c) => c.name === name)!;
    it(`${name}: 4 steps, save model and optimizer state, 6 more steps in a fresh model and optimizer`, () => {
      const build = () => new tg.nn.Sequential(new tg.nn.Linear(4, 8), new tg.nn.Tanh(), new tg.nn.Linear(8, 3));
      const x = tg.keep(toTensor(fixture.data.x));
      const a = build(), b = build();
      const optA = makeOptimizer(t, a.parameters()), optB = makeOptimizer(t, b.parameters());
      const train = (m: typeof a, opt: typeof optA) => tg.tidy(() => {
        opt.zeroGrad();
        tg.nn.functional.crossEntropy(m.forward(x), fixture.data.labels).backward();
        opt.step();
      });
      try {
        tg.tidy(() => a.loadStateDict(Object.fromEntries(Object.entries(fixture.initial).map(([k, v]) => [k, toTensor(v)]))));
        for (let i = 0; i < 4; i++) train(a, optA);
        b.loadStateDict(a.stateDict());
        optB.loadStateDict(optA.stateDict());
        optA.dispose(); // B's state is a copy, not a view of A's
        for (let i = 4; i < t.steps.length; i++) {
          train(b, optB);
          for (const [k, p] of Object.entries(b.stateDict())) {
            expectClose(p.data(), t.steps[i].params[k], RTOL, ATOL, `${name}: ${k} after step ${i + 1} (resumed)`, p.shape);
          }
        }
      } finally {
        x.dispose();
        optB.dispose();
        a.dispose();
        b.dispose();
      }
    });
  }
});

describe('optimizer argument errors', () => {
  it('name the option and the value', () => {
    tg.tidy(() => {
      const p = tg.zeros([2], { requiresGrad: true });
      expect(() => new tg.optim.SGD([p], { lr: -1 })).toThrow(/SGD: lr must be a number/);
      expect(() => new tg.optim.SGD([p], { lr: 0.1, nesterov: true })).toThrow(/nesterov/);
      expect(() => new tg.optim.SGD([], { lr: 0.1 })).toThrow(/empty parameter list/);
      expect(() => new tg.optim.Adam([p], { betas: [0.9, 1] })).toThrow(/betas\[1\]/);
      const opt = new tg.optim.SGD([p], { lr: 0.1 });
      expect(() => new tg.optim.StepLR(opt, { stepSize: 0 })).toThrow(/stepSize/);
      expect(() => new tg.optim.CosineAnnealingLR(opt, { tMax: 0 })).toThrow(/tMax/);
      expect(() => tg.optim.clipGradNorm([p], -1)).toThrow(/maxNorm/);
      opt.dispose();
      p.dispose();
    });
  });

  it('refuse a parameter an op computed (it has no gradient of its own), as PyTorch does', () => {
    tg.tidy(() => {
      const w = tg.tensor([1, 2], { requiresGrad: true });
      const scaled = w.mul(2);
      const before = scaled.toArray();
      expect(() => new tg.optim.SGD([w, scaled], { lr: 0.1 })).toThrow(/SGD: parameter 1 is not a leaf/);
      expect(() => new tg.optim.Adam([{ params: [w] }, { params: [scaled] }], { lr: 0.1 })).toThrow(/Adam: parameter group 1: parameter 0 is not a leaf/);
      const opt = new tg.optim.SGD([w], { lr: 0.1 });
      expect(() => opt.addParamGroup({ params: [scaled] })).toThrow(/not a leaf/);
      expect(opt.paramGroups.length).toBe(1); // refused whole: no group was added
      // a detached copy and a tensor made under noGrad are leaves, and an optimizer takes them
      const detached = scaled.detach();
      detached.requiresGrad_(true);
      const made = tg.noGrad(() => w.mul(3));
      expect(() => new tg.optim.SGD([detached, made], { lr: 0.1 }).dispose()).not.toThrow();
      expect(scaled.toArray()).toEqual(before); // nothing was written
      opt.dispose();
    });
  });
});
