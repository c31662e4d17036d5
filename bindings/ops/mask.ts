// Selection, masking and comparison (core: the "more elementwise" section of
// assembly/ops/elementwise.ts). tapegrad's tensors are all float32, so a condition or mask is a
// float tensor: nonzero (NaN included) is true, as PyTorch's bool() of a float; the comparisons
// return 0/1 float tensors outside the graph, ready to serve as masks.
import { Op } from '../opcodes';
import { type Shape, broadcastShape, checkInt, fmt, numel, sameShape, show, INT_MAX } from '../shape';
import { Tensor, type TensorLike, live, run, withTensors, viaTensor } from '../tensor';
import { detach, noGrad } from '../autograd';
import { expand } from './shape';

/**
 * Runs a where-like op on operands that broadcast together (tensors, numbers, nested arrays). The
 * first plain number after operand 0 rides in the record's f0; the kernel takes each operand whole
 * or as one element, so another broadcast is expanded first (expand's record sums its gradient
 * back). Operand 0 (a condition) takes no gradient. With `into`, the result must have that
 * operand's shape (maskedFill's input).
 */
function select(op: Op, name: string, xs: unknown[], names: string[], i0 = 0, into = -1): Tensor {
  const num = xs.findIndex((x, i) => i > 0 && typeof x === 'number');
  return withTensors(name, xs.filter((_, i) => i !== num), (ts) => {
    const operands: (Tensor | null)[] = num > 0 ? [...ts.slice(0, num), null, ...ts.slice(num)] : ts;
    let shape: Shape = [];
    for (const t of operands) if (t) shape = broadcastShape(shape, t.dims, name);
    const target = operands[into];
    if (target && !sameShape(shape, target.dims)) {
      throw new Error(`${name}: ${names[0]} of shape ${fmt(operands[0]!.dims)} cannot be broadcast to ${names[into]}'s shape ${fmt(target.dims)}`);
    }
    const made: Tensor[] = [];
    try {
      const fitted = operands.map((t, i) => {
        if (!t) return null;
        let f = t;
        if (i === 0 && op !== Op.COMPARE && f.requiresGrad) made.push(f = detach(f));
        if (f.size !== 1 && f.size !== numel(shape)) made.push(f = expand(f, [...shape]));
        return f;
      });
      return run(op, name, shape, fitted[0]!, fitted[1], fitted[2] ?? null, i0, 0, 0, 0, 0, 0, num > 0 ? (xs[num] as number) : 0);
    } finally {
      for (const t of made) t.dispose(); // a record keeps what the graph needs
    }
  }, names.filter((_, i) => i !== num));
}

/**
 * `input` where `condition` is nonzero (NaN counts as true), else `other`; the three broadcast
 * together, and input or other may be plain numbers. The gradient flows to input and other where
 * each was chosen; the condition gets none.
 *
 * @example
 * ```ts
 * tg.where(tg.tensor([1, 0]), tg.tensor([1, 2]), -1).toArray(); // → [1, -1]
 * ```
 */
export function where(condition: TensorLike, input: TensorLike, other: TensorLike): Tensor {
  return select(Op.WHERE, 'where', [condition, input, other], ['condition', 'input', 'other']);
}

/**
 * `input` with `value` (a number or a 0-d tensor) where `mask` is nonzero; mask broadcasts to
 * input's shape. The gradient is zero where filled (and, for a tensor value, the sum there).
 *
 * @example
 * ```ts
 * tg.maskedFill(tg.tensor([1, 2, 3]), tg.tensor([0, 1, 0]), 0).toArray(); // → [1, 0, 3]
 * ```
 */
export function maskedFill(input: TensorLike, mask: TensorLike, value: number | Tensor): Tensor {
  if (typeof value !== 'number' && !(value instanceof Tensor && value.dims.length === 0)) {
    throw new Error(`maskedFill: value must be a number or a 0-d tensor, got ${show(value)}`);
  }
  return select(Op.MASKED_FILL, 'maskedFill', [mask, value, input], ['mask', 'value', 'input'], 0, 2);
}

// The comparisons, by kind (the core's i0): results are 0/1 and never require grad.
function compare(kind: number, name: string, input: TensorLike, other: TensorLike): Tensor {
  return noGrad(() => select(Op.COMPARE, name, [input, other], ['input', 'other'], kind));
}

/**
 * 1 where input == other (IEEE: NaN equals nothing), else 0; broadcasts; never requires grad.
 *
 * @example
 * ```ts
 * tg.eq(tg.tensor([1, 2]), 2).toArray(); // → [0, 1]
 * ```
 */
export const eq = (input: TensorLike, other: TensorLike): Tensor => compare(0, 'eq', input, other);
/** 1 where input != other (so wherever either is NaN), else 0. */
export const ne = (input: TensorLike, other: TensorLike): Tensor => compare(1, 'ne', input, other);
/** 1 where input < other, else 0 (0 wherever either is NaN). */
export const lt = (input: TensorLike, other: TensorLike): Tensor => compare(2, 'lt', input, other);
/** 1 where input <= other, else 0. */
export const le = (input: TensorLike, other: TensorLike): Tensor => compare(3, 'le', input, other);
/** 1 where input > other, else 0. */
export const gt = (input: TensorLike, other: TensorLike): Tensor => compare(4, 'gt', input, other);
/** 1 where input >= other, else 0. */
export const ge = (input: TensorLike, other: TensorLike): Tensor => compare(5, 'ge', input, other);

function triangle(op: Op, name: string, x: TensorLike, diagonal: number): Tensor {
  checkInt(diagonal, 'diagonal', name, -INT_MAX, INT_MAX);
  if (!(x instanceof Tensor)) return viaTensor(name, x, (t) => triangle(op, name, t, diagonal));
  live(x, name);
  const rank = x.dims.length;
  if (rank < 2) throw new Error(`${name}: input must have at least 2 dims, got shape ${fmt(x.dims)}`);
  const rows = x.dims[rank - 2], cols = x.dims[rank - 1];
  return run(op, name, x.dims, x, null, null, Math.min(Math.max(diagonal, -rows), cols));
}

/**
 * The lower triangle of the matrices in input's last two dims: elements in column j ≤ row i +
 * diagonal are kept, the others are 0 (their gradient too).
 *
 * @example
 * ```ts
 * tg.tril(tg.ones([2, 2])).toArray(); // → [[1, 0], [1, 1]]
 * ```
 */
export const tril = (input: TensorLike, diagonal = 0): Tensor => triangle(Op.TRIL, 'tril', input, diagonal);
/** The upper triangle: elements in column j ≥ row i + diagonal are kept, the others are 0. */
export const triu = (input: TensorLike, diagonal = 0): Tensor => triangle(Op.TRIU, 'triu', input, diagonal);
