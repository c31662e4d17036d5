// The layers of tg.nn. Each holds its parameters as fields (so names match PyTorch's state_dict:
// `weight`, `bias`, `0.weight`, `layers.1.bias`) and computes with tg.nn.functional.
import { Tensor, type Index, type NestedArray } from '../tensor';
import { tensor } from '../ops/creation';
import { interpolate, linear, conv1d, conv2d, convTranspose2d, maxPool2d, avgPool2d, dropout, layerNorm, groupNorm, rmsNorm } from '../nnfunctional';
import { relu, tanh, sigmoid, gelu, leakyRelu } from '../ops/elementwise';
import { readInterpolate, type InterpolateOptions } from '../ops/resize';
import { flatten } from '../ops/shape';
import { flagsOf } from '../core';
import { type Options, fmt, show, checkBytes, readOptions, checkInt, checkPair, checkNumber, pairAtLeast, numberIn, oneOf, bool, type Check } from '../shape';
import { Module, uniformParameter, normalParameter, constantParameter, affineParameters, makeAll, pyBool, pyFloat } from './module';

/** A size given once for both spatial dims, or as [height, width]. */
export type Pair = number | [number, number];

function positiveInt(v: unknown, what: string, op: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${op}: ${what} must be a positive integer, got ${show(v)}`);
  return checkInt(v, what, op, 1); // and at most 2³¹ − 1
}

const showPair = (p: [number, number]): string => `(${p[0]}, ${p[1]})`;

// ── Linear, Sequential, MLP ───────────────────────────────────────────────────────────────────

/**
 * Options of {@link Linear}.
 * @property bias - add a learnable bias (default true)
 */
export interface LinearOptions { bias?: boolean }
const LINEAR_OPTIONS = { bias: bool };

/**
 * y = x Wᵀ + b with weight [out, in] and bias [out]; both start U(-1/√in, 1/√in) like PyTorch.
 *
 * @example
 * ```ts
 * const fc = new tg.nn.Linear(3, 2);
 * fc.forward(tg.ones([4, 3])).shape; // → [4, 2]
 * ```
 */
export class Linear extends Module {
  static readonly typeName = 'Linear';
  /** Size of each input row. */
  readonly inFeatures: number;
  /** Size of each output row. */
  readonly outFeatures: number;
  /** Weight [outFeatures, inFeatures]. */
  weight: Tensor;
  /** Bias [outFeatures], or null without bias. */
  bias: Tensor | null;

  constructor(inFeatures: number, outFeatures: number, options?: LinearOptions) {
    super();
    const o = readOptions(options, LINEAR_OPTIONS, 'Linear');
    this.inFeatures = positiveInt(inFeatures, 'inFeatures', 'Linear');
    this.outFeatures = positiveInt(outFeatures, 'outFeatures', 'Linear');
    const bound = 1 / Math.sqrt(inFeatures);
    checkBytes([outFeatures, inFeatures], 'Linear'); // too large: a RangeError naming the layer, not rand
    [this.weight, this.bias] = makeAll<[Tensor, Tensor | null]>(
      () => uniformParameter([outFeatures, inFeatures], bound), () => (o.bias ?? true ? uniformParameter([outFeatures], bound) : null));
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${pyBool(this.bias !== null)}`;
  }
}

/**
 * Releases `y`, an intermediate result of a forward pass over layers, once the next layer has
 * made `next` from it (its tape record keeps what backward needs), as the compound ops do: a
 * forward pass outside tidy() leaves only its output. Not the input `x`, nor a layer's output
 * that is its input (Identity, Dropout in eval()), nor a tensor passed to keep() (a parameter, or
 * an activation a layer keeps for later): the same exemptions as tidy().
 */
function dropIntermediate(y: unknown, x: unknown, next: unknown): void {
  if (y !== x && y !== next && y instanceof Tensor && !y.isDisposed && (flagsOf(y.id) & KEPT) === 0) y.dispose();
}
const KEPT = 8; // the core's flag for tensors exempt from tidy() (assembly/nodes.ts)

/**
 * Runs its modules in order; they are named "0", "1", ... like PyTorch's nn.Sequential.
 *
 * @example
 * ```ts
 * const net = new tg.nn.Sequential(new tg.nn.Linear(2, 8), new tg.nn.ReLU(), new tg.nn.Linear(8, 1));
 * net.forward(tg.randn([5, 2])).shape; // → [5, 1]
 * net.length; // → 3
 * ```
 */
export class Sequential extends Module {
  static readonly typeName = 'Sequential';
  private _list: Module[] = [];

  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Adds a module at the end; returns this. */
  append(m: Module): this {
    if (!(m instanceof Module)) throw new Error(`Sequential: every item must be a Module, got ${m === null ? 'null' : typeof m} at position ${this._list.length}`);
    this.registerModule(String(this._list.length), m);
    this._list.push(m);
    return this;
  }

  /** The number of modules. */
  get length(): number {
    return this._list.length;
  }

  /** The module at `index` (negative counts from the end). */
  at(index: number): Module {
    checkInt(index, 'index', 'Sequential.at', -(2 ** 31));
    const i = index < 0 ? index + this._list.length : index;
    if (i < 0 || i >= this._list.length) {
      throw new Error(`Sequential.at: index ${index} is out of range for ${this._list.length} modules`);
    }
    return this._list[i];
  }

  /** Iterates over the modules in order. */
  [Symbol.iterator](): Iterator<Module> {
    return this._list[Symbol.iterator]();
  }

  forward(x: any): Tensor {
    let y = x;
    try {
      for (const m of this._list) {
        const next = m.forward(y);
        dropIntermediate(y, x, next);
        y = next;
      }
    } catch (err) {
      dropIntermediate(y, x, undefined);
      throw err;
    }
    return y;
  }
}

/** An activation by name, or any function of a tensor. */
export type Activation = 'relu' | 'tanh' | 'sigmoid' | 'gelu' | 'leakyRelu' | ((x: Tensor) => Tensor);

/** Options of {@link MLP}. */
export interface MLPOptions {
  /** Between the Linear layers, not after the last (default 'relu'). */
  activation?: Activation;
  /** Give every Linear a bias (default true). */
  bias?: boolean;
}

const ACTIVATIONS: Record<string, (x: Tensor) => Tensor> = {
  relu: (x) => relu(x),
  tanh: (x) => tanh(x),
  sigmoid: (x) => sigmoid(x),
  gelu: (x) => gelu(x),
  leakyRelu: (x) => leakyRelu(x),
};

const ACTIVATION_NAMES = ['relu', 'tanh', 'sigmoid', 'gelu', 'leakyRelu'] as const;
const activation: Check<Activation> = (v, _name, op) => {
  if (typeof v === 'function') return v as (x: Tensor) => Tensor;
  if (typeof v === 'string' && (ACTIVATION_NAMES as readonly string[]).includes(v)) return v as Activation;
  throw new Error(`${op}: unknown activation ${typeof v === 'string' ? JSON.stringify(v) : show(v)} (use ${ACTIVATION_NAMES.map((k) => `'${k}'`).join(', ')} or a function)`);
};
const MLP_OPTIONS = { activation, bias: bool };

/**
 * Linear(in, h0) → act → Linear(h0, h1) → act → … → Linear(hk, out). The layers are the list
 * `layers`, so parameters are named `layers.0.weight`, `layers.0.bias`, `layers.1.weight`, ...
 *
 * @example
 * ```ts
 * const mlp = new tg.nn.MLP(2, [16, 16], 1, { activation: 'tanh' });
 * mlp.forward(tg.randn([8, 2])).shape; // → [8, 1]
 * mlp.layers.length; // → 3
 * ```
 */
export class MLP extends Module {
  static readonly typeName = 'MLP';
  /** The Linear layers, in order. */
  layers: Linear[];
  private _activation: (x: Tensor) => Tensor;
  private _activationName: string;

  constructor(inFeatures: number, hidden: number[], outFeatures: number, options?: MLPOptions) {
    super();
    const o = readOptions(options, MLP_OPTIONS, 'MLP');
    if (!Array.isArray(hidden)) throw new Error(`MLP: hidden must be an array of layer sizes, got ${show(hidden)}`);
    const act = o.activation ?? 'relu';
    if (typeof act === 'function') {
      this._activation = act;
      this._activationName = act.name || 'custom';
    } else {
      this._activation = ACTIVATIONS[act];
      this._activationName = act;
    }
    const sizes = [inFeatures, ...hidden, outFeatures];
    sizes.forEach((s, i) => positiveInt(s, i === 0 ? 'inFeatures' : i === sizes.length - 1 ? 'outFeatures' : `hidden[${i - 1}]`, 'MLP'));
    for (let i = 0; i + 1 < sizes.length; i++) checkBytes([sizes[i + 1], sizes[i]], 'MLP'); // before any layer is made
    this.layers = [];
    try {
      for (let i = 0; i + 1 < sizes.length; i++) this.layers.push(new Linear(sizes[i], sizes[i + 1], { bias: o.bias ?? true }));
    } catch (err) {
      for (const layer of this.layers) layer.dispose(); // out of memory part-way: free the layers made so far
      throw err;
    }
  }

  forward(x: Tensor): Tensor {
    let y = x;
    const last = this.layers.length - 1;
    try {
      for (let i = 0; i <= last; i++) {
        let next = this.layers[i].forward(y);
        dropIntermediate(y, x, next);
        y = next;
        if (i < last) {
          next = this._activation(y);
          dropIntermediate(y, x, next);
          y = next;
        }
      }
    } catch (err) {
      dropIntermediate(y, x, undefined);
      throw err;
    }
    return y;
  }

  extraRepr(): string {
    return `activation=${this._activationName}`;
  }
}

// ── Embedding, LayerNorm, Dropout ────────────────────────────────────────────────────────────

/**
 * A lookup table [num, dim] initialised N(0, 1); forward(indices) → [...indices.shape, dim].
 *
 * @example
 * ```ts
 * const emb = new tg.nn.Embedding(10, 4);
 * emb.forward([[1, 2, 3]]).shape; // → [1, 3, 4]
 * ```
 */
export class Embedding extends Module {
  static readonly typeName = 'Embedding';
  /** Rows of the table (indices run from 0 to numEmbeddings − 1). */
  readonly numEmbeddings: number;
  /** Size of each embedding vector. */
  readonly embeddingDim: number;
  /** The table [numEmbeddings, embeddingDim]. */
  weight: Tensor;

  constructor(numEmbeddings: number, embeddingDim: number) {
    super();
    this.numEmbeddings = positiveInt(numEmbeddings, 'numEmbeddings', 'Embedding');
    this.embeddingDim = positiveInt(embeddingDim, 'embeddingDim', 'Embedding');
    checkBytes([numEmbeddings, embeddingDim], 'Embedding');
    this.weight = normalParameter([numEmbeddings, embeddingDim]);
  }

  /** indices: integers in [0, num) as number[] (nested for more dims), an Int32Array or a Tensor. */
  forward(indices: Index | NestedArray): Tensor {
    let flat: Index;
    let shape: number[];
    let owned: Tensor | null = null;
    if (indices instanceof Tensor) {
      shape = indices.shape;
      flat = shape.length === 1 ? indices : (owned = indices.reshape([-1]));
    } else if (indices instanceof Int32Array) {
      shape = [indices.length];
      flat = indices;
    } else if (Array.isArray(indices)) {
      if (indices.length > 0 && Array.isArray(indices[0])) {
        owned = tensor(indices as NestedArray, undefined, 'Embedding');
        shape = owned.shape;
        const reshaped = owned.reshape([-1]);
        owned.dispose();
        owned = reshaped;
        flat = reshaped;
      } else {
        shape = [indices.length];
        flat = indices as number[];
      }
    } else {
      throw new Error(`Embedding: indices must be a Tensor, number[] (nested for more dims) or Int32Array, got ${show(indices)}`);
    }
    try {
      const rows = this.weight.indexSelect(0, flat);
      if (shape.length === 1) return rows;
      const out = rows.reshape([...shape, this.embeddingDim]);
      rows.dispose(); // the reshape's tape record keeps what backward needs
      return out;
    } finally {
      owned?.dispose();
    }
  }

  extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}`;
  }
}

/**
 * Options of {@link LayerNorm}.
 * @property eps - added to the variance (default 1e-5)
 * @property elementwiseAffine - learn a weight and a bias (default true)
 */
export interface LayerNormOptions { eps?: number; elementwiseAffine?: boolean }
const LAYER_NORM_OPTIONS = { eps: numberIn(0), elementwiseAffine: bool };

/**
 * Normalises over the trailing `normalizedShape` dims; weight ones and bias zeros like PyTorch.
 *
 * @example
 * ```ts
 * const norm = new tg.nn.LayerNorm(4);
 * norm.forward(tg.tensor([[1, 2, 3, 4]])).mean().item(); // → 0
 * ```
 */
export class LayerNorm extends Module {
  static readonly typeName = 'LayerNorm';
  /** The trailing dims normalised over. */
  readonly normalizedShape: number[];
  /** Added to the variance. */
  readonly eps: number;
  /** Scale (ones at first), or null without elementwiseAffine. */
  weight: Tensor | null;
  /** Shift (zeros at first), or null without elementwiseAffine. */
  bias: Tensor | null;

  constructor(normalizedShape: number | number[], options?: LayerNormOptions) {
    super();
    const o = readOptions(options, LAYER_NORM_OPTIONS, 'LayerNorm');
    this.normalizedShape = moduleNormShape(normalizedShape, 'LayerNorm');
    this.eps = o.eps ?? 1e-5;
    [this.weight, this.bias] = affineParameters(this.normalizedShape, o.elementwiseAffine ?? true);
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }

  extraRepr(): string {
    return `(${this.normalizedShape.join(', ')}${this.normalizedShape.length === 1 ? ',' : ''}), eps=${pyFloat(this.eps)}, elementwise_affine=${pyBool(this.weight !== null)}`;
  }
}

/** A module's normalizedShape: a positive size or a non-empty array of them, at most 7 (a copy). */
function moduleNormShape(normalizedShape: number | number[], op: string): number[] {
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
  if (!Array.isArray(shape) || shape.length === 0) throw new Error(`${op}: normalizedShape must be a positive integer or a non-empty array of them, got ${show(normalizedShape)}`);
  if (shape.length > 7) throw new Error(`${op}: normalizedShape ${fmt(shape)} has more than 7 dims`);
  shape.forEach((d) => positiveInt(d, `normalizedShape ${fmt(shape)}`, op));
  checkBytes(shape, op);
  return shape.slice();
}

/** Options of {@link GroupNorm}. */
export interface GroupNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learn a weight and a bias per channel (default true). */
  affine?: boolean;
}
const GROUP_NORM_OPTIONS = { eps: numberIn(0), affine: bool };

/**
 * Normalizes input [N, C, ...] in numGroups groups of channels (PyTorch's nn.GroupNorm): weight
 * (ones) and bias (zeros) per channel, state-dict keys `weight` and `bias`.
 *
 * @example
 * ```ts
 * new tg.nn.GroupNorm(2, 4).forward(tg.randn([3, 4, 5])).shape; // → [3, 4, 5]
 * ```
 */
export class GroupNorm extends Module {
  static readonly typeName = 'GroupNorm';
  /** Groups the channels are split into. */
  readonly numGroups: number;
  /** Channels (dim 1 of the input). */
  readonly numChannels: number;
  /** Added to the variance. */
  readonly eps: number;
  /** Scale per channel (ones at first), or null without affine. */
  weight: Tensor | null;
  /** Shift per channel (zeros at first), or null without affine. */
  bias: Tensor | null;

  constructor(numGroups: number, numChannels: number, options?: GroupNormOptions) {
    super();
    const o = readOptions(options, GROUP_NORM_OPTIONS, 'GroupNorm');
    this.numGroups = positiveInt(numGroups, 'numGroups', 'GroupNorm');
    this.numChannels = positiveInt(numChannels, 'numChannels', 'GroupNorm');
    if (numChannels % numGroups !== 0) throw new Error(`GroupNorm: numChannels ${numChannels} must be divisible by numGroups ${numGroups}`);
    checkBytes([numChannels], 'GroupNorm');
    this.eps = o.eps ?? 1e-5;
    [this.weight, this.bias] = affineParameters([numChannels], o.affine ?? true);
  }

  forward(x: Tensor): Tensor {
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps); // (weight and bias check the channels, as in PyTorch)
  }

  extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${pyFloat(this.eps)}, affine=${pyBool(this.weight !== null)}`;
  }
}

/** Options of {@link RMSNorm}: eps null (the default) is float32's machine epsilon, as in PyTorch. */
export interface RMSNormOptions {
  /** Added to the mean square; null (the default) for float32's machine epsilon, 2⁻²³. */
  eps?: number | null;
  /** Learn a weight over the normalized shape (default true). */
  elementwiseAffine?: boolean;
}
const RMS_NORM_OPTIONS = { eps: (v: unknown, name: string, op: string) => (v === null ? null : checkNumber(v, name, op, 0)), elementwiseAffine: bool };

/**
 * Root-mean-square normalization over the trailing `normalizedShape` dims (PyTorch 2.4's
 * nn.RMSNorm): x / sqrt(mean(x²) + eps) · weight, weight ones at first, state-dict key `weight`.
 *
 * @example
 * ```ts
 * new tg.nn.RMSNorm(4).toString(); // → 'RMSNorm((4,), eps=None, elementwise_affine=True)'
 * ```
 */
export class RMSNorm extends Module {
  static readonly typeName = 'RMSNorm';
  /** The trailing dims normalised over. */
  readonly normalizedShape: number[];
  /** Added to the mean square; null for float32's machine epsilon. */
  readonly eps: number | null;
  /** Scale (ones at first), or null without elementwiseAffine. */
  weight: Tensor | null;

  constructor(normalizedShape: number | number[], options?: RMSNormOptions) {
    super();
    const o = readOptions(options, RMS_NORM_OPTIONS, 'RMSNorm');
    this.normalizedShape = moduleNormShape(normalizedShape, 'RMSNorm');
    this.eps = o.eps ?? null;
    this.weight = o.elementwiseAffine ?? true ? constantParameter(this.normalizedShape, 1) : null;
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.normalizedShape, this.weight, this.eps);
  }

  extraRepr(): string {
    return `(${this.normalizedShape.join(', ')}${this.normalizedShape.length === 1 ? ',' : ''}), eps=${this.eps === null ? 'None' : pyFloat(this.eps)}, elementwise_affine=${pyBool(this.weight !== null)}`;
  }
}

/**
 * Zeroes each element with probability p in training mode (scaling the rest by 1/(1-p)); identity in eval().
 *
 * @example
 * ```ts
 * const drop = new tg.nn.Dropout(0.5).eval();
 * drop.forward(tg.ones([3])).toArray(); // → [1, 1, 1]
 * ```
 */
export class Dropout extends Module {
  static readonly typeName = 'Dropout';
  /** Probability of zeroing an element. */
  readonly p: number;

  constructor(p = 0.5) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be a probability in [0, 1], got ${show(p)}`);
    this.p = p;
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training);
  }

  extraRepr(): string {
    return `p=${this.p}`;
  }
}

// ── convolution and pooling ──────────────────────────────────────────────────────────────────

/**
 * Options of {@link Conv2d}; a number applies to both spatial dims.
 * @property stride - step of the kernel (default 1)
 * @property padding - zeros added on each side (default 0)
 * @property dilation - spacing between the kernel's taps (default 1)
 * @property groups - channels split into this many groups convolved apart (default 1; groups = in = out: depthwise)
 * @property bias - add a learnable bias (default true)
 */
export interface Conv2dOptions { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number; bias?: boolean }
/**
 * Options of {@link Conv1d}: as {@link Conv2dOptions}, one number each.
 * @property stride - step of the kernel (default 1)
 * @property padding - zeros added on each side (default 0)
 * @property dilation - spacing between the kernel's taps (default 1)
 * @property groups - channels split into this many groups convolved apart (default 1)
 * @property bias - add a learnable bias (default true)
 */
export interface Conv1dOptions { stride?: number; padding?: number; dilation?: number; groups?: number; bias?: boolean }
const convSizes = (min: number) => (v: unknown, name: string, op: string): number[] =>
  op === 'Conv1d' ? [checkInt(Array.isArray(v) && v.length === 1 ? v[0] : v, name, op, min)] : checkPair(v, name, op, min);
const CONV_OPTIONS = { stride: convSizes(1), padding: convSizes(0), dilation: convSizes(1), groups: (v: unknown, name: string, op: string) => positiveInt(v, name, op), bias: bool };
/**
 * Options of {@link ConvTranspose2d}: those of {@link Conv2dOptions}, plus
 * @property outputPadding - extra rows and columns on the bottom and right of the output (default 0)
 */
export interface ConvTranspose2dOptions extends Conv2dOptions { outputPadding?: Pair }
const CONV_TRANSPOSE_OPTIONS = { ...CONV_OPTIONS, outputPadding: convSizes(0) };
const showSizes = (p: number[]): string => `(${p.join(', ')}${p.length === 1 ? ',' : ''})`;

/** What Conv1d and Conv2d share: sizes per spatial dim (one or two), PyTorch's init and repr. */
abstract class ConvNd extends Module {
  /** Channels of the input. */
  readonly inChannels: number;
  /** Channels of the output. */
  readonly outChannels: number;
  /** Kernel size per spatial dim. */
  readonly kernelSize: number[];
  /** Stride per spatial dim. */
  readonly stride: number[];
  /** Zero padding on each side, per spatial dim. */
  readonly padding: number[];
  /** Spacing between the kernel's taps, per spatial dim. */
  readonly dilation: number[];
  /** Groups the channels are split into. */
  readonly groups: number;
  /** Weight [outChannels, inChannels / groups, ...kernelSize]. */
  weight: Tensor;
  /** Bias [outChannels], or null without bias. */
  bias: Tensor | null;

  /** Extra output rows and columns (ConvTranspose2d; zeros for the others). */
  readonly outputPadding: number[];

  protected constructor(op: string, inChannels: number, outChannels: number, kernelSize: unknown, options: Conv2dOptions | Conv1dOptions | ConvTranspose2dOptions | undefined) {
    super();
    const transposed = op === 'ConvTranspose2d';
    const o = readOptions(options, transposed ? CONV_TRANSPOSE_OPTIONS : CONV_OPTIONS, op) as Options<typeof CONV_TRANSPOSE_OPTIONS>;
    const rank = op === 'Conv1d' ? 1 : 2;
    this.outputPadding = o.outputPadding ?? new Array<number>(rank).fill(0);
    this.inChannels = positiveInt(inChannels, 'inChannels', op);
    this.outChannels = positiveInt(outChannels, 'outChannels', op);
    this.kernelSize = convSizes(1)(kernelSize, 'kernelSize', op);
    this.stride = o.stride ?? new Array(rank).fill(1);
    this.padding = o.padding ?? new Array(rank).fill(0);
    this.dilation = o.dilation ?? new Array(rank).fill(1);
    const groups = this.groups = o.groups ?? 1;
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new Error(`${op}: inChannels ${inChannels} and outChannels ${outChannels} must both be divisible by groups ${groups}`);
    }
    // a transposed conv's weight is [in, out/groups, ...]: PyTorch's fan_in is still its dim 1 · kernel
    const shape = transposed ? [inChannels, outChannels / groups, ...this.kernelSize] : [outChannels, inChannels / groups, ...this.kernelSize];
    const bound = 1 / Math.sqrt(shape.slice(1).reduce((a, b) => a * b, 1));
    checkBytes(shape, op);
    [this.weight, this.bias] = makeAll<[Tensor, Tensor | null]>(
      () => uniformParameter(shape, bound), () => (o.bias ?? true ? uniformParameter([outChannels], bound) : null));
  }

  extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${showSizes(this.kernelSize)}, stride=${showSizes(this.stride)}`;
    if (this.padding.some((p) => p !== 0)) s += `, padding=${showSizes(this.padding)}`;
    if (this.outputPadding.some((p) => p !== 0)) s += `, output_padding=${showSizes(this.outputPadding)}`;
    if (this.dilation.some((d) => d !== 1)) s += `, dilation=${showSizes(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (this.bias === null) s += ', bias=False';
    return s;
  }
}

/**
 * 2-D convolution over [N, C, H, W]; weight [out, in / groups, kh, kw] and bias [out] start
 * U(-1/√(in / groups·kh·kw), +), as PyTorch's.
 *
 * @example
 * ```ts
 * const conv = new tg.nn.Conv2d(1, 8, 3, { padding: 1 });
 * conv.forward(tg.randn([2, 1, 28, 28])).shape; // → [2, 8, 28, 28]
 * ```
 */
export class Conv2d extends ConvNd {
  static readonly typeName = 'Conv2d';
  declare readonly kernelSize: [number, number];
  declare readonly stride: [number, number];
  declare readonly padding: [number, number];
  declare readonly dilation: [number, number];

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, options?: Conv2dOptions) {
    super('Conv2d', inChannels, outChannels, kernelSize, options);
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }
}

/**
 * 2-D transposed convolution over [N, C, H, W] (PyTorch's nn.ConvTranspose2d, an upsampling
 * convolution): weight [in, out / groups, kh, kw], bias [out].
 *
 * @example
 * ```ts
 * new tg.nn.ConvTranspose2d(8, 4, 2, { stride: 2 }).forward(tg.randn([1, 8, 5, 5])).shape; // → [1, 4, 10, 10]
 * ```
 */
export class ConvTranspose2d extends ConvNd {
  static readonly typeName = 'ConvTranspose2d';
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, options?: ConvTranspose2dOptions) {
    super('ConvTranspose2d', inChannels, outChannels, kernelSize, options);
  }

  forward(x: Tensor): Tensor {
    const [stride, padding, dilation, outputPadding] = [this.stride, this.padding, this.dilation, this.outputPadding] as [number, number][];
    return convTranspose2d(x, this.weight, this.bias, { stride, padding, dilation, outputPadding, groups: this.groups });
  }
}

/**
 * 1-D convolution over [N, C, L] (PyTorch's nn.Conv1d): weight [out, in / groups, k], bias [out].
 *
 * @example
 * ```ts
 * new tg.nn.Conv1d(4, 4, 3, { padding: 1, groups: 4 }).forward(tg.randn([2, 4, 10])).shape; // → [2, 4, 10]
 * ```
 */
export class Conv1d extends ConvNd {
  static readonly typeName = 'Conv1d';
  constructor(inChannels: number, outChannels: number, kernelSize: number, options?: Conv1dOptions) {
    super('Conv1d', inChannels, outChannels, kernelSize, options);
  }

  forward(x: Tensor): Tensor {
    return conv1d(x, this.weight, this.bias, { stride: this.stride[0], padding: this.padding[0], dilation: this.dilation[0], groups: this.groups });
  }
}

/**
 * Options of {@link MaxPool2d} and {@link AvgPool2d}; a number applies to both spatial dims.
 * @property stride - step of the window (default: kernelSize)
 * @property padding - padding on each side (default 0)
 */
export interface Pool2dOptions { stride?: Pair; padding?: Pair }
const POOL2D_OPTIONS = {
  stride: (v: unknown, name: string, op: string) => (v === null ? null : checkPair(v, name, op, 1)), // null: kernelSize
  padding: pairAtLeast(0),
};

abstract class Pool2d extends Module {
  /** Window height and width. */
  readonly kernelSize: [number, number];
  /** Vertical and horizontal stride. */
  readonly stride: [number, number];
  /** Padding on each side, vertical and horizontal. */
  readonly padding: [number, number];

  constructor(kernelSize: Pair, options: Pool2dOptions | undefined, op: string) {
    super();
    const o = readOptions(options, POOL2D_OPTIONS, op);
    this.kernelSize = checkPair(kernelSize, 'kernelSize', op, 1);
    this.stride = o.stride ?? this.kernelSize;
    this.padding = o.padding ?? [0, 0];
    if (this.padding[0] * 2 > this.kernelSize[0] || this.padding[1] * 2 > this.kernelSize[1]) {
      throw new Error(`${op}: padding ${showPair(this.padding)} must be at most half of kernelSize ${showPair(this.kernelSize)}`);
    }
  }

  extraRepr(): string {
    return `kernel_size=${showPair(this.kernelSize)}, stride=${showPair(this.stride)}, padding=${showPair(this.padding)}`;
  }
}

/**
 * Max over kernelSize windows (stride defaults to kernelSize; padding counts as -∞).
 *
 * @example
 * ```ts
 * const pool = new tg.nn.MaxPool2d(2);
 * pool.forward(tg.arange(16).reshape(1, 1, 4, 4)).toArray(); // → [[[[5, 7], [13, 15]]]]
 * ```
 */
export class MaxPool2d extends Pool2d {
  static readonly typeName = 'MaxPool2d';
  constructor(kernelSize: Pair, options?: Pool2dOptions) {
    super(kernelSize, options, 'MaxPool2d');
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding });
  }
}

/**
 * Mean over kernelSize windows (stride defaults to kernelSize; padding counts as zeros, like PyTorch).
 *
 * @example
 * ```ts
 * const pool = new tg.nn.AvgPool2d(2);
 * pool.forward(tg.arange(16).reshape(1, 1, 4, 4)).toArray(); // → [[[[2.5, 4.5], [10.5, 12.5]]]]
 * ```
 */
export class AvgPool2d extends Pool2d {
  static readonly typeName = 'AvgPool2d';
  constructor(kernelSize: Pair, options?: Pool2dOptions) {
    super(kernelSize, options, 'AvgPool2d');
  }

  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding });
  }
}

/** Options of {@link Upsample}: those of F.interpolate. */
export type UpsampleOptions = InterpolateOptions;

/**
 * Resizes [N, C, H, W] by `scaleFactor` or to `size`, 'nearest' (default) or 'bilinear'
 * (PyTorch's nn.Upsample; F.interpolate is its function).
 *
 * @example
 * ```ts
 * new tg.nn.Upsample({ scaleFactor: 2, mode: 'bilinear' }).forward(tg.randn([1, 3, 4, 4])).shape; // → [1, 3, 8, 8]
 * ```
 */
export class Upsample extends Module {
  static readonly typeName = 'Upsample';
  /** What forward passes to interpolate. */
  readonly options: Readonly<UpsampleOptions>;

  constructor(options?: UpsampleOptions) {
    super();
    readInterpolate(options, 'Upsample');
    this.options = { ...options };
  }

  forward(x: Tensor): Tensor {
    return interpolate(x, this.options);
  }

  extraRepr(): string {
    const o = this.options, show = (v: number | number[]) => (Array.isArray(v) ? `(${v.map((x) => (o.size ? x : pyFloat(x))).join(', ')})` : o.size ? String(v) : pyFloat(v));
    return `${o.size !== undefined ? `size=${show(o.size)}` : `scale_factor=${show(o.scaleFactor!)}`}, mode='${o.mode ?? 'nearest'}'`;
  }
}

/**
 * Flattens dims startDim..endDim (default: all but the batch dim).
 *
 * @example
 * ```ts
 * new tg.nn.Flatten().forward(tg.zeros([2, 3, 4])).shape; // → [2, 12]
 * ```
 */
export class Flatten extends Module {
  static readonly typeName = 'Flatten';
  /** First dim flattened. */
  readonly startDim: number;
  /** Last dim flattened. */
  readonly endDim: number;

  constructor(startDim = 1, endDim = -1) {
    super();
    this.startDim = checkInt(startDim, 'startDim', 'Flatten', -7, 6);
    this.endDim = checkInt(endDim, 'endDim', 'Flatten', -7, 6);
  }

  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }

  extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}

// ── activations ──────────────────────────────────────────────────────────────────────────────

/** Returns its input unchanged (a placeholder layer). */
export class Identity extends Module {
  static readonly typeName = 'Identity';
  forward(x: Tensor): Tensor { return x; }
}

/**
 * max(x, 0) as a layer ({@link relu}).
 * @example
 * ```ts
 * new tg.nn.ReLU().forward(tg.tensor([-1, 2])).toArray(); // → [0, 2]
 * ```
 */
export class ReLU extends Module {
  static readonly typeName = 'ReLU';
  forward(x: Tensor): Tensor { return relu(x); }
}

/** tanh as a layer ({@link tanh}). */
export class Tanh extends Module {
  static readonly typeName = 'Tanh';
  forward(x: Tensor): Tensor { return tanh(x); }
}

/** 1 / (1 + e^−x) as a layer ({@link sigmoid}). */
export class Sigmoid extends Module {
  static readonly typeName = 'Sigmoid';
  forward(x: Tensor): Tensor { return sigmoid(x); }
}

/**
 * Options of {@link GELU}.
 * @property approximate - 'none' (exact, erf) or 'tanh' (default 'none')
 */
export interface GELUOptions { approximate?: 'none' | 'tanh' }
const GELU_OPTIONS = { approximate: oneOf(['none', 'tanh'] as const) };

/** GELU as a layer ({@link gelu}). */
export class GELU extends Module {
  static readonly typeName = 'GELU';
  /** 'none' (exact) or 'tanh'. */
  readonly approximate: 'none' | 'tanh';
  constructor(options?: GELUOptions) {
    super();
    this.approximate = readOptions(options, GELU_OPTIONS, 'GELU').approximate ?? 'none';
  }
  forward(x: Tensor): Tensor { return gelu(x, { approximate: this.approximate }); }
  extraRepr(): string { return `approximate='${this.approximate}'`; }
}

/** LeakyReLU as a layer ({@link leakyRelu}). */
export class LeakyReLU extends Module {
  static readonly typeName = 'LeakyReLU';
  /** Slope for negative inputs. */
  readonly negativeSlope: number;
  constructor(negativeSlope = 0.01) {
    super();
    this.negativeSlope = checkNumber(negativeSlope, 'negativeSlope', 'LeakyReLU');
  }
  forward(x: Tensor): Tensor { return leakyRelu(x, this.negativeSlope); }
  extraRepr(): string { return `negative_slope=${this.negativeSlope}`; }
}
