// Loads core.wasm (the relaxed-SIMD build where the runtime validates it) synchronously at import
// and gives the rest of the bindings typed access to its exports and memory. The memory is
// shared wherever SharedArrayBuffer works, so worker threads can run kernels on it
// (bindings/threads.ts); elsewhere the same module is given an ordinary memory.
import simdText from '../build/core.wasm.txt';
import relaxedPatch from '../build/relaxed-patch.bin';
import { applyPatch } from './patch';
import type { Cmd } from './opcodes';

interface CoreExports {
  memory: WebAssembly.Memory;
  header: WebAssembly.Global;
  failedRequest: WebAssembly.Global;
  failedOp: WebAssembly.Global;
  badValue: WebAssembly.Global;
  badPosition: WebAssembly.Global;
  badBound: WebAssembly.Global;
  newNode(rank: number, zeroed: number): number;
  runOp(op: number, rank: number, a: number, b: number, c: number, i0: number, i1: number, i2: number, i3: number, i4: number, i5: number, f0: number): number;
  runScalarOp(op: number, a: number, genA: number, b: number, genB: number, i0: number, f0: number): number;
  viewFor(op: number, rank: number, a: number, i0: number, i2: number, i3: number): number;
  runOpInto(op: number, out: number, a: number, b: number, c: number, i0: number, i1: number, i2: number, i3: number, i4: number, i5: number, f0: number): number;
  release(id: number): void;
  setGradEnabled(on: number): number;
  setRequiresGrad(id: number, on: number): void;
  ensureGrad(id: number): number;
  gradView(id: number): number;
  setCaptureMode(on: number): void;
  parkLeafGrads(): number;
  unparkLeafGrads(start: number): void;
  setCapture(id: number, on: number): void;
  tensorBytesInUse(): number;
  dropGrad(id: number): void;
  seed(s: number): void;
  dataOf(id: number): number;
  gradOf(id: number): number;
  fillNode(id: number, value: number): void;
  addFloats(dst: number, src: number, n: number): void;
  beginScope(): number;
  endScope(): void;
  markReturned(id: number, on: number): void;
  keepNode(id: number): void;
  allocBuffer(bytes: number): number;
  freeBuffer(ptr: number, bytes: number): void;
  command(op: number, out: number, a: number, b: number, i0: number, i1: number, i2: number, i3: number, i4: number, f0: number, f1: number): void;
  issue(): number;
  lastNorm: WebAssembly.Global;
  beginTrace(): number;
  endTrace(): void;
  runTrace(trace: number): number;
  disposeTrace(trace: number): void;
  failAllocAfter(n: number): void;
  setSlabMode(mode: number): void;
  initMemory?(): void;
  setThreads(n: number): void;
  runPart(part: number, parts: number): void;
  trapInPart(failing: number, parts: number, hang: number): void;
  newPacks(): number;
  adoptPacks(block: number): void;
  peakBytes(): number;
  resetPeakBytes(): void;
  // a backward walk paused for JavaScript (bindings/custom.ts)
  pausedAt: WebAssembly.Global;
  pausedOut: WebAssembly.Global;
  pausedForCustom: WebAssembly.Global;
  pausedRetain: WebAssembly.Global;
  pausedPrepared: WebAssembly.Global;
  pausedFloor: WebAssembly.Global;
  resumeBackward(at: number, retain: number, prepared: number, custom: number, floor: number): number;
  abandonBackward(at: number, prepared: number, floor: number): void;
  tapeSize(): number;
  madeInScope(id: number): number;
  recordPtr(index: number): number;
  holdTape(delta: number): void;
  setHooked(id: number, on: number): number;
  customRecordLive(id: number, key: number): number;
  adoptNode(id: number): number;
}

const simdBytes = fromText(simdText);
if (!WebAssembly.validate(simdBytes)) {
  throw new Error('tapegrad: this JavaScript runtime cannot run WebAssembly SIMD, which tapegrad needs (Node ≥ 16.4, Deno, Bun, Chrome ≥ 91, Firefox ≥ 89, Safari ≥ 16.4)');
}
const relaxedBytes = applyPatch(simdBytes, relaxedPatch);
const isa: 'simd' | 'relaxed-simd' = WebAssembly.validate(relaxedBytes) ? 'relaxed-simd' : 'simd';
const chosen = isa === 'relaxed-simd' ? relaxedBytes : simdBytes;

/** True when this runtime can share a WebAssembly memory with workers (a page needs cross-origin isolation). */
const canShare = typeof SharedArrayBuffer === 'function' && (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== false;
const { initial, sharedFlagAt } = memoryImport(chosen);
/** The module's linear memory: shared where `canShare` and the runtime grants one (its 4 GiB reservation may be refused). */
export const memory = newMemory(canShare) ?? newMemory(false)!;
if (memory.buffer instanceof ArrayBuffer) chosen[sharedFlagAt] &= ~2; // the memory import declared unshared: what an ordinary Memory satisfies

function newMemory(shared: boolean): WebAssembly.Memory | null {
  try {
    return new WebAssembly.Memory({ initial, maximum: 65536, shared } as WebAssembly.MemoryDescriptor);
  } catch (e) {
    if (!shared) throw e;
    return null;
  }
}
/** The compiled module, for worker threads (instantiated there without its data: see threads.ts). */
export const coreBytes = chosen;

/** Runs a kernel's parts: set by threads.ts; until then (and with one thread) every part runs here. */
let runParts = (parts: number): void => { for (let p = 0; p < parts; p++) core.runPart(p, parts); };
export function setPartRunner(run: (parts: number) => void): void { runParts = run; }

const instance = new WebAssembly.Instance(new WebAssembly.Module(chosen), {
  env: { memory, parallel: (_job: number, parts: number) => runParts(parts) },
});
export const core = instance.exports as unknown as CoreExports;
core.initMemory?.();

/**
 * The build that was loaded: the instruction set ('relaxed-simd' where the runtime supports it,
 * else 'simd'), with '+threads' where kernels can run on worker threads (SharedArrayBuffer and
 * workers available: Node, and pages that are cross-origin isolated).
 *
 * @example
 * ```ts
 * console.log(tg.build); // e.g. 'relaxed-simd+threads', or 'simd' in a page without cross-origin isolation
 * ```
 */
export let build: string = isa;
/** Records that a thread pool can start (threads.ts), for `build`. */
export function markThreaded(): void { build = `${isa}+threads`; }

/**
 * Where the module's memory import is: the initial pages it asks for, and the byte of its limits
 * flags (bit 1 = shared). The import section holds just `env.memory` (asc --importMemory); the
 * functions it imports come after it.
 */
function memoryImport(bytes: Uint8Array): { initial: number; sharedFlagAt: number } {
  const name = [3, 0x65, 0x6e, 0x76, 6, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 2]; // "env" "memory" kind=memory
  for (let i = 8; i + name.length < bytes.length; i++) {
    let j = 0;
    while (j < name.length && bytes[i + j] === name[j]) j++;
    if (j < name.length) continue;
    const flagAt = i + name.length;
    let initialPages = 0, shift = 0, at = flagAt + 1, byte: number;
    do { byte = bytes[at++]; initialPages |= (byte & 0x7f) << shift; shift += 7; } while (byte & 0x80);
    return { initial: initialPages, sharedFlagAt: flagAt };
  }
  throw new Error('tapegrad: the WebAssembly module has no memory import (a broken build)');
}

/** Bytes from the wasm's text form (scripts/build-wasm.mjs's toText says how, and why not hex). */
function fromText(text: string): Uint8Array<ArrayBuffer> {
  const digit: number[] = []; // char code → digit: printable ASCII but for "$'<\`
  for (let c = 32, d = 0; c < 127; c++) if (!'"$\'<\\`'.includes(String.fromCharCode(c))) digit[c] = d++;
  const order: number[] = []; // digit → byte: the 87 frequent bytes (in hex first), then the rest
  for (let i = 0; i < 174; i += 2) order.push(parseInt(text.slice(i, i + 2), 16));
  for (let b = 0; b < 256; b++) if (!order.includes(b)) order.push(b);
  const bytes = new Uint8Array(text.length - 174); // at most one byte a character
  let n = 0;
  for (let i = 174; i < text.length; i++) {
    const d = digit[text.charCodeAt(i)];
    bytes[n++] = order[d < 87 ? d : 87 + (d - 87) * 89 + digit[text.charCodeAt(++i)]];
  }
  return bytes.slice(0, n);
}

// Status codes (assembly/errors.ts).
export const OUT_OF_MEMORY = -1;
export const NO_RULE = -2;
export const BAD_INDEX = -3;
export const STALE = -4;
export const GRAPH_SPENT = -5;
/** backward paused for JavaScript (bindings/custom.ts resumes it). */
export const PAUSED = -6;
/** runScalarOp: an operand's node was released (the handle is stale). */
export const DISPOSED = -7;
export const MAX_RANK = 7;
const NODE_ROW = 64;
const GEN_OFFSET = 28;
const FLAGS_OFFSET = 16;
const REC_OFFSET = 20;
export const REQUIRES_GRAD = 1;
/** The node is a view of another's gradient (assembly/nodes.ts). */
export const GRAD_VIEW = 256;
const HEADER = core.header.value as number;
const SHAPE_SCRATCH = HEADER + 12;

// Views over linear memory, renewed when the allocator has grown it: it writes the new size to
// the header's MEMORY_PAGES word, which even a view older than the growth still covers (a view of
// a shared memory only stops short; an unshared one is detached, and reads undefined there).
const MEMORY_PAGES = (HEADER + 40) >>> 2;
let f32 = new Float32Array(memory.buffer);
let i32 = new Int32Array(memory.buffer);
let pages = -1;
function refresh(): void {
  if (i32[MEMORY_PAGES] !== pages) {
    f32 = new Float32Array(memory.buffer);
    i32 = new Int32Array(memory.buffer);
    pages = i32[MEMORY_PAGES];
  }
}
export function heapF32(): Float32Array { refresh(); return f32; }
export function heapI32(): Int32Array { refresh(); return i32; }

/** The generation counter of node `id` (bumped when it is released). */
export function genOf(id: number): number {
  return nodeField(id, GEN_OFFSET);
}

function nodeField(id: number, offset: number): number {
  const h = heapI32();
  // Pointers are unsigned: `>>> 0` and `>>> 2` keep addresses above 2 GiB right.
  return h[((h[HEADER >>> 2] >>> 0) + id * NODE_ROW + offset) >>> 2];
}

export function flagsOf(id: number): number {
  return nodeField(id, FLAGS_OFFSET);
}

/** The records that wrote node `id`: the first's index and how many (createGraph's walk). */
export function recordsOf(id: number): [number, number] {
  return [nodeField(id, REC_OFFSET), nodeField(id, REC_OFFSET + 4)];
}

/** Node `id`'s shape, read from its row. */
export function dimsOf(id: number): number[] {
  const rank = nodeField(id, 12);
  return Array.from({ length: rank }, (_, d) => nodeField(id, 36 + 4 * d));
}

/** A leaf has no tape record: it was made by the user (or under noGrad), not computed in a graph. */
export function isLeaf(id: number): boolean {
  return nodeField(id, REC_OFFSET) < 0;
}

export function liveNodes(): number {
  return heapI32()[(HEADER + 8) >>> 2];
}

/**
 * Writes `shape` to the header's shape scratch, where newNode and runOp read an output shape.
 * The scratch and a node's row hold MAX_RANK sizes, each an i32: a longer shape is refused here
 * before anything is written, and a size that is not an i32 ≥ 0 before the core reads the scratch
 * (only newNode and runOp do), whatever the caller checked.
 */
export function setScratchShape(shape: readonly number[]): void {
  const n = shape.length;
  if (!(n <= MAX_RANK)) badShape(shape);
  const h = heapI32();
  for (let i = 0; i < n; i++) {
    const d = shape[i];
    if ((d | 0) !== d || d < 0) badShape(shape); // refused before the core reads the scratch (only newNode/runOp do)
    h[(SHAPE_SCRATCH >>> 2) + i] = d;
  }
}

/** setScratchShape's refusal, out of line so the hot path stays small enough to inline. */
function badShape(shape: readonly number[]): never {
  if (shape.length > MAX_RANK) throw new Error(`a shape of ${shape.length} dims cannot be stored: at most ${MAX_RANK} are supported`);
  throw new Error(`shape [${shape.join(',')}] has an invalid size ${String(shape.find((d) => (d | 0) !== d || d < 0))}`);
}

const IN_USE = 4;
const SIZE_OFFSET = 8;
const RANK_OFFSET = 12;

/** True when `id` is a node in use whose rank and element count are those of `dims`. */
export function isNodeOf(id: unknown, dims: unknown): boolean {
  if (typeof id !== 'number' || (id | 0) !== id || id < 0 || !Array.isArray(dims)) return false;
  const h = heapI32();
  if (id >= h[(HEADER + 4) >>> 2]) return false; // the node table's capacity
  let n = 1;
  for (const d of dims) n *= d;
  return (nodeField(id, FLAGS_OFFSET) & IN_USE) !== 0 && nodeField(id, RANK_OFFSET) === dims.length && nodeField(id, SIZE_OFFSET) === n;
}

/**
 * Performs a command (see assembly/replay.ts): an action that is not an op, recorded by a trace
 * while one is recording. Returns 0, OUT_OF_MEMORY or NO_RULE.
 */
export function issue(cmd: Cmd, out = -1, a = -1, b = -1, i0 = 0, i1 = 0, i2 = 0, i3 = 0, i4 = 0, f0 = 0, f1 = 0): number {
  core.command(cmd, out, a, b, i0, i1, i2, i3, i4, f0, f1);
  return core.issue();
}

/** Throws the RangeError for a failed allocation (called when the core returned OUT_OF_MEMORY). */
export function outOfMemory(op: string): never {
  const bytes = core.failedRequest.value as number;
  throw new RangeError(`${op}: out of memory allocating ${bytes} bytes (${core.tensorBytesInUse()} bytes in use by tensors; ` +
    `WebAssembly memory is ${core.memory.buffer.byteLength} bytes, at most ${2 ** 32})`);
}

/**
 * Hooks for the project's own tests, not public API (they may change or go without notice).
 * `failAllocAfter(n)`: the n-th next allocation in the core (n ≥ 1) fails as if memory were
 * exhausted, once; n ≤ 0 disarms it. `slabMode(m)`: how tidy scopes hold 0-d results (assembly/nodes.ts
 * slabs): 0 as any node, 1 in slabs released at once when nothing escapes (the default), 2 in slabs
 * released node by node; switch only with no scope open. `fromText(text)`: the bytes of the wasm's text form.
 * @internal
 */
export const __testing = {
  failAllocAfter(n: number): void { core.failAllocAfter(n); },
  slabMode(mode: 0 | 1 | 2): void { core.setSlabMode(mode); },
  fromText,
};
