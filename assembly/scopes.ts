// tidy() scopes, kept in the core so that ending a scope is one call however many tensors it made.
//
//   scopeEntries: (id, gen) pairs of every node created while a scope is open, in creation order,
//                 but for the 0-d results of the scalar ops, which fill slabs (nodes.ts) instead
//   scopeMarks:   for each open scope, the entry count and the slab's state when it opened
//
//   entries ┌────┬─────┬────┬─────┬────┬─────┬────┬─────┐
//           │ id │ gen │ id │ gen │ id │ gen │ id │ gen │ …
//           └────┴─────┴────┴─────┴────┴─────┴────┴─────┘
//           ▲ mark of scope 0       ▲ mark of scope 1 (nested)
//
// A pair whose gen no longer matches was released early (dispose) and its row may belong to a
// newer node, so ending the scope skips it. Nodes flagged KEPT (parameters, optimizer state)
// belong to no scope; nodes flagged RETURNED (what fn returned) move to the enclosing scope.

import { alloc, free } from "./alloc";
import { newNode, newScalarNode, newView, sizeOf, rankOf, MAX_RANK, genOf, flagsOf, HANDLE, KEPT, RETURNED, IN_USE,
  newSlabScalar, isSlab, slabPos, slabHeight, slabNext, slabMarkPos, slabMode, setPinFlags } from "./nodes";
import { release, dropHandle, releaseSlab } from "./autograd";
import { trimTape } from "./tape";
import { NARROW } from "./ops/opcodes";
import { isTracing, traceNode } from "./replay";

let entries: usize = 0;
let entryCapacity: i32 = 0;
let entryCount: i32 = 0;
let marks: usize = 0; // MARK_SIZE i32 a scope: entry count, slab height, slab cursor, slab position
let markCapacity: i32 = 0;
let depth: i32 = 0;
// @ts-ignore: decorator
@inline const MARK_SIZE: i32 = 4;
// @ts-ignore: decorator
@inline function markAt(d: i32): usize { return marks + (<usize>(d * MARK_SIZE) << 2); }

/** Grows a buffer of i32 pairs/values; returns the new pointer or 0 (the old buffer is kept then). */
function grow(buffer: usize, used: i32, capacity: i32, newCapacity: i32): usize {
  let grown = alloc(<usize>newCapacity << 2);
  if (!grown) return 0;
  if (buffer) {
    memory.copy(grown, buffer, <usize>used << 2);
    free(buffer, <usize>capacity << 2);
  }
  return grown;
}

/** Opens a scope; false when memory is exhausted. */
export function beginScope(): bool {
  if (depth == markCapacity) {
    let capacity = markCapacity ? markCapacity << 1 : 64;
    let grown = grow(marks, depth * MARK_SIZE, markCapacity * MARK_SIZE, capacity * MARK_SIZE);
    if (!grown) return false;
    marks = grown;
    markCapacity = capacity;
  }
  let m = markAt(depth);
  store<i32>(m, entryCount);
  store<i32>(m, slabHeight(), 4);
  store<i32>(m, slabNext(), 8);
  store<i32>(m, slabMarkPos(), 12);
  depth++;
  return true;
}

/** newNode, and the node joins the innermost open scope. Every node the bindings see is made here. */
export function newScopedNode(rank: i32, zeroed: bool): i32 {
  return joinScope(newNode(rank, zeroed));
}

/** newScopedNode(0, false) inline, for runScalarOp's fast path: inside a scope, a slab row. */
// @ts-ignore: decorator
@inline export function newScopedScalar(): i32 {
  if (depth > 0 && slabMode) return newSlabScalar();
  return joinScope(newScalarNode());
}

/**
 * The output of a reshape or a narrow (i0..i3 as NARROW's: outer, row, length, start) as a view
 * of a's buffer (nodes.ts), joining the innermost open scope, when its elements are a run of a's
 * (every reshape; a narrow with one outer row) and its row has a slot for the base (rank 1..6, a
 * not 0-d). NO_VIEW when the op must copy, -1 when out of memory; the caller runs the op into it
 * (runOpInto records it; the kernel copies nothing).
 */
export function viewFor(op: i32, rank: i32, a: i32, i0: i32, i2: i32, i3: i32): i32 {
  let size = op == NARROW ? i0 * i2 : sizeOf(a);
  if (size == 0 || rank == 0 || rank >= MAX_RANK || rankOf(a) == 0 || (op == NARROW && i0 != 1)) return NO_VIEW;
  return scoped(newView(rank, size, a, op == NARROW ? i3 : 0));
}
// @ts-ignore: decorator
@inline const NO_VIEW: i32 = -100;

/** joinScope as a call, for views (one copy of its code fewer). */
function scoped(id: i32): i32 { return joinScope(id); }

/** Node `id` (or a failure, id < 0, passed on) joins the innermost open scope, and a recording trace. */
// @ts-ignore: decorator
@inline function joinScope(id: i32): i32 {
  if (id < 0) return -1;
  if (!enterScope(id) || (isTracing() && !traceNode(id))) { release(id); return -1; }
  return id;
}

/** Records node `id` in the innermost open scope. False when out of memory. */
// @ts-ignore: decorator
@inline function enterScope(id: i32): bool {
  if (depth == 0) return true;
  if (entryCount + 2 > entryCapacity && !growEntries()) return false;
  let p = entries + (<usize>entryCount << 2);
  store<i32>(p, id);
  store<i32>(p, genOf(id), 4);
  entryCount += 2;
  return true;
}

function growEntries(): bool {
  let capacity = entryCapacity ? entryCapacity << 1 : 4096;
  let grown = grow(entries, entryCount, entryCapacity, capacity);
  if (!grown) return false;
  entries = grown;
  entryCapacity = capacity;
  return true;
}

/** Marks (or unmarks) a node the scope's function returned: it survives the scope and joins the enclosing one. */
export function markReturned(id: i32, on: bool): void {
  setPinFlags(id, on ? flagsOf(id) | RETURNED : flagsOf(id) & ~RETURNED);
}

/** Whether node `id` (as it is now) was made while the innermost scope was open. */
export function madeInScope(id: i32): bool {
  if (depth == 0) return false;
  if (isSlab(id)) return (flagsOf(id) & IN_USE) != 0 && slabPos(id) >= load<i32>(markAt(depth - 1), 12);
  let gen = genOf(id);
  for (let k = load<i32>(markAt(depth - 1)); k < entryCount; k += 2) {
    let p = entries + (<usize>k << 2);
    if (load<i32>(p) == id && load<i32>(p, 4) == gen) return true;
  }
  return false;
}

/** Exempts a node from every scope (parameters, optimizer state). */
export function keepNode(id: i32): void {
  setPinFlags(id, flagsOf(id) | KEPT);
}

/**
 * Closes the innermost scope: releases what it made, except returned and kept nodes. Newest
 * first, so each node's consumers are gone by the time it is released: it is freed on the spot
 * and its record comes off the tail of the tape, instead of waiting for a cascade.
 */
export function endScope(): void {
  if (depth == 0) return;
  depth--;
  let m = markAt(depth), start = load<i32>(m);
  let end = entryCount;
  let top = end; // returned nodes gather in [top, end), among the entries already visited
  for (let k = end - 2; k >= start; k -= 2) {
    let p = entries + (<usize>k << 2);
    let id = load<i32>(p);
    if (genOf(id) != load<i32>(p, 4)) continue; // released already
    let flags = flagsOf(id);
    if (!(flags & HANDLE) || (flags & KEPT)) continue;
    if (flags & RETURNED) {
      top -= 2;
      let q = entries + (<usize>top << 2);
      store<i32>(q, id);
      store<i32>(q, load<i32>(p, 4), 4);
      continue;
    }
    dropHandle(id);
  }
  releaseSlab(load<i32>(m, 4), load<i32>(m, 8), load<i32>(m, 12), depth > 0 ? load<i32>(markAt(depth - 1), 12) : -1);
  trimTape();
  // The returned nodes join the enclosing scope (none is open at depth 0: they are free-standing).
  if (depth > 0 && top < end) memory.copy(entries + (<usize>start << 2), entries + (<usize>top << 2), <usize>(end - top) << 2);
  entryCount = depth > 0 ? start + (end - top) : start;
}

