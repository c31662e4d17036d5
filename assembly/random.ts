// A seeded generator that gives the same numbers on every platform: xoshiro128** over u32 words
// seeded by splitmix64, and Box–Muller through AssemblyScript's own (software) log and cos, so no
// host math library is involved.

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
