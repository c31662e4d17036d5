// permute moves runs (a copy per innermost run, 4×4 register transposes in column bands for a
// transpose of the last two dims): checked against a naive index-by-index reference on shapes
// larger than the property tests' (bands of 64 columns, odd edges), values and gradients.
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';

/** y = x.permute(perm) and dx for the output gradient g, index by index. */
function reference(x: Float32Array, shape: number[], perm: number[], g: Float32Array) {
  const outShape = perm.map((p) => shape[p]);
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const y = new Float32Array(x.length), dx = new Float32Array(x.length);
  const idx = new Array(outShape.length).fill(0);
  for (let i = 0; i < x.length; i++) {
    const src = perm.reduce((s, p, d) => s + idx[d] * strides[p], 0);
    y[i] = x[src];
    dx[src] += g[i];
    for (let d = outShape.length - 1; d >= 0 && ++idx[d] === outShape[d]; d--) idx[d] = 0;
  }
  return { y, dx, outShape };
}

const CASES: [number[], number[]][] = [
  [[3, 70, 133], [0, 2, 1]],     // transpose of the last two: bands of 64, edges of 2 and 1
  [[133, 70], [1, 0]],
  [[2, 9, 4, 16], [0, 2, 1, 3]], // a head split: runs of 16
  [[2, 4, 9, 16], [0, 2, 1, 3]], // and the merge back
  [[5, 6, 7], [2, 0, 1]],        // strided innermost dim
  [[4, 1, 8, 1, 12], [4, 1, 0, 3, 2]],
  [[6, 5, 4], [0, 1, 2]],        // the identity: one run
];

describe('permute moves runs', () => {
  for (const [shape, perm] of CASES) {
    it(`[${shape}].permute(${perm}) matches the naive reference, values and gradient`, () => {
      tg.tidy(() => {
        const n = shape.reduce((a, b) => a * b, 1);
        const xs = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * 10);
        const gs = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.3));
        const x = tg.tensor(xs, { shape, requiresGrad: true });
        const { y, dx, outShape } = reference(xs, shape, perm, gs);
        const out = x.permute(perm);
        expect(out.shape).toEqual(outShape);
        expect(out.data()).toEqual(y);
        out.backward(tg.tensor(gs, { shape: outShape }), { retainGraph: true });
        out.backward(tg.tensor(gs, { shape: outShape })); // accumulates: the gradient adds, never overwrites
        expect(x.grad!.data()).toEqual(dx.map((v) => v * 2));
      });
    });
  }
});
