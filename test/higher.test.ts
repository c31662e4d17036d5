// Gradients of gradients (createGraph, tg.func) against PyTorch 1.13 in float64
// (scripts/gen_higher_fixtures.py): for each op with a rule, the first derivative and a
// Hessian-vector product; third derivatives of tanh, exp, sigmoid, softmax, logSoftmax and a
// matmul chain; a WGAN-GP gradient penalty's value and parameter gradients; the transforms against
// closed forms; which ops have no rule yet.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tg from '../dist/index.js';
import { expectClose } from './helpers';

type Json = { shape: number[]; data: number[] };
interface Case { name: string; inputs: Json[]; v: Json; w: Json[]; first: Json[]; second: Json[]; u?: Json[]; third?: Json[] }
const fixtures = JSON.parse(readFileSync(new URL('./fixtures/higher.json', import.meta.url), 'utf8')) as {
  second: Case[]; third: Case[];
  wganGp: { params: Json[]; real: Json; fake: Json; eps: Json; penalty: number; grads: Json[] };
  func: { W: Json; x: Json; v3: Json; v2: Json; value: number; gradOf: Json; jacobian: Json; hessian: Json; hvp: Json; jvp: Json; vjp: Json };
};
const make = (j: Json, requiresGrad = false) => tg.tensor(Float32Array.from(j.data), { shape: j.shape, requiresGrad });
const near = (t: tg.Tensor, j: Json, what: string, tol = 2e-4) => {
  expect(t.shape, what).toEqual(j.shape);
  expectClose(t.data(), j.data, tol, tol, what);
};
const F = tg.nn.functional;
const MASK23 = [[1, 0, 1], [0, 0, 1]], LABELS = [0, 3, 1];
type Op = (...xs: tg.Tensor[]) => tg.Tensor;
/** The same ops as the generator's, by name. */
const OPS: Record<string, Op> = {
  'add broadcast': (a, b) => a.add(b),
  'sub broadcast': (a, b) => a.sub(b),
  'mul broadcast': (a, b) => a.mul(b),
  'div broadcast': (a, b) => a.div(b),
  'pow tensors': (a, b) => a.pow(b),
  'pow 3': (a) => a.pow(3),
  'pow 0.5': (a) => a.pow(0.5),
  '2 ** x': (a) => tg.pow(2, a),
  '3 * x': (a) => tg.mul(3, a),
  '2 / x': (a) => tg.div(2, a),
  'x / 4': (a) => a.div(4),
  '1 - x': (a) => tg.sub(1, a),
  neg: (a) => a.neg(),
  exp: (a) => a.exp(),
  log: (a) => a.log(),
  sqrt: (a) => a.sqrt(),
  tanh: (a) => a.tanh(),
  sigmoid: (a) => a.sigmoid(),
  relu: (a) => a.relu(),
  leakyRelu: (a) => a.leakyRelu(0.1),
  abs: (a) => a.abs(),
  sin: (a) => tg.sin(a),
  cos: (a) => tg.cos(a),
  square: (a) => tg.square(a),
  rsqrt: (a) => tg.rsqrt(a),
  silu: (a) => tg.silu(a),
  'sum dim 1': (a) => a.pow(2).sum(1),
  'mean dims [0, 2], keepdim': (a) => a.pow(2).mean([0, 2], true),
  'softmax dim 1': (a) => tg.softmax(a, 1),
  'logSoftmax dim -1': (a) => tg.logSoftmax(a, -1),
  reshape: (a) => a.pow(2).reshape([3, 4]),
  permute: (a) => a.pow(2).permute([2, 0, 1]),
  expand: (a) => a.pow(2).expand([2, 3]),
  matmul: (a, b) => a.matmul(b).tanh(),
  'matmul batched broadcast': (a, b) => a.matmul(b).tanh(),
  'matmul vector-matrix': (a, b) => a.matmul(b).tanh(),
  'matmul matrix-vector': (a, b) => a.matmul(b).tanh(),
  linear: (x, w, b) => F.linear(x, w, b).tanh(),
  mseLoss: (a, b) => F.mseLoss(a.tanh(), b),
  'matmul chain': (a, b, c) => a.matmul(b).matmul(c),
  maximum: (a, b) => tg.maximum(a, b).pow(2),
  'minimum 0.3': (a) => tg.minimum(a, 0.3).pow(2),
  'gelu tanh': (a) => a.gelu({ approximate: 'tanh' }),
  clamp: (a) => a.clamp(-0.5, 0.7).pow(2),
  softplus: (a) => tg.softplus(a, { beta: 2, threshold: 3 }),
  where: (a, b) => tg.where(MASK23, a.pow(2), b.pow(3)),
  maskedFill: (a) => tg.maskedFill(a.pow(2), MASK23, 2).pow(2),
  tril: (a) => tg.tril(a.pow(2)),
  'triu 1': (a) => tg.triu(a.pow(2), 1),
  'logsumexp dim 1': (a) => a.logsumexp(1),
  'max dim 1': (a) => a.max(1).pow(2),
  min: (a) => a.min().pow(2),
  'var dim 1': (a) => tg.var(a, 1),
  'std dim 1': (a) => tg.std(a, 1),
  'cumsum dim 1': (a) => tg.cumsum(a, 1).pow(2),
  narrow: (a) => a.narrow(1, 1, 2).pow(2),
  cat: (a, b) => tg.cat([a, b], 1).pow(2),
  indexSelect: (a) => tg.indexSelect(a, 1, [2, 0, 2]).pow(2),
  sort: (a) => tg.sort(a, { dim: 1 }).values.pow(2),
  'topk 2': (a) => tg.topk(a, 2, { dim: 1 }).values.pow(2),
  crossEntropy: (a) => F.crossEntropy(a, LABELS),
  'crossEntropy smoothing 0.1, sum': (a) => F.crossEntropy(a, LABELS, { labelSmoothing: 0.1, reduction: 'sum' }),
  nllLoss: (a) => F.nllLoss(a.logSoftmax(1), LABELS),
  'bce with logits': (a, t) => F.binaryCrossEntropyWithLogits(a, t),
  layerNorm: (x, w, b) => F.layerNorm(x, [4], w, b).tanh(),
  gelu: (a) => a.gelu(),
  'gelu near 0': (a) => a.gelu(),
  'gather dim 1': (a) => tg.gather(a, 1, [[2, 0, 2], [1, 1, 0]]).pow(2),
  conv2d: (x, w, b) => F.conv2d(x, w, b, { stride: 2, padding: 1 }).tanh(),
  'conv2d dilation 2, groups 2': (x, w) => F.conv2d(x, w, null, { stride: 1, padding: 1, dilation: 2, groups: 2 }).tanh(),
  convTranspose2d: (x, w, b) => F.convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }).tanh(),
  avgPool2d: (x) => F.avgPool2d(x, 3, { stride: 2, padding: 1 }).pow(2),
  maxPool2d: (x) => F.maxPool2d(x, 3, { stride: 2, padding: 1 }).pow(2),
  'maxPool2d 2x2': (x) => F.maxPool2d(x, 2).tanh(),
  'attention causal': (q, k, v) => F.scaledDotProductAttention(q, k, v, { isCausal: true }).tanh(),
  'attention mask': (q, k, v, m) => F.scaledDotProductAttention(q, k, v, { attnMask: m }).tanh(),
  lstm: (x, ...w) => recurrentWith(new tg.nn.LSTM(3, 2), x, w),
  gru: (x, ...w) => recurrentWith(new tg.nn.GRU(2, 2), x, w),
};

/** A recurrent layer's output with the given tensors as its weights (so they are what is differentiated). */
function recurrentWith(m: tg.nn.LSTM | tg.nn.GRU, x: tg.Tensor, [weightIh, weightHh, biasIh, biasHh]: tg.Tensor[]): tg.Tensor {
  tg.dispose(m.parameters());
  (m as unknown as { _weights: unknown[] })._weights[0] = { weightIh, weightHh, biasIh, biasHh };
  return m.forward(x)[0];
}

/** d/dxs Σ_k Σ outs_k·seeds_k, as tensors on the tape. */
const level = (xs: tg.Tensor[], outs: () => tg.Tensor[], seeds: tg.Tensor[]) =>
  tg.grad(() => outs().map((o, k) => o.mul(seeds[k]).sum()).reduce((s, t) => s.add(t)), xs, { createGraph: true });

describe('createGraph: second derivatives against PyTorch', () => {
  for (const c of fixtures.second) {
    it(c.name, () => tg.tidy(() => {
      const xs = c.inputs.map((j) => make(j, true));
      const first = level(xs, () => [OPS[c.name](...xs)], [make(c.v)]);
      first.forEach((g, i) => near(g, c.first[i], `first ${i}`));
      const second = level(xs, () => first, c.w.map((j) => make(j)));
      second.forEach((g, i) => near(g, c.second[i], `second ${i}`));
    }));
  }
});

describe('createGraph: third derivatives against PyTorch', () => {
  for (const c of fixtures.third) {
    it(c.name, () => tg.tidy(() => {
      const xs = c.inputs.map((j) => make(j, true));
      const first = level(xs, () => [OPS[c.name](...xs)], [make(c.v)]);
      const second = level(xs, () => first, c.w.map((j) => make(j)));
      const third = level(xs, () => second, c.u!.map((j) => make(j)));
      third.forEach((g, i) => near(g, c.third![i], `third ${i}`, 5e-4));
    }));
  }
});

describe('gradient-penalty and physics-informed training', () => {
  it('WGAN-GP: the penalty and its parameter gradients match PyTorch', () => tg.tidy(() => {
    const f = fixtures.wganGp;
    const [w1, b1, w2, b2] = f.params.map((j) => make(j, true));
    const eps = make(f.eps), mixed = eps.mul(make(f.real)).add(tg.sub(1, eps).mul(make(f.fake))).requiresGrad_();
    const critic = (x: tg.Tensor) => F.linear(F.linear(x, w1, b1).leakyRelu(0.2), w2, b2);
    const [gx] = tg.grad((x) => critic(x).sum(), [mixed], { createGraph: true });
    const penalty = gx.square().sum(1).sqrt().sub(1).pow(2).mean();
    expect(penalty.item()).toBeCloseTo(f.penalty, 4);
    penalty.backward();
    [w1, b1, w2, b2].forEach((p, i) => near(p.grad ?? tg.zeros(p.shape), f.grads[i], `param ${i}`));
  }));

  it('a physics-informed network solves u″ = −π² sin πx, u(0) = u(1) = 0, to max error ≤ 1e-2 against sin πx', () => {
    tg.manualSeed(0);
    const net = new tg.nn.Sequential(new tg.nn.Linear(1, 16), new tg.nn.Tanh(), new tg.nn.Linear(16, 16), new tg.nn.Tanh(), new tg.nn.Linear(16, 1));
    const opt = new tg.optim.Adam(net.parameters(), { lr: 0.01 });
    const x = tg.keep(tg.arange(0, 32).div(31).reshape([32, 1])).requiresGrad_();
    const ends = tg.keep(tg.tensor([[0], [1]]));
    const rhs = tg.keep(tg.noGrad(() => x.mul(Math.PI).sin().mul(-Math.PI * Math.PI)));
    for (let step = 0; step < 600; step++) tg.tidy(() => {
      opt.zeroGrad();
      const [ux] = tg.grad((t) => net.forward(t).sum(), [x], { createGraph: true });
      const [uxx] = tg.grad(() => ux.sum(), [x], { createGraph: true });
      uxx.sub(rhs).square().mean().add(net.forward(ends).square().mean()).backward();
      opt.step();
    });
    const grid = tg.arange(0, 101).div(100).reshape([101, 1]);
    const error = tg.noGrad(() => net.forward(grid).sub(grid.mul(Math.PI).sin()).abs().max().item());
    expect(error).toBeLessThanOrEqual(1e-2);
    tg.dispose([x, ends, rhs, grid, ...net.parameters()]);
  });
});

describe('tg.func transforms against closed forms', () => {
  const cube = (x: tg.Tensor) => x.pow(3).sum();
  it('grad nests; valueAndGrad, vjp, jvp, hvp, jacobian, hessian', () => tg.tidy(() => {
    expect((tg.func.grad(tg.func.grad(cube) as (x: tg.Tensor) => tg.Tensor)(tg.tensor(2)) as tg.Tensor).item()).toBeCloseTo(12); // 6x
    const [v, g] = tg.func.valueAndGrad(cube)(tg.tensor([1, 2]));
    expect([v.item(), (g as tg.Tensor).toArray()]).toEqual([9, [3, 12]]);
    expect(tg.func.vjp((x) => x.mul(x), tg.tensor([1, 2]))[1](tg.tensor([1, 3]))[0].toArray()).toEqual([2, 12]);
    expect(tg.func.jvp((x) => x.mul(x), [tg.tensor([1, 2])], [tg.tensor([1, 0])])[1].toArray()).toEqual([2, 0]);
    expect(tg.func.hvp(cube, [tg.tensor([1, 2])], [tg.tensor([1, 1])])[0].toArray()).toEqual([6, 12]);
    expect(tg.func.jacobian((x) => x.mul(x))(tg.tensor([1, 2])).toArray()).toEqual([[2, 0], [0, 4]]);
    expect(tg.func.hessian(cube)(tg.tensor([1, 2])).toArray()).toEqual([[6, 0], [0, 12]]);
    // argnums: d/dy of x·y² = 2xy
    const [gx, gy] = tg.func.grad((x, y) => x.mul(y.square()).sum(), { argnums: [0, 1] })(tg.tensor([3]), tg.tensor([2])) as tg.Tensor[];
    expect([gx.toArray(), gy.toArray()]).toEqual([[4], [12]]);
  }));

  it('match torch.autograd.functional on g(x) = tanh(W·x) and f(x) = Σ g(x)²·x₀', () => tg.tidy(() => {
    const c = fixtures.func, W = make(c.W), x = make(c.x);
    const g = (t: tg.Tensor) => W.matmul(t).tanh();
    const f = (t: tg.Tensor) => g(t).square().sum().mul(t.narrow(0, 0, 1).sum());
    const [value, grad] = tg.func.valueAndGrad(f)(x);
    expect(value.item()).toBeCloseTo(c.value, 5);
    near(grad as tg.Tensor, c.gradOf, 'grad');
    near(tg.func.jacobian(g)(x), c.jacobian, 'jacobian');
    near(tg.func.hessian(f)(x), c.hessian, 'hessian');
    near(tg.func.hvp(f, [x], [make(c.v3)])[0], c.hvp, 'hvp');
    near(tg.func.jvp(g, [x], [make(c.v3)])[1], c.jvp, 'jvp');
    near(tg.func.vjp(g, x)[1](make(c.v2))[0], c.vjp, 'vjp');
  }));

  it('refuses what it cannot do, naming it', () => tg.tidy(() => {
    expect(() => tg.func.grad((x) => x.mul(2))(tg.tensor([1, 2]))).toThrow('func.valueAndGrad: the function must return one element, got shape [2]');
    expect(() => tg.func.grad(5 as never)).toThrow('func.grad: expected a function, got 5');
    expect(() => tg.func.grad(cube, { argnums: 2 })(tg.tensor([1]))).toThrow('argnums 2 out of range for 1 arguments');
    const x = tg.tensor([[1, 2]], { requiresGrad: true });
    // attention with dropout keeps no mask to recompute through
    expect(() => tg.grad((t) => F.scaledDotProductAttention(t, t, t, { dropoutP: 0.5 }).sum(), [x], { createGraph: true }))
      .toThrow('createGraph has no rule for scaledDotProductAttention with dropout');
  }));
});

describe('custom ops under createGraph', () => {
  it('a Function whose backward is made of ops differentiates again; a kernelOp refuses', () => tg.tidy(() => {
    class Cube extends tg.autograd.Function {
      static forward(ctx: tg.autograd.FunctionContext, x: tg.Tensor): tg.Tensor { ctx.saveForBackward(x); return x.pow(3); }
      static backward(ctx: tg.autograd.FunctionContext, g: tg.Tensor): tg.Tensor[] { const [x] = ctx.savedTensors; return [g.mul(x.square()).mul(3)]; }
    }
    const x = tg.tensor([1, 2], { requiresGrad: true });
    expect(tg.func.hessian((t) => (Cube.apply(t) as tg.Tensor).sum())(x).toArray()).toEqual([[6, 0], [0, 12]]); // 6x on the diagonal
    const cube = tg.autograd.kernelOp({ name: 'cubeK', forward: ([a]) => [a.map((v) => v ** 3)], backward: ([g], [a]) => [g.map((gi, i) => 3 * a[i] ** 2 * gi)] });
    expect(() => tg.func.hessian((t) => (cube(t) as tg.Tensor).sum())(x)).toThrow('cubeK is a kernelOp');
  }));
});

describe('which ops have a createGraph rule', () => {
  // Ops whose gradients could not be differentiated again (none now): an op added without a rule in
  // bindings/higher.ts and a case in scripts/gen_higher_fixtures.py fails this test.
  const NOT_YET: string[] = [];

  it('every op either has a rule (tested above) or is listed as not yet', () => {
    const named = (tg.__testing.opNames as readonly string[]).map((n, op) => [op, n] as const).filter(([, n]) => n !== '');
    const withRule = named.filter(([op]) => tg.__testing.hasGraphRule(op)).map(([, n]) => n);
    const without = [...new Set(named.filter(([op]) => !tg.__testing.hasGraphRule(op)).map(([, n]) => n))];
    expect(without.sort()).toEqual([...NOT_YET].sort());
    expect(withRule.length).toBeGreaterThanOrEqual(25);
  });
});

describe('backward({createGraph: true})', () => {
  it('makes .grad a graph tensor that differentiates again, accumulating as PyTorch', () => tg.tidy(() => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    x.pow(3).sum().backward({ createGraph: true });
    expect(x.grad!.toArray()).toEqual([3, 12]); // 3x²
    expect(x.grad!.requiresGrad).toBe(true);
    const penalty = x.grad!.square().sum(); // Σ 9x⁴: d/dx = 36x³
    x.pow(2).sum().backward({ createGraph: true }); // .grad = 3x² + 2x
    expect(x.grad!.toArray()).toEqual([5, 16]);
    penalty.backward(); // a plain backward: adds 36x³ to the buffer, and .grad is the buffer again
    expect(x.grad!.toArray()).toEqual([41, 304]);
    expect(x.grad!.requiresGrad).toBe(false);
  }));

  it('a gradient penalty from .grad (loss and penalty gradients in W.grad, as PyTorch) matches tg.grad\'s', () => tg.tidy(() => {
    tg.manualSeed(12);
    const lin = new tg.nn.Linear(3, 1), x = tg.randn([4, 3], { requiresGrad: true });
    lin.forward(x).tanh().sum().backward({ createGraph: true });
    x.grad!.square().sum().backward();
    const viaBackward = Array.from(lin.weight.grad!.data());
    // as in PyTorch, the createGraph backward also left dL/dW in W's .grad, and the penalty added to it
    lin.zeroGrad();
    lin.forward(x).tanh().sum().backward();
    const [gx] = tg.grad((t) => lin.forward(t).tanh().sum(), [x], { createGraph: true });
    gx.square().sum().backward();
    Array.from(lin.weight.grad!.data()).forEach((v, i) => expect(v).toBeCloseTo(viaBackward[i], 5));
    tg.dispose(lin.parameters());
  }));

  it('refuses a graph whose saved tensor was modified in place since, as backward does', () => tg.tidy(() => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    const y = x.mul(2), z = y.square().sum();
    y.copy_(tg.tensor([5, 5]));
    expect(() => z.backward({ createGraph: true })).toThrow('backward: a tensor that square saved for the gradient was modified in place');
  }));

  it('leaves no tensors behind once its gradients are zeroed', () => {
    const x = tg.keep(tg.tensor([1, 2], { requiresGrad: true }));
    const before = tg.memory().tensors;
    for (let i = 0; i < 5; i++) { tg.tidy(() => { x.pow(3).sum().backward({ createGraph: true }); }); x.zeroGrad(); }
    expect(tg.memory().tensors).toBe(before);
    x.dispose();
  });
});
