// Four-lane exp, log, tanh, sigmoid and ½erfc for the kernels (scalar Mathf costs 25–40 ns an
// element), and the row helpers softmax and the losses share. Accurate to a few ulp over the f32
// range (erfc to 1.5e-7 absolute), which the PyTorch fixtures and test/vmath.test.ts check.
//
// Constants are read from tables (one broadcast load each), not written as f32x4.splat(c): V8
// builds every v128.const afresh at each use inside a loop, four instructions apiece, and that
// alone made exp 30% slower.

// @ts-ignore: decorator
@inline const LN2_HI: f32 = 0.693359375;
// @ts-ignore: decorator
@inline const LN2_LO: f32 = -2.12194440e-4;

/** Four lanes of table[i]. */
// @ts-ignore: decorator
@inline export function splatAt(table: usize, i: i32): v128 { return v128.load32_splat(table + (<usize>i << 2)); }

//    0: log₂e  1: 1.5·2²³ + 126  2, 3: ln 2 in two parts   4..8: 2·q₀ up to 2·q₄   9  10, 11: the clamp
const EXP_K = memory.data<f32>([1.44269504088896341, 12583038, LN2_HI, LN2_LO, 0.9999999403953552, 0.3333304226398468,
  0.08333445340394974, 0.01673738658428192, 0.0027759382501244545, 2, -87.5, 88.8]);

/**
 * e^x to 1 ulp: x = n·ln2 + r with |r| ≤ ln2/2, e^r = 1 + r + r²·Q(r) with Q of degree 4 (fitted
 * minimax for relative error, 0.03 ulp on its own; degree 3 gave 1.9 ulp in all), evaluated
 * doubled, and 2^(n−1) built in the exponent bits, so n may reach 128 at the top of the range.
 * n is rounded by adding 1.5·2²³ + 126, whose low mantissa bits are then n + 126 (n − 1 + the
 * exponent bias): shifted to the exponent field they are the scale, one instruction. x is clamped
 * first (pmin/pmax, one instruction each; a NaN passes through them and the arithmetic): above
 * ln(FLT_MAX) the product overflows to +Infinity by itself, and from −86.99 down the scale's
 * exponent field is 0, so the result is +0 (values below 1.7e-38 are flushed: no subnormal is
 * made, each costs a microcode assist). The loop is bound by this latency (the out-of-order
 * window holds about three iterations), so the polynomial goes in short parallel chains, the
 * large terms added last.
 */
// @ts-ignore: decorator
@inline export function expV(x: v128): v128 {
  let xc = f32x4.pmin(f32x4.pmax(x, splatAt(EXP_K, 10)), splatAt(EXP_K, 11));
  let t = f32x4.add(f32x4.mul(xc, splatAt(EXP_K, 0)), splatAt(EXP_K, 1));
  let scale = i32x4.shl(t, 23); // 2^(n−1)
  let n = f32x4.sub(t, splatAt(EXP_K, 1));
  let r = f32x4.sub(f32x4.sub(xc, f32x4.mul(n, splatAt(EXP_K, 2))), f32x4.mul(n, splatAt(EXP_K, 3)));
  let r2 = f32x4.mul(r, r), r4 = f32x4.mul(r2, r2);
  let q01 = f32x4.add(f32x4.mul(splatAt(EXP_K, 5), r), splatAt(EXP_K, 4));
  let q23 = f32x4.add(f32x4.mul(splatAt(EXP_K, 7), r), splatAt(EXP_K, 6));
  let high = f32x4.mul(f32x4.add(f32x4.mul(splatAt(EXP_K, 8), r2), q23), r4);
  let low = f32x4.add(f32x4.mul(q01, r2), f32x4.add(r, r));
  return f32x4.mul(f32x4.add(f32x4.add(high, low), splatAt(EXP_K, 9)), scale); // 2·e^r · 2^(n−1)
}

//                0  1  2    3: the sign bit  4..8: tanh's Taylor series in x², from x⁹ down   9
const TANH_K = memory.data<f32>([1, 2, 0.3, -0.0, -1382.0 / 155925.0, 62.0 / 2835.0, -17.0 / 315.0, 2.0 / 15.0,
  -1.0 / 3.0]);

/**
 * tanh: an odd Taylor polynomial below |x| = 0.3 (error < 1e-9 there), and
 * 1 − 2 / (e^{2|x|} + 1) with the sign restored above, which saturates cleanly to ±1.
 */
// @ts-ignore: decorator
@inline export function tanhV(x: v128): v128 {
  let one = splatAt(TANH_K, 0), sign = splatAt(TANH_K, 3);
  let a = v128.andnot(x, sign);
  let e = expV(f32x4.add(a, a));
  let big = f32x4.sub(one, f32x4.div(splatAt(TANH_K, 1), f32x4.add(e, one)));
  big = v128.or(big, v128.and(x, sign)); // copy the sign of x
  let x2 = f32x4.mul(x, x);
  let p = splatAt(TANH_K, 4);
  p = f32x4.add(f32x4.mul(p, x2), splatAt(TANH_K, 5));
  p = f32x4.add(f32x4.mul(p, x2), splatAt(TANH_K, 6));
  p = f32x4.add(f32x4.mul(p, x2), splatAt(TANH_K, 7));
  p = f32x4.add(f32x4.mul(p, x2), splatAt(TANH_K, 8));
  let small = f32x4.add(x, f32x4.mul(f32x4.mul(p, x2), x));
  return v128.bitselect(small, big, f32x4.lt(a, splatAt(TANH_K, 2)));
}

/** 1 / (1 + e^−x): e^−x overflows to +Infinity for very negative x, giving exactly 0. */
// @ts-ignore: decorator
@inline export function sigmoidV(x: v128): v128 {
  let one = splatAt(TANH_K, 0);
  return f32x4.div(one, f32x4.add(one, expV(f32x4.neg(x))));
}

//                   0: p      1..5: a5 down to a1 (Abramowitz & Stegun 7.1.26)                 6: ½   7: 1
const ERFC_K = memory.data<f32>([0.3275911, 1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592, 0.5, 1]);

/**
 * ½·erfc(z) for z ≥ 0, given e = e^(−z²): ½·t·P(t)·e with t = 1 / (1 + p·z), Abramowitz and
 * Stegun 7.1.26 (erf to 1.5e-7 absolute). The caller makes e, so a derivative that needs the
 * normal density too (GELU's) pays for one exp.
 */
// @ts-ignore: decorator
@inline export function halfErfcV(z: v128, e: v128): v128 {
  let t = f32x4.div(splatAt(ERFC_K, 7), f32x4.add(splatAt(ERFC_K, 7), f32x4.mul(splatAt(ERFC_K, 0), z)));
  let p = splatAt(ERFC_K, 1);
  p = f32x4.add(f32x4.mul(p, t), splatAt(ERFC_K, 2));
  p = f32x4.add(f32x4.mul(p, t), splatAt(ERFC_K, 3));
  p = f32x4.add(f32x4.mul(p, t), splatAt(ERFC_K, 4));
  p = f32x4.add(f32x4.mul(p, t), splatAt(ERFC_K, 5));
  return f32x4.mul(f32x4.mul(f32x4.mul(p, t), splatAt(ERFC_K, 6)), e);
}

// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/**
 * The largest of n > 0 floats at x (NaN when one is NaN). The lanes run through pmax, one
 * instruction, with a separate mask of NaNs seen: V8 makes f32x4.max's NaN and −0 rules some eight
 * instructions, and on one accumulator their latency made this a fifth of crossEntropy's time.
 */
export function rowMax(x: usize, n: i32): f32 {
  let mv = v128.load32_splat(x), nan = f32x4.ne(mv, mv), i = 0;
  for (; i + 4 <= n; i += 4) {
    let v = v128.load(x + (<usize>i << 2));
    mv = f32x4.pmax(mv, v);
    nan = v128.or(nan, f32x4.ne(v, v));
  }
  if (i < n && n >= 4) { // the last four again, overlapping: max does not mind
    let v = v128.load(x + (<usize>(n - 4) << 2));
    mv = f32x4.pmax(mv, v);
    nan = v128.or(nan, f32x4.ne(v, v));
    i = n;
  }
  if (v128.any_true(nan)) return NaN;
  let m = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
  for (; i < n; i++) m = max(m, load<f32>(x + (<usize>i << 2)));
  return m;
}

const LANE_INDEX = memory.data<i32>([0, 1, 2, 3]);

/**
 * The lanes of the last four of n ≥ 4 floats that the whole fours before them missed (n % 4 of
 * them, at the top): a mask for the overlapping window at n − 4, which is cheaper than a scalar
 * tail (Mathf.exp costs ~30 ns).
 */
// @ts-ignore: decorator
@inline export function tailMask(n: i32): v128 {
  return i32x4.ge_s(v128.load(LANE_INDEX), i32x4.splat(4 - (n & 3)));
}

/** Σ e^(x − m) over n floats at x, each term also stored at y unless y is 0. */
export function sumExpShifted(x: usize, n: i32, m: f32, y: usize): f32 {
  let mv = f32x4.splat(m), sv = f32x4.splat(0), i = 0;
  for (; i + 4 <= n; i += 4) {
    let o = <usize>i << 2, e = expV(f32x4.sub(v128.load(x + o), mv));
    sv = f32x4.add(sv, e);
    if (y) v128.store(y + o, e);
  }
  if (i < n && n >= 4) { // the last four again, counting only the new lanes (the others store what they hold)
    let o = <usize>(n - 4) << 2, e = expV(f32x4.sub(v128.load(x + o), mv));
    sv = f32x4.add(sv, v128.and(e, tailMask(n)));
    if (y) v128.store(y + o, e);
    i = n;
  }
  let s = hsum(sv);
  for (; i < n; i++) {
    let o = <usize>i << 2, e = Mathf.exp(load<f32>(x + o) - m);
    s += e;
    if (y) store<f32>(y + o, e);
  }
  return s;
}

/**
 * The 4×4 transpose of rows r0..r3, as 4 v128 at dst with a gap of `step` bytes: dst + i·step
 * receives column i (r0[i], r1[i], r2[i], r3[i]), stored, or added to what is there when `add`.
 */
// @ts-ignore: decorator
@inline export function putTransposed(dst: usize, step: usize, r0: v128, r1: v128, r2: v128, r3: v128, add: bool): void {
  let t0 = f32x4.shuffle(r0, r1, 0, 4, 1, 5), t1 = f32x4.shuffle(r0, r1, 2, 6, 3, 7);
  let t2 = f32x4.shuffle(r2, r3, 0, 4, 1, 5), t3 = f32x4.shuffle(r2, r3, 2, 6, 3, 7);
  let c0 = f32x4.shuffle(t0, t2, 0, 1, 4, 5), c1 = f32x4.shuffle(t0, t2, 2, 3, 6, 7);
  let c2 = f32x4.shuffle(t1, t3, 0, 1, 4, 5), c3 = f32x4.shuffle(t1, t3, 2, 3, 6, 7);
  if (add) {
    c0 = f32x4.add(c0, v128.load(dst)); c1 = f32x4.add(c1, v128.load(dst + step));
    c2 = f32x4.add(c2, v128.load(dst + 2 * step)); c3 = f32x4.add(c3, v128.load(dst + 3 * step));
  }
  v128.store(dst, c0);
  v128.store(dst + step, c1);
  v128.store(dst + 2 * step, c2);
  v128.store(dst + 3 * step, c3);
}

//             0..8: Cephes' logf polynomial, x⁸ term down                                           9: −½
const LOG_K = memory.data<f32>([7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
  -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1, -0.5,
  1.17549435e-38, Infinity, 8388608, 23 * 0.693147180559945309, 1, -Infinity, NaN]);
//  10: FLT_MIN 11       12: 2²³  13: 23·ln 2                 14  15         16
const LOG_BITS = memory.data<i32>([0x3f3504f3, 0x007fffff]); // √½, the mantissa mask

/**
 * log x for positive normal x: x = m·2^e with m in [√½, √2) (by the bits of x / √½, as log1pV),
 * log m = f − f²/2 + f³·P(f) for f = m − 1 (Cephes' logf, 1 ulp; P by Estrin's scheme, in short
 * chains), plus e·ln 2 in two parts.
 */
// @ts-ignore: decorator
@inline function logNormalV(x: v128): v128 {
  let bits = i32x4.sub(x, splatAt(LOG_BITS, 0));
  let e = f32x4.convert_i32x4_s(i32x4.shr_s(bits, 23));
  let f = f32x4.sub(i32x4.add(v128.and(bits, splatAt(LOG_BITS, 1)), splatAt(LOG_BITS, 0)), splatAt(LOG_K, 14));
  let z = f32x4.mul(f, f), z2 = f32x4.mul(z, z);
  let p01 = f32x4.add(f32x4.mul(splatAt(LOG_K, 0), f), splatAt(LOG_K, 1));
  let p23 = f32x4.add(f32x4.mul(splatAt(LOG_K, 2), f), splatAt(LOG_K, 3));
  let p45 = f32x4.add(f32x4.mul(splatAt(LOG_K, 4), f), splatAt(LOG_K, 5));
  let p67 = f32x4.add(f32x4.mul(splatAt(LOG_K, 6), f), splatAt(LOG_K, 7));
  let p = f32x4.add(f32x4.mul(f32x4.add(f32x4.mul(f32x4.add(f32x4.mul(p01, z), p23), z2), f32x4.add(f32x4.mul(p45, z), p67)), f), splatAt(LOG_K, 8));
  let y = f32x4.add(f32x4.mul(f32x4.mul(p, f), z), f32x4.mul(e, splatAt(EXP_K, 3)));   // + e·ln2_lo
  y = f32x4.add(y, f32x4.mul(z, splatAt(LOG_K, 9)));
  return f32x4.add(f32x4.add(f, y), f32x4.mul(e, splatAt(EXP_K, 2)));                 // + e·ln2_hi
}

/**
 * log x: logNormalV when every lane is a positive normal number (one predictable branch), else
 * logSpecialV.
 */
// @ts-ignore: decorator
@inline export function logV(x: v128): v128 {
  let normal = v128.and(f32x4.ge(x, splatAt(LOG_K, 10)), f32x4.lt(x, splatAt(LOG_K, 11)));
  return i32x4.bitmask(normal) == 15 ? logNormalV(x) : logSpecialV(x);
}

/**
 * log x for any x: a subnormal is scaled by 2²³ first (and 23·ln 2 taken off after); 0 gives
 * −Infinity, a negative x NaN, and +Infinity and NaN themselves.
 */
function logSpecialV(x: v128): v128 {
  let tiny = f32x4.lt(x, splatAt(LOG_K, 10));
  let y = logNormalV(v128.bitselect(f32x4.mul(x, splatAt(LOG_K, 12)), x, tiny));
  y = f32x4.sub(y, v128.and(tiny, splatAt(LOG_K, 13)));
  y = v128.bitselect(splatAt(LOG_K, 15), y, f32x4.eq(x, f32x4.splat(0)));
  y = v128.bitselect(splatAt(LOG_K, 16), y, f32x4.lt(x, f32x4.splat(0)));
  return v128.bitselect(x, y, v128.or(f32x4.ne(x, x), f32x4.eq(x, splatAt(LOG_K, 11))));
}

// @ts-ignore: decorator
@inline const TWO_OVER_PI: f64 = 0.636619772367581343;
// @ts-ignore: decorator
@inline const PIO2_1: f64 = 1.57079632673412561417;   // π/2 to 33 bits: n·PIO2_1 is exact for |n| < 2^20
// @ts-ignore: decorator
@inline const PIO2_1T: f64 = 6.07710050650619224932e-11; // π/2 − PIO2_1

/**
 * sin(x) for q = 0, cos(x) for q = 1. x = n·π/2 + r is reduced in f64 (two lanes at a time), exact
 * while n·PIO2_1 is (|x| < 1.6e6: within 1.5 ulp there), within 1e-7 absolute up to 1e8 (both
 * checked in test/masking.test.ts), far past where an f32 reduction fails; then Cephes' sinf /
 * cosf polynomials on |r| ≤ π/4, picked and signed by the quadrant n + q. ±Infinity and NaN give
 * NaN. (Past 2^31·π/2 the quadrant saturates: no accuracy is claimed there.)
 */
// @ts-ignore: decorator
@inline export function sinCosV(x: v128, q: i32): v128 {
  let xl = f64x2.promote_low_f32x4(x), xh = f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 0, 1));
  let nl = f64x2.nearest(f64x2.mul(xl, f64x2.splat(TWO_OVER_PI))), nh = f64x2.nearest(f64x2.mul(xh, f64x2.splat(TWO_OVER_PI)));
  let rl = f64x2.sub(f64x2.sub(xl, f64x2.mul(nl, f64x2.splat(PIO2_1))), f64x2.mul(nl, f64x2.splat(PIO2_1T)));
  let rh = f64x2.sub(f64x2.sub(xh, f64x2.mul(nh, f64x2.splat(PIO2_1))), f64x2.mul(nh, f64x2.splat(PIO2_1T)));
  let r = v128.shuffle<f32>(f32x4.demote_f64x2_zero(rl), f32x4.demote_f64x2_zero(rh), 0, 1, 4, 5);
  let n = i32x4.add(v128.shuffle<i32>(i32x4.trunc_sat_f64x2_s_zero(nl), i32x4.trunc_sat_f64x2_s_zero(nh), 0, 1, 4, 5), i32x4.splat(q));
  let z = f32x4.mul(r, r);
  let s = f32x4.splat(-1.9515295891e-4);
  s = f32x4.add(f32x4.mul(s, z), f32x4.splat(8.3321608736e-3));
  s = f32x4.add(f32x4.mul(s, z), f32x4.splat(-1.6666654611e-1));
  s = f32x4.add(f32x4.mul(f32x4.mul(s, z), r), r);
  let c = f32x4.splat(2.443315711809948e-5);
  c = f32x4.add(f32x4.mul(c, z), f32x4.splat(-1.388731625493765e-3));
  c = f32x4.add(f32x4.mul(c, z), f32x4.splat(4.166664568298827e-2));
  c = f32x4.add(f32x4.sub(f32x4.mul(f32x4.mul(c, z), z), f32x4.mul(f32x4.splat(0.5), z)), f32x4.splat(1));
  let y = v128.bitselect(c, s, i32x4.ne(v128.and(n, i32x4.splat(1)), i32x4.splat(0))); // odd quadrants: cos
  return v128.xor(y, i32x4.shl(v128.and(n, i32x4.splat(2)), 30)); // quadrants 2 and 3: negated
}

/**
 * log(1 + u) for u ≥ 0, a few ulp: Cephes' logf of w = 1 + u (frexp by bits, then a degree-9
 * polynomial), times u / (w − 1), which corrects the rounding of 1 + u (Goldberg's log1p).
 * +Infinity and NaN pass through.
 */
// @ts-ignore: decorator
@inline export function log1pV(u: v128): v128 {
  let w = f32x4.add(u, f32x4.splat(1));
  let bits = i32x4.sub(w, i32x4.splat(0x3f3504f3)); // w / √½ to an exponent e and a mantissa m in [√½, √2)
  let e = f32x4.convert_i32x4_s(i32x4.shr_s(bits, 23));
  let m = f32x4.sub(i32x4.add(v128.and(bits, i32x4.splat(0x007fffff)), i32x4.splat(0x3f3504f3)), f32x4.splat(1));
  let z = f32x4.mul(m, m);
  let p = f32x4.splat(7.0376836292e-2);
  p = f32x4.add(f32x4.mul(p, m), f32x4.splat(-1.1514610310e-1));
  p = f32x4.add(f32x4.mul(p, m), f32x4.splat(1.1676998740e-1));
  p = f32x4.add(f32x4.mul(p, m), f32x4.splat(-1.2420140846e-1));
  p = f32x4.add(f32x4.mul(p, m), f32x4.splat(1.4249322787e-1));
  p = f32x4.add(f32x4.mul(p, m), f32x4.splat(-1.6668057665e-1));
  p = f32x4.add(f32x4.mul(p, m), f32x4.splat(2.0000714765e-1));
  p = f32x4.add(f32x4.mul(p, m), f32x4.splat(-2.4999993993e-1));
  p = f32x4.add(f32x4.mul(p, m), f32x4.splat(3.3333331174e-1));
  let y = f32x4.add(f32x4.mul(f32x4.mul(p, m), z), f32x4.mul(e, f32x4.splat(LN2_LO)));
  y = f32x4.add(f32x4.add(m, f32x4.sub(y, f32x4.mul(f32x4.splat(0.5), z))), f32x4.mul(e, f32x4.splat(LN2_HI)));
  let d = f32x4.sub(w, f32x4.splat(1));
  y = v128.bitselect(u, f32x4.mul(y, f32x4.div(u, d)), f32x4.eq(d, f32x4.splat(0))); // 1 + u rounds to 1: log1p(u) = u
  return v128.bitselect(u, y, v128.not(f32x4.lt(u, f32x4.splat(Infinity)))); // +Infinity, NaN
}
