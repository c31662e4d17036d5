// tg.nn against PyTorch: every module case of test/fixtures/nn.json (scripts/gen_nn_fixtures.py)
// loads the fixture's explicit weights with loadStateDict, runs forward and backward(upstream),
// and compares the output, the input's gradient and every parameter's gradient. Then the losses,
// gradcheck on conv2d, pooling and each loss, and the Module mechanics: names, init, modes,
// state dicts and their errors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { expectClose } from './helpers.js';

type Tensor = InstanceType<typeof tg.Tensor>;
type Module = InstanceType<typeof tg.nn.Module>;

interface Data { shape: number[]; data: number[] }
interface Spec { module: string; args: unknown[]; kwargs: Record<string, unknown>; children?: Spec[] }
interface ModuleCase {
  name: string;
  spec: Spec;
  eval: boolean;
  state: Record<string, Data>;
  input: Data | { index: Data };
  out: Data;
  upstream: Data;
  inputGrad: Data | null;
  paramGrads: Record<string, Data>;
}
type InputSpec = (Data & { requiresGrad: boolean }) | { index: Data };
interface LossCase {
  name: string;
  loss: 'crossEntropy' | 'nllLoss' | 'mseLoss' | 'binaryCrossEntropyWithLogits';
  inputs: InputSpec[];
  kwargs: Record<string, unknown>;
  out: Data;
  upstream: Data | null;
  grads: (Data | null)[];
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/nn.json', import.meta.url), 'utf8')) as {
  modules: ModuleCase[];
  losses: LossCase[];
};

const RTOL = 1e-4;
const ATOL = 1e-5;

/** new tg.nn[module](...args, kwargs) from a fixture spec (Sequential takes its children). */
export function buildModule(spec: Spec): Module {
  const nn = tg.nn as unknown as Record<string, new (...a: unknown[]) => Module>;
  if (spec.module === 'Sequential') return new tg.nn.Sequential(...(spec.children ?? []).map(buildModule));
  const Ctor = nn[spec.module];
  if (typeof Ctor !== 'function') throw new Error(`tg.nn.${spec.module} does not exist`);
  const args = Object.keys(spec.kwargs ?? {}).length > 0 ? [...spec.args, spec.kwargs] : spec.args;
  return new Ctor(...args);
}

const toTensor = (d: Data, requiresGrad = false): Tensor => tg.tensor(d.data, { shape: d.shape, requiresGrad });

export function stateFromJson(state: Record<string, Data>): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(state).map(([k, v]) => [k, toTensor(v)]));
}

describe('nn modules vs PyTorch (test/fixtures/nn.json)', () => {
  it('has module cases', () => {
    expect(fixture.modules.length).toBeGreaterThan(50);
  });

  for (const c of fixture.modules) {
    it(c.name, () => {
      tg.tidy(() => {
        const m = buildModule(c.spec);
        try {
          // names and order match PyTorch's state_dict
          expect(Object.keys(m.stateDict())).toEqual(Object.keys(c.state));
          m.loadStateDict(stateFromJson(c.state));
          if (c.eval) m.eval();
          const x = 'index' in c.input ? toTensor(c.input.index) : toTensor(c.input, true);
          const out = m.forward(x);
          const atol = ATOL;
          expect(out.shape).toEqual(c.out.shape);
          expectClose(out.data(), c.out.data, RTOL, atol, `${c.name}: forward`, c.out.shape);
          out.backward(toTensor(c.upstream));
          if (c.inputGrad) {
            const g = x.grad;
            expect(g, 'input gradient').not.toBeNull();
            expect(g!.shape).toEqual(c.inputGrad.shape);
            expectClose(g!.data(), c.inputGrad.data, RTOL, atol, `${c.name}: input grad`, c.inputGrad.shape);
          }
          const named = m.namedParameters();
          expect(named.map(([k]) => k).sort()).toEqual(Object.keys(c.paramGrads).sort());
          for (const [k, p] of named) {
            const g = p.grad;
            expect(g, `grad of ${k}`).not.toBeNull();
            expectClose(g!.data(), c.paramGrads[k].data, RTOL, atol, `${c.name}: grad of ${k}`, c.paramGrads[k].shape);
          }
        } finally {
          m.dispose();
        }
      });
    });
  }
});

// ----------------------------------------------------------------------------- losses

const F = tg.nn.functional;

/** Labels in the three accepted forms, rotated by case so each loss sees all of them. */
function labelsFor(d: Data, k: number): number[] | Int32Array | Tensor {
  switch (k % 3) {
    case 0: return d.data.slice();
    case 1: return Int32Array.from(d.data);
    default: return toTensor(d);
  }
}

function callLoss(name: LossCase['loss'], a: Tensor, b: unknown, kwargs: Record<string, unknown>): Tensor {
  const fn = F[name] as (x: Tensor, y: unknown, o: Record<string, unknown>) => Tensor;
  return fn(a, b, kwargs);
}

describe('losses vs PyTorch (test/fixtures/nn.json)', () => {
  it('has loss cases for each loss', () => {
    const kinds = new Set(fixture.losses.map((c) => c.loss));
    expect([...kinds].sort()).toEqual(['binaryCrossEntropyWithLogits', 'crossEntropy', 'mseLoss', 'nllLoss']);
  });

  fixture.losses.forEach((c, k) => {
    it(c.name, () => {
      tg.tidy(() => {
        const inputs = c.inputs.map((s) => ('index' in s ? labelsFor(s.index, k) : toTensor(s, s.requiresGrad)));
        const out = callLoss(c.loss, inputs[0] as Tensor, inputs[1], c.kwargs);
        const atol = ATOL;
        expect(out.shape).toEqual(c.out.shape);
        expectClose(out.data(), c.out.data, RTOL, atol, `${c.name}: forward`, c.out.shape);
        if (c.upstream) out.backward(toTensor(c.upstream));
        else out.backward();
        c.grads.forEach((g, i) => {
          if (!g) return;
          const actual = (inputs[i] as Tensor).grad;
          expect(actual, `grad of input ${i}`).not.toBeNull();
          expectClose(actual!.data(), g.data, RTOL, atol, `${c.name}: grad of input ${i}`, g.shape);
        });
      });
    });
  });

  it('crossEntropy of logits ±100 is finite and exact', () => {
    tg.tidy(() => {
      const loss = F.crossEntropy(tg.tensor([[100, -100], [-100, 100]]), [0, 1]);
      expect(loss.item()).toBe(0);
      const wrong = F.crossEntropy(tg.tensor([[100, -100]]), [1]);
      expect(wrong.item()).toBeCloseTo(200, 3);
    });
  });

  it('binaryCrossEntropyWithLogits of ±100 is finite', () => {
    tg.tidy(() => {
      const x = tg.tensor([100, -100, 100, -100], { requiresGrad: true });
      const loss = F.binaryCrossEntropyWithLogits(x, tg.tensor([1, 0, 0, 1]), { reduction: 'none' });
      expectClose(loss.data(), [0, 0, 100, 100], 1e-6, 1e-6, 'bce ±100');
      loss.sum().backward();
      expectClose(x.grad!.data(), [0, 0, 1, -1], 1e-6, 1e-6, 'bce ±100 grad');
    });
  });
});

// ----------------------------------------------------------------------------- gradcheck

/** Deterministic values in [-1, 1) (or [lo, hi)) that do not depend on manualSeed. */
function values(n: number, seed: number, lo = -1, hi = 1): number[] {
  const out: number[] = [];
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out.push(lo + ((s % 100000) / 100000) * (hi - lo));
  }
  return out;
}

function param(shape: number[], seed: number, scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tg.tensor(values(n, seed).map((v) => v * scale), { shape, requiresGrad: true });
}

/** Values a fixed gap apart in shuffled order: no ties within eps, so max pooling is differentiable. */
function distinct(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const order = values(n, seed).map((v, i) => [v, i]).sort((a, b) => a[0] - b[0]).map(([, i]) => i);
  const data = new Array<number>(n);
  order.forEach((i, rank) => { data[i] = (rank - n / 2) * 0.05; });
  return tg.tensor(data, { shape, requiresGrad: true });
}

describe('gradcheck', () => {
  const convs: [string, number[], number[], boolean, { stride?: number | [number, number]; padding?: number | [number, number] }][] = [
    ['3x3, stride 1, no padding', [2, 2, 5, 5], [3, 2, 3, 3], true, {}],
    ['3x3, stride 2, padding 1', [1, 2, 6, 5], [2, 2, 3, 3], true, { stride: 2, padding: 1 }],
    ['2x3, stride [2,1], padding [1,2], no bias', [1, 1, 5, 4], [2, 1, 2, 3], false, { stride: [2, 1], padding: [1, 2] }],
    ['5x5, padding 2', [1, 2, 4, 4], [1, 2, 5, 5], true, { padding: 2 }],
  ];
  for (const [label, xs, ws, bias, opts] of convs) {
    it(`conv2d: ${label}`, () => {
      tg.tidy(() => {
        const x = param(xs, 11), w = param(ws, 12, 0.5);
        const inputs = bias ? [x, w, param([ws[0]], 13)] : [x, w];
        expect(tg.gradcheck((a, b, c) => F.conv2d(a, b, c ?? null, opts), inputs, { eps: 1e-2, atol: 2e-3, rtol: 1e-2 })).toBe(true);
      });
    });
  }

  it('linear', () => {
    tg.tidy(() => {
      expect(tg.gradcheck((x, w, b) => F.linear(x, w, b), [param([3, 4], 21), param([5, 4], 22), param([5], 23)], { eps: 1e-2 })).toBe(true);
    });
  });

  it('layerNorm', () => {
    tg.tidy(() => {
      expect(tg.gradcheck((x, w, b) => F.layerNorm(x, [5], w, b), [param([3, 5], 31, 2), param([5], 32), param([5], 33)], { eps: 1e-2, atol: 3e-3 })).toBe(true);
    });
  });

  for (const [name, fn] of [
    ['maxPool2d(2)', (x: Tensor) => F.maxPool2d(x, 2)],
    ['maxPool2d(3, {stride 2, padding 1})', (x: Tensor) => F.maxPool2d(x, 3, { stride: 2, padding: 1 })],
    ['avgPool2d(2)', (x: Tensor) => F.avgPool2d(x, 2)],
    ['avgPool2d(3, {stride 2, padding 1})', (x: Tensor) => F.avgPool2d(x, 3, { stride: 2, padding: 1 })],
  ] as const) {
    it(name, () => {
      tg.tidy(() => {
        expect(tg.gradcheck(fn, [distinct([1, 2, 5, 6], 41)], { eps: 1e-2 })).toBe(true);
      });
    });
  }

  const labels = [2, 0, 3, 3];
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    it(`crossEntropy ${reduction}, labelSmoothing 0 and 0.1`, () => {
      tg.tidy(() => {
        for (const labelSmoothing of [0, 0.1]) {
          expect(tg.gradcheck((x) => F.crossEntropy(x, labels, { reduction, labelSmoothing }), [param([4, 5], 51, 2)], { eps: 1e-2 })).toBe(true);
        }
      });
    });
    it(`nllLoss ${reduction}`, () => {
      tg.tidy(() => {
        expect(tg.gradcheck((x) => F.nllLoss(x, labels, { reduction }), [param([4, 5], 52)], { eps: 1e-2 })).toBe(true);
      });
    });
    it(`mseLoss ${reduction}`, () => {
      tg.tidy(() => {
        expect(tg.gradcheck((a, b) => F.mseLoss(a, b, { reduction }), [param([3, 4], 53), param([3, 4], 54)], { eps: 1e-2 })).toBe(true);
      });
    });
    it(`binaryCrossEntropyWithLogits ${reduction}`, () => {
      tg.tidy(() => {
        const target = tg.tensor(values(12, 55, 0, 1), { shape: [3, 4] });
        expect(tg.gradcheck((x) => F.binaryCrossEntropyWithLogits(x, target, { reduction }), [param([3, 4], 56, 3)], { eps: 1e-2 })).toBe(true);
      });
    });
  }

  it('a Sequential model end to end (conv, pool, flatten, linear, layerNorm)', () => {
    tg.tidy(() => {
      tg.manualSeed(5);
      const m = new tg.nn.Sequential(
        new tg.nn.Conv2d(1, 2, 3, { padding: 1 }), new tg.nn.Tanh(), new tg.nn.AvgPool2d(2),
        new tg.nn.Flatten(), new tg.nn.Linear(8, 3), new tg.nn.LayerNorm(3),
      );
      try {
        const x = param([2, 1, 4, 4], 61);
        expect(tg.gradcheck((a) => m.forward(a), [x], { eps: 1e-2, atol: 3e-3 })).toBe(true);
      } finally {
        m.dispose();
      }
    });
  });
});

// ----------------------------------------------------------------------------- Module mechanics

/** Runs fn with a module and disposes its parameters afterwards. */
function using<M extends Module, T>(m: M, fn: (m: M) => T): T {
  try {
    return fn(m);
  } finally {
    m.dispose();
  }
}

class Custom extends tg.nn.Module {
  scale: Tensor;
  encoder = new tg.nn.Linear(3, 4);
  heads = [new tg.nn.Linear(4, 2), new tg.nn.Linear(4, 1, { bias: false })];
  _cache: Tensor | null = null; // private: never a parameter
  constructor() {
    super();
    this.scale = tg.nn.parameter(tg.ones([1]));
    this.registerParameter('offset', tg.zeros([2]));
  }
  forward(x: Tensor): Tensor {
    const h = this.encoder.forward(x).tanh();
    return this.heads[0].forward(h).mul(this.scale).add(this.stateDict().offset);
  }
}

describe('Module: names and structure', () => {
  it('Sequential names children 0, 1, ... and skips parameterless ones', () => {
    using(new tg.nn.Sequential(new tg.nn.Linear(4, 8), new tg.nn.ReLU(), new tg.nn.Linear(8, 3)), (m) => {
      expect(m.namedParameters().map(([k, p]) => [k, p.shape])).toEqual([
        ['0.weight', [8, 4]], ['0.bias', [8]], ['2.weight', [3, 8]], ['2.bias', [3]],
      ]);
      expect(m.parameters().length).toBe(4);
      expect(m.length).toBe(3);
      expect(m.at(-1)).toBeInstanceOf(tg.nn.Linear);
      expect(m.namedModules().map(([k]) => k)).toEqual(['', '0', '1', '2']);
    });
  });

  it('MLP names its layers layers.0, layers.1, ...', () => {
    using(new tg.nn.MLP(4, [8, 6], 3), (m) => {
      expect(Object.keys(m.stateDict())).toEqual([
        'layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias', 'layers.2.weight', 'layers.2.bias',
      ]);
      expect(m.stateDict()['layers.1.weight'].shape).toEqual([6, 8]);
    });
  });

  it('a custom module: tensor fields, child fields, arrays of modules, registerParameter, private fields', () => {
    using(new Custom(), (m) => {
      expect(m.namedParameters().map(([k]) => k)).toEqual([
        'scale', 'offset', 'encoder.weight', 'encoder.bias', 'heads.0.weight', 'heads.0.bias', 'heads.1.weight',
      ]);
      expect(m.namedChildren().map(([k]) => k)).toEqual(['encoder', 'heads.0', 'heads.1']);
      const out = tg.tidy(() => m.forward(tg.ones([5, 3])).shape);
      expect(out).toEqual([5, 2]);
    });
  });

  it('a parameter shared by two modules is listed once', () => {
    const a = new tg.nn.Linear(3, 3);
    const b = new tg.nn.Linear(3, 3);
    b.weight.dispose();
    b.weight = a.weight;
    using(new tg.nn.Sequential(a, b), (m) => {
      expect(m.namedParameters().map(([k]) => k)).toEqual(['0.weight', '0.bias', '1.bias']);
      expect(Object.keys(m.stateDict())).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    });
  });

  it('registerBuffer: saved and loaded with the state dict, but not a parameter', () => {
    class Scaler extends tg.nn.Module {
      lin = new tg.nn.Linear(2, 2);
      constructor() {
        super();
        this.registerBuffer('runningMean', tg.zeros([2]));
      }
    }
    using(new Scaler(), (m) => {
      expect(m.namedParameters().map(([k]) => k)).toEqual(['lin.weight', 'lin.bias']);
      expect(m.namedBuffers().map(([k]) => k)).toEqual(['runningMean']);
      expect(Object.keys(m.stateDict())).toEqual(['runningMean', 'lin.weight', 'lin.bias']);
      tg.tidy(() => m.loadStateDict({ runningMean: tg.tensor([3, 4]), 'lin.weight': tg.zeros([2, 2]), 'lin.bias': tg.zeros([2]) }));
      expect(m.stateDict().runningMean.toArray()).toEqual([3, 4]);
      expect(m.stateDict().runningMean.requiresGrad).toBe(false);
      tg.tidy(() => expect(() => m.loadStateDict({ runningMean: tg.zeros([2]) })).toThrow('missing keys: "lin.weight", "lin.bias"'));
    });
  });

  it('bias: false leaves the bias out', () => {
    using(new tg.nn.Linear(3, 2, { bias: false }), (m) => {
      expect(m.bias).toBeNull();
      expect(m.namedParameters().map(([k]) => k)).toEqual(['weight']);
    });
    using(new tg.nn.Conv2d(3, 2, 3, { bias: false }), (m) => {
      expect(Object.keys(m.stateDict())).toEqual(['weight']);
    });
  });

  it('registration helpers reject bad names and duplicates', () => {
    using(new tg.nn.Linear(2, 2), (m) => {
      expect(() => m.registerParameter('weight', tg.zeros([1]))).toThrow(/already/);
      expect(() => m.registerParameter('a.b', tg.zeros([1]))).toThrow(/without "\."/);
      expect(() => m.registerModule('x', 3 as unknown as Module)).toThrow(/must be a Module/);
    });
  });

  it('toString shows the tree like PyTorch', () => {
    using(new tg.nn.Sequential(new tg.nn.Linear(4, 8), new tg.nn.ReLU(), new tg.nn.Conv2d(1, 2, 3, { stride: 2 })), (m) => {
      expect(m.toString()).toBe(
        'Sequential(\n  (0): Linear(in_features=4, out_features=8, bias=True)\n  (1): ReLU()\n' +
          '  (2): Conv2d(1, 2, kernel_size=(3, 3), stride=(2, 2))\n)',
      );
    });
  });

  it("an array of modules prints nested, as PyTorch's ModuleList", () => {
    using(new tg.nn.MLP(2, [3], 1), (m) => {
      expect(m.toString()).toBe(
        'MLP(\n  activation=relu\n  (layers): ModuleList(\n    (0): Linear(in_features=2, out_features=3, bias=True)\n' +
          '    (1): Linear(in_features=3, out_features=1, bias=True)\n  )\n)',
      );
    });
  });

  it('constructor arguments are checked', () => {
    expect(() => new tg.nn.Linear(0, 3)).toThrow(/Linear: inFeatures must be a positive integer, got 0/);
    expect(() => new tg.nn.MLP(3, [4], 2, { activation: 'swish' as 'relu' })).toThrow(/unknown activation "swish"/);
    expect(() => new tg.nn.Conv2d(1, 1, 3, { padding: -1 })).toThrow(/padding/);
    expect(() => new tg.nn.MaxPool2d(2, { padding: 2 })).toThrow(/at most half/);
    expect(() => new tg.nn.Dropout(1.5)).toThrow(/probability/);
    expect(() => new tg.nn.LayerNorm([])).toThrow(/normalizedShape/);
    expect(() => new tg.nn.Sequential(new tg.nn.ReLU(), 5 as unknown as Module)).toThrow(/position 1/);
  });
});

describe('Module: parameters', () => {
  const stats = (t: Tensor): { min: number; max: number; mean: number; variance: number } => {
    const d = t.data();
    let s = 0, s2 = 0, lo = Infinity, hi = -Infinity;
    for (const v of d) { s += v; s2 += v * v; lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const mean = s / d.length;
    return { min: lo, max: hi, mean, variance: s2 / d.length - mean * mean };
  };

  it('Linear and Conv2d start U(-1/√fan_in, 1/√fan_in), weights and biases', () => {
    tg.manualSeed(1);
    using(new tg.nn.Linear(400, 300), (m) => {
      const b = 1 / Math.sqrt(400);
      const w = stats(m.weight);
      expect(w.min).toBeGreaterThanOrEqual(-b);
      expect(w.max).toBeLessThanOrEqual(b);
      expect(w.min).toBeLessThan(-0.99 * b);
      expect(w.max).toBeGreaterThan(0.99 * b);
      expect(Math.abs(w.mean)).toBeLessThan(0.01 * b);
      expect(w.variance).toBeCloseTo((b * b) / 3, 5);
      const bias = stats(m.bias!);
      expect(bias.min).toBeGreaterThanOrEqual(-b);
      expect(bias.max).toBeLessThanOrEqual(b);
      expect(bias.max - bias.min).toBeGreaterThan(b);
    });
    using(new tg.nn.Conv2d(16, 32, [3, 5]), (m) => {
      const b = 1 / Math.sqrt(16 * 15);
      const w = stats(m.weight);
      expect(w.min).toBeGreaterThanOrEqual(-b);
      expect(w.max).toBeLessThanOrEqual(b);
      expect(w.max).toBeGreaterThan(0.98 * b);
      expect(Math.abs(stats(m.bias!).max)).toBeLessThanOrEqual(b);
    });
  });

  it('Embedding starts N(0, 1); LayerNorm ones and zeros', () => {
    tg.manualSeed(2);
    using(new tg.nn.Embedding(200, 100), (m) => {
      const s = stats(m.weight);
      expect(Math.abs(s.mean)).toBeLessThan(0.02);
      expect(Math.sqrt(s.variance)).toBeCloseTo(1, 1);
    });
    using(new tg.nn.LayerNorm([2, 3]), (m) => {
      expect(m.weight!.toArray()).toEqual([[1, 1, 1], [1, 1, 1]]);
      expect(m.bias!.toArray()).toEqual([[0, 0, 0], [0, 0, 0]]);
    });
  });

  it('tg.manualSeed makes initialisation deterministic', () => {
    tg.manualSeed(42);
    const a = new tg.nn.MLP(3, [5], 2);
    tg.manualSeed(42);
    const b = new tg.nn.MLP(3, [5], 2);
    const c = new tg.nn.MLP(3, [5], 2);
    try {
      for (const [k, t] of Object.entries(a.stateDict())) {
        expect(Array.from(b.stateDict()[k].data())).toEqual(Array.from(t.data()));
      }
      expect(Array.from(c.stateDict()['layers.0.weight'].data())).not.toEqual(Array.from(a.stateDict()['layers.0.weight'].data()));
    } finally {
      a.dispose(); b.dispose(); c.dispose();
    }
  });

  it('parameters require grad and outlive the tidy scope that built the module', () => {
    const m = tg.tidy(() => new tg.nn.Sequential(new tg.nn.Linear(2, 3), new tg.nn.LayerNorm(3), new tg.nn.Embedding(4, 2)));
    using(m, () => {
      for (const [k, p] of m.namedParameters()) {
        expect(p.isDisposed, k).toBe(false);
        expect(p.requiresGrad, k).toBe(true);
      }
    });
    for (const p of m.parameters()) expect(p.isDisposed).toBe(true);
  });

  it('a module leaks nothing: build, train a step in tidy, dispose', () => {
    const before = tg.memory().tensors;
    const m = new tg.nn.Sequential(new tg.nn.Linear(4, 8), new tg.nn.GELU(), new tg.nn.Dropout(0.2), new tg.nn.Linear(8, 3));
    for (let i = 0; i < 3; i++) {
      tg.tidy(() => {
        m.zeroGrad();
        const loss = F.crossEntropy(m.forward(tg.randn([5, 4])), [0, 1, 2, 1, 0]);
        loss.backward();
      });
    }
    tg.tidy(() => new tg.nn.Embedding(5, 3).forward([[1, 2], [3, 4]]).sum().backward());
    m.dispose();
    // the Embedding built inside tidy keeps its weight (a parameter) until disposed: one tensor
    expect(tg.memory().tensors).toBe(before + 1);
  });

  it('zeroGrad zeroes every parameter gradient', () => {
    using(new tg.nn.MLP(3, [4], 2), (m) => {
      tg.tidy(() => m.forward(tg.ones([2, 3])).sum().backward());
      expect(m.parameters().some((p) => p.grad!.data().some((v) => v !== 0))).toBe(true);
      m.zeroGrad();
      for (const p of m.parameters()) expect(Array.from(p.grad!.data()).every((v) => v === 0)).toBe(true);
    });
  });
});

describe('Module: train / eval and Dropout', () => {
  it('train() and eval() are recursive and chainable', () => {
    using(new tg.nn.Sequential(new tg.nn.Sequential(new tg.nn.Dropout()), new tg.nn.MLP(2, [2], 2)), (m) => {
      expect(m.modules().every((x) => x.training)).toBe(true);
      expect(m.eval()).toBe(m);
      expect(m.modules().every((x) => !x.training)).toBe(true);
      m.train();
      expect(m.modules().every((x) => x.training)).toBe(true);
      m.train(false);
      expect(m.modules().some((x) => x.training)).toBe(false);
    });
  });

  it('Dropout zeroes about p of the elements and scales the rest by 1/(1-p); eval() is the identity', () => {
    tg.tidy(() => {
      const d = new tg.nn.Dropout(0.3);
      const x = tg.ones([100, 100], { requiresGrad: true });
      tg.manualSeed(7);
      const y = d.forward(x);
      const v = y.data();
      const zeros = v.filter((e) => e === 0).length / v.length;
      expect(zeros).toBeGreaterThan(0.27);
      expect(zeros).toBeLessThan(0.33);
      for (const e of v) if (e !== 0) expect(e).toBeCloseTo(1 / 0.7, 5);
      y.sum().backward();
      expect(Array.from(x.grad!.data())).toEqual(Array.from(v)); // the same mask
      tg.manualSeed(7);
      expect(Array.from(d.forward(x).data())).toEqual(Array.from(v)); // seeded
      d.eval();
      expect(Array.from(d.forward(x).data()).every((e) => e === 1)).toBe(true);
    });
  });
});

describe('Module: Embedding index forms', () => {
  it('accepts number[], nested arrays, Int32Array and tensors of any rank', () => {
    tg.tidy(() => {
      const e = new tg.nn.Embedding(6, 2);
      e.loadStateDict({ weight: tg.arange(12).reshape([6, 2]) });
      expect(e.forward([5, 0]).toArray()).toEqual([[10, 11], [0, 1]]);
      expect(e.forward(Int32Array.from([2])).toArray()).toEqual([[4, 5]]);
      expect(e.forward([[1], [3]]).toArray()).toEqual([[[2, 3]], [[6, 7]]]);
      expect(e.forward(tg.tensor([[1, 2], [3, 4]])).shape).toEqual([2, 2, 2]);
      expect(() => e.forward([6])).toThrow(/out of range/);
      e.dispose();
    });
  });
});

describe('Module: stateDict / loadStateDict', () => {
  it('stateDict holds the parameters themselves; loadStateDict copies values into them', () => {
    using(new tg.nn.Linear(2, 2), (m) => {
      const sd = m.stateDict();
      expect(sd.weight).toBe(m.weight);
      const w = m.weight;
      tg.tidy(() => m.loadStateDict({ weight: tg.tensor([[1, 2], [3, 4]]), bias: tg.tensor([5, 6]) }));
      expect(m.weight).toBe(w); // same tensor, new values: optimizers holding it keep working
      expect(m.weight.toArray()).toEqual([[1, 2], [3, 4]]);
      expect(m.bias!.toArray()).toEqual([5, 6]);
      expect(m.weight.requiresGrad).toBe(true);
    });
  });

  it('an optimizer built before loadStateDict updates the loaded values', () => {
    using(new tg.nn.Linear(2, 1), (m) => {
      const opt = new tg.optim.SGD(m.parameters(), { lr: 0.5 });
      tg.tidy(() => m.loadStateDict({ weight: tg.tensor([[1, -1]]), bias: tg.tensor([0]) }));
      tg.tidy(() => {
        opt.zeroGrad();
        m.forward(tg.tensor([[2, 3]])).sum().backward(); // d/dw = x, d/db = 1
        opt.step();
      });
      expect(m.weight.toArray()).toEqual([[0, -2.5]]);
      expect(m.bias!.toArray()).toEqual([-0.5]);
      opt.dispose();
    });
  });

  it('round-trips between two models', () => {
    tg.manualSeed(3);
    const a = new tg.nn.MLP(3, [4], 2, { activation: 'tanh' });
    const b = new tg.nn.MLP(3, [4], 2, { activation: 'tanh' });
    try {
      b.loadStateDict(a.stateDict());
      tg.tidy(() => {
        const x = tg.randn([5, 3]);
        expect(Array.from(b.forward(x).data())).toEqual(Array.from(a.forward(x).data()));
      });
    } finally {
      a.dispose(); b.dispose();
    }
  });

  const errorModel = (): Module => new tg.nn.Sequential(new tg.nn.Linear(2, 3), new tg.nn.ReLU(), new tg.nn.Linear(3, 1));
  const full = (): Record<string, Tensor> => ({
    '0.weight': tg.zeros([3, 2]), '0.bias': tg.zeros([3]), '2.weight': tg.zeros([1, 3]), '2.bias': tg.zeros([1]),
  });

  it('names missing keys', () => {
    using(errorModel(), (m) => tg.tidy(() => {
      const sd = full();
      delete sd['2.bias'];
      delete sd['0.weight'];
      expect(() => m.loadStateDict(sd)).toThrow('loadStateDict: cannot load into Sequential: missing keys: "0.weight", "2.bias"');
    }));
  });

  it('names unexpected keys', () => {
    using(errorModel(), (m) => tg.tidy(() => {
      expect(() => m.loadStateDict({ ...full(), '1.weight': tg.zeros([1]), extra: tg.zeros([2]) }))
        .toThrow('loadStateDict: cannot load into Sequential: unexpected keys: "1.weight", "extra"');
    }));
  });

  it('names mis-shaped keys with both shapes', () => {
    using(errorModel(), (m) => tg.tidy(() => {
      expect(() => m.loadStateDict({ ...full(), '0.weight': tg.zeros([2, 3]) }))
        .toThrow('size mismatch for "0.weight": shape [2,3] in the state dict, [3,2] in the module');
    }));
  });

  it('reports every problem at once', () => {
    using(errorModel(), (m) => tg.tidy(() => {
      const sd: Record<string, unknown> = { ...full(), '2.weight': tg.zeros([3]), '0.bias': [0, 0, 0], bogus: tg.zeros([1]) };
      delete sd['2.bias'];
      let message = '';
      try { m.loadStateDict(sd as Record<string, Tensor>); } catch (e) { message = (e as Error).message; }
      expect(message).toContain('missing keys: "2.bias"');
      expect(message).toContain('unexpected keys: "bogus"');
      expect(message).toContain('"0.bias" must be a Tensor, got [0,0,0]');
      expect(message).toContain('size mismatch for "2.weight": shape [3] in the state dict, [1,3] in the module');
    }));
  });

  it('rejects disposed tensors and non-objects', () => {
    using(errorModel(), (m) => tg.tidy(() => {
      const sd = full();
      sd['0.bias'].dispose();
      expect(() => m.loadStateDict(sd)).toThrow('"0.bias" was disposed');
      expect(() => m.loadStateDict(null as unknown as Record<string, Tensor>)).toThrow(/expected an object from names to tensors, got null/);
      expect(() => m.loadStateDict(tg.zeros([1]) as unknown as Record<string, Tensor>)).toThrow(/expected an object/);
    }));
  });

  it('changes nothing when it throws', () => {
    using(errorModel(), (m) => tg.tidy(() => {
      const before = Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, Array.from(t.data())]));
      const sd = full();
      sd['2.weight'] = tg.zeros([7]);
      expect(() => m.loadStateDict(sd)).toThrow(/size mismatch/);
      for (const [k, t] of Object.entries(m.stateDict())) expect(Array.from(t.data())).toEqual(before[k]);
    }));
  });

  it('strict: false loads the matching keys and reports the rest; shapes must still match', () => {
    using(errorModel(), (m) => tg.tidy(() => {
      const result = m.loadStateDict({ '0.bias': tg.tensor([1, 2, 3]), other: tg.zeros([1]) }, { strict: false });
      expect(result).toEqual({ missingKeys: ['0.weight', '2.weight', '2.bias'], unexpectedKeys: ['other'] });
      expect((m as InstanceType<typeof tg.nn.Sequential>).at(0).stateDict().bias.toArray()).toEqual([1, 2, 3]);
      expect(() => m.loadStateDict({ '0.bias': tg.zeros([4]) }, { strict: false })).toThrow(/size mismatch for "0.bias"/);
    }));
  });
});
