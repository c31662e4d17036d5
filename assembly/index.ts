// The module's exports: what the bindings call. Everything takes and returns plain numbers
// (node ids, sizes, pointers into this module's memory).

export { header, dropGrad, gradFor as ensureGrad, gradView, tensorBytesInUse, peakBytes, resetPeakBytes, setCaptureMode, setSlabMode, parkLeafGrads, unparkLeafGrads } from "./nodes";
export { runOp, runScalarOp, runOpInto, release, setGradEnabled, setRequiresGrad, setCapture } from "./autograd";
export { resumeBackward, abandonBackward, setHooked, customRecordLive, adoptNode, pausedAt, pausedOut, pausedForCustom, pausedRetain, pausedPrepared, pausedFloor } from "./autograd";
export { tapeSize, recordPtr, walksPaused as holdTape } from "./tape";
export { failedOp, badValue, badPosition, badBound } from "./errors";
export { command, issue, lastNorm, beginTrace, endTrace, runTrace, disposeTrace } from "./replay";
export { failedRequest, failAllocAfter } from "./alloc";
export { seed } from "./random";
export { beginScope, endScope, markReturned, keepNode, newScopedNode as newNode, viewFor, madeInScope } from "./scopes";
export { setThreads, runPart, trapInPart } from "./parallel";
export { newPacks, adoptPacks } from "./ops/matmul";

import { dataPtr, gradPtr, sizeOf } from "./nodes";
import { alloc, free } from "./alloc";
import { accumulateRun } from "./ops/elementwise";

export function dataOf(id: i32): usize { return dataPtr(id); }
export function gradOf(id: i32): usize { return gradPtr(id); }

export function fillNode(id: i32, value: f32): void {
  let p = dataPtr(id), n = sizeOf(id);
  let v = f32x4.splat(value);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(p + (<usize>i << 2), v);
  for (; i < n; i++) store<f32>(p + (<usize>i << 2), value);
}

/** dst[i] += src[i] for n floats, four lanes at a time (a custom op's gradients into its inputs'). */
export function addFloats(dst: usize, src: usize, n: i32): void { accumulateRun(dst, 1, src, n, false); }

/** A raw buffer for the bindings' own lists (optimizer parameter ids); 0 when out of memory. */
export function allocBuffer(bytes: i32): usize { return alloc(<usize>bytes); }
export function freeBuffer(ptr: usize, bytes: i32): void { free(ptr, <usize>bytes); }
