// Views: a reshape, and a narrow/split/chunk/unbind whose elements are a run of the input's (along
// the first dim that is not 1), share the input's buffer instead of copying it, as PyTorch's views
// do. What is checked here against hand-derived values: the sharing itself (a write through either
// side is seen by the other, and no bytes are allocated), where a copy is made instead, the
// lifetime (a base outlives its views, whatever is disposed first), versions (an in-place write
// through any alias makes stale every record that saved any alias), gradients, and replay.
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';

type Tensor = ReturnType<typeof tg.tensor>;
const arr = (t: Tensor): number[] => Array.from(t.data());
const STALE = /modified in place/;

describe('views share their base\'s buffer', () => {
  it('reshape and its spellings: no new bytes, and a write through either side is seen by the other', () => tg.tidy(() => {
    const x = tg.arange(12);
    const bytes = tg.memory().bytes;
    const views = [x.reshape(3, 4), x.view(2, -1), x.reshape(1, 12).flatten(), x.reshape(1, 12, 1).squeeze(), x.unsqueeze(0)];
    expect(tg.memory().bytes).toBe(bytes);
    views[0].copy_(tg.full([3, 4], 7)); // the only write that allocates: the source
    for (const v of views) expect(arr(v)).toEqual(new Array(12).fill(7));
    x.copy_(tg.arange(12));
    expect(views.map((v) => v.shape)).toEqual([[3, 4], [2, 6], [12], [12], [1, 12]]);
    for (const v of views) expect(arr(v)).toEqual([...Array(12).keys()]);
  }));

  it('narrow, split, chunk and unbind along the first dim are views; along a later dim, copies', () => tg.tidy(() => {
    const x = tg.arange(24).reshape(4, 3, 2);
    const bytes = tg.memory().bytes;
    const [a, b] = x.split([1, 3]);
    const chunks = x.chunk(2);
    const rows = x.unbind(0);
    const n = x.narrow(0, 1, 2);
    const inner = x.reshape(1, 4, 6).narrow(1, 2, 1); // a leading dim of 1: still one run
    expect(tg.memory().bytes).toBe(bytes);
    expect([a.shape, b.shape, chunks[1].shape, rows[3].shape, n.shape, inner.shape]).toEqual([[1, 3, 2], [3, 3, 2], [2, 3, 2], [3, 2], [2, 3, 2], [1, 1, 6]]);
    rows[2].copy_(tg.full([3, 2], -1)); // elements 12..17 of x
    const expected = [...Array(24).keys()].map((i) => (i >= 12 && i < 18 ? -1 : i));
    expect(arr(x)).toEqual(expected);
    expect(arr(b)).toEqual(expected.slice(6));
    expect(arr(chunks[1])).toEqual(expected.slice(12));
    expect(arr(n)).toEqual(expected.slice(6, 18));
    expect(arr(inner)).toEqual(expected.slice(12, 18));
    const before = tg.memory().bytes;
    const col = x.narrow(1, 0, 1); // strided in x: a copy of 4 × 2 elements
    expect(tg.memory().bytes).toBe(before + 8 * 4);
    col.copy_(tg.zeros([4, 1, 2]));
    expect(arr(x)).toEqual(expected);
    const c = x.clone(), d = x.detach(); // copies, as PyTorch's clone (detach shares in PyTorch: here it copies)
    c.copy_(tg.zeros([4, 3, 2]));
    d.copy_(tg.zeros([4, 3, 2]));
    expect(arr(x)).toEqual(expected);
  }));

  it('copies where a view would have no room or nothing to share: 0-d, rank 7, empty', () => tg.tidy(() => {
    const s = tg.tensor(5);
    const one = s.reshape([1]); // a 0-d value lives in its node's row, which moves as the table grows
    const made = Array.from({ length: 3000 }, () => tg.zeros([1])); // grows the node table
    expect(one.item()).toBe(5);
    one.copy_(tg.tensor([6]));
    expect(s.item()).toBe(5);
    const back = tg.tensor([8]).reshape([]); // a 0-d result lives in its own row
    expect(back.item()).toBe(8);
    const x = tg.arange(4);
    const bytes = tg.memory().bytes;
    const r7 = x.reshape(1, 1, 1, 1, 1, 2, 2); // the view's row keeps its base where dim 7 would be
    expect(tg.memory().bytes).toBe(bytes + 16);
    const empty = x.narrow(0, 4, 0);
    expect(empty.shape).toEqual([0]);
    r7.copy_(tg.zeros([1, 1, 1, 1, 1, 2, 2]));
    expect(arr(x)).toEqual([0, 1, 2, 3]);
    tg.dispose(made);
  }));
});

describe('a base outlives its views', () => {
  it('whichever is disposed first, the values stay and every byte comes back', () => {
    const tensors = tg.memory().tensors, bytes = tg.memory().bytes;
    const x = tg.arange(6);
    const v = x.reshape(2, 3);
    const w = v.narrow(0, 1, 1); // a view of a view: its base is x
    x.dispose();
    v.dispose();
    expect(arr(w)).toEqual([3, 4, 5]);
    expect(tg.memory().bytes).toBe(bytes + 24); // x's buffer, kept for w
    w.dispose();
    expect(tg.memory()).toMatchObject({ tensors, bytes });
    const y = tg.arange(6), u = y.reshape(3, 2);
    u.dispose();
    expect(arr(y)).toEqual([0, 1, 2, 3, 4, 5]);
    y.dispose();
    expect(tg.memory()).toMatchObject({ tensors, bytes });
  });

  it('a view returned from tidy keeps the base made inside it; views of .grad keep its values', () => {
    const tensors = tg.memory().tensors, bytes = tg.memory().bytes;
    const v = tg.tidy(() => tg.arange(8).mul(2).reshape(2, 4));
    expect(arr(v)).toEqual([0, 2, 4, 6, 8, 10, 12, 14]);
    v.dispose();
    expect(tg.memory()).toMatchObject({ tensors, bytes });
    const p = tg.ones([2, 3], { requiresGrad: true });
    tg.tidy(() => p.mul(tg.arange(6).reshape(2, 3)).sum().backward());
    const g = tg.tidy(() => p.grad!.reshape(6));
    // grad() sets p's gradient aside (its buffer goes) and gives it a new one: the view keeps the old values
    tg.dispose(tg.grad((t) => t.mul(t).sum(), [p]));
    tg.tidy(() => p.grad!.copy_(tg.zeros([2, 3])));
    expect(arr(g)).toEqual([0, 1, 2, 3, 4, 5]);
    tg.dispose([g, p]);
    expect(tg.memory()).toMatchObject({ tensors, bytes });
  });
});

describe('views share one version: an in-place write through any alias is caught', () => {
  it('a record that saved a view is stale after a write to its base, and the other way round', () => tg.tidy(() => {
    const w = tg.tensor([1, 2, 3, 4], { requiresGrad: true });
    const x = tg.tensor([[1, 2], [3, 4]]);
    const viaView = x.reshape(4).mul(w).sum(); // mul saved the view for w's gradient
    x.copy_(tg.zeros([2, 2]));
    expect(() => viaView.backward()).toThrow(STALE);
    const y = tg.tensor([1, 2, 3, 4]);
    const v = y.narrow(0, 2, 2);
    const viaBase = y.mul(w).sum(); // mul saved the base
    v.copy_(tg.tensor([9, 9]));
    expect(arr(y)).toEqual([1, 2, 9, 9]);
    expect(() => viaBase.backward()).toThrow(STALE);
    const z = tg.tensor([1, 2, 3, 4]);
    const [p, q] = z.split(2);
    const viaSibling = p.mul(w.narrow(0, 0, 2)).sum(); // saved p; q is written
    q.copy_(tg.tensor([0, 0]));
    expect(() => viaSibling.backward()).toThrow(STALE);
    const untouched = tg.tensor([5, 6, 7, 8]).reshape(2, 2).reshape(4).mul(w).sum();
    untouched.backward();
    expect(arr(w.grad!)).toEqual([5, 6, 7, 8]);
  }));

  it('an optimizer step on a parameter that is a view updates its base', () => tg.tidy(() => {
    const base = tg.tensor([[1, 2], [3, 4]]);
    const p = base.reshape(4).requiresGrad_();
    p.mul(tg.tensor([1, 10, 100, 1000])).sum().backward();
    new tg.optim.SGD([p], { lr: 0.01 }).step();
    // p -= 0.01 * [1, 10, 100, 1000], in float32
    expect(arr(base)).toEqual([1 - 0.01, 2 - 0.1, 3 - 1, 4 - 10].map(Math.fround));
  }));
});

describe('gradients and replay through views', () => {
  it('pieces weighted differently: each slice of the input gets its own piece\'s gradient', () => tg.tidy(() => {
    const x = tg.arange(12).requiresGrad_();
    const [a, b, c] = x.reshape(3, 2, 2).unbind(0);
    a.mul(2).add(b.mul(3)).add(c.reshape(2, 2).mul(tg.tensor([[1, 2], [3, 4]]))).sum().backward();
    expect(arr(x.grad!)).toEqual([2, 2, 2, 2, 3, 3, 3, 3, 1, 2, 3, 4]);
  }));

  it('a trace that reshapes and splits its input replays what eager computes for the new values', () => {
    const x = tg.zeros([4, 3]), w = tg.tensor([[1], [2], [3]], { requiresGrad: true });
    const step = () => {
      const [top, bottom] = x.split(2);
      const loss = top.matmul(w).sum().sub(bottom.reshape(2, 3).matmul(w).mul(2).sum());
      loss.backward();
      return loss;
    };
    const tr = tg.trace(step);
    for (const values of [[...Array(12).keys()], [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]]) {
      x.copy_(tg.tensor(values).reshape(4, 3));
      w.zeroGrad();
      tr.run();
      const [replayed, replayedGrad] = [tr.output.item(), arr(w.grad!)];
      w.zeroGrad();
      const eager = tg.tidy(step);
      expect(replayed).toBe(eager.item());
      expect(replayedGrad).toEqual(arr(w.grad!));
      // by hand: sum over the top rows minus twice the bottom rows, times w
      const col = (j: number) => values[j] + values[3 + j] - 2 * (values[6 + j] + values[9 + j]);
      expect(replayedGrad).toEqual([col(0), col(1), col(2)]);
      eager.dispose();
    }
    tr.dispose();
    tg.dispose([x, w]);
  });
});
