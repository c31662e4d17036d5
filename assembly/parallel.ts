// Splitting a kernel's work over threads (bindings/threads.ts runs the pool).
//
// Every worker instantiates this module on the same shared memory, but each instance has its own
// globals: a kernel part run on a worker may read only memory and its job record, never a global
// the main thread set. What a part needs of its own comes from the main thread: its packing
// buffers (adoptPacks in ops/matmul.ts), scratch per part (allocated before the job), and the
// node table's address (read from the header at each part). A kernel that splits writes its
// arguments to the job record only when it splits (a kernel run whole inside another's part must
// leave the record be) and calls `runParallel`; the host wakes the
// workers, and the parts are claimed one by one by whichever thread is free — the main thread
// too — each part calling `runPart` in its own instance. Parts write disjoint outputs, and each
// output element is computed by one part in the same order whatever the number of parts, so
// results are bit-identical for any thread count, and a part may run anywhere.
//
// The job record (one: a part never starts another parallel job, see `partsFor`):
//
//   job
//   ┌──────┬──────────────────────────────────────────────────────────────┐
//   │ kind │ arguments, i32 or f32 words as the kind's kernel lays them     │
//   └──────┴──────────────────────────────────────────────────────────────┘
//   0      4                                                        JOB_BYTES

import { gemmPart } from "./ops/matmul";
import { unaryPart, binaryPart } from "./ops/elementwise";
import { attentionPart } from "./ops/attention";
import { convPart } from "./ops/conv";
import { optimPart } from "./ops/optim";
import { reducePart } from "./ops/reduce";
import { permutePart } from "./ops/shape";
import { readNodeTable } from "./nodes";

@external("env", "parallel") declare function hostParallel(job: usize, parts: i32): void;

// @ts-ignore: decorator
@inline export const JOB_GEMM: i32 = 1;
// @ts-ignore: decorator
@inline export const JOB_UNARY: i32 = 2;
// @ts-ignore: decorator
@inline export const JOB_ATTENTION: i32 = 3;
// @ts-ignore: decorator
@inline export const JOB_CONV: i32 = 5;
// @ts-ignore: decorator
@inline export const JOB_BINARY: i32 = 6;
// @ts-ignore: decorator
@inline export const JOB_OPTIM: i32 = 7;
// @ts-ignore: decorator
@inline export const JOB_REDUCE: i32 = 8;
// @ts-ignore: decorator
@inline export const JOB_PERMUTE: i32 = 9;
/** Test hook: see trapInPart. */
// @ts-ignore: decorator
@inline export const JOB_TRAP: i32 = 4;

// @ts-ignore: decorator
@inline const JOB_BYTES: i32 = 64;
export const job: usize = memory.data(JOB_BYTES, 16);

/** Threads the host will run parts on (1: every part runs here, in order). Set by the host. */
let threads: i32 = 1;
/** True while a parallel job runs: a part that would split again runs whole instead. */
let busy = false;

export function setThreads(n: i32): void {
  threads = n;
  busy = false; // a job that failed left it set
}

/**
 * How many parts to split `work` (in units of the kernel's inner cost) into: one per thread, but
 * no part smaller than `grain`, and 1 inside a part or on a worker (whose `threads` stays 1).
 */
// @ts-ignore: decorator
@inline export function partsFor(work: i64, grain: i64): i32 {
  if (work < grain << 1 || threads <= 1 || busy) return 1; // (first: the one test a small op pays)
  let most = work / grain; // ≥ 2 here
  return most < <i64>threads ? <i32>most : threads;
}

/** Runs the job in `job` as `parts` parts: here in order when 1, else through the host's pool. */
export function runParallel(parts: i32): void {
  if (parts <= 1) { runPart(0, 1); return; }
  busy = true;
  hostParallel(job, parts);
  busy = false;
}

/** Runs part `part` of `parts` of the job in `job` (called by the host, on any thread). */
export function runPart(part: i32, parts: i32): void {
  readNodeTable(); // a worker's own global (the table moves when it grows)
  switch (load<i32>(job)) {
    case JOB_GEMM: gemmPart(job, part, parts); break;
    case JOB_UNARY: unaryPart(job, part, parts); break;
    case JOB_ATTENTION: attentionPart(job, part, parts); break;
    case JOB_CONV: convPart(job, part, parts); break;
    case JOB_BINARY: binaryPart(job, part, parts); break;
    case JOB_OPTIM: optimPart(job, part, parts); break;
    case JOB_REDUCE: reducePart(job, part, parts); break;
    case JOB_PERMUTE: permutePart(job, part, parts); break;
    case JOB_TRAP: trapPart(part); break;
    default: unreachable();
  }
}

/**
 * Test hook: runs a job of `parts` parts whose part `failing` traps (or, with `hang`, never ends
 * on a worker), while the others wait (up to a second or so) for it to start: so the tests see a worker's
 * error, or a worker that stops, reach the caller. Job words: 1 failing, 2 hang, 3 started, 4 never set.
 */
export function trapInPart(failing: i32, parts: i32, hang: bool): void {
  store<i32>(job, JOB_TRAP);
  store<i32>(job, failing, 4);
  store<i32>(job, hang, 8);
  atomic.store<i32>(job, 0, 12);
  atomic.store<i32>(job, 0, 16);
  runParallel(parts);
}

function trapPart(part: i32): void {
  if (part != load<i32>(job, 4)) {
    for (let i = 0; i < 1 << 28 && !atomic.load<i32>(job, 12); i++) {}
    return;
  }
  atomic.store<i32>(job, 1, 12);
  if (!load<i32>(job, 8)) unreachable();
  while (threads == 1 && !atomic.load<i32>(job, 16)) {} // a worker's instance hangs (the main thread's never does)
}

/** [lo, hi) of `part` when n units are split into `parts` nearly equal runs of whole `unit`s. */
// @ts-ignore: decorator
@inline export function partRange(n: i32, unit: i32, part: i32, parts: i32): i64 {
  let units = (n + unit - 1) / unit;
  let lo = min(n, <i32>(<i64>units * part / parts) * unit);
  let hi = min(n, <i32>(<i64>units * (part + 1) / parts) * unit);
  return (<i64>hi << 32) | <i64><u32>lo;
}
