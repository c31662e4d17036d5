// Shared assertions for tapegrad's tests.
import { expect } from 'vitest';
import type * as tg from '../dist/index.js';

type Tensor = ReturnType<typeof tg.tensor>;

/**
 * micrograd's README expression of a and b (g, from which a.grad = 138.8338 and b.grad = 645.5773
 * at a = −4, b = 2): c = a + b; d = a·b + b³; c += c + 1; c += 1 + c + (−a); d += d·2 + relu(b + a);
 * d += 3·d + relu(b − a); e = c − d; f = e²; g = f / 2 + 10 / f. `engine` supplies add/mul/div
 * for the number-on-the-left terms.
 */
export function micrograd(engine: typeof tg, a: Tensor, b: Tensor): Tensor {
  let c = a.add(b);
  let d = a.mul(b).add(b.pow(3));
  c = c.add(c.add(1));
  c = c.add(engine.add(1, c).add(a.neg()));
  d = d.add(d.mul(2).add(b.add(a).relu()));
  d = d.add(engine.mul(3, d).add(b.sub(a).relu()));
  const f = c.sub(d).pow(2);
  return f.div(2.0).add(engine.div(10.0, f));
}

/** Row-major multi-index of flat index `i` in `shape`, e.g. [1,0,2]. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

/**
 * Elementwise |actual - expected| <= atol + rtol * |expected| (NaN never passes; matching
 * infinities pass). On failure throws an Error naming `label`, how many elements failed, and
 * the worst one (largest error relative to its tolerance): index, actual, expected.
 * Pass `shape` to also see the worst element's multi-index.
 */
export function expectClose(
  actual: Float32Array | ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  atol: number,
  label: string,
  shape?: readonly number[],
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length}, expected ${expected.length}`);
  }
  let bad = 0;
  let worst = -1;
  let worstRatio = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (a === e) continue; // includes matching infinities
    const allowed = atol + rtol * Math.abs(e);
    const diff = Math.abs(a - e);
    const ratio = Number.isNaN(diff) ? Infinity : diff / allowed;
    if (!(diff <= allowed)) bad++;
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worst = i;
    }
  }
  if (bad === 0) return;
  const a = actual[worst];
  const e = expected[worst];
  const at = shape && shape.length > 0 ? ` [${unravel(worst, shape).join(',')}]` : '';
  throw new Error(
    `${label}: ${bad} of ${expected.length} elements differ (rtol ${rtol}, atol ${+atol.toPrecision(3)}); ` +
      `worst at index ${worst}${at}: actual ${a}, expected ${e}, |diff| ${Math.abs(a - e)}`,
  );
}

/** Small deterministic generator (LCG), uniform in [0, 1); nearby seeds give unrelated streams. */
export function rng(seed: number): () => number {
  // scramble the seed (murmur3 finalizer) so that nearby seeds give unrelated streams
  let s = Math.imul(seed ^ (seed >>> 16), 0x85ebca6b);
  s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35);
  s = (s ^ (s >>> 16)) >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** The error fn throws (a test fails when it returns instead). */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error, but the call returned');
}

/**
 * A safetensors file from its header's JSON text and data bytes: the 8-byte little-endian header
 * length, the header (padded with spaces to a multiple of 8 bytes when `pad`), then the data.
 */
export function safetensorsFile(headerText: string, data: Uint8Array, pad: boolean): Uint8Array {
  let json = new TextEncoder().encode(headerText);
  if (pad && json.length % 8) json = new TextEncoder().encode(headerText + ' '.repeat(8 - (json.length % 8)));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/**
 * Runs `attempt` with the n-th next allocation failing, for n = 1, 2, … until a run completes.
 * Each failed run must throw a RangeError and leave `memory().tensors` as it was; `onFailure`
 * checks the rest (values, messages). Returns how many runs failed.
 */
export function failEachAllocation(
  engine: { memory(): { tensors: number }; __testing: { failAllocAfter(n: number): void } },
  attempt: () => void,
  onFailure: (err: unknown) => void = () => {},
  limit = 50,
): number {
  for (let n = 1, failures = 0; n < limit; n++) {
    const tensors = engine.memory().tensors;
    engine.__testing.failAllocAfter(n);
    try {
      attempt();
      return failures;
    } catch (err) {
      expect(err).toBeInstanceOf(RangeError);
      expect(engine.memory().tensors).toBe(tensors);
      onFailure(err);
      failures++;
    } finally {
      engine.__testing.failAllocAfter(0);
    }
  }
  throw new Error(`failEachAllocation: the attempt still failed with its ${limit}th allocation failing`);
}
