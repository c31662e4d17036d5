// Commands and traces.
//
// A command is an action on the arena that is not an op — backward, zeroing gradients, an
// optimizer update, refilling random numbers, a copy — written as a 64-byte record like the
// tape's, with a negative opcode. Every such action the bindings ask for goes through `issue`,
// which performs it; while a trace is recording it also appends it to the trace's program, next
// to a copy of every op record (runOpInto appends those). Replaying a trace runs its program
// again: the same kernels on the same nodes, with whatever values the inputs hold now, and no
// JavaScript per op.
//
//   trace ┌─────────┬────────┬──────────┬───────┬───────┬──────────┬─────────┐
//         │ program │ length │ capacity │ nodes │ count │ capacity │ scalars │   program: records (64 B each)
//         └─────────┴────────┴──────────┴───────┴───────┴──────────┴─────────┘   nodes: ids made while recording
//         0         4        8          12      16      20         24        28
//
// scalars: the program compiled for scalar replay (scalars.ts) at its first run, NOT_SCALAR when it
// cannot be, 0 before.
//
// A trace holds a reference on every node its program names — made while it recorded, read or
// written by an op or a command, the parameters and state in an optimizer's lists included — so
// neither the tidy() scopes inside the traced function nor a dispose() afterwards can free a node
// the program needs (the handle dies; the node waits for the trace).

import { alloc, free, allocFailures } from "./alloc";
import { dataPtr, sizeOf, gradPtr, refsOf, setRefs, countExternal, anySlabs } from "./nodes";
import { RECORD_SIZE, OUT, IN_A, IN_B, IN_C, F0, opOf, attr, fattr, writeRecord } from "./tape";
import { forward, backward, dropRef, noRuleFor, wroteInPlace, setReplaying } from "./autograd";
import { OUT_OF_MEMORY, BAD_INDEX, badIndices } from "./errors";
import { sgdStep, adamStep, zeroGrads, clipGradNorm } from "./ops/optim";
import { argExtreme } from "./ops/reduce";
import { fillRandom, fillDropoutMask, fillIntegers, multinomial } from "./random";
import { scratchFor } from "./scratch";
import { compileScalars, disposeScalars, scalarsValid, segmentAt, segmentEnd, backwardIndex, runSegment, runBackward, NOT_SCALAR } from "./scalars";

export const CMD_BACKWARD = -2;   // a = root, b = seed node or -1, i0 = 1 to retain the graph, i1 = the lowest record to walk
export const CMD_ZERO_GRAD = -3;  // a = node
export const CMD_ZERO_GRADS = -4; // i0 = id list, i1 = count
export const CMD_SGD = -5;        // i0 = params, i1 = momentum buffers, i2 = count, i3 = config
export const CMD_ADAM = -6;       // i0 = params, i1 = first moments, i2 = second moments, i3 = count, i4 = config
export const CMD_CLIP = -7;       // i0 = params, i1 = count, f0 = max norm, f1 = norm type
export const CMD_RANDOM = -8;     // a = node, i0 = 1 for normal, f0 = lo / mean, f1 = hi / std
export const CMD_DROPOUT = -9;    // a = node, f0 = p
export const CMD_COPY = -10;      // out = destination, a = source
export const CMD_ARG_REDUCE = -11; // out, a, i0 = 1 for argmax, i1 = outer, i2 = R, i3 = inner
export const CMD_RANDINT = -20;   // a = node, f0 = low, f1 = high; i0 = 1 for a permutation of 0..size-1 instead
export const CMD_MULTINOMIAL = -21; // out, a = weights, i0 = rows, i1 = categories, i2 = samples, i3 = 1 with replacement

/** The command being issued (bindings fill it through `command`). */
const pendingCommand: usize = memory.data(<i32>RECORD_SIZE, 16);
/** The norm the last CMD_CLIP measured. */
export let lastNorm: f64 = 0;

// ── traces ─────────────────────────────────────────────────────────────────────────────────────

// @ts-ignore: decorator
@inline const PROGRAM: usize = 0;
// @ts-ignore: decorator
@inline const LENGTH: usize = 4;
// @ts-ignore: decorator
@inline const CAPACITY: usize = 8;
// @ts-ignore: decorator
@inline const NODES: usize = 12;
// @ts-ignore: decorator
@inline const NODE_COUNT: usize = 16;
// @ts-ignore: decorator
@inline const NODE_CAPACITY: usize = 20;
// @ts-ignore: decorator
@inline const SCALARS: usize = 24;
// @ts-ignore: decorator
@inline const TRACE_BYTES: usize = 28;

/** The trace being recorded, or 0. */
let recording: usize = 0;

export function isTracing(): bool { return recording != 0; }

/**
 * Appends `bytes` from `src` to the growable buffer whose pointer, length and capacity (in units
 * of `unit` bytes) sit at `field`, field + 4 and field + 8 of the trace. False when out of memory.
 */
function append(field: usize, unit: usize, src: usize): bool {
  let t = recording;
  let buffer = load<usize>(t + field), length = load<i32>(t + field, 4), capacity = load<i32>(t + field, 8);
  if (length == capacity) {
    let grownCapacity = capacity ? capacity << 1 : 256;
    let grown = alloc(<usize>grownCapacity * unit);
    if (!grown) return false;
    if (buffer) { memory.copy(grown, buffer, <usize>length * unit); free(buffer, <usize>capacity * unit); }
    buffer = grown;
    store<usize>(t + field, buffer);
    store<i32>(t + field, grownCapacity, 8);
  }
  memory.copy(buffer + <usize>length * unit, src, unit);
  store<i32>(t + field, length + 1, 4);
  return true;
}

/**
 * Adds a record (an op's or a command) to the program being recorded, and holds every node it
 * names, so a replay never reads a node that was freed (an input disposed after recording).
 */
export function traceInstruction(rec: usize): bool {
  if (!append(PROGRAM, RECORD_SIZE, rec)) return false;
  for (let field = OUT; field <= IN_C; field += 4) {
    let id = load<i32>(rec + field);
    if (id >= 0 && !traceNode(id)) return false;
  }
  switch (opOf(rec)) { // commands over id lists: hold every node of every list
    case CMD_ZERO_GRADS: return traceList(attr(rec, 0), attr(rec, 1));
    case CMD_CLIP: return traceList(attr(rec, 0), attr(rec, 1));
    case CMD_SGD: return traceList(attr(rec, 0), attr(rec, 2)) && traceList(attr(rec, 1), attr(rec, 2));
    case CMD_ADAM: return traceList(attr(rec, 0), attr(rec, 3)) && traceList(attr(rec, 1), attr(rec, 3)) && traceList(attr(rec, 2), attr(rec, 3));
  }
  return true;
}

/** Holds the `count` nodes of the id list at `list` (0 for no list). */
function traceList(list: i32, count: i32): bool {
  if (!list) return true;
  for (let k = 0; k < count; k++) if (!traceNode(load<i32>(<usize>list + (<usize>k << 2)))) return false;
  return true;
}

const nodeScratch: usize = memory.data(4, 4);

/** Holds a node (made while recording, or read by the program) for as long as the trace lives. */
export function traceNode(id: i32): bool {
  store<i32>(nodeScratch, id);
  if (!append(NODES, 4, nodeScratch)) return false;
  setRefs(id, refsOf(id) + 1);
  if (anySlabs()) countExternal(id, -1, -1, 1); // a trace's hold on a slab row keeps it from a release at once
  return true;
}

/** Starts recording; returns the trace, or 0 when out of memory or one is recording already. */
export function beginTrace(): usize {
  if (recording) return 0;
  let t = alloc(TRACE_BYTES);
  if (!t) return 0;
  memory.fill(t, 0, TRACE_BYTES);
  recording = t;
  return t;
}

export function endTrace(): void {
  recording = 0;
}

/**
 * Runs a trace's program again; returns 0 or a status. A bad index or label stops it before the
 * next command (the backward pass or the update that follows the forward ops that read it).
 */
export function runTrace(t: usize): i32 {
  let program = load<usize>(t + PROGRAM), length = load<i32>(t + LENGTH);
  let failures = allocFailures, bad = badIndices;
  let status = 0;
  let c = load<usize>(t + SCALARS);
  if (c > NOT_SCALAR && !scalarsValid(c)) { disposeScalars(c); c = 0; }
  if (!c) { c = compileScalars(program, length); store<usize>(t + SCALARS, c); }
  let scalar = c > NOT_SCALAR, run = 0;
  setReplaying(true);
  for (let i = 0; i < length; i++) {
    let k = scalar ? segmentAt(c, run, i) : -1;
    if (k >= 0) { runSegment(c, k); i = segmentEnd(c, k) - 1; run++; continue; }
    let rec = program + <usize>i * RECORD_SIZE;
    if (opOf(rec) >= 0) {
      if (!forward(rec)) { status = noRuleFor(opOf(rec)); break; }
      continue;
    }
    if (badIndices != bad) { status = BAD_INDEX; break; }
    if (scalar && i == backwardIndex(c)) { runBackward(c); continue; }
    status = perform(rec);
    if (status < 0) break;
  }
  setReplaying(false);
  if (status == 0 && badIndices != bad) status = BAD_INDEX;
  if (status == 0 && allocFailures != failures) status = OUT_OF_MEMORY;
  return status;
}

/** Frees a trace: its program, and its hold on the nodes it made. */
export function disposeTrace(t: usize): void {
  if (recording == t) recording = 0;
  let nodes = load<usize>(t + NODES), count = load<i32>(t + NODE_COUNT);
  for (let k = 0; k < count; k++) dropRef(load<i32>(nodes + (<usize>k << 2)));
  if (nodes) free(nodes, <usize>load<i32>(t + NODE_CAPACITY) << 2);
  let program = load<usize>(t + PROGRAM);
  if (program) free(program, <usize>load<i32>(t + CAPACITY) * RECORD_SIZE);
  disposeScalars(load<usize>(t + SCALARS));
  free(t, TRACE_BYTES);
}

// ── commands ───────────────────────────────────────────────────────────────────────────────────

/** Fills the pending command; `issue` then performs it. */
export function command(op: i32, out: i32, a: i32, b: i32, i0: i32, i1: i32, i2: i32, i3: i32, i4: i32, f0: f32, f1: f32): void {
  let c = pendingCommand;
  memory.fill(c, 0, RECORD_SIZE);
  writeRecord(c, op, out, a, b, -1, i0, i1, i2, i3, i4, 0, f0);
  store<f32>(c, f1, F0 + 4);
}

/** Performs the pending command (recording it when a trace is); returns 0 or a status < 0. */
export function issue(): i32 {
  if (recording && !traceInstruction(pendingCommand)) return OUT_OF_MEMORY;
  return perform(pendingCommand);
}

/** An optimizer step is about to overwrite the parameters that have a gradient (it skips the rest). */
function updated(params: usize, count: i32): void {
  for (let k = 0; k < count; k++) {
    let id = load<i32>(params + (<usize>k << 2));
    if (gradPtr(id)) wroteInPlace(id);
  }
}

function perform(c: usize): i32 {
  let a = load<i32>(c, IN_A);
  switch (opOf(c)) {
    case CMD_BACKWARD: return backward(a, load<i32>(c, IN_B), attr(c, 0) != 0, attr(c, 1));
    case CMD_ZERO_GRAD: {
      let g = gradPtr(a);
      if (g) memory.fill(g, 0, <usize>sizeOf(a) << 2);
      return 0;
    }
    case CMD_ZERO_GRADS: zeroGrads(<usize>attr(c, 0), attr(c, 1)); return 0;
    case CMD_SGD:
      updated(<usize>attr(c, 0), attr(c, 2));
      sgdStep(<usize>attr(c, 0), <usize>attr(c, 1), attr(c, 2), <usize>attr(c, 3));
      return 0;
    case CMD_ADAM:
      updated(<usize>attr(c, 0), attr(c, 3));
      adamStep(<usize>attr(c, 0), <usize>attr(c, 1), <usize>attr(c, 2), attr(c, 3), <usize>attr(c, 4));
      return 0;
    case CMD_CLIP: lastNorm = clipGradNorm(<usize>attr(c, 0), attr(c, 1), <f64>fattr(c, 0), <f64>fattr(c, 1)); return 0;
    case CMD_RANDOM:
      wroteInPlace(a);
      fillRandom(dataPtr(a), sizeOf(a), attr(c, 0) != 0, <f64>fattr(c, 0), <f64>fattr(c, 1));
      return 0;
    case CMD_DROPOUT:
      wroteInPlace(a);
      fillDropoutMask(dataPtr(a), sizeOf(a), <f64>fattr(c, 0));
      return 0;
    case CMD_COPY: {
      let out = load<i32>(c, OUT);
      wroteInPlace(out);
      memory.copy(dataPtr(out), dataPtr(a), <usize>sizeOf(out) << 2);
      return 0;
    }
    case CMD_ARG_REDUCE:
      argExtreme(attr(c, 0) != 0, dataPtr(a), dataPtr(load<i32>(c, OUT)), attr(c, 1), attr(c, 2), attr(c, 3));
      return 0;
    case CMD_RANDINT:
      wroteInPlace(a);
      fillIntegers(dataPtr(a), sizeOf(a), attr(c, 0) != 0, <i32>fattr(c, 0), <i32>fattr(c, 1));
      return 0;
    case CMD_MULTINOMIAL: {
      let out = load<i32>(c, OUT), cum = scratchFor(<usize>max(attr(c, 1), 1) << 3);
      if (!cum) return OUT_OF_MEMORY;
      wroteInPlace(out);
      return multinomial(CMD_MULTINOMIAL, dataPtr(a), dataPtr(out), attr(c, 0), attr(c, 1), attr(c, 2), attr(c, 3) != 0, cum) ? 0 : BAD_INDEX;
    }
  }
  return noRuleFor(opOf(c));
}
