// Attention and transformer layers with PyTorch's arguments and state-dict keys, so a model saved
// from PyTorch (as safetensors) loads unchanged: `in_proj_weight`, `out_proj.weight`,
// `self_attn.…`, `linear1.…`, `norm1.…`, `layers.0.…`.
//
// Masks are float and additive, as PyTorch's float masks: 0 keeps a position, −Infinity drops it
// (tapegrad has no bool tensors; make one from a 0/1 mask with tg.where(mask, 0, -Infinity)).
import { Tensor } from '../tensor';
import { matmul, matmulWith } from '../ops/matmul';
import { add, mul, relu, gelu } from '../ops/elementwise';
import { mean } from '../ops/reduce';
import { softmax } from '../ops/softmax';
import { narrow, permute, reshape, split } from '../ops/shape';
import { linear, dropout, scaledDotProductAttention } from '../nnfunctional';
import { tidy } from '../memory';
import { full, zeros } from '../ops/creation';
import { triu } from '../ops/mask';
import { fmt, show, readOptions, checkInt, checkBytes, numberIn, oneOf, bool } from '../shape';
import { Module, uniformParameter, constantParameter, makeAll, copyAll } from './module';
import { Linear, LayerNorm, Dropout } from './layers';

/**
 * Makes a module's children in order and registers each under its name; when one cannot be made
 * (out of memory), everything the owner holds so far is released and the error rethrown.
 */
function makeChildren<C extends Record<string, Module>>(owner: Module, makers: { [K in keyof C]: () => C[K] }): C {
  const made = {} as C;
  try {
    for (const name of Object.keys(makers) as (keyof C & string)[]) owner.registerModule(name, (made[name] = makers[name]()));
  } catch (err) {
    owner.dispose();
    throw err;
  }
  return made;
}

/** An optional additive mask argument: a Tensor, or absent. */
const maskArg = (v: unknown, name: string, op: string): Tensor => {
  if (!(v instanceof Tensor)) throw new Error(`${op}: ${name} must be a Tensor (an additive float mask), got ${show(v)}`);
  return v;
};

/**
 * Options of {@link MultiheadAttention}.
 * @property dropout - dropout on the attention weights in training mode (default 0)
 * @property bias - give the projections biases (default true)
 * @property batchFirst - inputs and output are [N, L, E] rather than [L, N, E] (default false)
 */
export interface MultiheadAttentionOptions { dropout?: number; bias?: boolean; batchFirst?: boolean }
const MHA_OPTIONS = { dropout: numberIn(0, 1), bias: bool, batchFirst: bool };

/** Options of {@link MultiheadAttention.forward}. */
export interface AttentionCallOptions {
  /** Additive mask [L, S] or [N·numHeads, L, S], added to the scores. */
  attnMask?: Tensor;
  /** Additive mask [N, S] over the keys of each batch item (−Infinity for padding). */
  keyPaddingMask?: Tensor;
  /** Return the attention weights too (default true, as PyTorch; false is faster). */
  needWeights?: boolean;
  /** Average the returned weights over the heads (default true): [N, L, S], else [N, H, L, S]. */
  averageAttnWeights?: boolean;
  /** Causal attention without a mask tensor: query i sees keys j ≤ i (PyTorch 2's top-left alignment). */
  isCausal?: boolean;
}
const MHA_CALL = { attnMask: maskArg, keyPaddingMask: maskArg, needWeights: bool, averageAttnWeights: bool, isCausal: bool };

/**
 * Multi-head attention (PyTorch's nn.MultiheadAttention without kdim/vdim or bias_kv):
 * forward(query, key, value, options) → [output, weights | null]. Inputs are [L, N, E], or
 * [N, L, E] with `batchFirst`. Parameters: in_proj_weight [3E, E], in_proj_bias [3E], out_proj.
 *
 * @example
 * ```ts
 * const mha = new tg.nn.MultiheadAttention(8, 2, { batchFirst: true });
 * const x = tg.randn([1, 5, 8]);
 * const [out, weights] = mha.forward(x, x, x, { isCausal: true });
 * out.shape; // → [1, 5, 8]
 * weights!.shape; // → [1, 5, 5]
 * ```
 */
export class MultiheadAttention extends Module {
  static readonly typeName = 'MultiheadAttention';
  /** Model width E. */
  readonly embedDim: number;
  /** Number of heads (E / numHeads per head). */
  readonly numHeads: number;
  /** Dropout on the attention weights in training mode. */
  readonly dropout: number;
  /** Inputs and output are [N, L, E] rather than [L, N, E]. */
  readonly batchFirst: boolean;
  // PyTorch's names are not camelCase, so these are registered under them and kept here as well
  private readonly _inProjWeight: Tensor;
  private readonly _inProjBias: Tensor | null;
  private readonly _outProj: Linear;

  constructor(embedDim: number, numHeads: number, options?: MultiheadAttentionOptions) {
    super();
    const o = readOptions(options, MHA_OPTIONS, 'MultiheadAttention');
    this.embedDim = checkInt(embedDim, 'embedDim', 'MultiheadAttention', 1);
    this.numHeads = checkInt(numHeads, 'numHeads', 'MultiheadAttention', 1);
    if (embedDim % numHeads !== 0) throw new Error(`MultiheadAttention: embedDim ${embedDim} must be divisible by numHeads ${numHeads}`);
    this.dropout = o.dropout ?? 0;
    this.batchFirst = o.batchFirst ?? false;
    const bias = o.bias ?? true;
    checkBytes([3 * embedDim, embedDim], 'MultiheadAttention');
    // PyTorch: xavier_uniform_ on in_proj_weight, zero biases; out_proj as a Linear with zero bias
    const [w, b] = makeAll<[Tensor, Tensor | null]>(
      () => uniformParameter([3 * embedDim, embedDim], Math.sqrt(6 / (4 * embedDim))),
      () => (bias ? constantParameter([3 * embedDim], 0) : null));
    this._inProjWeight = w;
    this._inProjBias = b;
    this.registerParameter('in_proj_weight', w);
    this.registerParameter('in_proj_bias', b);
    this._outProj = makeChildren(this, { out_proj: () => new Linear(embedDim, embedDim, { bias }) }).out_proj;
    const outBias = this._outProj.bias;
    if (outBias) tidy(() => outBias.copy_(zeros([embedDim])));
  }

  /** `in_proj_weight` [3E, E], the query, key and value projections stacked. */
  get inProjWeight(): Tensor { return this._inProjWeight; }
  /** `in_proj_bias` [3E], or null without bias. */
  get inProjBias(): Tensor | null { return this._inProjBias; }
  /** `out_proj`, the output projection. */
  get outProj(): Linear { return this._outProj; }

  forward(query: Tensor, key: Tensor, value: Tensor, options?: AttentionCallOptions): [Tensor, Tensor | null] {
    const o = readOptions(options, MHA_CALL, 'MultiheadAttention');
    const op = 'MultiheadAttention';
    for (const [name, t] of [['query', query], ['key', key], ['value', value]] as const) {
      if (!(t instanceof Tensor) || t.ndim !== 3) throw new Error(`${op}: ${name} must be a 3-D Tensor, got ${t instanceof Tensor ? `shape ${fmt(t.shape)}` : show(t)}`);
    }
    const E = this.embedDim, H = this.numHeads, hd = E / H;
    const [L, N] = this.batchFirst ? [query.shape[1], query.shape[0]] : [query.shape[0], query.shape[1]];
    const S = this.batchFirst ? key.shape[1] : key.shape[0];
    const expect = (t: Tensor, name: string, len: number) => {
      const want = this.batchFirst ? [N, len, E] : [len, N, E];
      if (t.shape.some((d, i) => d !== want[i])) throw new Error(`${op}: ${name} has shape ${fmt(t.shape)}, expected ${fmt(want)}`);
    };
    expect(query, 'query', L); expect(key, 'key', S); expect(value, 'value', S);
    return tidy(() => {
      if (o.isCausal && o.attnMask) throw new Error(`${op}: pass either attnMask or isCausal, not both`);
      const needWeights = o.needWeights ?? true;
      // the fused kernel masks causally by itself, unless another mask must be added to it
      const fusedCausal = o.isCausal === true && !needWeights && !o.keyPaddingMask;
      const mask = attentionMask(o.isCausal && !fusedCausal ? causalMask(L, S) : o.attnMask, o.keyPaddingMask, N, H, L, S, op);
      const w = this.inProjWeight, b = this.inProjBias;
      // [.., E] projections → [N, H, len, hd]
      const heads = (x: Tensor, len: number) => this.batchFirst
        ? permute(reshape(x, [N, len, H, hd]), [0, 2, 1, 3])
        : permute(reshape(x, [len, N, H, hd]), [1, 2, 0, 3]);
      const project = (x: Tensor, part: number) =>
        linear(x, narrow(w, 0, part * E, E), b ? narrow(b, 0, part * E, E) : null);
      let q: Tensor, k: Tensor, v: Tensor;
      if (query === key && key === value) { // self-attention: one product for q, k and v
        const qkv = linear(query, w, b);
        [q, k, v] = split(qkv, E, -1);
      } else {
        [q, k, v] = [project(query, 0), project(key, 1), project(value, 2)];
      }
      const dropoutP = this.training ? this.dropout : 0;
      const [qh, kh, vh] = [heads(q, L), heads(k, S), heads(v, S)];
      const [attn, weights] = needWeights
        ? attendWithWeights(qh, kh, vh, mask, dropoutP)
        : [scaledDotProductAttention(qh, kh, vh, { attnMask: mask ?? undefined, isCausal: fusedCausal, dropoutP }), null];
      const merged = this.batchFirst ? permute(attn, [0, 2, 1, 3]) : permute(attn, [2, 0, 1, 3]);
      const out = this._outProj.forward(reshape(merged, this.batchFirst ? [N, L, E] : [L, N, E]));
      const w8 = weights && (o.averageAttnWeights ?? true) ? mean(weights, 1) : weights;
      return [out, w8] as [Tensor, Tensor | null];
    });
  }

}

/** The masks as one additive [N | 1, H | 1, L, S] tensor, or null; shapes checked as PyTorch does. */
function attentionMask(attnMask: Tensor | undefined, keyPadding: Tensor | undefined, N: number, H: number, L: number, S: number, op: string): Tensor | null {
  let mask: Tensor | null = null;
  if (attnMask) {
    const s = attnMask.shape;
    if (s.length === 2 && s[0] === L && s[1] === S) mask = attnMask;
    else if (s.length === 3 && s[0] === N * H && s[1] === L && s[2] === S) mask = reshape(attnMask, [N, H, L, S]);
    else throw new Error(`${op}: attnMask has shape ${fmt(s)}, expected ${fmt([L, S])} or ${fmt([N * H, L, S])}`);
  }
  if (keyPadding) {
    if (keyPadding.ndim !== 2 || keyPadding.shape[0] !== N || keyPadding.shape[1] !== S) {
      throw new Error(`${op}: keyPaddingMask has shape ${fmt(keyPadding.shape)}, expected ${fmt([N, S])}`);
    }
    const padding = reshape(keyPadding, [N, 1, 1, S]);
    mask = mask ? add(mask, padding) : padding;
  }
  return mask;
}

/** The additive top-left causal mask [L, S]: 0 where key j ≤ query i, −Infinity above the diagonal. */
const causalMask = (L: number, S: number): Tensor => triu(full([L, S], -Infinity), 1);

/**
 * softmax(q kᵀ / √d + mask) v over [N, H, L, d] heads, and the attention probabilities (after
 * dropout, as PyTorch returns them): composed of ops, since the weights are asked for. Without
 * them, scaledDotProductAttention computes the same in one fused op that never stores them.
 */
function attendWithWeights(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null, dropoutP: number): [Tensor, Tensor] {
  let scores = mul(matmulWith(q, k, true, 'matmul'), 1 / Math.sqrt(q.shape[3])); // q · kᵀ, k read in place
  if (mask) scores = add(scores, mask);
  let p = softmax(scores, -1);
  if (dropoutP > 0) p = dropout(p, dropoutP, true);
  return [matmul(p, v), p];
}

// ── encoder ────────────────────────────────────────────────────────────────────────────────────

/** Options of {@link TransformerEncoderLayer}. */
export interface TransformerEncoderLayerOptions {
  /** Hidden width of the feed-forward network (default 2048). */
  dimFeedforward?: number;
  /** Dropout probability (default 0.1). */
  dropout?: number;
  /** The feed-forward activation (default 'relu'). */
  activation?: 'relu' | 'gelu' | ((x: Tensor) => Tensor);
  /** The LayerNorms' eps (default 1e-5). */
  layerNormEps?: number;
  /** Inputs are [N, L, E] rather than [L, N, E] (default false). */
  batchFirst?: boolean;
  /** LayerNorm before each branch (pre-norm) rather than after (default false). */
  normFirst?: boolean;
  /** Give the Linear layers and LayerNorms biases (default true). */
  bias?: boolean;
}
const activationArg = (v: unknown, name: string, op: string): 'relu' | 'gelu' | ((x: Tensor) => Tensor) =>
  (typeof v === 'function' ? (v as (x: Tensor) => Tensor) : oneOf(['relu', 'gelu'] as const)(v, name, op));
const LAYER_OPTIONS = {
  dimFeedforward: (v: unknown, n: string, op: string) => checkInt(v, n, op, 1), dropout: numberIn(0, 1), activation: activationArg,
  layerNormEps: numberIn(0), batchFirst: bool, normFirst: bool, bias: bool,
};

/** Options of {@link TransformerEncoderLayer.forward}. */
export interface EncoderCallOptions {
  /** Additive attention mask [L, L] or [N·nhead, L, L]. */
  srcMask?: Tensor;
  /** Additive mask [N, L] over the keys (−Infinity for padding). */
  srcKeyPaddingMask?: Tensor;
  /** Causal self-attention without a mask tensor (instead of srcMask). */
  isCausal?: boolean;
}
const LAYER_CALL = { srcMask: maskArg, srcKeyPaddingMask: maskArg, isCausal: bool };

/**
 * One encoder block as PyTorch's nn.TransformerEncoderLayer: self-attention and a feed-forward
 * network (linear1 → activation → dropout → linear2), each in a residual branch with dropout and
 * LayerNorm after (or before, with `normFirst`) it. Defaults: dimFeedforward 2048, dropout 0.1,
 * relu, layerNormEps 1e-5, sequence-first.
 *
 * @example
 * ```ts
 * const layer = new tg.nn.TransformerEncoderLayer(16, 4, { dimFeedforward: 32, batchFirst: true });
 * layer.forward(tg.randn([2, 7, 16]), { isCausal: true }).shape; // → [2, 7, 16]
 * ```
 */
export class TransformerEncoderLayer extends Module {
  static readonly typeName = 'TransformerEncoderLayer';
  /** Model width. */
  readonly dModel: number;
  /** Number of attention heads. */
  readonly nhead: number;
  /** LayerNorm before each branch (pre-norm). */
  readonly normFirst: boolean;
  /** @internal the arguments, so TransformerEncoder can build copies */
  readonly _args: [number, number, TransformerEncoderLayerOptions | undefined];
  // children registered in PyTorch's order (self_attn first), so stateDict() lists them as it does
  private readonly _children: {
    self_attn: MultiheadAttention; linear1: Linear; dropout: Dropout; linear2: Linear;
    norm1: LayerNorm; norm2: LayerNorm; dropout1: Dropout; dropout2: Dropout;
  };
  private readonly _activation: (x: Tensor) => Tensor;

  constructor(dModel: number, nhead: number, options?: TransformerEncoderLayerOptions) {
    super();
    const op = 'TransformerEncoderLayer';
    const o = readOptions(options, LAYER_OPTIONS, op);
    this._args = [dModel, nhead, options];
    this.dModel = checkInt(dModel, 'dModel', op, 1);
    this.nhead = checkInt(nhead, 'nhead', op, 1);
    if (dModel % nhead !== 0) throw new Error(`${op}: dModel ${dModel} must be divisible by nhead ${nhead}`);
    this.normFirst = o.normFirst ?? false;
    const p = o.dropout ?? 0.1, bias = o.bias ?? true, eps = o.layerNormEps ?? 1e-5, ff = o.dimFeedforward ?? 2048;
    checkBytes([ff, dModel], op);
    const act = o.activation ?? 'relu';
    this._activation = act === 'relu' ? relu : act === 'gelu' ? (x: Tensor) => gelu(x) : act;
    this._children = makeChildren(this, {
      self_attn: () => new MultiheadAttention(dModel, nhead, { dropout: p, bias, batchFirst: o.batchFirst ?? false }),
      linear1: () => new Linear(dModel, ff, { bias }),
      dropout: () => new Dropout(p),
      linear2: () => new Linear(ff, dModel, { bias }),
      norm1: () => new LayerNorm(dModel, { eps }),
      norm2: () => new LayerNorm(dModel, { eps }),
      dropout1: () => new Dropout(p),
      dropout2: () => new Dropout(p),
    });
  }

  /** `self_attn`, the block's MultiheadAttention. */
  get selfAttn(): MultiheadAttention { return this._children.self_attn; }
  /** The first feed-forward Linear [dModel → dimFeedforward]. */
  get linear1(): Linear { return this._children.linear1; }
  /** Dropout between the feed-forward Linears. */
  get dropout(): Dropout { return this._children.dropout; }
  /** The second feed-forward Linear [dimFeedforward → dModel]. */
  get linear2(): Linear { return this._children.linear2; }
  /** LayerNorm of the attention branch. */
  get norm1(): LayerNorm { return this._children.norm1; }
  /** LayerNorm of the feed-forward branch. */
  get norm2(): LayerNorm { return this._children.norm2; }
  /** Dropout on the attention branch. */
  get dropout1(): Dropout { return this._children.dropout1; }
  /** Dropout on the feed-forward branch. */
  get dropout2(): Dropout { return this._children.dropout2; }

  forward(src: Tensor, options?: EncoderCallOptions): Tensor {
    const o = readOptions(options, LAYER_CALL, 'TransformerEncoderLayer');
    return tidy(() => {
      const attention = (x: Tensor) => this.dropout1.forward(
        this.selfAttn.forward(x, x, x, { attnMask: o.srcMask, keyPaddingMask: o.srcKeyPaddingMask, needWeights: false, isCausal: o.isCausal })[0]);
      const feedForward = (x: Tensor) =>
        this.dropout2.forward(this.linear2.forward(this.dropout.forward(this._activation(this.linear1.forward(x)))));
      let x = src;
      if (this.normFirst) {
        x = add(x, attention(this.norm1.forward(x)));
        return add(x, feedForward(this.norm2.forward(x)));
      }
      x = this.norm1.forward(add(x, attention(x)));
      return this.norm2.forward(add(x, feedForward(x)));
    });
  }
}

/** Options of {@link TransformerEncoder}. */
export interface TransformerEncoderOptions {
  /** A final normalisation applied to the output (e.g. a LayerNorm), saved as `norm.…`. */
  norm?: Module;
}
const ENCODER_OPTIONS = { norm: (v: unknown, name: string, op: string) => {
  if (!(v instanceof Module)) throw new Error(`${op}: ${name} must be a Module, got ${show(v)}`);
  return v;
} };
const ENCODER_CALL = { mask: maskArg, srcKeyPaddingMask: maskArg, isCausal: bool };

/**
 * `numLayers` copies of `encoderLayer` (each starts with the layer's values, as PyTorch's deep
 * copies do), applied in turn, then `norm` if given: forward(src, {mask, srcKeyPaddingMask}).
 *
 * @example
 * ```ts
 * const layer = new tg.nn.TransformerEncoderLayer(16, 4, { dimFeedforward: 32 });
 * const encoder = new tg.nn.TransformerEncoder(layer, 2, { norm: new tg.nn.LayerNorm(16) });
 * encoder.forward(tg.randn([7, 2, 16])).shape; // → [7, 2, 16]
 * ```
 */
export class TransformerEncoder extends Module {
  static readonly typeName = 'TransformerEncoder';
  /** The layers, applied in turn. */
  layers: TransformerEncoderLayer[];
  /** The final normalisation, or null. */
  norm: Module | null;

  constructor(encoderLayer: TransformerEncoderLayer, numLayers: number, options?: TransformerEncoderOptions) {
    super();
    if (!(encoderLayer instanceof TransformerEncoderLayer)) {
      throw new Error(`TransformerEncoder: encoderLayer must be a TransformerEncoderLayer, got ${show(encoderLayer)}`);
    }
    checkInt(numLayers, 'numLayers', 'TransformerEncoder', 1);
    const o = readOptions(options, ENCODER_OPTIONS, 'TransformerEncoder');
    this.layers = [];
    const theirs = new Map(encoderLayer.namedParameters());
    // all the copies' parameters together must fit in memory: refused before any is made
    checkBytes([numLayers, encoderLayer.parameters().reduce((n, t) => n + t.size, 0)], 'TransformerEncoder');
    try {
      for (let i = 0; i < numLayers; i++) {
        const copy = new TransformerEncoderLayer(...encoderLayer._args);
        this.layers.push(copy);
        copyAll(copy.namedParameters().map(([name, t]) => [t, theirs.get(name) as Tensor]));
      }
    } catch (err) {
      this.dispose();
      throw err;
    }
    this.norm = o.norm ?? null;
  }

  forward(src: Tensor, options?: { mask?: Tensor; srcKeyPaddingMask?: Tensor; isCausal?: boolean }): Tensor {
    const o = readOptions(options, ENCODER_CALL, 'TransformerEncoder');
    return tidy(() => {
      let x = src;
      for (const layer of this.layers) x = layer.forward(x, { srcMask: o.mask, srcKeyPaddingMask: o.srcKeyPaddingMask, isCausal: o.isCausal });
      return this.norm ? this.norm.forward(x) : x;
    });
  }
}
