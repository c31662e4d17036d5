// The node table: one 64-byte row per tensor, in one growable buffer of linear memory.
//
//   row = nodeTable + id * NODE_ROW
//   ┌──────┬──────┬──────┬──────┬───────┬──────┬──────┬──────┬──────┬──────────────────────────┐
//   │ data │ grad │ size │ rank │ flags │ rec  │ nrec │ gen  │ refs │ shape[0..MAX_RANK)  (i32) │
//   │ ptr  │ ptr  │ i32  │ i32  │ i32   │ i32  │ i32  │ i32  │ i32  │                           │
//   └──────┴──────┴──────┴──────┴───────┴──────┴──────┴──────┴──────┴──────────────────────────┘
//   0      4      8      12     16      20     24     28     32     36                        64
//
// data   f32 values, row-major, contiguous: a fresh buffer the node owns, or (DATA_VIEW) a run of
//        its base's buffer: a reshape, or a narrow whose elements are consecutive (a split along
//        the first dim), shares the values instead of copying them
// grad   f32 gradient, same layout, 0 until a gradient exists (zero-filled when created)
//        A 0-d node keeps its value and gradient inside its own row, in the shape slots it does
//        not use (data = row + 36, grad = row + 40): a scalar graph then allocates nothing per
//        node and touches one cache line less per operand. Growing the table moves them along.
// rec    index of the first tape record that wrote this node, or -1 for a leaf; nrec records
//        from there on wrote it (cat writes one record per input)
// gen    bumped when the node is released, so a stale JavaScript handle is detected
// refs   live tape records that read this node: a released node whose data a live record still
//        needs (the graph behind a tensor returned from tidy) is kept until that record dies
// A free row keeps its gen and links the free list through `rec` (but a slab row: see slabs below).
//
// A view (DATA_VIEW, rank 1..6) keeps its base's id in the last shape slot, which its rank leaves
// free. The base is the node that owns the buffer (a view of a view names the owner), and the
// view holds one reference on it, so the buffer outlives every view of it. A view's version is its
// base's (bumpVersion keeps them equal): an in-place write through any alias makes stale every
// record that saved any of them.
//
//   view row ┌─────────────────────────────────────┬──────────────────────────┬──────┐
//            │ data = base data + offset, … refs   │ shape[0..6)              │ base │
//            └─────────────────────────────────────┴──────────────────────────┴──────┘
//            0                                     36                         60     64

import { alloc, allocZeroed, free } from "./alloc";

// @ts-ignore: decorator
@inline export const NODE_ROW: usize = 64;
// @ts-ignore: decorator
@inline export const MAX_RANK: i32 = 7;
// @ts-ignore: decorator
@inline const DATA: usize = 0;
// @ts-ignore: decorator
@inline const GRAD: usize = 4;
// @ts-ignore: decorator
@inline const SIZE: usize = 8;
// @ts-ignore: decorator
@inline const RANK: usize = 12;
// @ts-ignore: decorator
@inline const FLAGS: usize = 16;
// @ts-ignore: decorator
@inline const REC: usize = 20;
// @ts-ignore: decorator
@inline const NREC: usize = 24;
// @ts-ignore: decorator
@inline const GEN: usize = 28;
// @ts-ignore: decorator
@inline const REFS: usize = 32;
// @ts-ignore: decorator
@inline const SHAPE: usize = 36;
// @ts-ignore: decorator
@inline const BASE: usize = SHAPE + (<usize>(MAX_RANK - 1) << 2);

// flags (the low bits; the bits from VERSION_SHIFT up count in-place writes: the node's version)
// @ts-ignore: decorator
@inline export const REQUIRES_GRAD: i32 = 1;
/** A JavaScript handle refers to this node (cleared by release). */
// @ts-ignore: decorator
@inline export const HANDLE: i32 = 2;
/** Row is in use (allocated and not yet freed). */
// @ts-ignore: decorator
@inline export const IN_USE: i32 = 4;
/** Exempt from tidy() scopes: parameters and optimizer state. */
// @ts-ignore: decorator
@inline export const KEPT: i32 = 8;
/** Returned by the function of the scope being closed: moves to the enclosing scope. */
// @ts-ignore: decorator
@inline export const RETURNED: i32 = 16;
/** An input of a functional grad(): its gradient is kept, and in capture mode only such leaves get one. */
// @ts-ignore: decorator
@inline export const CAPTURE: i32 = 32;
/** During backward: the walk will give this node a gradient (its buffer is ready). */
// @ts-ignore: decorator
@inline export const REACHED: i32 = 64;
/** During backward: the buffer was made for this walk (freed again if the walk cannot start). */
// @ts-ignore: decorator
@inline export const FRESH_GRAD: i32 = 128;
/**
 * A gradient view: the node's data is another node's gradient buffer, which it does not own.
 * The two rows name each other through `rec` (unused by leaves): rec = -2 - other id.
 */
// @ts-ignore: decorator
@inline export const GRAD_VIEW: i32 = 256;
/** The node's data is a run of another node's buffer (see the layout above). */
// @ts-ignore: decorator
@inline export const DATA_VIEW: i32 = 512;
/** A base that may have live views: an in-place write looks for them (bumpVersion). */
// @ts-ignore: decorator
@inline export const HAS_VIEWS: i32 = 1024;
// @ts-ignore: decorator
@inline export const VERSION_SHIFT: i32 = 11;

/**
 * Capture mode (functional grad()): backward gives gradients only to CAPTURE nodes among the
 * leaves, so the `.grad` of every other leaf is left alone, as torch.autograd.grad does.
 */
let captureMode = false;
export function setCaptureMode(on: bool): void { captureMode = on; }

/**
 * Fixed header that JavaScript reads directly (its address is exported once by `header()`):
 *   [0] nodeTable pointer   [1] node capacity   [2] live node count
 *   [3..3+MAX_RANK) shape scratch: JavaScript writes an output shape here before creating a node
 *   [10] pages of linear memory, written by the allocator each time it grows memory
 */
export const header: usize = memory.data(64);
// @ts-ignore: decorator
@inline export const SHAPE_SCRATCH: usize = 12;
// @ts-ignore: decorator
@inline export const MEMORY_PAGES: usize = 40;

let nodeTable: usize = 0;
/** A worker thread's instance takes the main thread's node table from the header (parallel.ts). */
export function readNodeTable(): void { nodeTable = load<usize>(header); }
let capacity: i32 = 0;
let freeRow: i32 = -1;
let liveNodes: i32 = 0;
/** Bytes of tensor data and gradient buffers (what memory() reports; the table, tape and
 *  kernel scratch are the engine's own and are not counted). */
let tensorBytes: i64 = 0; // an integer: each node adds and subtracts here, one latency-bound chain (f64 adds took ~4 cycles each)

export function tensorBytesInUse(): f64 { return <f64>tensorBytes; }
/** `bytes` more of tensor data or gradients: counted, and the peak follows. */
// @ts-ignore: decorator
@inline function countBytes(bytes: i64): void {
  tensorBytes += bytes;
  if (tensorBytes > peakTensorBytes) peakTensorBytes = tensorBytes;
}
/** The most tensorBytes has been since the start or resetPeakBytes (memory().peakBytes). */
let peakTensorBytes: i64 = 0;
export function peakBytes(): f64 { return <f64>max(peakTensorBytes, tensorBytes); }
export function resetPeakBytes(): void { peakTensorBytes = tensorBytes; }
export function tableCapacity(): i32 { return capacity; }
export function liveNodeCount(): i32 { return liveNodes; }

// @ts-ignore: decorator
@inline export function row(id: i32): usize { return nodeTable + <usize>id * NODE_ROW; }
// @ts-ignore: decorator
@inline export function dataPtr(id: i32): usize { return load<usize>(row(id), DATA); }
// @ts-ignore: decorator
@inline export function gradPtr(id: i32): usize { return load<usize>(row(id), GRAD); }
// @ts-ignore: decorator
@inline export function setGradPtr(id: i32, p: usize): void { store<usize>(row(id), p, GRAD); }
// @ts-ignore: decorator
@inline export function sizeOf(id: i32): i32 { return load<i32>(row(id), SIZE); }
// @ts-ignore: decorator
@inline export function rankOf(id: i32): i32 { return load<i32>(row(id), RANK); }
// @ts-ignore: decorator
@inline export function dim(id: i32, axis: i32): i32 { return load<i32>(row(id) + SHAPE + (<usize>axis << 2)); }
// @ts-ignore: decorator
@inline export function shapePtr(id: i32): usize { return row(id) + SHAPE; }
// @ts-ignore: decorator
@inline export function flagsOf(id: i32): i32 { return load<i32>(row(id), FLAGS); }
// @ts-ignore: decorator
@inline export function setFlags(id: i32, f: i32): void { store<i32>(row(id), f, FLAGS); }
/** The base whose buffer view `id` shares; -1 when the node owns its data. */
// @ts-ignore: decorator
@inline export function baseOf(id: i32): i32 { let r = row(id); return load<i32>(r, FLAGS) & DATA_VIEW ? load<i32>(r, BASE) : -1; }
/** How many times the node's values were overwritten in place (copy_, fills, optimizer updates). */
// @ts-ignore: decorator
@inline export function versionOf(id: i32): i32 { return id < 0 ? 0 : flagsOf(id) >>> VERSION_SHIFT; }

/**
 * Node `id`'s values were overwritten in place: it, its base and every live view of that base get
 * the base's next version (a view's version is always its base's). Records read only their own
 * nodes' versions, so views cost nothing there; finding the views walks the node table, which only
 * a base flagged HAS_VIEWS pays, and a walk that finds none clears the flag.
 */
export function bumpVersion(id: i32): void {
  let base = baseOf(id);
  if (base < 0) base = id;
  let flags = flagsOf(base) + (1 << VERSION_SHIFT);
  setFlags(base, flags);
  if (!(flags & HAS_VIEWS)) return;
  let version = flags >>> VERSION_SHIFT << VERSION_SHIFT, found = false;
  for (let v = 0; v < capacity; v++) {
    let r = row(v), f = load<i32>(r, FLAGS);
    if (!(f & DATA_VIEW) || load<i32>(r, BASE) != base) continue;
    store<i32>(r, (f & ((1 << VERSION_SHIFT) - 1)) | version, FLAGS);
    found = true;
  }
  if (!found) setFlags(base, flags & ~HAS_VIEWS);
}
/** A new record reads node `id` (or nothing, id < 0): one more reference; returns its version for the record's stamp. */
// @ts-ignore: decorator
@inline export function holdForRecord(id: i32): i32 {
  if (id < 0) return 0;
  let r = row(id);
  store<i32>(r, load<i32>(r, REFS) + 1, REFS);
  return load<i32>(r, FLAGS) >>> VERSION_SHIFT;
}
// @ts-ignore: decorator
@inline export function requiresGrad(id: i32): bool { return (flagsOf(id) & REQUIRES_GRAD) != 0; }
// @ts-ignore: decorator
@inline export function firstRecord(id: i32): i32 { return load<i32>(row(id), REC); }
// @ts-ignore: decorator
@inline export function setFirstRecord(id: i32, rec: i32): void { store<i32>(row(id), rec, REC); }
// @ts-ignore: decorator
@inline export function recordCount(id: i32): i32 { return load<i32>(row(id), NREC); }
// @ts-ignore: decorator
@inline export function genOf(id: i32): i32 { return load<i32>(row(id), GEN); }
// @ts-ignore: decorator
@inline export function bumpGen(id: i32): void { store<i32>(row(id), genOf(id) + 1, GEN); }
// @ts-ignore: decorator
@inline export function refsOf(id: i32): i32 { return load<i32>(row(id), REFS); }
// @ts-ignore: decorator
@inline export function setRefs(id: i32, n: i32): void { store<i32>(row(id), n, REFS); }

/** Notes that tape record `rec` wrote node `id`. Records of one node are consecutive. */
export function addRecord(id: i32, rec: i32): void {
  let r = row(id);
  if (load<i32>(r, NREC) == 0) store<i32>(r, rec, REC);
  store<i32>(r, load<i32>(r, NREC) + 1, NREC);
}

// @ts-ignore: decorator
@inline function isInline(r: usize): bool { return load<i32>(r, RANK) == 0; }
// @ts-ignore: decorator
@inline const INLINE_DATA: usize = SHAPE;
// @ts-ignore: decorator
@inline const INLINE_GRAD: usize = SHAPE + 4;

function growTable(forSlabs: bool): bool {
  let newCapacity = capacity ? capacity << 1 : CHUNK;
  let chunks = capacity >> CHUNK_SHIFT, newChunks = newCapacity >> CHUNK_SHIFT;
  let table = alloc(<usize>newCapacity * NODE_ROW);
  if (!table) return false;
  let meta = alloc(<usize>newChunks * CHUNK_META);
  if (!meta) { free(table, <usize>newCapacity * NODE_ROW); return false; }
  if (nodeTable) {
    memory.copy(table, nodeTable, <usize>capacity * NODE_ROW);
    free(nodeTable, <usize>capacity * NODE_ROW);
    // 0-d nodes carry pointers into their own rows: move them with the rows.
    for (let id = 0; id < capacity; id++) {
      let r = table + <usize>id * NODE_ROW;
      if (!(load<i32>(r, FLAGS) & IN_USE) || !isInline(r)) continue;
      store<usize>(r, r + INLINE_DATA, DATA);
      if (load<usize>(r, GRAD)) store<usize>(r, r + INLINE_GRAD, GRAD);
    }
    // ...and a view of such a node's gradient follows it
    for (let id = 0; id < capacity; id++) {
      let r = table + <usize>id * NODE_ROW;
      if (!(load<i32>(r, FLAGS) & GRAD_VIEW)) continue;
      store<usize>(r, load<usize>(table + <usize>viewPartner(r) * NODE_ROW, GRAD), DATA);
    }
  }
  memory.fill(table + <usize>capacity * NODE_ROW, 0, <usize>(newCapacity - capacity) * NODE_ROW);
  // The chunks' records, the pool and the stack move to the new block, which has room for all.
  memory.fill(meta, 0, <usize>newChunks * CHUNK_META);
  let pool = meta + (<usize>newChunks << 4), stack = pool + (<usize>newChunks << 2);
  if (chunkInfo) {
    memory.copy(meta, chunkInfo, <usize>chunks << 4);
    memory.copy(pool, slabPool, <usize>poolCount << 2);
    memory.copy(stack, slabStack, <usize>slabTop << 2);
    free(chunkInfo, <usize>chunks * CHUNK_META);
  }
  chunkInfo = meta; slabPool = pool; slabStack = stack;
  if (forSlabs) { // the new half's chunks join the pool, to be taken in ascending order
    slabsExist = true;
    for (let c = newChunks - 1; c >= chunks; c--) {
      store<i32>(info(c), 1, KIND);
      store<i32>(slabPool + (<usize>(poolCount++) << 2), c);
    }
  } else { // its rows join the free list in ascending order
    for (let id = newCapacity - 1; id >= capacity; id--) {
      store<i32>(table + <usize>id * NODE_ROW, freeRow, REC);
      freeRow = id;
    }
  }
  nodeTable = table;
  capacity = newCapacity;
  store<usize>(header, nodeTable, 0);
  store<i32>(header, capacity, 4);
  return true;
}

/**
 * Creates a node whose shape is the `rank` dims in the header's shape scratch, with an
 * uninitialised (or zeroed) data buffer. Returns -1 when memory is exhausted; nothing changes then.
 */
export function newNode(rank: i32, zeroed: bool): i32 {
  let size = 1;
  let scratch = header + SHAPE_SCRATCH;
  for (let i = 0; i < rank; i++) size *= load<i32>(scratch + (<usize>i << 2));
  if (freeRow < 0 && !growTable(false)) return -1;
  let bytes = <usize>max(size, 1) << 2;
  let data: usize = 0;
  if (rank > 0) {
    data = zeroed ? allocZeroed(bytes) : alloc(bytes);
    if (!data) return -1;
  }
  countBytes(<i64>bytes);
  let id = claimRow(size, rank, HANDLE | IN_USE, -1);
  let r = row(id);
  if (rank == 0) { // the value lives in the row (newScalarNode is this path, inline, for the scalar ops)
    data = r + INLINE_DATA;
    if (zeroed) store<f32>(data, 0);
  }
  store<usize>(r, data, DATA);
  for (let i = 0; i < rank; i++) store<i32>(r + SHAPE + (<usize>i << 2), load<i32>(scratch + (<usize>i << 2)));
  return id;
}

/**
 * newNode(0, false) inline, for the scalar ops' fast path (autograd.ts runScalarOp): a row whose
 * value lives inline, with no shape to copy. -1 when the table cannot grow.
 */
// @ts-ignore: decorator
@inline export function newScalarNode(): i32 {
  if (freeRow < 0 && !growTable(false)) return -1;
  countBytes(4);
  let id = claimRow(1, 0, HANDLE | IN_USE, -1);
  let r = row(id);
  store<usize>(r, r + INLINE_DATA, DATA);
  return id;
}

/** A node newScalarNode made was written by record `rec`: one record, and it requires grad. */
// @ts-ignore: decorator
@inline export function setScalarRecord(id: i32, rec: i32): void {
  let r = row(id);
  store<i32>(r, HANDLE | IN_USE | REQUIRES_GRAD, FLAGS); // a new row: version 0
  store<i32>(r, rec, REC);
  store<i32>(r, 1, NREC);
}

/**
 * Creates a view of `size` elements of node `a`'s data from element `offset`, with the shape in the
 * header's shape scratch (rank 1..6, and `a` not 0-d: a 0-d node's value lives in its row, which
 * moves). Returns -1 when the node table cannot grow.
 */
export function newView(rank: i32, size: i32, a: i32, offset: i32): i32 {
  if (freeRow < 0 && !growTable(false)) return -1;
  let base = baseOf(a);
  if (base < 0) base = a;
  let baseFlags = flagsOf(base);
  setFlags(base, baseFlags | HAS_VIEWS);
  let id = claimRow(size, rank, HANDLE | IN_USE | DATA_VIEW | (baseFlags >>> VERSION_SHIFT << VERSION_SHIFT), -1);
  let r = row(id);
  store<usize>(r, dataPtr(a) + (<usize>offset << 2), DATA);
  memory.copy(r + SHAPE, header + SHAPE_SCRATCH, <usize>rank << 2);
  store<i32>(r, base, BASE);
  setRefs(base, refsOf(base) + 1);
  return id;
}

/**
 * Takes a row off the free list (the caller made sure there is one) and makes it a live node with
 * no gradient, no records and no references; the caller writes its data pointer and shape.
 */
// @ts-ignore: decorator
@inline function claimRow(size: i32, rank: i32, flags: i32, rec: i32): i32 {
  let id = freeRow;
  freeRow = load<i32>(row(id), REC);
  claimAt(id, size, rank, flags, rec);
  return id;
}

/** Makes row `id` a live node with no gradient, no records and no references (claimRow's, and a slab's). */
// @ts-ignore: decorator
@inline function claimAt(id: i32, size: i32, rank: i32, flags: i32, rec: i32): void {
  let r = row(id);
  store<usize>(r, 0, GRAD);
  store<i32>(r, size, SIZE);
  store<i32>(r, rank, RANK);
  store<i32>(r, flags, FLAGS);
  store<i32>(r, rec, REC);
  store<i32>(r, 0, NREC);
  store<i32>(r, 0, REFS);
  liveNodes++;
  store<i32>(header, liveNodes, 8);
}

/**
 * Returns the node's row to the free list and its buffers to the allocator. Inline for a 0-d
 * node that owns its value and has no gradient (a scalar graph's every node); else freeRow.
 */
// @ts-ignore: decorator
@inline export function freeRowOf(id: i32): void {
  let r = row(id);
  if ((load<i32>(r, FLAGS) & (GRAD_VIEW | DATA_VIEW)) || !isInline(r) || load<usize>(r, GRAD)) { freeRowSlow(id); return; }
  tensorBytes -= 4;
  returnRow(id, r);
}

/** Row `r` (node `id`), its buffers dealt with, joins the free list. */
// @ts-ignore: decorator
@inline function returnRow(id: i32, r: usize): void {
  let slab = slabsExist && isSlab(id);
  if (slab) slabRowFreed(id, load<i32>(r, FLAGS));
  store<usize>(r, 0, DATA);
  store<i32>(r, 0, FLAGS);
  liveNodes--;
  store<i32>(header, liveNodes, 8);
  if (slab) return; // a slab row is not reused before its chunk is
  store<i32>(r, freeRow, REC);
  freeRow = id;
}

export function freeRowSlow(id: i32): void {
  let r = row(id);
  let bytes = <usize>max(load<i32>(r, SIZE), 1) << 2;
  let flags = load<i32>(r, FLAGS);
  if (flags & GRAD_VIEW) {
    store<i32>(row(viewPartner(r)), -1, REC); // the gradient's owner has no view now
  } else if (!(flags & DATA_VIEW)) { // a view's base owns the buffer (the caller drops the view's hold on it)
    if (!isInline(r)) free(load<usize>(r, DATA), bytes);
    tensorBytes -= <i64>bytes;
  }
  if (load<usize>(r, GRAD)) dropGrad(id); // most nodes die without a gradient: no call
  returnRow(id, r);
}

/**
 * The node's gradient buffer, created zero-filled on first use; 0 when memory is exhausted
 * (alloc counts the failure, backward reports it, and kernels skip an input whose grad is 0).
 */
export function gradFor(id: i32): usize {
  let g = gradPtr(id);
  return g ? g : newGrad(id, true);
}

/** gradFor for the scalar fast paths (autograd.ts): a 0-d node's gradient is made in its row, inline. */
// @ts-ignore: decorator
@inline export function scalarGradFor(id: i32): usize {
  let r = row(id), g = load<usize>(r, GRAD);
  if (g) return g;
  if (captureMode || !isInline(r)) return newGrad(id, true);
  return inlineGrad(r);
}

/** A 0-d node's gradient, made zero in its row (r). */
// @ts-ignore: decorator
@inline function inlineGrad(r: usize): usize {
  let g = r + INLINE_GRAD;
  store<f32>(g, 0);
  countBytes(4);
  store<usize>(r, g, GRAD);
  return g;
}

/** Makes the gradient buffer of a node that has none: zero-filled, or for a caller that writes every element not. */
export function newGrad(id: i32, zeroed: bool): usize {
  let r = row(id);
  if (captureMode && load<i32>(r, NREC) == 0 && !(load<i32>(r, FLAGS) & CAPTURE)) return 0;
  if (isInline(r)) return inlineGrad(r);
  let bytes = <usize>max(sizeOf(id), 1) << 2;
  let g = zeroed ? allocZeroed(bytes) : alloc(bytes);
  if (g) countBytes(<i64>bytes);
  setGradPtr(id, g);
  return g;
}

export function dropGrad(id: i32): void {
  let g = gradPtr(id);
  if (!g) return;
  setGradPtr(id, 0);
  let r = row(id);
  if (load<i32>(r, REC) <= -2 && releaseView(id, g)) return; // a leaf whose gradient has a view
  freeGrad(r, g);
}

/** dropGrad for a node an op computed: it never has a view (backward's hot path, kept small to inline). */
// @ts-ignore: decorator
@inline export function dropComputedGrad(id: i32): void {
  let g = gradPtr(id);
  if (!g) return;
  setGradPtr(id, 0);
  freeGrad(row(id), g);
}

// @ts-ignore: decorator
@inline function freeGrad(r: usize, g: usize): void {
  let bytes = <usize>max(load<i32>(r, SIZE), 1) << 2;
  if (!isInline(r)) free(g, bytes);
  tensorBytes -= <i64>bytes;
}

// ── grad(): the gradients of the leaves it does not ask for are set aside ──────────────────────
//
// In capture mode newGrad makes no gradient for a leaf that is not captured, but a leaf that
// already has one would be added to by every kernel that finds it. For the length of grad()'s
// backward those buffers are taken off their rows (parked: id, gen, buffer), so that every path
// sees none, and put back after; a leaf freed meanwhile has its buffer freed then.

let parked: usize = 0; // 16 B a leaf: id, gen, buffer, bytes (negative: inline in the row)
let parkedCount: i32 = 0;
let parkedCapacity: i32 = 0;

// @ts-ignore: decorator
@inline function parkable(r: usize): bool {
  let flags = load<i32>(r, FLAGS);
  return (flags & (IN_USE | CAPTURE | GRAD_VIEW)) == IN_USE && load<i32>(r, NREC) == 0 && load<usize>(r, GRAD) != 0;
}

/**
 * Sets aside the gradient of every leaf that is not captured. Returns where its entries start in
 * the list (a grad() inside a hook of another's backward parks after it), or -1 when out of memory
 * (nothing changed).
 */
export function parkLeafGrads(): i32 {
  let n = parkedCount, start = parkedCount;
  for (let id = 0; id < capacity; id++) if (parkable(row(id))) n++;
  if (n > parkedCapacity) {
    let grown = alloc(<usize>n << 4);
    if (!grown) return -1;
    if (parked) { memory.copy(grown, parked, <usize>parkedCount << 4); free(parked, <usize>parkedCapacity << 4); }
    parked = grown;
    parkedCapacity = n;
  }
  for (let id = 0; id < capacity; id++) {
    let r = row(id);
    if (!parkable(r)) continue;
    let p = parked + (<usize>(parkedCount++) << 4), bytes = max(load<i32>(r, SIZE), 1) << 2;
    store<i32>(p, id);
    store<i32>(p, load<i32>(r, GEN), 4);
    store<usize>(p, load<usize>(r, GRAD), 8);
    store<i32>(p, isInline(r) ? -bytes : bytes, 12);
    store<usize>(r, 0, GRAD);
  }
  return start;
}

/** Puts the gradients parked from entry `start` on back (a 0-d leaf's in its row, which may have moved), or frees those of leaves freed meanwhile. */
export function unparkLeafGrads(start: i32): void {
  for (let k = start; k < parkedCount; k++) {
    let p = parked + (<usize>k << 4), id = load<i32>(p), r = row(id), g = load<usize>(p, 8), bytes = load<i32>(p, 12);
    if (load<i32>(r, GEN) == load<i32>(p, 4) && (load<i32>(r, FLAGS) & IN_USE)) {
      store<usize>(r, bytes < 0 ? r + INLINE_GRAD : g, GRAD);
      continue;
    }
    tensorBytes -= <i64>abs(bytes); // freed meanwhile: its gradient goes too
    if (bytes > 0) free(g, <usize>bytes);
  }
  parkedCount = start;
}

// ── gradient views: `t.grad` is one tensor whose data is t's gradient buffer ─────────────────

// @ts-ignore: decorator
@inline function viewPartner(r: usize): i32 { return -2 - load<i32>(r, REC); }

/** The view of node `id`'s gradient, or -1. Only leaves have views (their `rec` is free). */
function viewOf(id: i32): i32 {
  let r = row(id);
  if (load<i32>(r, NREC) != 0 || load<i32>(r, REC) > -2 || (load<i32>(r, FLAGS) & GRAD_VIEW)) return -1;
  return viewPartner(r);
}

/**
 * The gradient `g` of leaf `id` goes away: its view goes with it, or, when a live record still
 * reads the view, the view takes the values over (its handle dies with the gradient; the record
 * keeps the values until it is freed, and they stay counted). True when the view took them.
 */
function releaseView(id: i32, g: usize): bool {
  let view = viewOf(id);
  if (view < 0) return false;
  store<i32>(row(id), -1, REC);
  if (refsOf(view) > 0) { handOver(view, g); return true; }
  bumpGen(view);
  freeRowOf(view);
  return false;
}

/** Turns a view into an ordinary node that owns the gradient values `g` (no longer anyone's gradient). */
function handOver(view: i32, g: usize): void {
  let v = row(view);
  store<i32>(v, load<i32>(v, FLAGS) & ~(GRAD_VIEW | HANDLE), FLAGS);
  bumpGen(view);
  store<i32>(v, -1, REC);
  if (isInline(v)) { // a 0-d gradient lived in its owner's row: move the value into the view's own
    store<f32>(v + INLINE_DATA, load<f32>(g));
    store<usize>(v, v + INLINE_DATA, DATA);
  }
}

/**
 * The node that views leaf `id`'s gradient buffer, made on first use: -1 when the node has no
 * gradient (or is not a leaf), -2 when the node table cannot grow. The view is exempt from scopes
 * and owned by the leaf: it is freed when the gradient is (or handed the buffer, see dropGrad).
 */
export function gradView(id: i32): i32 {
  let g = gradPtr(id);
  if (!g || load<i32>(row(id), NREC) != 0 || (flagsOf(id) & GRAD_VIEW)) return -1;
  let view = viewOf(id);
  if (view >= 0) return view;
  if (freeRow < 0 && !growTable(false)) return -2;
  let p = row(id); // read after growTable, which moves the rows (and g, for a 0-d leaf)
  view = claimRow(load<i32>(p, SIZE), load<i32>(p, RANK), HANDLE | IN_USE | KEPT | GRAD_VIEW, -2 - id);
  let r = row(view);
  store<usize>(r, gradPtr(id), DATA);
  memory.copy(r + SHAPE, p + SHAPE, <usize>MAX_RANK << 2);
  store<i32>(p, -2 - view, REC);
  return view;
}

// ── slabs: chunks of the table that tidy scopes fill with 0-d results, in order ──────────────────
//
// The table is a sequence of chunks of CHUNK rows (chunk c = ids [c·CHUNK, c·CHUNK + CHUNK)), each
// general (its rows on the free list) or a slab chunk, which never changes: growTable gives the
// rows it adds to whichever ran out. Inside tidy, runScalarOp's results take a slab's rows in
// order (a cursor: no free list, no scope entry), and a scope's rows are released at once when it
// ends (autograd.ts releaseSlab). Rows, ids and everything that reads them are as for any node.
//
//   chunk record (chunkInfo + 16·c)        pool: free slab chunks (a stack)
//   ┌──────┬──────┬──────┬──────────┐      stack: the chunks the open scopes fill, oldest first;
//   │ kind │ live │ seq  │ detached │      the cursor is the next row of the top one
//   └──────┴──────┴──────┴──────────┘
//   0      4      8      12         16
// seq       the chunk's place in the stack's order: a slab row's position is seq·CHUNK + its offset,
//           and a scope's rows are those at or after the position of its mark
// detached  it left the stack with rows in use (returned from the outermost tidy, kept, or held),
//           `live` of them: the last to be freed sends it back to the pool. A chunk on the stack
//           counts nothing (its rows are many and short-lived): closeSlab counts when it detaches.

// @ts-ignore: decorator
@inline const CHUNK_SHIFT: i32 = 10;
// @ts-ignore: decorator
@inline const CHUNK: i32 = 1 << CHUNK_SHIFT;
/** Bytes of bookkeeping a chunk: its record, a pool slot and a stack slot. */
// @ts-ignore: decorator
@inline const CHUNK_META: usize = 24;
// @ts-ignore: decorator
@inline const KIND: usize = 0;
// @ts-ignore: decorator
@inline const LIVE: usize = 4;
// @ts-ignore: decorator
@inline const SEQ: usize = 8;
// @ts-ignore: decorator
@inline const DETACHED: usize = 12;

let chunkInfo: usize = 0;
let slabPool: usize = 0;
let poolCount: i32 = 0;
let slabStack: usize = 0;
let slabTop: i32 = 0;
let slabCursor: i32 = 0;
let slabEnd: i32 = 0; // == slabCursor: the top chunk is full (or there is none)
let nextSeq: i32 = 0;
/** Holds on slab rows by anything but the records of slab rows (general records, traces). */
let slabExternal: i32 = 0;
/** Whether any slab chunk was ever made: until then no node is a slab row, and nothing is counted. */
let slabsExist = false;
// @ts-ignore: decorator
@inline export function anySlabs(): bool { return slabsExist; }
/** Slab rows in use that are returned from a scope or kept. */
let slabPinned: i32 = 0;

// @ts-ignore: decorator
@inline function info(c: i32): usize { return chunkInfo + (<usize>c << 4); }
// @ts-ignore: decorator
@inline export function isSlab(id: i32): bool { return load<i32>(info(id >> CHUNK_SHIFT), KIND) != 0; }
// @ts-ignore: decorator
@inline export function slabPos(id: i32): i32 { return load<i32>(info(id >> CHUNK_SHIFT), SEQ) * CHUNK + (id & (CHUNK - 1)); }
// @ts-ignore: decorator
@inline function pinned(flags: i32): bool { return (flags & IN_USE) != 0 && (flags & (RETURNED | KEPT)) != 0; }

/** A 0-d node from the open scopes' slab (newScalarNode's counterpart inside tidy); -1 when the table cannot grow. */
// @ts-ignore: decorator
@inline export function newSlabScalar(): i32 {
  if (slabCursor == slabEnd && !nextSlabChunk()) return -1;
  let id = slabCursor++;
  countBytes(4);
  claimAt(id, 1, 0, HANDLE | IN_USE, -1);
  let r = row(id);
  store<usize>(r, r + INLINE_DATA, DATA);
  return id;
}

/** Pushes a chunk from the pool (growing the table when it is empty) on the stack; false when out of memory. */
function nextSlabChunk(): bool {
  if (poolCount == 0 && !growTable(true)) return false;
  let c = load<i32>(slabPool + (<usize>(--poolCount) << 2));
  store<i32>(slabStack + (<usize>(slabTop++) << 2), c);
  store<i32>(info(c), nextSeq++, SEQ);
  slabCursor = c << CHUNK_SHIFT;
  slabEnd = slabCursor + CHUNK;
  return true;
}

/** Slab row `id`, with flags `flags`, is being freed one by one (returnRow). */
function slabRowFreed(id: i32, flags: i32): void {
  if (pinned(flags)) slabPinned--;
  let c = id >> CHUNK_SHIFT, p = info(c);
  if (!load<i32>(p, DETACHED)) return;
  let live = load<i32>(p, LIVE) - 1;
  store<i32>(p, live, LIVE);
  if (live) return;
  store<i32>(p, 0, DETACHED);
  store<i32>(slabPool + (<usize>(poolCount++) << 2), c);
}

/** Node `id`'s flags become `flags` (markReturned, keepNode): a slab row's pin is counted. */
export function setPinFlags(id: i32, flags: i32): void {
  if (isSlab(id)) slabPinned += <i32>pinned(flags) - <i32>pinned(flagsOf(id));
  setFlags(id, flags);
}

/** Freed at once by releaseSlab: a slab row with no gradient and no view, in use, as returnRow would free it (liveNodes is published by the caller). */
// @ts-ignore: decorator
@inline export function dropSlabRow(id: i32): void {
  let r = row(id);
  store<i32>(r, load<i32>(r, GEN) + 1, GEN);
  tensorBytes -= 4;
  store<usize>(r, 0, DATA);
  store<i32>(r, 0, FLAGS);
  liveNodes--;
}
export function publishLiveNodes(): void { store<i32>(header, liveNodes, 8); }

/** The slab's state, which a scope saves when it opens: the stack's height, the cursor, and the position of the next row. */
export function slabHeight(): i32 { return slabTop; }
export function slabNext(): i32 { return slabCursor; }
export function slabMarkPos(): i32 { return slabTop ? slabPos(slabCursor - 1) + 1 : nextSeq * CHUNK; }
/** The first row of the k-th chunk of the stack (0 = the oldest). */
export function slabChunkStart(k: i32): i32 { return load<i32>(slabStack + (<usize>k << 2)) << CHUNK_SHIFT; }
// @ts-ignore: decorator
@inline export const SLAB_CHUNK: i32 = CHUNK;

/**
 * After a scope's slab rows were released: its chunks go back to the pool and the cursor back to
 * where the scope found it (stack height `top`, cursor `cursor`). With rows still in use (returned,
 * kept, or held), the stack is left as it is, since the enclosing scope's rows include them; or,
 * when no scope is open any more (`enclosingPos` < 0), every chunk leaves it: detached while it
 * has rows in use, else back to the pool. Positions stay small: the next chunk's seq follows the
 * top one's, or, on an empty stack, starts at the enclosing scope's mark (it made no slab row).
 */
export function closeSlab(top: i32, cursor: i32, survivors: bool, enclosingPos: i32): void {
  if (survivors && enclosingPos >= 0) return;
  let from = survivors ? 0 : top;
  for (let k = slabTop - 1; k >= from; k--) {
    let c = load<i32>(slabStack + (<usize>k << 2)), p = info(c), start = c << CHUNK_SHIFT, live = 0;
    if (survivors) for (let id = start; id < start + CHUNK; id++) live += <i32>((flagsOf(id) & IN_USE) != 0);
    if (live) { store<i32>(p, live, LIVE); store<i32>(p, 1, DETACHED); store<i32>(p, -1, SEQ); } // below every position
    else store<i32>(slabPool + (<usize>(poolCount++) << 2), c);
  }
  slabTop = from;
  if (from > 0) {
    let c = load<i32>(slabStack + (<usize>(from - 1) << 2));
    slabCursor = cursor;
    slabEnd = (c << CHUNK_SHIFT) + CHUNK;
    nextSeq = load<i32>(info(c), SEQ) + 1;
  } else {
    slabCursor = slabEnd = 0;
    nextSeq = enclosingPos > 0 ? enclosingPos >> CHUNK_SHIFT : 0;
  }
}

/** A general record, a trace or a custom op holds (n = 1) or no longer holds (n = -1) nodes a, b, c (-1: none): counted for those that are slab rows. */
export function countExternal(a: i32, b: i32, c: i32, n: i32): void {
  if (a >= 0 && isSlab(a)) slabExternal += n;
  if (b >= 0 && isSlab(b)) slabExternal += n;
  if (c >= 0 && isSlab(c)) slabExternal += n;
}
/** Whether releaseSlab may free a scope's rows at once: no slab row is pinned or held from outside. */
// @ts-ignore: decorator
@inline export function slabsFree(): bool { return slabExternal == 0 && slabPinned == 0; }

/** Test hook: 0 = 0-d results inside tidy take free rows as outside it; 1 = slabs (the default); 2 = slabs, always released node by node. */
export let slabMode: i32 = 1;
export function setSlabMode(mode: i32): void { slabMode = mode; }
