// Empty tensors (a zero extent in any position) never write outside their buffers and follow
// PyTorch 1.13 (issue 8, row 1). Expected values were read off torch 1.13 (noted by each test).
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';

type Tensor = ReturnType<typeof tg.tensor>;
const F = tg.nn.functional;

/**
 * Issue 8's repro, widened: a ring of (hole, sentinel) pairs of 4 floats; the holes are freed so the
 * op's small buffers (an empty result or gradient still has a one-element buffer) land right before
 * a sentinel. Runs fn, then checks every sentinel still reads 7, 7, 7, 7.
 */
function sentinelRing(fn: () => void): void {
  const holes: Tensor[] = [], sentinels: Tensor[] = [];
  for (let i = 0; i < 64; i++) { holes.push(tg.zeros([4])); sentinels.push(tg.full([4], 7)); }
  for (const h of holes) h.dispose();
  try {
    fn();
    for (const s of sentinels) expect(Array.from(s.data())).toEqual([7, 7, 7, 7]);
  } finally {
    for (const s of sentinels) s.dispose();
  }
}

const BINARY = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'] as const;

describe('issue 8 row 1: a broadcast with an empty result writes nothing', () => {
  it('the exact repro: a = zeros([0,3,3]); a.add(full([3,3], 5)) leaves S intact', () => {
    const a = tg.zeros([0, 3, 3]), b = tg.full([3, 3], 5);
    const A = tg.zeros([4]), S = tg.full([4], 7);
    A.dispose();
    const y = a.add(b);
    expect(y.shape).toEqual([0, 3, 3]);
    expect(Array.from(S.data())).toEqual([7, 7, 7, 7]);
    tg.dispose([a, b, S, y]);
  });

  for (const op of BINARY) {
    it(`${op} forward, both operand orders and several empty broadcasts`, () => {
      const cases: [number[], number[]][] = [[[0, 3, 3], [3, 3]], [[3, 3], [0, 3, 3]], [[0, 1], [1, 5]], [[2, 0, 3], [2, 1, 3]], [[0], [1]]];
      for (const [sa, sb] of cases) {
        const a = tg.zeros(sa), b = tg.full(sb, 5);
        sentinelRing(() => {
          const y = (a as any)[op](b) as Tensor;
          expect(y.size).toBe(0);
          y.dispose();
        });
        tg.dispose([a, b]);
      }
    });

    it(`${op} backward: the empty input's gradient is empty, the other's is zeros (PyTorch)`, () => {
      const a = tg.zeros([0, 3, 3], { requiresGrad: true }), b = tg.full([3, 3], 5, { requiresGrad: true });
      const y = (a as any)[op](b) as Tensor;
      const s = y.sum();
      sentinelRing(() => s.backward());
      expect(a.grad!.shape).toEqual([0, 3, 3]);
      expect(Array.from(b.grad!.data())).toEqual(new Array(9).fill(0));
      tg.dispose([a, b, y, s]);
    });

    it(`${op} backward with an upstream gradient (out [2,0,3] from [2,1,3] and [0,1])`, () => {
      const a = tg.ones([2, 1, 3], { requiresGrad: true }), b = tg.ones([0, 1], { requiresGrad: true });
      const y = (a as any)[op](b) as Tensor;
      expect(y.shape).toEqual([2, 0, 3]);
      sentinelRing(() => y.backward(tg.zeros([2, 0, 3])));
      expect(Array.from(a.grad!.data())).toEqual([0, 0, 0, 0, 0, 0]);
      expect(b.grad!.size).toBe(0);
      tg.dispose([a, b, y]);
    });
  }

  // rows of 8 floats: wider than the 16-byte block an empty result gets, so a stray row reaches the next block
  it('expand to an empty shape: forward writes nothing, backward gives zeros (torch: a.grad = 0)', () => {
    const a = tg.full([1, 8], 2, { requiresGrad: true });
    let e!: Tensor;
    sentinelRing(() => { e = a.expand([0, 8]); });
    expect(e.shape).toEqual([0, 8]);
    const s = e.sum();
    sentinelRing(() => s.backward());
    expect(Array.from(a.grad!.data())).toEqual(new Array(8).fill(0));
    tg.dispose([a, e, s]);
  });

  it('layerNorm with weight and bias on an empty batch (torch: weight.grad = bias.grad = 0)', () => {
    const x = tg.zeros([0, 8], { requiresGrad: true });
    const w = tg.ones([8], { requiresGrad: true }), b = tg.ones([8], { requiresGrad: true });
    let y!: Tensor;
    sentinelRing(() => { y = F.layerNorm(x, [8], w, b); });
    expect(y.shape).toEqual([0, 8]);
    const s = y.sum();
    sentinelRing(() => s.backward());
    expect(Array.from(w.grad!.data())).toEqual(new Array(8).fill(0));
    expect(Array.from(b.grad!.data())).toEqual(new Array(8).fill(0));
    expect(x.grad!.shape).toEqual([0, 8]);
    tg.dispose([x, w, b, y, s]);
  });
});

describe('every kernel with a zero extent, against PyTorch 1.13', () => {
  it('sum → 0, mean → NaN, logsumexp → -inf; reducing a non-empty dim of an empty tensor is empty', () => {
    const x = tg.zeros([0, 3], { requiresGrad: true });
    sentinelRing(() => {
      expect(x.sum().item()).toBe(0);
      expect(Array.from(x.sum(0).data())).toEqual([0, 0, 0]);
      expect(x.sum(1).shape).toEqual([0]);
      expect(x.mean().item()).toBeNaN();
      expect(Array.from(x.mean(0).data()).every(Number.isNaN)).toBe(true);
      expect(Array.from(x.logsumexp(0).data())).toEqual([-Infinity, -Infinity, -Infinity]);
      expect(x.max(1).shape).toEqual([0]);
      expect(x.min(1, true).shape).toEqual([0, 1]);
      expect(x.argmax(1).shape).toEqual([0]);
      expect(x.argmin(1).shape).toEqual([0]);
    });
    const s = x.mean(0).sum();
    s.backward();
    expect(x.grad!.shape).toEqual([0, 3]);
  });

  it('max / min / argmax / argmin over an empty dim throw an Error naming the op and the shape', () => {
    const x = tg.zeros([0, 3]);
    expect(() => x.max()).toThrow(/max.*\[0,3\]/);
    expect(() => x.max(0)).toThrow(/max.*\[0,3\]/);
    expect(() => x.min([0, 1])).toThrow(/min.*\[0,3\]/);
    expect(() => x.argmax()).toThrow(/argmax.*\[0,3\]/);
    expect(() => x.argmin(0)).toThrow(/argmin.*\[0,3\]/);
    expect(() => tg.argmax(tg.zeros([3, 0]), 1)).toThrow(/argmax.*\[3,0\]/);
  });

  it('matmul with K = 0 gives zeros; with M or N = 0 an empty result; linear with K = 0 gives the bias', () => {
    const a = tg.full([2, 0], 1, { requiresGrad: true }), b = tg.full([0, 3], 1, { requiresGrad: true });
    let y!: Tensor;
    sentinelRing(() => { y = a.matmul(b); });
    expect(y.toArray()).toEqual([[0, 0, 0], [0, 0, 0]]);
    sentinelRing(() => y.sum().backward());
    expect(a.grad!.shape).toEqual([2, 0]);
    expect(b.grad!.shape).toEqual([0, 3]);
    sentinelRing(() => {
      expect(tg.matmul(tg.zeros([0, 2]), tg.ones([2, 3])).shape).toEqual([0, 3]);
      expect(tg.matmul(tg.ones([4, 2]), tg.zeros([2, 0])).shape).toEqual([4, 0]);
      expect(tg.matmul(tg.zeros([0, 4, 2]), tg.ones([2, 3])).shape).toEqual([0, 4, 3]);
      expect(Array.from(tg.matmul(tg.zeros([0]), tg.zeros([0])).data())).toEqual([0]);
    });
    // torch: F.linear(ones(2,0), ones(3,0), [1,2,3]) = [[1,2,3],[1,2,3]], bias.grad = [2,2,2]
    const x = tg.ones([2, 0]), w = tg.ones([3, 0]), bias = tg.tensor([1, 2, 3], { requiresGrad: true });
    const out = F.linear(x, w, bias);
    expect(out.toArray()).toEqual([[1, 2, 3], [1, 2, 3]]);
    out.sum().backward();
    expect(Array.from(bias.grad!.data())).toEqual([2, 2, 2]);
  });

  it('softmax / logSoftmax of an empty tensor are empty, along the empty dim or another', () => {
    sentinelRing(() => {
      for (const f of [tg.softmax, tg.logSoftmax]) {
        const x = tg.zeros([3, 0], { requiresGrad: true });
        expect(f(x, 1).shape).toEqual([3, 0]);
        expect(f(x, 0).shape).toEqual([3, 0]);
        f(x, 1).sum().backward();
        expect(x.grad!.shape).toEqual([3, 0]);
      }
    });
  });

  it('losses on a batch of 0: mean → NaN, sum → 0, none → empty (torch 1.13)', () => {
    const x = tg.zeros([0, 3], { requiresGrad: true });
    sentinelRing(() => {
      expect(F.crossEntropy(x, []).item()).toBeNaN();
      expect(F.crossEntropy(x, [], { reduction: 'sum' }).item()).toBe(0);
      expect(F.crossEntropy(x, [], { reduction: 'none' }).shape).toEqual([0]);
      expect(F.crossEntropy(x, [], { labelSmoothing: 0.1 }).item()).toBeNaN();
      expect(F.nllLoss(x, []).item()).toBeNaN();
      expect(F.mseLoss(tg.zeros([0]), tg.zeros([0])).item()).toBeNaN();
      expect(F.binaryCrossEntropyWithLogits(tg.zeros([0]), tg.zeros([0])).item()).toBeNaN();
      F.crossEntropy(x, [], { reduction: 'sum' }).backward();
    });
    expect(x.grad!.shape).toEqual([0, 3]);
  });

  it('conv2d and pooling with a batch of 0: empty results, zero weight and bias gradients (torch)', () => {
    const x = tg.zeros([0, 2, 4, 4], { requiresGrad: true });
    const w = tg.ones([3, 2, 3, 3], { requiresGrad: true }), b = tg.ones([3], { requiresGrad: true });
    sentinelRing(() => {
      const y = F.conv2d(x, w, b, { padding: 1 });
      expect(y.shape).toEqual([0, 3, 4, 4]);
      y.sum().backward();
      expect(F.maxPool2d(x, 2).shape).toEqual([0, 2, 2, 2]);
      expect(F.avgPool2d(x, 2).shape).toEqual([0, 2, 2, 2]);
      F.maxPool2d(x, 2).sum().backward();
    });
    expect(Array.from(w.grad!.data()).every((v) => v === 0)).toBe(true);
    expect(Array.from(b.grad!.data())).toEqual([0, 0, 0]);
    // zero output channels
    const w0 = tg.ones([0, 2, 3, 3]);
    expect(F.conv2d(tg.ones([1, 2, 4, 4]), w0).shape).toEqual([1, 0, 2, 2]);
  });

  it('shape ops with empty parts: cat, stack, narrow to 0, indexSelect / gather with no index, permute, reshape', () => {
    const a = tg.ones([2, 3], { requiresGrad: true }), e = tg.zeros([2, 0], { requiresGrad: true });
    sentinelRing(() => {
      const c = tg.cat([e, a, e], 1);
      expect(c.toArray()).toEqual([[1, 1, 1], [1, 1, 1]]);
      c.sum().backward();
      expect(tg.stack([e, e], 0).shape).toEqual([2, 2, 0]);
      expect(a.narrow(1, 3, 0).shape).toEqual([2, 0]);
      expect(a.indexSelect(1, []).shape).toEqual([2, 0]);
      expect(a.gather(1, tg.zeros([2, 0])).shape).toEqual([2, 0]);
      expect(tg.zeros([0, 2, 3]).permute(2, 0, 1).shape).toEqual([3, 0, 2]);
      expect(tg.zeros([0, 2, 3]).reshape([3, 0]).shape).toEqual([3, 0]);
      expect(tg.zeros([2, 0, 3]).transpose(0, 2).shape).toEqual([3, 0, 2]);
    });
    expect(Array.from(a.grad!.data())).toEqual([1, 1, 1, 1, 1, 1]);
    expect(e.grad!.shape).toEqual([2, 0]);
  });

  it('unary ops and optimizer steps on empty tensors', () => {
    const p = tg.zeros([0, 4], { requiresGrad: true });
    sentinelRing(() => {
      for (const op of ['neg', 'abs', 'exp', 'log', 'sqrt', 'tanh', 'sigmoid', 'relu', 'leakyRelu', 'gelu'] as const) {
        expect((p as any)[op]().shape).toEqual([0, 4]);
      }
      p.exp().sum().backward();
      for (const opt of [new tg.optim.SGD([p], { lr: 0.1, momentum: 0.9 }), new tg.optim.Adam([p], { lr: 0.1 })]) {
        opt.step();
        opt.zeroGrad();
      }
    });
    expect(p.shape).toEqual([0, 4]);
  });
});
