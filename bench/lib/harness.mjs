// The one timing helper of the bench: warm-up, then repeated samples, reported as a median.

/** Prefix of the line on which a child process prints its JSON result. */
export const RESULT_MARK = '@@bench-result@@ ';

/** Thrown by an adapter when the implementation lacks what a workload needs; reported as "n/a (…)". */
export class Unavailable extends Error {}

const isThenable = (v) => v != null && typeof v.then === 'function';

/** Runs `fn` once (awaiting it if it returns a promise) and returns the elapsed milliseconds. */
export async function timeOnce(fn) {
  const t0 = performance.now();
  const r = fn();
  if (isThenable(r)) await r;
  return performance.now() - t0;
}

/**
 * Times `fn` (sync or async): up to `warmup` calls, then samples until `reps` samples are taken or
 * `maxMs` has passed with at least `minReps` samples. A sample runs `fn` `inner` times, where
 * `inner` is chosen so a sample lasts at least `minSampleMs` (for microsecond-scale work).
 * Returns per-call milliseconds: { median, min, max, samples, inner }.
 */
/**
 * Minimum warm-up time before timing (bounded by maxMs / 5). A second, not less: tapegrad's
 * kernels need ~0.5 s to reach steady speed (V8's wasm tiering), and with 300 ms of warm-up the
 * medians of whole runs came out bimodal (64² matmul at 24 or 41 GFLOP/s from run to run).
 */
const WARM_MS = 1000;

export async function measure(fn, { warmup = 1, reps = 5, minReps = 3, maxMs = 2000, minSampleMs = 0 } = {}) {
  let last = 0;
  let async = false;
  const warmStart = performance.now();
  // Warm up for `warmup` calls and at least WARM_MS (so the JITs have tiered up before short
  // calls are timed), but slow calls (seconds each) stop once warm-up has taken maxMs / 5.
  const warmMs = Math.min(WARM_MS, maxMs / 5);
  for (let i = 0; ; i++) {
    const elapsed = performance.now() - warmStart;
    const wantMore = i < Math.max(1, warmup) ? i === 0 || elapsed < maxMs / 5 : elapsed < warmMs;
    if (!wantMore) break;
    const t0 = performance.now();
    const r = fn();
    async = isThenable(r);
    if (async) await r;
    last = performance.now() - t0;
  }
  const inner = minSampleMs > 0 ? Math.max(1, Math.ceil(minSampleMs / Math.max(last, 1e-3))) : 1;
  const samples = [];
  const start = performance.now();
  while (samples.length < reps && (samples.length < minReps || performance.now() - start < maxMs)) {
    const t0 = performance.now();
    if (async) for (let i = 0; i < inner; i++) await fn();
    else for (let i = 0; i < inner; i++) fn();
    samples.push((performance.now() - t0) / inner);
  }
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), samples: samples.length, inner };
}

/**
 * Times `h[name]()` with measure(), or, when the handle times itself (`h.measure(name, options)`:
 * an implementation running in another process), lets it, so no inter-process call is timed.
 */
export function measureCall(h, name, options) {
  return typeof h.measure === 'function' ? h.measure(name, options) : measure(() => h[name](), options);
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Settings of a run: `--quick` keeps the whole bench under a minute. */
export function settings(quick) {
  return quick
    ? { quick, timing: { warmup: 1, reps: 5, minReps: 3, maxMs: 1000 }, caseBudgetMs: 4000, memorySteps: 1000, memoryBudgetMs: 6000 }
    : { quick, timing: { warmup: 3, reps: 21, minReps: 5, maxMs: 10000 }, caseBudgetMs: 60000, memorySteps: 10000, memoryBudgetMs: 120000 };
}

/** Forces a full collection when the process runs with --expose-gc. */
export function collectGarbage() {
  if (typeof globalThis.gc === 'function') {
    globalThis.gc();
    globalThis.gc();
  }
}
