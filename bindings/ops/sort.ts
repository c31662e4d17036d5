// Sorting (core: assembly/ops/sort.ts): sort and topk return the values, differentiable, and
// their positions along the dim as a float tensor of integers (no gradient), as
// `{values, indices}` that also destructures as `[values, indices]`.
import { Op } from '../opcodes';
import { normAxis, prod, readOptions, checkInt, bool, intAtLeast, INT_MAX } from '../shape';
import { Tensor, type TensorLike, live, newTensor, run, viaTensor } from '../tensor';

/** PyTorch's namedtuple (values, indices): an array of the two with those names too. */
export type SortResult = [Tensor, Tensor] & { values: Tensor; indices: Tensor };

export interface SortOptions { dim?: number; descending?: boolean; stable?: boolean }
export interface TopkOptions { dim?: number; largest?: boolean; sorted?: boolean }
const SORT_OPTIONS = { dim: intAtLeast(-INT_MAX), descending: bool, stable: bool };
const TOPK_OPTIONS = { dim: intAtLeast(-INT_MAX), largest: bool, sorted: bool };

/** The first k of each line along dim `ax` in order, and their indices (one SORT/TOPK record). */
function firstK(op: Op, name: string, a: Tensor, ax: number, k: number, descending: boolean): SortResult {
  const d = a.dims, shape = d.slice();
  if (d.length) shape[ax] = k;
  const indices = newTensor(shape, name);
  try {
    const values = run(op, name, shape, a, null, indices, prod(d, 0, ax), d.length ? d[ax] : 1, prod(d, ax + 1, d.length), k, descending ? 1 : 0);
    return Object.assign([values, indices] as [Tensor, Tensor], { values, indices });
  } catch (err) {
    indices.dispose();
    throw err;
  }
}

/**
 * Sorts along `dim` (default -1), ascending unless `descending`; NaN sorts as the largest value,
 * and equal values keep their order (the sort is always stable).
 */
export function sort(x: TensorLike, options?: SortOptions): SortResult {
  const o = readOptions(options, SORT_OPTIONS, 'sort');
  if (!(x instanceof Tensor)) return viaTensor('sort', x, (t) => sort(t, options));
  live(x, 'sort');
  const ax = normAxis(o.dim ?? -1, x.dims.length, 'sort', x.dims);
  return firstK(Op.SORT, 'sort', x, ax, x.dims.length ? x.dims[ax] : 1, o.descending ?? false);
}

/**
 * The k largest (or, with largest: false, smallest) values along `dim` (default -1) and their
 * indices, in order (also with sorted: false); NaN counts as the largest value.
 */
export function topk(x: TensorLike, k: number, options?: TopkOptions): SortResult {
  const o = readOptions(options, TOPK_OPTIONS, 'topk');
  if (!(x instanceof Tensor)) return viaTensor('topk', x, (t) => topk(t, k, options));
  live(x, 'topk');
  const ax = normAxis(o.dim ?? -1, x.dims.length, 'topk', x.dims), n = x.dims.length ? x.dims[ax] : 1;
  return firstK(Op.TOPK, 'topk', x, ax, checkInt(k, 'k', 'topk', 0, n), o.largest ?? true);
}
