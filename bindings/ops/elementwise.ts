// Elementwise ops (core: assembly/ops/elementwise.ts): binary ones broadcast, and a plain number
// operand rides in the op's record instead of becoming a tensor.
import { Op } from '../opcodes';
import { broadcastShape, checkNumber, readOptions, oneOf, numberIn, show, f32Bits } from '../shape';
import { Tensor, type TensorLike, live, run, runScalar, asTensor, dropTemporary } from '../tensor';

function binary(op: Op, name: string, x: TensorLike, y: TensorLike): Tensor {
  // scalar graphs: nothing to broadcast or release (the rank is tested here first, so that other
  // tensors' ops do not pay for the call)
  const scalar = x instanceof Tensor ? (x.dims.length === 0 ? runScalar(op, x, y, 0, name) : null)
    : typeof x === 'number' && y instanceof Tensor && y.dims.length === 0 ? runScalar(op, y, x, 1, name) : null;
  if (scalar) return scalar;
  // A plain number rides in the record (i0 = 1 when it is the left operand): no tensor is made.
  if (typeof y === 'number' && x instanceof Tensor) {
    live(x, name);
    return run(op, name, x.dims, x, null, null, 0, 0, 0, 0, 0, 0, y);
  }
  if (typeof x === 'number' && y instanceof Tensor) {
    live(y, name);
    return run(op, name, y.dims, y, null, null, 1, 0, 0, 0, 0, 0, x);
  }
  const a = asTensor(x, name, 'input');
  let b: Tensor | undefined;
  try {
    b = asTensor(y, name, 'other');
    return run(op, name, broadcastShape(a.dims, b.dims, name), a, b, null);
  } finally {
    dropTemporary(a, x);
    if (b !== undefined) dropTemporary(b, y);
  }
}

/**
 * a + b, broadcasting like NumPy; either may be a plain number.
 * @example
 * ```ts
 * tg.add(tg.tensor([[1], [2]]), tg.tensor([10, 20])).toArray(); // → [[11, 21], [12, 22]]
 * ```
 */
export const add = (a: TensorLike, b: TensorLike): Tensor => binary(Op.ADD, 'add', a, b);
/**
 * a − b, broadcasting.
 * @example
 * ```ts
 * tg.sub(tg.tensor([5, 6]), 1).toArray(); // → [4, 5]
 * ```
 */
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary(Op.SUB, 'sub', a, b);
/**
 * a · b elementwise, broadcasting.
 * @example
 * ```ts
 * tg.mul(tg.tensor([1, 2]), tg.tensor([3, 4])).toArray(); // → [3, 8]
 * ```
 */
export const mul = (a: TensorLike, b: TensorLike): Tensor => binary(Op.MUL, 'mul', a, b);
/**
 * a / b, broadcasting.
 * @example
 * ```ts
 * tg.div(tg.tensor([1, 2]), 4).toArray(); // → [0.25, 0.5]
 * ```
 */
export const div = (a: TensorLike, b: TensorLike): Tensor => binary(Op.DIV, 'div', a, b);
/**
 * a raised to b, broadcasting.
 * @example
 * ```ts
 * tg.pow(tg.tensor([2, 3]), 2).toArray(); // → [4, 9]
 * ```
 */
export const pow = (a: TensorLike, b: TensorLike): Tensor => binary(Op.POW, 'pow', a, b);
/**
 * The larger of a and b elementwise (NaN if either is), broadcasting.
 * @example
 * ```ts
 * tg.maximum(tg.tensor([1, 5]), 3).toArray(); // → [3, 5]
 * ```
 */
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binary(Op.MAXIMUM, 'maximum', a, b);
/**
 * The smaller of a and b elementwise (NaN if either is), broadcasting.
 * @example
 * ```ts
 * tg.minimum(tg.tensor([1, 5]), 3).toArray(); // → [1, 3]
 * ```
 */
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binary(Op.MINIMUM, 'minimum', a, b);

function unary(op: Op, name: string, x: TensorLike, f0 = 0, i0 = 0): Tensor {
  if (x instanceof Tensor && x.dims.length === 0) return runScalar(op, x, f0, i0, name) as Tensor; // a 0-d tensor and a number: never null
  const a = asTensor(x, name);
  try {
    return run(op, name, a.dims, a, null, null, i0, 0, 0, 0, 0, 0, f0);
  } finally {
    dropTemporary(a, x);
  }
}

/**
 * −x.
 * @example
 * ```ts
 * tg.neg(tg.tensor([1, -2])).toArray(); // → [-1, 2]
 * ```
 */
export const neg = (a: TensorLike): Tensor => unary(Op.NEG, 'neg', a);
/** |x|. */
export const abs = (a: TensorLike): Tensor => unary(Op.ABS, 'abs', a);
/**
 * eˣ.
 * @example
 * ```ts
 * tg.exp(tg.tensor([0, 1])).toArray(); // → [1, Math.E]
 * ```
 */
export const exp = (a: TensorLike): Tensor => unary(Op.EXP, 'exp', a);
/** Natural logarithm. */
export const log = (a: TensorLike): Tensor => unary(Op.LOG, 'log', a);
/** √x. */
export const sqrt = (a: TensorLike): Tensor => unary(Op.SQRT, 'sqrt', a);
/** Hyperbolic tangent. */
export const tanh = (a: TensorLike): Tensor => unary(Op.TANH, 'tanh', a);
/**
 * 1 / (1 + e^−x).
 * @example
 * ```ts
 * tg.sigmoid(tg.tensor([0])).toArray(); // → [0.5]
 * ```
 */
export const sigmoid = (a: TensorLike): Tensor => unary(Op.SIGMOID, 'sigmoid', a);
/**
 * max(x, 0).
 * @example
 * ```ts
 * tg.relu(tg.tensor([-1, 2])).toArray(); // → [0, 2]
 * ```
 */
export const relu = (a: TensorLike): Tensor => unary(Op.RELU, 'relu', a);

/**
 * x where x > 0, else negativeSlope · x.
 * @example
 * ```ts
 * tg.leakyRelu(tg.tensor([-10, 1]), 0.1).toArray(); // → [-1, 1]
 * ```
 */
export function leakyRelu(a: TensorLike, negativeSlope = 0.01): Tensor {
  checkNumber(negativeSlope, 'negativeSlope', 'leakyRelu');
  return unary(Op.LEAKY_RELU, 'leakyRelu', a, negativeSlope);
}

const GELU_OPTIONS = { approximate: oneOf(['none', 'tanh'] as const) };

/**
 * GELU, exact (erf) by default; `{approximate: 'tanh'}` for the tanh approximation, like PyTorch.
 * @example
 * ```ts
 * tg.gelu(tg.tensor([0, 10])).toArray(); // → [0, 10]
 * ```
 */
export function gelu(a: TensorLike, options?: { approximate?: 'none' | 'tanh' }): Tensor {
  const approximate = readOptions(options, GELU_OPTIONS, 'gelu').approximate ?? 'none';
  return unary(approximate === 'tanh' ? Op.GELU_TANH : Op.GELU, 'gelu', a);
}

/** sin(x) (four lanes, the argument reduced in float64: within 1.5 ulp for |x| < 1.6e6). */
export const sin = (a: TensorLike): Tensor => unary(Op.SIN, 'sin', a);
/** cos(x), as sin. */
export const cos = (a: TensorLike): Tensor => unary(Op.COS, 'cos', a);
/** x², whose gradient is 2x. */
export const square = (a: TensorLike): Tensor => unary(Op.SQUARE, 'square', a);
/** 1 / √x. */
export const rsqrt = (a: TensorLike): Tensor => unary(Op.RSQRT, 'rsqrt', a);
/** SiLU (swish): x · sigmoid(x). */
export const silu = (a: TensorLike): Tensor => unary(Op.SILU, 'silu', a);

/**
 * Options of {@link softplus}.
 * @property beta - scale of x (default 1)
 * @property threshold - above beta·x = threshold, x itself (default 20)
 */
export interface SoftplusOptions { beta?: number; threshold?: number }
const SOFTPLUS_OPTIONS = { beta: numberIn(), threshold: numberIn() };

/** log(1 + e^{beta·x}) / beta, and x itself where beta·x > threshold (defaults 1 and 20, as PyTorch). */
export function softplus(a: TensorLike, options?: SoftplusOptions): Tensor {
  const o = readOptions(options, SOFTPLUS_OPTIONS, 'softplus');
  return unary(Op.SOFTPLUS, 'softplus', a, o.beta ?? 1, f32Bits(o.threshold ?? 20));
}

/**
 * Bounds of {@link clamp}.
 * @property min - lower bound (absent or null: none)
 * @property max - upper bound (absent or null: none)
 */
export interface ClampOptions { min?: number | null; max?: number | null }
/** A bound: a number (±Infinity allowed), or null / undefined for none. */
const bound = (v: unknown, name: string, op: string): number | undefined => {
  if (v == null) return undefined;
  if (typeof v !== 'number' || Number.isNaN(v)) throw new Error(`${op}: ${name} must be a number or null, got ${show(v)} (tensor bounds are not supported)`);
  return v;
};
const CLAMP_OPTIONS = { min: bound, max: bound };

/**
 * Each element limited to [min, max], as PyTorch's clamp(input, min=None, max=None): either bound
 * may be left out (not both), bounds are numbers, NaN stays NaN, and min > max gives max. The
 * gradient passes where min ≤ x ≤ max. `clamp(x, min, max)` or `clamp(x, {min, max})`.
 *
 * @example
 * ```ts
 * tg.clamp(tg.tensor([-2, 0.5, 3]), 0, 1).toArray(); // → [0, 0.5, 1]
 * tg.clamp(tg.tensor([-2, 3]), { max: 1 }).toArray(); // → [-2, 1]
 * ```
 */
export function clamp(a: TensorLike, min?: number | null | ClampOptions, max?: number | null): Tensor {
  let lo: number | undefined, hi: number | undefined;
  if (min !== null && typeof min === 'object' && !(min instanceof Tensor)) {
    if (max !== undefined) throw new Error(`clamp: give the bounds as clamp(x, min, max) or clamp(x, {min, max}), not both; got a max of ${show(max)} after options`);
    ({ min: lo, max: hi } = readOptions(min, CLAMP_OPTIONS, 'clamp'));
  } else {
    lo = bound(min, 'min', 'clamp');
    hi = bound(max, 'max', 'clamp');
  }
  return clampOp('clamp', a, lo, hi);
}

function clampOp(name: string, a: TensorLike, lo: number | undefined, hi: number | undefined): Tensor {
  if (lo === undefined && hi === undefined) throw new Error(`${name}: ${name === 'clamp' ? 'at least one of min and max' : name.slice(5).toLowerCase()} must be a number`);
  return unary(Op.CLAMP, name, a, lo ?? -Infinity, f32Bits(hi ?? Infinity));
}

/** clamp(x, min): max(x, min), NaN kept. */
export const clampMin = (a: TensorLike, min: number): Tensor => clampOp('clampMin', a, bound(min, 'min', 'clampMin'), undefined);
/** clamp(x, null, max): min(x, max), NaN kept. */
export const clampMax = (a: TensorLike, max: number): Tensor => clampOp('clampMax', a, undefined, bound(max, 'max', 'clampMax'));
