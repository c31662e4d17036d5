// Memory model: tidy scopes, persistence, dispose, memory() accounting, and a flat memory curve
// over 10,000 training steps (asserted on counts, never on timings).
import { describe, it, expect, beforeAll } from 'vitest';
import * as tg from '../dist/index.js';
import { rng } from './helpers';

type T = tg.Tensor;

const randomValues = (n: number, seed: number, scale = 1) => {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.fround((2 * r() - 1) * scale));
};

function expectAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-5, rtol = 1e-4, what = '') {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const tol = atol + rtol * Math.abs(expected[i]);
    expect(Math.abs(actual[i] - expected[i]), `${what}[${i}]: expected ${expected[i]}, got ${actual[i]}`).toBeLessThanOrEqual(tol);
  }
}

// The engine may allocate bookkeeping (e.g. the op tape) once, on first use: warm it up so that
// the before/after comparisons below measure only what each test leaves behind.
beforeAll(() => {
  tg.tidy(() => tg.tensor([1, 2], { requiresGrad: true }).mul(2).sum().backward());
});

describe('tidy', () => {
  it('nested tidy releases inner tensors and keeps returned ones', () => {
    const base = tg.memory();
    let a!: T, b!: T, c!: T;
    const d = tg.tidy(() => {
      a = tg.tensor([1, 2, 3]);
      c = tg.tidy(() => {
        b = a.mul(2); // [2, 4, 6]
        return b.add(1); // [3, 5, 7]
      });
      expect(b.isDisposed).toBe(true);
      expect(c.isDisposed).toBe(false);
      expect(a.isDisposed).toBe(false);
      expect(Array.from(c.data())).toEqual([3, 5, 7]);
      return c.add(a); // [4, 7, 10]
    });
    // c was returned by the inner scope only, so the outer scope released it
    expect(a.isDisposed).toBe(true);
    expect(c.isDisposed).toBe(true);
    expect(d.isDisposed).toBe(false);
    expect(Array.from(d.data())).toEqual([4, 7, 10]);
    expect(tg.memory().tensors).toBe(base.tensors + 1);
    d.dispose();
    expect(tg.memory().tensors).toBe(base.tensors);
    expect(tg.memory().bytes).toBe(base.bytes);
  });

  it('three levels deep, returning through every level', () => {
    const base = tg.memory();
    const out = tg.tidy(() => {
      const x = tg.ones([2]);
      const y = tg.tidy(() => {
        const z = tg.tidy(() => x.mul(5).add(x));
        x.add(100); // garbage of the middle scope
        return z.sub(1);
      });
      return y.mul(2);
    });
    expect(Array.from(out.data())).toEqual([10, 10]);
    expect(tg.memory().tensors).toBe(base.tensors + 1);
    out.dispose();
    expect(tg.memory().tensors).toBe(base.tensors);
    expect(tg.memory().bytes).toBe(base.bytes);
  });

  it('keeps returned arrays and objects of tensors', () => {
    const base = tg.memory();
    let tmp!: T;
    const arr = tg.tidy(() => {
      tmp = tg.tensor([1, 2]);
      return [tmp.mul(2), tmp.mul(3)];
    });
    expect(tmp.isDisposed).toBe(true);
    expect(arr.map((t: T) => Array.from(t.data()))).toEqual([[2, 4], [3, 6]]);
    const obj = tg.tidy(() => {
      tmp = tg.tensor([1, 2]);
      return { double: tmp.mul(2), neg: tmp.neg() };
    });
    expect(tmp.isDisposed).toBe(true);
    expect(Array.from(obj.double.data())).toEqual([2, 4]);
    expect(Array.from(obj.neg.data())).toEqual([-1, -2]);
    expect(tg.memory().tensors).toBe(base.tensors + 4);
    tg.dispose(arr);
    tg.dispose(obj);
    expect(arr[0].isDisposed && arr[1].isDisposed && obj.double.isDisposed && obj.neg.isDisposed).toBe(true);
    expect(tg.memory().tensors).toBe(base.tensors);
    expect(tg.memory().bytes).toBe(base.bytes);
  });

  it('returns non-tensor values unchanged, and does not release a tensor made outside it', () => {
    const base = tg.memory();
    const outside = tg.tensor([4, 5]);
    const n = tg.tidy(() => outside.mul(2).sum().item());
    expect(n).toBe(18);
    const same = tg.tidy(() => {
      outside.add(1);
      return outside;
    });
    expect(same).toBe(outside);
    expect(outside.isDisposed).toBe(false);
    expect(Array.from(outside.data())).toEqual([4, 5]);
    expect(tg.memory().tensors).toBe(base.tensors + 1);
    outside.dispose();
    expect(tg.memory().tensors).toBe(base.tensors);
  });
});

describe('persistence', () => {
  it('requiresGrad leaves made outside any scope survive tidy, and so do their gradients', () => {
    const base = tg.memory();
    const W = tg.tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const plain = tg.tensor([1, 1]); // outside any scope: not owned by the scopes below
    tg.tidy(() => {
      W.mul(W).sum().backward(); // dW = 2W
      tg.tidy(() => W.matmul(plain).sum().backward()); // d/dW sum(W @ v) = row of v: [[1,1],[1,1]]
    });
    expect(W.isDisposed).toBe(false);
    expect(plain.isDisposed).toBe(false);
    expect(W.toArray()).toEqual([[1, 2], [3, 4]]);
    tg.tidy(() => expect(W.grad!.toArray()).toEqual([[3, 5], [7, 9]]));
    W.dispose();
    plain.dispose();
    expect(tg.memory().tensors).toBe(base.tensors);
    expect(tg.memory().bytes).toBe(base.bytes);
  });

  it('a requiresGrad leaf made inside a scope is released with it', () => {
    const base = tg.memory();
    let L!: T;
    tg.tidy(() => {
      L = tg.ones([3], { requiresGrad: true });
      L.mul(2).sum().backward();
    });
    expect(L.isDisposed).toBe(true);
    expect(tg.memory().tensors).toBe(base.tensors);
    expect(tg.memory().bytes).toBe(base.bytes);
  });
});

describe('memory()', () => {
  it('counts tensors and bytes, before and after', () => {
    const m0 = tg.memory();
    expect(Number.isInteger(m0.tensors)).toBe(true);
    expect(Number.isInteger(m0.bytes)).toBe(true);
    expect(m0.arenaBytes).toBeGreaterThanOrEqual(m0.bytes);
    expect(m0.arenaBytes % 65536).toBe(0); // wasm pages
    const t = tg.zeros([10, 10]); // 400 bytes
    const m1 = tg.memory();
    expect(m1.tensors).toBe(m0.tensors + 1);
    expect(m1.bytes - m0.bytes).toBeGreaterThanOrEqual(400);
    expect(m1.bytes - m0.bytes).toBeLessThan(1024);
    const u = tg.ones([1000]); // 4000 bytes
    const m2 = tg.memory();
    expect(m2.tensors).toBe(m0.tensors + 2);
    expect(m2.bytes - m1.bytes).toBeGreaterThanOrEqual(4000);
    expect(m2.arenaBytes).toBeGreaterThanOrEqual(m2.bytes);
    t.dispose();
    expect(tg.memory().tensors).toBe(m0.tensors + 1);
    expect(tg.memory().bytes).toBe(m2.bytes - (m1.bytes - m0.bytes));
    u.dispose();
    expect(tg.memory().tensors).toBe(m0.tensors);
    expect(tg.memory().bytes).toBe(m0.bytes);
  });

  it('a gradient buffer is freed with its tensor', () => {
    const m0 = tg.memory();
    const x = tg.ones([256], { requiresGrad: true });
    const mx = tg.memory();
    tg.tidy(() => x.mul(3).sum().backward());
    const mg = tg.memory();
    expect(mg.tensors).toBe(mx.tensors);
    expect(mg.bytes).toBeGreaterThanOrEqual(mx.bytes); // the gradient lives on
    x.dispose();
    expect(tg.memory().tensors).toBe(m0.tensors);
    expect(tg.memory().bytes).toBe(m0.bytes);
  });

  it('.grad is one tensor per gradient: reading it in a loop (in or out of tidy) makes nothing new (row 15)', () => {
    const x = tg.ones([4], { requiresGrad: true });
    const s = tg.tensor(3, { requiresGrad: true }); // a 0-d leaf keeps its gradient in its own row
    tg.tidy(() => x.sum().add(s).backward());
    const m0 = tg.memory();
    const g = x.grad!;
    expect(tg.memory().tensors).toBe(m0.tensors + 1); // the view, once
    for (let i = 0; i < 1000; i++) expect(x.grad).toBe(g);
    tg.tidy(() => { for (let i = 0; i < 1000; i++) void x.grad; });
    expect(g.isDisposed).toBe(false); // a scope does not own a view: its leaf does
    expect(tg.memory().tensors).toBe(m0.tensors + 1);
    expect(tg.memory().bytes).toBe(m0.bytes); // the view shares the gradient's buffer
    g.dispose(); // drops the view only; the gradient stays
    expect(tg.memory().tensors).toBe(m0.tensors);
    expect(Array.from(x.grad!.data())).toEqual([1, 1, 1, 1]);
    // growing the node table moves 0-d rows: the view of a 0-d gradient follows its leaf
    const sg = s.grad!;
    const many = Array.from({ length: 5000 }, () => tg.zeros([1]));
    expect(sg.item()).toBe(1);
    tg.dispose(many);
    x.dispose(); // the leaf takes its view with it
    s.dispose();
    expect(sg.isDisposed).toBe(true);
    expect(() => g.data()).toThrow(/disposed/);
    expect(tg.memory().tensors).toBe(m0.tensors - 2);
    expect(tg.memory().bytes).toBe(m0.bytes - 4 * 4 * 2 - 4 * 2);
  });

  it('a .grad view read by a live graph keeps its values when the gradient goes away', () => {
    const w = tg.tensor([1, 2], { requiresGrad: true });
    const x = tg.tensor([3, 4], { requiresGrad: true });
    tg.tidy(() => w.mul(5).sum().backward()); // w.grad = [5, 5]
    const m0 = tg.memory();
    const stranger = tg.tidy(() => {
      const view = w.grad!;
      const y = x.mul(view).sum(); // the mul record reads the view
      w.dispose(); // the gradient goes with w, the handle of its view too
      expect(view.isDisposed).toBe(true);
      const stranger = tg.full([2], -1); // may reuse the freed buffers
      y.backward(); // d(sum(x · g))/dx = g, read from the values the record kept
      return stranger;
    });
    expect(Array.from(x.grad!.data())).toEqual([5, 5]);
    expect(Array.from(stranger.data())).toEqual([-1, -1]);
    tg.dispose([x, stranger]);
    expect(tg.memory().tensors).toBe(m0.tensors - 2); // w and x, and everything the scope made
    expect(tg.memory().bytes).toBe(m0.bytes - 3 * 8); // w's values and gradient, x's values
  });
});

describe('a training loop in tidy has a flat memory curve', () => {
  it(
    '10,000 forward+backward steps of a 2-layer MLP leave tensors and bytes where they started',
    () => {
      const base = tg.memory();
      const xv = randomValues(4 * 3, 1);
      const w1v = randomValues(3 * 8, 2, 0.8);
      const b1v = randomValues(8, 3, 0.3);
      const w2v = randomValues(8 * 1, 4, 0.8);
      const x = tg.tensor(xv, { shape: [4, 3] });
      const W1 = tg.tensor(w1v, { shape: [3, 8], requiresGrad: true });
      const b1 = tg.tensor(b1v, { shape: [8], requiresGrad: true });
      const W2 = tg.tensor(w2v, { shape: [8, 1], requiresGrad: true });
      const params = [W1, b1, W2];

      let lastLoss = NaN;
      const step = () =>
        tg.tidy(() => {
          const h = x.matmul(W1).add(b1).tanh();
          const loss = h.matmul(W2).sum();
          loss.backward();
          lastLoss = loss.item();
        });
      const zeroGrads = () => params.forEach((p) => p.zeroGrad());

      // warm-up step: gradient buffers exist from here on
      step();
      zeroGrads();
      const start = tg.memory();
      let at100 = start;
      for (let i = 1; i < 10_000; i++) {
        step();
        zeroGrads();
        if (i === 99) at100 = tg.memory();
        if (i % 1000 === 999) {
          const m = tg.memory();
          expect(m.tensors, `tensors after step ${i + 1}`).toBe(start.tensors);
          expect(m.bytes, `bytes after step ${i + 1}`).toBe(start.bytes);
          expect(m.arenaBytes, `arenaBytes after step ${i + 1}`).toBe(at100.arenaBytes);
        }
      }
      const end = tg.memory();
      expect(end.tensors).toBe(start.tensors);
      expect(end.bytes).toBe(start.bytes);
      expect(end.arenaBytes).toBe(at100.arenaBytes);
      expect(at100.tensors).toBe(start.tensors);
      expect(at100.bytes).toBe(start.bytes);

      // one more step: the gradients are one step's worth (zeroGrad worked), checked against a
      // naive float64 reference of the same MLP
      step();
      const H: number[][] = [];
      let loss = 0;
      const gW1 = new Array(3 * 8).fill(0);
      const gb1 = new Array(8).fill(0);
      const gW2 = new Array(8).fill(0);
      for (let i = 0; i < 4; i++) {
        H.push([]);
        for (let j = 0; j < 8; j++) {
          let s = b1v[j];
          for (let k = 0; k < 3; k++) s += xv[i * 3 + k] * w1v[k * 8 + j];
          H[i].push(Math.tanh(s));
          loss += H[i][j] * w2v[j];
        }
      }
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 8; j++) {
          gW2[j] += H[i][j];
          const dpre = w2v[j] * (1 - H[i][j] * H[i][j]);
          gb1[j] += dpre;
          for (let k = 0; k < 3; k++) gW1[k * 8 + j] += xv[i * 3 + k] * dpre;
        }
      }
      expect(Math.abs(lastLoss - loss)).toBeLessThan(1e-4);
      tg.tidy(() => {
        expectAllClose(W1.grad!.data(), gW1, 1e-5, 1e-4, 'W1.grad');
        expectAllClose(b1.grad!.data(), gb1, 1e-5, 1e-4, 'b1.grad');
        expectAllClose(W2.grad!.data(), gW2, 1e-5, 1e-4, 'W2.grad');
        expect(W2.grad!.shape).toEqual([8, 1]);
      });
      // parameters were never changed by the loop
      expect(Array.from(W1.data())).toEqual(w1v);
      tg.dispose([x, ...params]);
      expect(tg.memory().tensors).toBe(base.tensors);
      expect(tg.memory().bytes).toBe(base.bytes);
    },
    120_000,
  );

  it('reading .grad and .item() inside the step leaks nothing (1,000 steps)', () => {
    const w = tg.tensor([0.5, -0.25, 1], { requiresGrad: true });
    const x = tg.tensor([[1, 2, 3], [-1, 0, 2]]);
    const run = () =>
      tg.tidy(() => {
        x.matmul(w).tanh().sum().backward();
        const g = w.grad!;
        const n = g.mul(g).sum().item();
        w.zeroGrad();
        return n;
      });
    run();
    const start = tg.memory();
    let n = 0;
    for (let i = 0; i < 1000; i++) n = run();
    const end = tg.memory();
    expect(end.tensors).toBe(start.tensors);
    expect(end.bytes).toBe(start.bytes);
    expect(end.arenaBytes).toBe(start.arenaBytes);
    expect(n).toBeGreaterThan(0);
    tg.dispose([w, x]);
  });

  it('a loss returned from tidy (graph kept) and disposed a step later keeps memory flat (5,000 steps)', () => {
    // Each step's graph outlives its scope until the next step disposes the loss, so the tape
    // always ends with live records above dead ones; the engine must still reclaim them.
    const w = tg.tensor([[0.5, -0.25], [1, 0.75], [-0.5, 0.25]], { requiresGrad: true });
    const x = tg.tensor([[1, 2, 3], [-1, 0, 2]]);
    let last: tg.Tensor | null = null;
    const step = (): void => {
      const loss = tg.tidy(() => {
        w.zeroGrad();
        const l = x.matmul(w).tanh().mul(x.matmul(w)).sum();
        l.backward({ retainGraph: true });
        return l;
      });
      last?.dispose();
      last = loss;
    };
    // warm up past one compaction cycle (the tape compacts once over 1,024 dead records)
    for (let i = 0; i < 1000; i++) step();
    const start = tg.memory();
    for (let i = 0; i < 5000; i++) step();
    const end = tg.memory();
    expect(end.tensors).toBe(start.tensors);
    expect(end.bytes).toBe(start.bytes);
    expect(end.arenaBytes).toBe(start.arenaBytes);
    // the graph behind the last loss (retained) is still usable: a second backward adds the same gradient again
    const g1 = w.grad!.data();
    last!.backward();
    const g2 = w.grad!.data();
    g1.forEach((v, i) => expect(g2[i]).toBeCloseTo(2 * v, 5));
    tg.dispose([last!, w, x]);
  });
});

describe('tidy always closes its scope (row 10)', () => {
  it('a returned cycle is walked once; its tensors survive, the rest is released', () => {
    const m0 = tg.memory();
    const out = tg.tidy(() => {
      tg.ones([3]).mul(2); // released
      const box: { t: tg.Tensor; self?: unknown; list: unknown[] } = { t: tg.full([2], 4), list: [] };
      box.self = box;
      box.list.push(box, [box]);
      return box;
    });
    expect(tg.memory().tensors).toBe(m0.tensors + 1);
    expect(Array.from(out.t.data())).toEqual([4, 4]);
    tg.dispose(out); // dispose walks the cycle too
    expect(tg.memory()).toEqual(m0);
  });

  it('a result whose getter throws: the error comes out and every tensor fn made is released', () => {
    const m0 = tg.memory();
    expect(() => tg.tidy(() => {
      const t = tg.ones([5]);
      return { t, get boom(): never { throw new Error('getter failed'); } };
    })).toThrow('getter failed');
    expect(tg.memory()).toEqual(m0);
    // the scope stack is balanced: a tensor made now belongs to no scope and survives
    const kept = tg.ones([1]);
    tg.tidy(() => undefined);
    expect(kept.isDisposed).toBe(false);
    kept.dispose();
  });

  it('an async function is refused before it runs; a returned Promise closes the scope and is refused', async () => {
    const m0 = tg.memory();
    let ran = false;
    expect(() => tg.tidy((async () => { ran = true; return tg.ones([2]); }) as never)).toThrow(/tidy: fn is async .* tidy\(\(\) => step\(batch\)\)/);
    expect(ran).toBe(false);
    let later: tg.Tensor | null = null;
    const pending = new Promise<void>((resolve) => setTimeout(resolve, 0));
    expect(() => tg.tidy(() => { tg.ones([7]); return pending.then(() => { later = tg.ones([1]); }); })).toThrow(/returned a Promise/);
    expect(tg.memory()).toEqual(m0); // what fn made before returning was released
    await pending;
    await new Promise((resolve) => setTimeout(resolve, 0));
    later!.dispose(); // made after tidy returned: the caller's, as the message says
    expect(tg.memory()).toEqual(m0);
  });
});
