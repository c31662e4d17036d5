// Losses, each one fused op with its own backward, so no intermediate softmax or log is kept.
//
//   crossEntropy  ℓᵢ = lseᵢ − Σ_c tᵢc·xᵢc,  t = (1−ε)·onehot(yᵢ) + ε/C     ∂ℓᵢ/∂xᵢc = softmax(xᵢ)c − tᵢc
//   nllLoss       ℓᵢ = −xᵢ,yᵢ                                              ∂ℓᵢ/∂xᵢ,yᵢ = −1
//   mseLoss       ℓᵢ = (aᵢ − bᵢ)²                                          ∂ℓᵢ/∂aᵢ = 2(aᵢ − bᵢ) = −∂ℓᵢ/∂bᵢ
//   bceWithLogits ℓᵢ = max(xᵢ,0) − xᵢyᵢ + log(1 + e^−|xᵢ|)                 ∂ℓᵢ/∂xᵢ = σ(xᵢ) − yᵢ,  ∂ℓᵢ/∂yᵢ = −xᵢ
//
// The bce form never exponentiates a positive number, so logits of ±100 are exact.
// record: a = input, b = target (mse, bce) or -1, c = class labels (crossEntropy, nll) or -1,
//         i0 = reduction (NONE, MEAN, SUM), i1 = rows N, i2 = classes C (or elements per row), f0 = ε

import { CROSS_ENTROPY, NLL_LOSS, MSE_LOSS } from "./opcodes";
import { dataPtr, requiresGrad, gradPtr, gradFor } from "../nodes";
import { OUT, IN_A, IN_B, IN_C, opOf, attr, fattr } from "../tape";
import { validIndex, reportBadIndex } from "../errors";
import { expV, rowMax, sumExpShifted, tailMask } from "./vmath";

/** crossEntropy's backward keeps a row's exponentials here when it has at most KEPT_EXP classes. */
// @ts-ignore: decorator
@inline const KEPT_EXP: i32 = 1024;
const keptExp: usize = memory.data(KEPT_EXP << 2, 16);

// @ts-ignore: decorator
@inline const NONE: i32 = 0;
// @ts-ignore: decorator
@inline const MEAN: i32 = 1;

// @ts-ignore: decorator
@inline function at(base: usize, index: i32): usize { return base + (<usize>index << 2); }

let shift: f32 = 0;

/**
 * log Σ exp(x − m) over n floats, with m = max x left in shift: callers add (x − m) terms to it
 * rather than m + log s to x, which would round log s away next to a large m (logits near 8e3).
 */
function logSumExpShifted(x: usize, n: i32): f32 {
  shift = rowMax(x, n);
  return Mathf.log(sumExpShifted(x, n, shift, 0));
}

/** Row i's class label, or -1 (reported) when it is not an integer in [0, C). */
function label(rec: usize, i: i32): i32 {
  let v = load<f32>(at(dataPtr(load<i32>(rec, IN_C)), i));
  let C = attr(rec, 2);
  if (validIndex(v, C)) return <i32>v;
  reportBadIndex(opOf(rec), v, i, C);
  return -1;
}

/** The loss of element (row) i of the input: `count` values from `p`, or one per row for ce/nll. */
function rowLoss(rec: usize, i: i32): f32 {
  let op = opOf(rec), C = attr(rec, 2);
  let x = dataPtr(load<i32>(rec, IN_A));
  if (op == CROSS_ENTROPY) {
    let y = label(rec, i);
    if (y < 0) return NaN;
    let row = at(x, i * C), eps = fattr(rec, 0);
    let logS = logSumExpShifted(row, C), m = shift;
    // −log p_y with log p_y = (x_y − m) − log s, negated last as PyTorch's nll does (one class: −0)
    let nll = -((load<f32>(at(row, y)) - m) - logS);
    if (eps == 0) return nll;
    let sum: f32 = 0; // Σ (x − m)
    for (let c = 0; c < C; c++) sum += load<f32>(at(row, c)) - m;
    return (1 - eps) * nll + eps / <f32>C * (<f32>C * logS - sum);
  }
  if (op == NLL_LOSS) {
    let y = label(rec, i);
    return y < 0 ? NaN : -load<f32>(at(x, i * C + y));
  }
  let xv = load<f32>(at(x, i)), yv = load<f32>(at(dataPtr(load<i32>(rec, IN_B)), i));
  if (op == MSE_LOSS) return (xv - yv) * (xv - yv);
  // BCE_WITH_LOGITS in PyTorch's order, (1 − y)·x + m + log(e^−m + e^(−x−m)) with m = max(−x, 0),
  // the log term as log(1 + e^−|x|): x = +∞ gives NaN for y = 1, else +∞; x = −∞ gives NaN for any y
  // (PyTorch's e^(−x−m) is e^(∞−∞) there), which the one-exp form needs said explicitly
  if (xv == -Infinity) return NaN;
  return (1 - yv) * xv + max(-xv, <f32>0) + Mathf.log(1 + Mathf.exp(-Mathf.abs(xv)));
}

/** Rows: N for crossEntropy and nll, every element for mse and bce (i1 holds that count). */
export function lossForward(rec: usize): void {
  let y = dataPtr(load<i32>(rec, OUT));
  let n = attr(rec, 1), reduction = attr(rec, 0);
  if (reduction == NONE) {
    for (let i = 0; i < n; i++) store<f32>(at(y, i), rowLoss(rec, i));
    return;
  }
  let total: f64 = 0; // f64 so a mean over many rows does not lose the small terms
  for (let i = 0; i < n; i++) total += <f64>rowLoss(rec, i);
  store<f32>(y, <f32>(reduction == MEAN ? total / <f64>n : total));
}

export function lossBackward(rec: usize): void {
  let op = opOf(rec), n = attr(rec, 1), C = attr(rec, 2), reduction = attr(rec, 0);
  let a = load<i32>(rec, IN_A), b = load<i32>(rec, IN_B);
  let x = dataPtr(a), g = gradPtr(load<i32>(rec, OUT));
  let gx: usize = requiresGrad(a) ? gradFor(a) : 0;
  let gt: usize = b >= 0 && requiresGrad(b) ? gradFor(b) : 0;
  if (!gx && !gt) return;
  let scale: f32 = reduction == MEAN ? 1 / <f32>n : 1;
  for (let i = 0; i < n; i++) {
    let gi = (reduction == NONE ? load<f32>(at(g, i)) : load<f32>(g)) * scale;
    if (op == CROSS_ENTROPY) {
      if (!gx) return;
      let row = at(x, i * C), grow = at(gx, i * C), eps = fattr(rec, 0);
      let y = label(rec, i);
      if (y < 0) return;
      // softmax = e^(x − m) / s, the exponentials kept from the sum's pass when the row fits
      let m = rowMax(row, C), kept = C <= KEPT_EXP ? keptExp : 0;
      let inv = <f32>1 / sumExpShifted(row, C, m, kept);
      // gi·(softmax − ε/C) everywhere, four lanes at a time, then −gi·(1 − ε) at the label
      let lv = f32x4.splat(m), iv = f32x4.splat(inv), giv = f32x4.splat(gi), tv = f32x4.splat(eps / <f32>C), c = 0;
      while (c < C && C >= 4) { // the last four overlap the fours before: only their new lanes add
        let last = c + 4 > C, k = last ? C - 4 : c, o = <usize>k << 2;
        let e = kept ? v128.load(kept + o) : expV(f32x4.sub(v128.load(row + o), lv));
        let d = f32x4.mul(giv, f32x4.sub(f32x4.mul(e, iv), tv));
        v128.store(grow + o, f32x4.add(v128.load(grow + o), last ? v128.and(d, tailMask(C)) : d));
        c = last ? C : c + 4;
      }
      for (; c < C; c++) {
        let p = at(grow, c);
        store<f32>(p, load<f32>(p) + gi * (Mathf.exp(load<f32>(at(row, c)) - m) * inv - eps / <f32>C));
      }
      let p = at(grow, y);
      store<f32>(p, load<f32>(p) - gi * (1 - eps));
    } else if (op == NLL_LOSS) {
      if (!gx) return;
      let y = label(rec, i);
      if (y < 0) return;
      let p = at(gx, i * C + y);
      store<f32>(p, load<f32>(p) - gi);
    } else {
      let xv = load<f32>(at(x, i)), yv = load<f32>(at(dataPtr(b), i));
      let dx: f32, dy: f32;
      if (op == MSE_LOSS) { dx = 2 * (xv - yv); dy = -dx; }
      else {
        let s: f32 = xv >= 0 ? 1 / (1 + Mathf.exp(-xv)) : Mathf.exp(xv) / (1 + Mathf.exp(xv));
        dx = s - yv; dy = -xv;
      }
      if (gx) store<f32>(at(gx, i), load<f32>(at(gx, i)) + gi * dx);
      if (gt) store<f32>(at(gt, i), load<f32>(at(gt, i)) + gi * dy);
    }
  }
}
