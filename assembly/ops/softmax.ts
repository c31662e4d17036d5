// softmax and logSoftmax along one axis, the input seen as [outer, R, inner]. Both subtract the
// maximum first, so logits of ±100 neither overflow nor lose the small terms.
//
//   softmax:     y = exp(x − m) / s,        dx = y · (g − Σ g·y)
//   logSoftmax:  y = x − m − log s,         dx = g − exp(y) · Σ g
//   where m = max x and s = Σ exp(x − m) along the axis.
//
// record: a = input, i0 = outer, i1 = R, i2 = inner
//
// Along the last axis (inner = 1, attention's and a classifier's case) each row is contiguous and
// runs four lanes at a time; other axes take the strided scalar loops.

import { SOFTMAX } from "./opcodes";
import { dataPtr, requiresGrad, gradPtr, gradFor } from "../nodes";
import { OUT, IN_A, opOf, attr } from "../tape";
import { expV, hsum, rowMax, sumExpShifted } from "./vmath";

// @ts-ignore: decorator
@inline function at(base: usize, index: i32): usize { return base + (<usize>index << 2); }

/** One contiguous row of R > 0: the forward above, vectorised. */
function softmaxRow(x: usize, y: usize, R: i32, isLog: bool): void {
  let m = rowMax(x, R);
  let s = sumExpShifted(x, R, m, isLog ? 0 : y);
  let mv = f32x4.splat(m), r = 0;
  if (isLog) {
    let lse = f32x4.splat(Mathf.log(s)); // (x − m) − log s, in that order, as below
    for (r = 0; r + 4 <= R; r += 4) v128.store(at(y, r), f32x4.sub(f32x4.sub(v128.load(at(x, r)), mv), lse));
    for (; r < R; r++) store<f32>(at(y, r), (load<f32>(at(x, r)) - m) - f32x4.extract_lane(lse, 0));
  } else {
    let inv = f32x4.splat(1 / s);
    for (r = 0; r + 4 <= R; r += 4) v128.store(at(y, r), f32x4.mul(v128.load(at(y, r)), inv));
    for (; r < R; r++) store<f32>(at(y, r), load<f32>(at(y, r)) * f32x4.extract_lane(inv, 0));
  }
}

/** One contiguous row of the backward above, vectorised. */
function softmaxGradRow(y: usize, g: usize, gx: usize, R: i32, isLog: bool): void {
  let dv = f32x4.splat(0), r = 0;
  for (; r + 4 <= R; r += 4) {
    let gv = v128.load(at(g, r));
    dv = f32x4.add(dv, isLog ? gv : f32x4.mul(gv, v128.load(at(y, r))));
  }
  let dot = hsum(dv);
  for (; r < R; r++) dot += isLog ? load<f32>(at(g, r)) : load<f32>(at(g, r)) * load<f32>(at(y, r));
  dv = f32x4.splat(dot);
  for (r = 0; r + 4 <= R; r += 4) {
    let gv = v128.load(at(g, r)), yv = v128.load(at(y, r));
    let d = isLog ? f32x4.sub(gv, f32x4.mul(expV(yv), dv)) : f32x4.mul(yv, f32x4.sub(gv, dv));
    v128.store(at(gx, r), f32x4.add(v128.load(at(gx, r)), d));
  }
  for (; r < R; r++) {
    let gv = load<f32>(at(g, r)), yv = load<f32>(at(y, r));
    store<f32>(at(gx, r), load<f32>(at(gx, r)) + (isLog ? gv - Mathf.exp(yv) * dot : yv * (gv - dot)));
  }
}

export function softmaxForward(rec: usize): void {
  let x = dataPtr(load<i32>(rec, IN_A)), y = dataPtr(load<i32>(rec, OUT));
  let outer = attr(rec, 0), R = attr(rec, 1), inner = attr(rec, 2);
  let isLog = opOf(rec) != SOFTMAX;
  if (R == 0) return; // an empty axis: an empty result, nothing to read or write
  if (inner == 1) {
    for (let o = 0; o < outer; o++) softmaxRow(at(x, o * R), at(y, o * R), R, isLog);
    return;
  }
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let base = o * R * inner + j;
      let m = load<f32>(at(x, base));
      for (let r = 1; r < R; r++) m = max(m, load<f32>(at(x, base + r * inner)));
      let s: f32 = 0;
      for (let r = 0; r < R; r++) {
        let p = base + r * inner;
        let e = Mathf.exp(load<f32>(at(x, p)) - m);
        s += e;
        if (!isLog) store<f32>(at(y, p), e);
      }
      if (isLog) {
        // (x − m) − log s, in that order: m + log s would round log s away next to a large m
        // (logits near 8e3: log s ≈ 1e-4 is below half an ulp of 8e3)
        let lse = Mathf.log(s);
        for (let r = 0; r < R; r++) { let p = base + r * inner; store<f32>(at(y, p), (load<f32>(at(x, p)) - m) - lse); }
      } else {
        let inv: f32 = 1 / s;
        for (let r = 0; r < R; r++) { let p = base + r * inner; store<f32>(at(y, p), load<f32>(at(y, p)) * inv); }
      }
    }
  }
}

export function softmaxBackward(rec: usize): void {
  let a = load<i32>(rec, IN_A), out = load<i32>(rec, OUT);
  let gx: usize = requiresGrad(a) ? gradFor(a) : 0;
  if (!gx) return;
  let y = dataPtr(out), g = gradPtr(out);
  let outer = attr(rec, 0), R = attr(rec, 1), inner = attr(rec, 2);
  let isLog = opOf(rec) != SOFTMAX;
  if (inner == 1) {
    for (let o = 0; o < outer; o++) softmaxGradRow(at(y, o * R), at(g, o * R), at(gx, o * R), R, isLog);
    return;
  }
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let base = o * R * inner + j;
      let dot: f32 = 0;
      for (let r = 0; r < R; r++) {
        let p = base + r * inner;
        dot += isLog ? load<f32>(at(g, p)) : load<f32>(at(g, p)) * load<f32>(at(y, p));
      }
      for (let r = 0; r < R; r++) {
        let p = base + r * inner;
        let gv = load<f32>(at(g, p)), yv = load<f32>(at(y, p));
        let d = isLog ? gv - Mathf.exp(yv) * dot : yv * (gv - dot);
        store<f32>(at(gx, p), load<f32>(at(gx, p)) + d);
      }
    }
  }
}
