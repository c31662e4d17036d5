// Matrix product with PyTorch's rules: 1-D and 2-D operands, and batches whose batch dims
// broadcast. One blocked SIMD kernel, `gemm`, serves the forward and both gradients: operands are
// read through (row, col) strides, so dA = dC·Bᵀ and dB = Aᵀ·dC never materialise a transpose.
//
// record: a, b = operands, i0 = M, i1 = K, i2 = N, i3 = batch count (product of out's batch dims),
//         i4 = number of out batch dims, i5 = 1 when b is stored transposed (an N×K weight, as
//         nn.Linear keeps it). A 1-D a is a 1×K row, a 1-D b a K×1 column.

import { dataPtr, rankOf, shapePtr, requiresGrad, gradPtr, gradFor, MAX_RANK } from "../nodes";
import { alloc } from "../alloc";
import { OUT, IN_A, IN_B, attr } from "../tape";

// Register tile of the micro-kernel (rows × columns of C) and cache blocks.
// @ts-ignore: decorator
@inline const MR: i32 = 4;
// @ts-ignore: decorator
@inline const NR: i32 = 8;
// @ts-ignore: decorator
@inline const KC: i32 = 256;
// @ts-ignore: decorator
@inline const MC: i32 = 64;
// @ts-ignore: decorator
@inline const NC: i32 = 512;

// Packed panels: A as MC/MR strips of [KC][MR], B as NC/NR strips of [KC][NR], zero-padded.
let packA: usize = 0;
let packB: usize = 0;
const edgeTile: usize = memory.data(MR * NR * 4, 16);

// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** Packs rows [m0, m0+mc) × cols [k0, k0+kc) of A (strides sm, sk) into MR-row strips. */
function packRows(a: usize, sm: i32, sk: i32, m0: i32, mc: i32, k0: i32, kc: i32): void {
  for (let s = 0; s < mc; s += MR) {
    let strip = packA + (<usize>(s * kc) << 2);
    for (let r = 0; r < MR; r++) {
      let m = s + r;
      let dst = strip + (<usize>r << 2);
      if (m < mc) {
        let src = a + (<usize>((m0 + m) * sm + k0 * sk) << 2);
        for (let k = 0; k < kc; k++) store<f32>(dst + (<usize>(k * MR) << 2), load<f32>(src + (<usize>(k * sk) << 2)));
      } else {
        for (let k = 0; k < kc; k++) store<f32>(dst + (<usize>(k * MR) << 2), 0);
      }
    }
  }
}

/** Packs rows [k0, k0+kc) × cols [n0, n0+nc) of B (strides sk, sn) into NR-column strips. */
function packCols(b: usize, sk: i32, sn: i32, k0: i32, kc: i32, n0: i32, nc: i32): void {
  for (let s = 0; s < nc; s += NR) {
    let strip = packB + (<usize>(s * kc) << 2);
    let cols = min(NR, nc - s);
    for (let k = 0; k < kc; k++) {
      let dst = strip + (<usize>(k * NR) << 2);
      let src = b + (<usize>((k0 + k) * sk + (n0 + s) * sn) << 2);
      if (cols == NR && sn == 1) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
      } else {
        for (let j = 0; j < NR; j++) store<f32>(dst + (<usize>j << 2), j < cols ? load<f32>(src + (<usize>(j * sn) << 2)) : 0);
      }
    }
  }
}

/** C[MR×NR] (+)= Apanel · Bpanel over kc; a partial tile goes through edgeTile. */
// @ts-ignore: decorator
@inline function microKernel(pa: usize, pb: usize, kc: i32, c: usize, ldc: i32, rows: i32, cols: i32, add: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    let b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let a0 = v128.load32_splat(pa), a1 = v128.load32_splat(pa, 4);
    let a2 = v128.load32_splat(pa, 8), a3 = v128.load32_splat(pa, 12);
    c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
    c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
    c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
    c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
    pa += MR << 2;
    pb += NR << 2;
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

function ensurePacks(): bool {
  if (!packA) packA = alloc(<usize>(MC * KC) << 2);
  if (!packB) packB = alloc(<usize>(NC * KC) << 2);
  return packA != 0 && packB != 0;
}

/**
 * C[M×N] (row-major, ldc = N) = or += A·B, where A[m,k] = a[m*sam + k*sak] and
 * B[k,n] = b[k*sbk + n*sbn].
 */
export function gemm(M: i32, N: i32, K: i32, a: usize, sam: i32, sak: i32, b: usize, sbk: i32, sbn: i32, c: usize, accumulate: bool): void {
  if (K == 0) { if (!accumulate) memory.fill(c, 0, <usize>(M * N) << 2); return; }
  if (!ensurePacks()) return;
  for (let n0 = 0; n0 < N; n0 += NC) {
    let nc = min(NC, N - n0);
    for (let k0 = 0; k0 < K; k0 += KC) {
      let kc = min(KC, K - k0);
      let add = accumulate || k0 > 0;
      packCols(b, sbk, sbn, k0, kc, n0, nc);
      for (let m0 = 0; m0 < M; m0 += MC) {
        let mc = min(MC, M - m0);
        packRows(a, sam, sak, m0, mc, k0, kc);
        for (let j = 0; j < nc; j += NR) {
          let pb = packB + (<usize>(j * kc) << 2);
          let cols = min(NR, nc - j);
          for (let i = 0; i < mc; i += MR) {
            let pa = packA + (<usize>(i * kc) << 2);
            microKernel(pa, pb, kc, c + (<usize>((m0 + i) * N + n0 + j) << 2), N, min(MR, mc - i), cols, add);
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
  // B[k, n] = b[k*sbk + n*sbn]
  let sbk = transB ? 1 : N, sbn = transB ? K : 1;
  let ra = rankOf(a), rb = rankOf(b);
  let abatch = ra > 2 ? ra - 2 : 0, bbatch = rb > 2 ? rb - 2 : 0;
  let sa = shapePtr(a), sb = shapePtr(b), so = shapePtr(out);
  let pa = dataPtr(a), pb = dataPtr(b), po = dataPtr(out);
  let ga: usize = 0, gb: usize = 0, go: usize = 0;
  if (kind == 1) { ga = gradFor(a); go = gradPtr(out); if (!ga) return; }
  if (kind == 2) { gb = gradFor(b); go = gradPtr(out); if (!gb) return; }
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
    if (kind == 0) gemm(M, N, K, A, K, 1, B, sbk, sbn, po + (<usize>offC << 2), false);
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
}
