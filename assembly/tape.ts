// The tape: fixed-size records of plain numbers, appended in execution order.
//
//   record = tape + index * RECORD_SIZE
//   ┌─────┬─────┬─────┬─────┬─────┬────┬────┬────┬────┬────┬────┬────┬────┬────┬────┬────┐
//   │ op  │ out │  a  │  b  │  c  │ i0 │ i1 │ i2 │ i3 │ i4 │ i5 │stamp│ f0 │ f1 │ f2 │state│
//   └─────┴─────┴─────┴─────┴─────┴────┴────┴────┴────┴────┴────┴─────┴────┴────┴────┴─────┘
//   0     4     8     12    16    20   24   28   32   36   40   44    48   52   56   60    64
//
// op     opcode (ops/opcodes.ts); DEAD once the output node is freed
// out    node written;  a, b, c: node ids read, or -1 (b = -1 with a scalar operand in f0)
// i0..i5 integer attributes (axis extents, flags, permutation), f0..f2 float attributes
// stamp  the sum of the versions of out, a, b and c when the op ran (tape records only): backward
//        compares it with their versions now, so a tensor modified in place since throws
// state  SPENT once backward has walked the record without retainGraph (a second walk throws)
//
// A record holds everything its forward and backward kernels need, so the tape can be walked
// backwards by backward() and replayed forwards with new inputs. Records whose output died are
// popped off the tail, so a loop inside tidy() leaves the tape as long as it found it. Dead
// records below a live one (a loss returned from tidy and disposed a step later) are squeezed out
// once they outnumber the live ones, so the tape stays bounded in that pattern too.

import { alloc, free } from "./alloc";
import { firstRecord, setFirstRecord } from "./nodes";

// @ts-ignore: decorator
@inline export const RECORD_SIZE: usize = 64;
// @ts-ignore: decorator
@inline export const DEAD: i32 = -1;

// @ts-ignore: decorator
@inline export const OP: usize = 0;
// @ts-ignore: decorator
@inline export const OUT: usize = 4;
// @ts-ignore: decorator
@inline export const IN_A: usize = 8;
// @ts-ignore: decorator
@inline export const IN_B: usize = 12;
// @ts-ignore: decorator
@inline export const IN_C: usize = 16;
// @ts-ignore: decorator
@inline export const I0: usize = 20;
// @ts-ignore: decorator
@inline export const F0: usize = 48;
// @ts-ignore: decorator
@inline export const STAMP: usize = 44;
// @ts-ignore: decorator
@inline export const STATE: usize = 60;
// @ts-ignore: decorator
@inline export const SPENT: i32 = 1;

let tape: usize = 0;
let tapeCapacity: i32 = 0;
let tapeLength: i32 = 0;
let deadCount: i32 = 0;
/**
 * Set when a node that a live record reads or wrote is modified in place, or when a backward
 * spends records; cleared when the tape is empty. While it is clear, no live record can fail
 * backward's checks, so backward skips its checking pass (the usual loop — a step in tidy — empties
 * the tape every step).
 */
let checkDue = false;

export function markCheckDue(): void { checkDue = true; }
/** Whether a live record may be stale or spent: backward must check the records it will walk. */
export function graphNeedsCheck(): bool { return checkDue; }

/** Marks a record walked by a backward that did not retain the graph (the walk calls markCheckDue). */
// @ts-ignore: decorator
@inline export function spendRecord(rec: usize): void {
  store<i32>(rec, SPENT, STATE);
}

/** Writes a record's op, nodes and attributes (f1, f2, stamp and state are the caller's). */
// @ts-ignore: decorator
@inline export function writeRecord(rec: usize, op: i32, out: i32, a: i32, b: i32, c: i32,
  i0: i32, i1: i32, i2: i32, i3: i32, i4: i32, i5: i32, f0: f32): void {
  store<i32>(rec, op, OP);
  store<i32>(rec, out, OUT);
  store<i32>(rec, a, IN_A);
  store<i32>(rec, b, IN_B);
  store<i32>(rec, c, IN_C);
  store<i32>(rec, i0, I0);
  store<i32>(rec, i1, I0 + 4);
  store<i32>(rec, i2, I0 + 8);
  store<i32>(rec, i3, I0 + 12);
  store<i32>(rec, i4, I0 + 16);
  store<i32>(rec, i5, I0 + 20);
  store<f32>(rec, f0, F0);
}

/** A record built outside the tape, for ops that are not recorded (no input requires grad). */
export const scratchRecord: usize = memory.data(<i32>RECORD_SIZE, 16);

// @ts-ignore: decorator
@inline export function recordAt(index: i32): usize { return tape + <usize>index * RECORD_SIZE; }
// @ts-ignore: decorator
@inline export function opOf(rec: usize): i32 { return load<i32>(rec, OP); }
// @ts-ignore: decorator
@inline export function outOf(rec: usize): i32 { return load<i32>(rec, OUT); }
// @ts-ignore: decorator
@inline export function inA(rec: usize): i32 { return load<i32>(rec, IN_A); }
// @ts-ignore: decorator
@inline export function inB(rec: usize): i32 { return load<i32>(rec, IN_B); }
// @ts-ignore: decorator
@inline export function inC(rec: usize): i32 { return load<i32>(rec, IN_C); }
// @ts-ignore: decorator
@inline export function attr(rec: usize, k: i32): i32 { return load<i32>(rec + I0 + (<usize>k << 2)); }
// @ts-ignore: decorator
@inline export function fattr(rec: usize, k: i32): f32 { return load<f32>(rec + F0 + (<usize>k << 2)); }

/** Appends a record (its fields are the caller's to write); returns its index, or -1 when memory is exhausted. */
// @ts-ignore: decorator
@inline export function appendRecord(): i32 {
  return tapeLength < tapeCapacity ? tapeLength++ : growTape();
}

/** appendRecord when the tape is full: doubles it. */
function growTape(): i32 {
  let newCapacity = tapeCapacity ? tapeCapacity << 1 : 1024;
  let grown = alloc(<usize>newCapacity * RECORD_SIZE);
  if (!grown) return -1;
  if (tape) {
    memory.copy(grown, tape, <usize>tapeLength * RECORD_SIZE);
    free(tape, <usize>tapeCapacity * RECORD_SIZE);
  }
  tape = grown;
  tapeCapacity = newCapacity;
  return tapeLength++;
}

/**
 * Marks record `index` dead: its output node has been freed. The tape's last record comes off at
 * once (a scope releases newest first, so most do; its fields stay readable until the next
 * append); the dead ones below wait for trimTape. While a backward walk is paused nothing comes
 * off: the walk resumes by reading records down from where it stopped, and must find a freed
 * one DEAD, not a new record appended into its slot.
 */
// @ts-ignore: decorator
@inline export function killRecord(index: i32): void {
  if (index == tapeLength - 1 && pausedWalks == 0) { tapeLength--; return; } // unmarked: no reader is left (marking it dirtied every record's line, 4% of a scalar step)
  store<i32>(recordAt(index), DEAD, OP);
  deadCount++;
}

/**
 * Backward walks paused for JavaScript (autograd.ts): each holds a record index, so records must
 * not move meanwhile; compaction waits.
 */
let pausedWalks = 0;
export function walksPaused(delta: i32): void { pausedWalks += delta; }

/** The address of record `index` (JavaScript reads records for createGraph; the tape may move when it grows). */
export function recordPtr(index: i32): usize { return recordAt(index); }

/** The number of records (live and dead): a walk that must not go below the records made before now starts here. */
export function tapeSize(): i32 { return tapeLength; }

/** Pops dead records off the tail (not while a walk is paused: see killRecord), and compacts the tape when most of what remains is dead. */
export function trimTape(): void {
  while (pausedWalks == 0 && tapeLength > 0 && opOf(recordAt(tapeLength - 1)) == DEAD) { tapeLength--; deadCount--; }
  if (tapeLength == 0) checkDue = false;
  if (pausedWalks == 0 && deadCount > 1024 && deadCount > tapeLength >> 1) compactTape();
}

/**
 * Moves the live records down over the dead ones, keeping their order (so each node's records
 * stay consecutive and the tape stays topologically sorted), and points each node at its
 * first record's new index.
 */
function compactTape(): void {
  let kept = 0;
  for (let i = 0; i < tapeLength; i++) {
    let rec = recordAt(i);
    if (opOf(rec) == DEAD) continue;
    let out = outOf(rec);
    if (firstRecord(out) == i) setFirstRecord(out, kept);
    if (kept != i) memory.copy(recordAt(kept), rec, RECORD_SIZE);
    kept++;
  }
  tapeLength = kept;
  deadCount = 0;
}
