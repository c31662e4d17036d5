// Lifetimes: tidy() scopes, dispose(), memory(). WebAssembly memory is not garbage collected,
// so every tensor is released explicitly, either by the scope it was made in or by dispose().
import { core, liveNodes } from './core';
import type { Tensor } from './tensor';

const scopes: Tensor[][] = [];

/** Called by the Tensor constructor: the tensor belongs to the innermost open scope, if any. */
export function track(t: Tensor): void {
  if (scopes.length > 0) scopes[scopes.length - 1].push(t);
}

const kept = new WeakSet<Tensor>();

/** Exempts a tensor from every tidy() scope (nn parameters, optimizer state); dispose() still frees it. */
export function keep<T extends Tensor>(t: T): T {
  kept.add(t);
  return t;
}

/** Every tensor reachable from `value` through arrays and plain objects. */
function collect(value: unknown, into: Set<Tensor>, isTensor: (v: unknown) => v is Tensor): void {
  if (isTensor(value)) into.add(value);
  else if (Array.isArray(value)) for (const v of value) collect(v, into, isTensor);
  else if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, into, isTensor);
  }
}

let isTensorFn: (v: unknown) => v is Tensor = (_v): _v is Tensor => false;
export function setTensorCheck(fn: (v: unknown) => v is Tensor): void {
  isTensorFn = fn;
}

/**
 * Runs `fn` and releases every tensor created inside it, except what it returns (a tensor, or
 * arrays and plain objects holding tensors), which moves to the enclosing scope. Scopes nest.
 */
export function tidy<T>(fn: () => T): T {
  const scope: Tensor[] = [];
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    scopes.pop();
    for (const t of scope) if (!kept.has(t)) t.dispose();
    throw err;
  }
  scopes.pop();
  const keep = new Set<Tensor>();
  collect(result, keep, isTensorFn);
  const parent = scopes.length > 0 ? scopes[scopes.length - 1] : null;
  for (const t of scope) {
    if (keep.has(t)) parent?.push(t);
    else if (!kept.has(t)) t.dispose();
  }
  return result;
}

/** Releases a tensor, or every tensor in an array or plain object. */
export function dispose(value: unknown): void {
  const all = new Set<Tensor>();
  collect(value, all, isTensorFn);
  for (const t of all) t.dispose();
}

export interface MemoryInfo {
  /** Tensors alive in the arena (including ones a live graph still needs). */
  tensors: number;
  /** Bytes of tensor values and gradients in use. */
  bytes: number;
  /** Size of the WebAssembly memory. */
  arenaBytes: number;
}

export function memory(): MemoryInfo {
  return { tensors: liveNodes(), bytes: core.tensorBytesInUse(), arenaBytes: core.memory.buffer.byteLength };
}
