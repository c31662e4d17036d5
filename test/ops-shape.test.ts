// Issue 9's var/std, cumsum, split/chunk/unbind/clone, sort/topk, oneHot and the seeded samplers
// (randint, randperm, multinomial): what the PyTorch fixtures (test/fixtures.test.ts) cannot hold —
// Infinity and NaN (JSON has neither), finite differences, hand-derived values taken from PyTorch
// 1.13 by hand (quoted next to each), naive references, statistics, and replay under tg.trace.
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { failEachAllocation } from './helpers';

type Tensor = ReturnType<typeof tg.tensor>;
const F = tg.nn.functional;
const arr = (t: Tensor): number[] => Array.from(t.data());
const tidy = <T>(fn: () => T): T => tg.tidy(fn);

/** Pearson's χ² of counts against expected counts. */
const chiSquare = (counts: number[], expected: number[]): number =>
  counts.reduce((s, c, i) => s + (c - expected[i]) ** 2 / expected[i], 0);
/** χ² quantiles at p = 0.001, by degrees of freedom (tables): a fair sampler exceeds them once in 1000 seeds. */
const CHI2_999: Record<number, number> = { 3: 16.27, 9: 27.88, 11: 31.26, 23: 49.73 };

describe('var and std', () => {
  it('give Infinity or NaN when correction >= N, with PyTorch\'s gradients', () => tidy(() => {
    // torch.var(tensor([1.,2.,4.]), 0, correction=3) = inf; its backward gives [-inf, -inf, inf]
    const x = tg.tensor([1, 2, 4], { requiresGrad: true });
    const v = x.var(0, { correction: 3 });
    expect(v.item()).toBe(Infinity);
    v.backward();
    expect(arr(x.grad!)).toEqual([-Infinity, -Infinity, Infinity]);
    // correction=5: inf forward (divisor max(0, N - 5)), but the gradient uses N - 5 = -2: [4/3, 1/3, -5/3]
    const y = tg.tensor([1, 2, 4], { requiresGrad: true });
    y.var(0, { correction: 5 }).backward();
    expect(arr(y.grad!).map((g) => +g.toFixed(5))).toEqual([1.33333, 0.33333, -1.66667]);
    expect(tg.var(tg.zeros([0])).item()).toBeNaN(); // torch.var(torch.zeros(0)) = nan
    expect(tg.var(tg.tensor(3)).item()).toBeNaN(); // one element, correction 1: 0 / 0
    expect(tg.var(tg.tensor(3), undefined, { correction: 0 }).item()).toBe(0);
    expect(arr(tg.zeros([0, 2]).var(0))).toEqual([NaN, NaN]);
    expect(tg.tensor([1, NaN]).std().item()).toBeNaN();
  }));

  it('std has gradient 0 where it is 0 (PyTorch masks it)', () => tidy(() => {
    const y = tg.tensor([2, 2], { requiresGrad: true });
    const s = y.std();
    expect(s.item()).toBe(0);
    s.backward();
    expect(arr(y.grad!)).toEqual([0, 0]);
  }));

  it('match finite differences, over one dim, several and all', () => tidy(() => {
    const x = tg.randn([3, 4, 2], { requiresGrad: true });
    expect(tg.gradcheck((a) => a.var(1), [x])).toBe(true);
    expect(tg.gradcheck((a) => a.std([0, 2], { keepdim: true, correction: 0 }), [x])).toBe(true);
    expect(tg.gradcheck((a) => a.std(), [x])).toBe(true);
    expect(tg.gradcheck((a) => a.cumsum(-2).mul(a), [x])).toBe(true);
  }));

  it('refuse correction together with unbiased, and bad options', () => tidy(() => {
    const x = tg.ones([3]);
    expect(() => x.var(0, { correction: 1, unbiased: true })).toThrow(/var: pass correction or unbiased/);
    expect(() => x.std(0, { correction: -1 })).toThrow(/std: correction/);
    expect(() => x.var(3)).toThrow(/var: dim 3 is out of range/);
  }));
});

describe('sort and topk', () => {
  it('order NaN as the largest value (PyTorch 1.13, by hand)', () => tidy(() => {
    const x = tg.tensor([3, NaN, 1, Infinity], { requiresGrad: true });
    // torch.sort: values [1, 3, inf, nan], indices [2, 0, 3, 1]
    const up = x.sort();
    expect(arr(up.values)).toEqual([1, 3, Infinity, NaN]);
    expect(arr(up.indices)).toEqual([2, 0, 3, 1]);
    // descending: [nan, inf, 3, 1], [1, 3, 0, 2]
    const down = tg.sort(x, { descending: true });
    expect(arr(down.values)).toEqual([NaN, Infinity, 3, 1]);
    expect(arr(down.indices)).toEqual([1, 3, 0, 2]);
    // torch.topk(x, 2): [nan, inf], [1, 3]; largest=False: [1, 3], [2, 0]
    const [values, indices] = x.topk(2);
    expect(arr(values)).toEqual([NaN, Infinity]);
    expect(arr(indices)).toEqual([1, 3]);
    expect(arr(tg.topk(x, 2, { largest: false }).indices)).toEqual([2, 0]);
    values.backward(tg.tensor([10, 20]));
    expect(arr(x.grad!)).toEqual([0, 10, 0, 20]);
    expect(indices.requiresGrad).toBe(false);
  }));

  it('sorts long lines with ties stably, like a naive reference', () => tidy(() => {
    const n = 1000;
    const values = Array.from({ length: 2 * n }, (_, i) => ((i * 7919) % 37) - 18);
    const x = tg.tensor(values, { shape: [2, n] }).transpose(0, 1); // sort along dim 0 of [n, 2]: strided lines
    for (const descending of [false, true]) {
      const r = x.sort({ dim: 0, descending });
      for (let col = 0; col < 2; col++) {
        const line = values.slice(col * n, (col + 1) * n);
        const order = line.map((_, i) => i).sort((p, q) => (descending ? line[q] - line[p] : line[p] - line[q]) || p - q);
        const got = arr(r.indices).filter((_, i) => i % 2 === col);
        expect(got).toEqual(order);
        expect(arr(r.values).filter((_, i) => i % 2 === col)).toEqual(order.map((i) => line[i]));
      }
    }
  }));

  it('topk is the first k of the stable sort, for small k (selection) and large (merge sort), ties and NaN included', () => tidy(() => {
    tg.manualSeed(6);
    const x = tg.randint(-20, 20, [3, 500]).div(2).maximum(tg.tensor(-8)); // many ties
    const withNaN = tg.cat([x, tg.full([3, 1], NaN)], 1);
    for (const t of [x, withNaN]) {
      for (const largest of [true, false]) {
        const full = t.sort({ descending: largest });
        for (const k of [1, 5, 64, 65, 300]) {
          const top = t.topk(k, { largest });
          expect(arr(top.indices), `k ${k} largest ${largest}`).toEqual(arr(full.indices.narrow(1, 0, k)));
          expect(arr(top.values)).toEqual(arr(full.values.narrow(1, 0, k)));
        }
      }
    }
  }));

  it('backward refuses indices modified in place since (version counter)', () => tidy(() => {
    const x = tg.tensor([3, 1, 2], { requiresGrad: true });
    const r = x.sort();
    r.indices.copy_(tg.tensor([0, 0, 0]));
    expect(() => r.values.sum().backward()).toThrow(/sort saved for the gradient was modified in place/);
  }));

  it('a 0-d input gives its element, for k 0 too (torch.topk(tensor(3.), 0) = (3., 0))', () => tidy(() => {
    const r = tg.tensor(3).topk(0);
    expect([r.values.item(), r.indices.item()]).toEqual([3, 0]);
  }));

  it('refuse k past the dim and bad options', () => tidy(() => {
    const x = tg.ones([2, 3]);
    expect(() => x.topk(4)).toThrow(/topk: k 4 is out of range/);
    expect(() => x.topk(1, { dim: 2 })).toThrow(/topk: dim 2 is out of range/);
    expect(() => x.sort({ descending: 1 } as never)).toThrow(/sort: descending must be true or false/);
  }));
});

describe('split, chunk, unbind, clone', () => {
  it('pieces along the first dim are views (writing one writes the input, as PyTorch); along others, and clones, copies', () => tidy(() => {
    const x = tg.arange(6).reshape(3, 2);
    const [a] = x.split(1);
    a.copy_(tg.tensor([[9, 9]]));
    expect(arr(x)).toEqual([9, 9, 2, 3, 4, 5]);
    x.copy_(tg.arange(6).reshape(3, 2));
    const [col] = x.split(1, 1); // not a run of x's elements: a copy (PyTorch would give a strided view)
    col.copy_(tg.tensor([[7], [7], [7]]));
    expect(arr(x)).toEqual([0, 1, 2, 3, 4, 5]);
    const c = x.clone();
    c.copy_(tg.zeros([3, 2]));
    expect(arr(x)).toEqual([0, 1, 2, 3, 4, 5]);
  }));

  it('gradients of several pieces add up in the input, and unbind of an empty dim gives none', () => tidy(() => {
    const x = tg.tensor([[1, 2], [3, 4], [5, 6]], { requiresGrad: true });
    const [p, q] = x.chunk(2, 1);
    p.mul(2).add(q.mul(3)).sum().add(x.clone().sum()).backward();
    expect(arr(x.grad!)).toEqual([3, 4, 3, 4, 3, 4]);
    expect(tg.unbind(tg.zeros([0, 3]))).toEqual([]);
  }));

  it('follow PyTorch\'s errors', () => tidy(() => {
    const x = tg.ones([5, 2]);
    expect(() => x.split(0)).toThrow(/split: splitSizeOrSections can be 0 only for an empty dim/);
    expect(() => x.split([2, 2])).toThrow(/split: sizes \[2,2\] add up to 4, but dim 0 of shape \[5,2\] has 5/);
    expect(() => x.chunk(0)).toThrow(/chunk: chunks 0 is out of range/);
    expect(() => tg.unbind(tg.tensor(1))).toThrow(/unbind: cannot split a 0-d tensor/);
    // an empty tensor can have a dim of 10⁹: refused before 10⁹ tensors are attempted
    expect(() => tg.zeros([1e9, 0]).unbind()).toThrow(/unbind: 1000000000 pieces are more tensors than can be made/);
    expect(() => tg.zeros([0]).chunk(1e9)).toThrow(/chunk: 1000000000 pieces/);
    expect(tg.zeros([0]).chunk(3).map((t) => t.shape)).toEqual([[0], [0], [0]]); // as torch.zeros(0).chunk(3)
  }));
});

describe('oneHot', () => {
  it('checks every index where it reads it, and has no gradient', () => tidy(() => {
    expect(() => F.oneHot([0, 3], 3)).toThrow(/oneHot: index 3 at position 1 is out of range \[0, 3\)/);
    expect(() => F.oneHot(tg.tensor([1.5]), 3)).toThrow(/oneHot: index 1.5 at position 0 is not an integer/);
    expect(() => F.oneHot([0, 2.5])).toThrow(/oneHot: index 2.5 at position 1 is not an integer/);
    expect(() => F.oneHot(tg.tensor([NaN]), 2)).toThrow(/oneHot: index NaN/);
    expect(() => F.oneHot(tg.zeros([0]))).toThrow(/oneHot: cannot infer numClasses from an empty tensor/);
    const idx = tg.tensor([1, 0], { requiresGrad: true });
    const y = F.oneHot(idx, 2);
    expect(y.requiresGrad).toBe(false);
    expect(y.toArray()).toEqual([[0, 1], [1, 0]]);
  }));
});

describe('seeded samplers', () => {
  it('the same seed gives the same numbers; a new draw, new ones', () => tidy(() => {
    const draw = (): number[] => [...arr(tg.randint(-3, 9, [40])), ...arr(tg.randperm(30)), ...arr(tg.multinomial(tg.tensor([[1, 2, 3], [3, 0, 1]]), 2))];
    tg.manualSeed(123);
    const a = draw();
    tg.manualSeed(123);
    expect(draw()).toEqual(a);
    expect(draw()).not.toEqual(a);
  }));

  it('randint is uniform over [low, high) (χ², fixed seed)', () => tidy(() => {
    tg.manualSeed(1);
    const v = arr(tg.randint(-5, 5, [20000]));
    expect(v.every((k) => Number.isInteger(k) && k >= -5 && k < 5)).toBe(true);
    const counts = Array<number>(10).fill(0);
    for (const k of v) counts[k + 5]++;
    expect(chiSquare(counts, Array<number>(10).fill(2000))).toBeLessThan(CHI2_999[9]);
    expect(arr(tg.randint(4, [3, 2])).every((k) => k >= 0 && k < 4)).toBe(true);
    expect(tg.randint(2, [0, 3]).shape).toEqual([0, 3]);
  }));

  it('randperm gives each of the 24 orders of 4 equally often (χ², fixed seed)', () => tidy(() => {
    tg.manualSeed(2);
    const counts = new Map<string, number>();
    for (let i = 0; i < 4800; i++) {
      const key = arr(tg.tidy(() => tg.randperm(4))).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(24);
    expect(chiSquare([...counts.values()], Array<number>(24).fill(200))).toBeLessThan(CHI2_999[23]);
    expect([...arr(tg.randperm(1000))].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(tg.randperm(0).shape).toEqual([0]);
  }));

  it('multinomial with replacement follows the weights (χ², fixed seed), never a zero weight', () => tidy(() => {
    tg.manualSeed(3);
    const v = arr(tg.multinomial(tg.tensor([1, 2, 0, 3, 4]), 20000, { replacement: true }));
    const counts = Array<number>(5).fill(0);
    for (const k of v) counts[k]++;
    expect(counts[2]).toBe(0);
    const kept = [0, 1, 3, 4];
    expect(chiSquare(kept.map((k) => counts[k]), [1, 2, 3, 4].map((w) => 2000 * w))).toBeLessThan(CHI2_999[3]);
  }));

  it('multinomial without replacement draws ordered pairs with the right probabilities (χ², fixed seed)', () => tidy(() => {
    tg.manualSeed(4);
    const w = [1, 2, 3, 4], rows = 6000;
    const v = arr(tg.multinomial(tg.tensor(w).unsqueeze(0).expand([rows, 4]), 2));
    const counts: number[] = [], expected: number[] = [];
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        if (i === j) continue;
        let c = 0;
        for (let r = 0; r < rows; r++) if (v[2 * r] === i && v[2 * r + 1] === j) c++;
        counts.push(c);
        expected.push(rows * (w[i] / 10) * (w[j] / (10 - w[i]))); // P(i first) · P(j | i gone)
      }
    }
    expect(counts.reduce((a, b) => a + b, 0)).toBe(rows); // never the same category twice in a row
    expect(chiSquare(counts, expected)).toBeLessThan(CHI2_999[11]);
    // once only zero weights are left they follow in order (torch.multinomial([1., 0.], 2) = [0, 1])
    expect(arr(tg.multinomial([1, 0, 0], 3))).toEqual([0, 1, 2]);
  }));

  it('multinomial refuses bad weights before drawing anything (PyTorch\'s rules)', () => tidy(() => {
    expect(() => tg.multinomial([1, -1], 1)).toThrow(/multinomial: weight -1 at position 1 is negative, infinite or NaN/);
    expect(() => tg.multinomial([1, Infinity], 1)).toThrow(/multinomial: weight Infinity/);
    expect(() => tg.multinomial([NaN, 1], 1)).toThrow(/multinomial: weight NaN/);
    expect(() => tg.multinomial([[1, 1], [0, 0]], 1)).toThrow(/multinomial: the weights of row 1 sum to 0/);
    expect(() => tg.multinomial([1, 1], 3)).toThrow(/multinomial: cannot draw 3 samples without replacement from 2 categories/);
    expect(() => tg.multinomial([1, 1], 0)).toThrow(/multinomial: numSamples 0 is out of range/);
    expect(() => tg.multinomial(tg.ones([2, 2, 2]), 1)).toThrow(/multinomial: input must be 1-D or 2-D/);
    // the refused call drew nothing: the generator continues as if it had not been made
    tg.manualSeed(9);
    const expected = arr(tg.rand([4]));
    tg.manualSeed(9);
    expect(() => tg.multinomial([[1, 1], [1, -1]], 1)).toThrow(/weight -1/);
    expect(arr(tg.rand([4]))).toEqual(expected);
    expect(tg.multinomial(tg.zeros([0, 3]), 2).shape).toEqual([0, 2]);
  }));

  it('randint and randperm check their arguments', () => tidy(() => {
    expect(() => tg.randint(3, 3, [2])).toThrow(/randint: high 3 must be greater than low 3/);
    expect(() => tg.randint(1.5, [2])).toThrow(/randint: high must be an integer/);
    expect(() => tg.randint(2 ** 25, [2])).toThrow(/randint: high 33554432 is out of range/);
    expect(() => tg.randint(3, 2 as never)).toThrow(/randint: high 2 must be greater than low 3/); // randint(low, high, shape) without a shape
    expect(() => tg.randint(3, 'x' as never)).toThrow(/randint: shape must be an array/);
    expect(() => tg.randperm(-1)).toThrow(/randperm: n -1 is out of range/);
  }));
});

describe('under tg.trace', () => {
  it('samplers draw fresh numbers on every run, from the weights the input holds now', () => {
    const weights = tg.tensor([0, 0, 1]);
    const tr = tg.trace(() => [tg.randint(0, 1000, [64]), tg.randperm(64), weights.multinomial(5, { replacement: true })]);
    const [ints, perm, picks] = tr.output;
    const first = [arr(ints), arr(perm)];
    expect(arr(picks)).toEqual([2, 2, 2, 2, 2]);
    weights.copy_(tg.tensor([1, 0, 0]));
    tr.run();
    expect(arr(ints)).not.toEqual(first[0]);
    expect(arr(perm)).not.toEqual(first[1]);
    expect([...arr(perm)].sort((a, b) => a - b)).toEqual(Array.from({ length: 64 }, (_, i) => i));
    expect(arr(picks)).toEqual([0, 0, 0, 0, 0]);
    weights.copy_(tg.tensor([1, -1, 0]));
    expect(() => tr.run()).toThrow(/trace.run: weight -1 at position 1 is negative/);
    tr.dispose();
    weights.dispose();
  });

  it('sort, topk, var, cumsum, split and oneHot replay with new inputs, gradients included', () => {
    const x = tg.tensor([[3, 1, 2], [0, 5, 4]], { requiresGrad: true });
    const labels = tg.tensor([2, 0]);
    const tr = tg.trace(() => {
      x.zeroGrad();
      const top = x.topk(2);
      const [a, b] = x.split([1, 2], 1);
      const loss = top.values.mul(F.oneHot(labels, 3).narrow(1, 0, 2)).sum().add(x.var(1).sum()).add(x.cumsum(1).sum()).add(a.sum()).add(b.mul(b).sum());
      loss.backward();
      return [top.indices, loss];
    });
    const eager = (): [number[], number, number[]] => tidy(() => {
      const y = x.detach().requiresGrad_();
      const top = y.topk(2);
      const [a, b] = y.split([1, 2], 1);
      const loss = top.values.mul(F.oneHot(labels, 3).narrow(1, 0, 2)).sum().add(y.var(1).sum()).add(y.cumsum(1).sum()).add(a.sum()).add(b.mul(b).sum());
      loss.backward();
      const out: [number[], number, number[]] = [arr(top.indices), loss.item(), arr(y.grad!)];
      y.dispose();
      return out;
    });
    x.copy_(tg.tensor([[1, 7, -2], [6, 0.5, 3]]));
    labels.copy_(tg.tensor([0, 1]));
    tr.run();
    const [indices, loss] = tr.output;
    const [ei, el, eg] = eager();
    expect(arr(indices)).toEqual(ei);
    expect(loss.item()).toBeCloseTo(el, 5);
    expect(arr(x.grad!).map((g, i) => g - eg[i]).every((d) => Math.abs(d) < 1e-5)).toBe(true);
    labels.copy_(tg.tensor([0, 3]));
    expect(() => tr.run()).toThrow(/trace.run: oneHot: index 3 at position 1 is out of range/);
    expect(() => tg.trace(() => F.oneHot(labels))).toThrow(/oneHot: numClasses -1 reads the indices, which a tg.trace replay cannot do again/);
    tr.dispose();
    x.dispose();
    labels.dispose();
  });
});

describe('out of memory', () => {
  it('each op fails cleanly at each of its allocations (kernel scratch included), then succeeds', () => {
    // lines longer than any earlier test's, so sort and multinomial must grow the kernel scratch
    const x = tg.randn([300000]), w = tg.rand([400000]), x2 = x.reshape(3, 100000), before = Array.from(x.data());
    const calls: [string, () => unknown][] = [
      ['sort', () => x.sort()],
      ['multinomial', () => w.multinomial(3)],
      ['split', () => x2.split(50000, 1)], // along dim 0 the pieces would be views, which allocate nothing
      ['topk', () => x.topk(5)],
      ['oneHot', () => F.oneHot([1, 0], 2)],
      ['var', () => x.var(0, { keepdim: true })], // not a 0-d result: that lives in its node's row
      ['cumsum', () => x.cumsum(0)],
      ['randperm', () => tg.randperm(10)],
    ];
    for (const [name, call] of calls) {
      const failures = failEachAllocation(tg, () => tg.dispose(call() as Tensor[]),
        (err) => expect(String(err)).toMatch(new RegExp(`${name}: out of memory allocating`)), 20);
      expect(failures, name).toBeGreaterThan(0);
    }
    expect(Array.from(x.data())).toEqual(before);
    tg.dispose([x, w, x2]);
  });
});
