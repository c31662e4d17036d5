// Helpers the examples share: the command-line option that lets CI smoke-run each for a few
// steps, and drawing from a probability vector for the samplers.
import * as tg from 'tapegrad';

/** `--name N` from the command line (or the environment variable NAME), else `fallback`: a positive integer. */
export function intOption(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? process.argv[at + 1] : process.env[name.toUpperCase()] ?? String(fallback);
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got ${value}`);
  return n;
}

/** An index drawn with probability `probs[i]` (inverse CDF of one tg.rand uniform, so tg.manualSeed fixes it). */
export function drawIndex(probs) {
  const u = tg.tidy(() => tg.rand([1]).item());
  let i = 0, cdf = probs[0];
  while (cdf <= u && i < probs.length - 1) cdf += probs[++i];
  return i;
}
