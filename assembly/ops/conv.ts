// 2-D convolution and pooling over NCHW images.
//
// conv2d lowers each image to columns (im2col), a group of Cg = C/G input channels at a time, and
// multiplies with the blocked SIMD gemm:
//   cols[(c·KH + kh)·KW + kw, oh·OW + ow] = x[n, g·Cg + c, oh·SH − PH + kh·DH, ow·SW − PW + kw·DW]  (0 in the padding)
//   out[n, g·Og .. (g+1)·Og) = W[g·Og .. (g+1)·Og, Cg·KH·KW] · cols  (+ bias per output channel), Og = O/G
// and its backward reuses the same columns:
//   dW += dOut[n] · colsᵀ,   dCols = Wᵀ · dOut[n] → scattered back onto dx (col2im),   dBias += Σ dOut
// The forward and dx split over threads by image, each part with its own column matrix; dW by
// bands of output channels (each band summing over the images in order), whole groups when G > 1;
// dBias stays in one loop.
//
// conv record: a = x [N,C,H,W], b = weight [O,C/G,KH,KW], c = bias [O] or -1,
//              i0 = stride h, i1 = stride w, i2 = padding h, i3 = padding w,
//              i4 = dilation h | dilation w << 16, i5 = groups G
// transposed conv record: the same, with a = x [N,Cin,Hin,Win], b = weight [Cin,Cout/G,KH,KW] and
//   out = y [N,Cout,Hout,Wout]: y is the image a conv of that weight would map onto x, so the
//   geometry is read with the roles swapped (the "image" is y, the "matrix" x), and forward is the
//   conv's dx (col2im(Wᵀ·x)), dx is the conv's forward of dy (W·im2col(dy)), dW its dW with x as dOut
// pool record: a = x, i0 = KH, i1 = KW, i2 = stride h, i3 = stride w, i4 = padding h, i5 = padding w
//   max pool ignores the padding; avg pool counts it as zeros (PyTorch's count_include_pad)

import { MAX_POOL2D, CONV_TRANSPOSE2D } from "./opcodes";
import { dataPtr, shapePtr, requiresGrad, gradPtr, gradFor } from "../nodes";
import { scratchFor } from "../scratch";
import { OUT, IN_A, IN_B, IN_C, opOf, attr } from "../tape";
import { gemm } from "./matmul";
import { job, JOB_CONV, partsFor, runParallel, partRange } from "../parallel";

// @ts-ignore: decorator
@inline function at(base: usize, index: i32): usize { return base + (<usize>index << 2); }
// @ts-ignore: decorator
@inline function dimOf(id: i32, axis: i32): i32 { return load<i32>(at(shapePtr(id), axis)); }

// The geometry of the current record, read once per kernel call.
let N = 0, C = 0, H = 0, W = 0, O = 0, KH = 0, KW = 0, SH = 0, SW = 0, PH = 0, PW = 0, OH = 0, OW = 0;
let DH = 1, DW = 1, G = 1, Cg = 0, Og = 0;

function readGeometry(rec: usize, isConv: bool): void {
  let x = load<i32>(rec, IN_A), out = load<i32>(rec, OUT);
  if (opOf(rec) == CONV_TRANSPOSE2D) { let t = x; x = out; out = t; } // the image side is y
  N = dimOf(x, 0); C = dimOf(x, 1); H = dimOf(x, 2); W = dimOf(x, 3);
  OH = dimOf(out, 2); OW = dimOf(out, 3);
  DH = 1; DW = 1; G = 1;
  if (isConv) {
    let w = load<i32>(rec, IN_B);
    O = dimOf(w, 0); KH = dimOf(w, 2); KW = dimOf(w, 3);
    SH = attr(rec, 0); SW = attr(rec, 1); PH = attr(rec, 2); PW = attr(rec, 3);
    DH = attr(rec, 4) & 0xffff; DW = attr(rec, 4) >>> 16; G = attr(rec, 5);
  } else {
    O = C; KH = attr(rec, 0); KW = attr(rec, 1);
    SH = attr(rec, 2); SW = attr(rec, 3); PH = attr(rec, 4); PW = attr(rec, 5);
  }
  Cg = C / G; Og = O / G;
}

/** im2col of group g's channels of image x (C×H×W) into cols, or (scatter = true) col2im: x += cols. */
function columns(x: usize, cols: usize, scatter: bool, g: i32): void {
  let oH = OH, oW = OW, sH = SH, sW = SW, h = H, w = W, ohw = oH * oW; // (locals: the loops below are the hot part)
  let xg = at(x, g * Cg * h * w);
  for (let c = 0; c < Cg; c++) {
    for (let kh = 0; kh < KH; kh++) {
      let ih0 = kh * DH - PH;
      for (let kw = 0; kw < KW; kw++) {
        let iw0 = kw * DW - PW;
        let colRow = at(cols, ((c * KH + kh) * KW + kw) * ohw);
        // the outputs whose tap falls inside the row: iw = ow·sW + iw0 in [0, w) for ow in [lo, hi)
        let lo = iw0 >= 0 ? 0 : min(oW, (sW - 1 - iw0) / sW);
        let hi = max(lo, min(oW, w - iw0 <= 0 ? 0 : (w - iw0 + sW - 1) / sW));
        for (let oh = 0; oh < oH; oh++) {
          let ih = oh * sH + ih0;
          let dst = at(colRow, oh * oW);
          if (ih < 0 || ih >= h) {
            if (!scatter) memory.fill(dst, 0, <usize>oW << 2);
            continue;
          }
          let src = at(xg, (c * h + ih) * w + iw0);
          if (scatter) {
            let ow = lo;
            if (sW == 1) for (; ow + 4 <= hi; ow += 4) v128.store(at(src, ow), f32x4.add(v128.load(at(src, ow)), v128.load(at(dst, ow))));
            for (; ow < hi; ow++) store<f32>(at(src, ow * sW), load<f32>(at(src, ow * sW)) + load<f32>(at(dst, ow)));
            continue;
          }
          if (lo > 0) memory.fill(dst, 0, <usize>lo << 2);
          if (sW == 1) memory.copy(at(dst, lo), at(src, lo), <usize>(hi - lo) << 2);
          else for (let ow = lo; ow < hi; ow++) store<f32>(at(dst, ow), load<f32>(at(src, ow * sW)));
          if (hi < oW) memory.fill(at(dst, hi), 0, <usize>(oW - hi) << 2);
        }
      }
    }
  }
}

/** The column matrix of one group of one image: the scratch conv2d's forward and backward use. */
function columnBytes(): usize {
  return <usize>max(Cg * KH * KW * OH * OW, 1) << 2;
}

/** Multiply-adds in a conv part, at the least. */
// @ts-ignore: decorator
@inline const CONV_GRAIN: i64 = 1 << 17;

// What a conv job computes
// @ts-ignore: decorator
@inline const OUTPUT: i32 = 0; // out[n] = W·cols(x[n]) (+ bias), split by image
// @ts-ignore: decorator
@inline const INPUT: i32 = 1;  // dx[n] += col2im(Wᵀ·dOut[n]), split by image
// @ts-ignore: decorator
@inline const WEIGHT: i32 = 2; // dW += Σ_n dOut[n]·cols(x[n])ᵀ, split by bands of 4 output channels

export function conv2dForward(rec: usize): void {
  readGeometry(rec, true);
  if (opOf(rec) != CONV_TRANSPOSE2D) { convJob(rec, OUTPUT); return; }
  let y = dataPtr(load<i32>(rec, OUT)), bias = load<i32>(rec, IN_C);
  memory.fill(y, 0, <usize>(N * C * H * W) << 2); // col2im adds into it
  convJob(rec, INPUT);
  if (bias >= 0) for (let r = 0; r < N * C; r++) addTo(at(y, r * H * W), H * W, load<f32>(at(dataPtr(bias), r % C)));
}

/** row[0..n) += v. */
function addTo(row: usize, n: i32, v: f32): void {
  let bv = f32x4.splat(v), j = 0;
  for (; j + 4 <= n; j += 4) v128.store(at(row, j), f32x4.add(v128.load(at(row, j)), bv));
  for (; j < n; j++) store<f32>(at(row, j), load<f32>(at(row, j)) + v);
}

export function conv2dBackward(rec: usize): void {
  readGeometry(rec, true);
  let transposed = opOf(rec) == CONV_TRANSPOSE2D;
  let xId = load<i32>(rec, IN_A), wId = load<i32>(rec, IN_B), bias = load<i32>(rec, IN_C);
  let g = gradPtr(load<i32>(rec, OUT));
  let gx: usize = requiresGrad(xId) ? gradFor(xId) : 0;
  let gw: usize = requiresGrad(wId) ? gradFor(wId) : 0;
  let gb: usize = bias >= 0 && requiresGrad(bias) ? gradFor(bias) : 0;
  // the bias was added to the output: O channels of a conv's out, C of a transposed conv's y
  let channels = transposed ? C : O, plane = transposed ? H * W : OH * OW;
  if (gb) {
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < channels; o++) {
        let row = at(g, (n * channels + o) * plane), s: f32 = 0;
        for (let j = 0; j < plane; j++) s += load<f32>(at(row, j));
        store<f32>(at(gb, o), load<f32>(at(gb, o)) + s);
      }
    }
  }
  if (gw) convJob(rec, WEIGHT);
  if (gx) convJob(rec, transposed ? OUTPUT : INPUT);
}

/**
 * Runs a conv job over all images, split over threads, each part with its own column matrix:
 * by image for OUTPUT and INPUT; for WEIGHT by bands of 4 of dW's rows, each part walking every
 * image in order (its columns made again per part), so each element of dW sums in the same order.
 */
function convJob(rec: usize, kind: i32): void {
  let parts = partsFor(<i64>N * O * OH * OW * C * KH * KW, CONV_GRAIN);
  // (no more WEIGHT parts than whole bands: a part then has 4 rows or more, never the lone row
  // the gemm would take another path for; with groups, whole groups, the gemm's rows fixed by them)
  parts = max(min(parts, kind == WEIGHT ? (G > 1 ? G : O >> 2) : N), 1);
  let cols = scratchFor(<usize>parts * columnBytes());
  if (!cols) return; // counted by alloc; runOp reports out of memory
  if (parts == 1) { convRun(rec, kind, cols, 0, 1); return; } // (the job record may be another part's)
  store<i32>(job, JOB_CONV);
  store<usize>(job, rec, 4); store<i32>(job, kind, 8); store<usize>(job, cols, 12);
  runParallel(parts);
}

/** One part of convJob (its record as convJob writes it). */
export function convPart(job: usize, part: i32, parts: i32): void {
  let rec = load<usize>(job, 4);
  readGeometry(rec, true);
  convRun(rec, load<i32>(job, 8), load<usize>(job, 12), part, parts);
}

/** Part `part` of `parts` of a conv job (see convJob). */
function convRun(rec: usize, kind: i32, scratch: usize, part: i32, parts: i32): void {
  // the image side (columns of it) and the matrix side (W times columns) of the record, each as
  // values or gradients: a conv's x and out; a transposed conv's y and x (see the top)
  let transposed = opOf(rec) == CONV_TRANSPOSE2D;
  let imageId = load<i32>(rec + (transposed ? OUT : IN_A)), matrixId = load<i32>(rec + (transposed ? IN_A : OUT));
  let w = dataPtr(load<i32>(rec, IN_B)), bias = load<i32>(rec, IN_C);
  let ckk = Cg * KH * KW, ohw = OH * OW;
  let cols = scratch + <usize>part * columnBytes();
  if (kind == WEIGHT) { // dW += M · cols(image)ᵀ: a conv's dOut and x, a transposed conv's x and dy
    let image = transposed ? gradPtr(imageId) : dataPtr(imageId), m = transposed ? dataPtr(matrixId) : gradPtr(matrixId);
    // rows lo..hi of dW: bands of 4 rows, or (G > 1) whole groups
    let range = G > 1 ? partRange(G, 1, part, parts) : partRange(O, 4, part, parts);
    let lo = <i32>range * (G > 1 ? Og : 1), hi = <i32>(range >> 32) * (G > 1 ? Og : 1);
    let gw = gradPtr(load<i32>(rec, IN_B));
    for (let n = 0; n < N && lo < hi; n++) {
      for (let g = lo / Og; g * Og < hi; g++) {
        let first = max(lo, g * Og), rows = min(hi, (g + 1) * Og) - first;
        columns(at(image, n * C * H * W), cols, false, g);
        gemm(rows, ckk, ohw, at(m, (n * O + first) * ohw), ohw, 1, cols, 1, ohw, at(gw, first * ckk), true);
      }
    }
    return;
  }
  // INPUT: image += col2im(Wᵀ·M): a conv's dx from dOut, a transposed conv's y from x.
  // OUTPUT: M (+)= W·cols(image): a conv's out (then its bias), a transposed conv's dx from dy.
  let image = kind == INPUT ? (transposed ? dataPtr(imageId) : gradPtr(imageId)) : (transposed ? gradPtr(imageId) : dataPtr(imageId));
  let m = kind == INPUT ? (transposed ? dataPtr(matrixId) : gradPtr(matrixId)) : (transposed ? gradPtr(matrixId) : dataPtr(matrixId));
  let range = partRange(N, 1, part, parts);
  for (let n = <i32>range; n < <i32>(range >> 32); n++) {
    for (let g = 0; g < G; g++) {
      let wg = at(w, g * Og * ckk), mg = at(m, (n * O + g * Og) * ohw);
      if (kind == INPUT) {
        gemm(ckk, ohw, Og, wg, 1, ckk, mg, ohw, 1, cols, false); // cols = Wᵀ · M
        columns(at(image, n * C * H * W), cols, true, g);
      } else {
        columns(at(image, n * C * H * W), cols, false, g);
        gemm(Og, ohw, ckk, wg, ckk, 1, cols, ohw, 1, mg, transposed);
      }
    }
    if (kind == INPUT || transposed) continue;
    if (bias >= 0) for (let o = 0; o < O; o++) addTo(at(m, (n * O + o) * ohw), ohw, load<f32>(at(dataPtr(bias), o)));
  }
}

/** Visits each pooling window: forward writes out; backward adds out's grad to the inputs. */
function pool(rec: usize, backward: bool): void {
  readGeometry(rec, false);
  let xId = load<i32>(rec, IN_A), out = load<i32>(rec, OUT);
  let x = dataPtr(xId), y = dataPtr(out), g = gradPtr(out);
  let gx: usize = 0;
  if (backward) { gx = requiresGrad(xId) ? gradFor(xId) : 0; if (!gx) return; }
  let isMax = opOf(rec) == MAX_POOL2D;
  let count: f32 = <f32>(KH * KW); // avg pool divides by it, as PyTorch does (forward and backward)
  for (let plane = 0; plane < N * C; plane++) {
    let xp = at(x, plane * H * W);
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        let o = plane * OH * OW + oh * OW + ow;
        let h0 = oh * SH - PH, w0 = ow * SW - PW;
        let best: f32 = -Infinity, bestAt = -1, sum: f32 = 0;
        let share: f32 = backward && !isMax ? load<f32>(at(g, o)) / count : 0;
        for (let kh = 0; kh < KH; kh++) {
          let ih = h0 + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            let iw = w0 + kw;
            if (iw < 0 || iw >= W) continue;
            let idx = ih * W + iw;
            let v = load<f32>(at(xp, idx));
            if (isMax) { if (v > best || v != v || bestAt < 0) { best = v; bestAt = idx; } } // a NaN wins (the last one, as PyTorch's loop)
            else if (backward) { let p = at(gx, plane * H * W + idx); store<f32>(p, load<f32>(p) + share); }
            else sum += v;
          }
        }
        if (!backward) store<f32>(at(y, o), isMax ? best : sum / count);
        else if (isMax && bestAt >= 0) { let p = at(gx, plane * H * W + bestAt); store<f32>(p, load<f32>(p) + load<f32>(at(g, o))); }
      }
    }
  }
}

export function poolForward(rec: usize): void { pool(rec, false); }
export function poolBackward(rec: usize): void { pool(rec, true); }
