// tg.nn.functional: layers and losses as functions. Each is one fused op in the core (conv2d,
// pooling, the losses) or a short composition of tensor ops (linear, layerNorm, dropout).
import { issue, core } from './core';
import { Op, Cmd } from './opcodes';
import { Tensor, type TensorLike, type Index, withTensors, viaTensor, live, run, fail, newTensor } from './tensor';
import { add, sub, mul, div, sqrt, rsqrt, square } from './ops/elementwise';
import { matmulWith } from './ops/matmul';
import { mean } from './ops/reduce';
import { indexTensor, reshape } from './ops/shape';
import {
  type Shape, fmt, numel, sameShape, broadcastShape, readOptions, oneOf, numberIn, pairAtLeast, checkPair, checkInt, checkNumber, checkBool,
  show, INT_MAX, bool, checkBytes, f32Bits,
} from './shape';
import type { NestedArray } from './tensor';
import { isRecording } from './trace';
import { detach } from './autograd';
import { tidy } from './memory';

/** How a loss reduces its per-element values: their mean (the default), sum, or none (kept). */
export type Reduction = 'mean' | 'sum' | 'none';
/** The core's reduction codes are the positions in this list (searched by value, never indexed by the name). */
const REDUCTIONS = ['none', 'mean', 'sum'] as const;
const reduction = oneOf(REDUCTIONS);
const LOSS_OPTIONS = { reduction };
const CROSS_ENTROPY_OPTIONS = { reduction, labelSmoothing: numberIn(0, 1) };

function reductionCode(value: Reduction | undefined): number {
  return REDUCTIONS.indexOf(value ?? 'mean');
}

/**
 * The hot path of linear, conv2d and layerNorm: input and weight are Tensors, bias (or weight and
 * bias for layerNorm) a Tensor or absent. Checks they are live; false sends the call the slow way.
 */
function allTensors(input: unknown, weight: unknown, bias: unknown, op: string): boolean {
  if (!(input instanceof Tensor) || !(weight === undefined || weight === null || weight instanceof Tensor) ||
    !(bias === undefined || bias === null || bias instanceof Tensor)) return false;
  if (input.isDisposed) live(input, `${op}: input`);
  if (weight && (weight as Tensor).isDisposed) live(weight as Tensor, `${op}: weight`);
  if (bias && (bias as Tensor).isDisposed) live(bias as Tensor, `${op}: bias`);
  return true;
}

/** The operands as tensors (an optional one, undefined or null, stays null) for the time fn runs. */
function operands<R>(op: string, names: string[], xs: unknown[], fn: (ts: (Tensor | null)[]) => R): R {
  const present = xs.map((x) => x !== undefined && x !== null);
  return withTensors(op, xs.filter((_, i) => present[i]), (ts) => {
    let k = 0;
    return fn(present.map((p) => (p ? ts[k++] : null)));
  }, names.filter((_, i) => present[i]));
}

/**
 * x · weightᵀ + bias, with weight [out, in] as nn.Linear keeps it.
 *
 * @example
 * ```ts
 * const y = tg.nn.functional.linear(tg.tensor([[1, 2]]), tg.tensor([[1, 1], [0, 1]]), tg.tensor([0, 10]));
 * y.toArray(); // → [[3, 12]]
 * ```
 */
export function linear(input: TensorLike, weight: Tensor, bias?: Tensor | null): Tensor {
  if (weight === undefined || weight === null) throw new Error(`linear: weight must be a Tensor, got ${show(weight)}`);
  if (allTensors(input, weight, bias, 'linear')) return linearOf(input as Tensor, weight, bias ?? null);
  return operands('linear', ['input', 'weight', 'bias'], [input, weight, bias], ([x, w, b]) => linearOf(x!, w!, b));
}

function linearOf(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  if (w.dims.length !== 2) throw new Error(`linear: weight must be 2-D [out, in], got shape ${fmt(w.dims)}`);
  if (b && !(b.dims.length === 1 && b.dims[0] === w.dims[0])) {
    // another bias must broadcast to the output [..., out] without changing its shape
    const outShape = [...x.dims.slice(0, -1), w.dims[0]];
    let fits = false;
    try { fits = sameShape(broadcastShape(outShape, b.dims, 'linear'), outShape); } catch { /* reported below */ }
    if (!fits) throw new Error(`linear: bias of shape ${fmt(b.dims)} does not fit the output of shape ${fmt(outShape)}`);
  }
  // A bias of [out] rides in the matmul itself (one op, one pass); other shapes broadcast by add.
  if (!b || (b.dims.length === 1 && b.dims[0] === w.dims[0] && x.dims.length > 0)) return matmulWith(x, w, true, 'linear', b);
  const y = matmulWith(x, w, true, 'linear');
  const out = add(y, b);
  y.dispose(); // the add's record keeps it while a graph needs it
  return out;
}

function outSize(op: string, input: Shape, H: number, K: number, S: number, P: number, axis: string, D = 1): number {
  // the kernels index the padded input in i32: H + 2P must fit
  if (H + 2 * P > INT_MAX) throw new Error(`${op}: padding ${P} is too large for input of shape ${fmt(input)} along ${axis}`);
  const n = Math.floor((H + 2 * P - D * (K - 1) - 1) / S) + 1;
  if (n < 1) throw new Error(`${op}: input of shape ${fmt(input)} is too small for kernel ${K}${D > 1 ? ` dilated ${D}` : ''} with padding ${P} along ${axis}`);
  return n;
}

/**
 * Options of {@link conv2d}; a number applies to both spatial dims.
 * @property stride - step of the kernel (default 1)
 * @property padding - zeros added on each side (default 0)
 * @property dilation - spacing between the kernel's taps (default 1)
 * @property groups - input and output channels split into this many groups, each convolved alone
 *   (default 1; groups = C is a depthwise convolution)
 */
export interface ConvOptions { stride?: number | [number, number]; padding?: number | [number, number]; dilation?: number | [number, number]; groups?: number }
const CONV_OPTIONS = {
  stride: pairAtLeast(1), padding: pairAtLeast(0),
  dilation: (v: unknown, name: string, op: string): [number, number] => {
    const d = checkPair(v, name, op, 1);
    if (d[0] > 65535 || d[1] > 65535) throw new Error(`${op}: ${name} must be at most 65535 (the core keeps two in one integer), got ${show(v)}`);
    return d;
  },
  groups: (v: unknown, name: string, op: string) => checkInt(v, name, op, 1),
};

/**
 * 2-D convolution: x [N, C, H, W], weight [O, C / groups, KH, KW], bias [O].
 *
 * @example
 * ```ts
 * const y = tg.nn.functional.conv2d(tg.ones([1, 1, 3, 3]), tg.ones([1, 1, 2, 2]));
 * y.toArray(); // → [[[[4, 4], [4, 4]]]]
 * ```
 */
export function conv2d(input: TensorLike, weight: Tensor, bias?: Tensor | null, options?: ConvOptions): Tensor {
  const o = readOptions(options, CONV_OPTIONS, 'conv2d');
  if (weight === undefined || weight === null) throw new Error(`conv2d: weight must be a Tensor, got ${show(weight)}`);
  if (allTensors(input, weight, bias, 'conv2d')) return conv2dOf(input as Tensor, weight, bias ?? null, o, 'conv2d');
  return operands('conv2d', ['input', 'weight', 'bias'], [input, weight, bias], ([x, w, b]) => conv2dOf(x!, w!, b, o, 'conv2d'));
}

/**
 * Options of {@link convTranspose2d}: as {@link ConvOptions}, plus
 * @property outputPadding - extra rows and columns on the bottom and right of the output (default 0;
 *   each below its stride or its dilation), to pick among the sizes a stride maps onto one input size
 */
export interface ConvTransposeOptions extends ConvOptions { outputPadding?: number | [number, number] }
const CONV_TRANSPOSE_OPTIONS = { ...CONV_OPTIONS, outputPadding: pairAtLeast(0) };

/**
 * 2-D transposed convolution (PyTorch's F.conv_transpose2d, the gradient of conv2d with respect
 * to its input): x [N, Cin, H, W], weight [Cin, Cout / groups, KH, KW], bias [Cout]; the output is
 * (H − 1)·stride − 2·padding + dilation·(KH − 1) + outputPadding + 1 high (likewise wide).
 *
 * @example
 * ```ts
 * tg.nn.functional.convTranspose2d(tg.ones([1, 1, 2, 2]), tg.ones([1, 1, 2, 2]), null, { stride: 2 }).shape; // → [1, 1, 4, 4]
 * ```
 */
export function convTranspose2d(input: TensorLike, weight: Tensor, bias?: Tensor | null, options?: ConvTransposeOptions): Tensor {
  const op = 'convTranspose2d';
  const o = readOptions(options, CONV_TRANSPOSE_OPTIONS, op);
  if (weight === undefined || weight === null) throw new Error(`${op}: weight must be a Tensor, got ${show(weight)}`);
  return operands(op, ['input', 'weight', 'bias'], [input, weight, bias], ([x, w, b]) => {
    const [sh, sw] = o.stride ?? [1, 1], [ph, pw] = o.padding ?? [0, 0], [dh, dw] = o.dilation ?? [1, 1], [oph, opw] = o.outputPadding ?? [0, 0], G = o.groups ?? 1;
    checkConvInput(x!, G, op);
    const [N, Cin, H, W] = x!.dims;
    if (w!.dims.length !== 4 || w!.dims[0] !== Cin || w!.dims[2] === 0 || w!.dims[3] === 0) {
      throw new Error(`${op}: weight of shape ${fmt(w!.dims)} does not fit input of shape ${fmt(x!.dims)} (expected [${Cin}, Cout / groups, KH, KW])`);
    }
    const Cout = w!.dims[1] * G, [, , KH, KW] = w!.dims;
    checkConvBias(b, Cout, op);
    if ((oph >= sh && oph >= dh) || (opw >= sw && opw >= dw)) {
      throw new Error(`${op}: outputPadding [${oph}, ${opw}] must be smaller than either stride [${sh}, ${sw}] or dilation [${dh}, ${dw}] (as PyTorch)`);
    }
    const out = [(H - 1) * sh - 2 * ph + dh * (KH - 1) + oph + 1, (W - 1) * sw - 2 * pw + dw * (KW - 1) + opw + 1];
    if (out[0] < 1 || out[1] < 1) throw new Error(`${op}: padding [${ph}, ${pw}] leaves no output for input of shape ${fmt(x!.dims)} and kernel [${KH}, ${KW}]`);
    const shape = [N, Cout, ...out];
    checkBytes(shape, op);
    return run(Op.CONV_TRANSPOSE2D, op, shape, x!, w!, b, sh, sw, ph, pw, dh | (dw << 16), G);
  });
}

/**
 * Options of {@link conv1d}: as {@link ConvOptions}, one number each.
 * @property stride - step of the kernel (default 1)
 * @property padding - zeros added on each side (default 0)
 * @property dilation - spacing between the kernel's taps (default 1)
 * @property groups - channels split into this many groups convolved apart (default 1)
 */
export interface Conv1dOptions { stride?: number; padding?: number; dilation?: number; groups?: number }

/**
 * 1-D convolution: x [N, C, L], weight [O, C / groups, K], bias [O] (PyTorch's F.conv1d), run as
 * conv2d over [N, C, 1, L] views.
 *
 * @example
 * ```ts
 * tg.nn.functional.conv1d(tg.ones([1, 1, 5]), tg.ones([1, 1, 2]), null, { dilation: 2 }).toArray(); // → [[[2, 2, 2]]]
 * ```
 */
export function conv1d(input: TensorLike, weight: Tensor, bias?: Tensor | null, options?: Conv1dOptions): Tensor {
  const o = readOptions(options, CONV1D_OPTIONS, 'conv1d');
  if (weight === undefined || weight === null) throw new Error(`conv1d: weight must be a Tensor, got ${show(weight)}`);
  return operands('conv1d', ['input', 'weight', 'bias'], [input, weight, bias], ([x, w, b]) => {
    if (x!.dims.length !== 3) throw new Error(`conv1d: input must be 3-D [N, C, L], got shape ${fmt(x!.dims)}`);
    if (w!.dims.length !== 3) throw new Error(`conv1d: weight must be 3-D [O, C / groups, K], got shape ${fmt(w!.dims)}`);
    const [N, C, L] = x!.dims, [O, Cg, K] = w!.dims;
    return tidy(() => {
      const y = conv2dOf(reshape(x!, [N, C, 1, L]), reshape(w!, [O, Cg, 1, K]), b, {
        stride: [1, o.stride ?? 1], padding: [0, o.padding ?? 0], dilation: [1, o.dilation ?? 1], groups: o.groups,
      }, 'conv1d');
      return reshape(y, [N, O, y.dims[3]]);
    });
  });
}
const CONV1D_OPTIONS = {
  stride: (v: unknown, name: string, op: string) => checkInt(v, name, op, 1),
  padding: (v: unknown, name: string, op: string) => checkInt(v, name, op, 0),
  dilation: (v: unknown, name: string, op: string) => checkInt(v, name, op, 1, 65535),
  groups: (v: unknown, name: string, op: string) => checkInt(v, name, op, 1),
};

/** A convolution's input is [N, C, H, W] with C split into `groups`. */
function checkConvInput(x: Tensor, groups: number, op: string): void {
  if (x.dims.length !== 4) throw new Error(`${op}: input must be 4-D [N, C, H, W], got shape ${fmt(x.dims)}`);
  if (x.dims[1] % groups !== 0) throw new Error(`${op}: the ${x.dims[1]} input channels of shape ${fmt(x.dims)} do not split into groups ${groups}`);
}

/** A convolution's bias, when given, is one value per output channel. */
function checkConvBias(b: Tensor | null, channels: number, op: string): void {
  if (b && (b.dims.length !== 1 || b.dims[0] !== channels)) throw new Error(`${op}: bias of shape ${fmt(b.dims)} does not match ${channels} output channels`);
}

function conv2dOf(x: Tensor, w: Tensor, b: Tensor | null, o: { stride?: [number, number]; padding?: [number, number]; dilation?: [number, number]; groups?: number }, op: string): Tensor {
  const [sh, sw] = o.stride ?? [1, 1], [ph, pw] = o.padding ?? [0, 0], [dh, dw] = o.dilation ?? [1, 1], G = o.groups ?? 1;
  checkConvInput(x, G, op);
  const C = x.dims[1], O = w.dims[0];
  if (w.dims.length !== 4 || w.dims[1] !== C / G || O % G !== 0) {
    throw new Error(`${op}: weight of shape ${fmt(w.dims)} does not fit input of shape ${fmt(x.dims)} (expected [O, ${C / G}, KH, KW]${G > 1 ? ` with O divisible by groups ${G}` : ''})`);
  }
  if (w.dims[2] === 0 || w.dims[3] === 0) throw new Error(`${op}: the kernel size of weight shape ${fmt(w.dims)} must be at least 1×1`);
  checkConvBias(b, O, op);
  const [N, , H, W] = x.dims, [, , KH, KW] = w.dims;
  const shape = [N, O, outSize(op, x.dims, H, KH, sh, ph, 'height', dh), outSize(op, x.dims, W, KW, sw, pw, 'width', dw)];
  return run(Op.CONV2D, op, shape, x, w, b, sh, sw, ph, pw, dh | (dw << 16), G);
}

/**
 * Options of {@link maxPool2d} and {@link avgPool2d}; a number applies to both spatial dims.
 * @property stride - step of the window (default: kernelSize)
 * @property padding - padding on each side, at most half the kernel (default 0)
 */
export interface PoolOptions { stride?: number | [number, number]; padding?: number | [number, number] }
const POOL_OPTIONS = {
  stride: (v: unknown, name: string, op: string) => (v === null ? null : checkPair(v, name, op, 1)), // null: kernelSize, like None
  padding: pairAtLeast(0),
};

function pool2d(op: Op, name: string, input: TensorLike, kernelSize: number | [number, number], options: PoolOptions | undefined): Tensor {
  const o = readOptions(options, POOL_OPTIONS, name);
  const [kh, kw] = checkPair(kernelSize, 'kernelSize', name, 1);
  const [sh, sw] = o.stride ?? [kh, kw];
  const [ph, pw] = o.padding ?? [0, 0];
  if (2 * ph > kh || 2 * pw > kw) throw new Error(`${name}: padding [${ph}, ${pw}] must be at most half of kernelSize [${kh}, ${kw}]`);
  return withTensors(name, [input], ([x]) => {
    if (x.dims.length !== 4) throw new Error(`${name}: input must be 4-D [N, C, H, W], got shape ${fmt(x.dims)}`);
    const [N, C, H, W] = x.dims;
    const shape = [N, C, outSize(name, x.dims, H, kh, sh, ph, 'height'), outSize(name, x.dims, W, kw, sw, pw, 'width')];
    return run(op, name, shape, x, null, null, kh, kw, sh, sw, ph, pw);
  });
}

/**
 * Max pooling over [N, C, H, W]; padded positions count as −∞.
 * @example
 * ```ts
 * const y = tg.nn.functional.maxPool2d(tg.arange(16).reshape(1, 1, 4, 4), 2);
 * y.toArray(); // → [[[[5, 7], [13, 15]]]]
 * ```
 */
export const maxPool2d = (x: TensorLike, kernelSize: number | [number, number], options?: PoolOptions): Tensor =>
  pool2d(Op.MAX_POOL2D, 'maxPool2d', x, kernelSize, options);
/** Average pooling; padded positions count as zeros (PyTorch's countIncludePad default). */
export const avgPool2d = (x: TensorLike, kernelSize: number | [number, number], options?: PoolOptions): Tensor =>
  pool2d(Op.AVG_POOL2D, 'avgPool2d', x, kernelSize, options);

/**
 * Options of the losses.
 * @property reduction - 'mean' (default), 'sum' or 'none'
 */
export interface LossOptions { reduction?: Reduction }
/**
 * Options of {@link crossEntropy}.
 * @property labelSmoothing - mixes the target with the uniform distribution, in [0, 1] (default 0)
 * @property reduction - 'mean' (default), 'sum' or 'none'
 */
export interface CrossEntropyOptions extends LossOptions { labelSmoothing?: number }

/** A loss over [N, C] scores and N integer class labels (crossEntropy, nllLoss). */
function classLoss(op: Op, name: string, input: TensorLike, labels: Index, code: number, smoothing: number): Tensor {
  if (!(input instanceof Tensor)) return viaTensor(name, input, (t) => classLoss(op, name, t, labels, code, smoothing));
  live(input, name);
  return classLossOf(op, name, input, labels, code, smoothing);
}

function classLossOf(op: Op, name: string, x: Tensor, labels: Index, code: number, smoothing: number): Tensor {
  if (x.dims.length !== 2) throw new Error(`${name}: input must be 2-D [N, C] (a batch of class scores), got shape ${fmt(x.dims)}`);
  const [N, C] = x.dims;
  const { t, owned } = indexTensor(labels, C, name, 'label');
  try {
    if (t.dims.length !== 1 || t.dims[0] !== N) throw new Error(`${name}: labels of shape ${fmt(t.dims)} do not match input of shape ${fmt(x.dims)} (expected [${N}])`);
    return run(op, name, code === 0 ? [N] : [], x, null, t, code, N, C, 0, 0, 0, smoothing);
  } finally {
    if (owned) t.dispose();
  }
}

/**
 * Softmax cross-entropy from logits [N, C] and integer labels, fused and numerically stable.
 *
 * @example
 * ```ts
 * const loss = tg.nn.functional.crossEntropy(tg.zeros([2, 3]), [0, 2]);
 * loss.item(); // → Math.log(3)
 * ```
 */
export function crossEntropy(logits: TensorLike, labels: Index, options?: CrossEntropyOptions): Tensor {
  const o = readOptions(options, CROSS_ENTROPY_OPTIONS, 'crossEntropy');
  return classLoss(Op.CROSS_ENTROPY, 'crossEntropy', logits, labels, reductionCode(o.reduction), o.labelSmoothing ?? 0);
}

/**
 * Negative log-likelihood of log-probabilities [N, C] at integer labels.
 *
 * @example
 * ```ts
 * tg.nn.functional.nllLoss(tg.tensor([[-1, -2]]), [1]).item(); // → 2
 * ```
 */
export function nllLoss(logProbs: TensorLike, labels: Index, options?: LossOptions): Tensor {
  const o = readOptions(options, LOSS_OPTIONS, 'nllLoss');
  return classLoss(Op.NLL_LOSS, 'nllLoss', logProbs, labels, reductionCode(o.reduction), 0);
}

/** An elementwise loss between two tensors of one shape (mseLoss, binaryCrossEntropyWithLogits). */
function pairLoss(op: Op, name: string, input: TensorLike, target: TensorLike, options: LossOptions | undefined): Tensor {
  const code = reductionCode(readOptions(options, LOSS_OPTIONS, name).reduction);
  return withTensors(name, [input, target], ([x, y]) => {
    if (!sameShape(x.dims, y.dims)) throw new Error(`${name}: input of shape ${fmt(x.dims)} and target of shape ${fmt(y.dims)} differ`);
    return run(op, name, code === 0 ? x.dims : [], x, y, null, code, numel(x.dims), 1);
  }, ['input', 'target']);
}

/**
 * Mean squared error between input and target of one shape.
 * @example
 * ```ts
 * tg.nn.functional.mseLoss(tg.tensor([1, 2]), tg.tensor([0, 0])).item(); // → 2.5
 * ```
 */
export const mseLoss = (input: TensorLike, target: TensorLike, options?: LossOptions): Tensor =>
  pairLoss(Op.MSE_LOSS, 'mseLoss', input, target, options);
/**
 * Sigmoid + binary cross-entropy in one stable op: logits of ±100 give exact losses.
 *
 * @example
 * ```ts
 * tg.nn.functional.binaryCrossEntropyWithLogits(tg.tensor([0]), tg.tensor([1])).item(); // → Math.LN2
 * ```
 */
export const binaryCrossEntropyWithLogits = (logits: TensorLike, targets: TensorLike, options?: LossOptions): Tensor =>
  pairLoss(Op.BCE_WITH_LOGITS, 'binaryCrossEntropyWithLogits', logits, targets, options);

/**
 * Zeroes each element with probability p and scales the rest by 1/(1−p) (seeded by manualSeed).
 *
 * @example
 * ```ts
 * tg.nn.functional.dropout(tg.ones([4]), 0.5, false).toArray(); // → [1, 1, 1, 1]
 * ```
 */
export function dropout(input: TensorLike, p = 0.5, training = true): Tensor {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`dropout: p must be a probability in [0, 1], got ${show(p)}`);
  checkBool(training, 'training', 'dropout');
  return withTensors('dropout', [input], ([x]) => {
    if (!training || p === 0) return x;
    const mask = newTensor(x.dims, 'dropout');
    issue(Cmd.DROPOUT, -1, mask.id, -1, 0, 0, 0, 0, 0, p);
    const out = mul(x, mask);
    mask.dispose(); // the mul's record keeps the mask while a graph needs it
    return out;
  });
}

/**
 * Normalises over the trailing `normalizedShape` dims, then scales and shifts.
 *
 * @example
 * ```ts
 * tg.nn.functional.layerNorm(tg.tensor([[1, 3]]), 2).toArray(); // → [[-1, 1]]
 * ```
 */
export function layerNorm(input: TensorLike, normalizedShape: number | number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const shape = normShape(normalizedShape, 'layerNorm');
  checkNumber(eps, 'eps', 'layerNorm', 0);
  if (allTensors(input, weight, bias, 'layerNorm')) return layerNormOf(input as Tensor, shape, weight ?? null, bias ?? null, eps);
  return operands('layerNorm', ['input', 'weight', 'bias'], [input, weight, bias], ([x, w, b]) => layerNormOf(x!, shape, w, b, eps));
}

function layerNormOf(x: Tensor, shape: number[], weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  checkTrailing(x, shape, weight, bias, 'layerNorm');
  const rows = numel(x.dims.slice(0, x.dims.length - shape.length));
  return run(Op.LAYER_NORM, 'layerNorm', x.dims, x, weight, bias, rows, numel(shape), 0, 0, 0, 0, eps);
}

/**
 * Group normalization (PyTorch's `F.group_norm`): the channels (dim 1) of input [N, C, ...] in
 * numGroups groups, each normalized over its channels and every later dim (biased variance), then
 * scaled by weight [C] and shifted by bias [C] per channel. Runs as the fused layerNorm kernel over
 * a [N, numGroups, rest] view of the input.
 *
 * @example
 * ```ts
 * tg.nn.functional.groupNorm(tg.randn([8, 6, 5, 5]), 3).shape; // → [8, 6, 5, 5]
 * ```
 */
export function groupNorm(input: TensorLike, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  checkNumber(eps, 'eps', 'groupNorm', 0);
  if (allTensors(input, weight, bias, 'groupNorm')) return groupNormOf(input as Tensor, numGroups, weight ?? null, bias ?? null, eps);
  return operands('groupNorm', ['input', 'weight', 'bias'], [input, weight, bias], ([x, w, b]) => groupNormOf(x!, numGroups, w, b, eps));
}

function groupNormOf(x: Tensor, groups: number, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  if (x.dims.length < 2) throw new Error(`groupNorm: input must be [N, C, ...], got shape ${fmt(x.dims)}`);
  const C = x.dims[1];
  checkInt(groups, 'numGroups', 'groupNorm', 1);
  if (C % groups !== 0) throw new Error(`groupNorm: the ${C} channels (dim 1 of shape ${fmt(x.dims)}) do not split into numGroups ${groups}`);
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t && !sameShape(t.dims, [C])) throw new Error(`groupNorm: ${name} of shape ${fmt(t.dims)} must be [${C}], one per channel`);
  }
  const rest = (C / groups) * numel(x.dims.slice(2)), perChannel = [C, ...x.dims.slice(2).map(() => 1)];
  return tidy(() => {
    let y = reshape(layerNormOf(reshape(x, [x.dims[0], groups, rest]), [rest], null, null, eps), x.dims.slice());
    if (weight) y = mul(y, reshape(weight, perChannel));
    return bias ? add(y, reshape(bias, perChannel)) : y;
  });
}

/**
 * Root-mean-square normalization (PyTorch 2.4's `F.rms_norm`): x / sqrt(mean(x²) + eps) over the
 * trailing `normalizedShape` dims, times weight (of that shape) when given. eps defaults to
 * float32's machine epsilon (2⁻²³), as PyTorch's `torch.finfo(x.dtype).eps`.
 *
 * @example
 * ```ts
 * tg.nn.functional.rmsNorm(tg.randn([2, 10, 16]), 16).shape; // → [2, 10, 16]
 * ```
 */
export function rmsNorm(input: TensorLike, normalizedShape: number | number[], weight?: Tensor | null, eps: number | null = null): Tensor {
  const shape = normShape(normalizedShape, 'rmsNorm');
  if (eps !== null) checkNumber(eps, 'eps', 'rmsNorm', 0);
  return operands('rmsNorm', ['input', 'weight'], [input, weight], ([x, w]) => {
    checkTrailing(x!, shape, w, null, 'rmsNorm');
    const dims = shape.map((_, i) => i - shape.length);
    return tidy(() => {
      const y = mul(x!, rsqrt(add(mean(square(x!), dims, true), eps ?? 2 ** -23)));
      return w ? mul(y, w) : y;
    });
  });
}

/** A normalized shape as layerNorm and rmsNorm take it: a size, or a non-empty array of sizes. */
function normShape(normalizedShape: number | number[], op: string): number[] {
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
  if (!Array.isArray(shape) || shape.length === 0) {
    throw new Error(`${op}: normalizedShape must be an integer or a non-empty array of integers, got ${show(normalizedShape)}`);
  }
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (!(typeof d === 'number' && Number.isInteger(d) && d >= 0 && d <= INT_MAX)) checkInt(d, `normalizedShape[${i}]`, op, 0);
  }
  return shape;
}

/** normalizedShape must be x's trailing dims, and weight and bias exactly that shape (broadcasting would hide a mistake). */
function checkTrailing(x: Tensor, shape: number[], weight: Tensor | null, bias: Tensor | null, op: string): void {
  const tail = x.dims.slice(x.dims.length - shape.length);
  if (shape.length > x.dims.length || !sameShape(tail, shape)) {
    throw new Error(`${op}: normalizedShape ${fmt(shape)} does not match the trailing dims of input shape ${fmt(x.dims)}`);
  }
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t && !sameShape(t.dims, shape)) throw new Error(`${op}: ${name} of shape ${fmt(t.dims)} does not match normalizedShape ${fmt(shape)}`);
  }
}

export { interpolate } from './ops/resize';
export type { InterpolateOptions } from './ops/resize';

/** Options of {@link scaledDotProductAttention}. */
export interface AttentionOptions {
  /** An additive float mask broadcastable to [..., L, S]: 0 keeps a score, −Infinity drops it. */
  attnMask?: TensorLike | null;
  /** Query i attends keys j ≤ i (PyTorch 2's top-left alignment when L ≠ S); no mask tensor is made. */
  isCausal?: boolean;
  /** Multiplies q·kᵀ; default 1/√E. */
  scale?: number | null;
  /** Dropout on the attention probabilities (seeded by manualSeed). */
  dropoutP?: number;
}
const ATTENTION_OPTIONS = {
  attnMask: (v: unknown) => v,
  isCausal: bool,
  scale: (v: unknown, name: string, op: string) => (v === null ? null : checkNumber(v, name, op)),
  dropoutP: numberIn(0, 1),
};

/**
 * softmax(q·kᵀ·scale + attnMask)·v as one fused op, forward and backward, that never stores the
 * L×S scores (PyTorch 2's `F.scaled_dot_product_attention`): query [..., L, E], key [..., S, E],
 * value [..., S, Ev] with equal leading dims give [..., L, Ev]. A boolean mask goes in as an
 * additive one, `tg.where(mask, 0, -Infinity)`. A row that may attend no key gives NaN, as in
 * PyTorch. A float mask that requires grad gets one (dL/dscores, summed where it broadcasts), as in
 * PyTorch: a learned attention bias.
 *
 * @example
 * ```ts
 * const q = tg.randn([2, 5, 8]); // [batch, length, embedding]
 * tg.nn.functional.scaledDotProductAttention(q, q, q, { isCausal: true }).shape; // → [2, 5, 8]
 * ```
 */
export function scaledDotProductAttention(query: TensorLike, key: TensorLike, value: TensorLike, options?: AttentionOptions): Tensor {
  const op = 'scaledDotProductAttention';
  const o = readOptions(options, ATTENTION_OPTIONS, op);
  const p = o.dropoutP ?? 0, causal = o.isCausal ?? false;
  if (causal && o.attnMask != null) throw new Error(`${op}: pass either attnMask or isCausal: true, not both (as PyTorch)`);
  return operands(op, ['query', 'key', 'value', 'attnMask'], [query, key, value, o.attnMask], ([q, k, v, mask]) => {
    const r = q!.dims.length, lead = q!.dims.slice(0, -2), [L, E] = q!.dims.slice(-2), S = k!.dims[r - 2];
    if (r < 2 || k!.dims.length !== r || v!.dims.length !== r || !sameShape(k!.dims.slice(0, -2), lead) || !sameShape(v!.dims.slice(0, -2), lead) ||
      k!.dims[r - 1] !== E || v!.dims[r - 2] !== S) {
      throw new Error(`${op}: query of shape ${fmt(q!.dims)}, key of shape ${fmt(k!.dims)} and value of shape ${fmt(v!.dims)} do not fit [..., L, E], [..., S, E] and [..., S, Ev] with equal leading dims`);
    }
    const scores = [...lead, L, S];
    if (mask) {
      let fits = false;
      try { fits = mask.dims.length <= r && sameShape(broadcastShape(scores, mask.dims, op), scores); } catch { /* reported below */ }
      if (!fits) throw new Error(`${op}: attnMask of shape ${fmt(mask.dims)} does not broadcast to the scores' shape ${fmt(scores)}`);
    }
    // The kernel's backward runs when q, k or v is tracked: a mask that alone requires grad (a learned
    // bias over constant inputs) gets there through a tracked copy of q, whose gradient is dropped.
    const qIn = mask?.requiresGrad && ![q!, k!, v!].some((t) => t.requiresGrad) ? detach(q!).requiresGrad_() : q!;
    const stats = newTensor([numel(lead) * L + 2], op);
    try {
      const out = run(Op.SCALED_DOT_PRODUCT_ATTENTION, op, [...lead, L, v!.dims[r - 1]], qIn, k!, v!,
        mask ? mask.id : -1, stats.id, causal ? 1 : 0, f32Bits(p), 0, 0, o.scale ?? 1 / Math.sqrt(E));
      const tracked = [qIn, k!, v!].find((t) => t.requiresGrad);
      // the hold record keeps the mask and the stats alive as long as the graph (see assembly/ops/attention.ts)
      const status = core.runOpInto(Op.SCALED_DOT_PRODUCT_ATTENTION, out.id, mask ? mask.id : -1, stats.id, tracked ? tracked.id : -1, 0, 0, 0, 0, 1, 0, 0);
      if (status < 0) { out.dispose(); fail(status, op); }
      return out;
    } finally {
      stats.dispose();
      if (qIn !== q) qIn.dispose();
    }
  });
}

/**
 * One-hot rows: for indices of shape S (a tensor of integer values, or nested arrays), a float
 * tensor of shape [...S, numClasses] holding 1 at each index and 0 elsewhere; numClasses -1 means
 * the largest index + 1 (not inside tg.trace, whose replay could not read it again). No gradient.
 * Each index is checked where the kernel reads it, in a replay too.
 *
 * @example
 * ```ts
 * tg.nn.functional.oneHot([0, 2], 3).toArray(); // → [[1, 0, 0], [0, 0, 1]]
 * ```
 */
export function oneHot(tensor: Tensor | NestedArray, numClasses = -1): Tensor {
  if (!(tensor instanceof Tensor)) return viaTensor('oneHot', tensor, (t) => oneHot(t, numClasses));
  live(tensor, 'oneHot');
  let classes = checkInt(numClasses, 'numClasses', 'oneHot', -1);
  if (classes === -1) {
    if (tensor.size === 0) throw new Error('oneHot: cannot infer numClasses from an empty tensor; pass numClasses');
    // a replay runs no JavaScript: the count read now would be this step's forever
    if (isRecording()) throw new Error('oneHot: numClasses -1 reads the indices, which a tg.trace replay cannot do again; pass numClasses');
    let top = 0;
    for (const v of tensor.data()) if (v >= top) top = v;
    // a fraction or Infinity is left for the kernel to report (as not an integer)
    classes = Number.isInteger(top) && top < INT_MAX ? top + 1 : 1;
  }
  const was = core.setGradEnabled(0);
  try {
    return run(Op.ONE_HOT, 'oneHot', [...tensor.dims, classes], tensor, null, null, classes);
  } finally {
    core.setGradEnabled(was);
  }
}
