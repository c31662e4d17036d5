// The module's exports: what the bindings call. Everything takes and returns plain numbers
// (node ids, sizes, pointers into this module's memory).

export { header, dropGrad, gradFor as ensureGrad, tensorBytesInUse } from "./nodes";
export { runOp, runOpInto, backward, release, setGradEnabled, setRequiresGrad, zeroGrad, missingRule } from "./autograd";
export { failedRequest } from "./alloc";
export { seed } from "./random";
export { tapeLen } from "./tape";
export { beginScope, endScope, markReturned, keepNode, scopeDepth, newScopedNode as newNode } from "./scopes";
export { sgdStep, adamStep, zeroGrads, clipGradNorm } from "./ops/optim";

import { dataPtr, gradPtr, sizeOf } from "./nodes";
import { newScopedNode } from "./scopes";
import { fillRandom, fillDropoutMask } from "./random";
import { alloc, free } from "./alloc";
import { argExtreme } from "./ops/reduce";

export function dataOf(id: i32): usize { return dataPtr(id); }
export function gradOf(id: i32): usize { return gradPtr(id); }

/** Fills node `id` with uniform [lo, hi) or normal(lo, hi) numbers from the seeded generator. */
export function fillRandomNode(id: i32, normal: bool, lo: f64, hi: f64): void {
  fillRandom(dataPtr(id), sizeOf(id), normal, lo, hi);
}

export function fillNode(id: i32, value: f32): void {
  let p = dataPtr(id), n = sizeOf(id);
  let v = f32x4.splat(value);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(p + (<usize>i << 2), v);
  for (; i < n; i++) store<f32>(p + (<usize>i << 2), value);
}

/** argmax / argmin along [outer, R, inner] into a new node (shape in the header scratch). */
export function argReduce(isMax: bool, a: i32, rank: i32, outer: i32, R: i32, inner: i32): i32 {
  let out = newScopedNode(rank, false);
  if (out >= 0) argExtreme(isMax, dataPtr(a), dataPtr(out), outer, R, inner);
  return out;
}

/** Fills node `id` with 0 (probability p) or 1 / (1 − p): a dropout mask. */
export function dropoutMask(id: i32, p: f64): void {
  fillDropoutMask(dataPtr(id), sizeOf(id), p);
}

/** dst's values = src's values (same element count): loading weights, copy_. */
export function copyData(dst: i32, src: i32): void {
  memory.copy(dataPtr(dst), dataPtr(src), <usize>sizeOf(dst) << 2);
}

/** A raw buffer for the bindings' own lists (optimizer parameter ids); 0 when out of memory. */
export function allocBuffer(bytes: i32): usize { return alloc(<usize>bytes); }
export function freeBuffer(ptr: usize, bytes: i32): void { free(ptr, <usize>bytes); }
