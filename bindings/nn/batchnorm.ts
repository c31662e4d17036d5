// nn.BatchNorm1d and nn.BatchNorm2d: PyTorch's batch normalization, composed of ops (each runs in
// the core, forward and backward), with PyTorch's state-dict keys: weight, bias, running_mean,
// running_var, num_batches_tracked (a 0-d tensor here; PyTorch's int64 loads into it).
import { Tensor } from '../tensor';
import { zeros, ones } from '../ops/creation';
import { add, sub, mul, div, rsqrt } from '../ops/elementwise';
import { mean, var as variance } from '../ops/reduce';
import { reshape } from '../ops/shape';
import { noGrad } from '../autograd';
import { tidy } from '../memory';
import { fmt, numel, readOptions, numberIn, bool, checkNumber, checkBytes, checkInt } from '../shape';
import { Module, affineParameters, pyBool, pyFloat, typeName } from './module';

/** Options of {@link BatchNorm1d} and {@link BatchNorm2d}. */
export interface BatchNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Weight of each batch in the running statistics (default 0.1); null for their cumulative average. */
  momentum?: number | null;
  /** Learn a weight and a bias per channel (default true). */
  affine?: boolean;
  /** Keep running statistics for eval() (default true); without, every call uses its batch's. */
  trackRunningStats?: boolean;
}
const BATCH_NORM_OPTIONS = {
  eps: numberIn(0),
  momentum: (v: unknown, name: string, op: string) => (v === null ? null : checkNumber(v, name, op)),
  affine: bool,
  trackRunningStats: bool,
};

/** What BatchNorm1d and BatchNorm2d share; `ranks` are the input ranks the subclass accepts. */
abstract class BatchNorm extends Module {
  /** Channels (dim 1 of the input). */
  readonly numFeatures: number;
  /** Added to the variance. */
  readonly eps: number;
  /** Weight of each batch in the running statistics; null for their cumulative average. */
  readonly momentum: number | null;
  /** Scale per channel (ones at first), or null without affine. */
  weight: Tensor | null;
  /** Shift per channel (zeros at first), or null without affine. */
  bias: Tensor | null;
  /** @internal */ declare running_mean: Tensor | null;
  /** @internal */ declare running_var: Tensor | null;
  /** @internal */ declare num_batches_tracked: Tensor | null;

  protected constructor(numFeatures: number, options: BatchNormOptions | undefined, private readonly ranks: number[]) {
    super();
    const op = typeName(this);
    const o = readOptions(options, BATCH_NORM_OPTIONS, op);
    this.numFeatures = checkInt(numFeatures, 'numFeatures', op, 1);
    checkBytes([numFeatures], op);
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum === undefined ? 0.1 : o.momentum;
    [this.weight, this.bias] = affineParameters([numFeatures], o.affine ?? true);
    const track = o.trackRunningStats ?? true;
    const [m, v, n] = track ? noGrad(() => [zeros([numFeatures]), ones([numFeatures]), zeros([])]) : [null, null, null];
    this.registerBuffer('running_mean', m);
    this.registerBuffer('running_var', v);
    this.registerBuffer('num_batches_tracked', n);
  }

  /** The running mean per channel (a buffer; null without trackRunningStats). */
  get runningMean(): Tensor | null { return this.running_mean; }
  /** The running (unbiased) variance per channel (a buffer; null without trackRunningStats). */
  get runningVar(): Tensor | null { return this.running_var; }
  /** Training batches seen, a 0-d tensor (a buffer; null without trackRunningStats). */
  get numBatchesTracked(): Tensor | null { return this.num_batches_tracked; }

  /**
   * Normalizes each channel by the batch's mean and biased variance in training mode (updating the
   * running statistics with the unbiased one), by the running statistics in eval mode.
   */
  forward(x: Tensor): Tensor {
    const op = typeName(this), C = this.numFeatures;
    if (!(x instanceof Tensor)) throw new Error(`${op}: input must be a Tensor, got ${typeof x}`);
    if (!this.ranks.includes(x.dims.length) || x.dims[1] !== C) {
      throw new Error(`${op}: expected input of ${this.ranks.map((r) => `${r}-D`).join(' or ')} [N, ${C}, ...], got shape ${fmt(x.dims)}`);
    }
    const dims = x.dims.map((_, i) => i).filter((i) => i !== 1), perChannel = x.dims.map((d, i) => (i === 1 ? C : 1));
    const count = numel(x.dims) / C;
    const rm = this.running_mean, rv = this.running_var, nbt = this.num_batches_tracked;
    const batchStats = this.training || !rm || !rv;
    if (this.training && count <= 1) throw new Error(`${op}: expected more than 1 value per channel when training, got input of shape ${fmt(x.dims)}`);
    return tidy(() => {
      let mu: Tensor, v: Tensor;
      if (batchStats) {
        mu = mean(x, dims, true);
        v = variance(x, dims, { correction: 0, keepdim: true });
        if (this.training && rm && rv && nbt) noGrad(() => {
          nbt.copy_(add(nbt, 1));
          // a number momentum rides in the ops' records; the cumulative average's 1 / batches seen is a
          // tensor, so a traced step reads the count each replay
          const m = this.momentum, unbias = count / (count - 1);
          const f = m ?? div(1, nbt), keep = m === null ? sub(1, f) : 1 - m, fVar = m === null ? mul(f, unbias) : m * unbias;
          rm.copy_(add(mul(rm, keep), mul(reshape(mu, [C]), f)));
          rv.copy_(add(mul(rv, keep), mul(reshape(v, [C]), fVar)));
        });
      } else {
        mu = reshape(rm!, perChannel);
        v = reshape(rv!, perChannel);
      }
      let y = mul(sub(x, mu), rsqrt(add(v, this.eps)));
      if (this.weight) y = mul(y, reshape(this.weight, perChannel));
      return this.bias ? add(y, reshape(this.bias, perChannel)) : y;
    });
  }

  extraRepr(): string {
    return `${this.numFeatures}, eps=${pyFloat(this.eps)}, momentum=${this.momentum === null ? 'None' : pyFloat(this.momentum)}, affine=${pyBool(this.weight !== null)}, track_running_stats=${pyBool(this.running_mean !== null)}`;
  }
}

/**
 * Batch normalization of [N, C] or [N, C, L] inputs over N (and L), per channel (PyTorch's
 * nn.BatchNorm1d): batch statistics in training mode, running ones after eval().
 *
 * @example
 * ```ts
 * const bn = new tg.nn.BatchNorm1d(3);
 * bn.forward(tg.randn([8, 3])).shape; // → [8, 3]
 * bn.numBatchesTracked!.item(); // → 1
 * ```
 */
export class BatchNorm1d extends BatchNorm {
  static readonly typeName = 'BatchNorm1d';
  constructor(numFeatures: number, options?: BatchNormOptions) { super(numFeatures, options, [2, 3]); }
}

/**
 * Batch normalization of [N, C, H, W] inputs over N, H and W, per channel (PyTorch's nn.BatchNorm2d).
 *
 * @example
 * ```ts
 * new tg.nn.BatchNorm2d(4).toString(); // → 'BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)'
 * ```
 */
export class BatchNorm2d extends BatchNorm {
  static readonly typeName = 'BatchNorm2d';
  constructor(numFeatures: number, options?: BatchNormOptions) { super(numFeatures, options, [4]); }
}
