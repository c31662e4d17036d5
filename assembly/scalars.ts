// Scalar programs: a trace whose every op is on 0-d tensors (micrograd's graphs) replays as a
// compact instruction stream instead of its 64-byte records. Compiled at the trace's first run:
//
//   instruction (16 B) ┌──────────────┬─────┬─────┬─────┐
//                      │ op | GX GY BK│ out │  x  │  y  │   addresses of values; a value's gradient
//                      └──────────────┴─────┴─────┴─────┘   is 4 bytes after it
//                      0              4     8     12    16
//
// Every value sits next to its gradient: a 0-d node keeps them inline in its row (data = row + 36,
// grad = row + 40), and the nodes no one but the trace can see (made by its ops, with no handle,
// read by no command) get dense slots (value, grad) in creation order instead, 8 bytes each, so a
// step's values stay in cache. A number operand (mul(x, 2)) gets a slot holding it; a unary op's
// y is its attribute's slot (leakyRelu's slope). Forward writes value and a zero gradient at once.
// Backward walks the instructions backwards and runs those marked BK (reached from the root, as
// the tape walk would), adding into x's gradient when GX and y's when GY: the same float
// operations, in the same order, as the tape walk's scalar paths (binaryGradX/Y, unaryRun), so
// the results are exactly those of the general replay.
//
//   compiled ┌───────┬──────┬───────┬───────┬────────┬───────┬──────┬───────┬──────┬──────┬──────┬────────┐
//            │ table │ code │ count │ slots │ leaves │ nleaf │ segs │ nsegs │ root │ seed │ back │ nslots │
//            └───────┴──────┴───────┴───────┴────────┴───────┴──────┴───────┴──────┴──────┴──────┴────────┘
//            0       4      8       12      16       20      24     28      32     36     40     44       48
//
// table   the node table the addresses point into (recompiled when it grows and moves)
// leaves  (id, bits) for every input no op of the program made, bit 0 its requiresGrad when
//         compiled (a change recompiles), bit 1 that backward reaches it: backward first gives
//         those their gradient buffers, as the tape walk would on reaching them
// segs    (first record, end record, first instruction) of each run of op records: the commands
//         between runs (zeroGrad, the optimizer's update) run as they are
// root    the backward command's root node, seed its seed node or -1, back its program index (-1: none)
//
// A program with another op (or a non-scalar operand, a pow by a number of ±0.5 or 1.5, a second
// backward, one that retains the graph, or reaches records made before it) is not compiled, and
// replays record by record.

import { alloc, allocZeroed, free } from "./alloc";
import { header, row, dataPtr, rankOf, flagsOf, requiresGrad, recordCount, gradPtr, newGrad, tableCapacity,
  HANDLE, KEPT, CAPTURE } from "./nodes";
import { RECORD_SIZE, OUT, IN_A, IN_B, IN_C, I0, F0, opOf, attr, markCheckDue } from "./tape";
import { ADD, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM, NEG, RELU, GELU_TANH, RESHAPE } from "./ops/opcodes";
import { binaryValue, binaryGradX, binaryGradY, unaryRun } from "./ops/elementwise";

// @ts-ignore: decorator
@inline const TABLE: usize = 0;
// @ts-ignore: decorator
@inline const CODE: usize = 4;
// @ts-ignore: decorator
@inline const COUNT: usize = 8;
// @ts-ignore: decorator
@inline const SLOTS: usize = 12;
// @ts-ignore: decorator
@inline const LEAVES: usize = 16;
// @ts-ignore: decorator
@inline const LEAF_COUNT: usize = 20;
// @ts-ignore: decorator
@inline const SEGS: usize = 24;
// @ts-ignore: decorator
@inline const SEG_COUNT: usize = 28;
// @ts-ignore: decorator
@inline const ROOT: usize = 32;
// @ts-ignore: decorator
@inline const SEED: usize = 36;
// @ts-ignore: decorator
@inline const BACK: usize = 40;
// @ts-ignore: decorator
@inline const SLOT_COUNT: usize = 44;
// @ts-ignore: decorator
@inline const COMPILED_BYTES: usize = 48;

// instruction flags, above the opcode's byte
// @ts-ignore: decorator
@inline const GX: i32 = 0x100;
// @ts-ignore: decorator
@inline const GY: i32 = 0x200;
// @ts-ignore: decorator
@inline const BK: i32 = 0x400;

/** A trace's compiled field when its program cannot be compiled. */
// @ts-ignore: decorator
@inline export const NOT_SCALAR: usize = 1;

// per-node marks while compiling
// @ts-ignore: decorator
@inline const MADE: u8 = 1;
// @ts-ignore: decorator
@inline const SEEN: u8 = 2; // read by a command: keeps its row
// @ts-ignore: decorator
@inline const REACHED: u8 = 4;
// @ts-ignore: decorator
@inline const LISTED: u8 = 8;

// The commands that name nodes by lists (replay.ts): their lists' nodes keep their rows.
// @ts-ignore: decorator
@inline const CMD_BACKWARD: i32 = -2;
// @ts-ignore: decorator
@inline const CMD_ZERO_GRADS: i32 = -4;
// @ts-ignore: decorator
@inline const CMD_SGD: i32 = -5;
// @ts-ignore: decorator
@inline const CMD_ADAM: i32 = -6;
// @ts-ignore: decorator
@inline const CMD_CLIP: i32 = -7;

// @ts-ignore: decorator
@inline function isBinary(op: i32): bool { return op <= MINIMUM; }
// @ts-ignore: decorator
@inline function isUnary(op: i32): bool { return op >= NEG && op <= GELU_TANH; }

let marks: usize = 0;
let slotOf: usize = 0;

// @ts-ignore: decorator
@inline function mark(id: i32): u8 { return load<u8>(marks + <usize>id); }
// @ts-ignore: decorator
@inline function setMark(id: i32, m: u8): void { store<u8>(marks + <usize>id, mark(id) | m); }

/** A scalar op's operands: a, and b unless a number rides in f0 (binary) or there is none (unary). */
function scalarOperands(rec: usize): bool {
  let op = opOf(rec), a = load<i32>(rec, IN_A), b = load<i32>(rec, IN_B);
  if (!(isBinary(op) || isUnary(op) || op == RESHAPE) || load<i32>(rec, IN_C) >= 0) return false;
  if (rankOf(load<i32>(rec, OUT)) != 0 || a < 0 || rankOf(a) != 0) return false;
  if (op == POW && b < 0 && !load<i32>(rec, I0)) { // x ** e: e = ±0.5 and 1.5 take square-root paths (powHalf*)
    let e = load<f32>(rec, F0);
    if (e == 0.5 || e == -0.5 || e == 1.5) return false;
  }
  return b < 0 || (isBinary(op) && rankOf(b) == 0);
}

/** Marks every node a command names (its fields and its id lists): they keep their rows. */
function seeCommand(rec: usize): void {
  for (let f = OUT; f <= IN_C; f += 4) { let id = load<i32>(rec + f); if (id >= 0) setMark(id, SEEN); }
  let list = 0, count = 0, lists = 1;
  switch (opOf(rec)) {
    case CMD_ZERO_GRADS: case CMD_CLIP: list = attr(rec, 0); count = attr(rec, 1); break;
    case CMD_SGD: list = attr(rec, 0); count = attr(rec, 2); lists = 2; break;
    case CMD_ADAM: list = attr(rec, 0); count = attr(rec, 3); lists = 3; break;
  }
  for (let l = 0; l < lists && list; l++) {
    let p = <usize>attr(rec, l);
    for (let k = 0; k < count; k++) setMark(load<i32>(p + (<usize>k << 2)), SEEN);
  }
}

/** The address of node id's value: a dense slot, or where its row says. */
// @ts-ignore: decorator
@inline function valueAt(slots: usize, id: i32): usize {
  let s = load<i32>(slotOf + (<usize>id << 2));
  return s > 0 ? slots + (<usize>(s - 1) << 3) : dataPtr(id);
}

/** Compiles trace program (`length` records); returns the compiled block, or NOT_SCALAR. */
export function compileScalars(program: usize, length: i32): usize {
  let capacity = tableCapacity();
  marks = allocZeroed(<usize>capacity);
  slotOf = allocZeroed(<usize>capacity << 2);
  let result = marks && slotOf ? build(program, length) : 0;
  if (marks) free(marks, <usize>capacity);
  if (slotOf) free(slotOf, <usize>capacity << 2);
  return result ? result : NOT_SCALAR;
}

function build(program: usize, length: i32): usize {
  // 1. every op must be scalar; count ops, runs of ops and slots; find the one backward
  let ops = 0, segs = 0, back = -1, root = -1, seed = -1, previousOp = false;
  for (let i = 0; i < length; i++) {
    let rec = program + <usize>i * RECORD_SIZE, op = opOf(rec);
    let isOp = op >= 0;
    if (isOp) {
      if (!scalarOperands(rec)) return 0;
      let out = load<i32>(rec, OUT);
      if (mark(out) & MADE) return 0; // written twice
      setMark(out, MADE);
      ops++;
      if (!previousOp) segs++;
    } else {
      if (op == CMD_BACKWARD) {
        if (back >= 0 || attr(rec, 0) != 0) return 0; // a second backward, or one that retains the graph
        back = i; root = load<i32>(rec, IN_A); seed = load<i32>(rec, IN_B);
        if (!(mark(root) & MADE) || rankOf(root) != 0 || !requiresGrad(root) || (seed >= 0 && rankOf(seed) != 0)) return 0;
      }
      seeCommand(rec);
    }
    previousOp = isOp;
  }
  // 2. what backward reaches, walking the ops backwards from the root as the tape walk does
  if (root >= 0) setMark(root, REACHED);
  for (let i = length - 1; i >= 0; i--) {
    let rec = program + <usize>i * RECORD_SIZE;
    if (opOf(rec) < 0) continue;
    let out = load<i32>(rec, OUT);
    if (!(mark(out) & REACHED) || !requiresGrad(out)) continue;
    for (let f = IN_A; f <= IN_B; f += 4) {
      let id = load<i32>(rec + f);
      if (id < 0 || !requiresGrad(id)) continue;
      if (!(mark(id) & MADE) && recordCount(id) > 0) return 0; // the graph goes on into records made before
      setMark(id, REACHED);
    }
  }
  // 3. slots: private made nodes and number operands, in program order; the leaf list
  let slots = 0, leaves = 0;
  for (let i = 0; i < length; i++) {
    let rec = program + <usize>i * RECORD_SIZE;
    if (opOf(rec) < 0) continue;
    let out = load<i32>(rec, OUT), flags = flagsOf(out);
    if (flags & CAPTURE || gradPtr(out)) return 0; // a gradient kept on a computed node: general path
    if (!(mark(out) & SEEN) && !(flags & (HANDLE | KEPT))) store<i32>(slotOf + (<usize>out << 2), ++slots);
    if (load<i32>(rec, IN_B) < 0) slots++; // its constant
    for (let f = IN_A; f <= IN_B; f += 4) {
      let id = load<i32>(rec + f);
      if (id < 0 || (mark(id) & (MADE | LISTED))) continue;
      setMark(id, LISTED);
      leaves++;
    }
  }
  // 4. emit
  let c = allocZeroed(COMPILED_BYTES);
  if (!c) return 0;
  store<i32>(c, ops, COUNT); store<i32>(c, slots, SLOT_COUNT); store<i32>(c, leaves, LEAF_COUNT); store<i32>(c, segs, SEG_COUNT);
  let code = alloc(codeBytes(c)), slotBlock = alloc(slotBytes(c)), leafList = alloc(leafBytes(c)), segList = alloc(segBytes(c));
  store<usize>(c, code, CODE); store<usize>(c, slotBlock, SLOTS); store<usize>(c, leafList, LEAVES); store<usize>(c, segList, SEGS);
  if (!code || !slotBlock || !leafList || !segList) { disposeScalars(c); return 0; }
  store<usize>(c, load<usize>(header), TABLE);
  store<i32>(c, root, ROOT); store<i32>(c, seed, SEED); store<i32>(c, back, BACK);
  let n = 0, s = 0, l = 0, g = 0;
  previousOp = false;
  for (let i = 0; i < length; i++) {
    let rec = program + <usize>i * RECORD_SIZE, op = opOf(rec);
    if (op < 0) { previousOp = false; continue; }
    if (!previousOp) { // a run of ops starts: (first record, end record, first instruction)
      let seg = segList + <usize>g * 12;
      let end = i;
      while (end < length && opOf(program + <usize>end * RECORD_SIZE) >= 0) end++;
      store<i32>(seg, i); store<i32>(seg, end, 4); store<i32>(seg, n, 8);
      g++;
    }
    previousOp = true;
    let out = load<i32>(rec, OUT), a = load<i32>(rec, IN_A), b = load<i32>(rec, IN_B);
    let p = code + (<usize>n << 4);
    let word = op;
    if ((mark(out) & REACHED) && requiresGrad(out)) {
      word |= BK;
      if (requiresGrad(a)) word |= GX;
      if (b >= 0 && requiresGrad(b)) word |= GY;
    }
    let outAt = load<i32>(slotOf + (<usize>out << 2)) > 0 ? slotBlock + (<usize>(s++) << 3) : row(out) + 36;
    let x = valueAt(slotBlock, a), y: usize = 0;
    if ((word & GX && !(mark(a) & MADE) && x != row(a) + 36) || (word & GY && !(mark(b) & MADE) && valueAt(slotBlock, b) != row(b) + 36)) {
      disposeScalars(c); // a leaf whose gradient is not inline next to its value (a view of a gradient)
      return 0;
    }
    if (b >= 0) {
      y = valueAt(slotBlock, b);
    } else { // the number operand (binary: x's side when i0 = 1) or the unary attribute
      y = slotBlock + (<usize>(s++) << 3);
      store<f32>(y, load<f32>(rec, F0));
      if (isBinary(op) && load<i32>(rec, I0)) { y = x; x = slotBlock + (<usize>(s - 1) << 3); if (word & GX) word = word & ~GX | GY; }
    }
    store<i32>(p, word); store<usize>(p, outAt, 4); store<usize>(p, x, 8); store<usize>(p, y, 12);
    for (let f = IN_A; f <= IN_B; f += 4) { // inputs no op made: the leaf list, each once
      let id = load<i32>(rec + f);
      if (id < 0 || !(mark(id) & LISTED)) continue;
      store<u8>(marks + <usize>id, mark(id) & ~LISTED);
      let e = leafList + (<usize>(l++) << 3);
      store<i32>(e, id); store<i32>(e, (requiresGrad(id) ? 1 : 0) | ((mark(id) & REACHED) && requiresGrad(id) ? 2 : 0), 4);
    }
    n++;
  }
  return c;
}

// @ts-ignore: decorator
@inline function codeBytes(c: usize): usize { return <usize>max(load<i32>(c, COUNT), 1) << 4; }
// @ts-ignore: decorator
@inline function slotBytes(c: usize): usize { return <usize>max(load<i32>(c, SLOT_COUNT), 1) << 3; }
// @ts-ignore: decorator
@inline function leafBytes(c: usize): usize { return <usize>max(load<i32>(c, LEAF_COUNT), 1) << 3; }
// @ts-ignore: decorator
@inline function segBytes(c: usize): usize { return <usize>max(load<i32>(c, SEG_COUNT), 1) * 12; }

/** Frees a compiled block (or does nothing for 0 and NOT_SCALAR). */
export function disposeScalars(c: usize): void {
  if (c <= NOT_SCALAR) return;
  let code = load<usize>(c, CODE), slots = load<usize>(c, SLOTS), leaves = load<usize>(c, LEAVES), segs = load<usize>(c, SEGS);
  if (code) free(code, codeBytes(c));
  if (slots) free(slots, slotBytes(c));
  if (leaves) free(leaves, leafBytes(c));
  if (segs) free(segs, segBytes(c));
  free(c, COMPILED_BYTES);
}

/** Whether compiled block c still fits: the node table has not moved, and no input's requiresGrad changed. */
export function scalarsValid(c: usize): bool {
  if (load<usize>(c, TABLE) != load<usize>(header)) return false;
  let list = load<usize>(c, LEAVES);
  for (let k = 0, n = load<i32>(c, LEAF_COUNT); k < n; k++) {
    let e = list + (<usize>k << 3);
    if (requiresGrad(load<i32>(e)) != ((load<i32>(e, 4) & 1) != 0)) return false;
  }
  return true;
}

/** The compiled run that starts at program record i, or -1. `from` is where to look from (runs are in order). */
export function segmentAt(c: usize, from: i32, i: i32): i32 {
  let segs = load<usize>(c, SEGS), n = load<i32>(c, SEG_COUNT);
  return from < n && load<i32>(segs + <usize>from * 12) == i ? from : -1;
}

/** The program record after run k. */
export function segmentEnd(c: usize, k: i32): i32 { return load<i32>(load<usize>(c, SEGS) + <usize>k * 12, 4); }

/** The program index of the backward command, or -1. */
export function backwardIndex(c: usize): i32 { return load<i32>(c, BACK); }

/** Runs the forward of run k: each instruction writes its value and a zero gradient. */
export function runSegment(c: usize, k: i32): void {
  let seg = load<usize>(c, SEGS) + <usize>k * 12;
  let first = load<i32>(seg, 8), count = (k + 1 < load<i32>(c, SEG_COUNT) ? load<i32>(seg, 20) : load<i32>(c, COUNT)) - first;
  let p = load<usize>(c, CODE) + (<usize>first << 4), end = p + (<usize>count << 4);
  for (; p < end; p += 16) {
    let op = load<i32>(p) & 0xff, out = load<usize>(p, 4), x = load<usize>(p, 8), y = load<usize>(p, 12);
    let v: f32;
    switch (op) {
      case ADD: v = binaryValue(ADD, load<f32>(x), load<f32>(y)); break;
      case MUL: v = binaryValue(MUL, load<f32>(x), load<f32>(y)); break;
      case SUB: v = binaryValue(SUB, load<f32>(x), load<f32>(y)); break;
      case DIV: v = binaryValue(DIV, load<f32>(x), load<f32>(y)); break;
      case POW: v = binaryValue(POW, load<f32>(x), load<f32>(y)); break;
      case MAXIMUM: v = binaryValue(MAXIMUM, load<f32>(x), load<f32>(y)); break;
      case MINIMUM: v = binaryValue(MINIMUM, load<f32>(x), load<f32>(y)); break;
      case RELU: { let a = load<f32>(x); v = a < 0 ? 0 : a; break; } // f32x4.pmax(a, 0), lane 0
      case RESHAPE: v = load<f32>(x); break;
      default: unaryRun(op, 1, x, out, 0, 0, load<f32>(y)); v = load<f32>(out); // the tensor kernel on one element
    }
    store<u64>(out, <u64>reinterpret<u32>(v)); // the value, and a zero gradient
  }
}

/**
 * The backward command: the root's gradient seeded (1, or the seed's value, as a new gradient
 * takes it), then every instruction backwards that the walk reaches. Leaves reached get their
 * gradient buffers first.
 */
export function runBackward(c: usize): void {
  let list = load<usize>(c, LEAVES);
  for (let k = 0, n = load<i32>(c, LEAF_COUNT); k < n; k++) {
    let e = list + (<usize>k << 3), id = load<i32>(e);
    if (load<i32>(e, 4) & 2 && !gradPtr(id)) newGrad(id, true);
  }
  let root = load<i32>(c, ROOT), seed = load<i32>(c, SEED);
  store<f32>(dataPtr(root) + 4, seed >= 0 ? load<f32>(dataPtr(seed)) : 1); // its gradient was zeroed by forward: 0 + 1
  markCheckDue(); // as a walk that does not retain the graph
  let code = load<usize>(c, CODE);
  for (let p = code + (<usize>load<i32>(c, COUNT) << 4); p > code; ) {
    p -= 16;
    let word = load<i32>(p);
    if (!(word & BK)) continue;
    let op = word & 0xff, out = load<usize>(p, 4), x = load<usize>(p, 8), y = load<usize>(p, 12);
    let g = load<f32>(out + 4);
    switch (op) {
      case RELU: { // g where not x <= 0 (v128.andnot), lane 0
        let a = load<f32>(x);
        if (word & GX) store<f32>(x + 4, load<f32>(x + 4) + (a <= 0 ? 0 : g));
        break;
      }
      case RESHAPE: if (word & GX) store<f32>(x + 4, load<f32>(x + 4) + g); break;
      case ADD: backBinary(ADD, word, g, out, x, y); break;
      case MUL: backBinary(MUL, word, g, out, x, y); break;
      case SUB: backBinary(SUB, word, g, out, x, y); break;
      case DIV: backBinary(DIV, word, g, out, x, y); break;
      case POW: backBinary(POW, word, g, out, x, y); break;
      case MAXIMUM: backBinary(MAXIMUM, word, g, out, x, y); break;
      case MINIMUM: backBinary(MINIMUM, word, g, out, x, y); break;
      default: if (word & GX) unaryRun(op, 1, x, out, out + 4, x + 4, load<f32>(y));
    }
  }
}

// @ts-ignore: decorator
@inline function backBinary(op: i32, word: i32, g: f32, out: usize, x: usize, y: usize): void {
  let xv = load<f32>(x), yv = load<f32>(y), z = load<f32>(out);
  if (word & GX) store<f32>(x + 4, load<f32>(x + 4) + binaryGradX(op, g, xv, yv, z));
  if (word & GY) store<f32>(y + 4, load<f32>(y + 4) + binaryGradY(op, g, xv, yv, z));
}
