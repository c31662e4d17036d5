// Four-lane exp, tanh, sigmoid and erf for the elementwise kernels (the scalar versions cost
// 25–40 ns an element). Accurate to a few ulp over the f32 range (erf to ~1e-7 absolute), which
// the PyTorch fixtures and test/vmath.test.ts check.

// @ts-ignore: decorator
@inline const LOG2E: f32 = 1.44269504088896341;
// @ts-ignore: decorator
@inline const LN2_HI: f32 = 0.693359375;
// @ts-ignore: decorator
@inline const LN2_LO: f32 = -2.12194440e-4;
// @ts-ignore: decorator
@inline const EXP_MAX: f32 = 88.7228391;  // above: +Infinity
// @ts-ignore: decorator
@inline const EXP_MIN: f32 = -87.3365448; // below: 0 (the subnormal range is flushed)

/**
 * e^x: x = n·ln2 + r with |r| ≤ ln2/2, e^r by Cephes' degree-6 polynomial, and 2^n built in the
 * exponent bits.
 */
// @ts-ignore: decorator
@inline export function expV(x: v128): v128 {
  let xc = f32x4.min(f32x4.max(x, f32x4.splat(EXP_MIN)), f32x4.splat(EXP_MAX));
  let n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(LOG2E)));
  let r = f32x4.sub(f32x4.sub(xc, f32x4.mul(n, f32x4.splat(LN2_HI))), f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  let y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  // 2^n in two steps (2^(n/2)·2^(n−n/2)), so n = 128 at the top of the range stays representable
  let ni = i32x4.trunc_sat_f32x4_s(n);
  let half = i32x4.shr_s(ni, 1);
  let s1 = i32x4.shl(i32x4.add(half, i32x4.splat(127)), 23);
  let s2 = i32x4.shl(i32x4.add(i32x4.sub(ni, half), i32x4.splat(127)), 23);
  y = f32x4.mul(f32x4.mul(y, s1), s2);
  y = v128.bitselect(f32x4.splat(Infinity), y, f32x4.gt(x, f32x4.splat(EXP_MAX)));
  y = v128.bitselect(f32x4.splat(0), y, f32x4.lt(x, f32x4.splat(EXP_MIN)));
  return v128.bitselect(x, y, f32x4.ne(x, x)); // NaN stays NaN
}

/**
 * tanh: an odd Taylor polynomial below |x| = 0.3 (error < 1e-9 there), and
 * 1 − 2 / (e^{2|x|} + 1) with the sign restored above, which saturates cleanly to ±1.
 */
// @ts-ignore: decorator
@inline export function tanhV(x: v128): v128 {
  let a = f32x4.abs(x);
  let e = expV(f32x4.add(a, a));
  let big = f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(e, f32x4.splat(1))));
  big = v128.or(big, v128.and(x, i32x4.splat(0x80000000))); // copy the sign of x
  let x2 = f32x4.mul(x, x);
  let p = f32x4.splat(-1382.0 / 155925.0);
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(62.0 / 2835.0));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-17.0 / 315.0));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(2.0 / 15.0));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-1.0 / 3.0));
  let small = f32x4.add(x, f32x4.mul(f32x4.mul(p, x2), x));
  return v128.bitselect(small, big, f32x4.lt(a, f32x4.splat(0.3)));
}

/** 1 / (1 + e^−x): e^−x overflows to +Infinity for very negative x, giving exactly 0. */
// @ts-ignore: decorator
@inline export function sigmoidV(x: v128): v128 {
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), expV(f32x4.neg(x))));
}

/**
 * erf by Numerical Recipes' erfc fit (1.2e-7 absolute): r = t·exp(−z² + P(t)), t = 1 / (1 + z/2),
 * z = |x|, erf = ±(1 − r). The same formula as the scalar erf in elementwise.ts.
 */
// @ts-ignore: decorator
@inline export function erfV(x: v128): v128 {
  let z = f32x4.abs(x);
  let t = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.splat(0.5), z)));
  let p = f32x4.splat(0.17087277);
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.82215223));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.48851587));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.13520398));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.27886807));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.18628806));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.09678418));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.37409196));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.00002368));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.26551223));
  let r = f32x4.mul(t, expV(f32x4.sub(p, f32x4.mul(z, z))));
  let e = f32x4.sub(f32x4.splat(1), r);
  return v128.or(e, v128.and(x, i32x4.splat(0x80000000))); // the sign of x
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
