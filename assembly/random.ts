// A seeded generator that gives the same numbers on every platform: xoshiro128** over u32 words
// seeded by splitmix64, and Box–Muller through AssemblyScript's own (software) log and cos, so no
// host math library is involved.

import { reportBadIndex } from "./errors";

const state: usize = memory.data(16, 16);

function splitmix(x: u64): u64 {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

export function seed(s: f64): void {
  let a = splitmix(<u64>s), b = splitmix(a);
  store<u64>(state, a);
  store<u64>(state, b, 8);
}
seed(0);

function nextU32(): u32 {
  let s0 = load<u32>(state), s1 = load<u32>(state, 4), s2 = load<u32>(state, 8), s3 = load<u32>(state, 12);
  let result = rotl<u32>(s1 * 5, 7) * 9;
  let t = s1 << 9;
  s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl<u32>(s3, 11);
  store<u32>(state, s0); store<u32>(state, s1, 4); store<u32>(state, s2, 8); store<u32>(state, s3, 12);
  return result;
}

/** Uniform in [0, 1) with 24 random bits (every f32 step in the range is reachable). */
function uniform(): f64 {
  return <f64>(nextU32() >>> 8) * (1.0 / 16777216.0);
}

/** Fills n floats at p: uniform in [lo, hi) when normal is false, else normal(lo, hi) (mean, std). */
export function fillRandom(p: usize, n: i32, normal: bool, lo: f64, hi: f64): void {
  if (!normal) {
    for (let i = 0; i < n; i++) store<f32>(p + (<usize>i << 2), <f32>(lo + (hi - lo) * uniform()));
    return;
  }
  for (let i = 0; i < n; i += 2) {
    let u1 = 1.0 - uniform(); // (0, 1], so log is finite
    let u2 = uniform();
    let r = Math.sqrt(-2.0 * Math.log(u1));
    store<f32>(p + (<usize>i << 2), <f32>(lo + hi * r * Math.cos(2.0 * Math.PI * u2)));
    if (i + 1 < n) store<f32>(p + (<usize>(i + 1) << 2), <f32>(lo + hi * r * Math.sin(2.0 * Math.PI * u2)));
  }
}

export function fillDropoutMask(p: usize, n: i32, drop: f64): void {
  let keep = <f32>(1.0 / (1.0 - drop));
  for (let i = 0; i < n; i++) store<f32>(p + (<usize>i << 2), uniform() < drop ? 0 : keep);
}

/** A fresh 64-bit seed from the generator, for a kernel that draws its numbers by position. */
export function nextSeed(): u64 {
  return (<u64>nextU32() << 32) | <u64>nextU32();
}

/** Uniform in [0, 1) (24 bits) at position i of the SplitMix64 stream seeded by `key`: any visiting order gives the same numbers. */
export function uniformAt(key: u64, i: u64): f32 {
  return <f32>(splitmix(key + i * 0x9e3779b97f4a7c15) >>> 40) * (1.0 / 16777216.0);
}

// ── integers, permutations, categorical samples (floats holding integers) ───────────────────────

/** Uniform in [0, n), n ≥ 1, by a multiply-shift: its bias is below n / 2³² (PyTorch's modulo has the same). */
function below(n: u32): u32 {
  return <u32>((<u64>nextU32() * <u64>n) >> 32);
}

/**
 * n integers at p: uniform in [low, high) (high > low, both within ±2²⁴, so each is an exact f32),
 * or with `permutation` a uniform permutation of 0..n-1 (the "inside-out" Fisher–Yates shuffle:
 * i goes to a random place j ≤ i, and what was there moves up to i).
 */
export function fillIntegers(p: usize, n: i32, permutation: bool, low: i32, high: i32): void {
  for (let i = 0; i < n; i++) {
    let r = <i32>below(permutation ? <u32>(i + 1) : <u32>(high - low));
    let at = p + (<usize>i << 2), to = p + (<usize>r << 2);
    if (!permutation) { store<f32>(at, <f32>(low + r)); continue; }
    store<f32>(at, load<f32>(to)); // when r = i this reads the slot it then overwrites
    store<f32>(to, <f32>i);
  }
}

/**
 * `samples` category indices per row of `rows` rows of `classes` non-negative weights at x,
 * written to y, each drawn with probability proportional to its weight among those left: without
 * replacement a drawn category leaves (its weight in `w`, scratch for a row of f64, becomes -1);
 * once only zero weights are left, the remaining categories follow in index order (PyTorch 1.13
 * also returns them). Every weight is checked first, so a bad one changes nothing (nor the
 * generator's state): it is reported through reportBadIndex(op, value, position, bound) with bound
 * 1 for a negative, infinite or NaN weight, bound 0 for a row (position) whose weights sum to 0;
 * false then.
 */
export function multinomial(op: i32, x: usize, y: usize, rows: i32, classes: i32, samples: i32, replacement: bool, w: usize): bool {
  for (let row = 0; row < rows; row++) {
    let sum: f64 = 0;
    for (let i = row * classes; i < (row + 1) * classes; i++) {
      let v = load<f32>(x + (<usize>i << 2));
      if (!(v >= 0 && v < Infinity)) { reportBadIndex(op, v, i, 1); return false; }
      sum += v;
    }
    if (!(sum > 0)) { reportBadIndex(op, 0, row, 0); return false; }
  }
  for (let row = 0; row < rows; row++) {
    for (let c = 0; c < classes; c++) store<f64>(w + (<usize>c << 3), <f64>load<f32>(x + (<usize>(row * classes + c) << 2)));
    for (let s = 0; s < samples; s++) {
      let left: f64 = 0, pick = -1;
      for (let c = 0; c < classes; c++) {
        let v = load<f64>(w + (<usize>c << 3));
        if (v > 0) left += v;
        if (v >= 0 && pick < 0) pick = c;
      }
      let u = uniform() * left, acc: f64 = 0;
      for (let c = 0; c < classes && left > 0; c++) {
        let v = load<f64>(w + (<usize>c << 3));
        if (v <= 0) continue;
        acc += v;
        pick = c;
        if (u < acc) break;
      }
      if (!replacement) store<f64>(w + (<usize>max(pick, 0) << 3), -1); // pick ≥ 0: the bindings ask for at most `classes`
      store<f32>(y + (<usize>(row * samples + s) << 2), <f32>pick);
    }
  }
  return true;
}
