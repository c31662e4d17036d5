// Fused scaled dot-product attention, FlashAttention-2 style: the L×S score matrix is never
// stored. Queries go in tiles of BQ rows, keys in tiles of BK; each tile's products run through
// the blocked gemm (ops/matmul.ts, read through strides: no transposes), and each query row keeps
// a running max m, sum l and accumulator acc:
//
//   s_j  = scale·q_i·k_j + mask_ij           (−∞ for j > i when causal: PyTorch 2's top-left alignment)
//   m'   = max(m, max_j s_j),   c = e^(m − m'),   p_j = e^(s_j − m')
//   l    ← l·c + Σ_j p_j,       acc ← acc·c + Σ_j p_j·z_j·v_j,   m ← m'
//   o_i  = acc / l,             lse_i = m + log l                 (kept for backward)
//
// Backward recomputes each tile's p_ij = e^(s_ij − lse_i), with D_i = dO_i·o_i:
//
//   dv_j += p_ij z_ij dO_i,   dp_ij = z_ij dO_i·v_j,   ds_ij = p_ij (dp_ij − D_i)
//   dq_i += scale ds_ij k_j,  dk_j  += scale ds_ij q_i,   dmask_ij += ds_ij (summed where it broadcasts)
//
// z_ij is dropout on the probabilities: 0 with probability p, else 1/(1 − p), drawn from a hash of
// (seed, b, i, j) so backward regenerates the same mask in any tile order. A row with no allowed key
// gives NaN (0/0), as PyTorch's softmax of an all −∞ row does; S = 0 gives zeros, as its empty matmul.
// Causal query tiles stop at their last row's diagonal: tiles above it are never visited.
//
// main record: out = o [B.., L, Ev], a = q [B.., L, E], b = k [B.., S, E], c = v [B.., S, Ev],
//   i0 = additive mask node (broadcastable to [B.., L, S]) or -1, i1 = stats node,
//   i2 = 1 when causal, i3 = dropout p as f32 bits, i4 = PART_MAIN, f0 = scale
// hold record, appended right after on the same output: a = mask or -1, b = stats, c = an input that
//   requires grad (so it is recorded exactly when the main record is) or -1, i4 = 1 (not PART_MAIN).
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
import { gemm } from "./matmul";
import { job, JOB_ATTENTION, partsFor, runParallel, partRange } from "../parallel";

// @ts-ignore: decorator
@inline const PART_MAIN: i32 = 0;
// Tiles: a BQ × BK score tile and its dP twin are 8 KB each, and a BK-key slice of K and of V is
// 4 KB per 16 of E: with the GPT's E = 16 everything a tile touches stays in L1.
// @ts-ignore: decorator
@inline const BQ: i32 = 32;
// @ts-ignore: decorator
@inline const BK: i32 = 64;

// @ts-ignore: decorator
@inline function at(base: usize, index: i32): usize { return base + (<usize>index << 2); }

// The geometry of the current record, read once per kernel call.
let B = 0, L = 0, S = 0, E = 0, Ev = 0, causal = false, scale: f32 = 0, drop: f32 = 0, keep: f32 = 1, seed: u64 = 0;
let q: usize = 0, k: usize = 0, v: usize = 0, o: usize = 0, lse: usize = 0;
let mask = -1, maskRows = 0, maskCols = 0, maskMatrix = 0;
let rank = 0, qNode = 0;
/** Scratch: a BQ × BK tile of scores (then probabilities), a second one (dP, then dS), and per-row state. */
let sTile: usize = 0, dTile: usize = 0, rowState: usize = 0;
/** How many scores of the row prepareRow last wrote are left of the causal diagonal. */
let allowed = 0;

function readGeometry(rec: usize): void {
  let qn = load<i32>(rec, IN_A), kn = load<i32>(rec, IN_B), vn = load<i32>(rec, IN_C);
  qNode = qn;
  rank = rankOf(qn);
  L = dim(qn, rank - 2); E = dim(qn, rank - 1); S = dim(kn, rank - 2); Ev = dim(vn, rank - 1);
  B = 1;
  for (let d = 0; d < rank - 2; d++) B *= dim(qn, d);
  causal = attr(rec, 2) != 0;
  scale = fattr(rec, 0);
  drop = reinterpret<f32>(attr(rec, 3));
  keep = 1 / (1 - drop);
  q = dataPtr(qn); k = dataPtr(kn); v = dataPtr(vn); o = dataPtr(load<i32>(rec, OUT));
  lse = dataPtr(attr(rec, 1));
  if (drop > 0) seed = load<u64>(at(lse, B * L));
  mask = attr(rec, 0);
  if (mask >= 0) {
    let rows = maskDim(rank - 2), cols = maskDim(rank - 1);
    maskRows = rows == 1 ? 0 : cols;
    maskCols = cols == 1 ? 0 : 1;
    maskMatrix = rows * cols;
  }
}

/** Floats of scratch a part uses: two tiles and its row state (backward's D needs L). */
// @ts-ignore: decorator
@inline function partScratch(): i32 { return 2 * BQ * BK + max(L, BQ * (Ev + 2)); }

/** Multiply-adds in an attention part, at the least. */
// @ts-ignore: decorator
@inline const ATTENTION_GRAIN: i64 = 1 << 19;

/**
 * Runs forward (or backward) over the batch items, split over threads by batch item: each item
 * is one part's alone, computed as it would be with one thread. Scratch for every part is taken
 * here, on the main thread (forward asks for backward's room too: backward then allocates nothing).
 */
function attentionJob(rec: usize, backward: bool): void {
  let parts = partsFor(<i64>B * L * S * (E + Ev), ATTENTION_GRAIN);
  if (parts > B) parts = max(B, 1);
  if (backward && mask >= 0 && requiresGrad(mask)) parts = 1; // batch items add into one mask gradient
  let scratch = scratchFor(<usize>(parts * partScratch()) << 2);
  if (!scratch) return;
  if (parts == 1) { attentionRun(rec, backward, scratch, 0, 1); return; } // (the job record may be another part's)
  store<i32>(job, JOB_ATTENTION);
  store<usize>(job, rec, 4); store<i32>(job, backward, 8); store<usize>(job, scratch, 12);
  runParallel(parts);
}

/** One part of attentionJob (its record as attentionJob writes it). */
export function attentionPart(job: usize, part: i32, parts: i32): void {
  attentionRun(load<usize>(job, 4), load<i32>(job, 8) != 0, load<usize>(job, 12), part, parts);
}

/** Part `part` of `parts` of forward or backward: a run of batch items, with its own scratch. */
function attentionRun(rec: usize, backward: bool, scratch: usize, part: i32, parts: i32): void {
  readGeometry(rec);
  let p = at(scratch, part * partScratch());
  sTile = p; dTile = at(p, BQ * BK); rowState = at(dTile, BQ * BK);
  let range = partRange(B, 1, part, parts), lo = <i32>range, hi = <i32>(range >> 32);
  if (backward) backwardItems(rec, lo, hi);
  else forwardItems(lo, hi);
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

/** The keys a query tile ending before row iEnd sees: all S, or up to its last row's diagonal. */
// @ts-ignore: decorator
@inline function keysEnd(iEnd: i32): i32 { return causal ? min(S, iEnd) : S; }

/**
 * Row i's nk raw scores q_i·k_j (j from j0) at s become scale·q_i·k_j + mask_ij up to the causal
 * diagonal (their count left in `allowed`, the rest untouched); returns their max.
 */
function prepareRow(s: usize, i: i32, mrow: usize, j0: i32, nk: i32): f32 {
  let n = causal ? max(0, min(nk, i + 1 - j0)) : nk;
  allowed = n;
  let sc = f32x4.splat(scale), best = f32x4.splat(-Infinity);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    let x = f32x4.mul(v128.load(at(s, j)), sc);
    if (mask >= 0) x = f32x4.add(x, maskCols ? v128.load(at(mrow, j0 + j)) : v128.load32_splat(mrow));
    v128.store(at(s, j), x);
    best = f32x4.max(best, x);
  }
  let m = max(max(f32x4.extract_lane(best, 0), f32x4.extract_lane(best, 1)), max(f32x4.extract_lane(best, 2), f32x4.extract_lane(best, 3)));
  for (; j < n; j++) {
    let x = load<f32>(at(s, j)) * scale;
    if (mask >= 0) x += load<f32>(at(mrow, (j0 + j) * maskCols));
    store<f32>(at(s, j), x);
    m = max(m, x);
  }
  return m;
}

/**
 * s[j] = e^(s[j] − base) for the `allowed` scores, 0 for the rest of the nk; returns their sum.
 * Exponents below −80 give exactly 0 (their share of a row is below 1e-34): expV would pass through
 * subnormals on the way to 0 for the −∞ of masked scores, which costs a hundred cycles a lane on x86.
 */
function expRow(s: usize, nk: i32, base: f32): f32 {
  let n = allowed;
  let bv = f32x4.splat(base), sum = f32x4.splat(0), low = f32x4.splat(-80);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    let x = f32x4.sub(v128.load(at(s, j)), bv);
    let p = v128.andnot(expV(f32x4.max(x, low)), f32x4.lt(x, low));
    v128.store(at(s, j), p);
    sum = f32x4.add(sum, p);
  }
  let total = (f32x4.extract_lane(sum, 0) + f32x4.extract_lane(sum, 1)) + (f32x4.extract_lane(sum, 2) + f32x4.extract_lane(sum, 3));
  for (; j < n; j++) {
    let x = load<f32>(at(s, j)) - base;
    let p: f32 = x < -80 ? 0 : Mathf.exp(x);
    store<f32>(at(s, j), p);
    total += p;
  }
  if (n < nk) memory.fill(at(s, n), 0, <usize>(nk - n) << 2);
  return total;
}

/** row[j] *= z_(b, i, j0 + j) for j < n: dropout's factor, 0 with probability p, else 1/(1 − p). */
function dropRow(row: usize, b: i32, i: i32, j0: i32, n: i32): void {
  let first = (<u64>b * <u64>L + <u64>i) * <u64>S + <u64>j0;
  for (let j = 0; j < n; j++) store<f32>(at(row, j), load<f32>(at(row, j)) * (uniformAt(seed, first + <u64>j) < drop ? 0 : keep));
}

export function attentionForward(rec: usize): void {
  if (attr(rec, 4) != PART_MAIN) return;
  readGeometry(rec);
  if (drop > 0) store<u64>(at(lse, B * L), nextSeed());
  attentionJob(rec, false);
}

function forwardItems(bLo: i32, bHi: i32): void {
  let acc = rowState, mAt = at(rowState, BQ * Ev), lAt = at(mAt, BQ);
  let maskData: usize = mask >= 0 ? dataPtr(mask) : 0;
  for (let b = bLo; b < bHi; b++) {
    let qb = at(q, b * L * E), kb = at(k, b * S * E), vb = at(v, b * S * Ev), ob = at(o, b * L * Ev), lb = at(lse, b * L);
    let mb = mask >= 0 ? at(maskData, maskBase(b)) : 0;
    for (let i0 = 0; i0 < L; i0 += BQ) {
      let rows = min(BQ, L - i0), jEnd = keysEnd(i0 + rows);
      memory.fill(acc, 0, <usize>(rows * Ev) << 2);
      for (let r = 0; r < rows; r++) { store<f32>(at(mAt, r), -Infinity); store<f32>(at(lAt, r), 0); }
      for (let j0 = 0; j0 < jEnd; j0 += BK) {
        let nk = min(BK, jEnd - j0);
        gemm(rows, nk, E, at(qb, i0 * E), E, 1, at(kb, j0 * E), 1, E, sTile, false); // s = q·kᵀ
        for (let r = 0; r < rows; r++) {
          let i = i0 + r, s = at(sTile, r * nk);
          let mOld = load<f32>(at(mAt, r));
          let mNew = max(mOld, prepareRow(s, i, at(mb, i * maskRows), j0, nk));
          let base: f32 = mNew == -Infinity ? 0 : mNew; // nothing allowed yet: every p is 0
          let c = Mathf.exp(mOld - base);
          store<f32>(at(lAt, r), load<f32>(at(lAt, r)) * c + expRow(s, nk, base));
          store<f32>(at(mAt, r), mNew);
          if (c != 1) for (let e = 0; e < Ev; e++) store<f32>(at(acc, r * Ev + e), load<f32>(at(acc, r * Ev + e)) * c);
          if (drop > 0) dropRow(s, b, i, j0, nk);
        }
        gemm(rows, Ev, nk, sTile, nk, 1, at(vb, j0 * Ev), Ev, 1, acc, true); // acc += p·v
      }
      for (let r = 0; r < rows; r++) {
        let l = load<f32>(at(lAt, r));
        let inv: f32 = S == 0 ? 0 : 1 / l; // no keys: PyTorch's empty matmul gives 0; all masked: 0/0
        for (let e = 0; e < Ev; e++) store<f32>(at(ob, (i0 + r) * Ev + e), load<f32>(at(acc, r * Ev + e)) * inv);
        store<f32>(at(lb, i0 + r), load<f32>(at(mAt, r)) + Mathf.log(l));
      }
    }
  }
}

export function attentionBackward(rec: usize): void {
  if (attr(rec, 4) != PART_MAIN) return;
  let qn = load<i32>(rec, IN_A), kn = load<i32>(rec, IN_B), vn = load<i32>(rec, IN_C), mn = attr(rec, 0);
  let gq: usize = requiresGrad(qn) ? gradFor(qn) : 0;
  let gk: usize = requiresGrad(kn) ? gradFor(kn) : 0;
  let gv: usize = requiresGrad(vn) ? gradFor(vn) : 0;
  let gm: usize = mn >= 0 && requiresGrad(mn) ? gradFor(mn) : 0;
  if (!gq && !gk && !gv && !gm) return;
  readGeometry(rec);
  attentionJob(rec, true);
}

/** Backward over batch items [bLo, bHi): the gradients were made by attentionBackward. */
function backwardItems(rec: usize, bLo: i32, bHi: i32): void {
  let qn = load<i32>(rec, IN_A), kn = load<i32>(rec, IN_B), vn = load<i32>(rec, IN_C);
  let gq: usize = requiresGrad(qn) ? gradPtr(qn) : 0;
  let gk: usize = requiresGrad(kn) ? gradPtr(kn) : 0;
  let gv: usize = requiresGrad(vn) ? gradPtr(vn) : 0;
  let g = gradPtr(load<i32>(rec, OUT)), dAt = rowState;
  let maskData: usize = mask >= 0 ? dataPtr(mask) : 0;
  let gm: usize = mask >= 0 && requiresGrad(mask) ? gradPtr(mask) : 0;
  for (let b = bLo; b < bHi; b++) {
    let qb = at(q, b * L * E), kb = at(k, b * S * E), vb = at(v, b * S * Ev), ob = at(o, b * L * Ev), gb = at(g, b * L * Ev);
    let lb = at(lse, b * L), mb = mask >= 0 ? at(maskData, maskBase(b)) : 0, gmb = gm ? at(gm, maskBase(b)) : 0;
    for (let i = 0; i < L; i++) { // D_i = dO_i·o_i
      let d: f32 = 0;
      for (let e = 0; e < Ev; e++) d += load<f32>(at(gb, i * Ev + e)) * load<f32>(at(ob, i * Ev + e));
      store<f32>(at(dAt, i), d);
    }
    for (let i0 = 0; i0 < L; i0 += BQ) {
      let rows = min(BQ, L - i0), jEnd = keysEnd(i0 + rows);
      for (let j0 = 0; j0 < jEnd; j0 += BK) {
        let nk = min(BK, jEnd - j0);
        gemm(rows, nk, E, at(qb, i0 * E), E, 1, at(kb, j0 * E), 1, E, sTile, false);        // s = q·kᵀ
        gemm(rows, nk, Ev, at(gb, i0 * Ev), Ev, 1, at(vb, j0 * Ev), 1, Ev, dTile, false);   // dP = dO·vᵀ
        for (let r = 0; r < rows; r++) {
          let i = i0 + r, s = at(sTile, r * nk), d = at(dTile, r * nk), di = load<f32>(at(dAt, i));
          prepareRow(s, i, at(mb, i * maskRows), j0, nk);
          expRow(s, nk, load<f32>(at(lb, i)));
          // d ← dS·scale = p (z·dP − D)·scale, then s ← p·z for dv
          if (drop > 0) dropRow(d, b, i, j0, nk);
          if (gm) {
            scoreGradsToMask(d, s, di, at(gmb, i * maskRows), j0, nk);
          } else {
            let dv = f32x4.splat(di), sc = f32x4.splat(scale);
            let j = 0;
            for (; j + 4 <= nk; j += 4) v128.store(at(d, j), f32x4.mul(f32x4.mul(v128.load(at(s, j)), f32x4.sub(v128.load(at(d, j)), dv)), sc));
            for (; j < nk; j++) store<f32>(at(d, j), load<f32>(at(s, j)) * (load<f32>(at(d, j)) - di) * scale);
          }
          if (drop > 0) dropRow(s, b, i, j0, nk);
        }
        if (gv) gemm(nk, Ev, rows, sTile, 1, nk, at(gb, i0 * Ev), Ev, 1, at(gv, (b * S + j0) * Ev), true); // dv += (p·z)ᵀ·dO
        if (gq) gemm(rows, E, nk, dTile, nk, 1, at(kb, j0 * E), E, 1, at(gq, (b * L + i0) * E), true);     // dq += dS·k
        if (gk) gemm(nk, E, rows, dTile, 1, nk, at(qb, i0 * E), E, 1, at(gk, (b * S + j0) * E), true);     // dk += dSᵀ·q
      }
    }
  }
}

/**
 * The same d[j] ← dS_ij·scale as the loop it replaces, dS_ij = p_ij (d[j] − D_i), after adding each
 * dS_ij into the mask's gradient row at `grow`: at key j0 + j, or into one element when the mask
 * broadcasts over keys.
 */
function scoreGradsToMask(d: usize, s: usize, di: f32, grow: usize, j0: i32, nk: i32): void {
  for (let j = 0; j < nk; j++) {
    let ds = load<f32>(at(s, j)) * (load<f32>(at(d, j)) - di);
    let gp = at(grow, (j0 + j) * maskCols);
    store<f32>(gp, load<f32>(gp) + ds);
    store<f32>(at(d, j), ds * scale);
  }
}
