// F.scaledDotProductAttention: the fused kernel against PyTorch (fixtures built from PyTorch 2's
// documented formula by scripts/gen_attention_fixtures.py), finite differences, dropout's
// statistics and replayed mask, tg.trace replay, O(L) memory, and its errors.
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tg from '../dist/index.js';
import { expectClose, failEachAllocation } from './helpers';

const F = tg.nn.functional;
type Json = { shape: number[]; data: (number | string)[] };
interface Case {
  name: string; q: Json; k: Json; v: Json; mask: Json | null; isCausal: boolean; scale: number | null;
  out: Json; upstream: Json; grads: { q: Json | null; k: Json | null; v: Json | null; mask?: Json };
}
const fixtures = JSON.parse(readFileSync(new URL('./fixtures/attention.json', import.meta.url), 'utf8')) as { cases: Case[] };

const numbers = (j: Json): number[] => j.data.map((x) => (typeof x === 'number' ? x : Number(x)));
const make = (j: Json, requiresGrad = false): tg.Tensor => tg.tensor(Float32Array.from(numbers(j)), { shape: j.shape, requiresGrad });

/** Same NaNs in the same places, the rest within rtol 1e-5 (atol 2e-6 for values near 0). */
function expectMatches(actual: Float32Array, expected: Json, label: string): void {
  const want = numbers(expected);
  const nan = want.map(Number.isNaN);
  expect(Array.from(actual, Number.isNaN), `${label}: NaN positions`).toEqual(nan);
  expectClose(actual.filter((_, i) => !nan[i]), want.filter((_, i) => !nan[i]), 1e-5, 2e-6, label, undefined);
}

/** softmax(q·kᵀ·scale + mask)·v from today's ops, the causal mask built as an additive tensor. */
function composed(q: tg.Tensor, k: tg.Tensor, v: tg.Tensor, causal: boolean, mask?: tg.Tensor): tg.Tensor {
  const [L, E] = q.shape.slice(-2), S = k.shape[k.shape.length - 2];
  let s = tg.matmul(q, k.transpose(-2, -1)).mul(1 / Math.sqrt(E));
  if (mask) s = s.add(mask);
  if (causal) s = s.add(tg.tensor(Array.from({ length: L }, (_, i) => Array.from({ length: S }, (_, j) => (j <= i ? 0 : -Infinity)))));
  return tg.matmul(s.softmax(-1), v);
}

afterEach(() => tg.manualSeed(0));

describe('scaledDotProductAttention against PyTorch', () => {
  for (const c of fixtures.cases) {
    it(c.name, () => tg.tidy(() => {
      const q = make(c.q, c.grads.q !== null), k = make(c.k, c.grads.k !== null), v = make(c.v, c.grads.v !== null);
      const mask = c.mask ? make(c.mask, c.grads.mask !== undefined) : null;
      const options = { isCausal: c.isCausal, ...(mask ? { attnMask: mask } : {}), ...(c.scale !== null ? { scale: c.scale } : {}) };
      const out = F.scaledDotProductAttention(q, k, v, options);
      expect(out.shape).toEqual(c.out.shape);
      expectMatches(out.data(), c.out, 'out');
      out.backward(make(c.upstream));
      for (const [name, t] of [['q', q], ['k', k], ['v', v], ['mask', mask]] as const) {
        const want = c.grads[name];
        if (!want) { expect(t?.grad ?? null, `${name} has no gradient`).toBeNull(); continue; }
        expectMatches(t!.grad ? t!.grad.data() : new Float32Array(t!.size), want, `grad ${name}`);
      }
    }));
  }

  it('covers the cases the task names', () => {
    const names = fixtures.cases.map((c) => c.name).join('|');
    for (const want of ['causal L < S', 'causal L > S', 'mask [L,S]', 'mask [B,1,L,S]', 'custom scale', 'E != Ev', 'fully masked', 'T = 1', 'zero-size batch',
      'mask grad [L,S]', 'mask grad [B,H,L,S]', 'mask grad [1,S]', 'mask grad [L,1]', 'mask grad alone']) {
      expect(names).toContain(want);
    }
  });
});

describe('scaledDotProductAttention', () => {
  it('passes gradcheck: causal, with a broadcast mask, with E ≠ Ev and L ≠ S', () => tg.tidy(() => {
    tg.manualSeed(3);
    const q = tg.randn([2, 2, 3, 4], { requiresGrad: true }), k = tg.randn([2, 2, 5, 4], { requiresGrad: true });
    const v = tg.randn([2, 2, 5, 3], { requiresGrad: true });
    const mask = tg.tensor([[0, -Infinity, 0, 0.5, 0], [0, 0, -Infinity, -Infinity, 0.2], [-Infinity, 0, 0, 0, 0]]);
    expect(tg.gradcheck((a, b, c) => F.scaledDotProductAttention(a, b, c, { isCausal: true }), [q, k, v], { eps: 1e-2 })).toBe(true);
    expect(tg.gradcheck((a, b, c) => F.scaledDotProductAttention(a, b, c, { attnMask: mask, scale: 0.7 }), [q, k, v], { eps: 1e-2 })).toBe(true);
    // a learned bias broadcast over batch and heads, with and without q, k, v in the graph
    const bias = tg.tensor([[0.3, -Infinity, 0, 0.5, -0.2], [0.1, 0, -Infinity, -Infinity, 0.2], [-Infinity, 0.4, 0, -0.6, 0]], { requiresGrad: true });
    expect(tg.gradcheck((a, b, c, m) => F.scaledDotProductAttention(a, b, c, { attnMask: m, scale: 0.7 }), [q, k, v, bias], { eps: 1e-2 })).toBe(true);
    const [qc, kc, vc] = [q, k, v].map((t) => t.detach());
    expect(tg.gradcheck((m) => F.scaledDotProductAttention(qc, kc, vc, { attnMask: m }), [bias], { eps: 1e-2 })).toBe(true);
  }));

  it('matches the composed ops across query and key tiles (L = 70, S = 300, causal)', () => tg.tidy(() => {
    tg.manualSeed(5);
    const q = tg.randn([1, 2, 70, 16], { requiresGrad: true }), k = tg.randn([1, 2, 300, 16], { requiresGrad: true });
    const v = tg.randn([1, 2, 300, 16], { requiresGrad: true });
    const up = tg.randn([1, 2, 70, 16]);
    const fused = F.scaledDotProductAttention(q, k, v, { isCausal: true });
    fused.backward(up);
    const grads = [q, k, v].map((t) => t.grad!.data());
    for (const t of [q, k, v]) t.zeroGrad();
    const ref = composed(q, k, v, true);
    ref.backward(up);
    expectClose(fused.data(), ref.data(), 1e-4, 1e-5, 'out');
    [q, k, v].forEach((t, i) => expectClose(grads[i], t.grad!.data(), 1e-4, 1e-5, `grad ${'qkv'[i]}`));
  }));

  it('dropoutP = 0 is exactly no dropout; the mask comes from manualSeed', () => tg.tidy(() => {
    tg.manualSeed(1);
    const q = tg.randn([2, 8, 4]), k = tg.randn([2, 8, 4]), v = tg.randn([2, 8, 4]);
    expect(F.scaledDotProductAttention(q, k, v, { dropoutP: 0 }).data()).toEqual(F.scaledDotProductAttention(q, k, v).data());
    tg.manualSeed(9);
    const a = F.scaledDotProductAttention(q, k, v, { dropoutP: 0.5 }).data();
    tg.manualSeed(9);
    const b = F.scaledDotProductAttention(q, k, v, { dropoutP: 0.5 }).data();
    const c = F.scaledDotProductAttention(q, k, v, { dropoutP: 0.5 }).data();
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  }));

  it('dropout drops each probability with chance p and scales the rest by 1/(1−p), independently per batch item and row', () => tg.tidy(() => {
    // q = 0 makes every probability 1/S; v = identity reads each row's dropout factors back: out[i, j] = z_ij / S
    const S = 64, p = 0.3;
    tg.manualSeed(11);
    const eye = tg.tensor(Array.from({ length: S }, (_, i) => Array.from({ length: S }, (_, j) => (i === j ? 1 : 0))));
    const out = F.scaledDotProductAttention(tg.zeros([4, S, 8]), tg.zeros([4, S, 8]), eye.expand([4, S, S]), { dropoutP: p }).data();
    let zeros = 0;
    for (const x of out) {
      if (x === 0) zeros++;
      else expect(x).toBeCloseTo(1 / ((1 - p) * S), 6);
    }
    const n = out.length, sd = Math.sqrt(n * p * (1 - p)); // binomial: 4 standard deviations
    expect(Math.abs(zeros - n * p)).toBeLessThan(4 * sd);
    const row = (b: number, i: number): number[] => Array.from(out.slice((b * S + i) * S, (b * S + i + 1) * S), (x) => (x === 0 ? 0 : 1));
    expect(row(0, 0)).not.toEqual(row(1, 0));
    expect(row(0, 0)).not.toEqual(row(0, 1));
  }));

  it('with dropout, backward regenerates the forward mask: gradcheck at a fixed seed', () => tg.tidy(() => {
    tg.manualSeed(4);
    const q = tg.randn([1, 2, 5, 4], { requiresGrad: true }), k = tg.randn([1, 2, 6, 4], { requiresGrad: true });
    const v = tg.randn([1, 2, 6, 3], { requiresGrad: true });
    const fn = (a: tg.Tensor, b: tg.Tensor, c: tg.Tensor): tg.Tensor => {
      tg.manualSeed(21); // the same mask for every evaluation
      return F.scaledDotProductAttention(a, b, c, { dropoutP: 0.4, isCausal: true });
    };
    expect(tg.gradcheck(fn, [q, k, v], { eps: 1e-2 })).toBe(true);
  }));

  it('replays under tg.trace, dropout redrawn each run and its gradient following it', () => {
    tg.manualSeed(2);
    const q = tg.keep(tg.randn([2, 2, 6, 4], { requiresGrad: true })), k = tg.keep(tg.randn([2, 2, 6, 4], { requiresGrad: true }));
    const v = tg.keep(tg.randn([2, 2, 6, 4], { requiresGrad: true })), mask = tg.keep(tg.zeros([6, 6]));
    const step = (): tg.Tensor => tg.tidy(() => {
      for (const t of [q, k, v]) t.zeroGrad();
      const y = F.scaledDotProductAttention(q, k, v, { attnMask: mask, dropoutP: 0.25 }).sum();
      y.backward();
      return y;
    });
    tg.manualSeed(7);
    const tr = tg.trace(step);
    for (let run = 0; run < 3; run++) {
      const fresh = tg.randn([6, 6]);
      mask.copy_(fresh.mul(0.5));
      fresh.dispose();
      tg.manualSeed(100 + run);
      const replayed = tr.run().item(), replayedGrads = [q, k, v].map((t) => t.grad!.data());
      tg.manualSeed(100 + run);
      const eager = step();
      expect(replayed).toBe(eager.item());
      [q, k, v].forEach((t, i) => expect(replayedGrads[i]).toEqual(t.grad!.data()));
      eager.dispose();
    }
    tr.dispose();
    for (const t of [q, k, v, mask]) t.dispose();
  });

  it('a learned mask alone (q, k, v constant) trains the same replayed as eager', () => {
    tg.manualSeed(4);
    const q = tg.randn([2, 2, 6, 4]), k = tg.randn([2, 2, 6, 4]), v = tg.randn([2, 2, 6, 4]);
    const bias = tg.zeros([6, 6], { requiresGrad: true }), opt = new tg.optim.SGD([bias], { lr: 0.5 });
    const step = (): tg.Tensor => tg.tidy(() => {
      opt.zeroGrad();
      const y = F.scaledDotProductAttention(q, k, v, { attnMask: bias }).pow(2).mean();
      y.backward();
      opt.step();
      return y;
    });
    const tr = tg.trace(step);
    const replayed = [0, 1, 2].map(() => tr.run().item()), trained = Array.from(bias.data());
    tr.dispose();
    bias.copy_(tg.tidy(() => bias.mul(0))); // back to zeros (bias does not require grad in copy_'s source)
    const first = step();
    const eager = [first.item(), ...[1, 2, 3].map(() => tg.tidy(() => step().item()))];
    first.dispose();
    // the trace recorded one step (eager[0]); its three runs are steps 2-4
    expect(replayed).toEqual(eager.slice(1));
    expect(replayed[2]).toBeLessThan(eager[0]); // it learns
    expect(Array.from(bias.data())).toEqual(trained);
    tg.dispose([q, k, v, bias]);
  });

  it('keeps O(L) memory: L = S = 1024 grows the arena by far less than the L·S scores', () => {
    const L = 1024, E = 64;
    tg.manualSeed(1);
    const q = tg.randn([1, 1, L, E], { requiresGrad: true }), k = tg.randn([1, 1, L, E], { requiresGrad: true });
    const v = tg.randn([1, 1, L, E], { requiresGrad: true });
    tg.tidy(() => tg.matmul(tg.ones([8, 8]), tg.ones([8, 8]))); // the gemm's packing buffers (fixed size) exist first
    const before = tg.memory();
    const out = F.scaledDotProductAttention(q, k, v, { isCausal: true });
    const after = tg.memory();
    expect(after.bytes - before.bytes).toBe(L * E * 4 + (L + 2) * 4); // the output and one log-sum-exp per row
    expect(after.arenaBytes - before.arenaBytes).toBeLessThan((L * L * 4) / 4); // one L×S matrix would be 4 MB
    // backward's scratch was sized by the forward (measured above); it adds the three gradients
    // (the arena itself grows by the headroom backward reserves in proportion to the live tensors)
    const loss = out.sum();
    loss.backward();
    expect(tg.memory().bytes - after.bytes).toBe(3 * L * E * 4 + 4);
    loss.dispose();
    for (const t of [q, k, v, out]) t.dispose();
  });

  it('running out of memory at any allocation, forward or backward, throws a RangeError and changes nothing', () => {
    tg.manualSeed(6);
    // L = 1500 rows: more than any call above, so the kernel's scratch has to grow too
    const q = tg.randn([1, 1500, 4], { requiresGrad: true }), k = tg.randn([1, 40, 4], { requiresGrad: true });
    const v = tg.randn([1, 40, 3], { requiresGrad: true }), mask = tg.randn([1500, 40]);
    const values = (): number[][] => [q, k, v, mask].map((t) => Array.from(t.data()));
    const before = values();
    const failures = failEachAllocation(tg, () => F.scaledDotProductAttention(q, k, v, { attnMask: mask, dropoutP: 0.1 }).dispose(),
      () => expect(values()).toEqual(before));
    expect(failures).toBeGreaterThan(1); // the output, the stats, the scratch (and the tape)
    let backwardFailures = 0;
    for (let n = 1; n < 50; n++) {
      const ok = tg.tidy(() => {
        const loss = F.scaledDotProductAttention(q, k, v, { attnMask: mask }).sum();
        const mem = tg.memory();
        tg.__testing.failAllocAfter(n);
        try {
          loss.backward();
          return true;
        } catch (err) {
          expect(err).toBeInstanceOf(RangeError);
          expect([q, k, v].map((t) => t.grad)).toEqual([null, null, null]);
          expect(tg.memory()).toEqual(mem);
          return false;
        } finally {
          tg.__testing.failAllocAfter(0);
        }
      });
      if (ok) break;
      backwardFailures++;
    }
    expect(backwardFailures).toBeGreaterThan(0);
    expect(q.grad).not.toBeNull();
    tg.dispose([q, k, v, mask]);
  });

  it('a row with no allowed key is NaN, as PyTorch; S = 0 gives zeros', () => tg.tidy(() => {
    const q = tg.ones([1, 2, 2]), k = tg.ones([1, 3, 2]), v = tg.ones([1, 3, 2]);
    const out = F.scaledDotProductAttention(q, k, v, { attnMask: tg.tensor([[0, 0, 0], [-Infinity, -Infinity, -Infinity]]) }).data();
    expect(Array.from(out.slice(0, 2))).toEqual([1, 1]);
    expect(Array.from(out.slice(2), Number.isNaN)).toEqual([true, true]);
    expect(Array.from(F.scaledDotProductAttention(q, tg.ones([1, 0, 2]), tg.ones([1, 0, 3])).data())).toEqual([0, 0, 0, 0, 0, 0]);
  }));

  it('refuses bad input with an Error naming the op and the shapes, and changes nothing', () => tg.tidy(() => {
    const q = tg.ones([2, 3, 4], { requiresGrad: true }), k = tg.ones([2, 5, 4]), v = tg.ones([2, 5, 6]);
    const k3 = tg.ones([2, 5, 3]), v4 = tg.ones([2, 4, 6]), k35 = tg.ones([3, 5, 4]), q1 = tg.ones([4]);
    const m34 = tg.ones([3, 4]), m4 = tg.ones([3, 2, 3, 5]), m35 = tg.zeros([3, 5]);
    const before = tg.memory().tensors;
    const sdpa = F.scaledDotProductAttention;
    expect(() => sdpa(q, k3, v)).toThrow(/scaledDotProductAttention: query of shape \[2,3,4\], key of shape \[2,5,3\] and value of shape \[2,5,6\] do not fit/);
    expect(() => sdpa(q, k, v4)).toThrow(/value of shape \[2,4,6\] do not fit \[\.\.\., L, E\], \[\.\.\., S, E\] and \[\.\.\., S, Ev\] with equal leading dims/);
    expect(() => sdpa(q, k35, v)).toThrow(/key of shape \[3,5,4\] and value of shape \[2,5,6\] do not fit/);
    expect(() => sdpa(q1, k, v)).toThrow(/query of shape \[4\], key/);
    expect(() => sdpa(q, k, v, { attnMask: m34 })).toThrow(/attnMask of shape \[3,4\] does not broadcast to the scores' shape \[2,3,5\]/);
    expect(() => sdpa(q, k, v, { attnMask: m4 })).toThrow(/attnMask of shape \[3,2,3,5\] does not broadcast/);
    expect(() => sdpa(q, k, v, { attnMask: m35, isCausal: true })).toThrow(/either attnMask or isCausal/);
    expect(() => sdpa(q, k, v, { scale: NaN })).toThrow(/scaledDotProductAttention: scale must be a finite number, got NaN/);
    expect(() => sdpa(q, k, v, { dropoutP: 1.5 })).toThrow(/scaledDotProductAttention: dropoutP must be a number in \[0, 1\], got 1.5/);
    expect(() => sdpa(q, k, v, { causal: true } as never)).toThrow(/unknown option "causal"/);
    expect(tg.memory().tensors).toBe(before);
    expect(sdpa(q, k, v).shape).toEqual([2, 3, 6]);
  }));
});
