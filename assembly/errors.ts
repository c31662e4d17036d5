// Status codes of the core, and the error channel for a value read from memory that a kernel
// cannot use (an index or a label out of range). The core never trusts such a value: the kernel
// that reads it checks it in the pass that uses it, writes nothing through it, and reports it
// here; runOp, backward and replay then return BAD_INDEX, and the bindings turn the op, value,
// position and bound into an Error.

// @ts-ignore: decorator
@inline export const OUT_OF_MEMORY: i32 = -1;
// @ts-ignore: decorator
@inline export const NO_RULE: i32 = -2;
/** A kernel read an index or label outside [0, bound) or not an integer. */
// @ts-ignore: decorator
@inline export const BAD_INDEX: i32 = -3;
/** backward: a tensor a record saved was modified in place after the op ran. */
// @ts-ignore: decorator
@inline export const STALE: i32 = -4;
/** backward: the graph was already walked by a backward that did not retain it. */
// @ts-ignore: decorator
@inline export const GRAPH_SPENT: i32 = -5;

/**
 * backward: the walk stopped before a record whose backward runs in JavaScript (a custom op, a
 * tensor hook); pausedAt() and friends say where, and resumeBackward continues it.
 */
// @ts-ignore: decorator
@inline export const PAUSED: i32 = -6;

/** runScalarOp: an operand's handle is stale (its node was released); the bindings say which. */
// @ts-ignore: decorator
@inline export const DISPOSED: i32 = -7;

/** The opcode a status other than OUT_OF_MEMORY is about. */
export let failedOp: i32 = -1;
export let badValue: f64 = 0;
export let badPosition: i32 = 0;
export let badBound: i32 = 0;
/** Counts bad indices reported, so a caller can tell whether a kernel it ran reported one. */
export let badIndices: i32 = 0;

/** Whether `v` is an integer in [0, bound): NaN, fractions and ±Infinity are not. */
// @ts-ignore: decorator
@inline export function validIndex(v: f32, bound: i32): bool {
  return v >= 0 && v < <f32>bound && v == Mathf.floor(v);
}

export function reportBadIndex(op: i32, value: f32, position: i32, bound: i32): void {
  failedOp = op;
  badValue = <f64>value;
  badPosition = position;
  badBound = bound;
  badIndices++;
}

/** Sets the opcode a status is about and returns the status. */
export function failWith(status: i32, op: i32): i32 {
  failedOp = op;
  return status;
}
