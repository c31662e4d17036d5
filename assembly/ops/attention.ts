// Fused scaled dot-product attention, FlashAttention-2 style: the L×S score matrix is never
// stored. Queries go in tiles of BQ rows, keys in tiles of BK (a K/V tile stays in L1 while the
// query tile walks it); each query row keeps a running max m, sum l and accumulator acc:
//
//   s_j  = scale·q_i·k_j + mask_ij           (−∞ for j > i when causal: PyTorch 2's top-left alignment)
//   m'   = max(m, max_j s_j),   c = e^(m − m'),   p_j = e^(s_j − m')
//   l    ← l·c + Σ_j p_j,       acc ← acc·c + Σ_j p_j·z_j·v_j,   m ← m'
//   o_i  = acc / l,             lse_i = m + log l                 (kept for backward)
//
// Backward recomputes each tile's p_ij = e^(s_ij − lse_i), with D_i = dO_i·o_i:
//
//   dv_j += p_ij z_ij dO_i,   dp_ij = z_ij dO_i·v_j,   ds_ij = p_ij (dp_ij − D_i)
//   dq_i += scale ds_ij k_j,  dk_j  += scale ds_ij q_i
//
// z_ij is dropout on the probabilities: 0 with probability p, else 1/(1 − p), drawn from a hash of
// (seed, b, i, j) so backward regenerates the same mask in any tile order. A row with no allowed key
// gives NaN (0/0), as PyTorch's softmax of an all −∞ row does; S = 0 gives zeros, as its empty matmul.
// Key tiles wholly above a causal diagonal are never visited.
//
// main record: out = o [B.., L, Ev], a = q [B.., L, E], b = k [B.., S, E], c = v [B.., S, Ev],
//   i0 = additive mask node (broadcastable to [B.., L, S]) or -1, i1 = stats node,
//   i2 = 1 when causal, i3 = dropout p as f32 bits, i4 = PART_MAIN, f0 = scale
// hold record, appended right after on the same output: a = mask or -1, b = stats, c = an input that
//   requires grad (so it is recorded exactly when the main record is) or -1, i4 = PART_HOLD.
//   It runs nothing: it holds the mask and stats nodes (refs, traces) for as long as the graph lives.
//
//   stats ┌──────────────────────────┬───────┬───────┐
//         │ lse [B·L]                │ seed  │ seed  │  the dropout seed's two u32 halves, as bits
//         └──────────────────────────┴───────┴───────┘
//         0                          B·L     +1      +2

import { dataPtr, rankOf, dim, requiresGrad, gradPtr, gradFor } from "../nodes";
import { OUT, IN_A, IN_B, IN_C, attr, fattr } from "../tape";
import { scratchFor } from "../scratch";
import { nextSeed, uniformAt } from "../random";
import { expV } from "./vmath";

// @ts-ignore: decorator
@inline const PART_MAIN: i32 = 0;
// @ts-ignore: decorator
@inline const BQ: i32 = 32;

// @ts-ignore: decorator
@inline function at(base: usize, index: i32): usize { return base + (<usize>index << 2); }

// The geometry of the current record, read once per kernel call.
let B = 0, L = 0, S = 0, S4 = 0, E = 0, Ev = 0, BK = 0, causal = false, scale: f32 = 0, drop: f32 = 0, keep: f32 = 1, seed: u64 = 0;
let q: usize = 0, k: usize = 0, v: usize = 0, o: usize = 0, lse: usize = 0;
let mask = -1, maskRows = 0, maskCols = 0, maskMatrix = 0;
let rank = 0, qNode = 0;
/** Scratch: Kᵀ and Vᵀ of one batch item (E × S4, Ev × S4), one tile row of scores and a second row. */
let kT: usize = 0, vT: usize = 0, sRow: usize = 0, tRow: usize = 0, rowState: usize = 0;

function readGeometry(rec: usize): bool {
  let qn = load<i32>(rec, IN_A), kn = load<i32>(rec, IN_B), vn = load<i32>(rec, IN_C);
  qNode = qn;
  rank = rankOf(qn);
  L = dim(qn, rank - 2); E = dim(qn, rank - 1); S = dim(kn, rank - 2); Ev = dim(vn, rank - 1);
  B = 1;
  for (let d = 0; d < rank - 2; d++) B *= dim(qn, d);
  S4 = (S + 3) & ~3;
  BK = min(max((6144 / max(E + Ev, 1)) & ~3, 16), 256);
  causal = attr(rec, 2) != 0;
  scale = fattr(rec, 0);
  drop = reinterpret<f32>(attr(rec, 3));
  keep = 1 / (1 - drop);
  q = dataPtr(qn); k = dataPtr(kn); v = dataPtr(vn); o = dataPtr(load<i32>(rec, OUT));
  lse = dataPtr(attr(rec, 1));
  mask = attr(rec, 0);
  if (mask >= 0) {
    maskRows = maskDim(rank - 2) == 1 ? 0 : maskDim(rank - 1);
    maskCols = maskDim(rank - 1) == 1 ? 0 : 1;
    maskMatrix = maskDim(rank - 2) * maskDim(rank - 1);
  }
  // room for backward's buffers too, asked for here: backward then allocates nothing
  let bytes = (<usize>(E + Ev) * <usize>S4 + <usize>max(L, BQ * (Ev + 2)) + <usize>(2 * BK + 8)) << 2;
  let p = scratchFor(bytes);
  if (!p) return false;
  kT = p; vT = at(kT, E * S4); rowState = at(vT, Ev * S4);
  sRow = at(rowState, max(L, BQ * (Ev + 2))); tRow = at(sRow, BK + 4);
  return true;
}

/** The mask's extent along dim d of the output's [B.., L, S] (1 where it broadcasts). */
function maskDim(d: i32): i32 {
  let md = d - (rank - rankOf(mask));
  return md >= 0 ? dim(mask, md) : 1;
}

/** Offset of batch item b's [L, S] matrix in the mask. */
function maskBase(b: i32): i32 {
  let off = 0, stride = maskMatrix;
  for (let d = rank - 3; d >= 0; d--) {
    let n = dim(qNode, d), md = maskDim(d);
    if (md != 1) off += (b % n) * stride;
    b /= n;
    stride *= md;
  }
  return off;
}

/** dst[e·S4 + j] = src[j·n + e]: one batch item's keys (or values) transposed, zero-padded to S4 columns. */
function transposeInto(dst: usize, src: usize, n: i32): void {
  for (let e = 0; e < n; e++) {
    let row = at(dst, e * S4);
    for (let j = 0; j < S; j++) store<f32>(at(row, j), load<f32>(at(src, j * n + e)));
    for (let j = S; j < S4; j++) store<f32>(at(row, j), 0);
  }
}

/** out[j] = x·Mᵀ[:, j0 + j] for j < n (rounded up to 4): dot products of x (w floats) with n columns of a transposed tile. */
function dotsInto(out: usize, x: usize, mT: usize, w: i32, j0: i32, n: i32): void {
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
    let col = at(mT, j0 + j);
    for (let e = 0; e < w; e++) {
      let xe = v128.load32_splat(at(x, e)), p = at(col, e * S4);
      acc0 = f32x4.add(acc0, f32x4.mul(xe, v128.load(p)));
      acc1 = f32x4.add(acc1, f32x4.mul(xe, v128.load(p, 16)));
    }
    v128.store(at(out, j), acc0);
    v128.store(at(out, j + 4), acc1);
  }
  for (; j < n; j += 4) {
    let acc = f32x4.splat(0);
    let col = at(mT, j0 + j);
    for (let e = 0; e < w; e++) acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(at(x, e)), v128.load(at(col, e * S4))));
    v128.store(at(out, j), acc);
  }
}

/** Row i's scores against keys j0 .. j0 + n into sRow (lanes past n up to a multiple of 4: −∞); returns their max. */
function scoresInto(qi: usize, mrow: usize, j0: i32, n: i32): f32 {
  dotsInto(sRow, qi, kT, E, j0, n);
  let sc = f32x4.splat(scale), best = f32x4.splat(-Infinity);
  let full = n & ~3;
  for (let j = 0; j < full; j += 4) {
    let s = f32x4.mul(v128.load(at(sRow, j)), sc);
    if (mask >= 0) s = f32x4.add(s, maskCols ? v128.load(at(mrow, j0 + j)) : v128.load32_splat(mrow));
    v128.store(at(sRow, j), s);
    best = f32x4.max(best, s);
  }
  let m = max(max(f32x4.extract_lane(best, 0), f32x4.extract_lane(best, 1)), max(f32x4.extract_lane(best, 2), f32x4.extract_lane(best, 3)));
  for (let j = full; j < full + 4; j++) {
    let s: f32 = -Infinity;
    if (j < n) {
      s = load<f32>(at(sRow, j)) * scale;
      if (mask >= 0) s += load<f32>(at(mrow, (j0 + j) * maskCols));
      m = max(m, s);
    }
    store<f32>(at(sRow, j), s);
  }
  return m;
}

/** sRow[j] = e^(sRow[j] − base) for the n scores (and the −∞ lanes after them); returns their sum. */
function expRow(n: i32, base: f32): f32 {
  let bv = f32x4.splat(base), sum = f32x4.splat(0);
  for (let j = 0; j < n; j += 4) {
    let p = expV(f32x4.sub(v128.load(at(sRow, j)), bv));
    v128.store(at(sRow, j), p);
    sum = f32x4.add(sum, p);
  }
  return (f32x4.extract_lane(sum, 0) + f32x4.extract_lane(sum, 1)) + (f32x4.extract_lane(sum, 2) + f32x4.extract_lane(sum, 3));
}

/** y += a·x over n floats. */
// @ts-ignore: decorator
@inline function axpy(y: usize, x: usize, n: i32, a: f32): void {
  let av = f32x4.splat(a);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(at(y, i), f32x4.add(v128.load(at(y, i)), f32x4.mul(av, v128.load(at(x, i)))));
  for (; i < n; i++) store<f32>(at(y, i), load<f32>(at(y, i)) + a * load<f32>(at(x, i)));
}

/** The dropout factor z of score (b, i, j): 0 or 1/(1 − p). */
// @ts-ignore: decorator
@inline function dropFactor(b: i32, i: i32, j: i32): f32 {
  return uniformAt(seed, (<u64>b * <u64>L + <u64>i) * <u64>S + <u64>j) < drop ? 0 : keep;
}

/** The keys row i of a query tile sees in key tile [j0, j1): causal rows stop at the diagonal. */
// @ts-ignore: decorator
@inline function keysOf(i: i32, j0: i32, j1: i32): i32 { return (causal ? min(j1, i + 1) : j1) - j0; }

export function attentionForward(rec: usize): void {
  if (attr(rec, 4) != PART_MAIN || !readGeometry(rec)) return;
  if (drop > 0) { seed = nextSeed(); store<u64>(at(lse, B * L), seed); }
  let acc = rowState, mAt = at(rowState, BQ * Ev), lAt = at(mAt, BQ);
  let maskData: usize = mask >= 0 ? dataPtr(mask) : 0;
  for (let b = 0; b < B; b++) {
    let qb = at(q, b * L * E), vb = at(v, b * S * Ev), ob = at(o, b * L * Ev), lb = at(lse, b * L);
    let mb = mask >= 0 ? at(maskData, maskBase(b)) : 0;
    transposeInto(kT, at(k, b * S * E), E);
    for (let i0 = 0; i0 < L; i0 += BQ) {
      let rows = min(BQ, L - i0);
      memory.fill(acc, 0, <usize>(rows * Ev) << 2);
      for (let r = 0; r < rows; r++) { store<f32>(at(mAt, r), -Infinity); store<f32>(at(lAt, r), 0); }
      for (let j0 = 0; j0 < S && !(causal && j0 >= i0 + rows); j0 += BK) {
        let j1 = min(S, j0 + BK);
        for (let r = 0; r < rows; r++) {
          let i = i0 + r, n = keysOf(i, j0, j1);
          if (n <= 0) continue;
          let mOld = load<f32>(at(mAt, r));
          let mNew = max(mOld, scoresInto(at(qb, i * E), at(mb, i * maskRows), j0, n));
          let base: f32 = mNew == -Infinity ? 0 : mNew; // nothing allowed yet: every p is 0
          let c = Mathf.exp(mOld - base);
          store<f32>(at(lAt, r), load<f32>(at(lAt, r)) * c + expRow(n, base));
          store<f32>(at(mAt, r), mNew);
          let accRow = at(acc, r * Ev);
          if (c != 1) for (let e = 0; e < Ev; e++) store<f32>(at(accRow, e), load<f32>(at(accRow, e)) * c);
          for (let j = 0; j < n; j++) {
            let p = load<f32>(at(sRow, j));
            if (drop > 0) p *= dropFactor(b, i, j0 + j);
            axpy(accRow, at(vb, (j0 + j) * Ev), Ev, p);
          }
        }
      }
      for (let r = 0; r < rows; r++) {
        let l = load<f32>(at(lAt, r));
        let inv: f32 = S == 0 ? 0 : 1 / l; // no keys: PyTorch's empty matmul gives 0; all masked: 0/0
        let accRow = at(acc, r * Ev), oRow = at(ob, (i0 + r) * Ev);
        for (let e = 0; e < Ev; e++) store<f32>(at(oRow, e), load<f32>(at(accRow, e)) * inv);
        store<f32>(at(lb, i0 + r), load<f32>(at(mAt, r)) + Mathf.log(l));
      }
    }
  }
}

export function attentionBackward(rec: usize): void {
  if (attr(rec, 4) != PART_MAIN) return;
  let qn = load<i32>(rec, IN_A), kn = load<i32>(rec, IN_B), vn = load<i32>(rec, IN_C);
  let gq: usize = requiresGrad(qn) ? gradFor(qn) : 0;
  let gk: usize = requiresGrad(kn) ? gradFor(kn) : 0;
  let gv: usize = requiresGrad(vn) ? gradFor(vn) : 0;
  if ((!gq && !gk && !gv) || !readGeometry(rec)) return;
  if (drop > 0) seed = load<u64>(at(lse, B * L));
  let g = gradPtr(load<i32>(rec, OUT)), dAt = rowState;
  let maskData: usize = mask >= 0 ? dataPtr(mask) : 0;
  for (let b = 0; b < B; b++) {
    let qb = at(q, b * L * E), kb = at(k, b * S * E), vb = at(v, b * S * Ev), ob = at(o, b * L * Ev), gb = at(g, b * L * Ev);
    let lb = at(lse, b * L), mb = mask >= 0 ? at(maskData, maskBase(b)) : 0;
    transposeInto(kT, kb, E);
    transposeInto(vT, vb, Ev);
    for (let i = 0; i < L; i++) {
      let d: f32 = 0;
      for (let e = 0; e < Ev; e++) d += load<f32>(at(gb, i * Ev + e)) * load<f32>(at(ob, i * Ev + e));
      store<f32>(at(dAt, i), d);
    }
    for (let i0 = 0; i0 < L; i0 += BQ) {
      let rows = min(BQ, L - i0);
      for (let j0 = 0; j0 < S && !(causal && j0 >= i0 + rows); j0 += BK) {
        let j1 = min(S, j0 + BK);
        for (let r = 0; r < rows; r++) {
          let i = i0 + r, n = keysOf(i, j0, j1);
          if (n <= 0) continue;
          let qi = at(qb, i * E), gi = at(gb, i * Ev), di = load<f32>(at(dAt, i));
          scoresInto(qi, at(mb, i * maskRows), j0, n);
          expRow(n, load<f32>(at(lb, i)));
          dotsInto(tRow, gi, vT, Ev, j0, n);
          for (let j = 0; j < n; j++) {
            let p = load<f32>(at(sRow, j)), z: f32 = drop > 0 ? dropFactor(b, i, j0 + j) : 1;
            let jj = (b * S + j0 + j);
            if (gv) axpy(at(gv, jj * Ev), gi, Ev, p * z);
            let ds = p * (load<f32>(at(tRow, j)) * z - di) * scale;
            if (gq) axpy(at(gq, (b * L + i) * E), at(kb, (j0 + j) * E), E, ds);
            if (gk) axpy(at(gk, jj * E), qi, E, ds);
          }
        }
      }
    }
  }
}
