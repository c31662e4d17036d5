// tg.nn.functional: layers and losses as functions. Each is one fused op in the core (conv2d,
// pooling, the losses) or a short composition of tensor ops (linear, layerNorm, dropout).
import { issue } from './core';
import { Op, Cmd } from './opcodes';
import { Tensor, type TensorLike, type Index, asTensor, run, matmulWith, newTensor, indexTensor, add, sub, mul, div, sqrt, mean } from './tensor';
import { type Shape, fmt, numel, sameShape } from './shape';

export type Reduction = 'mean' | 'sum' | 'none';
const REDUCTIONS: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

function reductionCode(reduction: unknown, op: string): number {
  const code = REDUCTIONS[reduction as Reduction];
  if (code === undefined) throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got ${JSON.stringify(reduction)}`);
  return code;
}

/** x · weightᵀ + bias, with weight [out, in] as nn.Linear keeps it. */
export function linear(input: TensorLike, weight: Tensor, bias?: Tensor | null): Tensor {
  const x = asTensor(input, 'linear'), w = asTensor(weight, 'linear');
  if (w.dims.length !== 2) throw new Error(`linear: weight must be 2-D [out, in], got shape ${fmt(w.dims)}`);
  const b = bias ? asTensor(bias, 'linear') : null;
  // A bias of [out] rides in the matmul itself (one op, one pass); other shapes broadcast by add.
  if (!b || (b.dims.length === 1 && b.dims[0] === w.dims[0] && x.dims.length > 0)) return matmulWith(x, w, true, 'linear', b);
  const y = matmulWith(x, w, true, 'linear');
  const out = add(y, b);
  y.dispose(); // the add's record keeps it while a graph needs it
  return out;
}

/** A number or [h, w] pair, each an integer ≥ min. */
function pair(value: unknown, name: string, op: string, min: number): [number, number] {
  const v = typeof value === 'number' ? [value, value] : value;
  if (!Array.isArray(v) || v.length !== 2 || v.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < min)) {
    throw new Error(`${op}: ${name} must be an integer ≥ ${min} or a pair [h, w] of them, got ${JSON.stringify(value)}`);
  }
  return v as [number, number];
}

function outSize(op: string, input: Shape, H: number, K: number, S: number, P: number, axis: string): number {
  const n = Math.floor((H + 2 * P - K) / S) + 1;
  if (n < 1) throw new Error(`${op}: input of shape ${fmt(input)} is too small for kernel ${K} with padding ${P} along ${axis}`);
  return n;
}

export interface ConvOptions { stride?: number | [number, number]; padding?: number | [number, number] }

/** 2-D convolution: x [N, C, H, W], weight [O, C, KH, KW], bias [O]. */
export function conv2d(input: TensorLike, weight: Tensor, bias?: Tensor | null, options: ConvOptions = {}): Tensor {
  const x = asTensor(input, 'conv2d'), w = asTensor(weight, 'conv2d');
  if (x.dims.length !== 4) throw new Error(`conv2d: input must be 4-D [N, C, H, W], got shape ${fmt(x.dims)}`);
  if (w.dims.length !== 4 || w.dims[1] !== x.dims[1]) {
    throw new Error(`conv2d: weight of shape ${fmt(w.dims)} does not fit input of shape ${fmt(x.dims)} (expected [O, ${x.dims[1]}, KH, KW])`);
  }
  const b = bias ? asTensor(bias, 'conv2d') : null;
  if (b && (b.dims.length !== 1 || b.dims[0] !== w.dims[0])) throw new Error(`conv2d: bias of shape ${fmt(b.dims)} does not match ${w.dims[0]} output channels`);
  const [sh, sw] = pair(options.stride ?? 1, 'stride', 'conv2d', 1);
  const [ph, pw] = pair(options.padding ?? 0, 'padding', 'conv2d', 0);
  const [N, , H, W] = x.dims, [O, , KH, KW] = w.dims;
  const shape = [N, O, outSize('conv2d', x.dims, H, KH, sh, ph, 'height'), outSize('conv2d', x.dims, W, KW, sw, pw, 'width')];
  return run(Op.CONV2D, 'conv2d', shape, x, w, b, sh, sw, ph, pw);
}

export interface PoolOptions { stride?: number | [number, number]; padding?: number | [number, number] }

function pool2d(op: Op, name: string, input: TensorLike, kernelSize: number | [number, number], options: PoolOptions): Tensor {
  const x = asTensor(input, name);
  if (x.dims.length !== 4) throw new Error(`${name}: input must be 4-D [N, C, H, W], got shape ${fmt(x.dims)}`);
  const [kh, kw] = pair(kernelSize, 'kernelSize', name, 1);
  const [sh, sw] = pair(options.stride ?? [kh, kw], 'stride', name, 1);
  const [ph, pw] = pair(options.padding ?? 0, 'padding', name, 0);
  if (2 * ph > kh || 2 * pw > kw) throw new Error(`${name}: padding [${ph}, ${pw}] must be at most half of kernelSize [${kh}, ${kw}]`);
  const [N, C, H, W] = x.dims;
  const shape = [N, C, outSize(name, x.dims, H, kh, sh, ph, 'height'), outSize(name, x.dims, W, kw, sw, pw, 'width')];
  return run(op, name, shape, x, null, null, kh, kw, sh, sw, ph, pw);
}

export const maxPool2d = (x: TensorLike, kernelSize: number | [number, number], options: PoolOptions = {}): Tensor =>
  pool2d(Op.MAX_POOL2D, 'maxPool2d', x, kernelSize, options);
/** Average pooling; padded positions count as zeros (PyTorch's countIncludePad default). */
export const avgPool2d = (x: TensorLike, kernelSize: number | [number, number], options: PoolOptions = {}): Tensor =>
  pool2d(Op.AVG_POOL2D, 'avgPool2d', x, kernelSize, options);

export interface LossOptions { reduction?: Reduction }
export interface CrossEntropyOptions extends LossOptions { labelSmoothing?: number }

/** A loss over [N, C] scores and N integer class labels (crossEntropy, nllLoss). */
function classLoss(op: Op, name: string, input: TensorLike, labels: Index, reduction: unknown, smoothing: number): Tensor {
  const x = asTensor(input, name);
  if (x.dims.length !== 2) throw new Error(`${name}: input must be 2-D [N, C] (a batch of class scores), got shape ${fmt(x.dims)}`);
  const [N, C] = x.dims;
  const code = reductionCode(reduction, name);
  const { t, owned } = indexTensor(labels, C, name);
  try {
    if (t.dims.length !== 1 || t.dims[0] !== N) throw new Error(`${name}: labels of shape ${fmt(t.dims)} do not match input of shape ${fmt(x.dims)} (expected [${N}])`);
    return run(op, name, code === 0 ? [N] : [], x, null, t, code, N, C, 0, 0, 0, smoothing);
  } finally {
    if (owned) t.dispose();
  }
}

/** Softmax cross-entropy from logits [N, C] and integer labels, fused and numerically stable. */
export function crossEntropy(logits: TensorLike, labels: Index, options: CrossEntropyOptions = {}): Tensor {
  const smoothing = options.labelSmoothing ?? 0;
  if (typeof smoothing !== 'number' || !(smoothing >= 0 && smoothing <= 1)) {
    throw new Error(`crossEntropy: labelSmoothing must be a number in [0, 1], got ${String(smoothing)}`);
  }
  return classLoss(Op.CROSS_ENTROPY, 'crossEntropy', logits, labels, options.reduction ?? 'mean', smoothing);
}

/** Negative log-likelihood of log-probabilities [N, C] at integer labels. */
export function nllLoss(logProbs: TensorLike, labels: Index, options: LossOptions = {}): Tensor {
  return classLoss(Op.NLL_LOSS, 'nllLoss', logProbs, labels, options.reduction ?? 'mean', 0);
}

/** An elementwise loss between two tensors of one shape (mseLoss, binaryCrossEntropyWithLogits). */
function pairLoss(op: Op, name: string, input: TensorLike, target: TensorLike, options: LossOptions): Tensor {
  const x = asTensor(input, name), y = asTensor(target, name);
  if (!sameShape(x.dims, y.dims)) throw new Error(`${name}: input of shape ${fmt(x.dims)} and target of shape ${fmt(y.dims)} differ`);
  const code = reductionCode(options.reduction ?? 'mean', name);
  return run(op, name, code === 0 ? x.dims : [], x, y, null, code, numel(x.dims), 1);
}

export const mseLoss = (input: TensorLike, target: TensorLike, options: LossOptions = {}): Tensor =>
  pairLoss(Op.MSE_LOSS, 'mseLoss', input, target, options);
/** Sigmoid + binary cross-entropy in one stable op: logits of ±100 give exact losses. */
export const binaryCrossEntropyWithLogits = (logits: TensorLike, targets: TensorLike, options: LossOptions = {}): Tensor =>
  pairLoss(Op.BCE_WITH_LOGITS, 'binaryCrossEntropyWithLogits', logits, targets, options);

/** Zeroes each element with probability p and scales the rest by 1/(1−p) (seeded by manualSeed). */
export function dropout(input: TensorLike, p = 0.5, training = true): Tensor {
  const x = asTensor(input, 'dropout');
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`dropout: p must be a probability in [0, 1], got ${String(p)}`);
  if (!training || p === 0) return x;
  const mask = newTensor(x.dims, 'dropout');
  issue(Cmd.DROPOUT, -1, mask.id, -1, 0, 0, 0, 0, 0, p);
  const out = mul(x, mask);
  mask.dispose(); // the mul's record keeps the mask while a graph needs it
  return out;
}

/** Normalises over the trailing `normalizedShape` dims, then scales and shifts. */
export function layerNorm(input: TensorLike, normalizedShape: number | number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const x = asTensor(input, 'layerNorm');
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
  const tail = x.dims.slice(x.dims.length - shape.length);
  if (shape.length === 0 || shape.length > x.dims.length || !sameShape(tail, shape)) {
    throw new Error(`layerNorm: normalizedShape ${fmt(shape)} does not match the trailing dims of input shape ${fmt(x.dims)}`);
  }
  const dims = shape.map((_, i) => x.dims.length - shape.length + i);
  const temps: Tensor[] = [];
  const keepTemp = (t: Tensor): Tensor => { temps.push(t); return t; };
  const centered = keepTemp(sub(x, keepTemp(mean(x, dims, true))));
  const variance = keepTemp(mean(keepTemp(mul(centered, centered)), dims, true));
  let y = div(centered, keepTemp(sqrt(keepTemp(add(variance, eps)))));
  if (weight) y = mul(keepTemp(y), weight);
  if (bias) y = add(keepTemp(y), bias);
  for (const t of temps) t.dispose(); // records keep what backward needs
  return y;
}
