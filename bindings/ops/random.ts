// Sampling from the seeded generator (assembly/random.ts) that rand and randn use: manualSeed
// gives the same samples everywhere, and a trace draws fresh ones on every run.
import { issue } from '../core';
import { Cmd } from '../opcodes';
import { fmt, readOptions, checkInt, bool } from '../shape';
import { Tensor, type TensorLike, live, newTensor, fail, viaTensor } from '../tensor';

/**
 * Options of {@link multinomial}.
 * @property replacement - draw with replacement (default false: each category at most once)
 */
export interface MultinomialOptions { replacement?: boolean }
const MULTINOMIAL_OPTIONS = { replacement: bool };

/**
 * numSamples category indices (floats holding integers) drawn with probabilities proportional to
 * the weights of `input`, a row of weights or a 2-D batch of rows; without replacement (the
 * default) each category is drawn at most once. Weights must be finite and non-negative, with a
 * positive sum per row (checked where they are read, so also in a trace's replay).
 *
 * @example
 * ```ts
 * tg.manualSeed(0);
 * tg.multinomial(tg.tensor([0, 1, 0]), 1).toArray(); // → [1]
 * tg.multinomial(tg.tensor([1, 1, 1]), 3).sort().values.toArray(); // → [0, 1, 2]
 * ```
 */
export function multinomial(input: TensorLike, numSamples: number, options?: MultinomialOptions): Tensor {
  const o = readOptions(options, MULTINOMIAL_OPTIONS, 'multinomial');
  if (!(input instanceof Tensor)) return viaTensor('multinomial', input, (t) => multinomial(t, numSamples, options));
  live(input, 'multinomial');
  const d = input.dims, rank = d.length;
  if (rank !== 1 && rank !== 2) throw new Error(`multinomial: input must be 1-D or 2-D (rows of weights), got shape ${fmt(d)}`);
  const classes = d[rank - 1];
  checkInt(numSamples, 'numSamples', 'multinomial', 1);
  if (!o.replacement && numSamples > classes) {
    throw new Error(`multinomial: cannot draw ${numSamples} samples without replacement from ${classes} categories (shape ${fmt(d)})`);
  }
  const out = newTensor(rank === 2 ? [d[0], numSamples] : [numSamples], 'multinomial');
  const status = issue(Cmd.MULTINOMIAL, out.id, input.id, -1, rank === 2 ? d[0] : 1, classes, numSamples, o.replacement ? 1 : 0);
  if (status < 0) {
    out.dispose();
    fail(status, 'multinomial');
  }
  return out;
}
