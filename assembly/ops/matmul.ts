// Matrix product with PyTorch's rules: 1-D and 2-D operands, and batches whose batch dims
// broadcast. One blocked SIMD kernel, `gemm`, serves the forward and both gradients: operands are
// read through (row, col) strides, so dA = dC·Bᵀ and dB = Aᵀ·dC never materialise a transpose.
//
// record: a, b = operands, i0 = M, i1 = K, i2 = N, i3 = batch count (product of out's batch dims),
//         i4 = number of out batch dims, i5 = 1 when b is stored transposed (an N×K weight, as
//         nn.Linear keeps it), c = a bias [N] added to every row (nn.linear), or -1.
//         A 1-D a is a 1×K row, a 1-D b a K×1 column.

import { dataPtr, rankOf, shapePtr, requiresGrad, gradPtr, gradFor, MAX_RANK } from "../nodes";
import { alloc } from "../alloc";
import { OUT, IN_A, IN_B, IN_C, attr } from "../tape";
import { hsum, putTransposed } from "./vmath";
import { job, JOB_GEMM, partsFor, runParallel, partRange } from "../parallel";

// ── the blocked kernel ─────────────────────────────────────────────────────────────────────────
//
// C = A·B in cache blocks (the BLIS loop order). A KC-deep slice of an NC-column block of B is
// packed once; each MC-row block of A is packed against it; then a 4×8 register tile of C (the
// micro-kernel) runs down the whole slice for every tile of the block:
//
//   for n0 in N by NC                                      B panel  kc × nc  (L2)
//     for k0 in K by KC      pack B panel
//       for m0 in M by MC    pack A panel                  A panel  mc × kc  (L2)
//         for each NR-column strip j of the B panel        B strip  kc × NR  (L1, reused over i)
//           for each MR-row strip i of the A panel         A strip  kc × MR  (streamed)
//             C[i .. i+MR, j .. j+NR] (+)= A strip · B strip
//
// Packed panels: contiguous f32, k-major inside each strip, zero-padded to whole strips (so the
// micro-kernel's loop never tests an edge); rN is the strip's row N of A, cN its column N of B:
//
//   packA: strip 0, strip 1, … each kc × MR          packB: strip 0, strip 1, … each kc × NR
//   ┌────────┬──────┬──────┬──────┬──────┐           ┌────────┬──────┬──────┬─────┬──────┐
//   │ k0     │ A r0 │ A r1 │ A r2 │ A r3 │           │ k0     │ B c0 │ B c1 │  …  │ B c7 │
//   │ k0 + 1 │ A r0 │ A r1 │ A r2 │ A r3 │           │ k0 + 1 │ B c0 │ B c1 │  …  │ B c7 │
//   │   …    │                           │           │   …    │                         │
//   └────────┴──────┴──────┴──────┴──────┘           └────────┴──────┴──────┴─────┴──────┘
//    per k: 4 × v128.load32_splat (16 bytes)          per k: 2 × v128.load (32 bytes)
//
// Packing reads each operand through its (row, col) strides and takes a vector path for the two
// contiguous layouts: a copy where memory runs along the packed order (A stored transposed, B
// stored row-major), 4×4 shuffle transposes where it runs across it (A row-major, B transposed
// as nn.Linear's weight). Blocks are balanced: K = 784 with KC = 256 gives four slices of 196,
// not 3 × 256 + 16; slices are whole multiples of 4 (the transposes' step) but the last. A
// product of one block skips packing an operand the micro-kernel can read where it lies (blocked).
//
// Why 4×8 (measured, V8 11 on x64): V8 allocates 15 xmm registers; 4×8 needs 8 accumulators,
// 2 B vectors, 4 A splats and (without relaxed SIMD) a product temporary. 6×8 and 5×8 tiles
// spill accumulators to the stack, and so does unrolling k by hand (V8 hoists both steps' loads),
// each costing ~40%. The kernel issues 6 loads and 8 madds per k: with relaxed SIMD's fused
// madd it runs at ~90% of the FMA pipes' peak, split into mul + add at ~75% (issue-bound).
// KC, MC and NC move the result by ±1% on this machine (32 KB L1d, 1 MB L2 a core).

// @ts-ignore: decorator
@inline const MR: i32 = 4;    // rows of the register tile: one f32 splat each
// @ts-ignore: decorator
@inline const NR: i32 = 8;    // columns of the register tile: two f32x4 vectors
// @ts-ignore: decorator
@inline const KC: i32 = 256;  // depth of a slice: A strip 4 KB + B strip 8 KB stay in L1
// @ts-ignore: decorator
@inline const MC: i32 = 64;   // rows of an A panel (MC × KC floats: 64 KB)
// @ts-ignore: decorator
@inline const NC: i32 = 512;  // columns of a B panel (KC × NC floats: 512 KB)

// This thread's packing buffers and edge tile: one block, allocated by the main thread (for a
// worker too, which adopts its own: see parallel.ts)
//   packA MC·KC floats │ packB NC·KC floats │ edgeTile MR·NR floats
// @ts-ignore: decorator
@inline const PACK_BYTES: usize = <usize>(MC * KC + NC * KC + MR * NR) << 2;
let packA: usize = 0;
let packB: usize = 0;
let edgeTile: usize = 0;

// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** Block size for splitting n into equal blocks of at most `cap`, rounded up to a multiple of `unit`. */
// @ts-ignore: decorator
@inline function balanced(n: i32, cap: i32, unit: i32): i32 {
  let blocks = (n + cap - 1) / cap;
  let size = (n + blocks - 1) / blocks;
  return min(cap, (size + unit - 1) / unit * unit);
}

/** Packs A[m0 .. m0+mc, k0 .. k0+kc) (A[m,k] = a[m*sm + k*sk]) into MR-row strips. */
function packRows(a: usize, sm: i32, sk: i32, m0: i32, mc: i32, k0: i32, kc: i32): void {
  let kStep = <usize>sk << 2;
  for (let s = 0; s < mc; s += MR) {
    let strip = packA + (<usize>(s * kc) << 2);
    let src = a + (<usize>((m0 + s) * sm + k0 * sk) << 2);
    let rows = min(MR, mc - s);
    let k = 0;
    if (rows == MR && sm == 1) {
      // the strip's MR values at each k are adjacent: one vector per k
      for (; k < kc; k++) v128.store(strip + (<usize>k << 4), v128.load(src + <usize>k * kStep));
    } else if (rows == MR && sk == 1) {
      // each row is contiguous along k: transpose 4 rows × 4 k at a time
      let rowStep = <usize>sm << 2;
      for (; k + 4 <= kc; k += 4) {
        let p = src + (<usize>k << 2);
        putTransposed(strip + (<usize>k << 4), MR << 2,
          v128.load(p), v128.load(p + rowStep), v128.load(p + 2 * rowStep), v128.load(p + 3 * rowStep), false);
      }
    }
    // whatever the vector paths left: odd layouts, the k tail, a partial strip (zero rows)
    for (; k < kc; k++) {
      let dst = strip + (<usize>(k * MR) << 2);
      for (let r = 0; r < MR; r++) {
        store<f32>(dst + (<usize>r << 2), r < rows ? load<f32>(src + (<usize>(r * sm) << 2) + <usize>k * kStep) : 0);
      }
    }
  }
}

/** Packs B[k0 .. k0+kc, n0 .. n0+nc) (B[k,n] = b[k*sk + n*sn]) into NR-column strips. */
function packCols(b: usize, sk: i32, sn: i32, k0: i32, kc: i32, n0: i32, nc: i32): void {
  let kStep = <usize>sk << 2;
  for (let s = 0; s < nc; s += NR) {
    let strip = packB + (<usize>(s * kc) << 2);
    let src = b + (<usize>(k0 * sk + (n0 + s) * sn) << 2);
    let cols = min(NR, nc - s);
    let k = 0;
    if (cols == NR && sn == 1) {
      // the strip's NR values at each k are adjacent: two vectors per k
      for (; k < kc; k++) {
        let p = src + <usize>k * kStep, dst = strip + (<usize>k << 5);
        v128.store(dst, v128.load(p));
        v128.store(dst, v128.load(p, 16), 16);
      }
    } else if (cols == NR && sk == 1) {
      // each column is contiguous along k (a transposed operand): transpose 4 k × 4 columns twice
      let colStep = <usize>sn << 2;
      for (; k + 4 <= kc; k += 4) {
        let p = src + (<usize>k << 2), q = p + 4 * colStep, dst = strip + (<usize>k << 5);
        putTransposed(dst, NR << 2, v128.load(p), v128.load(p + colStep), v128.load(p + 2 * colStep), v128.load(p + 3 * colStep), false);
        putTransposed(dst + 16, NR << 2, v128.load(q), v128.load(q + colStep), v128.load(q + 2 * colStep), v128.load(q + 3 * colStep), false);
      }
    }
    // whatever the vector paths left: odd layouts, the k tail, a partial strip (zero columns)
    for (; k < kc; k++) {
      let dst = strip + (<usize>(k * NR) << 2);
      for (let j = 0; j < NR; j++) {
        store<f32>(dst + (<usize>j << 2), j < cols ? load<f32>(src + (<usize>(j * sn) << 2) + <usize>k * kStep) : 0);
      }
    }
  }
}

/**
 * C[MR×NR] (+)= A strip · B strip over kc, with A[r, k] at byte pa + r*aRow + k*aStep and the
 * strip's NR values at k from byte pb + k*bStep (packed: aRow 4, aStep 16, bStep 32). A strip of
 * C with only NR/2 columns left computes just those (narrow). A tile that sticks out of C is
 * computed whole from the zero padding into edgeTile and its valid part copied. Inlined once:
 * its three loops share one epilogue (each copy costs the bundle ~0.2 KB).
 */
// @ts-ignore: decorator
@inline function microKernel(pa: usize, aStep: usize, aRow: usize, pb: usize, bStep: usize, kc: i32, c: usize, ldc: i32, rows: i32, cols: i32, add: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let end = pb + <usize>kc * bStep;
  if (cols <= NR / 2) {
    while (pb < end) {
      let b0 = v128.load(pb);
      c00 = madd(v128.load32_splat(pa), b0, c00);
      c10 = madd(v128.load32_splat(pa + aRow), b0, c10);
      c20 = madd(v128.load32_splat(pa + 2 * aRow), b0, c20);
      c30 = madd(v128.load32_splat(pa + 3 * aRow), b0, c30);
      pa += aStep;
      pb += bStep;
    }
  } else if (aRow == 4) {
    // A's rows adjacent (packed, or stored transposed): constant offsets, where the loop below
    // (the row stride in a register) runs the large products ~4% slower
    while (pb < end) {
      let b0 = v128.load(pb), b1 = v128.load(pb, 16);
      let a0 = v128.load32_splat(pa), a1 = v128.load32_splat(pa, 4);
      let a2 = v128.load32_splat(pa, 8), a3 = v128.load32_splat(pa, 12);
      c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
      c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
      c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
      c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
      pa += aStep;
      pb += bStep;
    }
  } else {
    while (pb < end) {
      let b0 = v128.load(pb), b1 = v128.load(pb, 16);
      let a0 = v128.load32_splat(pa), a1 = v128.load32_splat(pa + aRow);
      let a2 = v128.load32_splat(pa + 2 * aRow), a3 = v128.load32_splat(pa + 3 * aRow);
      c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
      c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
      c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
      c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
      pa += aStep;
      pb += bStep;
    }
  }
  let full = rows == MR && cols == NR;
  let dst = full ? c : edgeTile;
  let ld = full ? ldc : NR;
  let r1 = dst + (<usize>ld << 2), r2 = dst + (<usize>(2 * ld) << 2), r3 = dst + (<usize>(3 * ld) << 2);
  if (full && add) {
    c00 = f32x4.add(c00, v128.load(dst)); c01 = f32x4.add(c01, v128.load(dst, 16));
    c10 = f32x4.add(c10, v128.load(r1)); c11 = f32x4.add(c11, v128.load(r1, 16));
    c20 = f32x4.add(c20, v128.load(r2)); c21 = f32x4.add(c21, v128.load(r2, 16));
    c30 = f32x4.add(c30, v128.load(r3)); c31 = f32x4.add(c31, v128.load(r3, 16));
  }
  v128.store(dst, c00); v128.store(dst, c01, 16);
  v128.store(r1, c10); v128.store(r1, c11, 16);
  v128.store(r2, c20); v128.store(r2, c21, 16);
  v128.store(r3, c30); v128.store(r3, c31, 16);
  if (!full) {
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < cols; j++) {
        let p = c + (<usize>(r * ldc + j) << 2);
        let v = load<f32>(edgeTile + (<usize>(r * NR + j) << 2));
        store<f32>(p, add ? load<f32>(p) + v : v);
      }
    }
  }
}

/** Makes the packing buffers (once; backward calls this before it writes a gradient). */
export function ensurePacks(): bool {
  if (!packA) adoptPacks(newPacks());
  return packA != 0;
}

/** A block of packing buffers for one thread (main thread only: it owns the allocator), or 0. */
export function newPacks(): usize { return alloc(PACK_BYTES); }

/** Makes `block` (from newPacks, or 0) this instance's packing buffers. */
export function adoptPacks(block: usize): void {
  packA = block;
  packB = block ? block + (<usize>(MC * KC) << 2) : 0;
  edgeTile = block ? packB + (<usize>(NC * KC) << 2) : 0;
}

// ── a row times a matrix ───────────────────────────────────────────────────────────────────────
//
// With one row (M = 1) or one column (N = 1) no element of the matrix is used twice, so packing
// would only double the memory traffic: both run as c[n] (+)= Σ_k x[k]·B[k,n] straight from the
// operands (N = 1 as the row Bᵀ times Aᵀ).


/** c[0..N) (+)= x·B with x[k] = x[k*sx] and B[k,n] = b[k*sk + n*sn]. */
function rowTimesMatrix(N: i32, K: i32, x: usize, sx: i32, b: usize, sk: i32, sn: i32, c: usize, accumulate: bool): void {
  let xStep = <usize>sx << 2, kStep = <usize>sk << 2;
  let n = 0;
  if (sn == 1) {
    // rows of B are contiguous: c[n..n+16) += x[k]·B[k, n..n+16), the 16 sums held in registers
    for (; n + 16 <= N; n += 16) {
      let p = c + (<usize>n << 2);
      let c0 = accumulate ? v128.load(p) : f32x4.splat(0), c1 = accumulate ? v128.load(p, 16) : f32x4.splat(0);
      let c2 = accumulate ? v128.load(p, 32) : f32x4.splat(0), c3 = accumulate ? v128.load(p, 48) : f32x4.splat(0);
      let row = b + (<usize>n << 2), xk = x;
      for (let k = 0; k < K; k++) {
        let s = v128.load32_splat(xk);
        c0 = madd(s, v128.load(row), c0); c1 = madd(s, v128.load(row, 16), c1);
        c2 = madd(s, v128.load(row, 32), c2); c3 = madd(s, v128.load(row, 48), c3);
        row += kStep;
        xk += xStep;
      }
      v128.store(p, c0); v128.store(p, c1, 16); v128.store(p, c2, 32); v128.store(p, c3, 48);
    }
  } else if (sk == 1 && sx == 1) {
    // columns of B are contiguous, and so is x: four dot products at a time, 4 k per step
    let colStep = <usize>sn << 2;
    for (; n + 4 <= N; n += 4) {
      let p0 = b + <usize>n * colStep, p1 = p0 + colStep, p2 = p1 + colStep, p3 = p2 + colStep;
      let d0 = f32x4.splat(0), d1 = f32x4.splat(0), d2 = f32x4.splat(0), d3 = f32x4.splat(0);
      let k = 0;
      for (; k + 4 <= K; k += 4) {
        let o = <usize>k << 2, xv = v128.load(x + o);
        d0 = madd(xv, v128.load(p0 + o), d0); d1 = madd(xv, v128.load(p1 + o), d1);
        d2 = madd(xv, v128.load(p2 + o), d2); d3 = madd(xv, v128.load(p3 + o), d3);
      }
      let s0 = hsum(d0), s1 = hsum(d1), s2 = hsum(d2), s3 = hsum(d3);
      for (; k < K; k++) {
        let o = <usize>k << 2, xk = load<f32>(x + o);
        s0 += xk * load<f32>(p0 + o); s1 += xk * load<f32>(p1 + o);
        s2 += xk * load<f32>(p2 + o); s3 += xk * load<f32>(p3 + o);
      }
      let p = c + (<usize>n << 2);
      if (accumulate) { s0 += load<f32>(p); s1 += load<f32>(p, 4); s2 += load<f32>(p, 8); s3 += load<f32>(p, 12); }
      store<f32>(p, s0); store<f32>(p, s1, 4); store<f32>(p, s2, 8); store<f32>(p, s3, 12);
    }
  }
  // the columns the vector paths left, or every column of an odd layout
  for (; n < N; n++) {
    let col = b + (<usize>(n * sn) << 2), s: f32 = 0;
    for (let k = 0; k < K; k++) s += load<f32>(x + <usize>k * xStep) * load<f32>(col + <usize>k * kStep);
    let p = c + (<usize>n << 2);
    store<f32>(p, accumulate ? load<f32>(p) + s : s);
  }
}

/**
 * C[M×N] (row-major, ldc = N) = or += A·B, where A[m,k] = a[m*sam + k*sak] and
 * B[k,n] = b[k*sbk + n*sbn]. A large product is split over threads by rows (or by columns when
 * it is wider than tall): each element's sum runs over the same k slices in the same order
 * wherever the split falls, so the result does not depend on the number of threads.
 */
export function gemm(M: i32, N: i32, K: i32, a: usize, sam: i32, sak: i32, b: usize, sbk: i32, sbn: i32, c: usize, accumulate: bool): void {
  if (M == 0 || N == 0) return; // an empty product: nothing to write
  if (K == 0) { if (!accumulate) memory.fill(c, 0, <usize>(M * N) << 2); return; }
  if (M == 1) { rowTimesMatrix(N, K, a, sak, b, sbk, sbn, c, accumulate); return; }
  if (N == 1) { rowTimesMatrix(M, K, b, sbk, a, sak, sam, c, accumulate); return; }
  if (!ensurePacks()) return;
  let parts = partsFor(<i64>M * N * K, GEMM_GRAIN);
  // (the job record is written only for a split: a gemm inside another kernel's part must leave it be)
  if (parts == 1) { blocked(M, N, K, a, sam, sak, b, sbk, sbn, c, N, accumulate); return; }
  store<i32>(job, JOB_GEMM);
  store<i32>(job, M, 4); store<i32>(job, N, 8); store<i32>(job, K, 12);
  store<usize>(job, a, 16); store<i32>(job, sam, 20); store<i32>(job, sak, 24);
  store<usize>(job, b, 28); store<i32>(job, sbk, 32); store<i32>(job, sbn, 36);
  store<usize>(job, c, 40); store<i32>(job, accumulate, 44);
  runParallel(parts);
}

/** Multiply-adds in a gemm part, at the least: below it, waking a thread costs more than it saves. */
// @ts-ignore: decorator
@inline const GEMM_GRAIN: i64 = 1 << 19;

/** One part of a split gemm (job record as gemm writes it): a band of C's rows, or of its columns. */
export function gemmPart(job: usize, part: i32, parts: i32): void {
  let M = load<i32>(job, 4), N = load<i32>(job, 8), K = load<i32>(job, 12);
  let a = load<usize>(job, 16), sam = load<i32>(job, 20), sak = load<i32>(job, 24);
  let b = load<usize>(job, 28), sbk = load<i32>(job, 32), sbn = load<i32>(job, 36);
  let c = load<usize>(job, 40), accumulate = load<i32>(job, 44) != 0;
  if (M >= N) {
    let range = partRange(M, MR, part, parts), lo = <i32>range, hi = <i32>(range >> 32);
    if (lo < hi) blocked(hi - lo, N, K, a + (<usize>(lo * sam) << 2), sam, sak, b, sbk, sbn, c + (<usize>(lo * N) << 2), N, accumulate);
  } else {
    let range = partRange(N, NR, part, parts), lo = <i32>range, hi = <i32>(range >> 32);
    if (lo < hi) blocked(M, hi - lo, K, a, sam, sak, b + (<usize>(lo * sbn) << 2), sbk, sbn, c + (<usize>lo << 2), N, accumulate);
  }
}

/** The blocked product of gemm (M, N ≥ 1, K ≥ 1) into C with row stride ldc. */
function blocked(M: i32, N: i32, K: i32, a: usize, sam: i32, sak: i32, b: usize, sbk: i32, sbn: i32, c: usize, ldc: i32, accumulate: bool): void {
  let nBlock = balanced(N, NC, NR), kBlock = balanced(K, KC, 4), mBlock = balanced(M, MC, MR);
  // A product of one block reads an operand in place where it lies as the micro-kernel reads it
  // (A's MR values at each k adjacent, or A row-major; B's NR columns adjacent): the block's few
  // tiles reuse a panel too little to pay for packing it (batched attention products, K or N 16).
  // Row-major A keeps its row stride in a register (a slower loop), so only while at most 8
  // column strips reuse it. Whole strips only (M a multiple of MR, N of NR/2): no read overruns.
  let one = M <= MC && N <= NC && K <= KC;
  let rowA = one && sak == 1 && M % MR == 0 && N <= 8 * NR && N % NR == 0;
  let inA = one && sam == 1 && M % MR == 0 || rowA, inB = one && sbn == 1 && N % (NR / 2) == 0;
  let aStep: usize = inA ? <usize>sak << 2 : MR << 2, aRow: usize = inA ? <usize>sam << 2 : 4;
  let bStep: usize = inB ? <usize>sbk << 2 : NR << 2;
  for (let n0 = 0; n0 < N; n0 += nBlock) {
    let nc = min(nBlock, N - n0);
    for (let k0 = 0; k0 < K; k0 += kBlock) {
      let kc = min(kBlock, K - k0);
      let add = accumulate || k0 > 0;
      if (!inB) packCols(b, sbk, sbn, k0, kc, n0, nc);
      for (let m0 = 0; m0 < M; m0 += mBlock) {
        let mc = min(mBlock, M - m0);
        if (!inA) packRows(a, sam, sak, m0, mc, k0, kc);
        let aStrip: usize = inA ? <usize>(MR * sam) << 2 : <usize>(MR * kc) << 2, cStrip = <usize>(MR * ldc) << 2;
        for (let j = 0; j < nc; j += NR) {
          let pb = inB ? b + (<usize>(k0 * sbk + n0 + j) << 2) : packB + (<usize>(j * kc) << 2);
          let cols = min(NR, nc - j);
          let pa = inA ? a + (<usize>(m0 * sam + k0 * sak) << 2) : packA;
          let pc = c + (<usize>(m0 * ldc + n0 + j) << 2);
          for (let i = 0; i < mc; i += MR, pa += aStrip, pc += cStrip) {
            microKernel(pa, aStep, aRow, pb, bStep, kc, pc, ldc, min(MR, mc - i), cols, add);
          }
        }
      }
    }
  }
}

// Batch offsets (in elements) of a and b for each output batch index, under broadcasting.
const batchCounter: usize = memory.data(MAX_RANK * 4, 16);

/** Calls `body` for each batch: kind 0 forward, 1 grad of a, 2 grad of b. */
function forEachBatch(rec: usize, kind: i32): void {
  let a = load<i32>(rec, IN_A), b = load<i32>(rec, IN_B), out = load<i32>(rec, OUT);
  let M = attr(rec, 0), K = attr(rec, 1), N = attr(rec, 2), batches = attr(rec, 3), nb = attr(rec, 4);
  let transB = attr(rec, 5) != 0;
  let bias = load<i32>(rec, IN_C);
  // B[k, n] = b[k*sbk + n*sbn]
  let sbk = transB ? 1 : N, sbn = transB ? K : 1;
  let ra = rankOf(a), rb = rankOf(b);
  let abatch = ra > 2 ? ra - 2 : 0, bbatch = rb > 2 ? rb - 2 : 0;
  let sa = shapePtr(a), sb = shapePtr(b), so = shapePtr(out);
  let pa = dataPtr(a), pb = dataPtr(b), po = dataPtr(out);
  let ga: usize = 0, gb: usize = 0, go: usize = 0;
  if (kind == 1) { ga = gradFor(a); go = gradPtr(out); if (!ga) return; }
  if (kind == 2) { gb = gradFor(b); go = gradPtr(out); if (!gb) return; }
  if (bbatch == 0 && abatch == nb && M > 1 && N > 1) {
    // One matrix b for every batch (a linear layer over [B, T, K]) and a stacked whole: the batches
    // are the row blocks of one [batches·M, K] product, which splits over threads as one gemm
    M *= batches;
    batches = 1;
    nb = 0;
  }
  memory.fill(batchCounter, 0, <usize>MAX_RANK << 2);
  for (let t = 0; t < batches; t++) {
    // offsets of this batch in a and b: walk the out batch index right-aligned onto each
    let offA = 0, offB = 0, strideA = M * K, strideB = K * N;
    for (let d = nb - 1; d >= 0; d--) {
      let idx = load<i32>(batchCounter + (<usize>d << 2));
      let da = d - (nb - abatch), db = d - (nb - bbatch);
      if (da >= 0) { let n = load<i32>(sa + (<usize>da << 2)); if (n > 1) offA += idx * strideA; strideA *= n; }
      if (db >= 0) { let n = load<i32>(sb + (<usize>db << 2)); if (n > 1) offB += idx * strideB; strideB *= n; }
    }
    let offC = t * M * N;
    let A = pa + (<usize>offA << 2), B = pb + (<usize>offB << 2);
    let dC = go + (<usize>offC << 2);
    if (kind == 0) {
      let C = po + (<usize>offC << 2);
      if (bias >= 0) { // start every row of C from the bias, then accumulate A·B onto it
        for (let m = 0; m < M; m++) memory.copy(C + (<usize>(m * N) << 2), dataPtr(bias), <usize>N << 2);
      }
      gemm(M, N, K, A, K, 1, B, sbk, sbn, C, bias >= 0);
    }
    else if (kind == 1) gemm(M, K, N, dC, N, 1, B, sbn, sbk, ga + (<usize>offA << 2), true);   // dA += dC·Bᵀ
    else if (transB) gemm(N, K, M, dC, 1, N, A, K, 1, gb + (<usize>offB << 2), true);            // dbᵀ: db += dCᵀ·A
    else gemm(K, N, M, A, 1, K, dC, N, 1, gb + (<usize>offB << 2), true);                        // dB += Aᵀ·dC
    // next out batch index
    for (let d = nb - 1; d >= 0; d--) {
      let p = batchCounter + (<usize>d << 2);
      let v = load<i32>(p) + 1;
      if (v < load<i32>(so + (<usize>d << 2))) { store<i32>(p, v); break; }
      store<i32>(p, 0);
    }
  }
}

export function matmulForward(rec: usize): void {
  forEachBatch(rec, 0);
}

export function matmulBackward(rec: usize): void {
  if (requiresGrad(load<i32>(rec, IN_A))) forEachBatch(rec, 1);
  if (requiresGrad(load<i32>(rec, IN_B))) forEachBatch(rec, 2);
  let bias = load<i32>(rec, IN_C);
  if (bias >= 0 && requiresGrad(bias)) biasBackward(rec, bias);
}

/** dbias[n] += Σ dC[r, n] over every row r of every batch. */
function biasBackward(rec: usize, bias: i32): void {
  let gb = gradFor(bias);
  if (!gb) return;
  let N = attr(rec, 2), rows = attr(rec, 0) * attr(rec, 3);
  let dC = gradPtr(load<i32>(rec, OUT));
  for (let r = 0; r < rows; r++) {
    let row = dC + (<usize>(r * N) << 2);
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      let p = gb + (<usize>j << 2);
      v128.store(p, f32x4.add(v128.load(p), v128.load(row + (<usize>j << 2))));
    }
    for (; j < N; j++) {
      let p = gb + (<usize>j << 2);
      store<f32>(p, load<f32>(p) + load<f32>(row + (<usize>j << 2)));
    }
  }
}
