// Data movement: every op writes a fresh contiguous output, and its backward adds the output's
// gradient back to where each element came from.
//
//   RESHAPE       out = a (same elements, new shape: reshape, view, flatten, squeeze, unsqueeze)
//   PERMUTE       i0 = permutation, 4 bits per output dim
//   EXPAND        broadcast to out's shape; backward sums over the broadcast dims
//   CAT_PART      out[o, i3 + j] = a[o, j]     o < i0, j < i2, out rows of i1 (one record per input)
//   NARROW        out[o, j] = a[o, i3 + j]     o < i0, j < i2, a rows of i1
//   INDEX_SELECT  out[o, t, j] = a[o, c[t], j] o < i0, a dim of i1, j < i2, t < i3; c = index node
//   GATHER        out[p] = a[p with dim i0 replaced by c[p]]; c = index node, out has c's shape

import { dataPtr, rankOf, shapePtr, sizeOf, requiresGrad, gradPtr, gradFor, MAX_RANK } from "../nodes";
import { OUT, IN_A, IN_C, opOf, attr } from "../tape";
import { RESHAPE, PERMUTE, EXPAND, CAT_PART, NARROW, INDEX_SELECT, GATHER } from "./opcodes";
import { validIndex, reportBadIndex } from "../errors";
import { broadcastCopy, broadcastReduceGrad } from "./elementwise";

// @ts-ignore: decorator
@inline function at(base: usize, index: i32): usize { return base + (<usize>index << 2); }

// Strides of a, one per output dim, for the strided walk.
const walkStride: usize = memory.data(MAX_RANK * 4, 16);
const walkCounter: usize = memory.data(MAX_RANK * 4, 16);

/** Row-major element strides of node `id`, written to `dst`. */
function stridesOf(id: i32, dst: usize): void {
  let s = 1;
  for (let d = rankOf(id) - 1; d >= 0; d--) {
    store<i32>(at(dst, d), s);
    s *= load<i32>(at(shapePtr(id), d));
  }
}

/**
 * Visits out's elements in order with the matching offset into a (walkStride per out dim, plus
 * c[i]·gatherStride when c is given, each c[i] checked against gatherBound). backward = false
 * copies a → out; true adds out's grad to a's.
 */
function walkStrided(backward: bool, out: i32, a: i32, c: usize, gatherStride: i32, gatherBound: i32): void {
  let rank = rankOf(out), n = sizeOf(out), shape = shapePtr(out);
  let src = dataPtr(a), dst = dataPtr(out);
  let ga: usize = 0, g: usize = 0;
  if (backward) { ga = gradFor(a); g = gradPtr(out); if (!ga) return; }
  memory.fill(walkCounter, 0, <usize>MAX_RANK << 2);
  let off = 0;
  for (let i = 0; i < n; i++) {
    let p = off;
    if (c) {
      let v = load<f32>(at(c, i));
      if (!validIndex(v, gatherBound)) { reportBadIndex(GATHER, v, i, gatherBound); return; }
      p += <i32>v * gatherStride;
    }
    if (backward) store<f32>(at(ga, p), load<f32>(at(ga, p)) + load<f32>(at(g, i)));
    else store<f32>(at(dst, i), load<f32>(at(src, p)));
    for (let d = rank - 1; d >= 0; d--) {
      let cp = at(walkCounter, d);
      let v = load<i32>(cp) + 1;
      let st = load<i32>(at(walkStride, d));
      if (v < load<i32>(at(shape, d))) { store<i32>(cp, v); off += st; break; }
      store<i32>(cp, 0);
      off -= st * (v - 1);
    }
  }
}

const aStrides: usize = memory.data(MAX_RANK * 4, 16);

/** Sets walkStride for PERMUTE (a's stride of the permuted dim) or GATHER (a's strides, dim zeroed). */
function prepareWalk(rec: usize): i32 {
  let a = load<i32>(rec, IN_A), out = load<i32>(rec, OUT);
  stridesOf(a, aStrides);
  let rank = rankOf(out);
  if (opOf(rec) == PERMUTE) {
    let perm = attr(rec, 0);
    for (let d = 0; d < rank; d++) store<i32>(at(walkStride, d), load<i32>(at(aStrides, (perm >>> (d << 2)) & 15)));
    return 0;
  }
  let axis = attr(rec, 0);
  for (let d = 0; d < rank; d++) store<i32>(at(walkStride, d), d == axis ? 0 : load<i32>(at(aStrides, d)));
  return load<i32>(at(aStrides, axis));
}

/** Copies `rows` rows of `len` floats from src (row stride ss) to dst (row stride ds), adding when accumulate. */
function copyRows(dst: usize, ds: i32, src: usize, ss: i32, rows: i32, len: i32, accumulate: bool): void {
  for (let o = 0; o < rows; o++) {
    let d = at(dst, o * ds), s = at(src, o * ss);
    if (!accumulate) { memory.copy(d, s, <usize>len << 2); continue; }
    let j = 0;
    for (; j + 4 <= len; j += 4) v128.store(at(d, j), f32x4.add(v128.load(at(d, j)), v128.load(at(s, j))));
    for (; j < len; j++) store<f32>(at(d, j), load<f32>(at(d, j)) + load<f32>(at(s, j)));
  }
}

export function shapeForward(rec: usize): void {
  let a = load<i32>(rec, IN_A), out = load<i32>(rec, OUT);
  let x = dataPtr(a), y = dataPtr(out);
  switch (opOf(rec)) {
    case RESHAPE: memory.copy(y, x, <usize>sizeOf(out) << 2); break;
    case EXPAND: broadcastCopy(a, out); break;
    case CAT_PART: copyRows(y + (<usize>attr(rec, 3) << 2), attr(rec, 1), x, attr(rec, 2), attr(rec, 0), attr(rec, 2), false); break;
    case NARROW: copyRows(y, attr(rec, 2), x + (<usize>attr(rec, 3) << 2), attr(rec, 1), attr(rec, 0), attr(rec, 2), false); break;
    case INDEX_SELECT: indexSelect(rec, false); break;
    default: { // PERMUTE, GATHER
      let gatherStride = prepareWalk(rec);
      walkStrided(false, out, a, opOf(rec) == PERMUTE ? 0 : dataPtr(load<i32>(rec, IN_C)), gatherStride, gatherBound(rec));
    }
  }
}

export function shapeBackward(rec: usize): void {
  let a = load<i32>(rec, IN_A), out = load<i32>(rec, OUT);
  if (!requiresGrad(a)) return;
  let g = gradPtr(out);
  switch (opOf(rec)) {
    case RESHAPE: { let ga = gradFor(a); if (ga) copyRows(ga, 0, g, 0, 1, sizeOf(out), true); break; }
    case EXPAND: { let ga = gradFor(a); if (ga) broadcastReduceGrad(a, out, ga); break; }
    case CAT_PART: { let ga = gradFor(a); if (ga) copyRows(ga, attr(rec, 2), g + (<usize>attr(rec, 3) << 2), attr(rec, 1), attr(rec, 0), attr(rec, 2), true); break; }
    case NARROW: { let ga = gradFor(a); if (ga) copyRows(ga + (<usize>attr(rec, 3) << 2), attr(rec, 1), g, attr(rec, 2), attr(rec, 0), attr(rec, 2), true); break; }
    case INDEX_SELECT: indexSelect(rec, true); break;
    default: {
      let gatherStride = prepareWalk(rec);
      walkStrided(true, out, a, opOf(rec) == PERMUTE ? 0 : dataPtr(load<i32>(rec, IN_C)), gatherStride, gatherBound(rec));
    }
  }
}

/** GATHER: a's extent along the gathered dim (the bound of every index). */
function gatherBound(rec: usize): i32 {
  return opOf(rec) == GATHER ? load<i32>(at(shapePtr(load<i32>(rec, IN_A)), attr(rec, 0))) : 0;
}

function indexSelect(rec: usize, backward: bool): void {
  let a = load<i32>(rec, IN_A), out = load<i32>(rec, OUT);
  let idx = dataPtr(load<i32>(rec, IN_C));
  let outer = attr(rec, 0), R = attr(rec, 1), inner = attr(rec, 2), count = attr(rec, 3);
  let x = dataPtr(a), y = dataPtr(out);
  let ga: usize = 0, g: usize = 0;
  if (backward) { ga = gradFor(a); g = gradPtr(out); if (!ga) return; }
  for (let o = 0; o < outer; o++) {
    for (let t = 0; t < count; t++) {
      let v = load<f32>(at(idx, t));
      if (!validIndex(v, R)) { reportBadIndex(INDEX_SELECT, v, t, R); return; }
      let src = (o * R + <i32>v) * inner;
      let dst = (o * count + t) * inner;
      if (backward) copyRows(at(ga, src), 0, at(g, dst), 0, 1, inner, true);
      else memory.copy(at(y, dst), at(x, src), <usize>inner << 2);
    }
  }
}
