// Running ops, walking the tape backwards, and releasing nodes.
//
// Every op goes through `runOp`: it builds a tape record, appends it when an input requires
// grad (or writes it to a scratch slot when not), and runs the forward kernel from the record.
// `backward` walks the tape from the root's record down, and for every record whose output has
// a gradient runs that op's backward kernel, which accumulates (+=) into its inputs' gradients.

import * as Op from "./ops/opcodes";
import { binaryForward, binaryBackward, binaryValue, binaryGradX, binaryGradY, xNodeOf, yNodeOf, unaryOne, unaryGradOne, powHalfForward, powHalfBackward, unaryForward, unaryBackward } from "./ops/elementwise";
import { matmulForward, matmulBackward, ensurePacks } from "./ops/matmul";
import { reduceForward, reduceBackward } from "./ops/reduce";
import { softmaxForward, softmaxBackward } from "./ops/softmax";
import { shapeForward, shapeBackward } from "./ops/shape";
import { conv2dForward, conv2dBackward, poolForward, poolBackward } from "./ops/conv";
import { lossForward, lossBackward } from "./ops/loss";
import { extraOp, triangle, accumulateRun } from "./ops/elementwise";
import { attentionForward, attentionBackward } from "./ops/attention";
import { layerNormForward, layerNormBackward } from "./ops/norm";
import { varKernel, cumsumForward, cumsumBackward } from "./ops/reduce";
import { sortForward, sortBackward, oneHotForward } from "./ops/sort";
import { recurrentForward, recurrentBackward } from "./ops/recurrent";
import { alloc, free, allocFailures, reserve } from "./alloc";
import { newScopedNode, newScopedScalar } from "./scopes";
import { isTracing, traceInstruction } from "./replay";
import { freeRowOf, flagsOf, setFlags, requiresGrad, refsOf, setRefs, bumpGen, addRecord, versionOf, bumpVersion, holdForRecord, VERSION_SHIFT,
  firstRecord, recordCount, baseOf, gradPtr, genOf, scalarGradFor, setScalarRecord, gradFor, newGrad, dropGrad, dropComputedGrad, sizeOf, dataPtr, REQUIRES_GRAD, HANDLE, CAPTURE, REACHED, FRESH_GRAD, tensorBytesInUse, liveNodeCount,
  IN_USE, KEPT, RETURNED, GRAD_VIEW, DATA_VIEW, isSlab, slabPos, countExternal, anySlabs, freeRowSlow, slabsFree, slabHeight, slabNext, slabChunkStart, SLAB_CHUNK,
  closeSlab, slabMode, dropSlabRow, publishLiveNodes } from "./nodes";
import { appendRecord, writeRecord, trimTape, killRecord, recordAt, scratchRecord, opOf, outOf, inA, inB, inC, DEAD,
  F0, STAMP, STATE, SPENT, spendRecord, graphNeedsCheck, markCheckDue, attr, fattr, walksPaused } from "./tape";
import { OUT_OF_MEMORY, NO_RULE, BAD_INDEX, STALE, GRAPH_SPENT, PAUSED, DISPOSED, badIndices, failWith } from "./errors";

let gradEnabled: bool = true;
/** While a trace replays: its program ran every forward afresh, so backward's graph checks are moot. */
let replaying = false;
export function setReplaying(on: bool): void { replaying = on; }

export function noRuleFor(op: i32): i32 {
  return failWith(NO_RULE, op);
}

/** The sum of the versions of the nodes a record names: its stamp when it was written. */
// @ts-ignore: decorator
@inline function stampOf(rec: usize): i32 {
  return versionOf(outOf(rec)) + versionOf(inA(rec)) + versionOf(inB(rec)) + versionOf(inC(rec));
}

/**
 * Notes that node `id`'s values were overwritten in place (copy_, a fill, an optimizer update):
 * a record that saved it can no longer be differentiated.
 */
export function wroteInPlace(id: i32): void {
  bumpVersion(id);
  if (refsOf(id) > 0 || recordCount(id) > 0 || baseOf(id) >= 0) markCheckDue();
}

export function forward(rec: usize): bool {
  switch (opOf(rec)) {
    case Op.POW: // x ** ±0.5 with a number exponent is a square root, as in PyTorch; else as below
      if (powHalfForward(rec)) return true;
    case Op.ADD: case Op.SUB: case Op.MUL: case Op.DIV: case Op.MAXIMUM: case Op.MINIMUM:
      binaryForward(rec); return true;
    case Op.NEG: case Op.ABS: case Op.EXP: case Op.LOG: case Op.SQRT: case Op.TANH: case Op.SIGMOID:
    case Op.RELU: case Op.LEAKY_RELU: case Op.GELU: case Op.GELU_TANH:
      unaryForward(rec); return true;
    case Op.MATMUL:
      matmulForward(rec); return true;
    case Op.SUM: case Op.MEAN: case Op.MAX: case Op.MIN: case Op.LOGSUMEXP:
      reduceForward(rec); return true;
    case Op.SOFTMAX: case Op.LOG_SOFTMAX:
      softmaxForward(rec); return true;
    case Op.RESHAPE: case Op.PERMUTE: case Op.EXPAND: case Op.CAT_PART: case Op.NARROW:
    case Op.INDEX_SELECT: case Op.GATHER:
      shapeForward(rec); return true;
    case Op.CONV2D: case Op.CONV_TRANSPOSE2D:
      conv2dForward(rec); return true;
    case Op.MAX_POOL2D: case Op.AVG_POOL2D:
      poolForward(rec); return true;
    case Op.CROSS_ENTROPY: case Op.NLL_LOSS: case Op.MSE_LOSS: case Op.BCE_WITH_LOGITS:
      lossForward(rec); return true;
    case Op.WHERE: case Op.MASKED_FILL: case Op.COMPARE: case Op.CLAMP:
    case Op.SIN: case Op.COS: case Op.SQUARE: case Op.RSQRT: case Op.SILU: case Op.SOFTPLUS:
      extraOp(rec, false); return true;
    case Op.TRIL: case Op.TRIU:
      triangle(rec, false); return true;
    case Op.SCALED_DOT_PRODUCT_ATTENTION:
      attentionForward(rec); return true;
    case Op.LAYER_NORM:
      layerNormForward(rec); return true;
    case Op.VAR: case Op.STD:
      varKernel(rec, false); return true;
    case Op.CUMSUM:
      cumsumForward(rec); return true;
    case Op.SORT: case Op.TOPK:
      sortForward(rec); return true;
    case Op.ONE_HOT:
      oneHotForward(rec); return true;
    case Op.LSTM: case Op.GRU:
      recurrentForward(rec); return true;
    case Op.CUSTOM: // JavaScript wrote the output before it recorded the op
      return true;
  }
  return false;
}

function backwardRecord(rec: usize): bool {
  switch (opOf(rec)) {
    case Op.POW:
      if (powHalfBackward(rec)) return true;
    case Op.ADD: case Op.SUB: case Op.MUL: case Op.DIV: case Op.MAXIMUM: case Op.MINIMUM:
      binaryBackward(rec); return true;
    case Op.NEG: case Op.ABS: case Op.EXP: case Op.LOG: case Op.SQRT: case Op.TANH: case Op.SIGMOID:
    case Op.RELU: case Op.LEAKY_RELU: case Op.GELU: case Op.GELU_TANH:
      unaryBackward(rec); return true;
    case Op.MATMUL:
      matmulBackward(rec); return true;
    case Op.SUM: case Op.MEAN: case Op.MAX: case Op.MIN: case Op.LOGSUMEXP:
      reduceBackward(rec); return true;
    case Op.SOFTMAX: case Op.LOG_SOFTMAX:
      softmaxBackward(rec); return true;
    case Op.RESHAPE: case Op.PERMUTE: case Op.EXPAND: case Op.CAT_PART: case Op.NARROW:
    case Op.INDEX_SELECT: case Op.GATHER:
      shapeBackward(rec); return true;
    case Op.CONV2D: case Op.CONV_TRANSPOSE2D:
      conv2dBackward(rec); return true;
    case Op.MAX_POOL2D: case Op.AVG_POOL2D:
      poolBackward(rec); return true;
    case Op.CROSS_ENTROPY: case Op.NLL_LOSS: case Op.MSE_LOSS: case Op.BCE_WITH_LOGITS:
      lossBackward(rec); return true;
    case Op.WHERE: case Op.MASKED_FILL: case Op.CLAMP:
    case Op.SIN: case Op.COS: case Op.SQUARE: case Op.RSQRT: case Op.SILU: case Op.SOFTPLUS:
      extraOp(rec, true); return true;
    case Op.TRIL: case Op.TRIU:
      triangle(rec, true); return true;
    case Op.COMPARE: // never recorded: the façade runs it with gradients off (a constant, like argmax)
    case Op.VAR: case Op.STD:
      varKernel(rec, true); return true;
    case Op.CUMSUM:
      cumsumBackward(rec); return true;
    case Op.SORT: case Op.TOPK:
      sortBackward(rec); return true;
    case Op.ONE_HOT: // indices have no gradient
      return true;
    case Op.SCALED_DOT_PRODUCT_ATTENTION:
      attentionBackward(rec); return true;
    case Op.LAYER_NORM:
      layerNormBackward(rec); return true;
    case Op.LSTM: case Op.GRU:
      recurrentBackward(rec); return true;
    case Op.CUSTOM: // its first record pauses the walk for JavaScript (walk); the others hold more inputs
      return attr(rec, 1) != 0;
  }
  return false;
}

/**
 * backwardRecord for an elementwise op with one element (scalar graphs): binaryBackward's and
 * unaryBackward's one-element paths, the same float operations, without the dispatch. False for
 * any other record (pow keeps its square-root cases in powHalfBackward).
 */
// @ts-ignore: decorator
@inline function scalarBackward(rec: usize, out: i32): bool {
  let op = opOf(rec);
  if (op > Op.GELU_TANH || op == Op.POW || sizeOf(out) != 1) return false;
  let a = inA(rec), b = inB(rec), g = gradPtr(out);
  if (op >= Op.NEG) {
    let gx: usize = requiresGrad(a) ? scalarGradFor(a) : 0;
    if (gx) unaryGradOne(op, dataPtr(a), dataPtr(out), g, gx, fattr(rec, 0));
    return true;
  }
  let xNode = xNodeOf(a, b, attr(rec, 0)), yNode = yNodeOf(a, b, attr(rec, 0));
  // the operands' values, then each gradient made and added, as nodesBackward does
  let x = load<f32>(xNode >= 0 ? dataPtr(xNode) : rec + F0), y = load<f32>(yNode >= 0 ? dataPtr(yNode) : rec + F0);
  let gv = load<f32>(g), z = load<f32>(dataPtr(out));
  if (xNode >= 0 && requiresGrad(xNode)) { let gx = scalarGradFor(xNode); if (gx) store<f32>(gx, load<f32>(gx) + binaryGradX(op, gv, x, y, z)); }
  if (yNode >= 0 && requiresGrad(yNode)) { let gy = scalarGradFor(yNode); if (gy) store<f32>(gy, load<f32>(gy) + binaryGradY(op, gv, x, y, z)); }
  return true;
}

/**
 * scalarBackward for x op y where x = a and y = b are both nodes and `op` is a constant, so that
 * its rule (binaryGradX/Y) is inlined as the one expression it is. scalarRun takes add and mul
 * this way, the ops of a scalar graph: a chain of them ran in 0.86x the time, micrograd's demo
 * step in 0.95x (the general one-element path also reads the op's attribute and its output, and
 * switches on the op for each operand). Its two lines look like scalarBackward's last two, but
 * sharing one helper with it (x, y, z and the nodes as arguments) made the chain 1.23x slower
 * than this: V8's code for the walk is that sensitive (micrograd.mjs --chain --rounds 3 shows it).
 */
// @ts-ignore: decorator
@inline function nodesBackward(op: i32, a: i32, b: i32, g: usize): void {
  let gv = load<f32>(g), x = load<f32>(dataPtr(a)), y = load<f32>(dataPtr(b));
  if (requiresGrad(a)) { let gx = scalarGradFor(a); if (gx) store<f32>(gx, load<f32>(gx) + binaryGradX(op, gv, x, y, 0)); }
  if (requiresGrad(b)) { let gy = scalarGradFor(b); if (gy) store<f32>(gy, load<f32>(gy) + binaryGradY(op, gv, x, y, 0)); }
}

// @ts-ignore: decorator
@inline function tracks(id: i32): bool { return id >= 0 && requiresGrad(id); }

/**
 * Runs op `op` writing node `out` from inputs a, b, c (-1 for none) with integer attributes
 * i0..i5 and float attribute f0. Returns 0, OUT_OF_MEMORY, or NO_RULE.
 */
export function runOpInto(op: i32, out: i32, a: i32, b: i32, c: i32, i0: i32, i1: i32, i2: i32, i3: i32, i4: i32, i5: i32, f0: f32): i32 {
  let record = gradEnabled && (tracks(a) || tracks(b) || tracks(c));
  // Recorded ops are written straight into their tape slot; others into the scratch record.
  let index = -1;
  let rec = scratchRecord;
  if (record) {
    index = appendRecord();
    if (index < 0) return OUT_OF_MEMORY;
    rec = recordAt(index);
  }
  writeRecord(rec, op, out, a, b, c, i0, i1, i2, i3, i4, i5, f0);
  if (record) {
    addRecord(out, index);
    let outFlags = flagsOf(out);
    setFlags(out, outFlags | REQUIRES_GRAD);
    // the stamp is stampOf(rec), read from the rows this touches anyway
    let stamp = (outFlags >>> VERSION_SHIFT) + holdForRecord(a) + holdForRecord(b) + holdForRecord(c);
    if (anySlabs()) countExternal(a, b, c, 1);
    store<i32>(rec, stamp, STAMP);
    store<i32>(rec, 0, STATE);
  }
  if (isTracing() && !traceInstruction(rec)) return OUT_OF_MEMORY;
  let failures = allocFailures, bad = badIndices; // a kernel's scratch allocation can fail too
  if (!forward(rec)) return noRuleFor(op);
  if (badIndices != bad) return BAD_INDEX;
  return allocFailures == failures ? 0 : OUT_OF_MEMORY;
}

/** Creates the output (shape in the header scratch) and runs the op; returns its id or a code < 0. */
export function runOp(op: i32, rank: i32, a: i32, b: i32, c: i32, i0: i32, i1: i32, i2: i32, i3: i32, i4: i32, i5: i32, f0: f32): i32 {
  let out = newScopedNode(rank, false);
  if (out < 0) return OUT_OF_MEMORY;
  let status = runOpInto(op, out, a, b, c, i0, i1, i2, i3, i4, i5, f0);
  if (status < 0) { release(out); return status; }
  return out;
}

/**
 * runOp for a 0-d result (scalar graphs: micrograd's): five arguments from JavaScript instead of
 * twelve, and for an elementwise op one pass that makes the row, writes the record and computes
 * the value, without the general path's shape, dispatch and broadcast steps. The record and the
 * float operations are runOp's (binaryForward's and unaryForward's one-element paths); pow (its
 * square-root cases) and a recording trace take runOp. genA and genB are the handles'
 * generations: DISPOSED when either node was released since.
 */
export function runScalarOp(op: i32, a: i32, genA: i32, b: i32, genB: i32, i0: i32, f0: f32): i32 {
  // the handles' generations are checked here, in rows the op reads anyway, not by JavaScript
  if (genOf(a) != genA || (b >= 0 && genOf(b) != genB)) return DISPOSED;
  let binary = op <= Op.MINIMUM && op != Op.POW;
  if (!(binary || (op >= Op.NEG && op <= Op.GELU_TANH)) || isTracing()) return runOp(op, 0, a, b, -1, i0, 0, 0, 0, 0, 0, f0);
  let out = newScopedScalar();
  if (out < 0) return OUT_OF_MEMORY;
  let rec = scratchRecord;
  if (gradEnabled && (tracks(a) || tracks(b))) {
    let index = appendRecord();
    if (index < 0) { release(out); return OUT_OF_MEMORY; }
    rec = recordAt(index);
    setScalarRecord(out, index);
    store<i32>(rec, holdForRecord(a) + holdForRecord(b), STAMP); // out is new: version 0
    if (anySlabs() && !isSlab(out)) countExternal(a, b, -1, 1); // a slab row's record holds its inputs as one of the slab's own (releaseSlab)
    store<i32>(rec, 0, STATE);
  }
  writeRecord(rec, op, out, a, b, -1, i0, 0, 0, 0, 0, 0, f0);
  if (!binary) {
    unaryOne(op, dataPtr(a), dataPtr(out), f0);
    return out;
  }
  let x = xNodeOf(a, b, i0), y = yNodeOf(a, b, i0); // a number rides in f0
  store<f32>(dataPtr(out), binaryValue(op, load<f32>(x >= 0 ? dataPtr(x) : rec + F0), load<f32>(y >= 0 ? dataPtr(y) : rec + F0)));
  return out;
}

export function setGradEnabled(on: bool): bool {
  let was = gradEnabled;
  gradEnabled = on;
  return was;
}

/**
 * Accumulates the gradient of `root` — ones when seed < 0, else node `seed`'s values — and
 * propagates it to every leaf that requires grad. Returns 0 or a status, and a status means
 * nothing changed:
 * - a graph a previous backward walked without `retain` (GRAPH_SPENT), or one that read a tensor
 *   modified in place since (STALE), is refused before anything is written;
 * - every gradient buffer and kernel scratch the walk needs is made first, so running out of
 *   memory changes nothing.
 * The walk allocates only gradient buffers: kernel scratch is made before it (matmul's packing
 * buffers here; conv's column buffer only grows, and its forward pass already sized it). That is
 * at most one buffer per live node and never more bytes than the live tensors hold, so when that
 * much (with each block's header and size-class rounding) is reserved at the top of the heap,
 * nothing it allocates can fail and the checking pass is skipped — unless a live record may be
 * spent or stale (see tape.ts). Otherwise a pass over the graph makes every buffer first,
 * or finds the record to refuse. Gradients of non-leaf nodes are dropped once used (grad() keeps
 * its inputs').
 */
export function backward(root: i32, seed: i32, retain: bool, floor: i32): i32 {
  let failures = allocFailures, bad = badIndices;
  let last = firstRecord(root) + recordCount(root) - 1;
  let check = !replaying && graphNeedsCheck();
  if (!ensurePacks()) return OUT_OF_MEMORY;
  let reserved = reserve(2 * tensorBytesInUse() + 64 * <f64>liveNodeCount());
  let prepared = check || !reserved;
  if (prepared) {
    let status = prepareGradients(root, last, floor, check, !reserved);
    if (status < 0) return status;
  }
  let n = sizeOf(root);
  let copy = seed >= 0 && n > 0 && !gradPtr(root); // a new gradient takes the seed as it is: no zero-fill, no add
  let g = copy ? newGrad(root, false) : gradFor(root);
  if (!g) return allocFailures == failures ? 0 : OUT_OF_MEMORY; // or a leaf grad() does not capture
  if (copy) {
    memory.copy(g, dataPtr(seed), <usize>n << 2);
  } else if (seed >= 0) {
    accumulateRun(g, 1, dataPtr(seed), n, false); // four lanes at a time: a scalar loop cost 0.45 ns an element
  } else {
    for (let i = 0; i < n; i++) store<f32>(g + (<usize>i << 2), load<f32>(g + (<usize>i << 2)) + 1);
  }
  if (prepared) clearReached(root);
  if (!retain) markCheckDue(); // the walk leaves spent records on the tape
  if (badIndices != bad) return BAD_INDEX;
  if (allocFailures != failures) return OUT_OF_MEMORY;
  return walk(last, retain, prepared, WALK_FRESH, floor);
}

// ── pausing the walk for JavaScript ──────────────────────────────────────────────────────────────
//
// A custom op's backward and a tensor hook run in JavaScript. The walk stops before such a record
// and returns PAUSED, with where and how in these globals; JavaScript does its part (a custom op:
// adds its inputs' gradients; a hook: may rewrite the tensor's gradient, complete by then since
// every record that reads the tensor comes later on the tape) and calls resumeBackward. Nothing of
// the walk is left in the core meanwhile, so JavaScript may run another backward first (a
// checkpoint recomputes and walks its segment inside the outer walk's pause).

// @ts-ignore: decorator
@inline const WALK_FRESH: i32 = 0;
/** Resume: JavaScript ran the hook of record `from`'s output; run that record as usual. */
// @ts-ignore: decorator
@inline const WALK_AFTER_HOOK: i32 = 1;
/** Resume: JavaScript ran the custom op of record `from`; only its bookkeeping is left. */
// @ts-ignore: decorator
@inline const WALK_AFTER_CUSTOM: i32 = 2;

export let pausedAt: i32 = -1;
export let pausedOut: i32 = -1;
export let pausedForCustom: bool = false;
export let pausedRetain: bool = false;
export let pausedPrepared: bool = false;
export let pausedFloor: i32 = 0;

/** Nodes whose hooks JavaScript runs (few: a list, checked only while it is not empty). */
let hooked: usize = 0;
let hookedCount: i32 = 0;
let hookedCapacity: i32 = 0;

/** Marks (or unmarks) node `id` as hooked: the walk pauses when its gradient is complete. false: out of memory. */
export function setHooked(id: i32, on: bool): bool {
  for (let k = 0; k < hookedCount; k++) {
    if (load<i32>(hooked + (<usize>k << 2)) != id) continue;
    if (!on) { hookedCount--; store<i32>(hooked + (<usize>k << 2), load<i32>(hooked + (<usize>hookedCount << 2))); }
    return true;
  }
  if (!on) return true;
  if (hookedCount == hookedCapacity) {
    let capacity = max(16, hookedCapacity << 1), grown = alloc(<usize>capacity << 2);
    if (!grown) return false;
    if (hooked) { memory.copy(grown, hooked, <usize>hookedCount << 2); free(hooked, <usize>hookedCapacity << 2); }
    hooked = grown; hookedCapacity = capacity;
  }
  store<i32>(hooked + (<usize>hookedCount << 2), id);
  hookedCount++;
  return true;
}

function isHooked(id: i32): bool {
  for (let k = 0; k < hookedCount; k++) if (load<i32>(hooked + (<usize>k << 2)) == id) return true;
  return false;
}

/**
 * Walks the tape from record `from` down to record `floor`: each record whose output has a
 * gradient runs its backward kernel. `how` says whether record `from` is where a pause left off
 * (WALK_AFTER_*). A walk that runs inside another's pause (a checkpoint's) starts its floor above
 * the paused walk's records, whose nodes hold gradients not yet passed on.
 */
function walk(from: i32, retain: bool, prepared: bool, how: i32, floor: i32): i32 {
  let failures = allocFailures, bad = badIndices;
  for (let i = from; i >= floor; i--) {
    if (hookedCount == 0 && !prepared && (i != from || how == WALK_FRESH)) {
      i = scalarRun(i, floor, retain);
      if (i < floor) break;
    }
    let rec = recordAt(i);
    if (opOf(rec) == DEAD) continue;
    let out = outOf(rec);
    if (!gradPtr(out)) {
      // a node marked but never given a gradient (a custom op returned none for it): clear its marks too
      if (prepared) { clearReached(out); clearInputs(rec); }
      continue;
    }
    let resumed = i == from && how != WALK_FRESH;
    if (!resumed) {
      let custom = opOf(rec) == Op.CUSTOM && attr(rec, 1) == 0;
      // a hook runs once the gradient is complete: at the node's last record, the walk's first
      if (custom || (hookedCount > 0 && !replaying && i == firstRecord(out) + recordCount(out) - 1 && isHooked(out))) {
        pausedAt = i; pausedOut = out; pausedForCustom = custom; pausedRetain = retain; pausedPrepared = prepared; pausedFloor = floor;
        walksPaused(1);
        return PAUSED;
      }
    }
    if (!(resumed && how == WALK_AFTER_CUSTOM) && !scalarBackward(rec, out) && !backwardRecord(rec)) return noRuleFor(opOf(rec));
    if (prepared) clearInputs(rec);
    ranRecord(i, rec, out, retain);
  }
  if (badIndices != bad) return BAD_INDEX;
  return allocFailures == failures ? 0 : OUT_OF_MEMORY;
}

/**
 * The walk's loop for a run of one-element elementwise records (a scalar graph), when no hook
 * waits and no marks need clearing: from record `i` down to `floor`, stopping at the first other
 * record, whose index it returns (the walk takes that one), or floor − 1.
 */
// @ts-ignore: decorator
@inline function scalarRun(i: i32, floor: i32, retain: bool): i32 {
  for (; i >= floor; i--) {
    let rec = recordAt(i);
    if (opOf(rec) == DEAD) continue;
    let out = outOf(rec);
    let g = gradPtr(out);
    if (!g) continue;
    let op = opOf(rec), b = inB(rec); // read here, not once above the DEAD test: that made the add/mul chain 1.14x slower
    if (b >= 0 && (op == Op.ADD || op == Op.MUL) && sizeOf(out) == 1) {
      if (op == Op.ADD) nodesBackward(Op.ADD, inA(rec), b, g);
      else nodesBackward(Op.MUL, inA(rec), b, g);
    } else if (!scalarBackward(rec, out)) break;
    ranRecord(i, rec, out, retain);
  }
  return i;
}

/**
 * The walk has run record `i` (rec, writing node `out`): spent unless the graph is retained, and
 * a non-leaf's gradient is dropped once its first record has used it (grad() keeps its inputs').
 */
// @ts-ignore: decorator
@inline function ranRecord(i: i32, rec: usize, out: i32, retain: bool): void {
  if (!retain) spendRecord(rec);
  if (i == firstRecord(out) && !(flagsOf(out) & CAPTURE)) dropComputedGrad(out);
}

/** Whether node `id`'s first record is the custom op with JavaScript key `key` (its context is still needed). */
export function customRecordLive(id: i32, key: i32): bool {
  let first = firstRecord(id);
  if (first < 0 || recordCount(id) == 0) return false;
  let rec = recordAt(first);
  return opOf(rec) == Op.CUSTOM && outOf(rec) == id && attr(rec, 0) == key;
}

/**
 * Gives node `id` a JavaScript handle again: a tensor a custom op saved, whose own handle was
 * released while the op's records kept the node (refs > 0). Its generation is unchanged since that
 * release, so a new handle reads it; disposing that handle releases it as usual.
 */
export function adoptNode(id: i32): bool {
  if (refsOf(id) <= 0 || (flagsOf(id) & HANDLE)) return false;
  setFlags(id, flagsOf(id) | HANDLE);
  return true;
}

/** Continues a paused walk (after a hook, or after a custom op's backward when `custom`). */
export function resumeBackward(at: i32, retain: bool, prepared: bool, custom: bool, floor: i32): i32 {
  walksPaused(-1);
  return walk(at, retain, prepared, custom ? WALK_AFTER_CUSTOM : WALK_AFTER_HOOK, floor);
}

/**
 * Abandons a paused walk (the hook or custom backward threw): on the records it will not visit,
 * drops the gradients computed for their outputs (a later walk through the tape would otherwise
 * pass them on) and clears the walk's marks, so the next backward starts clean. Gradients already
 * added to leaves (and retained ones) stay, as in PyTorch.
 */
export function abandonBackward(at: i32, prepared: bool, floor: i32): void {
  walksPaused(-1);
  for (let i = at; i >= floor; i--) {
    let rec = recordAt(i);
    if (opOf(rec) == DEAD) continue;
    let out = outOf(rec);
    if (gradPtr(out) && !(flagsOf(out) & CAPTURE)) dropComputedGrad(out);
    if (prepared) { clearReached(out); clearInputs(rec); }
  }
}

/**
 * Marks every node the walk from `root` will reach and, with `allocate` (memory could not be
 * reserved), makes sure each has its gradient buffer; with `check`, refuses a spent or stale
 * record. On failure, frees the buffers it made, clears its marks and returns the status. (When
 * memory is reserved the walk makes each buffer as it needs it: a gradient lives from its first
 * use to its node's last record, not through the whole walk.)
 */
function prepareGradients(root: i32, last: i32, floor: i32, check: bool, allocate: bool): i32 {
  let status = reach(root, allocate) ? 0 : OUT_OF_MEMORY;
  for (let i = last; status == 0 && i >= floor; i--) {
    let rec = recordAt(i);
    if (opOf(rec) == DEAD || !(flagsOf(outOf(rec)) & REACHED)) continue;
    if (check && load<i32>(rec, STATE) == SPENT) status = failWith(GRAPH_SPENT, opOf(rec));
    else if (check && load<i32>(rec, STAMP) != stampOf(rec)) status = failWith(STALE, opOf(rec));
    else if (!(reach(inA(rec), allocate) && reach(inB(rec), allocate) && reach(inC(rec), allocate))) status = OUT_OF_MEMORY;
  }
  if (status == 0) return 0;
  undoReach(root);
  for (let i = last; i >= floor; i--) {
    let rec = recordAt(i);
    if (opOf(rec) == DEAD) continue;
    undoReach(outOf(rec));
    undoReach(inA(rec));
    undoReach(inB(rec));
    undoReach(inC(rec));
  }
  return status;
}

/** Marks a node that will receive a gradient and (with `allocate`) gives it a buffer; false when out of memory. */
function reach(id: i32, allocate: bool): bool {
  if (id < 0 || !requiresGrad(id)) return true;
  let flags = flagsOf(id);
  if (flags & REACHED) return true;
  if (!allocate) { setFlags(id, flags | REACHED); return true; }
  let had = gradPtr(id) != 0;
  let failures = allocFailures;
  if (!gradFor(id)) return allocFailures == failures; // grad() leaves uncaptured leaves out
  setFlags(id, flags | REACHED | (had ? 0 : FRESH_GRAD));
  return true;
}

function undoReach(id: i32): void {
  if (id < 0) return;
  let flags = flagsOf(id);
  if (flags & FRESH_GRAD) dropGrad(id);
  setFlags(id, flags & ~(REACHED | FRESH_GRAD));
}

// @ts-ignore: decorator
@inline function clearReached(id: i32): void {
  if (id >= 0) setFlags(id, flagsOf(id) & ~(REACHED | FRESH_GRAD));
}

/** The walk has used this record: its inputs' marks have done their job. */
// @ts-ignore: decorator
@inline function clearInputs(rec: usize): void {
  clearReached(inA(rec));
  clearReached(inB(rec));
  clearReached(inC(rec));
}

// Nodes waiting to be freed (a release can free a whole graph).
let pending: usize = 0;
let pendingCapacity: i32 = 0;
let pendingCount: i32 = 0;

function pushPending(id: i32): void {
  if (pendingCount == pendingCapacity) {
    let capacity = pendingCapacity ? pendingCapacity << 1 : 256;
    let grown = alloc(<usize>capacity << 2);
    // Out of memory while freeing: free this node now and let its inputs leak rather than trap.
    if (!grown) { freeRowOf(id); return; }
    if (pending) { memory.copy(grown, pending, <usize>pendingCount << 2); free(pending, <usize>pendingCapacity << 2); }
    pending = grown;
    pendingCapacity = capacity;
  }
  store<i32>(pending + (<usize>pendingCount << 2), id);
  pendingCount++;
}

// @ts-ignore: decorator
@inline function unref(id: i32): void {
  if (id < 0) return;
  let refs = refsOf(id) - 1;
  setRefs(id, refs);
  if (refs == 0 && !(flagsOf(id) & HANDLE)) pushPending(id);
}

/**
 * Drops the JavaScript handle of node `id`. The node is freed now unless a live tape record
 * (or a trace) still reads it; freeing kills the node's records, which may free their inputs in turn.
 */
export function release(id: i32): void {
  dropHandle(id);
  trimTape();
}

/**
 * release without trimming the tape: endScope releases a scope's nodes, newest first, and trims
 * once at the end (each release's record would come off the tail one at a time).
 */
// @ts-ignore: decorator
@inline export function dropHandle(id: i32): void {
  bumpGen(id);
  if (refsOf(id) > 0) { setFlags(id, flagsOf(id) & ~HANDLE); return; }
  freeNode(id); // (its flags are cleared with its row)
  if (pendingCount > 0) freePending(); // inputs only this node's records held
}

/** Drops one reference a trace held on node `id`, freeing it if nothing else holds it. */
export function dropRef(id: i32): void {
  if (anySlabs()) countExternal(id, -1, -1, -1);
  unref(id);
  freePending();
  trimTape();
}

/** Frees a node nothing holds: kills its records, which drops their holds on their inputs (freeing those nothing else holds, via pending). */
// @ts-ignore: decorator
@inline function freeNode(node: i32): void {
  let first = firstRecord(node), count = recordCount(node), general = anySlabs() && !isSlab(node);
  for (let r = first; r < first + count; r++) {
    let rec = recordAt(r), a = inA(rec), b = inB(rec), c = inC(rec);
    killRecord(r);
    if (general) countExternal(a, b, c, -1);
    unref(a);
    unref(b);
    unref(c);
  }
  let base = baseOf(node);
  freeRowOf(node);
  unref(base); // a view's hold on its base's buffer
}

function freePending(): void {
  while (pendingCount > 0) {
    pendingCount--;
    freeNode(load<i32>(pending + (<usize>pendingCount << 2)));
  }
}

export function setRequiresGrad(id: i32, on: bool): void {
  setFlags(id, on ? flagsOf(id) | REQUIRES_GRAD : flagsOf(id) & ~REQUIRES_GRAD);
}

/** Marks (or unmarks) an input of a functional grad(). */
export function setCapture(id: i32, on: bool): void {
  setFlags(id, on ? flagsOf(id) | CAPTURE : flagsOf(id) & ~CAPTURE);
}


/**
 * Releases the slab rows of the scope being closed (scopes.ts endScope, after its entries): those
 * made since its mark (stack height `top`, cursor `cursor`, position `pos`), newest first. When no
 * slab row is returned, kept or held by anything but slab records (`slabsFree`), every one of
 * them dies, as the node-by-node release would free each in turn, so they go at once: each is
 * freed with its record, and only its inputs outside the scope's rows (parameters, tensors made
 * by tg.tensor, an enclosing scope's rows) lose a reference. Else each is released as an entry
 * is (dropHandle). The chunks then go back to the pool, or stay for what is still in use
 * (closeSlab; `enclosingPos`: the enclosing scope's mark, -1 at the outermost).
 */
export function releaseSlab(top: i32, cursor: i32, pos: i32, enclosingPos: i32): void {
  let height = slabHeight(), next = slabNext();
  if (height == top && next == cursor) return; // the scope made no slab row
  let atOnce = slabMode == 1 && slabsFree(), survivors = false;
  for (let k = height - 1; k >= max(top - 1, 0); k--) {
    let start = k == top - 1 ? cursor : slabChunkStart(k), end = k == height - 1 ? next : slabChunkStart(k) + SLAB_CHUNK;
    for (let id = end - 1; id >= start; id--) {
      let flags = flagsOf(id);
      if (!(flags & IN_USE)) continue;
      if (!atOnce) { // newest first, each row's holders have had their turn: what stays in use now stays
        if ((flags & HANDLE) && !(flags & (KEPT | RETURNED))) release(id); // (a call: one copy of dropHandle's code)
        if (flagsOf(id) & IN_USE) survivors = true;
        continue;
      }
      let r = firstRecord(id);
      if (r >= 0) {
        let rec = recordAt(r), a = inA(rec), b = inB(rec);
        killRecord(r);
        // an input in the scope's rows dies too: only those outside lose a reference
        if (a >= 0 && !(a >= start && a < id) && !(isSlab(a) && slabPos(a) >= pos)) unref(a);
        if (b >= 0 && !(b >= start && b < id) && !(isSlab(b) && slabPos(b) >= pos)) unref(b);
      }
      if (!(flags & (GRAD_VIEW | DATA_VIEW)) && !gradPtr(id)) dropSlabRow(id);
      else { bumpGen(id); freeRowSlow(id); }
    }
  }
  publishLiveNodes();
  if (pendingCount > 0) freePending();
  closeSlab(top, cursor, survivors, enclosingPos);
}
