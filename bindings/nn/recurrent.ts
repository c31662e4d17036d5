// nn.LSTM, nn.GRU, nn.LSTMCell and nn.GRUCell: PyTorch's recurrent layers with its constructor
// arguments, state-dict keys (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, …_reverse) and
// outputs. Each layer and direction is one op whose time loop runs in the core (ops/recurrent.ts);
// a cell is that op over one step.
import { Tensor } from '../tensor';
import { cat, stack, transpose, narrow, reshape, unsqueeze, squeeze } from '../ops/shape';
import { recurrentLayer, type RecurrentCell, type RecurrentWeights } from '../ops/recurrent';
import { dropout } from '../nnfunctional';
import { tidy } from '../memory';
import { fmt, show, readOptions, checkInt, checkBytes, numberIn, bool } from '../shape';
import { Module, uniformParameter, makeAll, pyFloat, typeName } from './module';

/** Options of {@link LSTM} and {@link GRU}. */
export interface RecurrentOptions {
  /** Stacked layers, each reading the previous one's hidden states (default 1). */
  numLayers?: number;
  /** Learn bias_ih and bias_hh (default true). */
  bias?: boolean;
  /** Input and output are [batch, seq, feature] instead of [seq, batch, feature] (default false). */
  batchFirst?: boolean;
  /** Dropout on each layer's output but the last, in training mode (default 0). */
  dropout?: number;
  /** Run a second direction backwards in time and concatenate both (default false). */
  bidirectional?: boolean;
}
const RECURRENT_OPTIONS = { numLayers: (v: unknown, name: string, op: string) => checkInt(v, name, op, 1), bias: bool, batchFirst: bool, dropout: numberIn(0, 1), bidirectional: bool };

/** Options of {@link LSTMCell} and {@link GRUCell}. */
export interface RecurrentCellOptions {
  /** Learn bias_ih and bias_hh (default true). */
  bias?: boolean;
}
const CELL_OPTIONS = { bias: bool };

/**
 * Makes the weights of `count` layer-directions, registered under PyTorch's names (name(k) gives
 * the suffix of the k-th: `_l0`, `_l0_reverse`, … or '' for a cell), each drawn from U(−1/√H, 1/√H)
 * as PyTorch's reset_parameters does.
 */
function makeWeights(m: Module, G: number, H: number, inputs: (k: number) => number, count: number, bias: boolean,
  suffix: (k: number) => string): RecurrentWeights[] {
  const bound = 1 / Math.sqrt(H), makers: (() => Tensor | null)[] = [];
  for (let k = 0; k < count; k++) {
    checkBytes([G * H, Math.max(inputs(k), H)], typeName(m));
    makers.push(() => uniformParameter([G * H, inputs(k)], bound), () => uniformParameter([G * H, H], bound),
      () => (bias ? uniformParameter([G * H], bound) : null), () => (bias ? uniformParameter([G * H], bound) : null));
  }
  const made = makeAll(...makers);
  const weights: RecurrentWeights[] = [];
  for (let k = 0; k < count; k++) {
    const [weightIh, weightHh, biasIh, biasHh] = made.slice(4 * k, 4 * k + 4);
    const s = suffix(k);
    m.registerParameter(`weight_ih${s}`, weightIh); m.registerParameter(`weight_hh${s}`, weightHh);
    if (bias) { m.registerParameter(`bias_ih${s}`, biasIh); m.registerParameter(`bias_hh${s}`, biasHh); }
    weights.push({ weightIh: weightIh!, weightHh: weightHh!, biasIh, biasHh });
  }
  return weights;
}

/** Throws unless `t` is a Tensor of shape `want`; `what` names it as PyTorch's message does. */
function expectShape(t: unknown, want: number[], what: string, op: string): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new Error(`${op}: ${what} must be a Tensor, got ${show(t)}`);
  if (t.dims.length !== want.length || t.dims.some((d, i) => d !== want[i])) throw new Error(`${op}: expected ${what} of shape ${fmt(want)}, got ${fmt(t.dims)}`);
}

/** What LSTM and GRU share: the weights of every layer and direction, and the loop over them. */
abstract class RecurrentBase extends Module {
  /** Features of each input step. */
  readonly inputSize: number;
  /** Features of each hidden state. */
  readonly hiddenSize: number;
  /** Stacked layers. */
  readonly numLayers: number;
  /** Whether the layers have biases. */
  readonly bias: boolean;
  /** Input and output are [batch, seq, feature]. */
  readonly batchFirst: boolean;
  /** Dropout between layers in training mode. */
  readonly dropout: number;
  /** Two directions, concatenated. */
  readonly bidirectional: boolean;
  /** @internal one entry per layer and direction, layer-major */
  private readonly _weights: RecurrentWeights[];

  protected constructor(private readonly _cell: RecurrentCell, inputSize: number, hiddenSize: number, options: RecurrentOptions | undefined) {
    super();
    const op = typeName(this), o = readOptions(options, RECURRENT_OPTIONS, op);
    this.inputSize = checkInt(inputSize, 'inputSize', op, 1);
    this.hiddenSize = checkInt(hiddenSize, 'hiddenSize', op, 1);
    this.numLayers = o.numLayers ?? 1;
    this.bias = o.bias ?? true;
    this.batchFirst = o.batchFirst ?? false;
    this.dropout = o.dropout ?? 0;
    this.bidirectional = o.bidirectional ?? false;
    const D = this.bidirectional ? 2 : 1, H = this.hiddenSize;
    this._weights = makeWeights(this, _cell === 'LSTM' ? 4 : 3, H, (k) => (k < D ? this.inputSize : D * H), this.numLayers * D, this.bias,
      (k) => `_l${Math.floor(k / D)}${k % D ? '_reverse' : ''}`);
  }

  /**
   * Checks the input and the initial states, runs every layer and direction; returns the output
   * [T, B, D·H] (or as batchFirst, or unbatched as the input was) and the final states.
   */
  protected runLayers(input: unknown, h0: unknown, c0: unknown): [Tensor, Tensor, Tensor | null] {
    const op = typeName(this), lstm = this._cell === 'LSTM';
    if (!(input instanceof Tensor)) throw new Error(`${op}: input must be a Tensor, got ${show(input)}`);
    const r = input.dims.length, I = this.inputSize, H = this.hiddenSize, D = this.bidirectional ? 2 : 1, LD = this.numLayers * D;
    if (r !== 2 && r !== 3) throw new Error(`${op}: expected a 2-D (unbatched) or 3-D input, got shape ${fmt(input.dims)}`);
    if (input.dims[r - 1] !== I) throw new Error(`${op}: input of shape ${fmt(input.dims)} has ${input.dims[r - 1]} features, expected inputSize ${I}`);
    const batched = r === 3, T = input.dims[batched && this.batchFirst ? 1 : 0], B = batched ? input.dims[this.batchFirst ? 0 : 1] : 1;
    if (T === 0) throw new Error(`${op}: expected a sequence of at least one step, got input of shape ${fmt(input.dims)}`);
    const stateShape = batched ? [LD, B, H] : [LD, H];
    if (h0 != null) expectShape(h0, stateShape, lstm ? 'h0 (hx[0])' : 'hx', op);
    if (c0 != null) expectShape(c0, stateShape, 'c0 (hx[1])', op);
    return tidy(() => {
      // time-major [T, B, ·] inside: the op's layout
      let x = !batched ? unsqueeze(input, 1) : this.batchFirst ? transpose(input, 0, 1) : input;
      const state = (s: Tensor | null, k: number) => (s ? reshape(narrow(s, 0, k, 1), [B, H]) : null);
      const hN: Tensor[] = [], cN: Tensor[] = [];
      for (let l = 0; l < this.numLayers; l++) {
        const outs: Tensor[] = [];
        for (let d = 0; d < D; d++) {
          const k = l * D + d;
          const [h, c] = recurrentLayer(this._cell, op, x, this._weights[k], state(h0 as Tensor | null, k), state(c0 as Tensor | null, k), d === 1);
          outs.push(h);
          const last = d === 1 ? 0 : T - 1;
          hN.push(reshape(narrow(h, 0, last, 1), [B, H]));
          if (c) cN.push(reshape(narrow(c, 0, last, 1), [B, H]));
        }
        x = D === 1 ? outs[0] : cat(outs, 2);
        if (this.dropout > 0 && this.training && l < this.numLayers - 1) x = dropout(x, this.dropout, true);
      }
      const output = !batched ? squeeze(x, 1) : this.batchFirst ? transpose(x, 0, 1) : x;
      const states = (s: Tensor[]) => (batched ? stack(s) : reshape(stack(s), [LD, H]));
      return [output, states(hN), lstm ? states(cN) : null] as [Tensor, Tensor, Tensor | null];
    });
  }

  extraRepr(): string {
    let s = `${this.inputSize}, ${this.hiddenSize}`;
    if (this.numLayers !== 1) s += `, num_layers=${this.numLayers}`;
    if (!this.bias) s += ', bias=False';
    if (this.batchFirst) s += ', batch_first=True';
    if (this.dropout !== 0) s += `, dropout=${pyFloat(this.dropout)}`;
    if (this.bidirectional) s += ', bidirectional=True';
    return s;
  }
}

/**
 * A multi-layer long short-term memory (PyTorch's nn.LSTM): forward(input, [h0, c0]?) →
 * [output, [hN, cN]]. Input [T, B, inputSize] ([B, T, inputSize] with batchFirst, or [T, inputSize]
 * unbatched); output [T, B, D·hiddenSize] (D = 2 when bidirectional) and states
 * [numLayers·D, B, hiddenSize], zeros when not given. Each layer's time loop runs in WebAssembly,
 * forward and backward.
 *
 * @example
 * ```ts
 * const lstm = new tg.nn.LSTM(8, 16, { numLayers: 2, batchFirst: true });
 * const [out, [h, c]] = lstm.forward(tg.randn([4, 10, 8]));
 * [out.shape, h.shape, c.shape]; // → [[4, 10, 16], [2, 4, 16], [2, 4, 16]]
 * ```
 */
export class LSTM extends RecurrentBase {
  static readonly typeName = 'LSTM';
  constructor(inputSize: number, hiddenSize: number, options?: RecurrentOptions) { super('LSTM', inputSize, hiddenSize, options); }

  forward(input: Tensor, hx?: [Tensor, Tensor] | null): [Tensor, [Tensor, Tensor]] {
    if (hx != null && (!Array.isArray(hx) || hx.length !== 2)) throw new Error(`LSTM: hx must be [h0, c0], got ${show(hx)}`);
    const [out, h, c] = this.runLayers(input, hx?.[0], hx?.[1]);
    return [out, [h, c!]];
  }
}

/**
 * A multi-layer gated recurrent unit (PyTorch's nn.GRU): forward(input, h0?) → [output, hN], with
 * the shapes of {@link LSTM}.
 *
 * @example
 * ```ts
 * const gru = new tg.nn.GRU(8, 16);
 * const [out, h] = gru.forward(tg.randn([10, 4, 8]));
 * [out.shape, h.shape]; // → [[10, 4, 16], [1, 4, 16]]
 * ```
 */
export class GRU extends RecurrentBase {
  static readonly typeName = 'GRU';
  constructor(inputSize: number, hiddenSize: number, options?: RecurrentOptions) { super('GRU', inputSize, hiddenSize, options); }

  forward(input: Tensor, hx?: Tensor | null): [Tensor, Tensor] {
    const [out, h] = this.runLayers(input, hx, null);
    return [out, h];
  }
}

/** What LSTMCell and GRUCell share: one step of the layer op. */
abstract class RecurrentCellBase extends Module {
  /** Features of the input. */
  readonly inputSize: number;
  /** Features of the hidden state. */
  readonly hiddenSize: number;
  /** Whether the cell has biases. */
  readonly bias: boolean;
  /** @internal */
  private readonly _weights: RecurrentWeights;

  protected constructor(private readonly _cell: RecurrentCell, inputSize: number, hiddenSize: number, options: RecurrentCellOptions | undefined) {
    super();
    const op = typeName(this), o = readOptions(options, CELL_OPTIONS, op);
    this.inputSize = checkInt(inputSize, 'inputSize', op, 1);
    this.hiddenSize = checkInt(hiddenSize, 'hiddenSize', op, 1);
    this.bias = o.bias ?? true;
    this._weights = makeWeights(this, _cell === 'LSTM' ? 4 : 3, this.hiddenSize, () => this.inputSize, 1, this.bias, () => '')[0];
  }

  /** One step from input [B, I] (or [I]) and states [B, H] (or [H]; null for zeros): [h', c' or null]. */
  protected runStep(input: unknown, h: unknown, c: unknown): [Tensor, Tensor | null] {
    const op = typeName(this), I = this.inputSize, H = this.hiddenSize;
    if (!(input instanceof Tensor)) throw new Error(`${op}: input must be a Tensor, got ${show(input)}`);
    const r = input.dims.length;
    if ((r !== 1 && r !== 2) || input.dims[r - 1] !== I) throw new Error(`${op}: expected input of shape [B, ${I}] or [${I}], got ${fmt(input.dims)}`);
    const B = r === 2 ? input.dims[0] : 1, want = r === 2 ? [B, H] : [H];
    if (h != null) expectShape(h, want, this._cell === 'LSTM' ? 'hx[0]' : 'hx', op);
    if (c != null) expectShape(c, want, 'hx[1]', op);
    return tidy(() => {
      const rows = (t: Tensor | null) => (t ? reshape(t, [B, H]) : null);
      const [hs, cs] = recurrentLayer(this._cell, op, reshape(input, [1, B, I]), this._weights, rows(h as Tensor | null), rows(c as Tensor | null), false);
      const back = (t: Tensor) => reshape(t, r === 2 ? [B, H] : [H]);
      return [back(hs), cs ? back(cs) : null] as [Tensor, Tensor | null];
    });
  }

  extraRepr(): string {
    return `${this.inputSize}, ${this.hiddenSize}${this.bias ? '' : ', bias=False'}`;
  }
}

/**
 * One LSTM step (PyTorch's nn.LSTMCell): forward(input, [h, c]?) → [h', c'], input [B, inputSize]
 * or [inputSize], states [B, hiddenSize] (zeros when not given).
 *
 * @example
 * ```ts
 * const cell = new tg.nn.LSTMCell(3, 5);
 * const [h, c] = cell.forward(tg.randn([2, 3]));
 * [h.shape, c.shape]; // → [[2, 5], [2, 5]]
 * ```
 */
export class LSTMCell extends RecurrentCellBase {
  static readonly typeName = 'LSTMCell';
  constructor(inputSize: number, hiddenSize: number, options?: RecurrentCellOptions) { super('LSTM', inputSize, hiddenSize, options); }

  forward(input: Tensor, hx?: [Tensor, Tensor] | null): [Tensor, Tensor] {
    if (hx != null && (!Array.isArray(hx) || hx.length !== 2)) throw new Error(`LSTMCell: hx must be [h, c], got ${show(hx)}`);
    const [h, c] = this.runStep(input, hx?.[0], hx?.[1]);
    return [h, c!];
  }
}

/**
 * One GRU step (PyTorch's nn.GRUCell): forward(input, h?) → h', shapes as {@link LSTMCell}.
 *
 * @example
 * ```ts
 * new tg.nn.GRUCell(3, 5).forward(tg.randn([2, 3])).shape; // → [2, 5]
 * ```
 */
export class GRUCell extends RecurrentCellBase {
  static readonly typeName = 'GRUCell';
  constructor(inputSize: number, hiddenSize: number, options?: RecurrentCellOptions) { super('GRU', inputSize, hiddenSize, options); }

  forward(input: Tensor, hx?: Tensor | null): Tensor {
    return this.runStep(input, hx, null)[0];
  }
}
