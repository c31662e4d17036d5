// Recurrent layers: one LSTM or GRU layer in one direction as one op, the whole time loop in the
// core, forward and backward through time. The input projection x·W_ihᵀ + b_ih (+ b_hh for the
// LSTM) is one big matmul made by the façade before the op; the op runs the recurrence, per step
// one gemm h·W_hhᵀ ([B, H]·[H, G·H]) and the cell's elementwise math (PyTorch's gate order):
//
//   LSTM  a = xW_t + h·W_hhᵀ = [a_i a_f a_g a_o]     i, f, o = σ(a_i, a_f, a_o),  g = tanh(a_g)
//         c' = f·c + i·g,   h' = o·tanh(c')
//   GRU   a = xW_t (+ b_ih),  m = h·W_hhᵀ + b_hh = [m_r m_z m_n]
//         r = σ(a_r + m_r),  z = σ(a_z + m_z),  n = tanh(a_n + r·m_n),   h' = (1 − z)·n + z·h
//
// Backward walks the steps in reverse with dh (and dc) carried back:
//
//   LSTM  dc += dh·o·(1 − tanh²c'),   da_o = dh·tanh c'·o(1 − o),   da_i = dc·g·i(1 − i),
//         da_f = dc·c·f(1 − f),   da_g = dc·i·(1 − g²),   dc ← dc·f,   dh ← da·W_hh
//   GRU   dn = dh(1 − z),  da_n = dn(1 − n²),  da_z = dh(h − n)·z(1 − z),  da_r = da_n·m_n·r(1 − r),
//         dm = [da_r da_z da_n·r],   dh ← dh·z + dm·W_hh
//
// and the weight's gradient is one gemm over all steps at the end: dW_hh += Σ_t dm_tᵀ·h_(t−1).
// Every float operation runs in the same order on any thread count (gemm's promise), so results
// are bit-identical for 1..n threads.
//
// main record: out = LSTM: [2, T, B, H] (h_t for every t, then c_t) | GRU: [T, B, H] (h_t)
//   a = xW [T, B, G·H], b = W_hh [G·H, H], c = h0 [B, H] or -1 (zeros),
//   i0 = LSTM: c0 [B, H] | GRU: b_hh [3H], or -1 (zeros), i1 = saved node, i2 = 1 when reversed
//   (steps run t = T−1 … 0, as the backward direction of a bidirectional layer), i4 = PART_MAIN
// hold record, right after on the same output: a = i0's node or -1, b = saved, c = an input that
//   requires grad (so it is recorded exactly when the main record is), i4 = 1. It runs nothing: it
//   holds the two nodes (refs, versions, traces) as long as the graph lives (as attention's).
//
//   saved, per step t:  LSTM ┌──────┬──────┬──────┬──────┐   GRU ┌──────┬──────┬──────┬──────┐
//   [T, B, 4H]               │  i   │  f   │  g   │  o   │       │  r   │  z   │  n   │ m_n  │
//                            └──────┴──────┴──────┴──────┘       └──────┴──────┴──────┴──────┘
//                            0      H      2H     3H     4H      0      H      2H     3H     4H

import { dataPtr, dim, requiresGrad, gradPtr, gradFor } from "../nodes";
import { OUT, IN_A, IN_B, IN_C, opOf, attr } from "../tape";
import { scratchFor } from "../scratch";
import { tanhV, sigmoidV } from "./vmath";
import { gemm } from "./matmul";
import { LSTM } from "./opcodes";

// @ts-ignore: decorator
@inline const PART_MAIN: i32 = 0;

// @ts-ignore: decorator
@inline function at(base: usize, index: i32): usize { return base + (<usize>index << 2); }

// The geometry of the current record, read once per kernel call.
let T = 0, B = 0, H = 0, G = 0, lstm = false, reverse = false;
let xw: usize = 0, whh: usize = 0, h0: usize = 0, extra: usize = 0, saved: usize = 0, out: usize = 0;

function readGeometry(rec: usize): void {
  let xn = load<i32>(rec, IN_A), hn = load<i32>(rec, IN_C), en = attr(rec, 0);
  lstm = opOf(rec) == LSTM;
  G = lstm ? 4 : 3;
  T = dim(xn, 0); B = dim(xn, 1); H = dim(load<i32>(rec, IN_B), 1);
  reverse = attr(rec, 2) != 0;
  xw = dataPtr(xn); whh = dataPtr(load<i32>(rec, IN_B));
  h0 = hn >= 0 ? dataPtr(hn) : 0;
  extra = en >= 0 ? dataPtr(en) : 0;
  saved = dataPtr(attr(rec, 1)); out = dataPtr(load<i32>(rec, OUT));
}

/** The time index of step s (steps run backwards in time when reversed). */
// @ts-ignore: decorator
@inline function timeOf(s: i32): i32 { return reverse ? T - 1 - s : s; }

/** h_t (or c_t, second = true: the LSTM's second half of out) as [B, H] at time t. */
// @ts-ignore: decorator
@inline function stateAt(t: i32, second: bool): usize { return at(out, ((second ? T : 0) + t) * B * H); }

/** Floats of scratch: forward's [B, 3H] of the GRU's m; backward's da over all steps, the GRU's dm, dh, dc. */
function scratchFloats(): i32 { return G * T * B * H + 2 * B * H + (lstm ? 0 : G * T * B * H); }

// A row of H floats goes in chunks of four lanes; its last chunk may be short (H not a multiple
// of 4), and then goes through the same vector math with its missing lanes 0 (ldTail, stTail).

/** n ≤ 4 floats at p as four lanes. */
// @ts-ignore: decorator
@inline function ld(p: usize, n: i32): v128 { return n == 4 ? v128.load(p) : ldTail(p, n); }

/** Stores the first n ≤ 4 lanes of v at p. */
// @ts-ignore: decorator
@inline function st(p: usize, v: v128, n: i32): void { if (n == 4) v128.store(p, v); else stTail(p, v, n); }

function ldTail(p: usize, n: i32): v128 {
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (n > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (n > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

function stTail(p: usize, v: v128, n: i32): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

// sigmoid and tanh are calls, not inlined: the wasm stays small, and the time is the same.
function sigmoid4(x: v128): v128 { return sigmoidV(x); }
function tanh4(x: v128): v128 { return tanhV(x); }

export function recurrentForward(rec: usize): void {
  if (attr(rec, 4) != PART_MAIN) return;
  readGeometry(rec);
  let scratch = scratchFor(<usize>scratchFloats() << 2);
  if (!scratch) return;
  let GH = G * H;
  for (let s = 0; s < T; s++) {
    let t = timeOf(s);
    let hPrev: usize = s > 0 ? stateAt(timeOf(s - 1), false) : h0;
    let gates = at(saved, t * B * 4 * H), x = at(xw, t * B * GH);
    if (lstm) {
      let cPrev: usize = s > 0 ? stateAt(timeOf(s - 1), true) : extra;
      memory.copy(gates, x, <usize>(B * GH) << 2);
      if (hPrev) gemm(B, GH, H, hPrev, H, 1, whh, 1, H, gates, true); // a = xW_t + h·W_hhᵀ
      lstmCell(gates, cPrev, stateAt(t, true), stateAt(t, false));
    } else {
      let m = scratch;
      for (let b = 0; b < B; b++) {
        if (extra) memory.copy(at(m, b * GH), extra, <usize>GH << 2);
        else memory.fill(at(m, b * GH), 0, <usize>GH << 2);
      }
      if (hPrev) gemm(B, GH, H, hPrev, H, 1, whh, 1, H, m, true); // m = h·W_hhᵀ + b_hh
      gruCell(x, m, gates, hPrev, stateAt(t, false));
    }
  }
}

/** The LSTM cell over B rows: gates [B, 4H] in (pre-activation) and out (activated); c' and h' [B, H]. */
function lstmCell(gates: usize, cPrev: usize, c: usize, h: usize): void {
  for (let b = 0; b < B; b++) {
    let g = at(gates, b * 4 * H), cp: usize = cPrev ? at(cPrev, b * H) : 0, cb = at(c, b * H), hb = at(h, b * H);
    for (let j = 0; j < H; j += 4) {
      let n = min(4, H - j);
      let i = sigmoid4(ld(at(g, j), n)), f = sigmoid4(ld(at(g, H + j), n));
      let gg = tanh4(ld(at(g, 2 * H + j), n)), o = sigmoid4(ld(at(g, 3 * H + j), n));
      let ig = f32x4.mul(i, gg);
      let cn = cp ? f32x4.add(f32x4.mul(f, ld(at(cp, j), n)), ig) : ig;
      st(at(g, j), i, n); st(at(g, H + j), f, n); st(at(g, 2 * H + j), gg, n); st(at(g, 3 * H + j), o, n);
      st(at(cb, j), cn, n);
      st(at(hb, j), f32x4.mul(o, tanh4(cn)), n);
    }
  }
}

/** The GRU cell over B rows: x [B, 3H] and m [B, 3H] in; saved [B, 4H] (r z n m_n) and h' [B, H] out. */
function gruCell(x: usize, m: usize, sv: usize, hPrev: usize, h: usize): void {
  let GH = 3 * H, one = f32x4.splat(1);
  for (let b = 0; b < B; b++) {
    let xb = at(x, b * GH), mb = at(m, b * GH), s = at(sv, b * 4 * H), hp: usize = hPrev ? at(hPrev, b * H) : 0, hb = at(h, b * H);
    for (let j = 0; j < H; j += 4) {
      let k = min(4, H - j);
      let r = sigmoid4(f32x4.add(ld(at(xb, j), k), ld(at(mb, j), k)));
      let z = sigmoid4(f32x4.add(ld(at(xb, H + j), k), ld(at(mb, H + j), k)));
      let mn = ld(at(mb, 2 * H + j), k);
      let n = tanh4(f32x4.add(ld(at(xb, 2 * H + j), k), f32x4.mul(r, mn)));
      let zn = f32x4.mul(f32x4.sub(one, z), n);
      st(at(s, j), r, k); st(at(s, H + j), z, k); st(at(s, 2 * H + j), n, k); st(at(s, 3 * H + j), mn, k);
      st(at(hb, j), hp ? f32x4.add(zn, f32x4.mul(z, ld(at(hp, j), k))) : zn, k);
    }
  }
}

export function recurrentBackward(rec: usize): void {
  if (attr(rec, 4) != PART_MAIN) return;
  let xn = load<i32>(rec, IN_A), wn = load<i32>(rec, IN_B), hn = load<i32>(rec, IN_C), en = attr(rec, 0);
  let gx: usize = requiresGrad(xn) ? gradFor(xn) : 0;
  let gw: usize = requiresGrad(wn) ? gradFor(wn) : 0;
  let gh: usize = hn >= 0 && requiresGrad(hn) ? gradFor(hn) : 0;
  let ge: usize = en >= 0 && requiresGrad(en) ? gradFor(en) : 0;
  let gOut = gradPtr(load<i32>(rec, OUT));
  if (!gx && !gw && !gh && !ge || !gOut) return;
  readGeometry(rec);
  let scratch = scratchFor(<usize>scratchFloats() << 2);
  if (!scratch) return;
  let GH = G * H, BH = B * H;
  // da: the pre-activations' gradients, every step ([T, B, G·H]: xW's gradient); the GRU's dm after it
  let da = scratch, dm = lstm ? da : at(da, T * B * GH);
  let dh = at(scratch, (lstm ? 1 : 2) * T * B * GH), dc = at(dh, BH);
  memory.fill(dh, 0, <usize>(2 * BH) << 2);
  for (let s = T - 1; s >= 0; s--) {
    let t = timeOf(s);
    let hPrev: usize = s > 0 ? stateAt(timeOf(s - 1), false) : h0;
    let sv = at(saved, t * B * 4 * H), dat = at(da, t * B * GH), dmt = at(dm, t * B * GH);
    addInto(dh, at(gOut, t * BH), BH);
    if (lstm) {
      addInto(dc, at(gOut, (T + t) * BH), BH);
      let cPrev: usize = s > 0 ? stateAt(timeOf(s - 1), true) : extra;
      lstmCellBackward(sv, cPrev, stateAt(t, true), dh, dc, dat);
    } else {
      gruCellBackward(sv, hPrev, dh, dat, dmt);
    }
    if (hPrev || gh) gemm(B, H, GH, dmt, GH, 1, whh, H, 1, dh, !lstm); // dh (+)= dm·W_hh
  }
  if (gh) addInto(gh, dh, BH);
  if (ge && lstm) addInto(ge, dc, BH);
  if (ge && !lstm) for (let r = 0; r < T * B; r++) addInto(ge, at(dm, r * GH), GH); // db_hh = Σ dm
  if (gx) addInto(gx, da, T * B * GH);
  if (gw) {
    // dW_hh += Σ_t dm_tᵀ·h_(t−1): the steps after the first read h_t in one run of out; the first reads h0
    let first = timeOf(0), rest = reverse ? 0 : 1;
    if (T > 1) gemm(GH, H, (T - 1) * B, at(dm, rest * B * GH), 1, GH, stateAt(reverse ? 1 : 0, false), H, 1, gw, true);
    if (h0) gemm(GH, H, B, at(dm, first * B * GH), 1, GH, h0, H, 1, gw, true);
  }
}

/** dst[i] += src[i] for n floats. */
function addInto(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(at(dst, i), f32x4.add(v128.load(at(dst, i)), v128.load(at(src, i))));
  for (; i < n; i++) store<f32>(at(dst, i), load<f32>(at(dst, i)) + load<f32>(at(src, i)));
}

/**
 * One LSTM step back: dh and dc (this step's, [B, H]) give da [B, 4H]; dc becomes dc·f (the
 * previous step's share). dh is left for the caller's dh = da·W_hh.
 */
function lstmCellBackward(sv: usize, cPrev: usize, c: usize, dh: usize, dc: usize, da: usize): void {
  let one = f32x4.splat(1);
  for (let b = 0; b < B; b++) {
    let g = at(sv, b * 4 * H), d = at(da, b * 4 * H), cp: usize = cPrev ? at(cPrev, b * H) : 0;
    for (let j = 0; j < H; j += 4) {
      let k = min(4, H - j), e = b * H + j;
      let i = ld(at(g, j), k), f = ld(at(g, H + j), k), gg = ld(at(g, 2 * H + j), k), o = ld(at(g, 3 * H + j), k);
      let tc = tanh4(ld(at(c, e), k)), dhj = ld(at(dh, e), k);
      let dcj = f32x4.add(ld(at(dc, e), k), f32x4.mul(f32x4.mul(dhj, o), f32x4.sub(one, f32x4.mul(tc, tc))));
      let cpj = cp ? ld(at(cp, j), k) : f32x4.splat(0);
      st(at(d, j), f32x4.mul(f32x4.mul(f32x4.mul(dcj, gg), i), f32x4.sub(one, i)), k);
      st(at(d, H + j), f32x4.mul(f32x4.mul(f32x4.mul(dcj, cpj), f), f32x4.sub(one, f)), k);
      st(at(d, 2 * H + j), f32x4.mul(f32x4.mul(dcj, i), f32x4.sub(one, f32x4.mul(gg, gg))), k);
      st(at(d, 3 * H + j), f32x4.mul(f32x4.mul(f32x4.mul(dhj, tc), o), f32x4.sub(one, o)), k);
      st(at(dc, e), f32x4.mul(dcj, f), k);
    }
  }
}

/** One GRU step back: dh [B, H] gives da [B, 3H] (xW's), dm [B, 3H] (m's), and dh ← dh·z. */
function gruCellBackward(sv: usize, hPrev: usize, dh: usize, da: usize, dm: usize): void {
  let GH = 3 * H, one = f32x4.splat(1);
  for (let b = 0; b < B; b++) {
    let s = at(sv, b * 4 * H), a = at(da, b * GH), m = at(dm, b * GH), hp: usize = hPrev ? at(hPrev, b * H) : 0;
    for (let j = 0; j < H; j += 4) {
      let k = min(4, H - j), e = b * H + j;
      let r = ld(at(s, j), k), z = ld(at(s, H + j), k), n = ld(at(s, 2 * H + j), k), mn = ld(at(s, 3 * H + j), k);
      let dhj = ld(at(dh, e), k), hpj = hp ? ld(at(hp, j), k) : f32x4.splat(0);
      let dan = f32x4.mul(f32x4.mul(dhj, f32x4.sub(one, z)), f32x4.sub(one, f32x4.mul(n, n)));
      let daz = f32x4.mul(f32x4.mul(f32x4.mul(dhj, f32x4.sub(hpj, n)), z), f32x4.sub(one, z));
      let dar = f32x4.mul(f32x4.mul(f32x4.mul(dan, mn), r), f32x4.sub(one, r));
      st(at(a, j), dar, k); st(at(a, H + j), daz, k); st(at(a, 2 * H + j), dan, k);
      st(at(m, j), dar, k); st(at(m, H + j), daz, k); st(at(m, 2 * H + j), f32x4.mul(dan, r), k);
      st(at(dh, e), f32x4.mul(dhj, z), k);
    }
  }
}
