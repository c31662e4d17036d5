// A prototype of the scalar arena notes/scalar-arena.md plans for issue 14, small enough to time
// the floor of its design (scripts/perf/scalar-floor.mjs); not part of the build. It keeps the
// per-node duties the real engine has on micrograd's path — generations, references held by
// records, version stamps, spent records, gradients made on first use and dropped after their
// record, byte counting with its peak, a scope released at once only when nothing in it escapes —
// and leaves out the rest (chunks, hooks, traces, createGraph, out-of-memory, the main tape).
//
//   slot k (dense arrays)  value f32 at VALS + 8k, its gradient at VALS + 8k + 4;
//                          gen i32 at GENS + 4k; flags i32 at FLAGS + 4k; refs i32 at REFS + 4k
//   record k (16 B)        ┌────────────────────────┬─────┬──────────────┬───────┐
//                          │ op | NUMBER | SPENT    │  a  │ b, or f0 bits│ stamp │   slot k's record:
//                          └────────────────────────┴─────┴──────────────┴───────┘   its output is k
//   leaves (the parameters and inputs) are slots too, made by leaf(); only op results have records.

// @ts-ignore: decorator
@inline const CAP: i32 = 1 << 20;
// @ts-ignore: decorator
@inline const ADD: i32 = 0;
// @ts-ignore: decorator
@inline const MUL: i32 = 2;
// record op flags
// @ts-ignore: decorator
@inline const NUMBER: i32 = 0x100; // b is a number (its f32 bits), not a slot; or the op is unary
// @ts-ignore: decorator
@inline const SPENT: i32 = 0x200;
// @ts-ignore: decorator
@inline const OP_MASK: i32 = 0xff;
// slot flags (versions from bit 8 up)
// @ts-ignore: decorator
@inline const TRACKED: i32 = 1;
// @ts-ignore: decorator
@inline const HANDLE: i32 = 2;
// @ts-ignore: decorator
@inline const HAS_GRAD: i32 = 4;
// @ts-ignore: decorator
@inline const RETURNED: i32 = 8;
/** Made by an op that was recorded: record k is this slot's. */
// @ts-ignore: decorator
@inline const RECORDED: i32 = 16;
// @ts-ignore: decorator
@inline const VERSION_SHIFT: i32 = 8;

let VALS: usize = 0;
let GENS: usize = 0;
let FLAGS: usize = 0;
let REFS: usize = 0;
let RECS: usize = 0;
let slots: i32 = 0;
let mark: i32 = 0;
let tensorBytes: i64 = 0;
let peakBytes: i64 = 0;

export function init(): void {
  VALS = heap.alloc(<usize>CAP * 8);
  GENS = heap.alloc(<usize>CAP * 4);
  FLAGS = heap.alloc(<usize>CAP * 4);
  REFS = heap.alloc(<usize>CAP * 4);
  RECS = heap.alloc(<usize>CAP * 16);
  memory.fill(GENS, 0, <usize>CAP * 4);
}
export function valuesAt(): usize { return VALS; }
export function gensAt(): usize { return GENS; }
export function bytesInUse(): f64 { return <f64>tensorBytes; }

// @ts-ignore: decorator
@inline function at(base: usize, k: i32): usize { return base + (<usize>k << 2); }
// @ts-ignore: decorator
@inline function valueAt(k: i32): usize { return VALS + (<usize>k << 3); }
// @ts-ignore: decorator
@inline function recordAt(k: i32): usize { return RECS + (<usize>k << 4); }
// @ts-ignore: decorator
@inline function countBytes(bytes: i64): void {
  tensorBytes += bytes;
  if (tensorBytes > peakBytes) peakBytes = tensorBytes;
}

export function leaf(v: f32, tracked: i32): i32 {
  if (slots >= CAP) return -1;
  let k = slots++;
  store<f32>(valueAt(k), v);
  store<i32>(at(FLAGS, k), HANDLE | tracked);
  store<i32>(at(REFS, k), 0);
  countBytes(4);
  return k;
}

export function beginScope(): void { mark = slots; }

/** `k` leaves the scope when it closes (tidy's return value): the scope then frees slot by slot. */
export function markReturned(k: i32): void { store<i32>(at(FLAGS, k), load<i32>(at(FLAGS, k)) | RETURNED); }

/**
 * Closes the scope: when no slot of it escapes (returned, or held by a record outside it), every
 * slot goes at once — generations bumped, the references its records hold on older slots dropped,
 * bytes uncounted; else (not modelled here) slot by slot, as rows are today.
 */
export function endScope(): i32 {
  for (let k = mark; k < slots; k++) if (load<i32>(at(FLAGS, k)) & RETURNED) return -1;
  let bytes: i64 = 0;
  for (let k = mark; k < slots; k++) {
    store<i32>(at(GENS, k), load<i32>(at(GENS, k)) + 1);
    let flags = load<i32>(at(FLAGS, k));
    bytes += flags & HAS_GRAD ? 8 : 4;
    store<i32>(at(FLAGS, k), 0);
    if (!(flags & RECORDED)) continue;
    let r = recordAt(k), a = load<i32>(r, 4), b = load<i32>(r, 8);
    if (a < mark) store<i32>(at(REFS, a), load<i32>(at(REFS, a)) - 1);
    if (!(load<i32>(r) & NUMBER) && b < mark) store<i32>(at(REFS, b), load<i32>(at(REFS, b)) - 1);
  }
  tensorBytes -= bytes;
  slots = mark;
  return 0;
}

/** A new slot: op (ADD, MUL, any other: relu of a) of a and b, or of a and the number f0 (b < 0); -7 for a stale operand, -1 when full. */
export function scalarOp(op: i32, a: i32, genA: i32, b: i32, genB: i32, f0: f32): i32 {
  if (load<i32>(at(GENS, a)) != genA || (b >= 0 && load<i32>(at(GENS, b)) != genB)) return -7;
  if (slots >= CAP) return -1;
  let k = slots++;
  let flagsA = load<i32>(at(FLAGS, a)), flagsB = b >= 0 ? load<i32>(at(FLAGS, b)) : 0;
  let x = load<f32>(valueAt(a)), y = b >= 0 ? load<f32>(valueAt(b)) : f0;
  store<f32>(valueAt(k), op == ADD ? x + y : op == MUL ? x * y : max(x, 0));
  let tracked = (flagsA | flagsB) & TRACKED;
  store<i32>(at(FLAGS, k), tracked ? HANDLE | TRACKED | RECORDED : HANDLE);
  store<i32>(at(REFS, k), 0);
  countBytes(4);
  if (tracked) {
    let r = recordAt(k);
    store<i32>(r, b >= 0 ? op : op | NUMBER);
    store<i32>(r, a, 4);
    if (b >= 0) store<i32>(r, b, 8); else store<f32>(r, f0, 8);
    store<i32>(r, (flagsA >>> VERSION_SHIFT) + (flagsB >>> VERSION_SHIFT), 12);
    store<i32>(at(REFS, a), load<i32>(at(REFS, a)) + 1);
    if (b >= 0) store<i32>(at(REFS, b), load<i32>(at(REFS, b)) + 1);
  }
  return k;
}

/** Slot k's gradient, made zero on first use. */
// @ts-ignore: decorator
@inline function gradFor(k: i32): usize {
  let f = at(FLAGS, k), flags = load<i32>(f), g = valueAt(k) + 4;
  if (!(flags & HAS_GRAD)) {
    store<i32>(f, flags | HAS_GRAD);
    store<f32>(g, 0);
    countBytes(4);
  }
  return g;
}

/** Zeroes the gradients of slots [from, to) that have one (an optimizer's zeroGrad). */
export function zeroGrads(from: i32, to: i32): void {
  for (let k = from; k < to; k++) if (load<i32>(at(FLAGS, k)) & HAS_GRAD) store<f32>(valueAt(k) + 4, 0);
}

/**
 * Backward from `root` down to the scope's mark, without retaining the graph: a record whose slot
 * has no gradient is skipped; one already spent, or stamped with versions its inputs no longer
 * have, fails (-5, -4) before anything is written (the check pass runs only when `check`); each
 * record run is spent, and its slot's gradient dropped.
 */
export function backward(root: i32, check: bool): i32 {
  if (check) {
    for (let k = root; k >= mark; k--) {
      if (!(load<i32>(at(FLAGS, k)) & RECORDED)) continue;
      let r = recordAt(k), op = load<i32>(r);
      if (op & SPENT) return -5;
      let a = load<i32>(r, 4), b = load<i32>(r, 8);
      let versions = (load<i32>(at(FLAGS, a)) >>> VERSION_SHIFT) + (op & NUMBER ? 0 : load<i32>(at(FLAGS, b)) >>> VERSION_SHIFT);
      if (versions != load<i32>(r, 12)) return -4;
    }
  }
  store<f32>(gradFor(root), load<f32>(gradFor(root)) + 1);
  for (let k = root; k >= mark; k--) {
    let flags = load<i32>(at(FLAGS, k));
    if ((flags & (HAS_GRAD | RECORDED)) != (HAS_GRAD | RECORDED)) continue;
    let r = recordAt(k), word = load<i32>(r), op = word & OP_MASK, a = load<i32>(r, 4);
    let g = load<f32>(valueAt(k) + 4);
    if (word & NUMBER) { // a number operand, or relu
      let c = load<f32>(r, 8);
      if (load<i32>(at(FLAGS, a)) & TRACKED) {
        let ga = gradFor(a);
        store<f32>(ga, load<f32>(ga) + (op == ADD ? g : op == MUL ? g * c : (load<f32>(valueAt(k)) > 0 ? g : 0)));
      }
    } else {
      let b = load<i32>(r, 8);
      let x = load<f32>(valueAt(a)), y = load<f32>(valueAt(b));
      if (load<i32>(at(FLAGS, a)) & TRACKED) { let ga = gradFor(a); store<f32>(ga, load<f32>(ga) + (op == ADD ? g : g * y)); }
      if (load<i32>(at(FLAGS, b)) & TRACKED) { let gb = gradFor(b); store<f32>(gb, load<f32>(gb) + (op == ADD ? g : g * x)); }
    }
    store<i32>(r, word | SPENT);
    store<i32>(at(FLAGS, k), load<i32>(at(FLAGS, k)) & ~HAS_GRAD); // a computed slot's gradient is dropped once used
    countBytes(-4);
  }
  return 0;
}

/** SGD over slots [from, to) that have a gradient: value −= lr · grad, a new version each. */
export function sgd(from: i32, to: i32, lr: f32): void {
  for (let k = from; k < to; k++) {
    let flags = load<i32>(at(FLAGS, k));
    if (!(flags & HAS_GRAD)) continue;
    store<f32>(valueAt(k), load<f32>(valueAt(k)) - lr * load<f32>(valueAt(k) + 4));
    store<i32>(at(FLAGS, k), flags + (1 << VERSION_SHIFT));
  }
}
