// Golden tests of the scalar (0-d tensor) path against micrograd's published numbers and
// against gradients derived by hand (the derivations are written out next to each test).
import { describe, it, expect } from 'vitest';
import * as tg from '../dist/index.js';
import { micrograd } from './helpers';

/** |actual - expected| <= atol + rtol * |expected| */
function expectNear(actual: number, expected: number, atol: number, rtol = 0, what = '') {
  const tol = atol + rtol * Math.abs(expected);
  expect(
    Math.abs(actual - expected),
    `${what}: expected ${expected} (±${tol}), got ${actual}`,
  ).toBeLessThanOrEqual(tol);
}

function expectAllNear(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, what = '') {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expectNear(actual[i], expected[i], atol, rtol, `${what}[${i}]`);
}

describe("micrograd's README example (0-d tensors)", () => {
  it('g = 24.7041, a.grad = 138.8338, b.grad = 645.5773', () => {
    tg.tidy(() => {
      const a = tg.tensor(-4.0, { requiresGrad: true });
      const b = tg.tensor(2.0, { requiresGrad: true });
      expect(a.shape).toEqual([]);
      expect(a.ndim).toBe(0);
      let c = a.add(b);
      let d = a.mul(b).add(b.pow(3));
      c = c.add(c.add(1)); //                     c += c + 1
      c = c.add(tg.add(1, c).add(a.neg())); //    c += 1 + c + (-a)
      d = d.add(d.mul(2).add(b.add(a).relu())); // d += d * 2 + (b + a).relu()
      d = d.add(tg.mul(3, d).add(b.sub(a).relu())); // d += 3 * d + (b - a).relu()
      const e = c.sub(d);
      const f = e.pow(2);
      let g = f.div(2.0);
      g = g.add(tg.div(10.0, f)); //               g += 10.0 / f
      // forward values by hand: c = -1, d = 6, e = -7, f = 49, g = 24.5 + 10/49
      expect(c.item()).toBe(-1);
      expect(d.item()).toBe(6);
      expect(e.item()).toBe(-7);
      expect(f.item()).toBe(49);
      expect(g.shape).toEqual([]);
      expect(typeof g.toArray()).toBe('number');
      expect(g.requiresGrad).toBe(true);
      g.backward();
      // micrograd's README: 24.7041, 138.8338, 645.5773 (4 decimals)
      expectNear(g.item(), 24.7041, 1e-4, 0, 'g');
      expectNear(a.grad!.item(), 138.8338, 1e-4, 1e-6, 'a.grad');
      expectNear(b.grad!.item(), 645.5773, 1e-4, 1e-6, 'b.grad');
      // Exact values by hand. c = 3a + 4b + 3, d = 12(ab + b^3) + 4 relu(a+b) + relu(b-a),
      // e = c - d, g = e^2/2 + 10/e^2, dg/de = e - 20/e^3 = -7 + 20/343.
      // de/da = 3 - (12b - 1) = -20, de/db = 4 - (12(a + 3b^2) + 1) = -93.
      const dgde = -7 + 20 / 343;
      expectNear(g.item(), 24.5 + 10 / 49, 1e-5, 1e-6, 'g exact');
      expectNear(a.grad!.item(), -20 * dgde, 1e-5, 1e-6, 'a.grad exact');
      expectNear(b.grad!.item(), -93 * dgde, 1e-5, 1e-6, 'b.grad exact');
      // intermediates are not leaves: only a and b carry the gradient we check
      expect(a.grad!.shape).toEqual([]);
      expect(b.grad!.shape).toEqual([]);
    });
  });

  it('the same expression written with the functional forms gives the same answer', () => {
    tg.tidy(() => {
      const a = tg.tensor(-4, { requiresGrad: true });
      const b = tg.tensor(2, { requiresGrad: true });
      let c = tg.add(a, b);
      let d = tg.add(tg.mul(a, b), tg.pow(b, 3));
      c = tg.add(c, tg.add(c, 1));
      c = tg.add(c, tg.add(tg.add(1, c), tg.neg(a)));
      d = tg.add(d, tg.add(tg.mul(d, 2), tg.relu(tg.add(b, a))));
      d = tg.add(d, tg.add(tg.mul(3, d), tg.relu(tg.sub(b, a))));
      const e = tg.sub(c, d);
      const f = tg.pow(e, 2);
      const g = tg.add(tg.div(f, 2), tg.div(10, f));
      g.backward();
      const dgde = -7 + 20 / 343;
      expectNear(g.item(), 24.5 + 10 / 49, 1e-5, 1e-6, 'g');
      expectNear(a.grad!.item(), -20 * dgde, 1e-5, 1e-6, 'a.grad');
      expectNear(b.grad!.item(), -93 * dgde, 1e-5, 1e-6, 'b.grad');
    });
  });

  it('elementwise over 1-D tensors matches the closed-form gradient of the README expression', () => {
    // Same expression, applied to vectors; the closed form is derived in the first test:
    // c = 3a+4b+3, d = 12(ab+b^3) + 4 relu(a+b) + relu(b-a), e = c-d, g = e^2/2 + 10/e^2,
    // dg/de = e - 20/e^3, dd/da = 12b + 4[a+b>0] - [b-a>0], dd/db = 12(a+3b^2) + 4[a+b>0] + [b-a>0].
    const av = [-4, 1.5, 0.5, -1];
    const bv = [2, -3, 1, 0.5];
    const relu = (x: number) => Math.max(0, x);
    const step = (x: number) => (x > 0 ? 1 : 0);
    const gExp: number[] = [];
    const gaExp: number[] = [];
    const gbExp: number[] = [];
    for (let i = 0; i < av.length; i++) {
      const A = av[i], B = bv[i];
      const c = 3 * A + 4 * B + 3;
      const d = 12 * (A * B + B ** 3) + 4 * relu(A + B) + relu(B - A);
      const e = c - d;
      gExp.push((e * e) / 2 + 10 / (e * e));
      const dgde = e - 20 / e ** 3;
      gaExp.push(dgde * (3 - (12 * B + 4 * step(A + B) - step(B - A))));
      gbExp.push(dgde * (4 - (12 * (A + 3 * B * B) + 4 * step(A + B) + step(B - A))));
    }
    tg.tidy(() => {
      const a = tg.tensor(av, { requiresGrad: true });
      const b = tg.tensor(bv, { requiresGrad: true });
      const g = micrograd(tg, a, b);
      expect(g.shape).toEqual([4]);
      expectAllNear(g.data(), gExp, 1e-4, 1e-5, 'g');
      g.sum().backward();
      expectAllNear(a.grad!.data(), gaExp, 1e-4, 1e-5, 'a.grad');
      expectAllNear(b.grad!.data(), gbExp, 1e-4, 1e-5, 'b.grad');
    });
  });

  it("micrograd's sanity check: y = -20, x.grad = 46", () => {
    // x = -4; z = 2x + 2 + x; q = relu(z) + z*x; h = relu(z*z); y = h + q + q*x
    // z = -10, q = 40, h = 100, y = -20;  dz/dx = 3, dq/dx = 3x + z = -22, dh/dx = 6z = -60,
    // dy/dx = dh/dx + dq/dx (1 + x) + q = -60 + 66 + 40 = 46
    tg.tidy(() => {
      const x = tg.tensor(-4.0, { requiresGrad: true });
      const z = tg.mul(2, x).add(2).add(x);
      const q = z.relu().add(z.mul(x));
      const h = z.mul(z).relu();
      const y = h.add(q).add(q.mul(x));
      y.backward();
      expect(y.item()).toBe(-20);
      expect(x.grad!.item()).toBe(46);
    });
  });
});

describe("tanh neuron from micrograd's notebook", () => {
  // x1 = 2, x2 = 0, w1 = -3, w2 = 1, b = 6.8813735870195432
  // n = x1 w1 + x2 w2 + b = 0.8813735870195432 = atanh(1/sqrt 2), o = tanh(n) = 1/sqrt(2),
  // do/dn = 1 - o^2 = 1/2; x1.grad = w1/2 = -1.5, w1.grad = x1/2 = 1, x2.grad = w2/2 = 0.5,
  // w2.grad = x2/2 = 0, b.grad = 0.5.
  const bias = 6.8813735870195432;
  const n0 = -6 + Math.fround(bias); // b is stored as float32
  const o0 = Math.tanh(n0);
  const dn = 1 - o0 * o0;

  function check(build: (n: tg.Tensor) => tg.Tensor) {
    tg.tidy(() => {
      const x1 = tg.tensor(2.0, { requiresGrad: true });
      const x2 = tg.tensor(0.0, { requiresGrad: true });
      const w1 = tg.tensor(-3.0, { requiresGrad: true });
      const w2 = tg.tensor(1.0, { requiresGrad: true });
      const b = tg.tensor(bias, { requiresGrad: true });
      const n = x1.mul(w1).add(x2.mul(w2)).add(b);
      const o = build(n);
      expect(o.shape).toEqual([]);
      expectNear(o.item(), Math.SQRT1_2, 1e-6, 0, 'o');
      o.backward();
      expectNear(x1.grad!.item(), -1.5, 1e-5, 0, 'x1.grad');
      expectNear(w1.grad!.item(), 1.0, 1e-5, 0, 'w1.grad');
      expectNear(x2.grad!.item(), 0.5, 1e-5, 0, 'x2.grad');
      expectNear(w2.grad!.item(), 0.0, 1e-6, 0, 'w2.grad');
      expectNear(b.grad!.item(), 0.5, 1e-5, 0, 'b.grad');
      // and against the float32-aware closed form
      expectNear(x1.grad!.item(), -3 * dn, 5e-6, 0, 'x1.grad (f32 input)');
      expectNear(w1.grad!.item(), 2 * dn, 5e-6, 0, 'w1.grad (f32 input)');
    });
  }

  it('with tanh()', () => {
    check((n) => n.tanh());
  });

  it('with tanh written as (exp(2n) - 1) / (exp(2n) + 1)', () => {
    check((n) => {
      const e = n.mul(2).exp();
      return e.sub(1).div(e.add(1));
    });
  });
});

describe('a small hand-derived scalar chain', () => {
  it('y = log(x^2 + 1) * sigmoid(x) - sqrt(x) / x  at x = 2', () => {
    // u = log(x^2+1), s = sigmoid(x), v = sqrt(x)/x = x^(-1/2)
    // dy/dx = 2x/(x^2+1) * s + u * s(1-s) + 0.5 x^(-3/2)
    const X = 2;
    const u = Math.log(X * X + 1);
    const s = 1 / (1 + Math.exp(-X));
    const yExp = u * s - 1 / Math.sqrt(X);
    const dExp = ((2 * X) / (X * X + 1)) * s + u * s * (1 - s) + 0.5 * X ** -1.5;
    tg.tidy(() => {
      const x = tg.tensor(X, { requiresGrad: true });
      const y = x.pow(2).add(1).log().mul(x.sigmoid()).sub(x.sqrt().div(x));
      y.backward();
      expectNear(y.item(), yExp, 1e-6, 1e-6, 'y');
      expectNear(x.grad!.item(), dExp, 1e-6, 1e-5, 'dy/dx');
    });
  });

  it('abs, maximum, minimum, leakyRelu pick the right branch', () => {
    // y = |a| * 3 + max(a, b) - min(a, b) * 2 + leakyRelu(a, 0.1) at a = -1.5, b = 0.5
    // |a|' = -1; max(a,b) = b; min(a,b) = a; leakyRelu'(a) = 0.1
    // dy/da = -3 - 2 + 0.1 = -4.9, dy/db = 1
    // y = 4.5 + 0.5 + 3 - 0.15 = 7.85
    tg.tidy(() => {
      const a = tg.tensor(-1.5, { requiresGrad: true });
      const b = tg.tensor(0.5, { requiresGrad: true });
      const y = a.abs().mul(3).add(a.maximum(b)).sub(tg.minimum(a, b).mul(2)).add(a.leakyRelu(0.1));
      y.backward();
      expectNear(y.item(), 7.85, 1e-6, 0, 'y');
      expectNear(a.grad!.item(), -4.9, 1e-6, 0, 'a.grad');
      expectNear(b.grad!.item(), 1, 1e-6, 0, 'b.grad');
    });
  });
});
