// Elementwise ops (core: assembly/ops/elementwise.ts): binary ones broadcast, and a plain number
// operand rides in the op's record instead of becoming a tensor.
import { Op } from '../opcodes';
import { broadcastShape, checkNumber, readOptions, oneOf } from '../shape';
import { Tensor, type TensorLike, live, run, asTensor, dropTemporary } from '../tensor';

function binary(op: Op, name: string, x: TensorLike, y: TensorLike): Tensor {
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

export const add = (a: TensorLike, b: TensorLike): Tensor => binary(Op.ADD, 'add', a, b);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary(Op.SUB, 'sub', a, b);
export const mul = (a: TensorLike, b: TensorLike): Tensor => binary(Op.MUL, 'mul', a, b);
export const div = (a: TensorLike, b: TensorLike): Tensor => binary(Op.DIV, 'div', a, b);
export const pow = (a: TensorLike, b: TensorLike): Tensor => binary(Op.POW, 'pow', a, b);
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binary(Op.MAXIMUM, 'maximum', a, b);
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binary(Op.MINIMUM, 'minimum', a, b);

function unary(op: Op, name: string, x: TensorLike, f0 = 0): Tensor {
  const a = asTensor(x, name);
  try {
    return run(op, name, a.dims, a, null, null, 0, 0, 0, 0, 0, 0, f0);
  } finally {
    dropTemporary(a, x);
  }
}

export const neg = (a: TensorLike): Tensor => unary(Op.NEG, 'neg', a);
export const abs = (a: TensorLike): Tensor => unary(Op.ABS, 'abs', a);
export const exp = (a: TensorLike): Tensor => unary(Op.EXP, 'exp', a);
export const log = (a: TensorLike): Tensor => unary(Op.LOG, 'log', a);
export const sqrt = (a: TensorLike): Tensor => unary(Op.SQRT, 'sqrt', a);
export const tanh = (a: TensorLike): Tensor => unary(Op.TANH, 'tanh', a);
export const sigmoid = (a: TensorLike): Tensor => unary(Op.SIGMOID, 'sigmoid', a);
export const relu = (a: TensorLike): Tensor => unary(Op.RELU, 'relu', a);

export function leakyRelu(a: TensorLike, negativeSlope = 0.01): Tensor {
  checkNumber(negativeSlope, 'negativeSlope', 'leakyRelu');
  return unary(Op.LEAKY_RELU, 'leakyRelu', a, negativeSlope);
}

/** GELU, exact (erf) by default; `{approximate: 'tanh'}` for the tanh approximation, like PyTorch. */
const GELU_OPTIONS = { approximate: oneOf(['none', 'tanh'] as const) };

export function gelu(a: TensorLike, options?: { approximate?: 'none' | 'tanh' }): Tensor {
  const approximate = readOptions(options, GELU_OPTIONS, 'gelu').approximate ?? 'none';
  return unary(approximate === 'tanh' ? Op.GELU_TANH : Op.GELU, 'gelu', a);
}
