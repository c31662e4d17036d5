// The thread pool: workers (worker_threads in Node, Web Workers in pages) that instantiate the core
// module on the same shared memory and run parts of the kernels that split (assembly/parallel.ts).
//
// The main thread owns the engine: it allocates, records and calls every op. A kernel that splits
// calls back here with its part count; the parts are claimed one at a time, by the main thread
// too, from a word that holds the job's generation and the next part, so a worker that wakes late
// can never claim a part of a job it did not read. Workers that have not started yet (they start
// in the background, the first time a kernel splits) simply claim nothing: every part runs
// somewhere, and since a part computes the same values wherever it runs, results do not depend on
// how many threads took part.
//
// Control words (Int32Array over a SharedArrayBuffer):
//   WAKE   generation of the latest job; workers sleep on it (Atomics.wait) after a short spin
//   CLAIM  generation << 16 | next part to hand out
//   DONE   parts finished (or given up after an error)
//   PARTS  the latest job's part count
//   ERROR  0, or 1 once a part failed: its error's name and message follow from TEXT
//   READY  workers that have started
import { core, coreBytes, memory, setPartRunner, markThreaded } from './core';
import { checkInt } from './shape';

const WAKE = 0, CLAIM = 1, DONE = 2, PARTS = 3, ERROR = 4, READY = 5, TEXT = 8, TEXT_CHARS = 248;
/**
 * A worker spins this long for the next job before it sleeps. Jobs in a training step come back to
 * back, but not longer: a spinning worker slows the main thread's serial work where the two share
 * a physical core (seen on this project's 2-vCPU VM: with 2 ms, 2 char-GPT runs in 8 took 19–22
 * ms a step instead of 16–17; with 0.3 ms, none of 8).
 */
const SPIN_MS = 0.3;

/** Options that tests can change: how long the main thread waits for a part with no part finishing. */
const limits = { stallMs: 10_000 };
const MAX_THREADS = 64;

interface PoolWorker { terminate(): unknown; dead: boolean }

const ctrl = typeof SharedArrayBuffer === 'function' ? new Int32Array(new SharedArrayBuffer((TEXT + TEXT_CHARS) * 4)) : new Int32Array(0);
const spawn = memory.buffer instanceof ArrayBuffer ? null : workerSpawner();
if (spawn) markThreaded();
let threads = spawn ? defaultThreads() : 1;
let workers: PoolWorker[] = [];
/** Whether the workers for `threads` were started (they start with the first kernel that splits). */
let started = false;
/** Set when a worker has died: the next split replaces the pool (up to MAX_RESTARTS times). */
let poolDamaged = false;
let restarts = 0;
/** A pool that keeps dying (a page whose policy kills blob workers, say) is given up: one thread. */
const MAX_RESTARTS = 3;
/** Packing buffers per worker slot, allocated once and kept (they are the workers' only memory). */
const packs: number[] = [];
let generation = 0;
let workerModule: WebAssembly.Module | null = null;
core.setThreads(threads);
setPartRunner(runParts);

/**
 * Sets how many threads kernels use (the calling thread included), from 1 to 64. Defaults to
 * the machine's cores (at most 8), or `TAPEGRAD_NUM_THREADS` in Node. Where threads are unavailable
 * (`tg.build` has no '+threads') it stays 1. Results are the same for any number of threads.
 *
 * @example
 * ```ts
 * tg.setNumThreads(1); // e.g. to leave the other cores to a web server
 * tg.getNumThreads(); // → 1
 * ```
 */
export function setNumThreads(n: number): void {
  checkInt(n, 'n', 'setNumThreads', 1, MAX_THREADS);
  const wanted = spawn ? n : 1;
  if (wanted === threads) return;
  stopWorkers();
  restarts = 0;
  threads = wanted;
  core.setThreads(threads);
}

/**
 * How many threads kernels use (the calling thread included).
 *
 * @example
 * ```ts
 * tg.getNumThreads() >= 1; // → true
 * ```
 */
export function getNumThreads(): number {
  return threads;
}

function defaultThreads(): number {
  const env = permitted(() => (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.TAPEGRAD_NUM_THREADS);
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`TAPEGRAD_NUM_THREADS must be a whole number ≥ 1, got '${env}'`);
    return Math.min(n, MAX_THREADS);
  }
  const cores = permitted(() => nodeModule<{ availableParallelism(): number }>('node:os')?.availableParallelism()) ??
    (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  return Math.max(1, Math.min(cores, 8));
}

/** `read()`, or undefined where the runtime refuses it (Deno without --allow-env or --allow-sys). */
function permitted<T>(read: () => T): T | undefined {
  try { return read(); } catch { return undefined; }
}

function nodeModule<T>(name: string): T | null {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  return typeof get === 'function' ? (get(name) as T) : null;
}

/** How to start a worker running WORKER_SOURCE with `data`, or null where no workers can run. */
function workerSpawner(): ((data: object) => PoolWorker) | null {
  const wt = nodeModule<{ Worker: new (src: string, o: object) => PoolWorker & { unref(): void; on(e: string, f: () => void): void } }>('node:worker_threads');
  if (wt) {
    return (data) => {
      const w = new wt.Worker(WORKER_SOURCE, { eval: true, workerData: data });
      w.unref(); // the pool never keeps a process alive
      w.on('error', () => died(w));
      w.on('exit', () => died(w));
      return w;
    };
  }
  const Web = (globalThis as unknown as { Worker?: new (url: string) => PoolWorker & { postMessage(d: unknown): void; onerror: unknown } }).Worker;
  if (typeof Web !== 'function' || typeof Blob !== 'function' || typeof URL?.createObjectURL !== 'function') return null;
  let url: string | undefined; // one Blob URL serves every worker
  return (data) => {
    url ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
    const w = new Web(url);
    w.onerror = () => died(w);
    w.postMessage(data);
    return w;
  };
}

/** Starts threads − 1 workers (the calling thread is the last); they claim parts once they are up. */
function startWorkers(): void {
  started = true;
  workerModule ??= new WebAssembly.Module(withoutData(coreBytes));
  for (let i = 0; i < threads - 1; i++) {
    packs[i] ??= core.newPacks();
    if (!packs[i]) break; // out of memory: fewer workers
    try {
      workers.push(spawn!({ module: workerModule, memory, ctrl: ctrl.buffer, packs: packs[i] }));
    } catch {
      break; // a page's policy may refuse workers: fewer threads, same results
    }
  }
}

/** A worker of the current pool died (a worker we stopped is no longer in it). */
function died(w: PoolWorker): void {
  w.dead = true;
  if (workers.includes(w)) poolDamaged = true;
}

function stopWorkers(): void {
  for (const w of workers) void w.terminate();
  workers = [];
  started = false;
  poolDamaged = false;
  Atomics.store(ctrl, READY, 0);
}

/** Runs `parts` parts of the job the core wrote: called from inside a kernel on the main thread. */
function runParts(parts: number): void {
  if (poolDamaged) {
    stopWorkers();
    if (++restarts > MAX_RESTARTS) core.setThreads(threads = 1); // (this job's parts then all run here)
  }
  if (!started) startWorkers();
  threadTesting.jobs++;
  generation = (generation + 1) & 0x7fff;
  const gen = generation;
  Atomics.store(ctrl, PARTS, parts);
  Atomics.store(ctrl, DONE, 0);
  Atomics.store(ctrl, ERROR, 0);
  Atomics.store(ctrl, CLAIM, gen << 16);
  Atomics.store(ctrl, WAKE, gen);
  Atomics.notify(ctrl, WAKE);
  const begun = performance.now();
  let failure: unknown = null;
  serveParts(ctrl, gen, parts, core.runPart, (e) => { failure = e; });
  // wait for the parts the workers took; a stall longer than the limit (and 20× what the main
  // thread's own parts took) means a worker has stopped: give up rather than hang
  const patience = Math.max(limits.stallMs, 20 * (performance.now() - begun));
  let done = Atomics.load(ctrl, DONE), since = performance.now();
  for (let spins = 0; done < parts; spins++) {
    const now = Atomics.load(ctrl, DONE);
    if (now !== done) { done = now; since = performance.now(); continue; }
    if ((spins & 1023) === 1023 && performance.now() - since > patience) {
      stopWorkers();
      threads = 1;
      core.setThreads(1);
      throw new Error(`tapegrad: a worker thread stopped answering during a kernel (${parts - done} of ${parts} parts unfinished after ${Math.round(patience)} ms): ` +
        'the op\'s output is incomplete, and threads are switched off');
    }
  }
  if (failure !== null || Atomics.load(ctrl, ERROR)) {
    core.setThreads(threads); // the core's job was left marked as running
    if (failure !== null) throw failure;
    threadTesting.workerErrors++;
    throw workerError();
  }
}

/**
 * Claims and runs parts of job `gen` until none is left. A part that throws is reported to `fail`
 * before it counts as done, and no more parts are handed out (the rest count as done). The
 * workers run this same function (its source is copied into WORKER_SOURCE), so it refers to
 * nothing outside itself: word 1 is CLAIM, word 2 is DONE.
 */
function serveParts(c: Int32Array, gen: number, parts: number, run: (part: number, parts: number) => void, fail: (e: unknown) => void): void {
  let failed = false;
  for (let word; ;) {
    word = Atomics.load(c, 1);
    if (word >>> 16 !== gen || (word & 0xffff) >= parts) return;
    if (failed) { // close: take every part left at once
      if (Atomics.compareExchange(c, 1, word, (gen << 16) | parts) === word) Atomics.add(c, 2, parts - (word & 0xffff));
      continue;
    }
    if (Atomics.compareExchange(c, 1, word, word + 1) !== word) continue;
    try {
      run(word & 0xffff, parts);
    } catch (e) {
      failed = true;
      fail(e);
    }
    Atomics.add(c, 2, 1);
  }
}

/** The error a worker's part threw, rebuilt here with its class and message. */
function workerError(): Error {
  const text = String.fromCharCode(...Array.from(ctrl.subarray(TEXT, TEXT + TEXT_CHARS)).filter((c) => c !== 0));
  const at = text.indexOf('\n');
  const name = text.slice(0, at), message = text.slice(at + 1);
  // a kernel part throws a trap (RuntimeError) or, out of stack, a RangeError
  const Kind = name === 'RuntimeError' ? WebAssembly.RuntimeError : name === 'RangeError' ? RangeError : Error;
  return new Kind(message);
}

/**
 * The module's bytes without its data sections (data, data count): a worker's instance must not
 * copy the module's static data into memory the running engine is using. The code never refers to
 * a data segment (no memory.init), so the module stays valid.
 */
function withoutData(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const kept: number[] = Array.from(bytes.subarray(0, 8));
  for (let at = 8; at < bytes.length;) {
    const start = at, id = bytes[at++];
    let size = 0, shift = 0, byte: number;
    do { byte = bytes[at++]; size += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80);
    at += size;
    if (id !== 11 && id !== 12) for (let i = start; i < at; i++) kept.push(bytes[i]);
  }
  return Uint8Array.from(kept);
}

/** Test hooks (not public API): see bindings/core.ts's __testing. */
export const threadTesting = {
  limits,
  /** Resolves with the number of workers running once all have started (or after `ms`). */
  async workersReady(ms = 5000): Promise<number> {
    if (!spawn) return 0;
    if (!started && threads > 1) startWorkers();
    const until = performance.now() + ms;
    while (Atomics.load(ctrl, READY) < workers.length && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
    return workers.filter((w) => !w.dead).length;
  },
  /** Kills worker i (as a crash would). */
  killWorker(i: number): void { void workers[i]?.terminate(); },
  /** Runs a job of `parts` parts whose part `failing` traps, or with `hang` never finishes (assembly/parallel.ts). */
  trapInPart(failing: number, parts: number, hang = false): void { core.trapInPart(failing, parts, hang ? 1 : 0); },
  /** How many jobs were split over the pool. */
  jobs: 0,
  /** How many errors came from workers' parts (rebuilt here). */
  workerErrors: 0,
};

// The worker: instantiate the module on the shared memory, adopt its packing buffers, then loop:
// spin briefly for a new generation, else sleep on WAKE; claim parts until none are left (the
// first error of a job is reported in ERROR and TEXT). In Node the code may run as a script or as
// a module (after the parent's --input-type), so it reads workerData through getBuiltinModule.
// (No comments or indentation inside: a minifier keeps them in the string.)
const WORKER_SOURCE = `
const start = ({ module, memory, ctrl, packs }) => {
const c = new Int32Array(ctrl);
const core = new WebAssembly.Instance(module, { env: { memory, parallel() { throw new Error('tapegrad: a part cannot split'); } } }).exports;
core.adoptPacks(packs);
Atomics.add(c, ${READY}, 1);
let seen = Atomics.load(c, ${WAKE});
for (;;) {
const until = performance.now() + ${SPIN_MS};
while (Atomics.load(c, ${WAKE}) === seen && performance.now() < until) {}
if (Atomics.load(c, ${WAKE}) === seen) Atomics.wait(c, ${WAKE}, seen);
const gen = seen = Atomics.load(c, ${WAKE});
serveParts(c, gen, Atomics.load(c, ${PARTS}), core.runPart, (e) => {
if (Atomics.compareExchange(c, ${ERROR}, 0, 1) !== 0) return;
const text = String(e && e.name) + '\\n' + String(e && e.message);
for (let i = 0; i < ${TEXT_CHARS}; i++) c[${TEXT} + i] = i < text.length ? text.charCodeAt(i) : 0;
});
}
};
const serveParts = ${serveParts.toString()};
const nodeWorker = typeof process === 'object' && process.getBuiltinModule && process.getBuiltinModule('node:worker_threads');
if (nodeWorker && nodeWorker.workerData) start(nodeWorker.workerData);
else self.onmessage = (e) => start(e.data);
`;
