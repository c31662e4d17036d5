// Traces: record a training step once, replay it with one call.
//
// While `trace(fn)` runs fn, the core appends every op and every command (backward, zeroGrad,
// optimizer steps, random refills, copies) to a program, and keeps every tensor fn makes alive
// for the program's sake. `run()` executes the program again: the same kernels on the same
// tensors, reading whatever values the inputs (tensors made outside fn, such as a batch you
// refill with copy_, or the parameters) hold now — forward, backward and update in one
// WebAssembly call, with no JavaScript per op.
import { core, outOfMemory, heapI32 } from './core';
import { fail } from './tensor';
import { dispose } from './memory';

let recording = false;
/** Only trace() makes Traces: a Trace holds a pointer into the core that nothing else can vouch for. */
const MADE_BY_TRACE = Symbol('trace');

/** A recorded step, made by {@link trace}: run() replays it, dispose() frees it. */
export class Trace<T> {
  /** What fn returned; its tensors hold the values of the latest run. */
  readonly output: T;
  private ptr: number;
  private readonly cleanups: (() => void)[];

  /** @internal use trace(fn) */
  constructor(token: symbol, ptr: number, output: T, cleanups: (() => void)[]) {
    if (token !== MADE_BY_TRACE) throw new Error('Trace: the constructor is internal; record a step with tg.trace(fn)');
    this.ptr = ptr;
    this.output = output;
    this.cleanups = cleanups;
  }

  /** Replays the recorded step; returns `output`. */
  run(): T {
    if (this.ptr === 0) throw new Error('trace.run: the trace was disposed');
    const status = core.runTrace(this.ptr);
    if (status < 0) fail(status, 'trace.run');
    return this.output;
  }

  /** Frees the program, `output`, and the tensors only the program was keeping. */
  dispose(): void {
    if (this.ptr === 0) return;
    dispose(this.output);
    core.disposeTrace(this.ptr);
    this.ptr = 0;
    for (const cleanup of this.cleanups) cleanup();
  }
}

const pendingCleanups: (() => void)[] = [];

export function isRecording(): boolean {
  return recording;
}

/** Runs `cleanup` now, or when the trace being recorded is disposed (its program may refer to what it frees). */
export function afterTrace(cleanup: () => void): void {
  if (recording) pendingCleanups.push(cleanup);
  else cleanup();
}

/**
 * Runs `fn` once, as usual, and records what it does for replay. Values fn reads into
 * JavaScript (item(), data(), .grad) are not recorded: read them from `output` after run().
 *
 * @example
 * ```ts
 * const w = tg.tensor([1, 2], { requiresGrad: true });
 * const opt = new tg.optim.SGD([w], { lr: 0.1 });
 * const step = tg.trace(() => tg.tidy(() => {
 *   opt.zeroGrad();
 *   const loss = w.square().sum();
 *   loss.backward();
 *   opt.step();
 *   return loss;
 * }));
 * step.output.item(); // → 5
 * step.run().item(); // → 3.2
 * step.dispose();
 * ```
 */
export function trace<T>(fn: () => T): Trace<T> {
  if (typeof fn !== 'function') throw new Error(`trace: expected a function, got ${typeof fn}`);
  if (recording) throw new Error('trace: a trace is already recording (traces do not nest)');
  const ptr = core.beginTrace();
  if (ptr === 0) outOfMemory('trace');
  recording = true;
  let output: T;
  try {
    output = fn();
  } catch (err) {
    core.disposeTrace(ptr); // also stops the recording
    pendingCleanups.splice(0).forEach((c) => c());
    throw err;
  } finally {
    recording = false;
    core.endTrace();
  }
  return new Trace(MADE_BY_TRACE, ptr, output, pendingCleanups.splice(0));
}

/** Test hook: whether a trace's last run replayed as a compiled scalar program (assembly/scalars.ts). */
export const scalarReplay = (t: Trace<unknown>): boolean => heapI32()[((t as unknown as { ptr: number }).ptr + 24) >>> 2] > 1;
