// Creation and reading, and the seeded generator checked against an independent JavaScript
// implementation of the same algorithm (splitmix64 seeding xoshiro128**), so "the same numbers on
// every platform" is tested against a definition rather than against the engine's own output.
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';

/** Reference generator: 24-bit uniforms from xoshiro128** seeded by two splitmix64 outputs. */
function referenceUniforms(seed: number, count: number): number[] {
  const M = (1n << 64n) - 1n;
  const splitmix = (x: bigint): bigint => {
    x = (x + 0x9e3779b97f4a7c15n) & M;
    x = ((x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
    x = ((x ^ (x >> 27n)) * 0x94d049bb133111ebn) & M;
    return x ^ (x >> 31n);
  };
  const a = splitmix(BigInt(seed)), b = splitmix(a);
  const s = new Uint32Array([Number(a & 0xffffffffn), Number(a >> 32n), Number(b & 0xffffffffn), Number(b >> 32n)]);
  const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 11);
    out.push((result >>> 8) / 16777216);
  }
  return out;
}

describe('creation', () => {
  it('tensor() from numbers, nested arrays, flat arrays with a shape, and Float32Array', () => {
    tg.tidy(() => {
      expect(tg.tensor(3.5).shape).toEqual([]);
      expect(tg.tensor(3.5).item()).toBe(3.5);
      const t = tg.tensor([[1, 2, 3], [4, 5, 6]]);
      expect(t.shape).toEqual([2, 3]);
      expect(t.size).toBe(6);
      expect(t.ndim).toBe(2);
      expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
      expect(tg.tensor([1, 2, 3, 4, 5, 6], { shape: [3, 2] }).toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
      const f = tg.tensor(new Float32Array([0.5, 1.5, 2.5, 3.5]), { shape: [2, 1, 2] });
      expect(f.toArray()).toEqual([[[0.5, 1.5]], [[2.5, 3.5]]]);
      expect(Array.from(f.data())).toEqual([0.5, 1.5, 2.5, 3.5]);
      expect(tg.tensor([[1, 2]]).toString()).toBe('tensor([[1, 2]])');
      expect(tg.tensor([1], { requiresGrad: true }).toString()).toBe('tensor([1], requiresGrad=true)');
    });
  });

  it('zeros, ones, full, arange', () => {
    tg.tidy(() => {
      expect(tg.zeros([2, 2]).toArray()).toEqual([[0, 0], [0, 0]]);
      expect(tg.ones(3).toArray()).toEqual([1, 1, 1]);
      expect(tg.ones(2, 1).toArray()).toEqual([[1], [1]]);
      expect(tg.full([2], 7.25).toArray()).toEqual([7.25, 7.25]);
      expect(tg.arange(4).toArray()).toEqual([0, 1, 2, 3]);
      expect(tg.arange(1, 2, 0.25).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
      expect(tg.arange(5, 0, -2).toArray()).toEqual([5, 3, 1]);
      expect(tg.zeros([2], { requiresGrad: true }).requiresGrad).toBe(true);
    });
  });

  it('rand draws the reference generator\'s numbers for a seed', () => {
    for (const seed of [0, 1, 42, 2 ** 40 + 7]) {
      tg.manualSeed(seed);
      const got = tg.tidy(() => tg.rand([1000]).data());
      const expected = referenceUniforms(seed, 1000);
      for (let i = 0; i < 1000; i++) expect(got[i]).toBe(Math.fround(expected[i]));
    }
  });

  it('randn is Box–Muller over the same uniforms, and reseeding repeats it', () => {
    tg.manualSeed(7);
    const got = tg.tidy(() => tg.randn([1000]).data());
    const u = referenceUniforms(7, 1000);
    for (let i = 0; i < 1000; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - u[i]));
      expect(got[i]).toBeCloseTo(r * Math.cos(2 * Math.PI * u[i + 1]), 5);
      expect(got[i + 1]).toBeCloseTo(r * Math.sin(2 * Math.PI * u[i + 1]), 5);
    }
    tg.manualSeed(7);
    expect(tg.tidy(() => tg.randn([1000]).data())).toEqual(got);
  });

  it('rand and randn have the right moments over 200,000 draws', () => {
    tg.manualSeed(3);
    const stats = (d: Float32Array): [number, number, number, number] => {
      let s = 0, s2 = 0, lo = Infinity, hi = -Infinity;
      for (const v of d) { s += v; s2 += v * v; lo = Math.min(lo, v); hi = Math.max(hi, v); }
      const mean = s / d.length;
      return [mean, Math.sqrt(s2 / d.length - mean * mean), lo, hi];
    };
    const [um, us, ulo, uhi] = stats(tg.tidy(() => tg.rand([200000]).data()));
    expect(Math.abs(um - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(us - Math.sqrt(1 / 12))).toBeLessThan(0.005);
    expect(ulo).toBeGreaterThanOrEqual(0);
    expect(uhi).toBeLessThan(1);
    const [nm, ns] = stats(tg.tidy(() => tg.randn([200000]).data()));
    expect(Math.abs(nm)).toBeLessThan(0.01);
    expect(Math.abs(ns - 1)).toBeLessThan(0.01);
  });
});
