// Optimizer parameter groups against PyTorch (test/fixtures/param_groups.json,
// scripts/gen_param_group_fixtures.py): Sequential(Linear, LayerNorm, Tanh, Linear) trained 12
// steps with a "decay" group (the Linear weights) and a "noDecay" group (biases and LayerNorm),
// different lr and weight decay (and momentum, betas, eps) per group, under StepLR or
// CosineAnnealingLR; the parameters are compared after every step, eagerly and replayed by
// tg.trace. Then: state dicts resume a trajectory mid-training, options read back as given,
// addParamGroup, duplicates, and setting a group's options between replays.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { expectClose } from './helpers.js';

type Tensor = InstanceType<typeof tg.Tensor>;
type Optimizer = InstanceType<typeof tg.optim.Optimizer>;
interface Data { shape: number[]; data: number[] }
interface SchedulerSpec { kind: 'StepLR' | 'CosineAnnealingLR'; stepSize?: number; gamma?: number; tMax?: number; etaMin?: number }
interface Trajectory {
  name: string;
  optimizer: 'SGD' | 'Adam' | 'AdamW';
  defaults: Record<string, unknown>;
  groups: ({ group: 'decay' | 'noDecay' } & Record<string, unknown>)[];
  scheduler: SchedulerSpec;
  steps: { loss: number; lrs: number[]; params: Record<string, number[]> }[];
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/param_groups.json', import.meta.url), 'utf8')) as {
  steps: number;
  data: { x: Data; labels: number[] };
  initial: Record<string, Data>;
  groups: { decay: string[]; noDecay: string[] };
  trajectories: Trajectory[];
};

const RTOL = 1e-4;
const ATOL = 1e-5;
const { nn, optim } = tg;
const F = nn.functional;
const toTensor = (d: Data): Tensor => tg.tensor(d.data, { shape: d.shape });

/** The fixture's model with its initial weights, its optimizer over the two groups, and its schedule. */
function setup(t: Trajectory) {
  const model = new nn.Sequential(new nn.Linear(4, 8), new nn.LayerNorm(8), new nn.Tanh(), new nn.Linear(8, 3));
  tg.tidy(() => model.loadStateDict(Object.fromEntries(Object.entries(fixture.initial).map(([k, v]) => [k, toTensor(v)]))));
  const named = Object.fromEntries(model.namedParameters());
  const groups = t.groups.map(({ group, ...options }) => ({ params: fixture.groups[group].map((k) => named[k]), ...options }));
  const opt: Optimizer = new optim[t.optimizer](groups as never, t.defaults as never);
  const s = t.scheduler;
  const sched = s.kind === 'StepLR' ? new optim.StepLR(opt, { stepSize: s.stepSize!, gamma: s.gamma }) : new optim.CosineAnnealingLR(opt, { tMax: s.tMax!, etaMin: s.etaMin });
  const x = tg.keep(toTensor(fixture.data.x));
  const step = (): Tensor => {
    opt.zeroGrad();
    const loss = F.crossEntropy(model.forward(x), fixture.data.labels);
    loss.backward();
    opt.step();
    return loss;
  };
  const dispose = (): void => { x.dispose(); opt.dispose(); model.dispose(); };
  return { model, opt, sched, step, dispose };
}

function expectParams(model: InstanceType<typeof nn.Module>, want: Record<string, number[]>, label: string): void {
  for (const [k, p] of Object.entries(model.stateDict())) expectClose(p.data(), want[k], RTOL, ATOL, `${label}: ${k}`, p.shape);
}

const bits = (m: InstanceType<typeof nn.Module>): Record<string, number[]> =>
  Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, Array.from(new Uint32Array(t.data().buffer))]));

describe('parameter groups vs PyTorch (test/fixtures/param_groups.json)', () => {
  it('covers SGD, Adam and AdamW, both schedules, and groups whose lr and weight decay differ', () => {
    expect(new Set(fixture.trajectories.map((t) => t.optimizer))).toEqual(new Set(['SGD', 'Adam', 'AdamW']));
    expect(new Set(fixture.trajectories.map((t) => t.scheduler.kind))).toEqual(new Set(['StepLR', 'CosineAnnealingLR']));
    for (const t of fixture.trajectories) expect(t.steps[0].lrs[0]).not.toBe(t.steps[0].lrs[1]);
  });

  for (const t of fixture.trajectories) {
    it(`${t.name}: eager`, () => {
      const { model, opt, sched, step, dispose } = setup(t);
      try {
        t.steps.forEach((want, i) => {
          expectClose(opt.paramGroups.map((g) => g.lr), want.lrs, 1e-12, 1e-15, `lrs at step ${i + 1}`);
          const loss = tg.tidy(() => step().item());
          expectClose([loss], [want.loss], RTOL, ATOL, `loss at step ${i + 1}`);
          sched.step();
          expectParams(model, want.params, `${t.name}, step ${i + 1}`);
        });
      } finally {
        dispose();
      }
    });

    it(`${t.name}: replayed by tg.trace, the schedule moving each group's lr between runs`, () => {
      const { model, opt, sched, step, dispose } = setup(t);
      const trace = tg.trace(step); // step 1
      try {
        t.steps.forEach((want, i) => {
          if (i > 0) trace.run();
          expectClose([trace.output.item()], [want.loss], RTOL, ATOL, `loss at step ${i + 1}`);
          sched.step();
          expectParams(model, want.params, `${t.name}, step ${i + 1} (replayed)`);
        });
        expect(opt.steps).toBe(fixture.steps);
      } finally {
        trace.dispose();
        dispose();
      }
    });
  }
});

describe('optimizer state dicts with groups resume a trajectory', () => {
  for (const t of fixture.trajectories) {
    it(`${t.name}: 5 steps, then a fresh optimizer with other options loads the state and continues`, () => {
      const a = setup(t), b = setup(t);
      try {
        for (let i = 0; i < 5; i++) { tg.tidy(() => a.step()); a.sched.step(); }
        // b's groups get other options: loading must restore a's (not only lr and the step count)
        for (const g of b.opt.paramGroups) {
          g.weightDecay = 0.3;
          if (t.optimizer === 'SGD') Object.assign(g, { momentum: 0.1, dampening: 0.2, nesterov: false });
          else Object.assign(g, { betas: [0.5, 0.6], eps: 0.1 });
        }
        b.sched.lastEpoch = 5;
        b.model.loadStateDict(a.model.stateDict());
        const state = a.opt.stateDict();
        b.opt.loadStateDict(state);
        expect(b.opt.stateDict().paramGroups).toEqual(state.paramGroups);
        expect((state.paramGroups as { params: number[] }[]).map((g) => g.params)).toEqual([[0, 1], [2, 3, 4, 5]]);
        for (let i = 5; i < fixture.steps; i++) {
          tg.tidy(() => { a.step(); b.step(); });
          a.sched.step();
          b.sched.step();
          expectParams(b.model, t.steps[i].params, `${t.name}, step ${i + 1} (resumed)`);
          expect(bits(b.model)).toEqual(bits(a.model));
        }
      } finally {
        a.dispose();
        b.dispose();
      }
    });
  }

  it('loads a state saved before groups existed (no paramGroups): its options go to every group', () => {
    tg.tidy(() => {
      const p = [tg.tensor([1, 2], { requiresGrad: true }), tg.tensor([3], { requiresGrad: true })];
      const opt = new optim.SGD([{ params: [p[0]] }, { params: [p[1]], lr: 0.5 }], { lr: 0.1 });
      opt.loadStateDict({ step: 0, lr: 0.25, momentum: 0.5, dampening: 0, nesterov: true, weightDecay: 0.125, momentumBuffers: [] });
      for (const g of opt.paramGroups) expect({ ...g, params: null }).toEqual({ params: null, lr: 0.25, momentum: 0.5, dampening: 0, nesterov: true, weightDecay: 0.125 });
      opt.dispose();
    });
  });

  it('rejects a state whose groups do not match, changing nothing', () => {
    tg.tidy(() => {
      const p = [tg.tensor([1, 2], { requiresGrad: true }), tg.tensor([3], { requiresGrad: true })];
      const opt = new optim.Adam([{ params: [p[0]] }, { params: [p[1]], lr: 0.5 }], { lr: 0.1 });
      const good = opt.stateDict();
      const groups = good.paramGroups as Record<string, unknown>[];
      const cases: [unknown, string][] = [
        [groups.slice(0, 1), 'Adam.loadStateDict: paramGroups must be a list of 2 groups (one per parameter group), got a list of 1'],
        ['x', 'Adam.loadStateDict: paramGroups must be a list of 2 groups (one per parameter group), got the string "x"'],
        [[groups[0], 5], 'Adam.loadStateDict: paramGroups[1] must be an object, got 5'],
        [[groups[0], { ...groups[1], params: [0, 1] }], "Adam.loadStateDict: paramGroups[1].params must list the group's 1 parameters, got a list of 2"],
        [[groups[0], { ...groups[1], betas: [1, 0.9] }], 'Adam.loadStateDict: paramGroups[1].betas[0] must be a number in [0, 1), got 1'],
        [[groups[0], { ...groups[1], eps: -1 }], 'Adam.loadStateDict: paramGroups[1].eps must be a number in [0, ∞), got -1'],
        [[groups[0], { ...groups[1], step: 1.5 }], 'Adam.loadStateDict: paramGroups[1].step must be an integer in [0, 2147483647], got 1.5'],
        [[groups[0], { ...groups[1], lr: undefined }], 'Adam.loadStateDict: paramGroups[1].lr must be a number in [0, ∞), got undefined'],
      ];
      for (const [paramGroups, message] of cases) {
        expect(() => opt.loadStateDict({ ...good, paramGroups })).toThrow(message);
        expect(opt.paramGroups.map((g) => [g.lr, g.betas, g.eps])).toEqual([[0.1, [0.9, 0.999], 1e-8], [0.5, [0.9, 0.999], 1e-8]]);
      }
      opt.dispose();
    });
  });
});

describe('parameter groups: API', () => {
  it('options read back as given, while the update uses their float32 copies (issue 13)', () => {
    tg.tidy(() => {
      const p = tg.tensor([1], { requiresGrad: true });
      const opt = new optim.AdamW([p], { lr: 0.1, weightDecay: 0.1, eps: 0.3 });
      expect([opt.lr, opt.weightDecay, opt.eps, opt.paramGroups[0].weightDecay]).toEqual([0.1, 0.1, 0.3, 0.1]);
      opt.weightDecay = 0.7;
      opt.paramGroups[0].betas = [0.3, 0.7];
      expect([opt.weightDecay, opt.paramGroups[0].weightDecay, opt.betas, opt.stateDict().weightDecay]).toEqual([0.7, 0.7, [0.3, 0.7], 0.7]);
      opt.dispose();
    });
  });

  it('per-group options override the defaults; opt.lr sets every group', () => {
    tg.tidy(() => {
      const a = tg.tensor([1], { requiresGrad: true }), b = tg.tensor([2], { requiresGrad: true });
      const opt = new optim.SGD([{ params: [a], lr: 0.5 }, { params: b, momentum: 0.9 }], { lr: 0.1, weightDecay: 0.01 });
      expect(opt.paramGroups.map((g) => ({ ...g }))).toEqual([
        { params: [a], lr: 0.5, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0.01 },
        { params: [b], lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0.01 },
      ]);
      expect(opt.params).toEqual([a, b]);
      opt.lr = 0.25;
      expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.25, 0.25]);
      opt.dispose();
    });
  });

  it('SGD: a group may give lr when the options do not', () => {
    tg.tidy(() => {
      const a = tg.tensor([1], { requiresGrad: true });
      const opt = new optim.SGD([{ params: [a], lr: 0.5 }], {} as never);
      a.mul(3).sum().backward();
      opt.step();
      expect(a.item()).toBeCloseTo(1 - 0.5 * 3, 6);
      expect(() => new optim.SGD([{ params: [a] }], {} as never)).toThrow('SGD: parameter group 0 has no lr (give it in the group or the options)');
      opt.dispose();
    });
  });

  it('each group steps with its own lr and weight decay (hand-derived SGD and Adam updates)', () => {
    tg.tidy(() => {
      const a = tg.tensor([1, -2], { requiresGrad: true }), b = tg.tensor([4], { requiresGrad: true });
      const sgd = new optim.SGD([{ params: [a], weightDecay: 0.5 }, { params: [b], lr: 0.01 }], { lr: 0.1 });
      a.mul(a).sum().add(b.mul(b).sum()).backward(); // grads 2a, 2b
      sgd.step();
      expectClose(a.data(), [1 - 0.1 * (2 + 0.5), -2 - 0.1 * (-4 - 1)], 1e-6, 1e-7, 'a');
      expectClose(b.data(), [4 - 0.01 * 8], 1e-6, 1e-7, 'b');
      sgd.dispose();
      // Adam's first step moves each parameter by lr·sign(grad) (m̂/√v̂ = g/|g|)
      const c = tg.tensor([1, -1], { requiresGrad: true }), d = tg.tensor([3], { requiresGrad: true });
      const adam = new optim.Adam([{ params: [c] }, { params: [d], lr: 0.5 }], { lr: 0.1 });
      c.sum().add(d.sum().neg()).backward();
      adam.step();
      expectClose(c.data(), [0.9, -1.1], 1e-6, 1e-7, 'c');
      expectClose(d.data(), [3.5], 1e-6, 1e-7, 'd');
      adam.dispose();
    });
  });

  it('addParamGroup: the new group takes the defaults and starts at step 0', () => {
    tg.tidy(() => {
      const a = tg.tensor([1], { requiresGrad: true }), b = tg.tensor([5, 6], { requiresGrad: true });
      const opt = new optim.Adam([a], { lr: 0.1 });
      for (let i = 0; i < 3; i++) { opt.zeroGrad(); a.mul(2).sum().backward(); opt.step(); }
      opt.addParamGroup({ params: [b], lr: 0.25 });
      expect(opt.paramGroups.length).toBe(2);
      expect({ ...opt.paramGroups[1], params: null }).toEqual({ params: null, lr: 0.25, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 });
      opt.zeroGrad();
      b.mul(b).sum().backward();
      opt.step();
      expectClose(b.data(), [4.75, 5.75], 1e-6, 1e-7, 'b after its first Adam step');
      expect((opt.stateDict().paramGroups as { step: number }[]).map((g) => g.step)).toEqual([4, 1]);
      expect(() => opt.addParamGroup({ params: [a] })).toThrow('Adam.addParamGroup: some parameters appear more than once');
      expect(() => opt.addParamGroup({ params: [tg.tensor([1])], eps: -1 })).toThrow('Adam.addParamGroup: parameter group 2: eps must be a number in [0, ∞), got -1');
      expect(opt.paramGroups.length).toBe(2);
      opt.dispose();
    });
  });

  it('a parameter in two groups, or twice in one list, is an Error as in PyTorch', () => {
    tg.tidy(() => {
      const a = tg.tensor([1], { requiresGrad: true }), b = tg.tensor([2], { requiresGrad: true });
      const before = tg.memory().tensors;
      expect(() => new optim.SGD([a, b, a], { lr: 0.1 })).toThrow('SGD: some parameters appear more than once (in one group or in more than one parameter group)');
      expect(() => new optim.AdamW([{ params: [a] }, { params: [b, a] }])).toThrow('AdamW: some parameters appear more than once');
      expect(() => new optim.Adam([{ params: [a] }, { params: [b], foo: 1 }] as never)).toThrow('Adam: parameter group 1: unknown option "foo"');
      expect(() => new optim.Adam([{ params: [a] }, b] as never)).toThrow('Adam: parameter group 1 must be an object {params, ...options}, got a Tensor');
      expect(() => new optim.Adam([{ lr: 1 }] as never)).toThrow('Adam: parameter group 0 has no params');
      expect(() => new optim.SGD([{ params: [b], nesterov: true }], { lr: 1 })).toThrow('SGD: parameter group 0: nesterov momentum requires a momentum > 0 and zero dampening');
      expect(tg.memory().tensors).toBe(before);
    });
  });

  it('a group option set between replays takes effect, as in an eager twin', () => {
    const make = () => {
      const a = tg.tensor([1, -2, 3], { requiresGrad: true }), b = tg.tensor([0.5, 4], { requiresGrad: true });
      const opt = new optim.SGD([{ params: [a], momentum: 0.9 }, { params: [b] }], { lr: 0.1 });
      const step = () => tg.tidy(() => { opt.zeroGrad(); a.mul(a).sum().add(b.mul(b).mul(b).sum()).backward(); opt.step(); });
      return { a, b, opt, step };
    };
    const eager = make(), replayed = make();
    const trace = tg.trace(replayed.step);
    eager.step();
    try {
      for (let i = 1; i < 6; i++) {
        for (const m of [eager, replayed]) {
          m.opt.paramGroups[1].lr = 0.1 / (i + 1);
          m.opt.paramGroups[0].weightDecay = i * 0.1;
          m.opt.paramGroups[1].weightDecay = 0.05;
        }
        eager.step();
        trace.run();
        expect(Array.from(replayed.a.data())).toEqual(Array.from(eager.a.data()));
        expect(Array.from(replayed.b.data())).toEqual(Array.from(eager.b.data()));
      }
      // lr 0 freezes the group: a moves, b stays
      replayed.opt.paramGroups[1].lr = 0;
      const b0 = Array.from(replayed.b.data()), a0 = Array.from(replayed.a.data());
      trace.run();
      expect(Array.from(replayed.b.data())).toEqual(b0);
      expect(Array.from(replayed.a.data())).not.toEqual(a0);
      // momentum cannot be turned on for a group the recorded step ran without buffers
      expect(() => { replayed.opt.paramGroups[1].momentum = 0.5; }).not.toThrow(); // group 1 has buffers: the step made them for every group
    } finally {
      trace.dispose();
      for (const m of [eager, replayed]) { m.opt.dispose(); tg.dispose([m.a, m.b]); }
    }
  });

  it('turning momentum on while a trace replays a plain SGD step is an Error', () => {
    const a = tg.tensor([1, 2], { requiresGrad: true });
    const opt = new optim.SGD([a], { lr: 0.1 });
    const trace = tg.trace(() => tg.tidy(() => { opt.zeroGrad(); a.mul(a).sum().backward(); opt.step(); }));
    try {
      expect(() => { opt.paramGroups[0].momentum = 0.9; }).toThrow("SGD.paramGroups[0]: cannot turn momentum on while a trace replays a step made without momentum buffers");
      expect(opt.paramGroups[0].momentum).toBe(0);
      const state = { ...opt.stateDict(), momentum: 0.5 };
      expect(() => opt.loadStateDict({ ...state, paramGroups: undefined })).toThrow('cannot turn momentum on');
    } finally {
      trace.dispose();
    }
    opt.paramGroups[0].momentum = 0.9; // no trace holds the step any more
    expect(opt.momentum).toBe(0.9);
    opt.dispose();
    a.dispose();
  });

  it('a group option rejects a bad value and keeps the old one', () => {
    tg.tidy(() => {
      const a = tg.tensor([1], { requiresGrad: true });
      const opt = new optim.Adam([{ params: [a], lr: 0.5 }]);
      const g = opt.paramGroups[0];
      expect(() => { g.lr = -1; }).toThrow('Adam.paramGroups[0]: lr must be a number in [0, ∞), got -1');
      expect(() => { g.betas = [0.5] as never; }).toThrow('Adam.paramGroups[0]: betas must be a pair [beta1, beta2]');
      expect(() => { (g as Record<string, unknown>).momentum = 0.5; }).toThrow(TypeError); // not an Adam option: the group is sealed
      expect(() => { (g.betas as unknown as number[])[0] = 0.1; }).toThrow(TypeError); // frozen: set the pair instead
      expect([g.lr, g.betas]).toEqual([0.5, [0.9, 0.999]]);
      opt.dispose();
      expect(() => { g.lr = 0.1; }).toThrow('Adam.lr: the optimizer was disposed');
    });
  });
});

describe('parameter groups: messages without groups stay as before', () => {
  it('a plain list names the optimizer, not a group', () => {
    tg.tidy(() => {
      const a = tg.tensor([1], { requiresGrad: true });
      expect(() => new optim.SGD([a], {} as never)).toThrow(/^SGD: lr must be a number in \[0, ∞\), got undefined$/);
      expect(() => new optim.SGD([a], { lr: 1, nesterov: true })).toThrow(/^SGD: nesterov momentum requires a momentum > 0 and zero dampening$/);
    });
  });
});
