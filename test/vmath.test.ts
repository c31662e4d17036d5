// exp, log, tanh and sigmoid run four lanes at a time with their own polynomial approximations; this
// checks them against JavaScript's float64 Math over the whole f32 range, edges included.
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';

const inputs: number[] = [];
for (let v = -120; v <= 120; v += 0.0137) inputs.push(Math.fround(v));
inputs.push(0, -0, 1e-8, -1e-8, 1e-30, 1e-40, 1.4e-45, 3e38, 0.2999, 0.3, 0.3001, 88.7, -87.3, 50, -50, Math.SQRT2, Math.SQRT1_2);
for (let v = 0.5; v <= 2; v += 0.00173) inputs.push(Math.fround(v)); // log's reduction boundaries

const cases: [string, (x: tg.Tensor) => tg.Tensor, (v: number) => number][] = [
  ['exp', (x) => x.exp(), Math.exp],
  ['log', (x) => x.log(), Math.log],
  ['tanh', (x) => x.tanh(), Math.tanh],
  ['sigmoid', (x) => x.sigmoid(), (v) => 1 / (1 + Math.exp(-v))],
];

describe('vectorised exp, log, tanh, sigmoid', () => {
  for (const [name, op, reference] of cases) {
    it(`${name} is within 4 ulp of float64 Math over [-120, 120]`, () => {
      tg.tidy(() => {
        const y = op(tg.tensor(inputs)).data();
        let worst = 0;
        inputs.forEach((v, i) => {
          const expected = Math.fround(reference(Math.fround(v)));
          if (!Number.isFinite(expected)) { expect(y[i], `${name}(${v})`).toBe(expected); return; }
          if (Math.abs(expected) < 1e-37) { expect(Math.abs(y[i]), `${name}(${v})`).toBeLessThan(1e-37); return; }
          worst = Math.max(worst, Math.abs(y[i] - expected) / Math.abs(expected));
        });
        expect(worst).toBeLessThan(4 * 2 ** -23);
      });
    });
  }

  it('gelu (exact and tanh) and their gradients match a float64 reference over [-10, 10]', () => {
    // erf by its Taylor series (exact to ~1e-9 for |x| ≤ 4; beyond, erf = ±1 to float32 precision)
    const erf = (x: number): number => {
      if (Math.abs(x) > 4) return Math.sign(x);
      let term = x, sum = x;
      for (let n = 1; n < 200; n++) { term *= (-x * x) / n; sum += term / (2 * n + 1); }
      return (2 / Math.sqrt(Math.PI)) * sum;
    };
    const c = Math.sqrt(2 / Math.PI);
    const refs: [string, (v: number) => number, (v: number) => number][] = [
      ['none', (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
        (v) => 0.5 * (1 + erf(v / Math.SQRT2)) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI)],
      ['tanh', (v) => 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v ** 3))),
        (v) => { const t = Math.tanh(c * (v + 0.044715 * v ** 3)); return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v); }],
    ];
    const xs: number[] = [];
    for (let v = -10; v <= 10; v += 0.0173) xs.push(Math.fround(v));
    for (const [approximate, value, slope] of refs) {
      tg.tidy(() => {
        const x = tg.tensor(xs, { requiresGrad: true });
        const y = x.gelu({ approximate: approximate as 'none' | 'tanh' });
        y.sum().backward();
        const got = y.data(), grad = x.grad!.data();
        xs.forEach((v, i) => {
          expect(Math.abs(got[i] - value(v)), `gelu(${v}, ${approximate})`).toBeLessThanOrEqual(1e-6 + 1e-6 * Math.abs(value(v)));
          expect(Math.abs(grad[i] - slope(v)), `gelu'(${v}, ${approximate})`).toBeLessThanOrEqual(2e-6);
        });
      });
    }
  });

  it('handles infinities and NaN like Math', () => {
    tg.tidy(() => {
      const x = tg.tensor([Infinity, -Infinity, NaN, 89, -104]);
      expect(Array.from(x.exp().data())).toEqual([Infinity, 0, NaN, Infinity, 0]);
      expect(Array.from(x.tanh().data())).toEqual([1, -1, NaN, 1, -1]);
      expect(Array.from(x.sigmoid().data())).toEqual([1, 0, NaN, 1, 0]);
      expect(Array.from(tg.tensor([Infinity, -Infinity, NaN, 0, -0, -1]).log().data())).toEqual([Infinity, NaN, NaN, -Infinity, -Infinity, NaN]);
    });
  });

  it('softmax, logSoftmax and crossEntropy over rows of every length mod 4, and past the 1024 classes whose exponentials crossEntropy keeps, match float64', () => {
    // the row helpers finish a row whose length is not a multiple of 4 with an overlapping window
    const F = tg.nn.functional;
    for (const C of [1, 2, 3, 5, 6, 7, 8, 86, 1030]) {
      tg.tidy(() => {
        const N = 3, eps = 0.1;
        const xs = Array.from({ length: N * C }, (_, i) => Math.fround(Math.sin(i * 12.9898) * 6));
        const labels = Array.from({ length: N }, (_, i) => (i * 7) % C);
        const x = tg.tensor(xs, { shape: [N, C], requiresGrad: true });
        const soft = x.softmax(-1).data(), logSoft = x.logSoftmax(-1).data();
        const loss = F.crossEntropy(x, labels, { labelSmoothing: eps });
        loss.backward();
        const grad = x.grad!.data();
        let total = 0;
        for (let i = 0; i < N; i++) {
          const row = xs.slice(i * C, (i + 1) * C), m = Math.max(...row);
          const s = row.reduce((a, v) => a + Math.exp(v - m), 0), lse = m + Math.log(s);
          row.forEach((v, c) => {
            const p = Math.exp(v - m) / s, t = (c === labels[i] ? 1 - eps : 0) + eps / C;
            total += -t * (v - lse);
            expect(Math.abs(soft[i * C + c] - p), `softmax C=${C}`).toBeLessThan(1e-6 * p + 1e-9);
            expect(Math.abs(logSoft[i * C + c] - (v - lse)), `logSoftmax C=${C}`).toBeLessThan(2e-6 * Math.abs(v - lse) + 1e-6);
            expect(Math.abs(grad[i * C + c] - (p - t) / N), `crossEntropy grad C=${C}`).toBeLessThan(1e-6 * (p + t) / N + 1e-9);
          });
        }
        expect(Math.abs(loss.item() - total / N), `crossEntropy C=${C}`).toBeLessThan(2e-6 * Math.abs(total / N) + 1e-9);
      });
    }
  });
});
