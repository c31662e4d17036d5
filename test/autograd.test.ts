// PyTorch autograd semantics, with values derived by hand, plus a finite-difference check of
// the analytical gradients written in this file and tg.gradcheck on every differentiable op.
import { describe, it, expect } from 'vitest';
import * as tg from '../dist/index.js';
import { rng } from './helpers';

type T = tg.Tensor;
type Fn = (...xs: T[]) => T;
interface In {
  shape: number[];
  data: number[];
}

// ---------------------------------------------------------------- helpers (independent of tg)

function expectAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-5, rtol = 1e-4, what = '') {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const tol = atol + rtol * Math.abs(expected[i]);
    expect(
      Math.abs(actual[i] - expected[i]),
      `${what}[${i}]: expected ${expected[i]} (±${tol}), got ${actual[i]}`,
    ).toBeLessThanOrEqual(tol);
  }
}

function flatten(x: unknown): number[] {
  if (typeof x === 'number') return [x];
  return (x as unknown[]).flatMap((v) => flatten(v));
}

const prod = (s: number[]) => s.reduce((p, d) => p * d, 1);

/** values in [lo, hi), at least `away` from every kink in `kinks` */
function uniform(shape: number[], seed: number, lo = -1, hi = 1, away = 0, kinks: number[] = [0]): In {
  const r = rng(seed);
  const data: number[] = [];
  while (data.length < prod(shape)) {
    const v = lo + (hi - lo) * r();
    if (away > 0 && kinks.some((k) => Math.abs(v - k) < away)) continue;
    data.push(v);
  }
  return { shape, data };
}

/** distinct values (spaced (hi-lo)/(n-1) apart) in a shuffled order: no ties for max/min */
function distinct(shape: number[], seed: number, lo = -1, hi = 1): In {
  const n = prod(shape);
  const r = rng(seed);
  const data = Array.from({ length: n }, (_, k) => (n === 1 ? (lo + hi) / 2 : lo + ((hi - lo) * k) / (n - 1)));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [data[i], data[j]] = [data[j], data[i]];
  }
  return { shape, data };
}

const mk = (i: In, requiresGrad = true) => tg.tensor(i.data, { shape: i.shape, requiresGrad });

/**
 * Our own central differences. L(x) = sum(fn(x) * W) with fixed weights W, evaluated with the
 * library's forward pass only and summed in float64 here; the step actually taken is measured
 * after rounding x ± eps to float32. Returns the numerical and the analytical (backward) gradient.
 */
function centralDiff(fn: Fn, inputs: In[], eps = 1e-2) {
  return tg.tidy(() => {
    const xs = inputs.map((i) => mk(i));
    const out = fn(...xs);
    const r = rng(12345);
    const W = Array.from({ length: out.size }, () => 0.5 + r()); // in [0.5, 1.5)
    out.mul(tg.tensor(W, { shape: out.shape })).sum().backward();
    const analytic = xs.map((x) => Array.from(x.grad!.data()));
    const L = (vals: number[][]) =>
      tg.tidy(() => {
        const o = fn(...vals.map((v, k) => tg.tensor(v, { shape: inputs[k].shape }))).data();
        let s = 0;
        for (let i = 0; i < o.length; i++) s += o[i] * W[i];
        return s;
      });
    const numeric = inputs.map((inp, k) =>
      inp.data.map((x0, j) => {
        const plus = inputs.map((i) => i.data.slice());
        const minus = inputs.map((i) => i.data.slice());
        plus[k][j] = Math.fround(x0 + eps);
        minus[k][j] = Math.fround(x0 - eps);
        return (L(plus) - L(minus)) / (plus[k][j] - minus[k][j]);
      }),
    );
    return { analytic, numeric };
  });
}

function expectMatchesCentralDiff(fn: Fn, inputs: In[], atol = 1e-3, rtol = 5e-3) {
  const { analytic, numeric } = centralDiff(fn, inputs);
  expect(analytic.length).toBe(inputs.length);
  for (let k = 0; k < inputs.length; k++) expectAllClose(analytic[k], numeric[k], atol, rtol, `input ${k}`);
}

function gradcheck(fn: Fn, inputs: In[]) {
  return tg.tidy(() => tg.gradcheck(fn, inputs.map((i) => mk(i))));
}

// ---------------------------------------------------------------- semantics

describe('requiresGrad propagation', () => {
  it('an op on a requiresGrad tensor requires grad; an op on constants does not', () => {
    tg.tidy(() => {
      const x = tg.tensor([1, 2], { requiresGrad: true });
      const c = tg.tensor([3, 4]);
      expect(x.requiresGrad).toBe(true);
      expect(c.requiresGrad).toBe(false);
      expect(tg.zeros([2]).requiresGrad).toBe(false);
      expect(tg.ones([2], { requiresGrad: true }).requiresGrad).toBe(true);
      expect(x.mul(c).requiresGrad).toBe(true);
      expect(c.mul(x).requiresGrad).toBe(true);
      expect(x.add(1).requiresGrad).toBe(true);
      expect(tg.sub(1, x).requiresGrad).toBe(true);
      expect(x.exp().sum().requiresGrad).toBe(true);
      expect(x.reshape([2, 1]).requiresGrad).toBe(true);
      expect(c.add(c).requiresGrad).toBe(false);
      expect(c.mul(2).exp().sum().requiresGrad).toBe(false);
      expect(tg.cat([c, c]).requiresGrad).toBe(false);
      expect(tg.cat([c, x]).requiresGrad).toBe(true);
      expect(x.grad).toBeNull();
    });
  });

  it('a constant in the graph gets no gradient', () => {
    tg.tidy(() => {
      const x = tg.tensor([1, 2], { requiresGrad: true });
      const c = tg.tensor([3, 4]);
      x.mul(c).sum().backward();
      expect(Array.from(x.grad!.data())).toEqual([3, 4]);
      expect(c.grad).toBeNull();
    });
  });
});

describe('gradient accumulation', () => {
  it('leaf grads accumulate over two backward() calls and zeroGrad() resets them', () => {
    tg.tidy(() => {
      const x = tg.tensor([1, 2, 3], { requiresGrad: true });
      const w = tg.tensor([0.5, -1, 2], { requiresGrad: true });
      // L = sum(x*x*w): dL/dx = 2xw, dL/dw = x^2
      x.mul(x).mul(w).sum().backward();
      expect(Array.from(x.grad!.data())).toEqual([1, -4, 12]);
      expect(Array.from(w.grad!.data())).toEqual([1, 4, 9]);
      x.mul(x).mul(w).sum().backward();
      expect(Array.from(x.grad!.data())).toEqual([2, -8, 24]);
      expect(Array.from(w.grad!.data())).toEqual([2, 8, 18]);
      x.zeroGrad();
      const g = x.grad;
      if (g !== null) expect(Array.from(g.data())).toEqual([0, 0, 0]);
      // w was not reset
      expect(Array.from(w.grad!.data())).toEqual([2, 8, 18]);
      // a different loss now: L = sum(3x) -> dL/dx = 3 (not 3 + the old 2xw)
      x.mul(3).sum().backward();
      expect(Array.from(x.grad!.data())).toEqual([3, 3, 3]);
    });
  });

  it('.grad is one tensor, a view of the gradient: it shows later accumulation, and detach() copies it', () => {
    tg.tidy(() => {
      const x = tg.tensor([1, 2], { requiresGrad: true });
      x.sum().backward();
      const g1 = x.grad!;
      const copy = g1.detach();
      x.sum().backward();
      expect(x.grad).toBe(g1);
      expect(Array.from(g1.data())).toEqual([2, 2]);
      expect(Array.from(copy.data())).toEqual([1, 1]);
      expect(g1.shape).toEqual([2]);
      expect(g1.requiresGrad).toBe(false);
      expect(() => g1.requiresGrad_()).toThrow(/view of a gradient/);
    });
  });
});

describe('backward(grad) on a non-scalar', () => {
  it('y = x*x, y.backward(g) gives 2*x*g (g as nested array)', () => {
    tg.tidy(() => {
      const x = tg.tensor([[1, 2], [3, -1]], { requiresGrad: true });
      const y = x.mul(x);
      y.backward([[1, 0.5], [2, -1]]);
      expect(x.grad!.toArray()).toEqual([[2, 2], [12, 2]]);
    });
  });

  it('y = x*x, y.backward(g) gives 2*x*g (g as a Tensor)', () => {
    tg.tidy(() => {
      const x = tg.tensor([1.5, -2, 0.25], { requiresGrad: true });
      const y = x.mul(x);
      y.backward(tg.tensor([2, 3, -4]));
      expect(Array.from(x.grad!.data())).toEqual([6, -12, -2]);
    });
  });

  it('a one-element non-0-d loss needs no gradient argument', () => {
    tg.tidy(() => {
      const x = tg.tensor([[2]], { requiresGrad: true });
      const y = x.mul(x).mul(x); // [[8]]
      y.backward();
      expect(x.grad!.toArray()).toEqual([[12]]);
    });
  });
});

describe('fan-out', () => {
  it('x used three times: y = 2x + x^2 + exp(x)', () => {
    tg.tidy(() => {
      const xv = [0.5, -1, 2];
      const x = tg.tensor(xv, { requiresGrad: true });
      const y = x.mul(2).add(x.mul(x)).add(x.exp());
      y.sum().backward();
      expectAllClose(x.grad!.data(), xv.map((v) => 2 + 2 * v + Math.exp(v)), 1e-6, 1e-6);
    });
  });

  it('an intermediate used three times: h = tanh(x), y = h*h + h', () => {
    tg.tidy(() => {
      const xv = [0.3, -0.7];
      const x = tg.tensor(xv, { requiresGrad: true });
      const h = x.tanh();
      const y = h.mul(h).add(h);
      y.sum().backward();
      const exp = xv.map((v) => {
        const t = Math.tanh(v);
        return (2 * t + 1) * (1 - t * t);
      });
      expectAllClose(x.grad!.data(), exp, 1e-6, 1e-5);
    });
  });

  it('a leaf used as both operands of matmul', () => {
    tg.tidy(() => {
      // L = sum(A @ A), A 2x2: dL/dA[i][k] = sum_j A[k][j] + sum_i' A[i'][i]
      const A = [[1, 2], [3, 4]];
      const a = tg.tensor(A, { requiresGrad: true });
      a.matmul(a).sum().backward();
      const exp = [0, 1].map((i) => [0, 1].map((k) => A[k][0] + A[k][1] + A[0][i] + A[1][i]));
      expect(a.grad!.toArray()).toEqual(exp);
    });
  });
});

describe('noGrad, detach, requiresGrad_', () => {
  it('noGrad: the result does not require grad and backward on it throws', () => {
    tg.tidy(() => {
      const x = tg.tensor([1, 2], { requiresGrad: true });
      const y = tg.noGrad(() => x.mul(2).add(1));
      expect(y.requiresGrad).toBe(false);
      expect(Array.from(y.data())).toEqual([3, 5]);
      expect(() => y.sum().backward()).toThrow();
      expect(x.grad).toBeNull();
      // outside noGrad tracking is back on
      expect(x.mul(2).requiresGrad).toBe(true);
    });
  });

  it('noGrad returns what fn returns and nests', () => {
    tg.tidy(() => {
      const x = tg.tensor([1, 2], { requiresGrad: true });
      const out = tg.noGrad(() => {
        const inner = tg.noGrad(() => x.mul(3));
        return { inner, outer: x.add(1), n: 7 };
      });
      expect(out.n).toBe(7);
      expect(out.inner.requiresGrad).toBe(false);
      expect(out.outer.requiresGrad).toBe(false);
      expect(Array.from(out.inner.data())).toEqual([3, 6]);
      expect(x.mul(x).requiresGrad).toBe(true);
    });
  });

  it('detach(): same values, no grad, and gradient does not flow through it', () => {
    tg.tidy(() => {
      const x = tg.tensor([1, -2, 3], { requiresGrad: true });
      const d = x.detach();
      expect(d.requiresGrad).toBe(false);
      expect(Array.from(d.data())).toEqual([1, -2, 3]);
      expect(d.shape).toEqual([3]);
      // y = x * detach(x): dy/dx = detach(x) = x (not 2x)
      x.mul(d).sum().backward();
      expect(Array.from(x.grad!.data())).toEqual([1, -2, 3]);
      expect(d.grad).toBeNull();
    });
  });

  it('detach() of an intermediate cuts the graph there', () => {
    tg.tidy(() => {
      const x = tg.tensor([2, 3], { requiresGrad: true });
      const h = x.mul(x); // [4, 9]
      // y = h.detach() * x + h: dy/dx = h + 2x = [8, 15]
      h.detach().mul(x).add(h).sum().backward();
      expect(Array.from(x.grad!.data())).toEqual([8, 15]);
    });
  });

  it('requiresGrad_() turns tracking on and off and returns the tensor', () => {
    tg.tidy(() => {
      const c = tg.tensor([1, 2]);
      expect(c.requiresGrad).toBe(false);
      expect(c.requiresGrad_()).toBe(c);
      expect(c.requiresGrad).toBe(true);
      c.mul(c).sum().backward();
      expect(Array.from(c.grad!.data())).toEqual([2, 4]);
      expect(c.requiresGrad_(false)).toBe(c);
      expect(c.requiresGrad).toBe(false);
      expect(c.mul(c).requiresGrad).toBe(false);
      expect(c.requiresGrad_(true).requiresGrad).toBe(true);
    });
  });
});

describe('tg.grad (functional)', () => {
  it('returns the gradients and leaves .grad of the inputs untouched', () => {
    tg.tidy(() => {
      const x = tg.tensor([1, 2, 3], { requiresGrad: true });
      const w = tg.tensor([4, 5, 6], { requiresGrad: true });
      const gs = tg.grad((a: T, b: T) => a.mul(b).sum(), [x, w]);
      expect(gs.length).toBe(2);
      expect(Array.from(gs[0].data())).toEqual([4, 5, 6]);
      expect(Array.from(gs[1].data())).toEqual([1, 2, 3]);
      expect(gs[0].shape).toEqual([3]);
      expect(x.grad).toBeNull();
      expect(w.grad).toBeNull();
    });
  });

  it('does not change an existing .grad either, and is not accumulated into by it', () => {
    tg.tidy(() => {
      const x = tg.tensor([[1, -1], [2, 0.5]], { requiresGrad: true });
      x.sum().backward();
      const [g] = tg.grad((a: T) => a.pow(3).sum(), [x]); // 3x^2
      expect(g.toArray()).toEqual([[3, 3], [12, 0.75]]);
      expect(x.grad!.toArray()).toEqual([[1, 1], [1, 1]]);
      const [g2] = tg.grad((a: T) => a.pow(3).sum(), [x]);
      expect(g2.toArray()).toEqual([[3, 3], [12, 0.75]]);
    });
  });
});

describe('tg.gradcheck', () => {
  it('returns true for a correct composite function', () => {
    expect(
      gradcheck(
        (a, b) => a.matmul(b).tanh().mul(a.sum(1, true)).softmax(1),
        [uniform([2, 3], 1), uniform([3, 4], 2)],
      ),
    ).toBe(true);
  });

  it('throws when the analytical gradient is wrong (x * detach(x) has half the true gradient)', () => {
    // analytical d/db (10 * b * detach(b)) = 10 b, numerical = 20 b
    let err: unknown;
    try {
      gradcheck((a, b) => tg.cat([a.mul(2), b.mul(b.detach()).mul(10)]), [uniform([3], 3), uniform([6], 4, 0.5, 1.5)]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toMatch(/input/i);
    expect(msg).toMatch(/analytic/i);
    expect(msg).toMatch(/numeric/i);
  });
});

// ---------------------------------------------------------------- our finite differences

describe('analytical gradients agree with central differences computed here', () => {
  const cases: [string, Fn, In[]][] = [
    ['exp', (x) => x.exp(), [uniform([2, 3], 11)]],
    ['tanh', (x) => x.tanh(), [uniform([2, 3], 12, -2, 2)]],
    ['sigmoid', (x) => x.sigmoid(), [uniform([2, 3], 13, -3, 3)]],
    ['gelu (none)', (x) => x.gelu(), [uniform([2, 3], 14, -2, 2)]],
    ['gelu (tanh)', (x) => x.gelu({ approximate: 'tanh' }), [uniform([2, 3], 15, -2, 2)]],
    ['div', (a, b) => a.div(b), [uniform([2, 3], 16), uniform([3], 17, 0.5, 1.5)]],
    ['pow (tensor exponent)', (a, b) => a.pow(b), [uniform([2, 3], 18, 0.5, 1.5), uniform([3], 19, -1.5, 1.5)]],
    ['pow (number exponent)', (a) => a.pow(3), [uniform([4], 20)]],
    ['matmul', (a, b) => a.matmul(b), [uniform([2, 3], 21), uniform([3, 4], 22)]],
    ['matmul (batched, broadcast)', (a, b) => a.matmul(b), [uniform([2, 1, 2, 3], 23), uniform([3, 3, 2], 24)]],
    ['softmax', (x) => x.softmax(1), [uniform([3, 4], 25, -2, 2)]],
    ['logsumexp', (x) => x.logsumexp(0), [uniform([3, 4], 26, -2, 2)]],
    ['max along a dim', (x) => x.max(1), [distinct([3, 4], 27)]],
    ['gather', (x) => x.gather(1, [[0, 3], [2, 2], [1, 0]]), [uniform([3, 4], 28)]],
    ['indexSelect', (x) => x.indexSelect(0, [2, 0, 2]), [uniform([3, 2], 29)]],
    ['expand', (x) => x.expand([2, 3, 4]), [uniform([3, 1], 30)]],
    ['permute', (x) => x.permute([2, 0, 1]).mul(x.permute([2, 0, 1])), [uniform([2, 3, 2], 31)]],
    ['cat', (a, b) => tg.cat([a, b.mul(b)], 1), [uniform([2, 3], 32), uniform([2, 2], 33)]],
  ];
  for (const [name, fn, inputs] of cases) {
    it(name, () => {
      expectMatchesCentralDiff(fn, inputs);
    });
  }

  it('our central differences see a wrong gradient (sanity check of this helper)', () => {
    const { analytic, numeric } = centralDiff((x) => x.mul(x.detach()), [uniform([3], 34, 0.5, 1.5)]);
    for (let j = 0; j < 3; j++) expect(Math.abs(analytic[0][j] - numeric[0][j])).toBeGreaterThan(0.1);
  });
});

// ---------------------------------------------------------------- tg.gradcheck on every op

describe('tg.gradcheck on every differentiable op', () => {
  const U = uniform;
  const cases: [string, Fn, In[]][] = [
    // binary, broadcasting, and with plain numbers
    ['add', (a, b) => a.add(b), [U([2, 3], 101), U([3], 102)]],
    ['add (number)', (a) => tg.add(1.5, a.add(2.5)), [U([2, 2], 103)]],
    ['sub', (a, b) => a.sub(b), [U([2, 1, 3], 104), U([4, 1], 105)]],
    ['sub (number)', (a) => tg.sub(1, a).sub(0.5), [U([3], 106)]],
    ['mul', (a, b) => tg.mul(a, b), [U([3, 1], 107), U([1, 4], 108)]],
    ['mul (number)', (a) => a.mul(-2).mul(3), [U([3], 109)]],
    ['div', (a, b) => a.div(b), [U([2, 3], 110), U([3], 111, 0.5, 1.5)]],
    ['div (number)', (a) => tg.div(2, a).add(a.div(4)), [U([3], 112, 0.5, 1.5)]],
    ['pow', (a, b) => a.pow(b), [U([2, 3], 113, 0.5, 1.5), U([3], 114, -1.5, 1.5)]],
    ['pow (number exponent)', (a) => a.pow(3).add(a.pow(2)), [U([2, 3], 115)]],
    ['pow (fractional exponent)', (a) => a.pow(0.5).add(a.pow(-1.5)), [U([3], 116, 0.5, 1.5)]],
    ['pow (number base)', (a) => tg.pow(2, a), [U([3], 117)]],
    ['maximum', (a, b) => a.maximum(b), [U([2, 3], 118), U([3], 119)]],
    ['minimum', (a, b) => tg.minimum(a, b), [U([2, 3], 120), U([2, 1], 121)]],
    ['maximum (number)', (a) => a.maximum(0.1).add(a.minimum(-0.1)), [U([6], 122, -1, 1, 0.05, [0.1, -0.1])]],
    // unary
    ['neg', (a) => a.neg(), [U([2, 3], 123)]],
    ['abs', (a) => a.abs(), [U([2, 3], 124, -1, 1, 0.1)]],
    ['exp', (a) => a.exp(), [U([2, 3], 125)]],
    ['log', (a) => a.log(), [U([2, 3], 126, 0.5, 2)]],
    ['sqrt', (a) => a.sqrt(), [U([2, 3], 127, 0.3, 2)]],
    ['tanh', (a) => a.tanh(), [U([2, 3], 128, -2, 2)]],
    ['sigmoid', (a) => a.sigmoid(), [U([2, 3], 129, -3, 3)]],
    ['relu', (a) => a.relu(), [U([2, 3], 130, -1, 1, 0.1)]],
    ['leakyRelu', (a) => a.leakyRelu(), [U([2, 3], 131, -1, 1, 0.1)]],
    ['leakyRelu (0.2)', (a) => a.leakyRelu(0.2), [U([2, 3], 132, -1, 1, 0.1)]],
    ['gelu', (a) => a.gelu(), [U([2, 3], 133, -2, 2)]],
    ['gelu (tanh)', (a) => a.gelu({ approximate: 'tanh' }), [U([2, 3], 134, -2, 2)]],
    // matmul
    ['matmul 1-D . 1-D', (a, b) => a.matmul(b), [U([3], 135), U([3], 136)]],
    ['matmul 2-D', (a, b) => a.matmul(b), [U([2, 3], 137), U([3, 4], 138)]],
    ['matmul 1-D @ 2-D', (a, b) => a.matmul(b), [U([3], 139), U([3, 2], 140)]],
    ['matmul 2-D @ 1-D', (a, b) => tg.matmul(a, b), [U([2, 3], 141), U([3], 142)]],
    ['matmul batched', (a, b) => a.matmul(b), [U([2, 2, 3], 143), U([2, 3, 2], 144)]],
    ['matmul batched @ 2-D', (a, b) => a.matmul(b), [U([2, 2, 3], 145), U([3, 2], 146)]],
    ['matmul broadcast batch', (a, b) => a.matmul(b), [U([2, 1, 2, 3], 147), U([3, 3, 2], 148)]],
    // reductions
    ['sum', (a) => a.sum(), [U([2, 3], 149)]],
    ['sum(dim)', (a) => a.sum(1), [U([2, 3, 2], 150)]],
    ['sum(dims, keepdim)', (a) => a.sum([0, 2], true), [U([2, 3, 2], 151)]],
    ['sum(-1)', (a) => a.sum(-1), [U([2, 3], 152)]],
    ['mean', (a) => a.mean(), [U([2, 3], 153)]],
    ['mean(dim)', (a) => a.mean(0), [U([3, 2], 154)]],
    ['mean(dims, keepdim)', (a) => a.mean([1, 2], true), [U([2, 2, 3], 155)]],
    ['max', (a) => a.max(), [distinct([2, 3], 156)]],
    ['max(dim)', (a) => a.max(1), [distinct([3, 4], 157)]],
    ['max(-1, keepdim)', (a) => a.max(-1, true), [distinct([2, 2, 3], 158)]],
    ['min', (a) => a.min(), [distinct([2, 3], 159)]],
    ['min(dim)', (a) => a.min(0), [distinct([3, 4], 160)]],
    ['logsumexp', (a) => a.logsumexp(), [U([2, 3], 161, -2, 2)]],
    ['logsumexp(dim)', (a) => a.logsumexp(1), [U([3, 4], 162, -2, 2)]],
    ['logsumexp(dims, keepdim)', (a) => a.logsumexp([0, 2], true), [U([2, 2, 3], 163, -2, 2)]],
    // shape
    ['reshape', (a) => a.reshape([3, -1]).mul(a.reshape(3, 2)), [U([2, 3], 164)]],
    ['view', (a) => a.view([6]).mul(a.view(6)), [U([2, 3], 165)]],
    ['flatten', (a) => a.flatten(1).mul(a.flatten(1)), [U([2, 3, 2], 166)]],
    ['transpose', (a) => a.transpose(0, 2).mul(a.transpose(2, 0)), [U([2, 3, 4], 167)]],
    ['permute', (a) => a.permute([2, 0, 1]).mul(a.permute(2, 0, 1)), [U([2, 3, 4], 168)]],
    ['squeeze', (a) => a.squeeze().mul(a.squeeze(1)), [U([2, 1, 3], 169)]],
    ['unsqueeze', (a) => a.unsqueeze(1).mul(a.unsqueeze(-1)), [U([2, 3], 170)]],
    ['expand', (a) => a.expand([2, -1, 4]), [U([3, 1], 171)]],
    ['cat', (a, b, c) => tg.cat([a, b, c], 1), [U([2, 3], 172), U([2, 1], 173), U([2, 2], 174)]],
    ['cat (dim 0)', (a, b) => tg.cat([a, b]), [U([1, 3], 175), U([2, 3], 176)]],
    ['stack', (a, b, c) => tg.stack([a, b, c], 1), [U([2, 3], 177), U([2, 3], 178), U([2, 3], 179)]],
    ['narrow', (a) => a.narrow(0, 1, 2).mul(a.narrow(0, 1, 2)), [U([4, 3], 180)]],
    ['indexSelect', (a) => a.indexSelect(0, [3, 0, 3, 1]), [U([4, 3], 181)]],
    ['gather', (a) => a.gather(1, [[0, 3], [2, 2], [1, 0]]), [U([3, 4], 182)]],
    // softmax family
    ['softmax', (a) => a.softmax(1), [U([3, 4], 183, -2, 2)]],
    ['softmax (dim 0)', (a) => a.softmax(0), [U([3, 4], 184, -2, 2)]],
    ['logSoftmax', (a) => a.logSoftmax(-1), [U([3, 4], 185, -2, 2)]],
    ['logSoftmax (dim 0)', (a) => a.logSoftmax(0), [U([3, 4], 186, -2, 2)]],
  ];
  for (const [name, fn, inputs] of cases) {
    it(name, () => {
      expect(gradcheck(fn, inputs)).toBe(true);
    });
  }

  // the shapes produced above, by hand, so that gradcheck cannot pass on a wrongly shaped output
  it('the ops above produce PyTorch shapes', () => {
    tg.tidy(() => {
      const s = (shape: number[]) => tg.zeros(shape);
      expect(s([2, 1, 3]).sub(s([4, 1])).shape).toEqual([2, 4, 3]);
      expect(s([3]).matmul(s([3])).shape).toEqual([]);
      expect(s([3]).matmul(s([3, 2])).shape).toEqual([2]);
      expect(s([2, 3]).matmul(s([3])).shape).toEqual([2]);
      expect(s([2, 1, 2, 3]).matmul(s([3, 3, 2])).shape).toEqual([2, 3, 2, 2]);
      expect(s([2, 2, 3]).matmul(s([3, 2])).shape).toEqual([2, 2, 2]);
      expect(s([2, 3, 2]).sum([0, 2], true).shape).toEqual([1, 3, 1]);
      expect(s([2, 3]).sum().shape).toEqual([]);
      expect(s([2, 2, 3]).max(-1, true).shape).toEqual([2, 2, 1]);
      expect(s([2, 3, 2]).flatten(1).shape).toEqual([2, 6]);
      expect(s([2, 1, 3]).squeeze().shape).toEqual([2, 3]);
      expect(s([3, 1]).expand([2, -1, 4]).shape).toEqual([2, 3, 4]);
      expect(tg.stack([s([2, 3]), s([2, 3]), s([2, 3])], 1).shape).toEqual([2, 3, 3]);
      expect(s([4, 3]).indexSelect(0, [3, 0, 3, 1]).shape).toEqual([4, 3]);
      expect(s([3, 4]).gather(1, [[0, 3], [2, 2], [1, 0]]).shape).toEqual([3, 2]);
    });
  });
});

// ---------------------------------------------------------------- a few exact gradients

describe('exact gradients of routing ops', () => {
  it('indexSelect with repeated indices accumulates', () => {
    tg.tidy(() => {
      const x = tg.tensor([[1, 2], [3, 4], [5, 6]], { requiresGrad: true });
      const y = x.indexSelect(0, tg.tensor([2, 0, 2]));
      expect(y.toArray()).toEqual([[5, 6], [1, 2], [5, 6]]);
      y.backward([[1, 2], [3, 4], [5, 6]]);
      expect(x.grad!.toArray()).toEqual([[3, 4], [0, 0], [6, 8]]);
    });
  });

  it('gather with repeated indices accumulates', () => {
    tg.tidy(() => {
      const x = tg.tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true });
      const y = x.gather(1, [[2, 2], [0, 1]]);
      expect(y.toArray()).toEqual([[3, 3], [4, 5]]);
      y.backward([[1, 10], [100, 1000]]);
      expect(x.grad!.toArray()).toEqual([[0, 0, 11], [100, 1000, 0]]);
    });
  });

  it('max(dim) routes the gradient to the arg max', () => {
    tg.tidy(() => {
      const x = tg.tensor([[1, 7, 3], [9, 2, 4]], { requiresGrad: true });
      const m = x.max(1);
      expect(Array.from(m.data())).toEqual([7, 9]);
      expect(Array.from(x.argmax(1).data())).toEqual([1, 0]);
      m.backward([2, 3]);
      expect(x.grad!.toArray()).toEqual([[0, 2, 0], [3, 0, 0]]);
    });
  });

  it('expand sums the gradient over the expanded dims', () => {
    tg.tidy(() => {
      const x = tg.tensor([[1], [2]], { requiresGrad: true }); // [2,1]
      const y = x.expand([3, 2, 4]);
      expect(y.shape).toEqual([3, 2, 4]);
      expect(flatten(y.toArray())).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2]);
      y.sum().backward();
      expect(x.grad!.toArray()).toEqual([[12], [12]]);
    });
  });

  it('softmax rows sum to one and the gradient of sum(softmax) is zero', () => {
    tg.tidy(() => {
      const x = tg.tensor([[1, 2, 3], [-1, 0, 5]], { requiresGrad: true });
      const s = x.softmax(1);
      const rows = s.sum(1).data();
      expectAllClose(rows, [1, 1], 1e-6, 0);
      s.sum().backward();
      expectAllClose(x.grad!.data(), [0, 0, 0, 0, 0, 0], 1e-6, 0);
    });
  });
});
