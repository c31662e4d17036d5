// Sorting (core: assembly/ops/sort.ts): sort and topk return the values, differentiable, and
// their positions along the dim as a float tensor of integers (no gradient), as
// `{values, indices}` that also destructures as `[values, indices]`.
import { Op } from '../opcodes';
import { normAxis, prod, readOptions, checkInt, bool, intAtLeast, INT_MAX } from '../shape';
import { Tensor, type TensorLike, live, newTensor, run, viaTensor } from '../tensor';

/** PyTorch's namedtuple (values, indices): an array of the two with those names too. */
export type SortResult = [Tensor, Tensor] & { values: Tensor; indices: Tensor };

/**
 * Options of {@link sort}.
 * @property dim - the dim sorted (default -1)
 * @property descending - largest first (default false)
 * @property stable - accepted for PyTorch's signature; the sort is always stable
 */
export interface SortOptions { dim?: number; descending?: boolean; stable?: boolean }
/**
 * Options of {@link topk}.
 * @property dim - the dim searched (default -1)
 * @property largest - the k largest, or with false the k smallest (default true)
 * @property sorted - accepted for PyTorch's signature; the results are always in order
 */
export interface TopkOptions { dim?: number; largest?: boolean; sorted?: boolean }
const SORT_OPTIONS = { dim: intAtLeast(-INT_MAX), descending: bool, stable: bool };
const TOPK_OPTIONS = { dim: intAtLeast(-INT_MAX), largest: bool, sorted: bool };

/**
 * The first k (all when k is undefined) of each line along the dim in order, and their indices:
 * one SORT or TOPK record, which writes both.
 */
function firstK(op: Op, name: string, x: TensorLike, k: number | undefined, dim: number, descending: boolean): SortResult {
  if (!(x instanceof Tensor)) return viaTensor(name, x, (t) => firstK(op, name, t, k, dim, descending));
  live(x, name);
  const d = x.dims, ax = normAxis(dim, d.length, name, d), n = d.length ? d[ax] : 1, shape = d.slice();
  if (k === undefined) k = n;
  else checkInt(k, 'k', name, 0, n);
  if (d.length) shape[ax] = k;
  else k = 1; // a 0-d tensor gives its element for k 0 or 1 (PyTorch)
  const indices = newTensor(shape, name);
  try {
    const values = run(op, name, shape, x, null, indices, prod(d, 0, ax), n, prod(d, ax + 1, d.length), k, descending ? 1 : 0);
    return Object.assign([values, indices] as [Tensor, Tensor], { values, indices });
  } catch (err) {
    indices.dispose();
    throw err;
  }
}

/**
 * Sorts along `dim` (default -1), ascending unless `descending`; NaN sorts as the largest value,
 * and equal values keep their order (the sort is always stable).
 *
 * @example
 * ```ts
 * const { values, indices } = tg.sort(tg.tensor([3, 1, 2]));
 * values.toArray(); // → [1, 2, 3]
 * indices.toArray(); // → [1, 2, 0]
 * ```
 */
export function sort(x: TensorLike, options?: SortOptions): SortResult {
  const o = readOptions(options, SORT_OPTIONS, 'sort');
  return firstK(Op.SORT, 'sort', x, undefined, o.dim ?? -1, o.descending ?? false);
}

/**
 * The k largest (or, with largest: false, smallest) values along `dim` (default -1) and their
 * indices, in order (also with sorted: false); NaN counts as the largest value.
 *
 * @example
 * ```ts
 * const [values, indices] = tg.topk(tg.tensor([3, 1, 2]), 2);
 * values.toArray(); // → [3, 2]
 * indices.toArray(); // → [0, 2]
 * ```
 */
export function topk(x: TensorLike, k: number, options?: TopkOptions): SortResult {
  const o = readOptions(options, TOPK_OPTIONS, 'topk');
  return firstK(Op.TOPK, 'topk', x, k, o.dim ?? -1, o.largest ?? true);
}
