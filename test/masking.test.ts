// The issue 9 ops where PyTorch fixtures cannot reach (test/fixtures/ops.json holds only finite
// numbers): NaN and ±Infinity as torch 1.13 gives them (its outputs quoted in each test), infinite
// upstream gradients, the condition's and comparisons' place outside the graph, empty tensors,
// accuracy of the four-lane sin / cos / softplus / silu against float64 Math over wide ranges,
// finite differences, a broadcasting property against a naive reference, and trace replay.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { failEachAllocation } from './helpers';

const NaN_ = Number.NaN, inf = Infinity;
const arr = (t: tg.Tensor): number[] => Array.from(t.data());
/** Values with −0 read as 0 (toEqual tells them apart; torch prints both as 0 here). */
const zeroed = (xs: number[]): number[] => xs.map((v) => (v === 0 ? 0 : v));

describe('NaN and ±Infinity as torch 1.13 has them', () => {
  const edge = [NaN_, -inf, inf, -0.5, 0.5, 2, -2, 0];

  it('clamp propagates NaN, passes the gradient on [min, max] inclusive, and selects it (an infinite g outside gives 0)', () => {
    tg.tidy(() => {
      const x = tg.tensor(edge, { requiresGrad: true });
      const y = x.clamp(-0.5, 0.5);
      y.backward(tg.ones([8]));
      // torch.clamp(x, -0.5, 0.5): [nan, -0.5, 0.5, -0.5, 0.5, 0.5, -0.5, 0.0], grad [0, 0, 0, 1, 1, 0, 0, 1]
      expect(arr(y)).toEqual([NaN_, -0.5, 0.5, -0.5, 0.5, 0.5, -0.5, 0]);
      expect(arr(x.grad!)).toEqual([0, 0, 0, 1, 1, 0, 0, 1]);
      const x2 = tg.tensor(edge, { requiresGrad: true });
      const y2 = x2.clamp({ min: -0.5 });
      y2.backward(tg.full([8], inf));
      // torch.clamp(x, min=-0.5) with an upstream of inf: grad [0, 0, inf, inf, inf, inf, 0, inf]
      expect(arr(y2)).toEqual([NaN_, -0.5, inf, -0.5, 0.5, 2, -0.5, 0]);
      expect(arr(x2.grad!)).toEqual([0, 0, inf, inf, inf, inf, 0, inf]);
      // min > max gives max everywhere (but NaN), and no gradient
      const x3 = tg.tensor(edge, { requiresGrad: true });
      const y3 = x3.clamp(0.5, -0.5);
      y3.backward(tg.ones([8]));
      expect(arr(y3)).toEqual([NaN_, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5]);
      expect(arr(x3.grad!)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    });
  });

  it('sin, cos, square, rsqrt, silu and softplus of edge values, and their gradients', () => {
    // torch 1.13, forward then gradient for an upstream of ones, at [nan, -inf, inf, -0.5, 0.5, 2, -2, 0]
    const torch: Record<string, [number[], number[]]> = {
      sin: [[NaN_, NaN_, NaN_, -0.4794255495071411, 0.4794255495071411, 0.9092974066734314, -0.9092974066734314, 0],
        [NaN_, NaN_, NaN_, 0.8775825500488281, 0.8775825500488281, -0.416146844625473, -0.416146844625473, 1]],
      cos: [[NaN_, NaN_, NaN_, 0.8775825500488281, 0.8775825500488281, -0.416146844625473, -0.416146844625473, 1],
        [NaN_, NaN_, NaN_, 0.4794255495071411, -0.4794255495071411, -0.9092974066734314, 0.9092974066734314, 0]],
      square: [[NaN_, inf, inf, 0.25, 0.25, 4, 4, 0], [NaN_, -inf, inf, -1, 1, 4, -4, 0]],
      rsqrt: [[NaN_, NaN_, 0, NaN_, 1.4142135381698608, 0.7071067690849304, NaN_, inf],
        [NaN_, NaN_, 0, NaN_, -1.4142134189605713, -0.1767766773700714, NaN_, -inf]],
      silu: [[NaN_, NaN_, inf, -0.1887703388929367, 0.3112296760082245, 1.7615940570831299, -0.23840583860874176, 0],
        [NaN_, NaN_, NaN_, 0.260038822889328, 0.7399612069129944, 1.0907843112945557, -0.09078425168991089, 0.5]],
      softplus: [[NaN_, 0, inf, 0.4740769863128662, 0.9740769863128662, 2.1269280910491943, 0.12692800164222717, 0.6931471824645996],
        [NaN_, 0, 1, 0.3775406777858734, 0.622459352016449, 0.8807970881462097, 0.11920291930437088, 0.5]],
    };
    for (const [name, [value, slope]] of Object.entries(torch)) {
      tg.tidy(() => {
        const x = tg.tensor(edge, { requiresGrad: true });
        const y = (x as unknown as Record<string, () => tg.Tensor>)[name]();
        y.backward(tg.ones([8]));
        const got = arr(y), g = arr(x.grad!);
        // non-finite values exactly, finite ones to float32 rounding
        const near = (a: number, b: number): boolean => (Number.isFinite(b) ? Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)) : Object.is(a, b));
        value.forEach((v, i) => expect(near(got[i], v), `${name}(${edge[i]}) = ${got[i]}, torch ${v}`).toBe(true));
        slope.forEach((v, i) => expect(near(g[i], v), `${name}'(${edge[i]}) = ${g[i]}, torch ${v}`).toBe(true));
      });
    }
  });

  it('silu and softplus where e^x overflows or flushes: torch gives -0 and 1 for silu(-100), silu(100)', () => {
    tg.tidy(() => {
      const x = tg.tensor([-100, -90, 88, 89, 100], { requiresGrad: true });
      const y = x.silu();
      y.backward(tg.ones([5]));
      expect(zeroed(arr(y))).toEqual([0, 0, 88, 89, 100]);
      expect(zeroed(arr(x.grad!))).toEqual([0, 0, 1, 1, 1]);
      // softplus with a threshold past e^x's range: log1p(e^89) = inf and its gradient inf/inf = NaN, as torch
      const x2 = tg.tensor([88, 89, 100], { requiresGrad: true });
      const y2 = x2.softplus({ threshold: 1000 });
      y2.backward(tg.ones([3]));
      expect(arr(y2)).toEqual([88, inf, inf]);
      expect(arr(x2.grad!)).toEqual([1, NaN_, NaN_]);
    });
  });

  it('where and maskedFill select the gradient: an infinite g goes nowhere it was not chosen', () => {
    tg.tidy(() => {
      const a = tg.tensor([1, 2, 3], { requiresGrad: true }), b = tg.tensor([4, 5, 6], { requiresGrad: true });
      const c = tg.tensor([1, 0, NaN_]); // NaN is true
      const y = tg.where(c, a, b);
      y.backward(tg.tensor([inf, inf, NaN_]));
      // torch.where(c != 0, a, b).backward([inf, inf, nan]): a.grad [inf, 0, nan], b.grad [0, inf, 0]
      expect(arr(y)).toEqual([1, 5, 3]);
      expect(arr(a.grad!)).toEqual([inf, 0, NaN_]);
      expect(arr(b.grad!)).toEqual([0, inf, 0]);
      const x = tg.tensor([1, 2, 3], { requiresGrad: true });
      const z = x.maskedFill(tg.tensor([1, 0, -0.25]), -inf);
      z.backward(tg.tensor([inf, 1, NaN_]));
      // torch: a.masked_fill([T, F, T], -inf) = [-inf, 2, -inf], grad [0, 1, 0]
      expect(arr(z)).toEqual([-inf, 2, -inf]);
      expect(arr(x.grad!)).toEqual([0, 1, 0]);
    });
  });

  it('tril and triu zero NaN outside the triangle and mask an infinite gradient there', () => {
    tg.tidy(() => {
      const m = tg.tensor([[NaN_, 1], [2, NaN_]], { requiresGrad: true });
      expect(arr(m.tril())).toEqual([NaN_, 0, 2, NaN_]);
      expect(arr(m.triu(1))).toEqual([0, 1, 0, 0]);
      m.tril().backward(tg.full([2, 2], inf));
      expect(arr(m.grad!)).toEqual([inf, 0, inf, inf]);
    });
  });

  it('comparisons are IEEE: NaN equals nothing and orders with nothing; -0 equals 0', () => {
    tg.tidy(() => {
      const x = tg.tensor([NaN_, 1, -0, -inf]), y = tg.tensor([NaN_, 1, 0, -inf]);
      expect(arr(x.eq(y))).toEqual([0, 1, 1, 1]);
      expect(arr(x.ne(y))).toEqual([1, 0, 0, 0]);
      expect(arr(x.lt(1))).toEqual([0, 0, 1, 1]);
      expect(arr(x.le(y))).toEqual([0, 1, 1, 1]);
      expect(arr(x.gt(-1))).toEqual([0, 1, 1, 0]);
      expect(arr(x.ge(NaN_))).toEqual([0, 0, 0, 0]);
      expect(arr(tg.gt(0, x))).toEqual([0, 0, 0, 1]); // a number on the left
    });
  });
});

describe('the condition, the mask and the comparisons stay outside the graph', () => {
  it('comparisons of tensors that require grad do not require grad and record nothing', () => {
    tg.tidy(() => {
      const x = tg.tensor([1, -2, 3], { requiresGrad: true });
      for (const y of [x.eq(1), x.ne(x), x.lt(0), x.le(x), x.gt(tg.tensor([0])), tg.ge(x, 2)]) expect(y.requiresGrad).toBe(false);
      // used as a mask, the result is a constant: the gradient of x.mul(x.gt(0)) is the mask itself
      x.mul(x.gt(0)).sum().backward();
      expect(arr(x.grad!)).toEqual([1, 0, 1]);
    });
  });

  it('a condition (or mask) that requires grad gets none, and alone does not make the result require grad', () => {
    tg.tidy(() => {
      const c = tg.tensor([1, 0, 2], { requiresGrad: true });
      const x = tg.tensor([1, 2, 3], { requiresGrad: true });
      expect(tg.where(c, 5, 6).requiresGrad).toBe(false);
      expect(tg.maskedFill(tg.tensor([1, 2, 3]), c, 0).requiresGrad).toBe(false);
      tg.where(c, x, 0).sum().backward();
      x.maskedFill(c, 0).sum().backward();
      expect(c.grad).toBeNull();
      expect(arr(x.grad!)).toEqual([1, 1, 1]); // [1, 0, 1] from where, [0, 1, 0] from maskedFill
    });
  });

  it('a 0-d value tensor of maskedFill gets the sum of the gradient where it was filled', () => {
    tg.tidy(() => {
      const v = tg.tensor(2, { requiresGrad: true });
      const x = tg.tensor([[1, 2], [3, 4]], { requiresGrad: true });
      x.maskedFill(tg.tensor([1, 0]), v).backward(tg.tensor([[1, 10], [100, 1000]]));
      expect(v.item()).toBe(2);
      expect(v.grad!.item()).toBe(101);
      expect(arr(x.grad!)).toEqual([0, 10, 0, 1000]);
    });
  });
});

describe('empty tensors', () => {
  it('every op gives an empty result of the right shape, and zero gradients of the inputs\' shapes', () => {
    tg.tidy(() => {
      const x = tg.zeros([0, 3], { requiresGrad: true }), y = tg.zeros([3], { requiresGrad: true });
      const outs = [tg.where(tg.zeros([0, 1]), x, y), x.maskedFill(tg.ones([3]), 1), x.tril(), x.triu(-1), x.clamp(0, 1),
        x.sin(), x.cos(), x.square(), x.rsqrt(), x.silu(), x.softplus(), tg.zeros([2, 0, 4], { requiresGrad: true }).tril()];
      for (const o of outs.slice(0, -1)) expect(o.shape).toEqual([0, 3]);
      for (const o of outs) o.sum().backward();
      expect(x.grad!.shape).toEqual([0, 3]);
      expect(arr(y.grad!)).toEqual([0, 0, 0]);
      expect(x.lt(y).shape).toEqual([0, 3]);
    });
  });
});

describe('accuracy of the four-lane kernels against float64 Math', () => {
  const ulp = (v: number): number => {
    const a = Math.abs(Math.fround(v));
    return a === 0 ? 2 ** -149 : 2 ** (Math.max(Math.floor(Math.log2(a)), -126) - 23);
  };
  /** The worst error in ulp of the reference, and the worst absolute error (references below 1e-30 are flushed to 0 by e^x: skipped). */
  function worst(xs: number[], op: (t: tg.Tensor) => tg.Tensor, ref: (v: number) => number): [number, number] {
    return tg.tidy(() => {
      const y = op(tg.tensor(xs)).data();
      let inUlp = 0, abs = 0;
      xs.forEach((v, i) => {
        const r = ref(v);
        if (Math.abs(r) < 1e-30) { expect(Math.abs(y[i])).toBeLessThan(1e-30); return; }
        inUlp = Math.max(inUlp, Math.abs(y[i] - r) / ulp(r));
        abs = Math.max(abs, Math.abs(y[i] - r));
      });
      return [inUlp, abs];
    });
  }
  const steps = (lo: number, hi: number, step: number): number[] => {
    const xs: number[] = [];
    for (let v = lo; v <= hi; v += step) xs.push(Math.fround(v));
    return xs;
  };
  /** n values of both signs, spread geometrically over [lo, hi]. */
  const spread = (lo: number, hi: number, n: number): number[] =>
    Array.from({ length: n }, (_, k) => Math.fround((k % 2 ? -1 : 1) * lo * (hi / lo) ** (k / n)));

  it('sin and cos: within 1.5 ulp up to |x| = 1.6e6 (an exact f64 reduction), within 1e-7 absolute up to 1e8', () => {
    for (const [name, op, ref] of [['sin', (t: tg.Tensor) => t.sin(), Math.sin], ['cos', (t: tg.Tensor) => t.cos(), Math.cos]] as const) {
      expect(worst(steps(-100, 100, 0.00731), op, ref)[0], `${name} near 0`).toBeLessThan(1.5);
      expect(worst(spread(100, 1.6e6, 20000), op, ref)[0], `${name} to 1.6e6`).toBeLessThan(1.5);
      expect(worst(spread(1.6e6, 1e8, 20000), op, ref)[1], `${name} to 1e8`).toBeLessThan(1e-7);
    }
  });

  it('softplus and silu within 3 ulp over [-90, 25]; rsqrt within 1.5 ulp over [1e-6, 1e6]', () => {
    const xs = steps(-90, 25, 0.0037);
    expect(worst(xs, (t) => t.softplus(), (v) => (v > 20 ? v : Math.log1p(Math.exp(v))))[0]).toBeLessThan(3);
    expect(worst(xs, (t) => t.softplus({ beta: 2, threshold: 30 }), (v) => (2 * v > 30 ? v : Math.log1p(Math.exp(2 * v)) / 2))[0]).toBeLessThan(3);
    expect(worst(xs, (t) => t.silu(), (v) => v / (1 + Math.exp(-v)))[0]).toBeLessThan(3);
    const pos: number[] = [];
    for (let v = 1e-6; v <= 1e6; v *= 1.0013) pos.push(Math.fround(v));
    expect(worst(pos, (t) => t.rsqrt(), (v) => 1 / Math.sqrt(v))[0]).toBeLessThan(1.5);
  });

  it('gradients agree with finite differences (tg.gradcheck)', () => {
    tg.tidy(() => {
      const x = tg.tensor([-2.3, -0.7, 0.4, 1.1, 2.9, -4.2, 5.5], { requiresGrad: true });
      const p = tg.tensor([0.3, 0.9, 1.7, 2.2, 3.1, 0.6, 1.4], { requiresGrad: true });
      for (const f of [(t: tg.Tensor) => t.sin(), (t: tg.Tensor) => t.cos(), (t: tg.Tensor) => t.square(), (t: tg.Tensor) => t.silu(),
        (t: tg.Tensor) => t.softplus(), (t: tg.Tensor) => t.softplus({ beta: 3, threshold: 4 }), (t: tg.Tensor) => t.clamp(-1, 1)]) {
        expect(tg.gradcheck(f, [x])).toBe(true);
      }
      expect(tg.gradcheck((t) => t.rsqrt(), [p])).toBe(true);
    });
  });
});

describe('where broadcasts three operands like a naive reference', () => {
  /** Right-aligned broadcast of shapes (they are made compatible below). */
  const bshape = (...ss: number[][]): number[] => {
    const r = Math.max(...ss.map((s) => s.length));
    return Array.from({ length: r }, (_, i) => Math.max(...ss.map((s) => s[i - (r - s.length)] ?? 1)));
  };
  const offset = (shape: number[], out: number[], idx: number[]): number => {
    let o = 0;
    for (let i = 0; i < shape.length; i++) o = o * shape[i] + (shape[i] === 1 ? 0 : idx[i + out.length - shape.length]);
    return o;
  };

  it('values and gradients (summed over each operand\'s broadcast dims)', () => {
    const out = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 3 });
    const like = (o: number[]) => fc.tuple(fc.integer({ min: 0, max: o.length }), fc.array(fc.boolean(), { minLength: o.length, maxLength: o.length }))
      .map(([drop, ones]) => o.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));
    fc.assert(fc.property(out.chain((o) => fc.tuple(like(o), like(o), like(o), fc.integer({ min: 0, max: 1000 }))), ([sc, sx, sy, seed]) => {
      tg.tidy(() => {
        const n = (s: number[]) => s.reduce((a, b) => a * b, 1);
        const vals = (s: number[], k: number) => Array.from({ length: n(s) }, (_, i) => Math.sin(seed + k * 31 + i * 1.7) * 3);
        const cv = vals(sc, 0).map((v) => (v > 0.5 ? v : 0)), xv = vals(sx, 1), yv = vals(sy, 2);
        const x = tg.tensor(xv, { shape: sx, requiresGrad: true }), y = tg.tensor(yv, { shape: sy, requiresGrad: true });
        const o = tg.where(tg.tensor(cv, { shape: sc }), x, y);
        const os = bshape(sc, sx, sy);
        expect(o.shape).toEqual(os);
        const up = vals(os, 3);
        o.backward(tg.tensor(up, { shape: os }));
        const want = new Array<number>(n(os)).fill(0), gx = new Array<number>(n(sx)).fill(0), gy = new Array<number>(n(sy)).fill(0);
        const idx = new Array<number>(os.length).fill(0);
        for (let k = 0; k < n(os); k++) {
          const yes = cv[offset(sc, os, idx)] !== 0, ix = offset(sx, os, idx), iy = offset(sy, os, idx);
          want[k] = yes ? xv[ix] : yv[iy];
          if (yes) gx[ix] += up[k]; else gy[iy] += up[k];
          for (let d = os.length - 1; d >= 0 && ++idx[d] === os[d]; d--) idx[d] = 0;
        }
        expect(arr(o)).toEqual(want.map(Math.fround));
        arr(x.grad!).forEach((v, i) => expect(v).toBeCloseTo(gx[i], 5));
        arr(y.grad!).forEach((v, i) => expect(v).toBeCloseTo(gy[i], 5));
      });
    }), { numRuns: 150 });
  });
});

describe('trace replay', () => {
  it('a masked-attention step (tril mask, maskedFill, where, clamp, silu) replays as it runs eagerly', () => {
    const T = 4;
    const make = (): tg.Tensor => tg.keep(tg.tensor(Array.from({ length: T * T }, (_, i) => Math.cos(i * 0.9)), { shape: [T, T], requiresGrad: true }));
    const wEager = make(), wTraced = make();
    const input = tg.keep(tg.zeros([2, T, T]));
    const mask = tg.keep(tg.ones([T, T]).tril().eq(0)); // 1 above the diagonal: the future
    const step = (w: tg.Tensor, x: tg.Tensor): tg.Tensor => tg.tidy(() => {
      w.zeroGrad();
      const scores = x.matmul(w).maskedFill(mask, -Infinity).softmax(-1);
      const loss = tg.where(scores.gt(0.3), scores.silu(), scores.clamp(0.05, null)).square().sum();
      loss.backward();
      tg.noGrad(() => w.copy_(w.sub(w.grad!.mul(0.1))));
      return loss;
    });
    const batch = (k: number) => tg.tensor(Array.from({ length: 2 * T * T }, (_, i) => Math.sin(k + i * 0.37)), { shape: [2, T, T] });
    const eager = [1, 2, 3].map((k) => tg.tidy(() => step(wEager, batch(k)).item()));
    tg.tidy(() => { input.copy_(batch(1)); });
    const replay = tg.trace(() => step(wTraced, input));
    const traced = [replay.output.item()];
    for (const k of [2, 3]) {
      tg.tidy(() => { input.copy_(batch(k)); });
      traced.push(replay.run().item());
    }
    expect(traced).toEqual(eager);
    expect(arr(wTraced)).toEqual(arr(wEager));
    replay.dispose();
    tg.dispose([wEager, wTraced, input, mask]);
  });
});

describe('running out of memory', () => {
  it('where, maskedFill and a comparison that expand operands leave nothing behind when any allocation fails, or when they succeed', () => {
    const c = tg.tensor([1, 0, 2, 0], { requiresGrad: true }); // a condition read detached: one more copy
    const x = tg.randn([2, 3, 4], { requiresGrad: true }), y = tg.randn([2, 1, 4], { requiresGrad: true });
    for (const call of [() => tg.where(c, x, y), () => x.maskedFill([[1], [0], [1]], -Infinity), () => tg.lt([[0.5]], x)]) {
      const failures = failEachAllocation(tg, () => {
        const before = tg.memory().tensors;
        const out = call();
        expect(out.shape).toEqual([2, 3, 4]);
        out.dispose();
        expect(tg.memory().tensors).toBe(before); // and nothing behind on success either
      });
      expect(failures).toBeGreaterThan(0);
    }
    tg.dispose([c, x, y]);
  });
});
