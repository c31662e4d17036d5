// NaN, ±Infinity and large logits follow PyTorch 1.13 (issue 8, rows 17 and 18). Every expected
// value below was read off torch 1.13 (Debian's python3-torch); vectors have 5–7 elements so both
// the four-lane SIMD body and the scalar tail of each kernel are covered.
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { expectClose } from './helpers.js';

type Tensor = ReturnType<typeof tg.tensor>;
const F = tg.nn.functional;
const leaf = (v: number[] | number[][] | number[][][][]): Tensor => tg.tensor(v as any, { requiresGrad: true });

/** Same values, with NaN equal to NaN and -0 equal to 0. */
function same(actual: ArrayLike<number>, expected: number[], label: string): void {
  const a = Array.from(actual, (v) => (Object.is(v, -0) ? 0 : v));
  expect(a, label).toEqual(expected);
}

describe('issue 8 row 17: logSoftmax and crossEntropy of logits near 8e3', () => {
  it('logSoftmax([8000, 7990.9]) = [-1.11692869e-4, -9.10020924] (was [0, -9.1])', () => {
    const y = tg.logSoftmax(tg.tensor([8000, 7990.9]), 0).data();
    expectClose(y, [-0.000111692869, -9.10020924], 1e-5, 0, 'logSoftmax');
  });

  it('crossEntropy([[8000, 7990.9, 7999.5]], [0]) = 0.474146515 and its gradient', () => {
    const x = leaf([[8000, 7990.9, 7999.5]]);
    const l = F.crossEntropy(x, [0]);
    expectClose([l.item()], [0.474146515], 1e-5, 0, 'loss');
    l.backward();
    expectClose(x.grad!.data(), [-0.37758398056030273, 6.949578528292477e-05, 0.37751442193984985], 1e-4, 1e-7, 'grad');
  });
});

describe('issue 8 row 18: NaN and Inf as PyTorch has them', () => {
  it('relu keeps NaN (SIMD lanes and scalar tail alike) and passes the gradient at NaN', () => {
    const x = leaf([NaN, -1, 2, NaN, NaN, -3, 4]);
    const y = x.relu();
    same(y.data(), [NaN, 0, 2, NaN, NaN, 0, 4], 'relu');
    // clamp_min keeps −0 (torch.relu(tensor(-0.)) is -0.), in the lanes and the tail
    const z = tg.tensor([-0, 1, 2, 3, -0]).relu().data();
    expect(Object.is(z[0], -0) && Object.is(z[4], -0)).toBe(true);
    y.sum().backward();
    same(x.grad!.data(), [1, 0, 1, 1, 1, 0, 1], 'relu grad'); // threshold_backward: masked where x <= 0 only
  });

  it('relu, maximum and minimum mask an infinite upstream gradient to 0 on the losing side', () => {
    const r = leaf([-1, 2, 0, -3, 4]);
    r.relu().backward(tg.full([5], Infinity));
    same(r.grad!.data(), [0, Infinity, 0, 0, Infinity], 'relu');
    const a = leaf([1, 5]), b = leaf([2, 3]);
    tg.maximum(a, b).backward(tg.full([2], Infinity));
    same(a.grad!.data(), [0, Infinity], 'maximum a');
    same(b.grad!.data(), [Infinity, 0], 'maximum b');
    const c = leaf([1, 5]), d = leaf([2, 3]);
    tg.minimum(c, d).backward(tg.full([2], Infinity));
    same(c.grad!.data(), [Infinity, 0], 'minimum c');
    same(d.grad!.data(), [0, Infinity], 'minimum d');
  });

  it('maximum / minimum propagate NaN and give the full gradient to both sides at a NaN', () => {
    for (const op of ['maximum', 'minimum'] as const) {
      const x = leaf([NaN, 1, 2, NaN, 7, -1]), y = leaf([1, NaN, 2, NaN, 0, 4]);
      const z = tg[op](x, y);
      same(z.data(), op === 'maximum' ? [NaN, NaN, 2, NaN, 7, 4] : [NaN, NaN, 2, NaN, 0, -1], op);
      z.sum().backward();
      same(x.grad!.data(), op === 'maximum' ? [1, 1, 0.5, 1, 1, 0] : [1, 1, 0.5, 1, 0, 1], `${op} grad x`);
      same(y.grad!.data(), op === 'maximum' ? [1, 1, 0.5, 1, 0, 1] : [1, 1, 0.5, 1, 1, 0], `${op} grad y`);
    }
  });

  it('max / min over NaN return NaN and route the gradient to it; argmax / argmin return its index', () => {
    const x = leaf([1, NaN, 3, NaN]);
    const m = x.max(0);
    same([m.item()], [NaN], 'max(0)');
    m.backward();
    same(x.grad!.data(), [0, 1, 0, 0], 'max(0) grad: the first NaN, the index max(0) returns');
    const x2 = leaf([1, NaN, 3, NaN]);
    x2.min().backward();
    same(x2.grad!.data(), [0, 0.5, 0, 0.5], 'min() grad: shared evenly among the NaNs');
    same(tg.tensor([1, NaN, 3, NaN]).argmax().data(), [1], 'argmax');
    same(tg.tensor([1, NaN, 3, NaN]).argmin().data(), [1], 'argmin');
    same(tg.tensor([[5, 1], [NaN, 9], [2, NaN]]).argmax(0).data(), [1, 2], 'argmax(0)');
  });

  it('maxPool2d propagates NaN; the gradient goes to the last NaN of the window, as PyTorch\'s loop', () => {
    const x = leaf([[[[1, NaN], [NaN, 3]]]]);
    const y = F.maxPool2d(x, 2);
    same(y.data(), [NaN], 'maxPool2d');
    y.sum().backward();
    same(x.grad!.data(), [0, 0, 1, 0], 'maxPool2d grad');
  });

  it('binaryCrossEntropyWithLogits at ±inf logits', () => {
    const x = leaf([Infinity, -Infinity, Infinity, -Infinity, NaN, 100]), t = leaf([1, 0, 0, 1, 1, 0.5]);
    const l = F.binaryCrossEntropyWithLogits(x, t, { reduction: 'none' });
    same(l.data(), [NaN, NaN, Infinity, NaN, NaN, 50], 'loss');
    l.sum().backward();
    same(x.grad!.data(), [0, 0, 1, -1, NaN, 0.5], 'grad logits');
    same(t.grad!.data(), [-Infinity, Infinity, -Infinity, Infinity, NaN, -100], 'grad targets');
    // x = -inf is NaN for any target, an infinite one too (PyTorch's e^(-x-m) is e^(inf-inf))
    same(F.binaryCrossEntropyWithLogits(tg.tensor([-Infinity, -Infinity]), tg.tensor([Infinity, 0.3])).data(), [NaN], 'mean at -inf');
  });

  it('exp, log and sqrt of edge values, and their gradients', () => {
    const e = leaf([Infinity, -Infinity, NaN, 0, 1, 0, 0]);
    const ey = e.exp(), eOf1 = ey.data()[4];
    expectClose([eOf1], [Math.E], 1e-6, 0, 'exp(1)');
    same(ey.data(), [Infinity, 0, NaN, 1, eOf1, 1, 1], 'exp');
    ey.sum().backward();
    same(e.grad!.data(), [Infinity, 0, NaN, 1, eOf1, 1, 1], 'exp grad');
    const l = leaf([Infinity, 0, -1, NaN, 1]);
    const ly = l.log();
    same(ly.data(), [Infinity, -Infinity, NaN, NaN, 0], 'log');
    ly.sum().backward();
    same(l.grad!.data(), [0, Infinity, -1, NaN, 1], 'log grad');
    const s = leaf([Infinity, 0, -1, NaN, 4]);
    const sy = s.sqrt();
    same(sy.data(), [Infinity, 0, NaN, NaN, 2], 'sqrt');
    sy.sum().backward();
    same(s.grad!.data(), [0, Infinity, NaN, NaN, 0.25], 'sqrt grad');
  });

  it('pow follows C: 1^NaN = 1, (-1)^±inf = 1 (JS Math.pow gives NaN)', () => {
    same(tg.pow(tg.tensor([1, -1, -1, 1, NaN, 2]), tg.tensor([NaN, Infinity, -Infinity, Infinity, 0, NaN])).data(), [1, 1, 1, 1, 1, NaN], 'pow');
    same(tg.pow(1, tg.tensor([NaN])).data(), [1], 'pow(1, NaN)');
  });

  it('x ** ±0.5 and x ** 1.5 with a number exponent take PyTorch\'s sqrt / rsqrt route: (-inf) ** 0.5 is NaN', () => {
    const cases: [number, number[], number[]][] = [
      [0.5, [NaN, 0, 2, NaN, 1.5], [NaN, -Infinity, 0.25, NaN, 0.3333333432674408]],
      [-0.5, [NaN, -Infinity, 0.5, NaN, 0.6666666865348816], [0, -Infinity, -0.0625, NaN, -0.14814814925193787]],
      [1.5, [Infinity, 0, 8, NaN, 3.375], [NaN, 0, 3, NaN, 2.25]],
    ];
    for (const [e, value, grad] of cases) {
      const x = leaf([-Infinity, -0, 4, NaN, 2.25]);
      const y = x.pow(e);
      same(y.data(), value, `x ** ${e}`);
      y.sum().backward();
      same(x.grad!.data(), grad, `grad of x ** ${e}`);
    }
    // a tensor exponent is C's pow, as in PyTorch: (-inf) ** 0.5 = inf
    same(tg.pow(tg.tensor([-Infinity, 4]), tg.tensor(0.5)).data(), [Infinity, 2], 'tensor exponent');
  });

  it('logsumexp of +inf is +inf and of all -inf is -inf; softmax with +inf is NaN, with -inf 0', () => {
    same(tg.tensor([Infinity, 1]).logsumexp(0).data(), [Infinity], 'logsumexp +inf');
    same(tg.tensor([-Infinity, -Infinity]).logsumexp(0).data(), [-Infinity], 'logsumexp -inf');
    same(tg.softmax(tg.tensor([Infinity, 1]), 0).data(), [NaN, NaN], 'softmax +inf');
    same(tg.softmax(tg.tensor([-Infinity, 1]), 0).data(), [0, 1], 'softmax -inf');
  });
});

describe('rounding as PyTorch rounds', () => {
  it('mean divides the sum by the count (torch: mean([93.57, 81.77, 1.27]) = 58.869998931884766, not 58.870003)', () => {
    expect(tg.tensor([93.57, 81.77, 1.27]).mean().item()).toBe(58.869998931884766);
    expect(tg.tensor([[93.57, 81.77, 1.27]]).mean(1).item()).toBe(58.869998931884766);
  });

  it('avgPool2d divides the window sum by its size (torch: -2.6711111068725586, not -2.6711113)', () => {
    const x = tg.tensor([-8.4, -42.38, -47.71, 29.89, 12.43, -8.94, 5.62, 27.32, 8.13], { shape: [1, 1, 3, 3], requiresGrad: true });
    const y = tg.nn.functional.avgPool2d(x, 3);
    expect(y.item()).toBe(-2.6711111068725586);
    y.backward();
    expect(Array.from(x.grad!.data())).toEqual(new Array(9).fill(Math.fround(1 / 9))); // torch: 1 / 9 each
  });
});

describe('optimizers and clipping with non-finite gradients (torch 1.13)', () => {
  it('clipGradNorm with a NaN gradient returns NaN and makes every gradient NaN; with inf, 0 and NaN', () => {
    for (const normType of [2, Infinity]) {
      const p = tg.zeros([2], { requiresGrad: true });
      p.mul(tg.tensor([3, NaN])).sum().backward();
      expect(tg.optim.clipGradNorm([p], 1, normType)).toBeNaN();
      same(p.grad!.data(), [NaN, NaN], `NaN, norm ${normType}`);
      const q = tg.zeros([2], { requiresGrad: true });
      q.mul(tg.tensor([3, Infinity])).sum().backward();
      expect(tg.optim.clipGradNorm([q], 1, normType)).toBe(Infinity);
      same(q.grad!.data(), [0, NaN], `inf, norm ${normType}`);
    }
  });
});

describe('max, min and logsumexp over dims that are not adjacent reduce them together (as torch.amax / logsumexp)', () => {
  it('a tie across the reduced dims shares the gradient among all of them', () => {
    // torch 1.13: x.amax([0, 2]).sum().backward() → [1/3, 1/3, 1/3, 0] (a chain of two reductions gave [.25, .25, .5, 0])
    const x = tg.tensor([[[5, 5]], [[5, 1]]], { requiresGrad: true });
    x.max([0, 2]).sum().backward();
    expectClose(x.grad!.data(), [1 / 3, 1 / 3, 1 / 3, 0], 1e-6, 1e-7, 'amax grad');
    const y = tg.tensor([[[1, 1]], [[1, 3]]], { requiresGrad: true });
    y.min([0, 2]).sum().backward();
    expectClose(y.grad!.data(), [1 / 3, 1 / 3, 1 / 3, 0], 1e-6, 1e-7, 'amin grad');
    tg.dispose([x, y]);
  });

  it('logsumexp with an all −∞ inner slice has zero gradient there, not NaN', () => {
    // torch 1.13: value [0, 3.4076], gradient [0, 0, 0.0900, 0.2447, 0, 1, 0.6652, 0]
    const y = tg.tensor([[[-Infinity, -Infinity], [1, 2]], [[-Infinity, 0], [3, -Infinity]]], { requiresGrad: true });
    const l = y.logsumexp([0, 2]);
    expectClose(l.data(), [0, 3.4076058864593506], 1e-6, 1e-6, 'logsumexp value');
    l.sum().backward();
    expectClose(y.grad!.data(), [0, 0, 0.09003058, 0.24472849, 0, 1, 0.665241, 0], 1e-5, 1e-7, 'logsumexp grad');
    tg.dispose([y, l]);
  });
});
