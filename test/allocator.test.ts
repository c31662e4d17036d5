// The allocator (assembly/alloc.ts) seen from the public API: freed neighbours coalesce, so memory
// freed in small pieces serves large requests without growing the arena; allocating up to the
// 4 GiB ceiling ends in a RangeError, never in memory handed out twice; everything freed after
// that is usable again at any size; and the failure-injection hook the atomicity tests use.
//
// The tests run in this order in one module instance: the ceiling test leaves 4 GiB of memory
// behind, so it comes last.
import { describe, it, expect, beforeAll } from 'vitest';
import * as tg from '../dist/index.js';

type T = tg.Tensor;

/** Every element of `t` equals `v` (checked in the core: min and max are 0-d and allocate nothing). */
function holds(t: T, v: number): boolean {
  return tg.tidy(() => t.min().item() === v && t.max().item() === v);
}

function expectHolds(list: Array<[T, number]>, what: string): void {
  for (const [t, v] of list) expect(holds(t, v), `${what}: the tensor filled with ${v} (shape [${t.shape}])`).toBe(true);
}

beforeAll(() => {
  // The node table and the scope buffer grow (and move) the first time this many tensors are
  // alive; make them that big once, so the tests below measure only tensor buffers.
  tg.tidy(() => { for (let i = 0; i < 12_000; i++) tg.zeros([]); });
});

describe('fragmentation', () => {
  it('freed neighbours coalesce: holes made of mixed sizes serve requests none of them could alone, and the arena stays flat', () => {
    const base = tg.memory();
    const T = 2 ** 22; // floats allocated per round (16 MiB)
    let arenaAfterFirstRound = 0;
    for (let round = 0; round < 10; round++) {
      // Two sizes per round, growing by 1.5× each round from 4 KiB to 150 KiB: an allocator that
      // never merges blocks keeps every round's memory in its own size classes and grows round
      // after round.
      const n = 4 * Math.round(256 * 1.5 ** round);
      const sizes = [n, 4 * Math.round((1.3 * n) / 4)];
      const all: Array<[T, number]> = [];
      let total = 0;
      while (total < T || all.length % 4 !== 0) {
        const s = sizes[all.length % 2];
        const v = round * 100_000 + all.length + 1;
        all.push([tg.full([s], v), v]);
        total += s;
      }
      const arena = tg.memory().arenaBytes;

      // Free every other tensor: isolated holes between live ones.
      for (let i = 1; i < all.length; i += 2) all[i][0].dispose();
      const even = all.filter((_, i) => i % 2 === 0);
      expectHolds(even, `round ${round}, every other one freed`);

      // Free one more in each group of four: positions 1, 2, 3 are now free and adjacent.
      for (let i = 2; i < all.length; i += 4) all[i][0].dispose();
      const kept = all.filter((_, i) => i % 4 === 0);
      // 2.5 n floats: larger than any single freed tensor (1.3 n), smaller than three merged (≥ 3.3 n).
      const big = 4 * Math.round((2.5 * n) / 4);
      const fills: Array<[T, number]> = [];
      for (let g = 0; g < all.length / 4; g++) {
        const v = -(round * 100_000 + g + 1);
        fills.push([tg.full([big], v), v]);
      }
      expect(tg.memory().arenaBytes, `round ${round}: the merged holes hold the larger tensors`).toBe(arena);
      expectHolds(kept, `round ${round}, kept`);
      expectHolds(fills, `round ${round}, placed in the merged holes`);

      tg.dispose([...kept.map(([t]) => t), ...fills.map(([t]) => t)]);
      expect(tg.memory().tensors).toBe(base.tensors);
      expect(tg.memory().bytes).toBe(base.bytes);
      if (round === 0) arenaAfterFirstRound = tg.memory().arenaBytes;
      else expect(tg.memory().arenaBytes, `arena after round ${round}`).toBe(arenaAfterFirstRound);
    }
  }, 60_000);
});

describe('allocation failure injection (tg.__testing.failAllocAfter)', () => {
  it('failAllocAfter(1): the next tensor creation throws a RangeError, nothing changes, and the engine stays usable', () => {
    const a = tg.tensor([1, 2, 3]);
    const before = tg.memory();
    tg.__testing.failAllocAfter(1);
    let err: unknown;
    try { tg.zeros([5]); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toMatch(/^zeros: out of memory allocating 20 bytes \(\d+ bytes in use by tensors; WebAssembly memory is \d+ bytes/);
    expect(tg.memory()).toEqual(before);
    const z = tg.zeros([5]);
    expect(z.toArray()).toEqual([0, 0, 0, 0, 0]);
    expect(tg.tidy(() => a.add(1).toArray())).toEqual([2, 3, 4]);
    tg.dispose([a, z]);
  });

  it('failAllocAfter(n) fails the n-th next allocation only, once; n ≤ 0 disarms it', () => {
    const before = tg.memory();
    tg.__testing.failAllocAfter(3);
    const x = tg.zeros([4]), y = tg.ones([4]); // allocations 1 and 2
    expect(() => tg.full([4], 7)).toThrow(RangeError);
    const z = tg.full([4], 7); // fired: disarmed again
    expect(z.toArray()).toEqual([7, 7, 7, 7]);
    tg.__testing.failAllocAfter(2);
    tg.__testing.failAllocAfter(0);
    const more = [tg.zeros([4]), tg.zeros([4]), tg.zeros([4])];
    tg.__testing.failAllocAfter(-5);
    more.push(tg.zeros([4]));
    expect(x.toArray()).toEqual([0, 0, 0, 0]);
    expect(y.toArray()).toEqual([1, 1, 1, 1]);
    tg.dispose([x, y, z, ...more]);
    expect(tg.memory()).toEqual(before);
  });

  it('an op whose output cannot be allocated throws and leaves its inputs and autograd intact', () => {
    const w = tg.tensor([1, 2, 3], { requiresGrad: true });
    tg.__testing.failAllocAfter(1);
    expect(() => tg.tidy(() => w.mul(2))).toThrow(/mul: out of memory/);
    tg.tidy(() => w.mul(2).sum().backward());
    expect(Array.from(w.grad!.data())).toEqual([2, 2, 2]);
    expect(w.toArray()).toEqual([1, 2, 3]);
    w.dispose();
  });
});

describe('the 4 GiB ceiling', () => {
  it('allocating until memory is exhausted: a RangeError naming the bytes, no block handed out twice; all of it usable again after dispose', () => {
    const base = tg.memory();
    // Small tensors made first sit at low addresses: a pointer that wrapped around past 4 GiB
    // would hand their memory out again.
    const ring: Array<[T, number]> = Array.from({ length: 64 }, (_, i) => [tg.full([37], 1000 + i), 1000 + i]);
    // 2 GiB (the largest tensor there is) and 1 GiB, then 64 KiB tensors until memory runs
    // out, then halving sizes down to one element: memory is filled to its last few bytes.
    const big: Array<[T, number]> = [], small: Array<[T, number]> = [];
    const make = (n: number, into: Array<[T, number]>) => {
      const v = big.length + small.length + 1;
      into.push([tg.full([n], v), v]);
    };
    make(2 ** 29, big);
    make(2 ** 28, big);
    let first: unknown;
    try { for (;;) make(2 ** 14, small); } catch (e) { first = e; }
    expect(first).toBeInstanceOf(RangeError);
    for (let n = 2 ** 13; n >= 1;) {
      try { make(n, big); } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        n = Math.floor(n / 2);
      }
    }
    const m = /^full: out of memory allocating (\d+) bytes \((\d+) bytes in use by tensors; WebAssembly memory is (\d+) bytes/.exec((first as Error).message);
    expect(m, (first as Error).message).not.toBeNull();
    expect(Number(m![1])).toBe(65536);
    expect(Number(m![2])).toBeGreaterThan(2 ** 32 - 2 ** 26);
    const all = [...ring, ...big, ...small];
    const bytes = all.reduce((s, [t]) => s + 4 * t.size, 0);
    expect(bytes).toBeGreaterThan(2 ** 32 - 2 ** 24); // memory really was filled to its end
    expect(tg.memory().arenaBytes).toBe(2 ** 32);
    expect(tg.memory().tensors).toBe(base.tensors + all.length);
    // Every tensor still holds its own value: none shares memory with another. Values grow in
    // the order the tensors were made and each was filled when made, so memory handed out twice
    // leaves a larger value in the older tensor: max() finds it in one pass (min() would be a
    // second pass over 4 GiB).
    for (const [t, v] of ring) expect(Array.from(t.data()), `ring tensor ${v}`).toEqual(new Array(37).fill(v));
    for (const [t, v] of [...big, ...small]) expect(tg.tidy(() => t.max().item()), `the tensor filled with ${v} (shape [${t.shape}])`).toBe(v);

    // Freed in a scattered order (every 256th 64 KiB tensor first), everything must merge again.
    tg.dispose(small.filter((_, i) => i % 256 === 0).map(([t]) => t));
    tg.dispose(all.map(([t]) => t));
    expect(tg.memory().tensors).toBe(base.tensors);
    expect(tg.memory().bytes).toBe(base.bytes);
    // Freed after running out: usable again at any size (issue 8, row 6). The 1.5 GiB tensor
    // only fits where the 64 KiB ones were.
    const z = tg.zeros([2048]);
    expect(z.data().every((x) => x === 0)).toBe(true);
    const large = [tg.full([2 ** 29], 3), tg.full([3 * 2 ** 27], 4)];
    const ends = (t: T) => tg.tidy(() => [...t.narrow(0, 0, 4).toArray() as number[], ...t.narrow(0, t.size - 4, 4).toArray() as number[]]);
    expect(ends(large[0])).toEqual(new Array(8).fill(3));
    expect(ends(large[1])).toEqual(new Array(8).fill(4));
    expect(tg.tidy(() => z.add(1).sum().item())).toBe(2048);
    tg.dispose([z, ...large]);
    expect(tg.memory().tensors).toBe(base.tensors);
  }, 180_000);
});
