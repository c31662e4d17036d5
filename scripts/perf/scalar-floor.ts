// A prototype of the compact scalar representation issue 14 proposes, small enough to time the
// floor of its design (scripts/perf/scalar-floor.mjs); not part of the build, and without the
// engine's other duties (escaping nodes, refcounts, in-place versions, hooks, traces, growth).
//
//   node k (dense arrays)  value f32 at VALS + 4k, grad f32 at GRADS + 4k, gen i32 at GENS + 4k,
//                          tracked i32 at TRACKED + 4k (requires grad)
//   record (16 B)          ┌────────────┬─────┬─────┬──────────────┐
//                          │ op | NUMBER│ out │  a  │ b, or f0 bits│
//                          └────────────┴─────┴─────┴──────────────┘
//   scope                  a mark of (node count, record count): closing it drops every node
//                          made since at once, bumping their generations (stale handles stay
//                          detectable), and the records with them.

// @ts-ignore: decorator
@inline const CAP: i32 = 1 << 20;
// @ts-ignore: decorator
@inline const ADD: i32 = 0;
// @ts-ignore: decorator
@inline const MUL: i32 = 2;
/** The record's b is a number (its f32 bits), not a node. */
// @ts-ignore: decorator
@inline const NUMBER: i32 = 0x100;

let VALS: usize = 0;
let GRADS: usize = 0;
let GENS: usize = 0;
let TRACKED: usize = 0;
let RECS: usize = 0;
let nodes: i32 = 0;
let records: i32 = 0;
let markNodes: i32 = 0;
let markRecords: i32 = 0;

export function init(): void {
  VALS = heap.alloc(<usize>CAP * 4);
  GRADS = heap.alloc(<usize>CAP * 4);
  GENS = heap.alloc(<usize>CAP * 4);
  TRACKED = heap.alloc(<usize>CAP * 4);
  RECS = heap.alloc(<usize>CAP * 16);
  memory.fill(GENS, 0, <usize>CAP * 4);
}
export function valuesAt(): usize { return VALS; }
export function gradsAt(): usize { return GRADS; }
export function gensAt(): usize { return GENS; }

// @ts-ignore: decorator
@inline function at(base: usize, k: i32): usize { return base + (<usize>k << 2); }

export function leaf(v: f32, tracked: i32): i32 {
  if (nodes >= CAP) return -1;
  let k = nodes++;
  store<f32>(at(VALS, k), v);
  store<f32>(at(GRADS, k), 0);
  store<i32>(at(TRACKED, k), tracked);
  return k;
}

export function beginScope(): void { markNodes = nodes; markRecords = records; }
export function endScope(): void {
  for (let k = markNodes; k < nodes; k++) store<i32>(at(GENS, k), load<i32>(at(GENS, k)) + 1);
  nodes = markNodes;
  records = markRecords;
}

/** A new node: op (ADD, MUL, any other: relu of a) of a and b, or of a and the number f0 (b < 0); -7 for a stale operand, -1 when full. */
export function scalarOp(op: i32, a: i32, genA: i32, b: i32, genB: i32, f0: f32): i32 {
  if (load<i32>(at(GENS, a)) != genA || (b >= 0 && load<i32>(at(GENS, b)) != genB)) return -7;
  if (nodes >= CAP || records >= CAP) return -1;
  let k = nodes++;
  let x = load<f32>(at(VALS, a)), y = b >= 0 ? load<f32>(at(VALS, b)) : f0;
  store<f32>(at(VALS, k), op == ADD ? x + y : op == MUL ? x * y : max(x, 0));
  let tracked = load<i32>(at(TRACKED, a)) | (b >= 0 ? load<i32>(at(TRACKED, b)) : 0);
  store<i32>(at(TRACKED, k), tracked);
  if (tracked) {
    let r = RECS + (<usize>records << 4);
    records++;
    store<i32>(r, b >= 0 ? op : op | NUMBER);
    store<i32>(r, k, 4);
    store<i32>(r, a, 8);
    if (b >= 0) store<i32>(r, b, 12); else store<f32>(r, f0, 12);
  }
  return k;
}

/** Zeroes the gradients of nodes [from, to) (an optimizer's zeroGrad over its parameters). */
export function zeroGrads(from: i32, to: i32): void { memory.fill(at(GRADS, from), 0, <usize>(to - from) << 2); }

/** Backward from `root` over the scope's records; the scope's gradients are zeroed first, at once. */
export function backward(root: i32): void {
  memory.fill(at(GRADS, markNodes), 0, <usize>(nodes - markNodes) << 2);
  store<f32>(at(GRADS, root), 1);
  for (let i = records - 1; i >= markRecords; i--) {
    let r = RECS + (<usize>i << 4);
    let op = load<i32>(r), k = load<i32>(r, 4), a = load<i32>(r, 8);
    let g = load<f32>(at(GRADS, k)), ga = at(GRADS, a);
    if (op & NUMBER) { // a number operand, or a unary op (relu)
      let c = load<f32>(r, 12);
      op &= ~NUMBER;
      if (load<i32>(at(TRACKED, a))) store<f32>(ga, load<f32>(ga) + (op == ADD ? g : op == MUL ? g * c : (load<f32>(at(VALS, k)) > 0 ? g : 0)));
      continue;
    }
    let b = load<i32>(r, 12), gb = at(GRADS, b);
    if (op == ADD) {
      store<f32>(ga, load<f32>(ga) + g);
      store<f32>(gb, load<f32>(gb) + g);
    } else {
      store<f32>(ga, load<f32>(ga) + g * load<f32>(at(VALS, b)));
      store<f32>(gb, load<f32>(gb) + g * load<f32>(at(VALS, a)));
    }
  }
}

/** SGD over nodes [from, to): value −= lr · grad. */
export function sgd(from: i32, to: i32, lr: f32): void {
  for (let k = from; k < to; k++) store<f32>(at(VALS, k), load<f32>(at(VALS, k)) - lr * load<f32>(at(GRADS, k)));
}
