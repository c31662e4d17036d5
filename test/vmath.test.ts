// exp, tanh and sigmoid run four lanes at a time with their own polynomial approximations; this
// checks them against JavaScript's float64 Math over the whole f32 range, edges included.
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';

const inputs: number[] = [];
for (let v = -120; v <= 120; v += 0.0137) inputs.push(Math.fround(v));
inputs.push(0, 1e-8, -1e-8, 1e-30, 0.2999, 0.3, 0.3001, 88.7, -87.3, 50, -50);

const cases: [string, (x: tg.Tensor) => tg.Tensor, (v: number) => number][] = [
  ['exp', (x) => x.exp(), Math.exp],
  ['tanh', (x) => x.tanh(), Math.tanh],
  ['sigmoid', (x) => x.sigmoid(), (v) => 1 / (1 + Math.exp(-v))],
];

describe('vectorised exp, tanh, sigmoid', () => {
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

  it('handles infinities and NaN like Math', () => {
    tg.tidy(() => {
      const x = tg.tensor([Infinity, -Infinity, NaN, 89, -104]);
      expect(Array.from(x.exp().data())).toEqual([Infinity, 0, NaN, Infinity, 0]);
      expect(Array.from(x.tanh().data())).toEqual([1, -1, NaN, 1, -1]);
      expect(Array.from(x.sigmoid().data())).toEqual([1, 0, NaN, 1, 0]);
    });
  });
});
