// The fused layerNorm op (assembly/ops/norm.ts) against independent answers: a float64 reference
// written from the formula (values and hand-derived gradients), finite differences for every
// combination of optional weight and bias, and replay under tg.trace.
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { expectClose } from './helpers';

const F = tg.nn.functional;

/** Deterministic values in (−scale, scale) plus an offset. */
const values = (n: number, seed: number, scale = 1, offset = 0): number[] =>
  Array.from({ length: n }, (_, i) => offset + scale * Math.sin(seed * 12.9898 + i * 78.233));

/** Float64 layer norm over rows of D, with PyTorch's backward for a given output gradient g. */
function reference(x: number[], D: number, w: number[] | null, b: number[] | null, g: number[], eps: number) {
  const rows = x.length / D, y: number[] = [], dx: number[] = [], dw = new Array(D).fill(0), db = new Array(D).fill(0);
  for (let r = 0; r < rows; r++) {
    const row = x.slice(r * D, (r + 1) * D), gr = g.slice(r * D, (r + 1) * D);
    const mu = row.reduce((s, v) => s + v, 0) / D;
    const rstd = 1 / Math.sqrt(row.reduce((s, v) => s + (v - mu) ** 2, 0) / D + eps);
    const xh = row.map((v) => (v - mu) * rstd), gh = gr.map((v, i) => v * (w ? w[i] : 1));
    const mg = gh.reduce((s, v) => s + v, 0) / D, mgx = gh.reduce((s, v, i) => s + v * xh[i], 0) / D;
    xh.forEach((v, i) => {
      y.push(v * (w ? w[i] : 1) + (b ? b[i] : 0));
      dx.push(rstd * (gh[i] - mg - v * mgx));
      dw[i] += gr[i] * v;
      db[i] += gr[i];
    });
  }
  return { y, dx, dw, db };
}

describe('layerNorm (fused)', () => {
  for (const [D, offset] of [[64, 0], [7, 0], [13, 1e4], [1, 0]] as const) {
    for (const [hasW, hasB] of [[true, true], [true, false], [false, true], [false, false]]) {
      it(`D = ${D}, offset ${offset}, weight ${hasW}, bias ${hasB}: values and gradients match the float64 formula`, () => {
        tg.tidy(() => {
          const rows = 6, eps = 1e-5;
          const xs = values(rows * D, D, 2, offset), ws = hasW ? values(D, 3, 1, 1) : null, bs = hasB ? values(D, 5) : null;
          const gs = values(rows * D, 9);
          const x = tg.tensor(xs, { shape: [2, 3, D], requiresGrad: true });
          const w = ws && tg.tensor(ws, { requiresGrad: true }), b = bs && tg.tensor(bs, { requiresGrad: true });
          F.layerNorm(x, [D], w, b, eps).backward(tg.tensor(gs, { shape: [2, 3, D] }));
          // inputs rounded to f32 as the engine holds them
          const ref = reference(Array.from(x.data()), D, w && Array.from(w.data()), b && Array.from(b.data()), gs, eps);
          const y = F.layerNorm(x, [D], w, b, eps);
          const tol = offset ? 1e-2 : 1e-5; // an offset of 1e4 leaves f32 about 1e-3 of each value
          expectClose(y.data(), ref.y, 1e-4, tol, 'y');
          expectClose(x.grad!.data(), ref.dx, 1e-3, offset ? 1e-1 : 1e-4, 'dx');
          if (w) expectClose(w.grad!.data(), ref.dw, 1e-4, tol * 10, 'dw');
          if (b) expectClose(b.grad!.data(), ref.db, 1e-4, 1e-5, 'db');
        });
      });
    }
  }

  it('gradcheck with weight only and with bias only, over two normalized dims', () => {
    tg.tidy(() => {
      const x = () => tg.tensor(values(2 * 3 * 5, 4, 1.5), { shape: [2, 3, 5], requiresGrad: true });
      const p = (seed: number) => tg.tensor(values(15, seed, 0.5, 1), { shape: [3, 5], requiresGrad: true });
      expect(tg.gradcheck((a, w) => F.layerNorm(a, [3, 5], w), [x(), p(1)], { eps: 1e-2, atol: 3e-3 })).toBe(true);
      expect(tg.gradcheck((a, b) => F.layerNorm(a, [3, 5], null, b), [x(), p(2)], { eps: 1e-2, atol: 3e-3 })).toBe(true);
    });
  });

  it('a row with NaN or Infinity gives NaN in that row only (PyTorch)', () => {
    tg.tidy(() => {
      const y = F.layerNorm(tg.tensor([[1, NaN, 3, 4], [1, 2, Infinity, 4], [1, 2, 3, 4]]), [4]).data();
      expect(Array.from(y.slice(0, 8)).every(Number.isNaN)).toBe(true);
      expectClose(y.slice(8), reference([1, 2, 3, 4], 4, null, null, [0, 0, 0, 0], 1e-5).y, 1e-5, 1e-6, 'finite row');
    });
  });

  it('replays under tg.trace with new inputs, matching eager runs', () => {
    const x = tg.keep(tg.zeros([4, 8])), w = tg.keep(tg.tensor(values(8, 2, 0.5, 1), { requiresGrad: true }));
    const b = tg.keep(tg.tensor(values(8, 3), { requiresGrad: true }));
    const step = () => tg.tidy(() => { w.zeroGrad(); b.zeroGrad(); const y = F.layerNorm(x, [8], w, b).pow(2).sum(); y.backward(); return y; });
    const eager = (k: number) => tg.tidy(() => {
      x.copy_(tg.tensor(values(32, 10 + k, 3), { shape: [4, 8] }));
      const y = step().item();
      return [y, Array.from(w.grad!.data()), Array.from(b.grad!.data())] as const;
    });
    const expected = [0, 1, 2].map(eager);
    tg.tidy(() => x.copy_(tg.tensor(values(32, 10, 3), { shape: [4, 8] })));
    const replay = tg.trace(step);
    try {
      for (let k = 0; k < 3; k++) {
        tg.tidy(() => x.copy_(tg.tensor(values(32, 10 + k, 3), { shape: [4, 8] })));
        replay.run();
        expect(replay.output.item()).toBeCloseTo(expected[k][0], 4);
        expectClose(w.grad!.data(), expected[k][1], 1e-5, 1e-6, `dw, run ${k}`);
        expectClose(b.grad!.data(), expected[k][2], 1e-5, 1e-6, `db, run ${k}`);
      }
    } finally {
      replay.dispose();
      for (const t of [x, w, b]) t.dispose();
    }
  });
});

// GroupNorm and RMSNorm (issue 12): their PyTorch fixtures (values, gradients, state-dict keys) are
// module cases in test/fixtures/nn.json, run by test/nn.test.ts; here hand-derived values, reprs,
// errors, gradcheck and replay.
describe('groupNorm and rmsNorm', () => {
  it('hand-derived values: a group [1, 3] → ±1/√(1 + eps); [3, 4] / √12.5', () => tg.tidy(() => {
    const g = F.groupNorm(tg.tensor([[[1, 3], [2, 6]]]), 2).data();
    const s1 = 1 / Math.sqrt(1 + 1e-5), s2 = 2 / Math.sqrt(4 + 1e-5); // groups [1, 3] (var 1) and [2, 6] (var 4)
    expectClose(g, [-s1, s1, -s2, s2], 1e-6, 1e-7, 'groupNorm');
    const r = F.rmsNorm(tg.tensor([3, 4]), [2]).data();
    const rms = Math.sqrt(12.5 + 2 ** -23);
    expectClose(r, [3 / rms, 4 / rms], 1e-6, 1e-7, 'rmsNorm');
  }));

  it("reprs as PyTorch's (GroupNorm 1.13, RMSNorm 2.4)", () => {
    const ms = [new tg.nn.GroupNorm(2, 6), new tg.nn.GroupNorm(1, 4, { eps: 1e-3, affine: false }), new tg.nn.RMSNorm(4), new tg.nn.RMSNorm([2, 3], { eps: 1e-6, elementwiseAffine: false })];
    expect(ms.map((m) => m.toString())).toEqual([
      'GroupNorm(2, 6, eps=1e-05, affine=True)', 'GroupNorm(1, 4, eps=0.001, affine=False)',
      'RMSNorm((4,), eps=None, elementwise_affine=True)', 'RMSNorm((2, 3), eps=1e-06, elementwise_affine=False)',
    ]);
    expect(ms.map((m) => m.namedParameters().map(([k]) => k))).toEqual([['weight', 'bias'], [], ['weight'], []]);
    tg.dispose(ms.flatMap((m) => m.parameters()));
  });

  it('errors name the op and the shapes', () => tg.tidy(() => {
    expect(() => new tg.nn.GroupNorm(4, 6)).toThrow(/GroupNorm: numChannels 6 must be divisible by numGroups 4/);
    expect(() => F.groupNorm(tg.ones([2, 6, 3]), 4)).toThrow(/groupNorm: the 6 channels \(dim 1 of shape \[2,6,3\]\) do not split into numGroups 4/);
    expect(() => F.groupNorm(tg.ones([6]), 2)).toThrow(/groupNorm: input must be \[N, C, \.\.\.\], got shape \[6\]/);
    expect(() => new tg.nn.GroupNorm(2, 4).forward(tg.ones([2, 6, 3]))).toThrow(/groupNorm: weight of shape \[4\] must be \[6\]/);
    expect(() => F.rmsNorm(tg.ones([2, 3]), [4])).toThrow(/rmsNorm: normalizedShape \[4\] does not match the trailing dims of input shape \[2,3\]/);
    expect(() => F.rmsNorm(tg.ones([2, 3]), [3], tg.ones([2]))).toThrow(/rmsNorm: weight of shape \[2\] does not match normalizedShape \[3\]/);
  }));

  it('pass gradcheck, and replay under tg.trace as eagerly', () => {
    const x = tg.keep(tg.tensor(values(24, 3, 2, 0.5), { shape: [2, 4, 3], requiresGrad: true }));
    const w = tg.keep(tg.tensor(values(4, 5, 0.5, 1), { requiresGrad: true })), b = tg.keep(tg.tensor(values(4, 7), { requiresGrad: true }));
    const wr = tg.keep(tg.tensor(values(3, 9, 0.5, 1), { requiresGrad: true }));
    expect(tg.gradcheck((a, c, d) => F.groupNorm(a, 2, c, d), [x, w, b], { eps: 1e-2 })).toBe(true);
    expect(tg.gradcheck((a, c) => F.rmsNorm(a, 3, c), [x, wr], { eps: 1e-2 })).toBe(true);
    const step = () => tg.tidy(() => {
      for (const t of [x, w, b, wr]) t.zeroGrad();
      const y = F.groupNorm(x, 2, w, b).mul(F.rmsNorm(x, 3, wr)).sum();
      y.backward();
      return y.detach();
    });
    const tr = tg.trace(step);
    x.copy_(tg.tidy(() => tg.tensor(values(24, 11, 3), { shape: [2, 4, 3] })));
    const replayed = [tr.run().item(), ...[x, w, b, wr].map((t) => Array.from(t.grad!.data()))];
    const e = step();
    expect(replayed).toEqual([e.item(), ...[x, w, b, wr].map((t) => Array.from(t.grad!.data()))]);
    e.dispose();
    tr.dispose();
    tg.dispose([x, w, b, wr]);
  });
});

describe('interpolate and nn.Upsample', () => {
  it("hand-derived: nearest repeats, bilinear weighs with half-pixel centres (PyTorch's [[1,2],[3,4]] ×2)", () => tg.tidy(() => {
    expect(F.interpolate(tg.tensor([[[[1, 2]]]]), { scaleFactor: 2 }).toArray()).toEqual([[[[1, 1, 2, 2], [1, 1, 2, 2]]]]);
    expect(F.interpolate(tg.tensor([[[[1, 2], [3, 4]]]]), { scaleFactor: 2, mode: 'bilinear' }).toArray()).toEqual([[[
      [1, 1.25, 1.75, 2], [1.5, 1.75, 2.25, 2.5], [2.5, 2.75, 3.25, 3.5], [3, 3.25, 3.75, 4]]]]);
    expect(F.interpolate(tg.tensor([[[[1, 2], [3, 4]]]]), { size: [3, 3], mode: 'bilinear', alignCorners: true }).toArray()).toEqual([[[
      [1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]]]]);
    expect([new tg.nn.Upsample({ scaleFactor: 2, mode: 'bilinear' }), new tg.nn.Upsample({ size: [5, 7] }), new tg.nn.Upsample({ scaleFactor: [1.5, 2] })].map(String)).toEqual([
      "Upsample(scale_factor=2.0, mode='bilinear')", "Upsample(size=(5, 7), mode='nearest')", "Upsample(scale_factor=(1.5, 2.0), mode='nearest')"]);
  }));

  it('errors name the op and what was wrong', () => tg.tidy(() => {
    const x = tg.ones([1, 1, 2, 2]);
    expect(() => F.interpolate(x, {})).toThrow(/interpolate: give exactly one of size and scaleFactor/);
    expect(() => F.interpolate(x, { size: 3, scaleFactor: 2 })).toThrow(/give exactly one of size and scaleFactor/);
    expect(() => F.interpolate(x, { scaleFactor: 2, alignCorners: true })).toThrow(/alignCorners is only for mode 'bilinear'/);
    expect(() => F.interpolate(x, { scaleFactor: 0.1 })).toThrow(/interpolate: the output size \[0,0\] of input shape \[1,1,2,2\] must be positive/);
    expect(() => F.interpolate(tg.ones([2, 2]), { scaleFactor: 2 })).toThrow(/interpolate: input must be 4-D \[N, C, H, W\], got shape \[2,2\]/);
    expect(() => new tg.nn.Upsample({ mode: 'bicubic' } as never)).toThrow(/Upsample: mode/);
    expect(() => F.interpolate(x, { scaleFactor: -1 })).toThrow(/interpolate: scaleFactor must be a positive number or a pair of them, got -1/);
  }));
});
