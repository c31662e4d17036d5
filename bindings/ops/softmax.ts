// softmax and logSoftmax along one dim (core: assembly/ops/softmax.ts).
import { Op } from '../opcodes';
import { normAxis, prod } from '../shape';
import { Tensor, type TensorLike, live, run, viaTensor } from '../tensor';

function softmaxLike(op: Op, name: string, x: TensorLike, dim: number): Tensor {
  if (!(x instanceof Tensor)) return viaTensor(name, x, (t) => softmaxLike(op, name, t, dim));
  const a = x;
  live(a, name);
  if (dim === undefined) throw new Error(`${name}: dim is required (the axis to normalise over)`);
  const ax = normAxis(dim, a.dims.length, name, a.dims);
  const R = a.dims.length ? a.dims[ax] : 1;
  return run(op, name, a.dims, a, null, null, prod(a.dims, 0, ax), R, prod(a.dims, ax + 1, a.dims.length));
}

/**
 * eˣ / Σ eˣ along `dim`, computed stably.
 * @example
 * ```ts
 * tg.softmax(tg.tensor([[0, 0], [0, Math.log(3)]]), 1).toArray(); // → [[0.5, 0.5], [0.25, 0.75]]
 * ```
 */
export const softmax = (a: TensorLike, dim: number): Tensor => softmaxLike(Op.SOFTMAX, 'softmax', a, dim);
/**
 * log(softmax(x)) along `dim`, computed stably.
 * @example
 * ```ts
 * tg.logSoftmax(tg.tensor([0, 0]), 0).toArray(); // → [-Math.LN2, -Math.LN2]
 * ```
 */
export const logSoftmax = (a: TensorLike, dim: number): Tensor => softmaxLike(Op.LOG_SOFTMAX, 'logSoftmax', a, dim);
