// Data movement: every op writes a fresh contiguous output, and its backward adds the output's
// gradient back to where each element came from. A RESHAPE or NARROW whose output is a view of a
// (scopes.ts viewFor) has nothing to write: its forward is a no-op, its backward the same.
//
//   RESHAPE       out = a (same elements, new shape: reshape, view, flatten, squeeze, unsqueeze)
//   PERMUTE       i0 = permutation, 4 bits per output dim
//   EXPAND        broadcast to out's shape; backward sums over the broadcast dims
//   CAT_PART      out[o, i3 + j] = a[o, j]     o < i0, j < i2, out rows of i1 (one record per input)
//   NARROW        out[o, j] = a[o, i3 + j]     o < i0, j < i2, a rows of i1
//   INDEX_SELECT  out[o, t, j] = a[o, c[t], j] o < i0, a dim of i1, j < i2, t < i3; c = index node
//   GATHER        out[p] = a[p with dim i0 replaced by c[p]]; c = index node, out has c's shape

import { dataPtr, rankOf, shapePtr, sizeOf, requiresGrad, gradPtr, gradFor, baseOf, MAX_RANK } from "../nodes";
import { OUT, IN_A, IN_C, opOf, attr } from "../tape";
import { RESHAPE, PERMUTE, EXPAND, CAT_PART, NARROW, INDEX_SELECT, GATHER } from "./opcodes";
import { validIndex, reportBadIndex } from "../errors";
import { broadcastCopy, broadcastReduceGrad } from "./elementwise";
import { putTransposed } from "./vmath";
import { scratchFor } from "../scratch";
import { job, JOB_PERMUTE, partsFor, runParallel, partRange } from "../parallel";

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
 * GATHER: visits out's elements in order with the matching offset into a (walkStride per out
 * dim, plus c[i]·gatherStride, each c[i] checked against gatherBound). backward = false copies
 * a → out; true adds out's grad to a's.
 */
function walkStrided(backward: bool, out: i32, a: i32, c: usize, gatherStride: i32, gatherBound: i32): void {
  let rank = rankOf(out), n = sizeOf(out), shape = shapePtr(out);
  let src = dataPtr(a), dst = dataPtr(out);
  let ga: usize = 0, g: usize = 0;
  if (backward) { ga = gradFor(a); g = gradPtr(out); if (!ga) return; }
  memory.fill(walkCounter, 0, <usize>MAX_RANK << 2);
  let off = 0;
  for (let i = 0; i < n; i++) {
    let v = load<f32>(at(c, i));
    if (!validIndex(v, gatherBound)) { reportBadIndex(GATHER, v, i, gatherBound); return; }
    let p = off + <i32>v * gatherStride;
    if (backward) store<f32>(at(ga, p), load<f32>(at(ga, p)) + load<f32>(at(g, i)));
    else store<f32>(at(dst, i), load<f32>(at(src, p)));
    for (let d = rank - 1; d >= 0; d--) {
      let cp = at(walkCounter, d);
      let k = load<i32>(cp) + 1;
      let st = load<i32>(at(walkStride, d));
      if (k < load<i32>(at(shape, d))) { store<i32>(cp, k); off += st; break; }
      store<i32>(cp, 0);
      off -= st * (k - 1);
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

// PERMUTE moves runs rather than elements. Its plan is out's dims without the size-1 ones, each
// merged into the one before when a keeps them adjacent too (a's stride of the outer is the
// inner's extent times its stride), as (extent, a's stride). Then:
//   last stride 1             each innermost run is a copy (a head split or merge: runs of 16)
//   second-last stride 1      out's last two dims are a transpose of a's rows: 4×4 register
//                             transposes, in column bands of BAND so the rows of a they read stay in L1
//   otherwise                 a strided loop over the innermost dim
// Large permutes split over threads by ranges of those blocks (each part with its own counters).
const permExtent: usize = memory.data(MAX_RANK * 4, 16);
const permStride: usize = memory.data(MAX_RANK * 4, 16);
// @ts-ignore: decorator
@inline const BAND: i32 = 64;

function permuteMove(rec: usize, backward: bool): void {
  let a = load<i32>(rec, IN_A), out = load<i32>(rec, OUT);
  let size = sizeOf(out);
  if (size == 0) return;
  let src = dataPtr(a), dst = dataPtr(out);
  if (backward) { src = gradFor(a); dst = gradPtr(out); if (!src) return; }
  prepareWalk(rec);
  let rank = 0, shape = shapePtr(out);
  for (let d = 0; d < rankOf(out); d++) {
    let n = load<i32>(at(shape, d)), st = load<i32>(at(walkStride, d));
    if (n == 1) continue;
    if (rank > 0 && load<i32>(at(permStride, rank - 1)) == st * n) {
      store<i32>(at(permExtent, rank - 1), load<i32>(at(permExtent, rank - 1)) * n);
      store<i32>(at(permStride, rank - 1), st);
    } else {
      store<i32>(at(permExtent, rank), n);
      store<i32>(at(permStride, rank), st);
      rank++;
    }
  }
  if (rank == 0) { store<i32>(permExtent, 1); store<i32>(permStride, 1); rank = 1; } // one element
  let block = permuteBlock(rank);
  let parts = partsFor(<i64>size, PERMUTE_GRAIN);
  if (parts > size / block) parts = max(size / block, 1);
  if (parts == 1) { permuteRun(src, dst, backward, rank, 0, size / block, walkCounter); return; } // (the job record may be another part's)
  let counters = scratchFor(<usize>parts * MAX_RANK << 2);
  if (!counters) return;
  store<i32>(job, JOB_PERMUTE);
  store<usize>(job, src, 4); store<usize>(job, dst, 8); store<i32>(job, backward, 12);
  store<i32>(job, rank, 16); store<i32>(job, size / block, 20); store<usize>(job, counters, 24);
  runParallel(parts);
}

/** Elements a permute part moves, at the least. */
// @ts-ignore: decorator
@inline const PERMUTE_GRAIN: i64 = 1 << 16;

/** The elements of out moved as one block: a run of the last plan dim, or a tile of the last two. */
// @ts-ignore: decorator
@inline function permuteBlock(rank: i32): i32 {
  let n = load<i32>(at(permExtent, rank - 1));
  return isTiled(rank) ? n * load<i32>(at(permExtent, rank - 2)) : n;
}

// @ts-ignore: decorator
@inline function isTiled(rank: i32): bool {
  return rank >= 2 && load<i32>(at(permStride, rank - 1)) != 1 && load<i32>(at(permStride, rank - 2)) == 1;
}

/** One part of a split permute (its record as permuteMove writes it; the plan is read-only meanwhile). */
export function permutePart(job: usize, part: i32, parts: i32): void {
  let range = partRange(load<i32>(job, 20), 1, part, parts);
  permuteRun(load<usize>(job, 4), load<usize>(job, 8), load<i32>(job, 12) != 0, load<i32>(job, 16),
    <i32>range, <i32>(range >> 32), load<usize>(job, 24) + (<usize>part * MAX_RANK << 2));
}

/** Moves blocks [lo, hi) of out (from src, or backward adds them into src), walking the outer dims with `counter`. */
function permuteRun(src: usize, dst: usize, backward: bool, rank: i32, lo: i32, hi: i32, counter: usize): void {
  let n = load<i32>(at(permExtent, rank - 1)), st = load<i32>(at(permStride, rank - 1));
  let tile = isTiled(rank);
  let outerRank = tile ? rank - 2 : rank - 1;
  let block = permuteBlock(rank);
  // the outer dims' counters and a's offset at block lo
  let off = 0, rest = lo;
  for (let d = outerRank - 1; d >= 0; d--) {
    let ext = load<i32>(at(permExtent, d)), c = rest % ext;
    store<i32>(at(counter, d), c);
    off += c * load<i32>(at(permStride, d));
    rest /= ext;
  }
  for (let b = lo; b < hi; b++) {
    let o = b * block;
    if (tile) transposeTile(load<i32>(at(permExtent, rank - 2)), n, st, at(src, off), at(dst, o), backward);
    else if (st == 1) copyRows(backward ? at(src, off) : at(dst, o), 0, backward ? at(dst, o) : at(src, off), 0, 1, n, backward);
    else {
      for (let j = 0; j < n; j++) {
        let pa = at(src, off + j * st), po = at(dst, o + j);
        if (backward) store<f32>(pa, load<f32>(pa) + load<f32>(po));
        else store<f32>(po, load<f32>(pa));
      }
    }
    for (let d = outerRank - 1; d >= 0; d--) { // odometer over the outer dims
      let cp = at(counter, d), v = load<i32>(cp) + 1, ds = load<i32>(at(permStride, d));
      if (v < load<i32>(at(permExtent, d))) { store<i32>(cp, v); off += ds; break; }
      store<i32>(cp, 0);
      off -= ds * (v - 1);
    }
  }
}

/**
 * out[p, q] = a[p + q·sq] for a P × Q block (out rows contiguous), or in backward
 * ga[p + q·sq] += g[p, q].
 */
function transposeTile(P: i32, Q: i32, sq: i32, a: usize, out: usize, backward: bool): void {
  let aRow = <usize>sq << 2, outRow = <usize>Q << 2;
  for (let q1 = 0; q1 < Q; q1 += BAND) {
    let qEnd = min(Q, q1 + BAND), p = 0;
    for (; p + 4 <= P; p += 4) {
      let q = q1;
      for (; q + 4 <= qEnd; q += 4) {
        let pa = at(a, p + q * sq), po = at(out, p * Q + q);
        // forward reads rows of a and writes rows of out; backward the other way round, adding
        let from = backward ? po : pa, fromRow = backward ? outRow : aRow;
        putTransposed(backward ? pa : po, backward ? aRow : outRow,
          v128.load(from), v128.load(from + fromRow), v128.load(from + 2 * fromRow), v128.load(from + 3 * fromRow), backward);
      }
      for (; q < qEnd; q++) transposeScalar(p, p + 4, q, a, out, Q, sq, backward);
    }
    for (let q = q1; q < qEnd; q++) transposeScalar(p, P, q, a, out, Q, sq, backward); // the last P % 4 rows
  }
}

/** Column q of out, rows p0 .. p1, one element at a time (transposeTile's edges). */
function transposeScalar(p0: i32, p1: i32, q: i32, a: usize, out: usize, Q: i32, sq: i32, backward: bool): void {
  for (let p = p0; p < p1; p++) {
    let pa = at(a, p + q * sq), po = at(out, p * Q + q);
    if (backward) store<f32>(pa, load<f32>(pa) + load<f32>(po));
    else store<f32>(po, load<f32>(pa));
  }
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
  if (baseOf(out) >= 0) return; // a view: its values are a's already
  let x = dataPtr(a), y = dataPtr(out);
  switch (opOf(rec)) {
    case RESHAPE: memory.copy(y, x, <usize>sizeOf(out) << 2); break;
    case EXPAND: broadcastCopy(a, out); break;
    case CAT_PART: copyRows(y + (<usize>attr(rec, 3) << 2), attr(rec, 1), x, attr(rec, 2), attr(rec, 0), attr(rec, 2), false); break;
    case NARROW: copyRows(y, attr(rec, 2), x + (<usize>attr(rec, 3) << 2), attr(rec, 1), attr(rec, 0), attr(rec, 2), false); break;
    case INDEX_SELECT: indexSelect(rec, false); break;
    case PERMUTE: permuteMove(rec, false); break;
    default: { // GATHER
      let gatherStride = prepareWalk(rec);
      walkStrided(false, out, a, dataPtr(load<i32>(rec, IN_C)), gatherStride, gatherBound(rec));
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
    case PERMUTE: permuteMove(rec, true); break;
    default: {
      let gatherStride = prepareWalk(rec);
      walkStrided(true, out, a, dataPtr(load<i32>(rec, IN_C)), gatherStride, gatherBound(rec));
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
