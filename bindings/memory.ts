// Lifetimes: tidy() scopes, dispose(), memory(). WebAssembly memory is not garbage collected,
// so every tensor is released explicitly, either by the scope it was made in or by dispose().
import { core, liveNodes, outOfMemory } from './core';
import { show } from './shape';
import type { Tensor } from './tensor';

/**
 * Every tensor reachable from `value` through arrays and plain objects (null-prototype ones too,
 * as load() returns), each container visited once so cycles end; a loop, not recursion, so any
 * depth works.
 */
function collect(value: unknown, into: Set<Tensor>, isTensor: (v: unknown) => v is Tensor): void {
  const seen = new Set<object>();
  const todo: unknown[] = [value];
  while (todo.length > 0) {
    const v = todo.pop();
    if (isTensor(v)) { into.add(v); continue; }
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    const proto = Object.getPrototypeOf(v);
    if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) continue;
    seen.add(v);
    for (const x of Object.values(v)) todo.push(x);
  }
}

let isTensorFn: (v: unknown) => v is Tensor = (_v): _v is Tensor => false;
export function setTensorCheck(fn: (v: unknown) => v is Tensor): void {
  isTensorFn = fn;
}

/**
 * Exempts a tensor from every tidy() scope (nn parameters, optimizer state); dispose() still frees it.
 *
 * @example
 * ```ts
 * let w!: tg.Tensor;
 * tg.tidy(() => { w = tg.keep(tg.zeros([2])); });
 * w.isDisposed; // → false
 * ```
 */
export function keep<T extends Tensor>(t: T): T {
  if (!isTensorFn(t)) throw new Error(`keep: expected a Tensor, got ${show(t)}`);
  if (!t.isDisposed) core.keepNode(t.id);
  return t;
}

/**
 * Runs `fn` and releases every tensor created inside it, except what it returns (a tensor, or
 * arrays and plain objects holding tensors), which moves to the enclosing scope. Scopes nest.
 * The core keeps the scope's list of nodes, so closing a scope is one call. The scope closes
 * whatever fn does: returns, throws, or returns something whose reading throws.
 *
 * @example
 * ```ts
 * const y = tg.tidy(() => tg.ones([3]).mul(2).add(1)); // the intermediate is freed, y is kept
 * y.toArray(); // → [3, 3, 3]
 * ```
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new Error(`tidy: expected a function, got ${typeof fn}`);
  if (isAsyncFunction(fn)) throw new Error(ASYNC_TIDY);
  if (!core.beginScope()) outOfMemory('tidy');
  let marked: Tensor[] | null = null;
  try {
    const result = fn();
    if (result !== null && (typeof result === 'object' || typeof result === 'function')) {
      if (isThenable(result)) throw new Error(ASYNC_TIDY);
      const returned = new Set<Tensor>();
      collect(result, returned, isTensorFn);
      marked = [];
      for (const t of returned) {
        if (!t.isDisposed) { core.markReturned(t.id, 1); marked.push(t); }
      }
    }
    return result;
  } finally {
    core.endScope();
    if (marked !== null) for (const t of marked) core.markReturned(t.id, 0);
  }
}

const AsyncFunction = (async () => undefined).constructor;
const isAsyncFunction = (fn: unknown): boolean => (fn as { constructor?: unknown }).constructor === AsyncFunction;

const ASYNC_TIDY = 'tidy: fn is async (it returned a Promise): tidy releases the tensors fn made when fn returns, ' +
  'which for an async function is at its first await, and cannot see the tensors made after it. Put tidy around ' +
  'the synchronous part instead: const loss = tidy(() => step(batch)); await somethingElse();';

function isThenable(x: object): boolean {
  return typeof (x as { then?: unknown }).then === 'function';
}

/**
 * Releases a tensor, or every tensor in an array or plain object.
 *
 * @example
 * ```ts
 * const t = tg.zeros([2]);
 * tg.dispose([t]);
 * t.isDisposed; // → true
 * ```
 */
export function dispose(value: unknown): void {
  const all = new Set<Tensor>();
  collect(value, all, isTensorFn);
  for (const t of all) t.dispose();
}

/** What {@link memory} reports. */
export interface MemoryInfo {
  /** Tensors alive in the arena (including ones a live graph still needs). */
  tensors: number;
  /** Bytes of tensor values and gradients in use. */
  bytes: number;
  /** Size of the WebAssembly memory. */
  arenaBytes: number;
}

/**
 * Counts the live tensors and the bytes in use, e.g. to find a leak.
 * @example
 * ```ts
 * const before = tg.memory().tensors;
 * const t = tg.zeros([4]);
 * tg.memory().tensors - before; // → 1
 * t.dispose();
 * ```
 */
export function memory(): MemoryInfo {
  return { tensors: liveNodes(), bytes: core.tensorBytesInUse(), arenaBytes: core.memory.buffer.byteLength };
}

/**
 * The most bytes tensors (values and gradients) have held at once since the start or the last
 * resetPeakMemory(): what a computation needed at its peak (PyTorch's max_memory_allocated).
 * @example
 * ```ts
 * tg.resetPeakMemory();
 * tg.tidy(() => tg.zeros([1000]).add(1).sum());
 * tg.peakMemory() - tg.memory().bytes >= 8000; // → true
 * ```
 */
export function peakMemory(): number {
  return core.peakBytes();
}

/** Starts peakMemory() again from the bytes in use now, to measure the peak of what follows. */
export function resetPeakMemory(): void {
  core.resetPeakBytes();
}
