// Elementwise ops: the binary ones broadcast like NumPy/PyTorch, the unary ones map.
// Each op's forward value and its local derivative stand together in `binaryValue`/`binaryGrad*`
// and `unaryValueV`/`unaryGradV` (`unaryGrad` for the few scalar ones); the loops below apply them.

import { ADD, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM, NEG, ABS, EXP, LOG, SQRT, TANH, SIGMOID,
  RELU, LEAKY_RELU, GELU, GELU_TANH } from "./opcodes";
import { dataPtr, rankOf, shapePtr, sizeOf, requiresGrad, gradPtr, gradFor, MAX_RANK } from "../nodes";
import { OUT, IN_A, IN_B, I0, F0, opOf, fattr } from "../tape";
import { expV, logV, tanhV, sigmoidV, halfErfcV, splatAt, hsum } from "./vmath";
import { job, JOB_UNARY, JOB_BINARY, partsFor, runParallel, partRange } from "../parallel";

// ── binary ─────────────────────────────────────────────────────────────────────────────────────

/**
 * x^y with C's (and PyTorch's) special cases: 1^y = 1 for any y and (−1)^±∞ = 1, where JS's pow
 * (which Mathf.pow follows) gives NaN. Checked only on a NaN result, so the common path pays one compare.
 */
// @ts-ignore: decorator
@inline function powC(x: f32, y: f32): f32 {
  let r = Mathf.pow(x, y);
  if (r != r && (x == 1 || (x == -1 && Mathf.abs(y) == Infinity))) return 1;
  return r;
}

// @ts-ignore: decorator
@inline export function binaryValue(op: i32, x: f32, y: f32): f32 {
  switch (op) {
    case ADD: return x + y;
    case SUB: return x - y;
    case MUL: return x * y;
    case DIV: return x / y;
    case POW: return powC(x, y);
    case MAXIMUM: return max(x, y);
    default: return min(x, y); // MINIMUM
  }
}

// @ts-ignore: decorator
@inline function binaryValueV(op: i32, x: v128, y: v128): v128 {
  switch (op) {
    case ADD: return f32x4.add(x, y);
    case SUB: return f32x4.sub(x, y);
    case MUL: return f32x4.mul(x, y);
    case DIV: return f32x4.div(x, y);
    case MAXIMUM: return f32x4.max(x, y);
    default: return f32x4.min(x, y); // MINIMUM
  }
}

/**
 * g · ∂out/∂x, for out = x op y. Where PyTorch masks g itself (maximum and minimum's masked_fill,
 * where(y == 0, 0, g·…) for pow's base), the mask selects 0 rather than multiplying g by 0, so an
 * infinite or NaN g there gives 0 (pow's exponent gradient is g · where(…) in PyTorch: a product);
 * a NaN operand of maximum / minimum passes g to both sides (no comparison holds to mask it).
 */
// @ts-ignore: decorator
@inline export function binaryGradX(op: i32, g: f32, x: f32, y: f32, out: f32): f32 {
  switch (op) {
    case ADD: return g;
    case SUB: return g;
    case MUL: return g * y;
    case DIV: return g / y; // PyTorch's grad / other
    case POW: return y == 0 ? 0 : g * (y * powC(x, y - 1)); // PyTorch's where(y == 0, 0, …)
    case MAXIMUM: return x < y ? 0 : x == y ? g * 0.5 : g;
    default: return x > y ? 0 : x == y ? g * 0.5 : g; // MINIMUM
  }
}

/** g · ∂out/∂y, for out = x op y (maximum and minimum select, as in binaryGradX). */
// @ts-ignore: decorator
@inline export function binaryGradY(op: i32, g: f32, x: f32, y: f32, out: f32): f32 {
  switch (op) {
    case ADD: return g;
    case SUB: return -g;
    case MUL: return g * x;
    case DIV: return -g * (out / y); // PyTorch's −grad · ((self / other) / other), with self / other = out
    case POW: return g * (x == 0 && y >= 0 ? 0 : out * Mathf.log(x)); // PyTorch: g · where(…), a product
    case MAXIMUM: return y < x ? 0 : x == y ? g * 0.5 : g;
    default: return y > x ? 0 : x == y ? g * 0.5 : g; // MINIMUM
  }
}

// A broadcast plan: the output's dims with runs of dims that broadcast alike merged, and the
// element strides of x and y along each (0 where that operand is broadcast).
const planExtent: usize = memory.data(MAX_RANK * 4, 16);
const planStrideX: usize = memory.data(MAX_RANK * 4, 16);
const planStrideY: usize = memory.data(MAX_RANK * 4, 16);
let planRank: i32 = 0;

/** Dim `axis` of `shape` (rank `rank`) right-aligned against an output of rank `outRank`. */
// @ts-ignore: decorator
@inline function alignedDim(shape: usize, rank: i32, outRank: i32, axis: i32): i32 {
  let k = axis - (outRank - rank);
  return k < 0 ? 1 : load<i32>(shape + (<usize>k << 2));
}

function makePlan(outShape: usize, outRank: i32, xShape: usize, xRank: i32, yShape: usize, yRank: i32): void {
  planRank = 0;
  let prevKind = -1;
  for (let d = 0; d < outRank; d++) {
    let n = load<i32>(outShape + (<usize>d << 2));
    if (n == 1) continue; // size-1 output dims move nothing
    let kind = (alignedDim(xShape, xRank, outRank, d) == 1 ? 1 : 0) | (alignedDim(yShape, yRank, outRank, d) == 1 ? 2 : 0);
    if (kind == prevKind) {
      let p = planExtent + (<usize>(planRank - 1) << 2);
      store<i32>(p, load<i32>(p) * n);
    } else {
      store<i32>(planExtent + (<usize>planRank << 2), n);
      store<i32>(planStrideX + (<usize>planRank << 2), kind & 1 ? 0 : 1);
      store<i32>(planStrideY + (<usize>planRank << 2), kind & 2 ? 0 : 1);
      planRank++;
      prevKind = kind;
    }
  }
  // Element strides from the innermost dim outwards (an operand's own extent is the plan's
  // extent where it is not broadcast).
  let sx = 1, sy = 1;
  for (let d = planRank - 1; d >= 0; d--) {
    let n = load<i32>(planExtent + (<usize>d << 2));
    let px = planStrideX + (<usize>d << 2), py = planStrideY + (<usize>d << 2);
    if (load<i32>(px)) { store<i32>(px, sx); sx *= n; }
    if (load<i32>(py)) { store<i32>(py, sy); sy *= n; }
  }
  if (planRank == 0) { // every dim is 1: one element
    store<i32>(planExtent, 1);
    store<i32>(planStrideX, 0);
    store<i32>(planStrideY, 0);
    planRank = 1;
  }
}

const counter: usize = memory.data(MAX_RANK * 4, 16);

/**
 * Walks the plan: calls the inner loop once per run of the innermost plan dim, with the element
 * offsets of out, x and y. `kind` selects the inner loop (a constant, so each call site inlines
 * into its own specialised loop).
 */
// @ts-ignore: decorator
@inline function walkPlan(kind: i32, op: i32, rank: i32, n: i32, po: usize, px: usize, py: usize, go: usize, gx: usize, gy: usize): void {
  let inner = rank - 1;
  let sx = load<i32>(planStrideX + (<usize>inner << 2));
  let sy = load<i32>(planStrideY + (<usize>inner << 2));
  memory.fill(counter, 0, <usize>rank << 2);
  let ox = 0, oy = 0, oo = 0;
  while (true) {
    if (kind == 0) binaryRun(op, n, po + (<usize>oo << 2), px + (<usize>ox << 2), sx, py + (<usize>oy << 2), sy);
    else binaryGradRun(op, n, go + (<usize>oo << 2), po + (<usize>oo << 2), px + (<usize>ox << 2), sx, py + (<usize>oy << 2), sy,
      gx ? gx + (<usize>ox << 2) : 0, gy ? gy + (<usize>oy << 2) : 0);
    oo += n;
    // odometer over the outer plan dims
    let d = inner - 1;
    while (d >= 0) {
      let c = counter + (<usize>d << 2);
      let ext = load<i32>(planExtent + (<usize>d << 2));
      let stx = load<i32>(planStrideX + (<usize>d << 2));
      let sty = load<i32>(planStrideY + (<usize>d << 2));
      let v = load<i32>(c) + 1;
      if (v < ext) { store<i32>(c, v); ox += stx; oy += sty; break; }
      store<i32>(c, 0);
      ox -= stx * (ext - 1);
      oy -= sty * (ext - 1);
      d--;
    }
    if (d < 0) return;
  }
}

// @ts-ignore: decorator
@inline function binaryRun(op: i32, n: i32, out: usize, x: usize, sx: i32, y: usize, sy: i32): void {
  let i = 0;
  if (op != POW) {
    if (sx == 1 && sy == 1) {
      for (; i + 4 <= n; i += 4) {
        let o = <usize>i << 2;
        v128.store(out + o, binaryValueV(op, v128.load(x + o), v128.load(y + o)));
      }
    } else if (sx == 1 && sy == 0) {
      let vy = v128.load32_splat(y);
      for (; i + 4 <= n; i += 4) {
        let o = <usize>i << 2;
        v128.store(out + o, binaryValueV(op, v128.load(x + o), vy));
      }
    } else if (sx == 0 && sy == 1) {
      let vx = v128.load32_splat(x);
      for (; i + 4 <= n; i += 4) {
        let o = <usize>i << 2;
        v128.store(out + o, binaryValueV(op, vx, v128.load(y + o)));
      }
    }
  }
  for (; i < n; i++) {
    store<f32>(out + (<usize>i << 2), binaryValue(op, load<f32>(x + (<usize>(i * sx) << 2)), load<f32>(y + (<usize>(i * sy) << 2))));
  }
}

/** gx += g·∂out/∂x and gy += g·∂out/∂y along one run; a stride of 0 sums the run into one element. */
// @ts-ignore: decorator
@inline function binaryGradRun(op: i32, n: i32, g: usize, out: usize, x: usize, sx: i32, y: usize, sy: i32, gx: usize, gy: usize): void {
  let i = 0;
  if (op == ADD || op == SUB) { // the local derivatives are ±1: add (or subtract) g itself, four lanes at a time
    if (gx) accumulateRun(gx, sx, g, n, false);
    if (gy) accumulateRun(gy, sy, g, n, op == SUB);
    return;
  }
  if ((op == MUL || (op == DIV && !gy && sx == 1)) && sx + sy > 0) {
    // strides are 1, or 0 for an operand that is one element here (a number, a broadcast
    // scalar): its lanes are a splat, and its gradient a sum added once after the tail
    let xs = v128.load32_splat(x), ys = v128.load32_splat(y);
    let sumX = f32x4.splat(0), sumY = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      let o = <usize>i << 2;
      let gv = v128.load(g + o), xv = sx ? v128.load(x + o) : xs, yv = sy ? v128.load(y + o) : ys;
      if (gx) {
        let d = op == DIV ? f32x4.div(gv, yv) : f32x4.mul(gv, yv);
        if (sx) v128.store(gx + o, f32x4.add(v128.load(gx + o), d));
        else sumX = f32x4.add(sumX, d);
      }
      if (gy) {
        let d = f32x4.mul(gv, xv);
        if (sy) v128.store(gy + o, f32x4.add(v128.load(gy + o), d));
        else sumY = f32x4.add(sumY, d);
      }
    }
    if (gx && !sx) store<f32>(gx, load<f32>(gx) + hsum(sumX));
    if (gy && !sy) store<f32>(gy, load<f32>(gy) + hsum(sumY));
  }
  for (; i < n; i++) {
    let gi = load<f32>(g + (<usize>i << 2));
    let xo = <usize>(i * sx) << 2, yo = <usize>(i * sy) << 2;
    let xv = load<f32>(x + xo), yv = load<f32>(y + yo), ov = load<f32>(out + (<usize>i << 2));
    if (gx) store<f32>(gx + xo, load<f32>(gx + xo) + binaryGradX(op, gi, xv, yv, ov));
    if (gy) store<f32>(gy + yo, load<f32>(gy + yo) + binaryGradY(op, gi, xv, yv, ov));
  }
}

/** dst[i·stride] ±= g[i] for a run of n: elementwise when stride is 1, a sum into dst[0] when 0. */
export function accumulateRun(dst: usize, stride: i32, g: usize, n: i32, negate: bool): void {
  let i = 0;
  if (stride == 1) {
    for (; i + 4 <= n; i += 4) {
      let o = <usize>i << 2;
      let gv = v128.load(g + o);
      v128.store(dst + o, negate ? f32x4.sub(v128.load(dst + o), gv) : f32x4.add(v128.load(dst + o), gv));
    }
    for (; i < n; i++) {
      let o = <usize>i << 2;
      store<f32>(dst + o, negate ? load<f32>(dst + o) - load<f32>(g + o) : load<f32>(dst + o) + load<f32>(g + o));
    }
    return;
  }
  let acc = f32x4.splat(0);
  for (; i + 4 <= n; i += 4) acc = f32x4.add(acc, v128.load(g + (<usize>i << 2)));
  let sum = hsum(acc);
  for (; i < n; i++) sum += load<f32>(g + (<usize>i << 2));
  store<f32>(dst, negate ? load<f32>(dst) - sum : load<f32>(dst) + sum);
}

// The operands of a binary record: x op y. With a plain-number operand (b = -1) the number lives
// in the record's f0, read as a 0-d tensor; i0 = 1 puts it on the left (`2 - t`).
let xNode: i32 = 0, yNode: i32 = 0;
let xData: usize = 0, yData: usize = 0;

/** x of a binary record's x op y (a, b its nodes, i0 its attribute): a, or -1 for a number on the left. */
// @ts-ignore: decorator
@inline export function xNodeOf(a: i32, b: i32, i0: i32): i32 { return b >= 0 || !i0 ? a : -1; }
/** y of x op y: b, or a with a number on the left, or -1 for a number on the right. */
// @ts-ignore: decorator
@inline export function yNodeOf(a: i32, b: i32, i0: i32): i32 { return b >= 0 ? b : i0 ? a : -1; }

function bindScalars(rec: usize): void {
  let a = load<i32>(rec, IN_A), b = load<i32>(rec, IN_B), i0 = load<i32>(rec, I0);
  xNode = xNodeOf(a, b, i0);
  yNode = yNodeOf(a, b, i0);
  xData = xNode >= 0 ? dataPtr(xNode) : rec + F0;
  yData = yNode >= 0 ? dataPtr(yNode) : rec + F0;
}

function bindOperands(rec: usize): void {
  bindScalars(rec);
  let out = load<i32>(rec, OUT);
  let n = sizeOf(out);
  let nx = xNode >= 0 ? sizeOf(xNode) : 1, ny = yNode >= 0 ? sizeOf(yNode) : 1;
  if ((nx == n || nx == 1) && (ny == n || ny == 1)) {
    // Each operand is whole or a single element (same shapes, a plain number, a bias of size 1):
    // one flat run, no dims to walk.
    store<i32>(planExtent, n);
    store<i32>(planStrideX, nx == n ? 1 : 0);
    store<i32>(planStrideY, ny == n ? 1 : 0);
    planRank = 1;
    return;
  }
  makePlan(shapePtr(out), rankOf(out),
    xNode >= 0 ? shapePtr(xNode) : 0, xNode >= 0 ? rankOf(xNode) : 0,
    yNode >= 0 ? shapePtr(yNode) : 0, yNode >= 0 ? rankOf(yNode) : 0);
}

/** The plan's innermost extent: the length of each run walkPlan makes. */
// @ts-ignore: decorator
@inline function innerExtent(): i32 { return load<i32>(planExtent + (<usize>(planRank - 1) << 2)); }

/** out = x op y over the plan (rank dims, runs of n: a part's band when split). */
function binaryForwardAs(op: i32, rank: i32, n: i32, out: usize, px: usize, py: usize): void {
  switch (op) {
    case ADD: walkPlan(0, ADD, rank, n, out, px, py, 0, 0, 0); break;
    case SUB: walkPlan(0, SUB, rank, n, out, px, py, 0, 0, 0); break;
    case MUL: walkPlan(0, MUL, rank, n, out, px, py, 0, 0, 0); break;
    case DIV: walkPlan(0, DIV, rank, n, out, px, py, 0, 0, 0); break;
    case POW: walkPlan(0, POW, rank, n, out, px, py, 0, 0, 0); break;
    case MAXIMUM: walkPlan(0, MAXIMUM, rank, n, out, px, py, 0, 0, 0); break;
    default: walkPlan(0, MINIMUM, rank, n, out, px, py, 0, 0, 0);
  }
}

/** gx += g·∂/∂x and gy += g·∂/∂y over the plan, as binaryForwardAs walks it. */
function binaryBackwardAs(op: i32, rank: i32, n: i32, po: usize, px: usize, py: usize, go: usize, gx: usize, gy: usize): void {
  switch (op) {
    case ADD: walkPlan(1, ADD, rank, n, po, px, py, go, gx, gy); break;
    case SUB: walkPlan(1, SUB, rank, n, po, px, py, go, gx, gy); break;
    case MUL: walkPlan(1, MUL, rank, n, po, px, py, go, gx, gy); break;
    case DIV: walkPlan(1, DIV, rank, n, po, px, py, go, gx, gy); break;
    case POW: walkPlan(1, POW, rank, n, po, px, py, go, gx, gy); break;
    case MAXIMUM: walkPlan(1, MAXIMUM, rank, n, po, px, py, go, gx, gy); break;
    default: walkPlan(1, MINIMUM, rank, n, po, px, py, go, gx, gy);
  }
}

/**
 * Runs a flat plan (one run: operands whole or single elements) split over threads in bands of
 * 16 elements when it is large — backward only where no operand's gradient is a sum over the run
 * (each element of every output is then one part's) — else the plan as it is.
 */
/** Elements in a binary part, at the least (~0.3 ns an element: ~20 µs a part). */
// @ts-ignore: decorator
@inline const BINARY_GRAIN: i64 = 1 << 16;

function binaryJob(backward: bool, op: i32, po: usize, go: usize, gx: usize, gy: usize): void {
  let n = innerExtent(), parts = 1;
  if (<i64>n >= BINARY_GRAIN << 1 && planRank == 1 && (!gx || load<i32>(planStrideX) == 1) && (!gy || load<i32>(planStrideY) == 1)) {
    parts = partsFor(<i64>n, BINARY_GRAIN);
  }
  if (parts == 1) {
    if (backward) binaryBackwardAs(op, planRank, n, po, xData, yData, go, gx, gy);
    else binaryForwardAs(op, planRank, n, po, xData, yData);
    return;
  }
  store<i32>(job, JOB_BINARY);
  store<i32>(job, backward, 4); store<i32>(job, op, 8); store<i32>(job, n, 12);
  store<usize>(job, po, 16); store<usize>(job, xData, 20); store<usize>(job, yData, 24);
  store<usize>(job, go, 28); store<usize>(job, gx, 32); store<usize>(job, gy, 36);
  runParallel(parts);
}

/** One part of binaryJob (its record as binaryJob writes it; the plan's strides are read-only meanwhile). */
export function binaryPart(job: usize, part: i32, parts: i32): void {
  let range = partRange(load<i32>(job, 12), 16, part, parts), lo = <i32>range, m = <i32>(range >> 32) - lo;
  let o = <usize>lo << 2, ox = load<i32>(planStrideX) ? o : 0, oy = load<i32>(planStrideY) ? o : 0;
  let op = load<i32>(job, 8), po = load<usize>(job, 16) + o, px = load<usize>(job, 20) + ox, py = load<usize>(job, 24) + oy;
  if (!load<i32>(job, 4)) { binaryForwardAs(op, 1, m, po, px, py); return; }
  let gx = load<usize>(job, 32), gy = load<usize>(job, 36);
  binaryBackwardAs(op, 1, m, po, px, py, load<usize>(job, 28) + o, gx ? gx + o : 0, gy ? gy + o : 0);
}

// PyTorch computes x ** e for a plain-number e of ±0.5 as sqrt / rsqrt (and so the gradient of
// x ** 0.5 and x ** 1.5, which raise x to −0.5 and 0.5): that differs from pow at −∞ and −0
// ((−∞) ** 0.5 is NaN there, +∞ in C's pow), so these two exponents take the same route here.

/** x ** ±0.5 with a number exponent: sqrt(x) or 1 / sqrt(x); false for any other pow (binaryForward's then). */
export function powHalfForward(rec: usize): bool {
  let out = dataPtr(load<i32>(rec, OUT)), n = sizeOf(load<i32>(rec, OUT));
  bindScalars(rec);
  if (yNode >= 0) return false;
  let e = load<f32>(yData);
  if (e != 0.5 && e != -0.5) return false;
  let x = xData, i = 0;
  let one = f32x4.splat(1);
  for (; i + 4 <= n; i += 4) {
    let o = <usize>i << 2, r = f32x4.sqrt(v128.load(x + o));
    v128.store(out + o, e == 0.5 ? r : f32x4.div(one, r));
  }
  for (; i < n; i++) {
    let r = Mathf.sqrt(load<f32>(x + (<usize>i << 2)));
    store<f32>(out + (<usize>i << 2), e == 0.5 ? r : 1 / r);
  }
  return true;
}

/** gx += g · e · x^(e − 1) for a number exponent e of 0.5 or 1.5 (x^(e − 1) by rsqrt / sqrt); false otherwise. */
export function powHalfBackward(rec: usize): bool {
  let g = gradPtr(load<i32>(rec, OUT)), n = sizeOf(load<i32>(rec, OUT));
  bindScalars(rec);
  if (yNode >= 0) return false;
  let e = load<f32>(yData);
  if (e != 0.5 && e != 1.5) return false;
  if (!requiresGrad(xNode)) return true;
  let gx = gradFor(xNode);
  if (!gx) return true;
  let x = xData;
  for (let i = 0; i < n; i++) {
    let o = <usize>i << 2, r = Mathf.sqrt(load<f32>(x + o));
    store<f32>(gx + o, load<f32>(gx + o) + load<f32>(g + o) * (e * (e == 0.5 ? 1 / r : r)));
  }
  return true;
}

export function binaryForward(rec: usize): void {
  let out = load<i32>(rec, OUT);
  let n = sizeOf(out);
  if (n == 0) return; // an empty result (broadcast or not) writes nothing
  if (n == 1) { // one element (a scalar graph): no broadcast plan needed
    bindScalars(rec);
    store<f32>(dataPtr(out), binaryValue(opOf(rec), load<f32>(xData), load<f32>(yData)));
    return;
  }
  bindOperands(rec);
  binaryJob(false, opOf(rec), dataPtr(out), 0, 0, 0);
}

export function binaryBackward(rec: usize): void {
  let out = load<i32>(rec, OUT);
  let n = sizeOf(out);
  if (n == 0) { // an empty result: the inputs' gradients exist (zeros, like PyTorch) and get nothing
    bindScalars(rec);
    if (xNode >= 0 && requiresGrad(xNode)) gradFor(xNode);
    if (yNode >= 0 && requiresGrad(yNode)) gradFor(yNode);
    return;
  }
  if (n == 1) {
    bindScalars(rec);
    let gx: usize = xNode >= 0 && requiresGrad(xNode) ? gradFor(xNode) : 0;
    let gy: usize = yNode >= 0 && requiresGrad(yNode) ? gradFor(yNode) : 0;
    let g = load<f32>(gradPtr(out)), x = load<f32>(xData), y = load<f32>(yData), z = load<f32>(dataPtr(out));
    let op = opOf(rec);
    if (gx) store<f32>(gx, load<f32>(gx) + binaryGradX(op, g, x, y, z));
    if (gy) store<f32>(gy, load<f32>(gy) + binaryGradY(op, g, x, y, z));
    return;
  }
  bindOperands(rec);
  let gx: usize = xNode >= 0 && requiresGrad(xNode) ? gradFor(xNode) : 0;
  let gy: usize = yNode >= 0 && requiresGrad(yNode) ? gradFor(yNode) : 0;
  if (!gx && !gy) return;
  binaryJob(true, opOf(rec), dataPtr(out), gradPtr(out), gx, gy);
}

/** out = broadcast of a to out's shape (expand's forward), and its backward: sum over broadcast dims. */
export function broadcastCopy(a: i32, out: i32): void {
  if (sizeOf(out) == 0) return; // an empty result writes nothing
  makePlan(shapePtr(out), rankOf(out), shapePtr(a), rankOf(a), 0, 0);
  // x + 0 with y a 0-d zero: the plan's y strides are all 0
  walkPlan(0, ADD, planRank, innerExtent(), dataPtr(out), dataPtr(a), zero, 0, 0, 0);
}

export function broadcastReduceGrad(a: i32, out: i32, ga: usize): void {
  if (sizeOf(out) == 0) return;
  makePlan(shapePtr(out), rankOf(out), shapePtr(a), rankOf(a), 0, 0);
  walkPlan(1, ADD, planRank, innerExtent(), dataPtr(out), dataPtr(a), zero, gradPtr(out), ga, 0);
}

const zero: usize = memory.data(16, 16);

// ── unary ──────────────────────────────────────────────────────────────────────────────────────

// @ts-ignore: decorator
@inline const SQRT_HALF: f32 = 0.7071067811865476;
// @ts-ignore: decorator
@inline const INV_SQRT_2PI: f32 = 0.3989422804014327;
// @ts-ignore: decorator
@inline const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
// @ts-ignore: decorator
@inline const GELU_C: f32 = 0.044715;

// The ops with a four-lane form run every element through it, the last 1–3 of a tensor too (staged
// in `lanes`), so each element gets the same formula wherever it sits. leakyRelu runs scalar, and
// so does the backward of neg, abs, sqrt and leakyRelu.

/** d out / d x of the scalar backward ops, given the input x and the output y. */
// @ts-ignore: decorator
@inline function unaryGrad(op: i32, x: f32, y: f32, slope: f32): f32 {
  switch (op) {
    case NEG: return -1;
    case ABS: return x > 0 ? 1 : x < 0 ? -1 : 0;
    case SQRT: return 0.5 / y;
    default: return x > 0 ? 1 : slope; // LEAKY_RELU
  }
}

/** Four lanes of an op's value (every op but leakyRelu). */
// @ts-ignore: decorator
@inline function unaryValueV(op: i32, v: v128): v128 {
  switch (op) {
    case NEG: return f32x4.neg(v);
    case ABS: return f32x4.abs(v);
    case SQRT: return f32x4.sqrt(v);
    case RELU: return f32x4.pmax(v, f32x4.splat(0)); // v < 0 ? 0 : v, one maxps: NaN and −0 stay (PyTorch)
    case EXP: return expV(v);
    case LOG: return logV(v);
    case TANH: return tanhV(v);
    case SIGMOID: return sigmoidV(v);
    case GELU: return f32x4.mul(v, normalCdfV(v, expV(f32x4.mul(splatAt(GELU_K, 2), f32x4.mul(v, v)))));
    default: // GELU_TANH
      return f32x4.mul(v, geluTanhSigmoidV(v));
  }
}

/** Four lanes of g · d out / d x, for relu, exp, log, tanh, sigmoid and both GELUs. */
// @ts-ignore: decorator
@inline function unaryGradV(op: i32, xv: v128, yv: v128, gv: v128): v128 {
  let one = splatAt(GELU_K, 0);
  switch (op) {
    // relu passes g where not x <= 0 (a NaN passes g, like PyTorch's threshold_backward), a
    // select, so an infinite g where x <= 0 gives 0
    case RELU: return v128.andnot(gv, f32x4.le(xv, f32x4.splat(0)));
    case EXP: return f32x4.mul(gv, yv);
    case LOG: return f32x4.div(gv, xv); // PyTorch's grad / self
    case TANH: return f32x4.mul(gv, f32x4.sub(one, f32x4.mul(yv, yv)));
    case SIGMOID: return f32x4.mul(gv, f32x4.mul(yv, f32x4.sub(one, yv)));
    case GELU: { // Φ(x) + x·φ(x), φ the standard normal density, Φ(x) = y / x
      let e = expV(f32x4.mul(splatAt(GELU_K, 2), f32x4.mul(xv, xv)));
      return f32x4.mul(gv, f32x4.add(outputOverInput(yv, xv), f32x4.mul(xv, f32x4.mul(splatAt(GELU_K, 3), e))));
    }
    default: { // GELU_TANH: s + x·s(1 − s)·(2u)′ with s = σ(2u): ½(1 + t) + ½x(1 − t²)·u′ for t = tanh u
      // (s as y / x rounds 1 − s twice, past test/vmath.test.ts's 2e-6 near x = 4: recomputed)
      let sv = geluTanhSigmoidV(xv), x2 = f32x4.mul(xv, xv);
      let du = f32x4.add(splatAt(GELU_K, 4), f32x4.mul(f32x4.add(x2, f32x4.add(x2, x2)), splatAt(GELU_K, 5)));
      return f32x4.mul(gv, f32x4.add(sv, f32x4.mul(f32x4.mul(xv, f32x4.mul(sv, f32x4.sub(one, sv))), du)));
    }
  }
}

//                         0   1          2: −½       3: 1/√(2π)    4: 2√(2/π)     5: 2√(2/π)·0.044715     6   7: 2⁻²³
const GELU_K = memory.data<f32>([1, SQRT_HALF, -0.5, INV_SQRT_2PI, 2 * SQRT_2_OVER_PI, 2 * SQRT_2_OVER_PI * GELU_C, 0.5, 1.1920929e-7]);

/**
 * f(x) from y = x·f(x), for the gradients of gelu and silu (f = Φ, σ): one division instead of
 * recomputing f. ½ where |x| < 2⁻²³ (f(0) = ½ in each, and f32 rounds f(x) to ½ there), so
 * x = 0 and a subnormal y never divide.
 */
// @ts-ignore: decorator
@inline function outputOverInput(y: v128, x: v128): v128 {
  return v128.bitselect(splatAt(GELU_K, 6), f32x4.div(y, x), f32x4.lt(f32x4.abs(x), splatAt(GELU_K, 7)));
}

/** Φ(x), the standard normal CDF, given e = e^(−x²/2): ½erfc(|x|/√2) below 0, 1 minus it above. */
// @ts-ignore: decorator
@inline function normalCdfV(x: v128, e: v128): v128 {
  let q = halfErfcV(f32x4.mul(f32x4.abs(x), splatAt(GELU_K, 1)), e);
  return v128.bitselect(q, f32x4.sub(splatAt(GELU_K, 0), q), f32x4.lt(x, f32x4.splat(0)));
}

/**
 * The tanh approximation as a sigmoid: ½(1 + tanh u) = σ(2u), u = √(2/π)(x + 0.044715x³), so
 * gelu = x·σ(2u) costs one exp and one division.
 */
// @ts-ignore: decorator
@inline function geluTanhSigmoidV(x: v128): v128 {
  return sigmoidV(f32x4.mul(x, f32x4.add(splatAt(GELU_K, 4), f32x4.mul(splatAt(GELU_K, 5), f32x4.mul(x, x)))));
}

/** x, y, g and gx lanes of the last 1–3 elements, zero-padded to four. */
const lanes: usize = memory.data(64, 16);

/** Copies the `rest` (< 4) floats at p into slot k of `lanes`, zero-padded; returns the slot. */
function stage(p: usize, rest: i32, k: i32): usize {
  let slot = lanes + (<usize>k << 4);
  v128.store(slot, f32x4.splat(0));
  copyFloats(slot, p, rest);
  return slot;
}

/** n floats from src to dst one by one: for the 1–3 of a tail, memory.copy's call costs more. */
function copyFloats(dst: usize, src: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

// @ts-ignore: decorator
@inline function unaryMap(op: i32, n: i32, x: usize, y: usize, slope: f32): void {
  if (op == LEAKY_RELU) {
    for (let i = 0; i < n; i++) { let v = load<f32>(x + (<usize>i << 2)); store<f32>(y + (<usize>i << 2), v > 0 ? v : v * slope); }
    return;
  }
  // a second pass runs the same loop once over the staged tail
  let whole = n & ~3, rest = n - whole, count = whole, px = x, py = y;
  for (let pass = 0; ; pass++) {
    for (let i = 0; i < count; i += 4) {
      let o = <usize>i << 2;
      v128.store(py + o, unaryValueV(op, v128.load(px + o)));
    }
    if (pass == 1) break; // the tail is done
    if (rest == 0) return;
    px = stage(x + (<usize>whole << 2), rest, 0); py = lanes + 16; count = 4;
  }
  copyFloats(y + (<usize>whole << 2), lanes + 16, rest);
}

// @ts-ignore: decorator
@inline function unaryGradMap(op: i32, n: i32, x: usize, y: usize, g: usize, gx: usize, slope: f32): void {
  if (op == NEG || op == ABS || op == SQRT || op == LEAKY_RELU) {
    for (let i = 0; i < n; i++) {
      let o = <usize>i << 2;
      store<f32>(gx + o, load<f32>(gx + o) + load<f32>(g + o) * unaryGrad(op, load<f32>(x + o), load<f32>(y + o), slope));
    }
    return;
  }
  let whole = n & ~3, rest = n - whole, count = whole, px = x, py = y, pg = g, pgx = gx;
  for (let pass = 0; ; pass++) {
    for (let i = 0; i < count; i += 4) {
      let o = <usize>i << 2;
      v128.store(pgx + o, f32x4.add(v128.load(pgx + o), unaryGradV(op, v128.load(px + o), v128.load(py + o), v128.load(pg + o))));
    }
    if (pass == 1) break; // the tail is done
    if (rest == 0) return;
    let t = <usize>whole << 2;
    px = stage(x + t, rest, 0); py = stage(y + t, rest, 1); pg = stage(g + t, rest, 2); pgx = stage(gx + t, rest, 3); count = 4;
  }
  copyFloats(gx + (<usize>whole << 2), lanes + 48, rest);
}

export function unaryForward(rec: usize): void {
  let out = load<i32>(rec, OUT);
  unaryJob(opOf(rec), sizeOf(out), dataPtr(load<i32>(rec, IN_A)), dataPtr(out), 0, 0, fattr(rec, 0));
}

export function unaryBackward(rec: usize): void {
  let a = load<i32>(rec, IN_A), out = load<i32>(rec, OUT);
  let gx: usize = requiresGrad(a) ? gradFor(a) : 0;
  if (gx) unaryJob(opOf(rec), sizeOf(out), dataPtr(a), dataPtr(out), gradPtr(out), gx, fattr(rec, 0));
}

/**
 * Work in a unary part, at the least, counting an element of a transcendental map (exp, tanh,
 * GELU: 1–2 ns) as 8 and of a cheap one (relu, neg: ~0.2 ns, memory-bound) as 1: ~30 µs a part.
 */
// @ts-ignore: decorator
@inline const UNARY_GRAIN: i64 = 1 << 17;

/**
 * y = op(x) over n elements, or gx += g·op'(x) when gx ≠ 0: split over threads in runs of 16
 * elements (each element's value is the same whichever part computes it: the tail of fewer than
 * four is always the last part's).
 */
function unaryJob(op: i32, n: i32, x: usize, y: usize, g: usize, gx: usize, slope: f32): void {
  let parts = 1;
  if (n >= UNARY_GRAIN >> 2) { // (a small op pays this one test)
    let cheap = op == NEG || op == ABS || op == RELU || op == LEAKY_RELU || op == SQRT;
    parts = partsFor(<i64>n * (cheap ? 1 : 8), UNARY_GRAIN);
  }
  if (parts == 1) { unaryRun(op, n, x, y, g, gx, slope); return; } // (another kernel's part may be using the job record)
  store<i32>(job, JOB_UNARY);
  store<i32>(job, op, 4); store<i32>(job, n, 8);
  store<usize>(job, x, 12); store<usize>(job, y, 16); store<usize>(job, g, 20); store<usize>(job, gx, 24);
  store<f32>(job, slope, 28);
  runParallel(parts);
}

/** One part of a unaryJob (its record as unaryJob writes it). */
export function unaryPart(job: usize, part: i32, parts: i32): void {
  let range = partRange(load<i32>(job, 8), 16, part, parts), lo = <i32>range;
  let o = <usize>lo << 2, g = load<usize>(job, 20), gx = load<usize>(job, 24);
  unaryRun(load<i32>(job, 4), <i32>(range >> 32) - lo, load<usize>(job, 12) + o, load<usize>(job, 16) + o,
    gx ? g + o : 0, gx ? gx + o : 0, load<f32>(job, 28));
}

/**
 * unaryRun over one element (a 0-d node's, the scalar fast path): relu inline, as its lanes
 * compute it (pmax(x, 0): NaN and −0 stay), the others through unaryRun.
 */
// @ts-ignore: decorator
@inline export function unaryOne(op: i32, x: usize, y: usize, slope: f32): void {
  if (op == RELU) store<f32>(y, load<f32>(x) < 0 ? 0 : load<f32>(x));
  else unaryRun(op, 1, x, y, 0, 0, slope);
}

/** gx += g · op′(x) for one element: relu inline as its lanes' select (+0 where x ≤ 0; a NaN x passes g). */
// @ts-ignore: decorator
@inline export function unaryGradOne(op: i32, x: usize, y: usize, g: usize, gx: usize, slope: f32): void {
  if (op == RELU) store<f32>(gx, load<f32>(gx) + (load<f32>(x) <= 0 ? 0 : load<f32>(g)));
  else unaryRun(op, 1, x, y, g, gx, slope);
}

/** y = op(x) over m elements, or gx += g·op'(x) when gx ≠ 0. */
export function unaryRun(op: i32, m: i32, x: usize, y: usize, g: usize, gx: usize, slope: f32): void {
  if (gx) {
    switch (op) {
      case NEG: unaryGradMap(NEG, m, x, y, g, gx, slope); break;
      case ABS: unaryGradMap(ABS, m, x, y, g, gx, slope); break;
      case EXP: unaryGradMap(EXP, m, x, y, g, gx, slope); break;
      case LOG: unaryGradMap(LOG, m, x, y, g, gx, slope); break;
      case SQRT: unaryGradMap(SQRT, m, x, y, g, gx, slope); break;
      case TANH: unaryGradMap(TANH, m, x, y, g, gx, slope); break;
      case SIGMOID: unaryGradMap(SIGMOID, m, x, y, g, gx, slope); break;
      case RELU: unaryGradMap(RELU, m, x, y, g, gx, slope); break;
      case LEAKY_RELU: unaryGradMap(LEAKY_RELU, m, x, y, g, gx, slope); break;
      case GELU: unaryGradMap(GELU, m, x, y, g, gx, slope); break;
      default: unaryGradMap(GELU_TANH, m, x, y, g, gx, slope);
    }
    return;
  }
  switch (op) {
    case NEG: unaryMap(NEG, m, x, y, slope); break;
    case ABS: unaryMap(ABS, m, x, y, slope); break;
    case EXP: unaryMap(EXP, m, x, y, slope); break;
    case LOG: unaryMap(LOG, m, x, y, slope); break;
    case SQRT: unaryMap(SQRT, m, x, y, slope); break;
    case TANH: unaryMap(TANH, m, x, y, slope); break;
    case SIGMOID: unaryMap(SIGMOID, m, x, y, slope); break;
    case RELU: unaryMap(RELU, m, x, y, slope); break;
    case LEAKY_RELU: unaryMap(LEAKY_RELU, m, x, y, slope); break;
    case GELU: unaryMap(GELU, m, x, y, slope); break;
    default: unaryMap(GELU_TANH, m, x, y, slope);
  }
}

// ── more elementwise (issue 9) ─────────────────────────────────────────────────────────────────
// where / maskedFill, the comparisons, clamp, sin, cos, square, rsqrt, silu, softplus: one loop,
// four lanes at a time, then the last n % 4 elements through the same lanes one at a time (a
// splat in, lane 0 out), so each formula is written once. An operand is whole (stride 1) or one
// element (stride 0: a 0-d tensor, or a plain number in f0 when its id is -1); the façade expands
// any other broadcast first. Masks and conditions are floats: nonzero is true (NaN too), as
// PyTorch's bool() of a float.
//
//   where, maskedFill  a = condition, b = value where true, c = value where false
//   compare            a, b; i0 = EQ NE LT LE GT GE (0–5)
//   clamp              a; f0 = min, i0 = max's f32 bits (a missing bound is ∓Infinity)
//   softplus           a; f0 = beta, i0 = threshold's f32 bits
//   the other unary    a

import { WHERE, MASKED_FILL, TRIU, COMPARE, CLAMP, SIN, COS, SQUARE, RSQRT, SILU } from "./opcodes";
import { dim } from "../nodes";
import { IN_C } from "../tape";
import { sinCosV, log1pV } from "./vmath";

/** e^x and sin / cos, one copy each for the uses below. */
function expL(x: v128): v128 { return expV(x); }
function sinCosL(x: v128, q: i32): v128 { return sinCosV(x, q); }

/** The op's value from its operands' lanes; p is f0, k is i0. */
// @ts-ignore: decorator
@inline function extraValueV(op: i32, a: v128, b: v128, c: v128, p: f32, k: i32): v128 {
  switch (op) {
    case WHERE: case MASKED_FILL: return v128.bitselect(b, c, f32x4.ne(a, f32x4.splat(0)));
    case COMPARE: { // IEEE: NaN is unequal to everything, and no order holds with it
      let m = k == 0 ? f32x4.eq(a, b) : k == 1 ? f32x4.ne(a, b) : k == 2 ? f32x4.lt(a, b) : k == 3 ? f32x4.le(a, b) : k == 4 ? f32x4.gt(a, b) : f32x4.ge(a, b);
      return v128.and(m, f32x4.splat(1));
    }
    case CLAMP: return f32x4.min(f32x4.max(a, f32x4.splat(p)), f32x4.splat(reinterpret<f32>(k))); // NaN stays NaN
    case SIN: return sinCosL(a, 0);
    case COS: return sinCosL(a, 1);
    case SQUARE: return f32x4.mul(a, a);
    case RSQRT: return f32x4.div(f32x4.splat(1), f32x4.sqrt(a));
    // x / (1 + e^−x), as PyTorch computes it (so silu(−∞) is NaN there and here); e^x inlined:
    // through expL's call silu took twice sigmoid's time
    case SILU: return f32x4.div(a, f32x4.add(splatAt(GELU_K, 0), expV(f32x4.neg(a))));
    default: { // SOFTPLUS: x where β·x > threshold, else log1p(e^{β·x}) / β
      let bx = f32x4.mul(a, f32x4.splat(p));
      return v128.bitselect(a, f32x4.div(log1pV(expL(bx)), f32x4.splat(p)), f32x4.gt(bx, f32x4.splat(reinterpret<f32>(k))));
    }
  }
}

/** d out / d x of the unary ops and clamp (PyTorch's formulas), from the input x and the output y. */
// @ts-ignore: decorator
@inline function extraGradV(op: i32, x: v128, y: v128, p: f32, k: i32): v128 {
  switch (op) {
    case CLAMP: return v128.and(f32x4.ge(x, f32x4.splat(p)), f32x4.le(x, f32x4.splat(reinterpret<f32>(k)))); // a mask
    case SIN: return sinCosL(x, 1);
    case COS: return f32x4.neg(sinCosL(x, 0));
    case SQUARE: return f32x4.add(x, x);
    case RSQRT: return f32x4.mul(f32x4.splat(-0.5), f32x4.mul(y, f32x4.mul(y, y)));
    case SILU: { // σ(x)·(1 + x·(1 − σ(x))), σ(x) = y / x
      let s = outputOverInput(y, x);
      return f32x4.mul(s, f32x4.add(f32x4.splat(1), f32x4.mul(x, f32x4.sub(f32x4.splat(1), s))));
    }
    default: { // SOFTPLUS: 1 where β·x > threshold, else z / (z + 1) with z = e^{β·x}
      let bx = f32x4.mul(x, f32x4.splat(p));
      let z = expL(bx);
      return v128.bitselect(f32x4.splat(1), f32x4.div(z, f32x4.add(z, f32x4.splat(1))), f32x4.gt(bx, f32x4.splat(reinterpret<f32>(k))));
    }
  }
}

/** The four lanes at p, or (the tail) p's one element in every lane. */
// @ts-ignore: decorator
@inline function lanesAt(p: usize, full: bool): v128 { return full ? v128.load(p) : v128.load32_splat(p); }

/** Stores four lanes at p, or lane 0 alone. */
// @ts-ignore: decorator
@inline function storeLanes(p: usize, v: v128, full: bool): void {
  if (full) v128.store(p, v);
  else store<f32>(p, f32x4.extract_lane(v, 0));
}

/** Adds v to the lanes at p (a gradient). */
// @ts-ignore: decorator
@inline function addLanes(p: usize, v: v128, full: bool): void { storeLanes(p, f32x4.add(lanesAt(p, full), v), full); }

/**
 * Forward: out = the op of a, b, c. Backward: the unary ops and clamp add g · ∂out/∂a to a's
 * gradient (clamp's mask selects g, so an infinite g outside gives 0, as PyTorch's where); where
 * adds g to b's gradient where the condition holds and to c's elsewhere (a select too), summed
 * when that operand is one element; the condition gets none.
 */
export function extraOp(rec: usize, backward: bool): void {
  let op = opOf(rec), out = load<i32>(rec, OUT), n = sizeOf(out);
  let a = load<i32>(rec, IN_A), b = load<i32>(rec, IN_B), c = load<i32>(rec, IN_C);
  let pa = dataPtr(a), pb = b >= 0 ? dataPtr(b) : rec + F0, pc = c >= 0 ? dataPtr(c) : rec + F0;
  let sa = sizeOf(a) == n, sb = b >= 0 && sizeOf(b) == n, sc = c >= 0 && sizeOf(c) == n;
  let y = dataPtr(out), g = gradPtr(out), p = fattr(rec, 0), k = load<i32>(rec, I0);
  let select = op == WHERE || op == MASKED_FILL;
  let ga: usize = 0, gb: usize = 0, gc: usize = 0;
  if (backward) {
    if (select) {
      gb = b >= 0 && requiresGrad(b) ? gradFor(b) : 0;
      gc = c >= 0 && requiresGrad(c) ? gradFor(c) : 0;
    } else ga = requiresGrad(a) ? gradFor(a) : 0;
    if (!ga && !gb && !gc) return;
  }
  // a gradient summed into one element takes one lane at a time
  let four = !backward || !((gb && !sb) || (gc && !sc));
  for (let i = 0; i < n;) {
    let full = four && i + 4 <= n, o = <usize>i << 2;
    let va = lanesAt(sa ? pa + o : pa, full && sa);
    let vb = lanesAt(sb ? pb + o : pb, full && sb);
    if (!backward) {
      storeLanes(y + o, extraValueV(op, va, vb, lanesAt(sc ? pc + o : pc, full && sc), p, k), full);
    } else if (select) {
      let vg = lanesAt(g + o, full), yes = f32x4.ne(va, f32x4.splat(0));
      if (gb) addLanes(sb ? gb + o : gb, v128.and(vg, yes), full);
      if (gc) addLanes(sc ? gc + o : gc, v128.andnot(vg, yes), full);
    } else {
      let d = extraGradV(op, va, lanesAt(y + o, full), p, k), vg = lanesAt(g + o, full);
      addLanes(ga + o, op == CLAMP ? v128.and(vg, d) : f32x4.mul(vg, d), full);
    }
    i += full ? 4 : 1;
  }
}

/**
 * tril keeps the elements of each matrix (out's last two dims, R×C) in column j ≤ row r + k,
 * triu those in j ≥ r + k (k = i0, which the façade keeps in [−R, C]), and zeroes the rest;
 * backward adds g where kept. Row r keeps the columns [lo, hi).
 */
export function triangle(rec: usize, backward: bool): void {
  let out = load<i32>(rec, OUT), a = load<i32>(rec, IN_A), k = load<i32>(rec, I0), n = sizeOf(out);
  let gx: usize = backward && requiresGrad(a) ? gradFor(a) : 0;
  if (!n || (backward && !gx)) return;
  let R = dim(out, rankOf(out) - 2), C = dim(out, rankOf(out) - 1), upper = opOf(rec) == TRIU;
  let x = dataPtr(a), y = dataPtr(out), g = gradPtr(out);
  for (let row = 0; row < n / C; row++) {
    let edge = row % R + k;
    let lo = upper ? min(max(edge, 0), C) : 0, hi = upper ? C : min(max(edge + 1, 0), C);
    let base = <usize>row * C;
    if (backward) {
      for (let j = lo; j < hi; j++) {
        let q = (base + j) << 2;
        store<f32>(gx + q, load<f32>(gx + q) + load<f32>(g + q));
      }
    } else {
      memory.fill(y + (base << 2), 0, <usize>C << 2);
      memory.copy(y + ((base + lo) << 2), x + ((base + lo) << 2), <usize>(hi - lo) << 2);
    }
  }
}
