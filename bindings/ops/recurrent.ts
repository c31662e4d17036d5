// The recurrence of one LSTM or GRU layer in one direction as one op (assembly/ops/recurrent.ts):
// the time loop, the per-step gemm and the cell run in the core, forward and backward through time.
// The input projection, one matmul over every step, is made here with linear() before the op.
import { core } from '../core';
import { Op } from '../opcodes';
import { Tensor, run, fail, newTensor } from '../tensor';
import { detach } from '../autograd';
import { zeros } from './creation';
import { add } from './elementwise';
import { narrow, reshape } from './shape';
import { linear } from '../nnfunctional';

/** The two recurrent cells: gates per hidden unit G = 4 (i f g o) or 3 (r z n), as PyTorch orders them. */
export type RecurrentCell = 'LSTM' | 'GRU';

/** One layer's weights in one direction, as PyTorch names them (bias_ih and bias_hh null without bias). */
export interface RecurrentWeights {
  weightIh: Tensor;
  weightHh: Tensor;
  biasIh: Tensor | null;
  biasHh: Tensor | null;
}

/**
 * Runs one layer in one direction over x [T, B, I] from h0 [B, H] (and, for the LSTM, c0 [B, H];
 * null for zeros), steps t = T−1 … 0 when `reverse`. Returns the hidden states [T, B, H] and, for
 * the LSTM, the cell states [T, B, H]: views of the op's one output.
 */
export function recurrentLayer(cell: RecurrentCell, op: string, x: Tensor, w: RecurrentWeights, h0: Tensor | null, c0: Tensor | null,
  reverse: boolean): [Tensor, Tensor | null] {
  const lstm = cell === 'LSTM', [T, B] = x.dims, H = w.weightHh.dims[1];
  // the LSTM's two biases both add to the input projection; the GRU's b_hn sits inside r·(W_hn h + b_hn)
  const inBias = lstm && w.biasIh && w.biasHh ? add(w.biasIh, w.biasHh) : w.biasIh;
  const xw = linear(x, w.weightIh, inBias);
  const extra = lstm ? c0 : w.biasHh;
  // The kernel's backward runs when xw, W_hh or h0 is tracked: an extra (c0, b_hh) that alone requires
  // grad gets there through a tracked copy of h0, whose gradient is dropped (as attention's mask).
  const copyH0 = extra?.requiresGrad === true && ![xw, w.weightHh, h0].some((t) => t?.requiresGrad);
  const hIn = copyH0 ? (h0 ? detach(h0) : zeros([B, H])).requiresGrad_() : h0;
  const saved = newTensor([T, B, 4 * H], op);
  try {
    const out = run(lstm ? Op.LSTM : Op.GRU, op, lstm ? [2, T, B, H] : [T, B, H], xw, w.weightHh, hIn,
      extra ? extra.id : -1, saved.id, reverse ? 1 : 0);
    const tracked = [xw, w.weightHh, hIn].find((t) => t?.requiresGrad);
    // the hold record keeps the extra and the saved gates alive as long as the graph (assembly/ops/recurrent.ts)
    const status = core.runOpInto(lstm ? Op.LSTM : Op.GRU, out.id, extra ? extra.id : -1, saved.id, tracked ? tracked.id : -1, 0, 0, 0, 0, 1, 0, 0);
    if (status < 0) { out.dispose(); fail(status, op); }
    if (!lstm) return [out, null];
    return [reshape(narrow(out, 0, 0, 1), [T, B, H]), reshape(narrow(out, 0, 1, 1), [T, B, H])];
  } finally {
    saved.dispose();
    if (hIn !== h0) hIn!.dispose();
  }
}
