// Creating tensors: from numbers and nested arrays, filled (zeros, ones, full), ranges, and the
// seeded generator (rand, randn).
import { core, issue, heapF32, MAX_RANK } from '../core';
import { Cmd } from '../opcodes';
import {
  fmt, numel, checkShape, checkBytes, dimsArg, show, checkInt, checkNumber, readOptions, bool,
  INT_MAX,
} from '../shape';
import { Tensor, type NestedArray, newTensor } from '../tensor';

/**
 * Options of the creation functions.
 * @property requiresGrad - record operations on the tensor for backward (default false)
 */
export interface CreateOptions { requiresGrad?: boolean }
/**
 * Options of {@link tensor}.
 * @property shape - the shape of flat data (default: inferred from the nesting)
 * @property requiresGrad - record operations on the tensor for backward (default false)
 */
export interface TensorOptions extends CreateOptions { shape?: number[] }

/** Infers the shape of nested arrays and flattens them, or names where they are ragged. */
function flattenNested(data: unknown, op: string): { shape: number[]; values: number[] } {
  // The depth is measured along the first elements and refused past MAX_RANK before any value is
  // read, so nesting of any depth (or a cycle) is an Error here, never a stack overflow later.
  const shape: number[] = [];
  for (let d: unknown = data; Array.isArray(d); d = d[0]) {
    if (shape.length === MAX_RANK) {
      throw new Error(`${op}: nested arrays deeper than ${MAX_RANK} levels (a tensor has at most ${MAX_RANK} dims)`);
    }
    shape.push(d.length);
  }
  const values: number[] = [];
  const walk = (d: unknown, axis: number, path: number[]): void => {
    if (axis === shape.length) {
      if (typeof d !== 'number') throw new Error(`${op}: expected a number at [${path.join('][')}], got ${show(d)}`);
      values.push(d);
      return;
    }
    if (!Array.isArray(d) || d.length !== shape[axis]) {
      throw new Error(`${op}: ragged nested array: expected ${shape[axis]} elements at [${path.join('][')}] (like the first row), got ${Array.isArray(d) ? d.length : show(d)}`);
    }
    for (let i = 0; i < d.length; i++) walk(d[i], axis + 1, [...path, i]);
  };
  walk(data, 0, []);
  return { shape, values };
}

const TENSOR_OPTIONS = { shape: (v: unknown, _name: string, op: string) => checkShape(v, op), requiresGrad: bool };
const CREATE_OPTIONS = { requiresGrad: bool };

/**
 * A tensor from a number, nested arrays, or a flat array / Float32Array with `shape` (`op` names the caller in messages).
 * @example
 * ```ts
 * tg.tensor([[1, 2], [3, 4]]).shape; // → [2, 2]
 * tg.tensor([1, 2, 3, 4], { shape: [2, 2] }).toArray(); // → [[1, 2], [3, 4]]
 * ```
 */
export function tensor(data: number | NestedArray | Float32Array, options?: TensorOptions, op = 'tensor'): Tensor {
  const o = readOptions(options, TENSOR_OPTIONS, op);
  let shape: number[];
  let values: ArrayLike<number>;
  if (typeof data === 'number') {
    shape = []; values = [data];
  } else if (data instanceof Float32Array) {
    shape = [data.length]; values = data;
  } else if (Array.isArray(data)) {
    ({ shape, values } = flattenNested(data, op));
  } else {
    throw new Error(`${op}: expected a number, nested arrays of numbers or a Float32Array, got ${show(data)}`);
  }
  if (o.shape !== undefined) {
    const target = o.shape;
    if (numel(target) !== values.length) {
      throw new Error(`${op}: ${values.length} values cannot fill shape ${fmt(target)} (it needs ${numel(target)})`);
    }
    shape = target;
  }
  const t = newTensor(shape, op);
  heapF32().set(values, core.dataOf(t.id) >>> 2);
  if (o.requiresGrad) core.setRequiresGrad(t.id, 1);
  return t;
}

function creationShape(args: unknown[], op: string): { shape: number[]; options: CreateOptions } {
  // undefined options (zeros(shape, opts) with opts unset) are no options, not a size
  while (args.length > 1 && args[args.length - 1] === undefined) args = args.slice(0, -1);
  const last = args[args.length - 1];
  // a final object (or null) is the options: readOptions rejects it if it is not a plain one
  const hasOptions = args.length > 0 && typeof last === 'object' && !Array.isArray(last);
  const options = readOptions(hasOptions ? last : undefined, CREATE_OPTIONS, op);
  const dims = dimsArg(hasOptions ? args.slice(0, -1) : args);
  return { shape: checkShape(dims, op), options };
}

function filled(op: string, args: unknown[], fill: (t: Tensor) => void): Tensor {
  const { shape, options } = creationShape(args, op);
  const t = newTensor(shape, op);
  fill(t);
  if (options.requiresGrad) core.setRequiresGrad(t.id, 1);
  return t;
}

/**
 * Zeros of a shape given as an array or as sizes: `zeros([2, 3])` or `zeros(2, 3)`, then options.
 * @example
 * ```ts
 * tg.zeros(2, 3).shape; // → [2, 3]
 * ```
 */
export const zeros = (...args: (number | number[] | CreateOptions | undefined)[]): Tensor => filled('zeros', args, (t) => core.fillNode(t.id, 0));
/**
 * Ones, shaped as {@link zeros}.
 * @example
 * ```ts
 * tg.ones([2], { requiresGrad: true }).toArray(); // → [1, 1]
 * ```
 */
export const ones = (...args: (number | number[] | CreateOptions | undefined)[]): Tensor => filled('ones', args, (t) => core.fillNode(t.id, 1));
/**
 * Uniform in [0, 1) from the seeded generator.
 *
 * @example
 * ```ts
 * tg.manualSeed(0);
 * tg.rand([2, 3]).shape; // → [2, 3]
 * ```
 */
export const rand = (...args: (number | number[] | CreateOptions | undefined)[]): Tensor => filled('rand', args, (t) => issue(Cmd.RANDOM, -1, t.id, -1, 0, 0, 0, 0, 0, 0, 1));
/** Standard normal from the seeded generator. */
export const randn = (...args: (number | number[] | CreateOptions | undefined)[]): Tensor => filled('randn', args, (t) => issue(Cmd.RANDOM, -1, t.id, -1, 1, 0, 0, 0, 0, 0, 1));

/**
 * `shape` filled with `value`.
 * @example
 * ```ts
 * tg.full([2], 7).toArray(); // → [7, 7]
 * ```
 */
export function full(shape: number[], value: number, options?: CreateOptions): Tensor {
  if (typeof value !== 'number') throw new Error(`full: value must be a number, got ${show(value)}`);
  if (!Array.isArray(shape) && typeof shape !== 'number') throw new Error(`full: shape must be an array of integers, got ${show(shape)}`);
  return filled('full', [shape, readOptions(options, CREATE_OPTIONS, 'full')], (t) => core.fillNode(t.id, value));
}

/**
 * arange(end) or arange(start, end, step = 1), like PyTorch.
 *
 * @example
 * ```ts
 * tg.arange(3).toArray(); // → [0, 1, 2]
 * tg.arange(1, 7, 2).toArray(); // → [1, 3, 5]
 * ```
 */
export function arange(start: number, end?: number, step = 1, options?: CreateOptions): Tensor {
  readOptions(options, CREATE_OPTIONS, 'arange');
  if (end === undefined) { end = start; start = 0; }
  for (const [name, v] of [['start', start], ['end', end], ['step', step]] as const) checkNumber(v, name, 'arange');
  if (step === 0) throw new Error('arange: step must be nonzero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  checkBytes([n], 'arange');
  if (n > INT_MAX) throw new RangeError(`arange: ${n} elements are more than a tensor can hold`);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = start + i * step;
  return tensor(values, options, 'arange');
}

/**
 * Seeds the generator behind rand and randn; the same seed gives the same numbers everywhere.
 *
 * @example
 * ```ts
 * tg.manualSeed(42);
 * const a = tg.randn([3]).toArray();
 * tg.manualSeed(42);
 * tg.randn([3]).toArray(); // → a
 * ```
 */
export function manualSeed(seed: number): void {
  checkInt(seed, 'seed', 'manualSeed', 0, Number.MAX_SAFE_INTEGER);
  core.seed(seed);
}

/** f32 holds every integer up to 2²⁴ exactly. */
const EXACT = 2 ** 24;

/**
 * Integers in [low, high) (floats holding them; |low|, |high| ≤ 2²⁴) from the seeded generator.
 *
 * @example
 * ```ts
 * tg.randint(3, [100]).max().item() < 3; // → true
 * tg.randint(-5, 5, [2, 3]).shape; // → [2, 3]
 * ```
 */
export function randint(high: number, shape: number[]): Tensor;
export function randint(low: number, high: number, shape: number[]): Tensor;
export function randint(...args: unknown[]): Tensor {
  // PyTorch's randint(low=0, high, size): the shape is always the last argument
  const [low, high, shape] = typeof args[1] === 'number' ? args : [0, ...args];
  checkInt(low, 'low', 'randint', -EXACT, EXACT);
  checkInt(high, 'high', 'randint', -EXACT, EXACT);
  if ((high as number) <= (low as number)) throw new Error(`randint: high ${high as number} must be greater than low ${low as number}`);
  if (!Array.isArray(shape)) throw new Error(`randint: shape must be an array of integers, got ${show(shape)}`);
  return filled('randint', [shape], (t) => issue(Cmd.RANDINT, -1, t.id, -1, 0, 0, 0, 0, 0, low as number, high as number));
}

/**
 * A random permutation of 0..n-1 (n ≤ 2²⁴, floats holding integers) from the seeded generator.
 *
 * @example
 * ```ts
 * tg.randperm(4).sort().values.toArray(); // → [0, 1, 2, 3]
 * ```
 */
export function randperm(n: number): Tensor {
  checkInt(n, 'n', 'randperm', 0, EXACT);
  return filled('randperm', [[n]], (t) => issue(Cmd.RANDINT, -1, t.id, -1, 1));
}
