// softmax and logSoftmax along one axis, the input seen as [outer, R, inner]. Both subtract the
// maximum first, so logits of ±100 neither overflow nor lose the small terms.
//
//   softmax:     y = exp(x − m) / s,        dx = y · (g − Σ g·y)
//   logSoftmax:  y = x − m − log s,         dx = g − exp(y) · Σ g
//   where m = max x and s = Σ exp(x − m) along the axis.
//
// record: a = input, i0 = outer, i1 = R, i2 = inner

import { SOFTMAX } from "./opcodes";
import { dataPtr, requiresGrad, gradPtr, gradFor } from "../nodes";
import { OUT, IN_A, opOf, attr } from "../tape";

// @ts-ignore: decorator
@inline function at(base: usize, index: i32): usize { return base + (<usize>index << 2); }

export function softmaxForward(rec: usize): void {
  let x = dataPtr(load<i32>(rec, IN_A)), y = dataPtr(load<i32>(rec, OUT));
  let outer = attr(rec, 0), R = attr(rec, 1), inner = attr(rec, 2);
  let isLog = opOf(rec) != SOFTMAX;
  if (R == 0) return; // an empty axis: an empty result, nothing to read or write
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
