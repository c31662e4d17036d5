// The matrix product (core: assembly/ops/matmul.ts).
import { Op } from '../opcodes';
import { type Shape, fmt, numel, broadcastShape } from '../shape';
import { Tensor, type TensorLike, run, withTensors } from '../tensor';

const MATMUL_OPERANDS = ['input', 'other'];

/**
 * Matrix product with PyTorch's rules for 1-D, 2-D and batched (broadcast) operands.
 *
 * @example
 * ```ts
 * tg.matmul(tg.tensor([[1, 2]]), tg.tensor([[3], [4]])).toArray(); // → [[11]]
 * tg.matmul(tg.randn([5, 2, 3]), tg.randn([3, 4])).shape; // → [5, 2, 4]
 * ```
 */
export function matmul(x: TensorLike, y: TensorLike): Tensor {
  return withTensors('matmul', [x, y], ([a, b]) => matmulWith(a, b, false, 'matmul'), MATMUL_OPERANDS);
}

/**
 * a · b, or a · bᵀ (b's last two dims swapped) when `transposeB`: nn.linear's weight [out, in],
 * or the keys in q · kᵀ. The kernel reads b through strides, batched too, so no transposed copy
 * is made. A `bias` of N values (the caller checks its shape) is added to every output row inside
 * the same op.
 */
export function matmulWith(a: Tensor, y: Tensor, transposeB: boolean, name: string, bias: Tensor | null = null): Tensor {
  const b = y;
  const r = b.dims.length;
  const sa = a.dims, sb = transposeB && r >= 2 ? [...b.dims.slice(0, r - 2), b.dims[r - 1], b.dims[r - 2]] : b.dims;
  if (sa.length === 0 || sb.length === 0) {
    throw new Error(`${name}: both operands need at least 1 dim, got shapes ${fmt(sa)} and ${fmt(sb)}`);
  }
  const M = sa.length === 1 ? 1 : sa[sa.length - 2];
  const K = sa[sa.length - 1];
  const Kb = sb.length === 1 ? sb[0] : sb[sb.length - 2];
  const N = sb.length === 1 ? 1 : sb[sb.length - 1];
  if (K !== Kb) {
    throw new Error(`${name}: shapes ${fmt(a.dims)} and ${fmt(b.dims)} cannot be multiplied (${K} columns vs ${Kb} rows${transposeB ? ' of the transposed weight' : ''})`);
  }
  const batchA = sa.slice(0, Math.max(0, sa.length - 2)), batchB = sb.slice(0, Math.max(0, sb.length - 2));
  let batch: Shape;
  try {
    batch = broadcastShape(batchA, batchB, 'matmul');
  } catch {
    throw new Error(`matmul: batch dims of shapes ${fmt(sa)} and ${fmt(sb)} cannot be broadcast (${fmt(batchA)} vs ${fmt(batchB)})`);
  }
  const shape = [...batch];
  if (sa.length > 1) shape.push(M);
  if (sb.length > 1) shape.push(N);
  return run(Op.MATMUL, name, shape, a, b, bias, M, K, N, numel(batch), batch.length, transposeB ? 1 : 0);
}
