// Reductions over dims (core: assembly/ops/reduce.ts) and argmax/argmin.
import { issue } from '../core';
import { Op, Cmd } from '../opcodes';
import { fmt, numel, normAxis, prod, checkBool, readOptions, numberIn, bool } from '../shape';
import { Tensor, type TensorLike, live, newTensor, run, viaTensor } from '../tensor';
import { permute } from './shape';

/** Sorted, de-duplicated axes of a dim argument (undefined: every axis). */
function reduceAxes(a: Tensor, dim: number | number[] | undefined, op: string): number[] {
  const rank = a.dims.length;
  if (dim === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = Array.isArray(dim) ? dim : [dim];
  const axes = [...new Set(list.map((d) => normAxis(d, rank, op, a.dims)))].sort((p, q) => p - q);
  // an empty list reduces every dim, as PyTorch's x.sum(dim=[]) does
  if (list.length === 0) return Array.from({ length: rank }, (_, i) => i);
  return rank === 0 ? [] : axes;
}

/** `correction` is var's and std's (the record's f0). */
function reduce(op: Op, name: string, x: TensorLike, dim: number | number[] | undefined, keepdim: boolean, correction = 0): Tensor {
  checkBool(keepdim, 'keepdim', name);
  if (!(x instanceof Tensor)) return viaTensor(name, x, (t) => reduce(op, name, t, dim, keepdim, correction));
  const a = x;
  live(a, name);
  const axes = reduceAxes(a, dim, name);
  const shape = a.dims;
  const outShape = keepdim ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
  if (axes.length > 0 && axes.some((ax) => shape[ax] === 0) && (op === Op.MAX || op === Op.MIN)) {
    throw new Error(`${name}: cannot reduce an empty dim of shape ${fmt(shape)}`);
  }
  // Split the axes into runs of adjacent axes; each run is one [outer, R, inner] reduction.
  const runs: [number, number][] = [];
  for (const ax of axes) {
    const lastRun = runs[runs.length - 1];
    if (lastRun && lastRun[1] === ax - 1) lastRun[1] = ax;
    else runs.push([ax, ax]);
  }
  if (runs.length === 0) runs.push([0, -1]); // nothing to reduce: a copy through [size, 1, 1]
  // max()/min() over everything or a list of dims share a tie's gradient (like amax); over one dim
  // the first extreme takes it (like max(dim), whose gradient follows the index it returns)
  const shareTies = typeof dim === 'number' ? 0 : 1;
  if (runs.length > 1 && op !== Op.SUM && op !== Op.MEAN) {
    // max, min and logsumexp of separate runs are not a chain of single reductions (ties would
    // split their gradient per run, an all −∞ slice would give NaN): gather the reduced dims last
    const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const gathered = permute(a, [...kept, ...axes], name);
    const out = run(op, name, outShape, gathered, null, null, numel(kept.map((i) => shape[i])), numel(axes.map((i) => shape[i])), 1, shareTies, 0, 0, correction);
    gathered.dispose(); // its record keeps it for the graph
    return out;
  }
  let cur = a;
  let curShape: number[] = shape.slice();
  for (let r = runs.length - 1; r >= 0; r--) {
    const [first, last] = runs[r];
    const outer = prod(curShape, 0, first), R = prod(curShape, first, last + 1), inner = prod(curShape, last + 1, curShape.length);
    const isLast = r === 0;
    const nextShape = curShape.map((d, i) => (i >= first && i <= last ? 1 : d));
    const next = run(op, name, isLast ? outShape : nextShape, cur, null, null, outer, R, inner, shareTies, 0, 0, correction);
    if (cur !== a) cur.dispose(); // an intermediate of a multi-run reduction: its record keeps it
    cur = next;
    curShape = nextShape;
  }
  return cur;
}

/**
 * Sum of every element, or over a dim or dims (kept as size 1 with keepdim).
 * @example
 * ```ts
 * const x = tg.tensor([[1, 2], [3, 4]]);
 * tg.sum(x).item(); // → 10
 * tg.sum(x, 1).toArray(); // → [3, 7]
 * tg.sum(x, 0, true).shape; // → [1, 2]
 * ```
 */
export const sum = (a: TensorLike, dim?: number | number[], keepdim = false): Tensor => reduce(Op.SUM, 'sum', a, dim, keepdim);
/**
 * Mean of every element, or over a dim or dims.
 * @example
 * ```ts
 * tg.mean(tg.tensor([[1, 2], [3, 4]])).item(); // → 2.5
 * ```
 */
export const mean = (a: TensorLike, dim?: number | number[], keepdim = false): Tensor => reduce(Op.MEAN, 'mean', a, dim, keepdim);
/**
 * Largest element, or the largest over a dim or dims (the values; see argmax for indices).
 * @example
 * ```ts
 * tg.max(tg.tensor([[1, 5], [3, 4]]), 0).toArray(); // → [3, 5]
 * ```
 */
export const max = (a: TensorLike, dim?: number | number[], keepdim = false): Tensor => reduce(Op.MAX, 'max', a, dim, keepdim);
/** Smallest element, or the smallest over a dim or dims. */
export const min = (a: TensorLike, dim?: number | number[], keepdim = false): Tensor => reduce(Op.MIN, 'min', a, dim, keepdim);
/**
 * log Σ eˣ, computed stably, over every element or a dim or dims.
 * @example
 * ```ts
 * tg.logsumexp(tg.tensor([0, 0])).item(); // → Math.LN2
 * ```
 */
export const logsumexp = (a: TensorLike, dim?: number | number[], keepdim = false): Tensor => reduce(Op.LOGSUMEXP, 'logsumexp', a, dim, keepdim);

function argReduce(isMax: boolean, name: string, x: TensorLike, dim: number | undefined, keepdim: boolean): Tensor {
  checkBool(keepdim, 'keepdim', name);
  if (!(x instanceof Tensor)) return viaTensor(name, x, (t) => argReduce(isMax, name, t, dim, keepdim));
  const a = x;
  live(a, name);
  let shape: number[], outer: number, R: number, inner: number;
  if (dim === undefined) {
    shape = []; outer = 1; R = a.size; inner = 1;
  } else {
    const ax = normAxis(dim, a.dims.length, name, a.dims);
    outer = prod(a.dims, 0, ax); R = a.dims.length ? a.dims[ax] : 1; inner = prod(a.dims, ax + 1, a.dims.length);
    shape = keepdim ? a.dims.map((d, i) => (i === ax ? 1 : d)) : a.dims.filter((_, i) => i !== ax);
  }
  // Like PyTorch: an empty reduced dim has no index to return; an empty other dim gives an empty result.
  if (R === 0) throw new Error(`${name}: cannot reduce an empty ${dim === undefined ? 'tensor' : `dim ${dim}`} of shape ${fmt(a.dims)}`);
  const out = newTensor(shape, name);
  issue(Cmd.ARG_REDUCE, out.id, a.id, -1, isMax ? 1 : 0, outer, R, inner);
  return out;
}

/**
 * Index of the largest element (of the flattened tensor without dim), as a float tensor.
 * @example
 * ```ts
 * tg.argmax(tg.tensor([[1, 5], [7, 2]]), 1).toArray(); // → [1, 0]
 * ```
 */
export const argmax = (a: TensorLike, dim?: number, keepdim = false): Tensor => argReduce(true, 'argmax', a, dim, keepdim);
/** Index of the smallest element, as argmax. */
export const argmin = (a: TensorLike, dim?: number, keepdim = false): Tensor => argReduce(false, 'argmin', a, dim, keepdim);

/**
 * Options of {@link var} and {@link std}.
 * @property correction - subtracted from the count in the divisor (default 1, Bessel's correction)
 * @property keepdim - keep reduced dims as size 1 (default false)
 * @property unbiased - false for correction 0, as PyTorch's older argument (not with correction)
 */
export interface VarOptions { correction?: number; keepdim?: boolean; unbiased?: boolean }
const VAR_OPTIONS = { correction: numberIn(0), keepdim: bool, unbiased: bool };

function variance(op: Op, name: string, x: TensorLike, dim: number | number[] | undefined, options: VarOptions | undefined): Tensor {
  const o = readOptions(options, VAR_OPTIONS, name);
  if (o.unbiased !== undefined && o.correction !== undefined) throw new Error(`${name}: pass correction or unbiased, not both`);
  return reduce(op, name, x, dim, o.keepdim ?? false, o.correction ?? (o.unbiased === false ? 0 : 1));
}

/**
 * Variance over `dim` (a dim, a list, or every element): Σ (x − mean)² / max(0, N − correction),
 * PyTorch ≥ 2.0's `correction` (1 by default: Bessel's); `unbiased: false` is correction 0.
 * N ≤ correction gives Infinity or NaN, as in PyTorch.
 *
 * @example
 * ```ts
 * tg.var(tg.tensor([1, 2, 3, 4])).item(); // → 5 / 3
 * tg.var(tg.tensor([1, 2, 3, 4]), 0, { correction: 0 }).item(); // → 1.25
 * ```
 */
export const variance_ = (a: TensorLike, dim?: number | number[], options?: VarOptions): Tensor => variance(Op.VAR, 'var', a, dim, options);
/**
 * Standard deviation: the square root of var (same arguments); its gradient is 0 where it is 0.
 *
 * @example
 * ```ts
 * tg.std(tg.tensor([2, 4])).item(); // → Math.SQRT2
 * ```
 */
export const std = (a: TensorLike, dim?: number | number[], options?: VarOptions): Tensor => variance(Op.STD, 'std', a, dim, options);
export { variance_ as var };

/**
 * Running sum along `dim`: out[..., i, ...] = Σ_{k ≤ i} x[..., k, ...] (accumulated in f64).
 *
 * @example
 * ```ts
 * tg.cumsum(tg.tensor([1, 2, 3]), 0).toArray(); // → [1, 3, 6]
 * ```
 */
export function cumsum(x: TensorLike, dim: number): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('cumsum', x, (t) => cumsum(t, dim));
  live(x, 'cumsum');
  const d = x.dims, ax = normAxis(dim, d.length, 'cumsum', d);
  return run(Op.CUMSUM, 'cumsum', d, x, null, null, prod(d, 0, ax), d.length ? d[ax] : 1, prod(d, ax + 1, d.length));
}
