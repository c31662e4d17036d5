// Shape arithmetic and argument checks shared by every op. Pure JavaScript on small arrays.
import { MAX_RANK } from './core';

export type Shape = readonly number[];

export const fmt = (shape: Shape): string => `[${shape.join(',')}]`;

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const MAX_BYTES = 2 ** 31;

/** Checks a user-given shape: integers ≥ 0, rank ≤ 7, and small enough to allocate. */
export function checkShape(shape: unknown, op: string): number[] {
  if (!Array.isArray(shape)) throw new Error(`${op}: shape must be an array of integers, got ${String(shape)}`);
  if (shape.length > MAX_RANK) throw new Error(`${op}: shape ${fmt(shape)} has ${shape.length} dims; at most ${MAX_RANK} are supported`);
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new Error(`${op}: shape ${fmt(shape)} has an invalid size ${String(d)} (sizes must be integers ≥ 0)`);
    }
  }
  checkBytes(shape, op);
  return shape.slice();
}

/** Throws a RangeError naming the size when a tensor of `shape` cannot fit in 32-bit memory. */
export function checkBytes(shape: Shape, op: string): void {
  const bytes = numel(shape) * 4;
  if (bytes > MAX_BYTES) {
    throw new RangeError(`${op}: a tensor of shape ${fmt(shape)} needs ${bytes} bytes, more than WebAssembly memory can hold (${MAX_BYTES} bytes)`);
  }
}

/** Normalises an axis (negative counts from the end) or throws naming the op and shape. */
export function normAxis(dim: unknown, rank: number, op: string, shape: Shape): number {
  const r = Math.max(rank, 1); // a 0-d tensor accepts dim 0 and -1, like PyTorch
  if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < -r || dim >= r) {
    throw new Error(`${op}: dim ${String(dim)} is out of range for shape ${fmt(shape)} (expected an integer in [${-r}, ${r - 1}])`);
  }
  return dim < 0 ? dim + r : dim;
}

/** NumPy broadcasting of two shapes, or an error naming both. */
export function broadcastShape(a: Shape, b: Shape, op: string): Shape {
  if (sameShape(a, b)) return a;
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
    const db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${fmt(a)} and ${fmt(b)} cannot be broadcast (dim ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

export const prod = (shape: Shape, from: number, to: number): number => {
  let n = 1;
  for (let i = from; i < to; i++) n *= shape[i];
  return n;
};

/** Dims from varargs or one array argument: f(2, 3) and f([2, 3]) both give [2, 3]. */
export function dimsArg(args: unknown[]): unknown[] {
  return args.length === 1 && Array.isArray(args[0]) ? args[0] : args;
}
