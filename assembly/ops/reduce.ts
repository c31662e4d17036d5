// Reductions over one run of adjacent axes. The input is seen as [outer, R, inner] and the output
// as [outer, inner] (keepdim only changes the output's shape, which the bindings set). Reducing
// several non-adjacent axes is a chain of these; reducing everything is [1, size, 1].
//
// record: a = input, i0 = outer, i1 = R, i2 = inner, i3 = 1 when max/min share the gradient
//         evenly among tied extremes (PyTorch's max() and amax), 0 when the first one takes it
//         (PyTorch's max(dim), whose gradient follows the index it returns)
// Forward and backward split over threads by ranges of `outer` (each output element, and each
// input gradient, is then one part's, summed in the same order); a reduction of everything
// ([1, size, 1]) runs whole.

import { SUM, MEAN, MAX, MIN, STD } from "./opcodes";
import { dataPtr, requiresGrad, gradPtr, gradFor } from "../nodes";
import { OUT, IN_A, opOf, attr, fattr } from "../tape";
import { job, JOB_REDUCE, partsFor, runParallel, partRange } from "../parallel";

// @ts-ignore: decorator
@inline function at(base: usize, index: i32): usize { return base + (<usize>index << 2); }

/** Sum of n contiguous floats, four lanes at a time. */
function sumRun(p: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) acc = f32x4.add(acc, v128.load(at(p, i)));
  let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
  for (; i < n; i++) s += load<f32>(at(p, i));
  return s;
}

/** out[o, j] = Σ_r x[o, r, j]: rows of `inner` added with SIMD, or a contiguous run when inner = 1. */
function sumAxis(x: usize, y: usize, outer: i32, R: i32, inner: i32): void {
  if (inner == 1) {
    for (let o = 0; o < outer; o++) store<f32>(at(y, o), sumRun(at(x, o * R), R));
    return;
  }
  memory.fill(y, 0, <usize>(outer * inner) << 2);
  for (let o = 0; o < outer; o++) {
    let dst = at(y, o * inner);
    for (let r = 0; r < R; r++) {
      let src = at(x, (o * R + r) * inner);
      let j = 0;
      for (; j + 4 <= inner; j += 4) v128.store(at(dst, j), f32x4.add(v128.load(at(dst, j)), v128.load(at(src, j))));
      for (; j < inner; j++) store<f32>(at(dst, j), load<f32>(at(dst, j)) + load<f32>(at(src, j)));
    }
  }
}

/** max or min along R; a NaN anywhere makes the result NaN, like PyTorch. */
function extremeAxis(isMax: bool, x: usize, y: usize, outer: i32, R: i32, inner: i32): void {
  if (R == 0) { // no element to pick (the bindings refuse this, like PyTorch): NaN, never a read past x
    let n = outer * inner;
    for (let i = 0; i < n; i++) store<f32>(at(y, i), NaN);
    return;
  }
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let base = o * R * inner + j;
      let best = load<f32>(at(x, base));
      for (let r = 1; r < R && best == best; r++) {
        let v = load<f32>(at(x, base + r * inner));
        if (v != v || (isMax ? v > best : v < best)) best = v;
      }
      store<f32>(at(y, o * inner + j), best);
    }
  }
}

function logsumexpAxis(x: usize, y: usize, outer: i32, R: i32, inner: i32): void {
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let base = o * R * inner + j;
      let m: f32 = -Infinity; // an empty run gives log 0 = -Infinity
      for (let r = 0; r < R; r++) m = max(m, load<f32>(at(x, base + r * inner)));
      if (Mathf.abs(m) == Infinity) m = 0; // PyTorch's shift: all −∞ gives log 0 = −∞, a +∞ gives +∞ (not ∞ − ∞)
      let s: f32 = 0;
      for (let r = 0; r < R; r++) s += Mathf.exp(load<f32>(at(x, base + r * inner)) - m);
      store<f32>(at(y, o * inner + j), m + Mathf.log(s));
    }
  }
}

/** Input elements in a reduction part, at the least. */
// @ts-ignore: decorator
@inline const REDUCE_GRAIN: i64 = 1 << 15;

export function reduceForward(rec: usize): void { reduceJob(rec, false); }

/**
 * sum: dx += g;  mean: dx += g / R;  max, min: the first extreme element gets g;
 * logsumexp: dx += g · exp(x − out), the softmax of x.
 */
export function reduceBackward(rec: usize): void {
  let a = load<i32>(rec, IN_A);
  if (requiresGrad(a) && gradFor(a)) reduceJob(rec, true);
}

function reduceJob(rec: usize, backward: bool): void {
  let outer = attr(rec, 0);
  let parts = partsFor(<i64>outer * attr(rec, 1) * attr(rec, 2), REDUCE_GRAIN);
  if (parts > outer) parts = max(outer, 1);
  if (parts == 1) { reduceRun(rec, backward, 0, outer); return; } // (the job record may be another part's)
  store<i32>(job, JOB_REDUCE);
  store<usize>(job, rec, 4); store<i32>(job, backward, 8);
  runParallel(parts);
}

/** One part of reduceJob (its record as reduceJob writes it). */
export function reducePart(job: usize, part: i32, parts: i32): void {
  let rec = load<usize>(job, 4), range = partRange(attr(rec, 0), 1, part, parts);
  reduceRun(rec, load<i32>(job, 8) != 0, <i32>range, <i32>(range >> 32));
}

/** Forward or backward over outer rows [lo, hi). */
function reduceRun(rec: usize, backward: bool, lo: i32, hi: i32): void {
  let a = load<i32>(rec, IN_A), out = load<i32>(rec, OUT);
  let R = attr(rec, 1), inner = attr(rec, 2), outer = hi - lo;
  let x = at(dataPtr(a), lo * R * inner), y = at(dataPtr(out), lo * inner);
  let op = opOf(rec);
  if (!backward) {
    if (op == SUM || op == MEAN) {
      sumAxis(x, y, outer, R, inner);
      if (op == MEAN) { // sum / R, as PyTorch divides (a multiply by 1 / R can differ by an ulp)
        let count = <f32>R, n = outer * inner;
        for (let i = 0; i < n; i++) store<f32>(at(y, i), load<f32>(at(y, i)) / count);
      }
    } else if (op == MAX || op == MIN) {
      extremeAxis(op == MAX, x, y, outer, R, inner);
    } else { // LOGSUMEXP
      logsumexpAxis(x, y, outer, R, inner);
    }
    return;
  }
  let gx = at(gradPtr(a), lo * R * inner), g = at(gradPtr(out), lo * inner);
  let shareTies = attr(rec, 3) != 0;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let base = o * R * inner + j;
      let gy = load<f32>(at(g, o * inner + j)), yv = load<f32>(at(y, o * inner + j));
      if (op == MAX || op == MIN) {
        // the elements equal to the result get g; when the result is NaN, the NaN elements (PyTorch)
        let isNaN = yv != yv;
        let ties = 0;
        if (shareTies) for (let r = 0; r < R; r++) { let v = load<f32>(at(x, base + r * inner)); if (v == yv || (isNaN && v != v)) ties++; }
        let share: f32 = shareTies ? gy / <f32>ties : gy;
        for (let r = 0; r < R; r++) {
          let p = base + r * inner;
          let v = load<f32>(at(x, p));
          if (v != yv && !(isNaN && v != v)) continue;
          store<f32>(at(gx, p), load<f32>(at(gx, p)) + share);
          if (!shareTies) break;
        }
        continue;
      }
      for (let r = 0; r < R; r++) {
        let p = base + r * inner;
        let d: f32 = op == SUM ? gy : op == MEAN ? gy / <f32>R : gy * Mathf.exp(load<f32>(at(x, p)) - yv);
        store<f32>(at(gx, p), load<f32>(at(gx, p)) + d);
      }
    }
  }
}

/** Index of the first maximum (or minimum, or the first NaN, like PyTorch) along R, as f32: argmax/argmin (no gradient). */
export function argExtreme(isMax: bool, x: usize, y: usize, outer: i32, R: i32, inner: i32): void {
  if (R == 0) return; // nothing to index (the bindings refuse this, like PyTorch)
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let base = o * R * inner + j;
      let best = load<f32>(at(x, base)), bestR = 0;
      for (let r = 1; r < R && best == best; r++) {
        let v = load<f32>(at(x, base + r * inner));
        if (v != v || (isMax ? v > best : v < best)) { best = v; bestR = r; }
      }
      store<f32>(at(y, o * inner + j), <f32>bestR);
    }
  }
}

// ── variance, standard deviation, running sum ──────────────────────────────────────────────────
//
// VAR, STD  record as above (i3 unused), f0 = correction:
//           var = Σ (x − mean)² / max(0, R − correction),  std = √var  (accumulated in f64, as PyTorch)
// CUMSUM    out[o, r, j] = Σ_{s ≤ r} x[o, s, j]  (out has x's shape)

/** Mean of the line x[base + r·inner], r < R (NaN for an empty line, like PyTorch's var). */
function lineMean(x: usize, base: i32, R: i32, inner: i32): f64 {
  let s: f64 = 0;
  for (let r = 0; r < R; r++) s += <f64>load<f32>(at(x, base + r * inner));
  return s / <f64>R;
}

/**
 * Forward: out = Σ (x − mean)² / max(0, R − correction), or its square root.
 * Backward (PyTorch's rules, including an infinite gradient when correction ≥ R):
 *   var: dx += g · 2 (x − mean) / (R − correction);  std: the same with g / (2 std), 0 where std is 0.
 */
export function varKernel(rec: usize, backward: bool): void {
  let a = load<i32>(rec, IN_A), out = load<i32>(rec, OUT);
  let gx: usize = backward && requiresGrad(a) ? gradFor(a) : 0;
  if (backward && !gx) return;
  let x = dataPtr(a), y = dataPtr(out), g = gradPtr(out);
  let outer = attr(rec, 0), R = attr(rec, 1), inner = attr(rec, 2);
  let divisor = <f64>R - <f64>fattr(rec, 0), isStd = opOf(rec) == STD;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let base = o * R * inner + j, q = at(y, o * inner + j);
      let m = lineMean(x, base, R, inner), ss: f64 = 0;
      let s: f64 = 0;
      if (backward) {
        let gy = <f64>load<f32>(at(g, o * inner + j)), yv = <f64>load<f32>(q);
        s = 2 * (isStd ? (yv == 0 ? 0 : gy / (2 * yv)) : gy) / divisor;
      }
      for (let r = 0; r < R; r++) {
        let p = at(gx, base + r * inner), d = <f64>load<f32>(at(x, base + r * inner)) - m;
        if (backward) store<f32>(p, load<f32>(p) + <f32>(d * s));
        else ss += d * d;
      }
      if (backward) continue;
      let v = ss / max(0, divisor);
      store<f32>(q, <f32>(isStd ? Math.sqrt(v) : v));
    }
  }
}

/** Running sums along R of src into dst (added to it when `accumulate`), last to first when `reverse`. */
function scanAxis(src: usize, dst: usize, outer: i32, R: i32, inner: i32, reverse: bool, accumulate: bool): void {
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let s: f64 = 0;
      for (let k = 0; k < R; k++) {
        let i = (o * R + (reverse ? R - 1 - k : k)) * inner + j;
        s += <f64>load<f32>(at(src, i));
        store<f32>(at(dst, i), accumulate ? load<f32>(at(dst, i)) + <f32>s : <f32>s);
      }
    }
  }
}

export function cumsumForward(rec: usize): void {
  scanAxis(dataPtr(load<i32>(rec, IN_A)), dataPtr(load<i32>(rec, OUT)), attr(rec, 0), attr(rec, 1), attr(rec, 2), false, false);
}

/** dx[r] += Σ_{s ≥ r} g[s]: the running sum of the gradient taken from the end. */
export function cumsumBackward(rec: usize): void {
  let a = load<i32>(rec, IN_A);
  let gx: usize = requiresGrad(a) ? gradFor(a) : 0;
  if (gx) scanAxis(gradPtr(load<i32>(rec, OUT)), gx, attr(rec, 0), attr(rec, 1), attr(rec, 2), true, true);
}
