// Resizing (PyTorch's F.interpolate, nn.Upsample): nearest and bilinear, composed of indexSelect,
// mul and add, so forward and backward run in the core.
import { Tensor, type TensorLike, withTensors } from '../tensor';
import { add, mul } from './elementwise';
import { indexSelect } from './shape';
import { tensor } from './creation';
import { tidy } from '../memory';
import { fmt, readOptions, oneOf, bool, checkPair, checkBytes, show, INT_MAX, type Options } from '../shape';

/** Options of {@link interpolate}: `size` or `scaleFactor`, not both. */
export interface InterpolateOptions {
  /** The output's [OH, OW] (one number for both). */
  size?: number | [number, number];
  /** Multiplies H and W (one number for both), the output size rounded down. */
  scaleFactor?: number | [number, number];
  /** 'nearest' (the default) or 'bilinear'. */
  mode?: 'nearest' | 'bilinear';
  /** Bilinear only: corner pixels' centres aligned with the input's (default false: half-pixel centres). */
  alignCorners?: boolean;
}
const positivePair = (v: unknown, name: string, op: string): [number, number] => {
  const p = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0)) {
    throw new Error(`${op}: ${name} must be a positive number or a pair of them, got ${show(v)}`);
  }
  return p as [number, number];
};
const INTERPOLATE_OPTIONS = {
  size: (v: unknown, name: string, op: string) => checkPair(v, name, op, 1),
  scaleFactor: positivePair,
  mode: oneOf(['nearest', 'bilinear'] as const),
  alignCorners: bool,
};

/** The options of interpolate (or nn.Upsample, as `op`), checked. */
export function readInterpolate(options: unknown, op: string): Options<typeof INTERPOLATE_OPTIONS> {
  const o = readOptions(options, INTERPOLATE_OPTIONS, op);
  if ((o.size === undefined) === (o.scaleFactor === undefined)) throw new Error(`${op}: give exactly one of size and scaleFactor`);
  if (o.alignCorners !== undefined && o.mode !== 'bilinear') throw new Error(`${op}: alignCorners is only for mode 'bilinear' (as PyTorch)`);
  return o;
}

/**
 * Resizes the last two dims of [N, C, H, W] (PyTorch's F.interpolate): 'nearest' takes input
 * pixel ⌊o·scale⌋, 'bilinear' weighs the two nearest along each dim, as PyTorch computes them
 * (half-pixel centres unless alignCorners). Built from indexSelect, so gradients flow to the input.
 *
 * @example
 * ```ts
 * tg.nn.functional.interpolate(tg.tensor([[[[1, 2]]]]), { scaleFactor: 2 }).toArray(); // → [[[[1, 1, 2, 2], [1, 1, 2, 2]]]]
 * ```
 */
export function interpolate(input: TensorLike, options?: InterpolateOptions): Tensor {
  const op = 'interpolate';
  const o = readInterpolate(options, op);
  const bilinear = o.mode === 'bilinear';
  return withTensors(op, [input], ([x]) => {
    if (x.dims.length !== 4) throw new Error(`${op}: input must be 4-D [N, C, H, W], got shape ${fmt(x.dims)}`);
    const out = [2, 3].map((d, k) => (o.size ? o.size[k] : Math.floor(x.dims[d] * o.scaleFactor![k])));
    if (out.some((n) => n < 1 || n > INT_MAX)) throw new Error(`${op}: the output size ${fmt(out)} of input shape ${fmt(x.dims)} must be positive`);
    checkBytes([...x.dims.slice(0, 2), ...out], op);
    return tidy(() => {
      let y = x;
      for (const d of [3, 2]) { // along W, then H: PyTorch's h0λ·(w0λ·x[h0,w0] + w1λ·x[h0,w1]) + h1λ·(…)
        const k = d - 2, n = x.dims[d], m = out[k];
        // PyTorch's area_pixel_compute_scale: (n − 1)/(m − 1) aligned, else 1/scaleFactor when given, else n/m
        // (in float32, step by step, as its CPU kernels compute it)
        const f = Math.fround, scale = f(bilinear && o.alignCorners ? (m > 1 ? (n - 1) / (m - 1) : 0) : o.scaleFactor ? 1 / o.scaleFactor[k] : n / m);
        if (!bilinear) { y = indexSelect(y, d, Array.from({ length: m }, (_, i) => Math.min(Math.floor(f(i * scale)), n - 1))); continue; }
        const i0: number[] = [], i1: number[] = [], w0: number[] = [], w1: number[] = [];
        for (let i = 0; i < m; i++) {
          const src = o.alignCorners ? f(i * scale) : Math.max(f(f(scale * (i + 0.5)) - 0.5), 0);
          const lo = Math.min(Math.floor(src), n - 1), lambda = Math.fround(src - lo);
          i0.push(lo); i1.push(lo + (lo < n - 1 ? 1 : 0)); w0.push(1 - lambda); w1.push(lambda);
        }
        const shape = d === 2 ? [m, 1] : [m];
        y = add(mul(indexSelect(y, d, i0), tensor(w0, { shape })), mul(indexSelect(y, d, i1), tensor(w1, { shape })));
      }
      return y;
    });
  });
}

