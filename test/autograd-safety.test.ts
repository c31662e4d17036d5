// Autograd safety (issue 8): values read from memory are checked by the kernel that uses them,
// a graph whose saved tensors were modified in place or that was already walked is refused, and
// a trace holds every tensor its program names. Each case checks the error and that every
// tensor it could have touched is bit-identical afterwards (the independent answer: the values
// before the call).
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { failEachAllocation } from './helpers';

const { nn, optim } = tg;
const F = nn.functional;

/** Sentinels around the case: tensors whose values and gradients must not change. */
function sentinels(): { check(): void; dispose(): void } {
  const ts = [tg.full([4], 7), tg.full([64], -3), tg.tensor([1.5, 2.5], { requiresGrad: true })];
  tg.tidy(() => ts[2].mul(2).sum().backward());
  const values = ts.map((t) => t.data());
  return {
    check() {
      ts.forEach((t, k) => expect(Array.from(t.data())).toEqual(Array.from(values[k])));
      expect(Array.from(ts[2].grad!.data())).toEqual([2, 2]);
    },
    dispose: () => tg.dispose(ts),
  };
}

const snapshot = (ts: tg.Tensor[]): number[][] => ts.map((t) => Array.from(t.data()).concat(t.grad ? Array.from(t.grad.data()) : []));

describe('indices and labels are checked by the kernel that reads them', () => {
  it('a gather index refilled out of range after the op: backward refuses the graph, no gradient written (row 4)', () => {
    const ring = sentinels();
    const x = tg.tensor([1, 2, 3], { requiresGrad: true });
    const idx = tg.tensor([0, 1]);
    const y = x.gather(0, idx);
    idx.copy_([4, 5]);
    expect(() => y.sum().backward()).toThrow(/gather saved for the gradient was modified in place/);
    expect(x.grad).toBeNull();
    ring.check();
    // recomputed with the bad index, the kernel refuses it when it runs
    expect(() => x.gather(0, idx)).toThrow(/index 4 .* out of range \[0, 3\)/);
    tg.dispose([x, idx, y]);
    ring.dispose();
  });

  it('a traced crossEntropy whose labels are refilled out of range stops the replay before backward and the update', () => {
    const ring = sentinels();
    tg.manualSeed(1);
    const model = new nn.Linear(4, 3);
    const opt = new optim.SGD(model.parameters(), { lr: 0.5 });
    const x = tg.keep(tg.randn([2, 4]));
    const labels = tg.keep(tg.tensor([0, 2]));
    const step = tg.trace(() => tg.tidy(() => {
      opt.zeroGrad();
      const loss = F.crossEntropy(model.forward(x), labels);
      loss.backward();
      opt.step();
      return loss;
    }));
    const params = model.parameters();
    const before = params.map((p) => Array.from(p.data()));
    for (const bad of [[5, -3], [1, 3], [0, 1.5], [Number.NaN, 0], [1e6, 0]]) {
      labels.copy_(bad);
      expect(() => step.run()).toThrow(/trace\.run: crossEntropy: label .* at position [01] (is out of range \[0, 3\)|is not an integer)/);
      params.forEach((p, k) => expect(Array.from(p.data())).toEqual(before[k]));
    }
    labels.copy_([1, 0]);
    step.run(); // usable again with good labels
    expect(Number.isFinite(step.output.item())).toBe(true);
    ring.check();
    step.dispose();
    tg.dispose([x, labels]);
    model.parameters().forEach((p) => p.dispose());
    opt.dispose();
    ring.dispose();
  });

  it('nllLoss and indexSelect with refilled indices: forward refuses, backward refuses, nothing written', () => {
    const ring = sentinels();
    const logp = tg.tensor([[-1, -2], [-0.5, -3]], { requiresGrad: true });
    const labels = tg.tensor([0, 1]);
    const loss = F.nllLoss(logp, labels);
    labels.copy_([1e6, 0]);
    expect(() => loss.backward()).toThrow(/nllLoss saved for the gradient was modified in place/);
    expect(() => F.nllLoss(logp, labels)).toThrow(/nllLoss: (label|index) 1000000 at position 0 is out of range \[0, 2\)/);
    const w = tg.tensor([[1, 2], [3, 4], [5, 6]], { requiresGrad: true });
    const rows = tg.tensor([2, 0]);
    const picked = w.indexSelect(0, rows);
    rows.copy_([0, -1]);
    expect(() => picked.sum().backward()).toThrow(/indexSelect saved/);
    expect(logp.grad).toBeNull();
    expect(w.grad).toBeNull();
    ring.check();
    tg.dispose([logp, labels, loss, w, rows, picked]);
    ring.dispose();
  });
});

describe('backward refuses a stale or spent graph, as PyTorch does', () => {
  it('copy_ into a tensor between forward and backward throws and changes no gradient (row 13)', () => {
    const w = tg.tensor([1, 2], { requiresGrad: true });
    const x = tg.tensor([10, 20]);
    const loss = w.mul(x).sum();
    x.copy_([1, 1]);
    expect(() => loss.backward()).toThrow(/mul saved for the gradient was modified in place/);
    expect(w.grad).toBeNull();
    // a graph built after the write is fresh: d(sum(w·x))/dw = x = [1, 1]
    w.mul(x).sum().backward();
    expect(Array.from(w.grad!.data())).toEqual([1, 1]);
    tg.dispose([w, x, loss]);
  });

  it('an optimizer step between forward and backward makes the graph stale', () => {
    const w = tg.tensor([1, 2], { requiresGrad: true });
    const opt = new optim.SGD([w], { lr: 0.1 });
    const first = w.mul(w).sum();
    first.backward({ retainGraph: true });
    opt.step(); // w changes in place
    expect(() => first.backward()).toThrow(/modified in place/);
    expect(Array.from(w.grad!.data())).toEqual([2, 4]); // the first backward's, untouched
    tg.dispose([w, first]);
    opt.dispose();
  });

  it('a second backward through the same graph throws unless the first retained it (row 14)', () => {
    const w = tg.tensor([1, 2], { requiresGrad: true });
    const loss = w.mul(w).sum();
    loss.backward();
    expect(() => loss.backward()).toThrow(/already walked by backward\(\); pass \{retainGraph: true\}/);
    expect(Array.from(w.grad!.data())).toEqual([2, 4]);
    const kept = w.mul(w).sum();
    kept.backward({ retainGraph: true });
    kept.backward({ retainGraph: true });
    kept.backward();
    expect(Array.from(w.grad!.data())).toEqual([8, 16]); // 2·w once before, three more times now
    expect(() => kept.backward()).toThrow(/already walked/);
    // a new graph through the same leaves is fine
    w.mul(3).sum().backward();
    expect(Array.from(w.grad!.data())).toEqual([11, 19]);
    tg.dispose([w, loss, kept]);
  });

  it('a graph sharing a spent part is refused before anything is written', () => {
    const a = tg.tensor([1, 2], { requiresGrad: true });
    const b = tg.tensor([3], { requiresGrad: true });
    const h = a.exp();
    h.sum().backward();
    const gradA = Array.from(a.grad!.data());
    const loss2 = h.sum().mul(b).sum(); // b's record comes after the spent exp
    expect(() => loss2.backward()).toThrow(/through exp\) was already walked/);
    expect(Array.from(a.grad!.data())).toEqual(gradA);
    expect(b.grad).toBeNull();
    tg.dispose([a, b, h, loss2]);
  });

  it('backward options are checked: unknown keys and non-booleans are errors', () => {
    const w = tg.tensor([1], { requiresGrad: true });
    const loss = w.mul(2).sum();
    expect(() => loss.backward({ retainGraf: true } as never)).toThrow(/backward: unknown option "retainGraf" \(accepted: retainGraph, createGraph\)/);
    expect(() => loss.backward({ retainGraph: 'yes' } as never)).toThrow(/backward: retainGraph must be true or false/);
    expect(() => loss.backward(undefined, { toString: true } as never)).toThrow(/unknown option "toString"/);
    loss.backward(undefined, { retainGraph: true });
    loss.backward(tg.tensor(2));
    expect(Array.from(w.grad!.data())).toEqual([6]);
    tg.dispose([w, loss]);
  });
});

describe('a trace holds every tensor its program names', () => {
  it('an optimizer parameter the forward never reads survives dispose() while the trace lives (row 8)', () => {
    const used = tg.tensor([1, 2], { requiresGrad: true });
    const unused = tg.tensor([5], { requiresGrad: true });
    tg.tidy(() => unused.mul(1).sum().backward()); // it has a gradient of 1
    const opt = new optim.SGD([used, unused], { lr: 0.5, weightDecay: 1 });
    const step = tg.trace(() => tg.tidy(() => {
      opt.zeroGrad();
      const loss = used.mul(used).sum();
      loss.backward();
      opt.step();
      return loss;
    }));
    unused.dispose();
    const fresh = tg.tensor([5], { requiresGrad: true });
    tg.tidy(() => fresh.mul(1).sum().backward());
    const before = snapshot([fresh]);
    step.run();
    expect(snapshot([fresh])).toEqual(before);
    expect(tg.memory().tensors).toBeGreaterThan(0);
    const live = tg.memory().tensors;
    step.dispose(); // releases the held parameter (and the program's own tensors)
    expect(tg.memory().tensors).toBeLessThan(live);
    tg.dispose([used, fresh]);
    opt.dispose();
  });
});

describe('backward is atomic under exhaustion (row 7)', () => {
  it('failing the N-th allocation, for every N, over a conv + matmul + loss backward changes no gradient', () => {
    tg.manualSeed(7);
    const conv = new nn.Conv2d(2, 3, 3, { padding: 1 });
    const fc = new nn.Linear(3 * 4 * 4, 5);
    const params = [...conv.parameters(), ...fc.parameters()];
    const x = tg.randn([2, 2, 4, 4], { requiresGrad: true });
    const labels = [1, 4];
    const leaves = [...params, x];
    const forward = (): tg.Tensor => F.crossEntropy(fc.forward(conv.forward(x).relu().flatten(1)), labels);
    // the answer: the same backward with nothing failing, from zero gradients
    const expected = tg.tidy(() => {
      forward().backward();
      return leaves.map((t) => Array.from(t.grad!.data()));
    });
    // earlier gradients (accumulated by the successful run) must survive every failed attempt
    const grads = (): number[][] => leaves.map((t) => Array.from(t.grad!.data()));
    let failures = 0;
    for (let n = 1; ; n++) {
      const before = grads();
      const ok = tg.tidy(() => {
        const loss = forward();
        const mem = tg.memory();
        tg.__testing.failAllocAfter(n);
        try {
          loss.backward();
          return true;
        } catch (err) {
          expect(err).toBeInstanceOf(RangeError);
          expect(String(err)).toMatch(/backward: out of memory allocating \d+ bytes/);
          expect(grads()).toEqual(before);
          expect(tg.memory()).toEqual(mem);
          return false;
        } finally {
          tg.__testing.failAllocAfter(0);
        }
      });
      if (ok) {
        // the successful attempt added exactly the expected gradient once more
        grads().forEach((g, k) => g.forEach((v, i) => expect(v).toBeCloseTo(before[k][i] + expected[k][i], 4)));
        break;
      }
      failures++;
      expect(n).toBeLessThan(100);
    }
    expect(failures).toBe(4); // one gradient buffer per intermediate (linear, flatten, relu, conv outputs; the 0-d loss keeps its own inline)
    tg.dispose([...leaves]);
  });
});

describe('optimizers under exhaustion', () => {
  it('Adam, and SGD with momentum on its first step, release what they made when an allocation fails', () => {
    const w = tg.tensor([1, 2, 3], { requiresGrad: true });
    const b = tg.tensor([0.5], { requiresGrad: true });
    tg.tidy(() => w.mul(b).sum().backward());
    const values = (): number[][] => [w, b].map((t) => Array.from(t.data()));
    const before = values();
    const m0 = tg.memory().tensors;
    for (const make of [
      () => new optim.Adam([w, b], { lr: 0.1 }),
      () => { const o = new optim.SGD([w, b], { lr: 0.1, momentum: 0.9 }); try { o.step(); } catch (err) { o.dispose(); throw err; } return o; },
    ]) {
      const failures = failEachAllocation(tg, () => make().dispose(), () => {
        expect(tg.memory().tensors).toBe(m0); // no state tensor left behind
        expect(values()).toEqual(before);
      });
      expect(failures).toBeGreaterThan(0);
    }
    tg.dispose([w, b]);
  });
});
