// Regressions found in review: each case states what PyTorch (or plain arithmetic) gives and
// checks the engine gives the same, or a clear error, and stays intact afterwards.
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';

describe('edge values and shapes', () => {
  it('products with a zero-sized dim are empty, not a trap', () => {
    tg.tidy(() => {
      expect(tg.zeros([0, 2]).matmul(tg.ones([2, 3])).shape).toEqual([0, 3]);
      expect(tg.ones([2, 3]).matmul(tg.zeros([3, 0])).shape).toEqual([2, 0]);
      expect(tg.zeros([2, 0, 3]).matmul(tg.ones([3, 4])).shape).toEqual([2, 0, 4]);
      const w = tg.ones([4, 3], { requiresGrad: true });
      tg.nn.functional.linear(tg.zeros([0, 3]), w, tg.ones([4])).sum().backward();
      expect(Array.from(w.grad!.data())).toEqual(new Array(12).fill(0));
    });
  });

  it('logsumexp of nothing is -Infinity; max and min propagate NaN', () => {
    tg.tidy(() => {
      expect(tg.zeros([0]).logsumexp().item()).toBe(-Infinity);
      expect(tg.tensor([1, NaN, 3]).max().item()).toBeNaN();
      expect(tg.tensor([NaN, 1, 3]).min().item()).toBeNaN();
      expect(tg.tensor([[1, 2], [NaN, 0]]).max(1).data()[1]).toBeNaN();
    });
  });

  it('max() shares a tie\'s gradient evenly (like amax); max(dim) gives it to the first (like the index)', () => {
    tg.tidy(() => {
      const x = tg.tensor([3, 1, 3], { requiresGrad: true });
      x.max().backward();
      expect(Array.from(x.grad!.data())).toEqual([0.5, 0, 0.5]);
      const y = tg.tensor([[3, 1, 3]], { requiresGrad: true });
      y.max(1).sum().backward();
      expect(Array.from(y.grad!.data())).toEqual([1, 0, 0]);
    });
  });
});

describe('functional grad() matches torch.autograd.grad', () => {
  it('differentiates with respect to a non-leaf, and touches no .grad', () => {
    tg.tidy(() => {
      const x = tg.tensor([1, 2, 3], { requiresGrad: true });
      const w = tg.tensor([4, 5, 6], { requiresGrad: true });
      const y = x.mul(2);
      const [gy] = tg.grad((t) => t.mul(t).sum(), [y]); // d/dy Σy² = 2y
      expect(Array.from(gy.data())).toEqual([4, 8, 12]);
      const [gx] = tg.grad((t) => t.mul(w).sum(), [x]);
      expect(Array.from(gx.data())).toEqual([4, 5, 6]);
      expect(x.grad).toBeNull();
      expect(w.grad).toBeNull();
    });
  });

  it('leaves that already have a .grad keep it as it was, 0-d and vectors, with a leaf or an intermediate as input', () => {
    tg.tidy(() => {
      const w = tg.tensor([3, 4], { requiresGrad: true }), z = tg.tensor([1.5, 2], { requiresGrad: true });
      const s = tg.tensor(2, { requiresGrad: true });
      const f = () => z.mul(w).sum().add(s.mul(s));
      f().backward(); // every leaf has a gradient: w [1.5, 2], z [3, 4], s 4
      const wGrad = w.grad!; // a view of w's gradient, read before
      const before = () => [w.grad!.toArray(), z.grad!.toArray(), s.grad!.item(), wGrad.toArray()];
      const expected = [[1.5, 2], [3, 4], 4, [1.5, 2]];
      expect(before()).toEqual(expected);
      const [gz] = tg.grad(f, [z]); // d/dz = w, and nothing else changes (torch.autograd.grad)
      expect(gz.toArray()).toEqual([3, 4]);
      expect(before()).toEqual(expected);
      const h = s.mul(2);
      const [gh] = tg.grad(() => h.mul(h).add(s).add(w.sum()), [h]); // 2h
      expect(gh.item()).toBe(8);
      expect(before()).toEqual(expected);
    });
  });
});

describe('misuse gets a clear error and changes nothing', () => {
  it('an optimizer used after dispose() throws; dispose() twice is harmless', () => {
    const p = tg.tensor([1, 2, 3], { requiresGrad: true });
    const opt = new tg.optim.Adam([p], { lr: 0.1 });
    opt.dispose();
    opt.dispose();
    expect(() => opt.step()).toThrow(/Adam\.step: the optimizer was disposed/);
    expect(() => opt.zeroGrad()).toThrow(/disposed/);
    expect(tg.tidy(() => tg.ones([5]).mul(7).toArray())).toEqual([7, 7, 7, 7, 7]);
    expect(Array.from(p.data())).toEqual([1, 2, 3]);
    p.dispose();
  });

  it('requiresGrad_(false) on a computed tensor throws instead of cutting the graph', () => {
    tg.tidy(() => {
      const x = tg.tensor([1, 2], { requiresGrad: true });
      const y = x.mul(3);
      expect(() => y.requiresGrad_(false)).toThrow(/only a leaf tensor/);
      y.mul(2).sum().backward();
      expect(Array.from(x.grad!.data())).toEqual([6, 6]);
    });
  });

  it('non-functions and absurd sizes name the call', () => {
    expect(() => tg.tidy(5 as never)).toThrow(/tidy: expected a function/);
    expect(() => tg.noGrad(5 as never)).toThrow(/noGrad: expected a function/);
    expect(() => tg.arange(0, 1e12)).toThrow(/arange: .* needs 4000000000000 bytes/);
  });

  it('a Tensor made up from an id is refused, -1 included (the mark of "no node just made"), and nothing is written', () => {
    const a = tg.tensor([1, 2]), before = tg.memory();
    for (const [id, dims] of [[-1, [2]], [-1, []], [a.id, [3]], [1e9, [2]], [0.5, []]] as [number, number[]][]) {
      expect(() => new tg.Tensor(id, dims), `new Tensor(${id}, [${dims}])`).toThrow('Tensor: the constructor is internal; make tensors with tg.tensor(), tg.zeros() or an op');
    }
    expect(tg.memory()).toEqual(before);
    expect(a.add(1).toArray()).toEqual([2, 3]);
    a.dispose();
  });

  it('numbers and arrays used as operands leave no tensor behind', () => {
    const a = tg.tensor([1, 2, 3]);
    const before = tg.memory();
    for (let i = 0; i < 50; i++) a.add([1, 2, 3]).dispose();
    for (let i = 0; i < 10; i++) a.copy_([4, 5, 6]);
    tg.matmul([[1, 2]], [[3], [4]]).dispose();
    expect(tg.memory()).toEqual(before);
    expect(a.toArray()).toEqual([4, 5, 6]);
    a.dispose();
  });
});

describe('traces keep what their program reads', () => {
  it('an input disposed after recording, and an optimizer disposed, are kept until the trace goes', () => {
    const before = tg.memory();
    const x = tg.tensor([1, 2, 3, 4]);
    const w = tg.tensor([1, 1, 1, 1], { requiresGrad: true });
    const opt = new tg.optim.SGD([w], { lr: 0.5 });
    const step = tg.trace(() => tg.tidy(() => {
      opt.zeroGrad();
      const loss = x.mul(w).sum();
      loss.backward();
      opt.step();
      return loss;
    }));
    x.dispose();
    opt.dispose();
    tg.tidy(() => { tg.tensor([100, 200]).add(1); }); // would reuse x's row had it been freed
    expect(step.run().item()).toBe(1 * 0.5 + 2 * 0 + 3 * -0.5 + 4 * -1); // w after one step: 1 − 0.5·x
    expect(Array.from(w.data())).toEqual([0, -1, -2, -3]); // and one more step: w − 0.5·x
    step.dispose();
    w.dispose();
    expect(tg.memory().tensors).toBe(before.tensors);
    expect(tg.memory().bytes).toBe(before.bytes);
  });
});

describe('addresses above 2 GiB', () => {
  it('tensors placed past the 2 GiB mark read, write and differentiate correctly', () => {
    const big = tg.zeros([2 ** 29]); // a 2 GiB block: everything made after it lives above 2 GiB
    const a = tg.tensor([1, 2, 3, 4], { requiresGrad: true });
    expect(Array.from(a.data())).toEqual([1, 2, 3, 4]);
    const s = tg.tidy(() => {
      const loss = a.mul(a).sum();
      loss.backward();
      return loss.item();
    });
    expect(s).toBe(30);
    expect(Array.from(a.grad!.data())).toEqual([2, 4, 6, 8]);
    expect(tg.tidy(() => a.sum().item())).toBe(10);
    tg.dispose([a, big]);
  }, 60_000);
});

describe('running out of memory in the middle of backward', () => {
  it('changes no gradient and leaves the engine usable', () => {
    const N = 2 ** 24; // 64 MiB tensors
    const a = tg.full([N], 1, { requiresGrad: true }), b = tg.full([N], 2, { requiresGrad: true });
    const loss = a.mul(b).sum();
    const filler: tg.Tensor[] = [];
    expect(() => { for (;;) filler.push(tg.zeros([N])); }).toThrow(RangeError);
    // Room for two of the three 64 MiB gradients backward needs (the product's, a's, b's).
    filler.pop()!.dispose();
    filler.pop()!.dispose();
    expect(() => loss.backward()).toThrow(/backward: out of memory allocating 67108864 bytes/);
    expect(a.grad).toBeNull();
    expect(b.grad).toBeNull();
    tg.dispose(filler.splice(0, 4));
    loss.backward();
    expect(tg.tidy(() => a.grad!.sum().item())).toBe(2 * N);
    expect(tg.tidy(() => b.grad!.sum().item())).toBe(N);
    tg.dispose([...filler, a, b, loss]);
  }, 120_000);
});
