// layerNorm as one op: each row of D values (the normalized trailing dims) is centred and scaled
// to unit variance, then multiplied by weight and shifted by bias (either optional), as PyTorch's
// native_layer_norm:
//
//   μ = Σx / D,  σ² = Σ(x − μ)² / D (biased),  r = 1 / √(σ² + ε),  x̂ = (x − μ)·r,  y = x̂·w + b
//   backward, with ĝ = g·w:   dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)),   dw += g·x̂,   db += g
//
// record: a = input [rows, D], b = weight [D] or -1, c = bias [D] or -1, i0 = rows, i1 = D, f0 = ε.
// μ and r are not kept: the record has no slot left for a buffer, and backward recomputes them
// from the row it reads anyway (two more passes over D floats that are in L1 by then).

import { dataPtr, requiresGrad, gradPtr, gradFor } from "../nodes";
import { OUT, IN_A, IN_B, IN_C, attr, fattr } from "../tape";
import { hsum } from "./vmath";

// @ts-ignore: decorator
@inline function at(base: usize, index: i32): usize { return base + (<usize>index << 2); }


/** Σ x[i] over n floats. */
function rowSum(x: usize, n: i32): f32 {
  let acc = f32x4.splat(0), i = 0;
  for (; i + 4 <= n; i += 4) acc = f32x4.add(acc, v128.load(at(x, i)));
  let s = hsum(acc);
  for (; i < n; i++) s += load<f32>(at(x, i));
  return s;
}

let rowMean: f32 = 0;

/** 1 / √(σ² + ε) of the row of n floats at x (n > 0), with its mean left in rowMean. */
function rowRstd(x: usize, n: i32, eps: f32): f32 {
  let m = rowSum(x, n) / <f32>n;
  let mv = f32x4.splat(m), acc = f32x4.splat(0), i = 0;
  for (; i + 4 <= n; i += 4) { let d = f32x4.sub(v128.load(at(x, i)), mv); acc = f32x4.add(acc, f32x4.mul(d, d)); }
  let s = hsum(acc);
  for (; i < n; i++) { let d = load<f32>(at(x, i)) - m; s += d * d; }
  rowMean = m;
  return 1 / Mathf.sqrt(s / <f32>n + eps);
}

export function layerNormForward(rec: usize): void {
  let w = load<i32>(rec, IN_B), b = load<i32>(rec, IN_C);
  let x = dataPtr(load<i32>(rec, IN_A)), y = dataPtr(load<i32>(rec, OUT));
  let pw: usize = w >= 0 ? dataPtr(w) : 0, pb: usize = b >= 0 ? dataPtr(b) : 0;
  let rows = attr(rec, 0), D = attr(rec, 1), eps = fattr(rec, 0);
  for (let r = 0; r < rows; r++) {
    let xr = at(x, r * D), yr = at(y, r * D);
    let rstd = rowRstd(xr, D, eps), m = rowMean;
    let mv = f32x4.splat(m), rv = f32x4.splat(rstd), i = 0;
    for (; i + 4 <= D; i += 4) {
      let v = f32x4.mul(f32x4.sub(v128.load(at(xr, i)), mv), rv);
      if (pw) v = f32x4.mul(v, v128.load(at(pw, i)));
      if (pb) v = f32x4.add(v, v128.load(at(pb, i)));
      v128.store(at(yr, i), v);
    }
    for (; i < D; i++) {
      let v = (load<f32>(at(xr, i)) - m) * rstd;
      if (pw) v *= load<f32>(at(pw, i));
      if (pb) v += load<f32>(at(pb, i));
      store<f32>(at(yr, i), v);
    }
  }
}

export function layerNormBackward(rec: usize): void {
  let a = load<i32>(rec, IN_A), w = load<i32>(rec, IN_B), b = load<i32>(rec, IN_C);
  let gx: usize = requiresGrad(a) ? gradFor(a) : 0;
  let gw: usize = w >= 0 && requiresGrad(w) ? gradFor(w) : 0;
  let gb: usize = b >= 0 && requiresGrad(b) ? gradFor(b) : 0;
  if (!gx && !gw && !gb) return;
  let x = dataPtr(a), g = gradPtr(load<i32>(rec, OUT)), pw: usize = w >= 0 ? dataPtr(w) : 0;
  let rows = attr(rec, 0), D = attr(rec, 1), eps = fattr(rec, 0);
  let one = f32x4.splat(1);
  for (let r = 0; r < rows; r++) {
    let xr = at(x, r * D), gr = at(g, r * D);
    let rstd = rowRstd(xr, D, eps), m = rowMean;
    let mv = f32x4.splat(m), rv = f32x4.splat(rstd);
    // Σĝ and Σĝ·x̂ (ĝ = g·w), and the weight and bias gradients, in one pass
    let sg = f32x4.splat(0), sgx = f32x4.splat(0), i = 0;
    for (; i + 4 <= D; i += 4) {
      let gv = v128.load(at(gr, i)), xh = f32x4.mul(f32x4.sub(v128.load(at(xr, i)), mv), rv);
      if (gw) v128.store(at(gw, i), f32x4.add(v128.load(at(gw, i)), f32x4.mul(gv, xh)));
      if (gb) v128.store(at(gb, i), f32x4.add(v128.load(at(gb, i)), gv));
      let gh = f32x4.mul(gv, pw ? v128.load(at(pw, i)) : one);
      sg = f32x4.add(sg, gh);
      sgx = f32x4.add(sgx, f32x4.mul(gh, xh));
    }
    let sumG = hsum(sg), sumGX = hsum(sgx);
    for (let j = i; j < D; j++) {
      let gv = load<f32>(at(gr, j)), xh = (load<f32>(at(xr, j)) - m) * rstd;
      if (gw) store<f32>(at(gw, j), load<f32>(at(gw, j)) + gv * xh);
      if (gb) store<f32>(at(gb, j), load<f32>(at(gb, j)) + gv);
      let gh = pw ? gv * load<f32>(at(pw, j)) : gv;
      sumG += gh;
      sumGX += gh * xh;
    }
    if (!gx) continue;
    let meanG = sumG / <f32>D, meanGX = sumGX / <f32>D;
    let mg = f32x4.splat(meanG), mgx = f32x4.splat(meanGX), dr = at(gx, r * D);
    i = 0;
    for (; i + 4 <= D; i += 4) {
      let xh = f32x4.mul(f32x4.sub(v128.load(at(xr, i)), mv), rv);
      let gh = f32x4.mul(v128.load(at(gr, i)), pw ? v128.load(at(pw, i)) : one);
      let d = f32x4.mul(rv, f32x4.sub(f32x4.sub(gh, mg), f32x4.mul(xh, mgx)));
      v128.store(at(dr, i), f32x4.add(v128.load(at(dr, i)), d));
    }
    for (; i < D; i++) {
      let xh = (load<f32>(at(xr, i)) - m) * rstd;
      let gh = pw ? load<f32>(at(gr, i)) * load<f32>(at(pw, i)) : load<f32>(at(gr, i));
      store<f32>(at(dr, i), load<f32>(at(dr, i)) + rstd * ((gh - meanG) - xh * meanGX));
    }
  }
}
