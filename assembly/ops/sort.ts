// Ops that produce or read positions along one axis, the input seen as [outer, R, inner]:
//
//   SORT, TOPK  out[o, t, j] = the t-th of the k first values of line x[o, ·, j] in order, and
//               c[o, t, j] = its position r in the line (f32), written by the same kernel.
//               record: a = input, c = indices node (out's shape), i0 = outer, i1 = R, i2 = inner,
//               i3 = k, i4 = 1 for descending. NaN counts as the largest value (PyTorch), and
//               equal values keep their order (a stable sort). Backward adds g to x's grad at the
//               positions in c, each checked as it is read.
//   ONE_HOT     out[i, v] = 1 where v = a[i], else 0; i0 = number of classes. No gradient (indices
//               are not differentiable; the bindings run it outside the graph).

import { dataPtr, sizeOf, requiresGrad, gradPtr, gradFor } from "../nodes";
import { OUT, IN_A, IN_C, opOf, attr } from "../tape";
import { validIndex, reportBadIndex } from "../errors";
import { scratchFor } from "../scratch";

// @ts-ignore: decorator
@inline function at(base: usize, index: i32): usize { return base + (<usize>index << 2); }

/** Whether x[p] comes before x[q] in the order: NaN largest; equal values are not "before". */
// @ts-ignore: decorator
@inline function before(vp: f32, vq: f32, descending: bool): bool {
  return descending ? vp > vq || (vp != vp && vq == vq) : vp < vq || (vq != vq && vp == vp);
}

// A line is sorted as (value, position) pairs of 8 bytes in scratch, so comparisons read
// contiguous values rather than the strided input.
// @ts-ignore: decorator
@inline function valueAt(pairs: usize, i: i32): f32 { return load<f32>(pairs + (<usize>i << 3)); }

/**
 * The line x[base + r·inner], r < R, as pairs sorted by a bottom-up stable merge sort over two
 * buffers of R pairs at `buf`; returns the buffer that holds the result.
 */
function sortLine(x: usize, base: i32, inner: i32, R: i32, descending: bool, buf: usize): usize {
  let src = buf, dst = buf + (<usize>R << 3);
  for (let r = 0; r < R; r++) {
    store<f32>(src + (<usize>r << 3), load<f32>(at(x, base + r * inner)));
    store<i32>(src + (<usize>r << 3), r, 4);
  }
  for (let w = 1; w < R; w <<= 1) {
    for (let lo = 0; lo < R; lo += 2 * w) {
      let mid = min(lo + w, R), hi = min(lo + 2 * w, R), i = lo, j = mid;
      for (let k = lo; k < hi; k++) {
        let right = j < hi && (i >= mid || before(valueAt(src, j), valueAt(src, i), descending));
        store<u64>(dst + (<usize>k << 3), load<u64>(src + (<usize>(right ? j++ : i++) << 3)));
      }
    }
    let t = src; src = dst; dst = t;
  }
  return src;
}

/**
 * The first k < R pairs of the line in order, by insertion into a sorted list of k at `buf`: a
 * value enters only if it comes before the current k-th (an equal one does not: the earlier wins,
 * as in the stable sort), so a long line with a small k costs little more than one pass.
 */
function selectLine(x: usize, base: i32, inner: i32, R: i32, k: i32, descending: bool, buf: usize): usize {
  let n = 0;
  for (let r = 0; r < R; r++) {
    let v = load<f32>(at(x, base + r * inner));
    if (n == k && !before(v, valueAt(buf, k - 1), descending)) continue;
    let i = n < k ? n++ : k - 1;
    for (; i > 0 && before(v, valueAt(buf, i - 1), descending); i--) store<u64>(buf + (<usize>i << 3), load<u64>(buf + (<usize>(i - 1) << 3)));
    store<f32>(buf + (<usize>i << 3), v);
    store<i32>(buf + (<usize>i << 3), r, 4);
  }
  return buf;
}

export function sortForward(rec: usize): void {
  let x = dataPtr(load<i32>(rec, IN_A)), y = dataPtr(load<i32>(rec, OUT)), ix = dataPtr(load<i32>(rec, IN_C));
  let outer = attr(rec, 0), R = attr(rec, 1), inner = attr(rec, 2), k = attr(rec, 3), descending = attr(rec, 4) != 0;
  let buf = scratchFor(<usize>max(R, 1) << 4);
  if (!buf) return; // the failed allocation is counted: runOp reports it
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let base = o * R * inner + j;
      // up to 64 of a longer line by selection (k·R at worst), else a merge sort (R log R)
      let pairs = k <= 64 && k < R ? selectLine(x, base, inner, R, k, descending, buf) : sortLine(x, base, inner, R, descending, buf);
      for (let t = 0; t < k; t++) {
        let p = (o * k + t) * inner + j;
        store<f32>(at(y, p), valueAt(pairs, t));
        store<f32>(at(ix, p), <f32>load<i32>(pairs + (<usize>t << 3), 4));
      }
    }
  }
}

/** dx[o, c[o, t, j], j] += g[o, t, j]. */
export function sortBackward(rec: usize): void {
  let a = load<i32>(rec, IN_A), out = load<i32>(rec, OUT);
  let gx: usize = requiresGrad(a) ? gradFor(a) : 0;
  if (!gx) return;
  let g = gradPtr(out), ix = dataPtr(load<i32>(rec, IN_C));
  let outer = attr(rec, 0), R = attr(rec, 1), inner = attr(rec, 2), k = attr(rec, 3);
  for (let o = 0; o < outer; o++) {
    for (let p = o * k * inner; p < (o + 1) * k * inner; p++) {
      let v = load<f32>(at(ix, p));
      if (!validIndex(v, R)) { reportBadIndex(opOf(rec), v, p, R); return; }
      let q = at(gx, (o * R + <i32>v) * inner + p % inner);
      store<f32>(q, load<f32>(q) + load<f32>(at(g, p)));
    }
  }
}

/** Checks every index before writing anything, then writes the rows of zeros and ones. */
export function oneHotForward(rec: usize): void {
  let a = load<i32>(rec, IN_A), x = dataPtr(a), y = dataPtr(load<i32>(rec, OUT));
  let n = sizeOf(a), classes = attr(rec, 0);
  for (let i = 0; i < n; i++) {
    let v = load<f32>(at(x, i));
    if (!validIndex(v, classes)) { reportBadIndex(opOf(rec), v, i, classes); return; }
  }
  memory.fill(y, 0, <usize>n * <usize>classes << 2);
  for (let i = 0; i < n; i++) store<f32>(at(y, i * classes + <i32>load<f32>(at(x, i))), 1);
}
