// Deterministic data for the demo: a seeded generator, two moons, and the 8×8 digits the package
// ships in data/digits.csv.gz.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/** mulberry32: a small seeded generator of uniform numbers in [0, 1), the same on every platform. */
export function seededRandom(seed) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  /** A standard normal sample (Box–Muller). */
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  /** A shuffled copy of [0, n) (Fisher–Yates). */
  const permutation = (n) => {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(uniform() * (i + 1));
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  };
  return { uniform, normal, permutation };
}

/**
 * scikit-learn's make_moons: two interleaving half circles with Gaussian noise. Returns points
 * as [x, y] pairs and labels −1 (outer moon) / +1 (inner moon), as micrograd's demo uses them.
 */
export function makeMoons(n, noise, seed) {
  const rng = seededRandom(seed);
  const nOuter = Math.floor(n / 2);
  const points = [], labels = [];
  for (let i = 0; i < n; i++) {
    const outer = i < nOuter;
    const count = outer ? nOuter : n - nOuter;
    const t = (Math.PI * (outer ? i : i - nOuter)) / (count - 1);
    const [px, py] = outer ? [Math.cos(t), Math.sin(t)] : [1 - Math.cos(t), 0.5 - Math.sin(t)];
    points.push([px + noise * rng.normal(), py + noise * rng.normal()]);
    labels.push(outer ? -1 : 1);
  }
  return { points, labels };
}

/** The digits: `pixels` [n·64] scaled to [0, 1] (the CSV holds 0..16) and integer `labels` [n]. */
export function loadDigits(url = new URL('../data/digits.csv.gz', import.meta.url)) {
  const rows = gunzipSync(readFileSync(url)).toString('utf8').trim().split('\n');
  const pixels = new Float32Array(rows.length * 64);
  const labels = new Int32Array(rows.length);
  rows.forEach((row, i) => {
    const values = row.split(',').map(Number);
    if (values.length !== 65) throw new Error(`digits.csv.gz: row ${i + 1} has ${values.length} values, expected 65`);
    for (let j = 0; j < 64; j++) pixels[i * 64 + j] = values[j] / 16;
    labels[i] = values[64];
  });
  return { pixels, labels, count: rows.length };
}

/** The rows `indices` of a digits set, as a new set. */
export function selectRows({ pixels, labels }, indices) {
  const out = { pixels: new Float32Array(indices.length * 64), labels: new Int32Array(indices.length), count: indices.length };
  indices.forEach((k, i) => {
    out.pixels.set(pixels.subarray(k * 64, k * 64 + 64), i * 64);
    out.labels[i] = labels[k];
  });
  return out;
}

/** A fixed split: a seeded shuffle, then the first `testFraction` of it held out. */
export function trainTestSplit(set, testFraction, seed) {
  const order = seededRandom(seed).permutation(set.count);
  const nTest = Math.round(set.count * testFraction);
  return { train: selectRows(set, order.slice(nTest)), test: selectRows(set, order.slice(0, nTest)) };
}
