// Shape arithmetic and argument checks shared by every op. Pure JavaScript on small arrays.
import { MAX_RANK } from './core';

export type Shape = readonly number[];

/** A shape (or any list the user gave as one) for a message; never throws, whatever it holds. */
export const fmt = (shape: Shape): string =>
  Array.isArray(shape) ? `[${shape.map((d) => (typeof d === 'number' ? String(d) : show(d))).join(',')}]` : show(shape);

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
/** The largest value an i32 argument of the core can carry: every size, dim and count is one. */
export const INT_MAX = 2 ** 31 - 1;

// A float the core reads from an integer attribute travels as its f32 bits.
const f32 = new Float32Array(1), f32AsInt = new Int32Array(f32.buffer);
/** v's float32 bits, as an integer attribute carries them. */
export const f32Bits = (v: number): number => { f32[0] = v; return f32AsInt[0]; };
/** The float32 whose bits an integer attribute holds. */
export const bitsF32 = (bits: number): number => { f32AsInt[0] = bits; return f32[0]; };

// ── argument checks ────────────────────────────────────────────────────────────────────────────
// Every public function checks its arguments with these, so each error is an Error that names the
// op and the argument, and no value reaches the core that it would wrap or misread.

let showTensor: (x: unknown) => string | null = () => null;
/** tensor.ts registers how a Tensor is shown (shape.ts cannot import it). */
export function setShowTensor(fn: (x: unknown) => string | null): void {
  showTensor = fn;
}

/** Any value, briefly, for a message: never throws (Symbols, revoked proxies, getters included). */
export function show(x: unknown): string {
  try {
    switch (typeof x) {
      case 'number': return String(x);
      case 'string': return `the string ${JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x)}`;
      case 'undefined': return 'undefined';
      case 'boolean': return String(x);
      case 'bigint': return `the bigint ${String(x)}n`;
      case 'symbol': return 'a Symbol';
      case 'function': return 'a function';
      default: break;
    }
    if (x === null) return 'null';
    const t = showTensor(x);
    if (t !== null) return t;
    if (Array.isArray(x)) {
      return x.length <= 8 && x.every((v) => typeof v === 'number') ? `[${x.join(',')}]` : `an array of length ${x.length}`;
    }
    const proto = Object.getPrototypeOf(x);
    if (proto === null || Object.getPrototypeOf(proto) === null) return 'an object';
    // the bundle is minified: nn layers declare their PyTorch name in a static typeName
    const ctor = hasOwn(proto, 'constructor') ? (proto.constructor as { name?: unknown; typeName?: unknown }) : undefined;
    const name = typeof ctor?.typeName === 'string' ? ctor.typeName : ctor?.name;
    return typeof name === 'string' && name ? `a ${name}` : 'an object';
  } catch {
    return 'a value that cannot be shown';
  }
}

/**
 * An integer in [min, max] (max at most INT_MAX), or an Error naming the op and the argument:
 * "not an integer" for 1.5, NaN, Infinity or a non-number, "out of range" for an integer outside.
 */
export function checkInt(value: unknown, name: string, op: string, min: number, max = INT_MAX): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new Error(`${op}: ${name} must be an integer, got ${show(value)}`);
  }
  if (value < min || value > max) {
    throw new Error(`${op}: ${name} ${value} is out of range (expected an integer in [${min}, ${max}])`);
  }
  return value;
}

/** A finite number in [min, max], or an Error naming the op and the argument. */
export function checkNumber(value: unknown, name: string, op: string, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number' || !(value >= min && value <= max) || !Number.isFinite(value)) {
    const range = min === -Infinity && max === Infinity ? 'a finite number' : `a number in [${min}, ${max}]`;
    throw new Error(`${op}: ${name} must be ${range}, got ${show(value)}`);
  }
  return value;
}

/** true or false, or an Error naming the op and the argument. */
export function checkBool(value: unknown, name: string, op: string): boolean {
  if (typeof value !== 'boolean') throw new Error(`${op}: ${name} must be true or false, got ${show(value)}`);
  return value;
}

/** Checks one option's value and returns it (normalised); throws an Error naming op and name. */
export type Check<T> = (value: unknown, name: string, op: string) => T;

/** One of a fixed list of strings, compared by value (never looked up as a property). */
export function oneOf<const L extends readonly string[]>(list: L): Check<L[number]> {
  return (value, name, op) => {
    if (typeof value !== 'string' || !list.includes(value)) {
      throw new Error(`${op}: ${name} must be ${list.map((v) => `'${v}'`).join(', ')}, got ${show(value)}`);
    }
    return value as L[number];
  };
}

export const intAtLeast = (min: number, max = INT_MAX): Check<number> => (v, name, op) => checkInt(v, name, op, min, max);
export const numberIn = (min = -Infinity, max = Infinity): Check<number> => (v, name, op) => checkNumber(v, name, op, min, max);
export const bool: Check<boolean> = checkBool;

/** An integer ≥ min or a pair [h, w] of them (conv and pool sizes). */
export function checkPair(value: unknown, name: string, op: string, min: number): [number, number] {
  const v = typeof value === 'number' ? [value, value] : value;
  if (!Array.isArray(v) || v.length !== 2) {
    throw new Error(`${op}: ${name} must be an integer ≥ ${min} or a pair [h, w] of them, got ${show(value)}`);
  }
  const [h, w] = v;
  const ok = (d: unknown): boolean => typeof d === 'number' && Number.isInteger(d) && d >= min && d <= INT_MAX;
  if (ok(h) && ok(w)) return [h, w]; // no message is built unless one is needed
  const one = Array.isArray(value);
  return [checkInt(h, one ? `${name}[0]` : name, op, min), checkInt(w, one ? `${name}[1]` : name, op, min)];
}
export const pairAtLeast = (min: number): Check<[number, number]> => (v, name, op) => checkPair(v, name, op, min);

/** Whether `key` is o's own property (never one it inherits, such as 'toString' or '__proto__'). */
export const hasOwn = (o: object, key: PropertyKey): boolean => Object.prototype.hasOwnProperty.call(o, key);

/** A plain object: `{...}` or Object.create(null), from any realm; not an array, class instance or Map. */
function isPlainObject(x: unknown): x is object {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

/** A dict from names to values with no prototype: every name, "__proto__" included, is plain data. */
export function nameDict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

export type Options<S> = { [K in keyof S]?: S[K] extends Check<infer T> ? T : never };
// An ordinary object (fast to read from): no spec key is the name of an Object.prototype member.
const NO_OPTIONS = Object.freeze({}) as Record<string, never>;

/**
 * The one way an options object is read. `undefined` means no options. Anything else must be a
 * plain object whose every key is in `spec` (an unknown or misspelled key is an Error listing the
 * accepted ones, as PyTorch rejects an unexpected keyword); values are read as own properties only
 * ('toString', '__proto__' and 'constructor' are never options), once each, and checked by the
 * key's Check. A key whose value is undefined counts as omitted. Returns the checked values in a
 * null-prototype object, so `o.key ?? default` on the result is safe.
 */
export function readOptions<S extends Record<string, Check<unknown>>>(options: unknown, spec: S, op: string): Options<S> {
  if (options === undefined) return NO_OPTIONS; // the hot path: nothing to read
  const out = Object.create(null) as Options<S>;
  const accepted = Object.keys(spec);
  const list = (): string => (accepted.length ? `accepted: ${accepted.join(', ')}` : `${op} takes no options`);
  if (!isPlainObject(options)) {
    throw new Error(`${op}: options must be a plain object (${list()}), got ${show(options)}`);
  }
  for (const key of Reflect.ownKeys(options)) {
    if (typeof key !== 'string' || !hasOwn(spec, key)) {
      throw new Error(`${op}: unknown option ${typeof key === 'string' ? JSON.stringify(key) : String(key)} (${list()})`);
    }
  }
  for (const key of accepted) {
    if (!hasOwn(options, key)) continue;
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined) (out as Record<string, unknown>)[key] = spec[key](value, key, op);
  }
  return out;
}

/** Checks a user-given shape: integers in [0, 2³¹), rank ≤ 7, and small enough to allocate. */
export function checkShape(shape: unknown, op: string): number[] {
  if (!Array.isArray(shape)) throw new Error(`${op}: shape must be an array of integers, got ${show(shape)}`);
  if (shape.length > MAX_RANK) throw new Error(`${op}: shape ${fmt(shape)} has ${shape.length} dims; at most ${MAX_RANK} are supported`);
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > INT_MAX) {
      throw new Error(`${op}: shape ${fmt(shape)} has an invalid size ${show(d)} (sizes must be integers in [0, ${INT_MAX}])`);
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
  if (typeof dim !== 'number' || !Number.isInteger(dim)) throw new Error(`${op}: dim must be an integer, got ${show(dim)}`);
  if (dim < -r || dim >= r) {
    throw new Error(`${op}: dim ${dim} is out of range for shape ${fmt(shape)} (expected an integer in [${-r}, ${r - 1}])`);
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
