// Data movement (core: assembly/ops/shape.ts): reshape and its spellings, permute, expand, cat and
// stack, narrow, and the index ops.
import { core } from '../core';
import { tensor } from './creation';
import { Op } from '../opcodes';
import { fmt, numel, sameShape, checkShape, normAxis, prod, show, checkInt, INT_MAX } from '../shape';
import {
  Tensor, type TensorLike, type NestedArray, type Index, live, fail, newTensor, run, runView, asTensor,
  withTensors, viaTensor,
} from '../tensor';

/**
 * The same values in a new shape; one size may be −1 (inferred). `name` is the op named in messages.
 * A view: it shares x's buffer (a write to either is seen by the other), as PyTorch's view does;
 * only a 0-d tensor, a 0-d or 7-d result, or an empty one is copied.
 * @example
 * ```ts
 * tg.reshape(tg.arange(6), [2, -1]).toArray(); // → [[0, 1, 2], [3, 4, 5]]
 * ```
 */
export function reshape(x: TensorLike, shape: number[], name = 'reshape'): Tensor {
  if (!(x instanceof Tensor)) return viaTensor(name, x, (t) => reshape(t, shape, name));
  const a = x;
  live(a, name);
  if (!Array.isArray(shape)) throw new Error(`${name}: shape must be an array of integers, got ${show(shape)}`);
  const free = shape.filter((d) => d === -1).length;
  if (free > 1) throw new Error(`${name}: only one dim can be -1, got shape ${fmt(shape)}`);
  const target = checkShape(shape.map((d) => (d === -1 ? 0 : d)), name);
  const known = numel(target.filter((_, i) => shape[i] !== -1));
  if (free === 1) {
    const i = shape.indexOf(-1);
    if (known === 0 || a.size % known !== 0) throw new Error(`${name}: shape ${fmt(shape)} is invalid for a tensor of shape ${fmt(a.dims)} (${a.size} elements)`);
    target[i] = a.size / known;
  }
  if (numel(target) !== a.size) throw new Error(`${name}: shape ${fmt(shape)} is invalid for a tensor of shape ${fmt(a.dims)} (${a.size} elements)`);
  return runView(Op.RESHAPE, name, target, a);
}

/**
 * Merges dims startDim..endDim into one (all by default).
 * @example
 * ```ts
 * tg.flatten(tg.zeros([2, 3, 4]), 1).shape; // → [2, 12]
 * ```
 */
export function flatten(x: TensorLike, startDim = 0, endDim = -1): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('flatten', x, (t) => flatten(t, startDim, endDim));
  const a = x;
  live(a, 'flatten');
  if (a.dims.length === 0) return reshape(a, [1], 'flatten');
  const s = normAxis(startDim, a.dims.length, 'flatten', a.dims), e = normAxis(endDim, a.dims.length, 'flatten', a.dims);
  if (s > e) throw new Error(`flatten: startDim ${startDim} comes after endDim ${endDim} for shape ${fmt(a.dims)}`);
  return reshape(a, [...a.dims.slice(0, s), prod(a.dims, s, e + 1), ...a.dims.slice(e + 1)], 'flatten');
}

/**
 * Removes size-1 dims: every one, or only `dim`.
 * @example
 * ```ts
 * tg.squeeze(tg.zeros([1, 3, 1])).shape; // → [3]
 * ```
 */
export function squeeze(x: TensorLike, dim?: number): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('squeeze', x, (t) => squeeze(t, dim));
  const a = x;
  live(a, 'squeeze');
  if (dim === undefined) return reshape(a, a.dims.filter((d) => d !== 1), 'squeeze');
  const ax = normAxis(dim, a.dims.length, 'squeeze', a.dims);
  return reshape(a, a.dims.filter((d, i) => i !== ax || d !== 1), 'squeeze');
}

/**
 * Inserts a size-1 dim at `dim`.
 * @example
 * ```ts
 * tg.unsqueeze(tg.zeros([3]), 0).shape; // → [1, 3]
 * ```
 */
export function unsqueeze(x: TensorLike, dim: number): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('unsqueeze', x, (t) => unsqueeze(t, dim));
  const a = x;
  live(a, 'unsqueeze');
  const ax = normAxis(dim, a.dims.length + 1, 'unsqueeze', a.dims);
  return reshape(a, [...a.dims.slice(0, ax), 1, ...a.dims.slice(ax)], 'unsqueeze');
}

/**
 * Reorders the dims (`name` is the op named in messages).
 * @example
 * ```ts
 * tg.permute(tg.zeros([2, 3, 4]), [2, 0, 1]).shape; // → [4, 2, 3]
 * ```
 */
export function permute(x: TensorLike, dims: number[], name = 'permute'): Tensor {
  if (!(x instanceof Tensor)) return viaTensor(name, x, (t) => permute(t, dims, name));
  const a = x;
  live(a, name);
  const rank = a.dims.length;
  if (!Array.isArray(dims) || dims.length !== rank) {
    throw new Error(`${name}: dims ${fmt(dims)} must list each of the ${rank} dims of shape ${fmt(a.dims)} once`);
  }
  const perm = dims.map((d) => normAxis(d, rank, name, a.dims));
  if (new Set(perm).size !== rank) throw new Error(`${name}: dims ${fmt(dims)} repeat a dim of shape ${fmt(a.dims)}`);
  let packed = 0;
  perm.forEach((p, i) => { packed |= p << (4 * i); });
  return run(Op.PERMUTE, name, perm.map((p) => a.dims[p]), a, null, null, packed);
}

/**
 * Swaps dims dim0 and dim1.
 * @example
 * ```ts
 * tg.transpose(tg.tensor([[1, 2, 3]]), 0, 1).toArray(); // → [[1], [2], [3]]
 * ```
 */
export function transpose(x: TensorLike, dim0: number, dim1: number): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('transpose', x, (t) => transpose(t, dim0, dim1));
  const a = x;
  live(a, 'transpose');
  const rank = a.dims.length;
  const d0 = normAxis(dim0, rank, 'transpose', a.dims), d1 = normAxis(dim1, rank, 'transpose', a.dims);
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[d0] = d1; perm[d1] = d0;
  return permute(a, perm, 'transpose');
}

/**
 * Repeats size-1 dims (and new leading ones) up to `shape`; −1 keeps a size.
 * @example
 * ```ts
 * tg.expand(tg.tensor([[1], [2]]), [2, 3]).toArray(); // → [[1, 1, 1], [2, 2, 2]]
 * ```
 */
export function expand(x: TensorLike, shape: number[]): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('expand', x, (t) => expand(t, shape));
  const a = x;
  live(a, 'expand');
  if (!Array.isArray(shape) || shape.length < a.dims.length) {
    throw new Error(`expand: shape ${fmt(shape)} must have at least the ${a.dims.length} dims of ${fmt(a.dims)}`);
  }
  const lead = shape.length - a.dims.length;
  const target = shape.map((d, i) => {
    const own = i < lead ? -1 : a.dims[i - lead];
    if (d === -1) {
      if (i < lead) throw new Error(`expand: -1 is not allowed for the new leading dim ${i} in ${fmt(shape)}`);
      return own;
    }
    if (!Number.isInteger(d) || d < 0 || (i >= lead && own !== 1 && own !== d)) {
      throw new Error(`expand: cannot expand shape ${fmt(a.dims)} to ${fmt(shape)} (dim ${i})`);
    }
    return d;
  });
  return run(Op.EXPAND, 'expand', checkShape(target, 'expand'), a, null, null);
}

/** fn on the list's items as tensors; items made from arrays are released afterwards. */
function withTensorList<R>(tensors: unknown, op: string, fn: (parts: Tensor[]) => R): R {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new Error(`${op}: expected a non-empty array of tensors, got ${show(tensors)}`);
  return withTensors(op, tensors, fn, tensors.map((_, i) => `tensors[${i}]`));
}

/** Writes each input into its slice of a new output, one CAT_PART record per input. */
function joinParts(name: string, shape: number[], parts: Tensor[], outer: number, rowOut: number, rowOf: (t: Tensor) => number): Tensor {
  const out = newTensor(shape, name);
  let offset = 0;
  for (const t of parts) {
    const row = rowOf(t);
    const status = core.runOpInto(Op.CAT_PART, out.id, t.id, -1, -1, outer, rowOut, row, offset, 0, 0, 0);
    if (status < 0) { out.dispose(); fail(status, name); }
    offset += row;
  }
  return out;
}

/**
 * Joins tensors along an existing dim.
 * @example
 * ```ts
 * tg.cat([tg.ones([2, 1]), tg.zeros([2, 2])], 1).toArray(); // → [[1, 0, 0], [1, 0, 0]]
 * ```
 */
export function cat(tensors: Tensor[], dim = 0): Tensor {
  return withTensorList(tensors, 'cat', (parts) => catOf(parts, dim));
}

function catOf(parts: Tensor[], dim: number): Tensor {
  const first = parts[0].dims;
  if (first.length === 0) throw new Error('cat: zero-dimensional tensors cannot be concatenated');
  const ax = normAxis(dim, first.length, 'cat', first);
  for (const t of parts) {
    if (t.dims.length !== first.length || t.dims.some((d, i) => i !== ax && d !== first[i])) {
      throw new Error(`cat: shapes ${fmt(first)} and ${fmt(t.dims)} differ outside dim ${ax}`);
    }
  }
  const shape = first.slice();
  shape[ax] = parts.reduce((s, t) => s + t.dims[ax], 0);
  const inner = prod(first, ax + 1, first.length);
  return joinParts('cat', checkShape(shape, 'cat'), parts, prod(first, 0, ax), shape[ax] * inner, (t) => t.dims[ax] * inner);
}

/**
 * Joins same-shape tensors along a new dim.
 * @example
 * ```ts
 * tg.stack([tg.ones([3]), tg.zeros([3])]).shape; // → [2, 3]
 * ```
 */
export function stack(tensors: Tensor[], dim = 0): Tensor {
  return withTensorList(tensors, 'stack', (parts) => stackOf(parts, dim));
}

function stackOf(parts: Tensor[], dim: number): Tensor {
  const first = parts[0].dims;
  for (const t of parts) {
    if (!sameShape(t.dims, first)) throw new Error(`stack: all tensors must have the same shape, got ${fmt(first)} and ${fmt(t.dims)}`);
  }
  const ax = normAxis(dim, first.length + 1, 'stack', first);
  const shape = [...first.slice(0, ax), parts.length, ...first.slice(ax)];
  const inner = prod(first, ax, first.length);
  return joinParts('stack', checkShape(shape, 'stack'), parts, prod(first, 0, ax), parts.length * inner, () => inner);
}

/**
 * The slice start..start+length−1 of dim `dim`: a view of x when it is a run of x's elements (every
 * dim before `dim` is 1), else a copy.
 * @example
 * ```ts
 * tg.narrow(tg.arange(5), 0, 1, 3).toArray(); // → [1, 2, 3]
 * ```
 */
export function narrow(x: TensorLike, dim: number, start: number, length: number): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('narrow', x, (t) => narrow(t, dim, start, length));
  const a = x;
  live(a, 'narrow');
  if (a.dims.length === 0) throw new Error('narrow: cannot narrow a 0-d tensor');
  const ax = normAxis(dim, a.dims.length, 'narrow', a.dims);
  const n = a.dims[ax];
  checkInt(start, 'start', 'narrow', -INT_MAX);
  checkInt(length, 'length', 'narrow', 0);
  if (start < -n || start > n) throw new Error(`narrow: start ${start} is out of range for dim ${ax} of shape ${fmt(a.dims)}`);
  const s = start < 0 ? start + n : start;
  if (s + length > n) {
    throw new Error(`narrow: start ${start} + length ${length} exceeds dim ${ax} of size ${n} in shape ${fmt(a.dims)}`);
  }
  const inner = prod(a.dims, ax + 1, a.dims.length);
  const shape = a.dims.slice();
  shape[ax] = length;
  return runView(Op.NARROW, 'narrow', shape, a, prod(a.dims, 0, ax), n * inner, length * inner, s * inner);
}

/**
 * An index argument as a tensor, and whether we made it (to release). Plain indices are checked
 * here, where they are, before they are copied into the arena; a tensor's values (and nested
 * arrays, once flattened) are checked by the kernel that reads them, which it does anyway.
 */
export function indexTensor(index: unknown, bound: number, op: string, what = 'index'): { t: Tensor; owned: boolean } {
  if (index instanceof Int32Array || (Array.isArray(index) && (index.length === 0 || typeof index[0] === 'number'))) {
    checkIndices(index as ArrayLike<number>, bound, op, what);
    return { t: tensor(index instanceof Int32Array ? Float32Array.from(index) : (index as number[]), undefined, op), owned: true };
  }
  if (Array.isArray(index)) return { t: tensor(index as NestedArray, undefined, op), owned: true }; // nested (gather)
  if (!(index instanceof Tensor)) throw new Error(`${op}: ${what === 'index' ? 'index' : `${what}s`} must be a Tensor, number[] or Int32Array, got ${show(index)}`);
  return { t: asTensor(index, op), owned: false };
}

/** `what` names a value in messages: 'index', or 'label' for the losses (as their kernels say). */
function checkIndices(values: ArrayLike<number>, bound: number, op: string, what: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v)) throw new Error(`${op}: ${what} ${show(v)} at position ${i} is not an integer`);
    if (v < 0 || v >= bound) throw new Error(`${op}: ${what} ${v} at position ${i} is out of range [0, ${bound})`);
  }
}

/** What indexSelect and gather share: the axis, its extent R, and the index as a tensor checked against R. */
function indexAlong(a: Tensor, dim: number, index: unknown, op: string): { ax: number; R: number; t: Tensor; owned: boolean } {
  live(a, op);
  const ax = normAxis(dim, a.dims.length, op, a.dims);
  const R = a.dims.length ? a.dims[ax] : 1;
  return { ax, R, ...indexTensor(index, R, op) };
}

/**
 * The entries at `index` (integers) along `dim`, as torch.index_select.
 * @example
 * ```ts
 * tg.indexSelect(tg.tensor([[1, 2], [3, 4], [5, 6]]), 0, [2, 0]).toArray(); // → [[5, 6], [1, 2]]
 * ```
 */
export function indexSelect(x: TensorLike, dim: number, index: Index): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('indexSelect', x, (t) => indexSelect(t, dim, index));
  const a = x;
  const { ax, R, t, owned } = indexAlong(a, dim, index, 'indexSelect');
  try {
    if (t.dims.length > 1) throw new Error(`indexSelect: index must be 1-D, got shape ${fmt(t.dims)}`);
    const count = t.size;
    const shape = a.dims.length ? a.dims.slice() : [];
    if (shape.length) shape[ax] = count;
    return run(Op.INDEX_SELECT, 'indexSelect', shape, a, null, t, prod(a.dims, 0, ax), R, prod(a.dims, ax + 1, a.dims.length), count);
  } finally {
    if (owned) t.dispose(); // the tape record keeps the index node alive while it needs it
  }
}

/**
 * Along `dim`, the element at each position of `index` (same rank as x), as torch.gather.
 * @example
 * ```ts
 * tg.gather(tg.tensor([[1, 2], [3, 4]]), 1, [[1], [0]]).toArray(); // → [[2], [3]]
 * ```
 */
export function gather(x: TensorLike, dim: number, index: Tensor | NestedArray): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('gather', x, (t) => gather(t, dim, index));
  const a = x;
  const { ax, R, t, owned } = indexAlong(a, dim, index, 'gather');
  try {
    if (t.dims.length !== a.dims.length || t.dims.some((d, i) => i !== ax && d > a.dims[i])) {
      throw new Error(`gather: index of shape ${fmt(t.dims)} does not fit input of shape ${fmt(a.dims)} along dim ${ax}`);
    }
    return run(Op.GATHER, 'gather', t.dims, a, null, t, ax);
  } finally {
    if (owned) t.dispose();
  }
}

// ── split, chunk, unbind, clone ─────────────────────────────────────────────────────────────────
// Each piece is one NARROW: a view of the input (its buffer shared, nothing copied) when its
// elements are a run of the input's, i.e. along the first dim that is not 1; else a copy, since the
// core has no strided views. So copy_ into a piece along dim 0 writes the input, as in PyTorch,
// and into a piece along a later dim does not (in PyTorch it would write through).

/** The pieces of `a` along dim `ax` with the given sizes; `drop` removes the dim (unbind). */
function pieces(a: Tensor, name: string, ax: number, sizes: number[], drop = false): Tensor[] {
  const d = a.dims, outer = prod(d, 0, ax), inner = prod(d, ax + 1, d.length), row = d[ax] * inner;
  const out: Tensor[] = [];
  let start = 0;
  try {
    for (const len of sizes) {
      const shape = d.slice();
      shape.splice(ax, 1, ...(drop ? [] : [len]));
      out.push(runView(Op.NARROW, name, shape, a, outer, row, len * inner, start * inner));
      start += len;
    }
    return out;
  } catch (err) {
    for (const t of out) t.dispose(); // out of memory part-way: nothing made stays
    throw err;
  }
}

/** The dim a split-like op works on: 0-d tensors have none to split. */
function splitAxis(a: Tensor, dim: number, name: string): number {
  live(a, name);
  if (a.dims.length === 0) throw new Error(`${name}: cannot split a 0-d tensor`);
  return normAxis(dim, a.dims.length, name, a.dims);
}

/** The sizes of `count` pieces; at most 2²⁴ of them (each is a tensor; an empty tensor can have a dim that long). */
function pieceSizes(count: number, size: (i: number) => number, name: string): number[] {
  if (count > 2 ** 24) throw new Error(`${name}: ${count} pieces are more tensors than can be made (at most ${2 ** 24})`);
  return Array.from({ length: count }, (_, i) => size(i));
}

/** n split into pieces of `size` (the last one smaller), at least one piece. */
const evenSizes = (n: number, size: number, name: string): number[] =>
  pieceSizes(Math.max(1, Math.ceil(n / size)), (i) => Math.min(size, n - i * size), name);

/**
 * Splits along `dim` into pieces of splitSizeOrSections elements (the last one smaller), or of the
 * listed sizes, which must add up to the dim's size. Pieces along the first dim are views (see above).
 *
 * @example
 * ```ts
 * tg.split(tg.arange(5), 2).map((t) => t.toArray()); // → [[0, 1], [2, 3], [4]]
 * tg.split(tg.arange(5), [1, 4]).map((t) => t.shape); // → [[1], [4]]
 * ```
 */
export function split(x: TensorLike, splitSizeOrSections: number | number[], dim = 0): Tensor[] {
  if (!(x instanceof Tensor)) return viaTensor('split', x, (t) => split(t, splitSizeOrSections, dim));
  const ax = splitAxis(x, dim, 'split'), n = x.dims[ax];
  if (Array.isArray(splitSizeOrSections)) {
    const sizes = splitSizeOrSections.map((s, i) => checkInt(s, `splitSizeOrSections[${i}]`, 'split', 0));
    const total = sizes.reduce((p, q) => p + q, 0);
    if (total !== n) throw new Error(`split: sizes ${fmt(sizes)} add up to ${total}, but dim ${ax} of shape ${fmt(x.dims)} has ${n}`);
    return pieces(x, 'split', ax, sizes);
  }
  const size = checkInt(splitSizeOrSections, 'splitSizeOrSections', 'split', 0);
  if (size === 0 && n > 0) throw new Error(`split: splitSizeOrSections can be 0 only for an empty dim, but dim ${ax} of shape ${fmt(x.dims)} has ${n}`);
  return pieces(x, 'split', ax, size === 0 ? [0] : evenSizes(n, size, 'split'));
}

/**
 * Splits along `dim` into `chunks` pieces of ceil(n / chunks) (fewer pieces when they run out), as PyTorch.
 *
 * @example
 * ```ts
 * tg.chunk(tg.arange(6), 3).map((t) => t.toArray()); // → [[0, 1], [2, 3], [4, 5]]
 * ```
 */
export function chunk(x: TensorLike, chunks: number, dim = 0): Tensor[] {
  if (!(x instanceof Tensor)) return viaTensor('chunk', x, (t) => chunk(t, chunks, dim));
  const ax = splitAxis(x, dim, 'chunk'), n = x.dims[ax];
  checkInt(chunks, 'chunks', 'chunk', 1);
  const size = Math.ceil(n / chunks);
  return pieces(x, 'chunk', ax, size === 0 ? pieceSizes(chunks, () => 0, 'chunk') : evenSizes(n, size, 'chunk'));
}

/**
 * The slices along `dim`, each without that dim (views along the first dim, see above).
 *
 * @example
 * ```ts
 * tg.unbind(tg.tensor([[1, 2], [3, 4]]), 1).map((t) => t.toArray()); // → [[1, 3], [2, 4]]
 * ```
 */
export function unbind(x: TensorLike, dim = 0): Tensor[] {
  if (!(x instanceof Tensor)) return viaTensor('unbind', x, (t) => unbind(t, dim));
  const ax = splitAxis(x, dim, 'unbind');
  return pieces(x, 'unbind', ax, pieceSizes(x.dims[ax], () => 1, 'unbind'), true);
}

/**
 * A copy that stays in the graph: the gradient passes through to x.
 *
 * @example
 * ```ts
 * const x = tg.ones([2], { requiresGrad: true });
 * tg.clone(x).sum().backward();
 * x.grad!.toArray(); // → [1, 1]
 * ```
 */
export function clone(x: TensorLike): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('clone', x, (t) => clone(t));
  live(x, 'clone');
  return run(Op.RESHAPE, 'clone', x.dims, x, null, null);
}
