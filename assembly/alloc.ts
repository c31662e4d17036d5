// Buffer allocator over memory.grow: TLSF (two-level segregated fit), after AssemblyScript's own
// std/assembly/rt/tlsf.ts (http://www.gii.upv.es/tlsf/), with quick lists in front.
//
// Every block starts with a 16-byte header; the payload (what alloc returns) follows it, so every
// payload is 16-byte aligned and its capacity is a whole number of 16-byte units: v128 loads and
// stores on tensor data are aligned, and a kernel may touch the whole last unit of a buffer.
//
//   block                                             payload = block + HEADER
//   ┌───────────┬───────────┬───────────┬─────────────┬──────────────────────────────────────┐
//   │ prev      │ next      │ left      │ size | L|F  │ size bytes (a multiple of 16, ≥ 16)  │
//   │ (if free) │ (if free  │ (if L)    │ usize       │                                      │
//   │           │  or quick)│           │             │                                      │
//   └───────────┴───────────┴───────────┴─────────────┴──────────────────────────────────────┘
//   0           4           8           12            16                        16 + size = right
//
// size   payload bytes; its low 4 bits hold the tags F (free) and L (the block on the left is free)
// prev, next   the free list of the block's size class; a block waiting in a quick list (not
//        free for its neighbours: F is clear) links that list through next
// left   when L is set: the free block on the left (a boundary tag, so that freeing finds both
//        neighbours in O(1))
// All bookkeeping lives in headers: a free block's payload is never written.
//
// Memory from the heap base to the end of linear memory is one row of blocks; the last one is the
// tail, a used block of size 0 (a header only). Two free blocks are never neighbours: a block is
// merged with a free left and right neighbour when it is freed, and growing memory turns the old
// tail into the header of a new free block, merged with a free block on its left:
//
//   heapStart                                                             tail     memory end
//   ┌──────┬────────┬──────┬──────────────┬─────── … ───┬────────────────┬────────┐
//   │ used │ free   │ used │ in a quick   │             │ free           │ tail   │
//   │      │        │      │ list         │             │                │        │
//   └──────┴────────┴──────┴──────────────┴─────── … ───┴────────────────┴────────┘
//
// Size classes (payload size s): below 256 bytes one class per 16 bytes (fl 0, sl = s / 16); from
// 256 on, fl = log2(s) − 7 and sl = the 4 bits after the leading one, 16 classes per power of two.
// One free list per (fl, sl); a bit per list in slMaps[fl] and a bit per fl in flMap find the
// first non-empty list at or above a class with two ctz: alloc and free are O(1).
//
//   flMap:   u32, bit fl set when slMaps[fl] ≠ 0                      FL_COUNT = 25 (s < 2^32)
//   slMaps:  u32 × FL_COUNT, bit sl set when heads[fl·16 + sl] ≠ 0
//   heads:   usize × FL_COUNT·16, the first free block of each class
//   quick:   usize × QUICK_MAX/16 + 1, a LIFO list of blocks of 16·i bytes at [i], i ≥ 1, and
//            of blocks larger than QUICK_MAX waiting to be merged at [0] (linked by payload
//            address, each block's next in its header)
//
// Quick lists: every op output is allocated and (at the end of its tidy scope) freed again, and a
// loop asks for the same sizes every step. Splitting and merging such blocks costs ≈ 20 ns per
// alloc + free against ≈ 2 ns for a list pop and push, several percent of a small op. So a block
// of up to QUICK_MAX bytes is freed into the quick list of its exact size (the size its caller
// asked for: free() reads no header), and the next request of that size takes it back; to its
// neighbours it stays a used block. Merging is only deferred, never lost: before alloc grows
// memory or gives up, it merges every waiting block into the free lists (flushQuick) and
// searches again, so memory never grows and a request never fails while freed blocks could serve
// it. Larger blocks go to one list, quick[0], and are merged with their neighbours by the next
// allocation that searches the free lists, before it searches: free() stays a push without a
// branch, and no search ever sees them unmerged.
//
// alloc rounds a request up to the next class boundary before searching (good fit: any block of
// that class or above fits, no list walk). When no class has one, it tries the head of the
// request's own class, then grows memory, then — memory at its limit — walks its own class's
// list, so a freed block of the right size is found even at the 4 GiB ceiling. Every size is
// computed so that it cannot wrap: a request that cannot be served returns 0 and records its size.
// Each growth is written to the node header's MEMORY_PAGES word, where JavaScript looks for it
// (a view of shared memory is not detached by growth: it only stops short).

import { header, MEMORY_PAGES } from "./nodes";

// @ts-ignore: decorator
@inline const HEADER: usize = 16;
// @ts-ignore: decorator
@inline const PREV: usize = 0;
// @ts-ignore: decorator
@inline const NEXT: usize = 4;
// @ts-ignore: decorator
@inline const LEFT: usize = 8;
// @ts-ignore: decorator
@inline const INFO: usize = 12;

// tags in the low bits of INFO
// @ts-ignore: decorator
@inline const FREE: usize = 1;
// @ts-ignore: decorator
@inline const LEFT_FREE: usize = 2;
// @ts-ignore: decorator
@inline const TAGS: usize = 15;

/** The smallest payload, and the payload granularity. */
// @ts-ignore: decorator
@inline const UNIT: usize = 16;
// @ts-ignore: decorator
@inline const SL_BITS: u32 = 4;
/** Payloads below this size (2^(SL_BITS + 4)) have exact classes of 16 bytes. */
// @ts-ignore: decorator
@inline const SMALL: usize = 256;
// @ts-ignore: decorator
@inline const FL_COUNT: u32 = 25;
/** Linear memory of wasm32 ends here at most (65536 pages). */
// @ts-ignore: decorator
@inline const MEMORY_LIMIT: u64 = 1 << 32;
/** Larger requests cannot be served in any memory; refusing them first keeps `bytes + 15` exact. */
// @ts-ignore: decorator
@inline const MAX_REQUEST: usize = 0xffff0000;
/** Blocks of up to this many bytes are freed into quick lists (a list per 16 bytes). */
// @ts-ignore: decorator
@inline const QUICK_MAX: usize = 65536;

const slMaps: usize = memory.data(<i32>(FL_COUNT << 2), 16);
const heads: usize = memory.data(<i32>((FL_COUNT << SL_BITS) << 2), 16);
const quick: usize = memory.data(<i32>(((QUICK_MAX >> 4) + 1) << 2), 16);
let flMap: u32 = 0;
/** The tail block (0 until the first allocation). */
let tail: usize = 0;
/** Test hook: the allocation that brings this to 0 fails (0: disarmed). */
let failCountdown: i32 = 0;
/** QUICK_MAX + 1, or 0 while failure injection is armed (every allocation then takes allocSlow). */
let quickEnd: usize = QUICK_MAX + 1;

/** The size of the last request that could not be served (for the RangeError message). */
export let failedRequest: f64 = 0;
/** Counts failed requests, so a long operation (backward) can tell whether one failed. */
export let allocFailures: i32 = 0;

// @ts-ignore: decorator
@inline function sizeOf(block: usize): usize { return load<usize>(block, INFO) & ~TAGS; }

/** The free-list index fl·16 + sl of a payload size (the class that holds it). */
// @ts-ignore: decorator
@inline function classOf(size: usize): u32 {
  if (size < SMALL) return <u32>(size >> 4);
  let top = 31 - clz<u32>(<u32>size);
  return ((top - 7) << SL_BITS) | ((<u32>size >> (top - SL_BITS)) ^ (1 << SL_BITS));
}

/** Puts a free block (INFO already written) at the head of its class's list. */
function link(block: usize, size: usize): void {
  let index = classOf(size);
  let headAt = heads + (<usize>index << 2);
  let head = load<usize>(headAt);
  store<usize>(block, 0, PREV);
  store<usize>(block, head, NEXT);
  if (head) store<usize>(head, block, PREV);
  store<usize>(headAt, block);
  let fl = index >> SL_BITS;
  let slAt = slMaps + (<usize>fl << 2);
  store<u32>(slAt, load<u32>(slAt) | (1 << (index & 15)));
  flMap |= 1 << fl;
}

/** Takes a free block out of list `index` (its class's). */
function unlink(block: usize, index: u32): void {
  let prev = load<usize>(block, PREV);
  let next = load<usize>(block, NEXT);
  if (next) store<usize>(next, prev, PREV);
  if (prev) {
    store<usize>(prev, next, NEXT);
  } else { // the head of its list
    store<usize>(heads + (<usize>index << 2), next);
    if (!next) {
      let fl = index >> SL_BITS;
      let slAt = slMaps + (<usize>fl << 2);
      let slMap = load<u32>(slAt) & ~(1 << (index & 15));
      store<u32>(slAt, slMap);
      if (!slMap) flMap &= ~(1 << fl);
    }
  }
}

/** Puts free block `block` where free block `old` was in list `index` (both of that class). */
// @ts-ignore: decorator
@inline function replace(old: usize, block: usize, index: u32): void {
  let prev = load<usize>(old, PREV);
  let next = load<usize>(old, NEXT);
  store<usize>(block, prev, PREV);
  store<usize>(block, next, NEXT);
  if (next) store<usize>(next, block, PREV);
  if (prev) store<usize>(prev, block, NEXT);
  else store<usize>(heads + (<usize>index << 2), block);
}

/** The first free block of the lowest non-empty class whose every block holds `size`, or 0. */
// @ts-ignore: decorator
@inline function search(size: usize): usize {
  let fl: u32, sl: u32;
  if (size < SMALL) {
    fl = 0;
    sl = <u32>(size >> 4);
  } else {
    // Round up to the next class boundary; a size that rounds past 2^32 is left to fallback().
    let top = 31 - clz<u32>(<u32>size);
    let rounded = size + ((<usize>1 << (top - SL_BITS)) - 1);
    if (rounded < size) return 0;
    top = 31 - clz<u32>(<u32>rounded);
    fl = top - 7;
    sl = (<u32>rounded >> (top - SL_BITS)) & 15;
  }
  let slMap = load<u32>(slMaps + (<usize>fl << 2)) & (<u32>-1 << sl);
  if (!slMap) {
    let above = flMap & (<u32>-1 << (fl + 1));
    if (!above) return 0;
    fl = ctz<u32>(above);
    slMap = load<u32>(slMaps + (<usize>fl << 2));
  }
  return load<usize>(heads + ((<usize>((fl << SL_BITS) | ctz<u32>(slMap))) << 2));
}

/**
 * Hands out free block `block` for a payload of `size`: takes it out of its list and splits off
 * the rest as a free block, which stays in the same place of the same list when its class did
 * not change (a large free block handing out small ones, the common case): no bitmap to update.
 */
// @ts-ignore: decorator
@inline function take(block: usize, size: usize): void {
  let info = load<usize>(block, INFO);
  let have = info & ~TAGS;
  let index = classOf(have);
  let rest = have - size;
  if (rest >= HEADER + UNIT) {
    store<usize>(block, size | (info & LEFT_FREE), INFO);
    let spare = block + HEADER + size;
    let spareSize = rest - HEADER;
    store<usize>(spare, spareSize | FREE, INFO); // its left is `block`, in use
    store<usize>(spare + HEADER + spareSize, spare, LEFT); // the right keeps its L tag
    let spareIndex = classOf(spareSize);
    if (spareIndex == index) {
      replace(block, spare, index);
    } else {
      unlink(block, index);
      link(spare, spareSize);
    }
  } else {
    unlink(block, index);
    store<usize>(block, info & ~FREE, INFO);
    let right = block + HEADER + have;
    store<usize>(right, load<usize>(right, INFO) & ~LEFT_FREE, INFO);
  }
}

/** Sets up the heap on first use: one free block up to the end of memory, then the tail. */
function initialize(): bool {
  let start = (__heap_base + 15) & ~15;
  let end = <u64>memory.size() << 16;
  let need = <u64>start + 3 * HEADER + UNIT; // a block with the smallest payload, and the tail
  if (end < need && memory.grow(<i32>((need - end + 0xffff) >> 16)) < 0) return false;
  end = <u64>memory.size() << 16;
  store<i32>(header, memory.size(), MEMORY_PAGES);
  tail = <usize>(end - HEADER);
  let size = tail - start - HEADER;
  store<usize>(start, size | FREE, INFO);
  store<usize>(tail, LEFT_FREE, INFO);
  store<usize>(tail, start, LEFT);
  link(start, size);
  return true;
}

/**
 * Grows memory so that a free block of at least `size` ends at the tail, and returns it (linked
 * in its list); 0 when the runtime refuses or the 4 GiB limit is in the way.
 */
function grow(size: usize): usize {
  let tailInfo = load<usize>(tail, INFO);
  // The block will start at the free block before the tail, or at the tail itself.
  let start = tailInfo & LEFT_FREE ? load<usize>(tail, LEFT) : tail;
  let need = <u64>start + 2 * HEADER + <u64>size; // its header and payload, then the new tail
  let end = <u64>tail + HEADER; // = memory.size() << 16: nothing else grows memory
  if (need <= end) return start; // the free block before the tail fits (rounding skipped it)
  if (need > MEMORY_LIMIT) return 0;
  let pages = <i32>((need - end + 0xffff) >> 16);
  // Grow by the current size (up to 1 GiB) so a growing model does not call memory.grow per step;
  // near the limit (or where the runtime refuses that much) by half as much, and so on: growing a
  // large memory costs milliseconds, so not a few pages per allocation either.
  let have = memory.size();
  let want = max(pages, min(have, min(16384, 65536 - have)));
  while (memory.grow(want) < 0) {
    if (want == pages) return 0;
    want = max(pages, want >> 1);
  }
  store<i32>(header, memory.size(), MEMORY_PAGES);
  let newTail = <usize>((<u64>memory.size() << 16) - HEADER);
  // The old tail becomes the header of the new free block, merged with a free block on its left.
  let block = tail;
  let blockSize = newTail - tail - HEADER;
  if (tailInfo & LEFT_FREE) {
    let leftSize = sizeOf(start);
    unlink(start, classOf(leftSize));
    block = start;
    blockSize += leftSize + HEADER;
  }
  store<usize>(block, blockSize | FREE, INFO);
  store<usize>(newTail, LEFT_FREE, INFO);
  store<usize>(newTail, block, LEFT);
  tail = newTail;
  link(block, blockSize);
  return block;
}

/** When search() finds nothing: a block that fits from the request's own class, more memory, or 0. */
function fallback(size: usize): usize {
  let index = classOf(size);
  let headAt = heads + (<usize>index << 2);
  let block = load<usize>(headAt);
  if (block && sizeOf(block) >= size) return block;
  block = grow(size);
  if (block) return block;
  // Memory is at its limit: any block of the own class that fits (one list walk, only here).
  block = load<usize>(headAt);
  while (block && sizeOf(block) < size) block = load<usize>(block, NEXT);
  return block;
}

function refuse(bytes: usize): usize {
  failedRequest = <f64>bytes;
  allocFailures++;
  return 0;
}

/**
 * Makes sure `bytes` more can be allocated without growing memory on the way: the free block at
 * the top of the heap is grown now, if need be, to at least that size (every later request that
 * fits in it is served from it or from a block that fits better). False when that cannot be done:
 * the runtime refuses to grow, the 4 GiB limit is in the way, or failure injection is armed (so
 * that callers take their careful path).
 */
export function reserve(bytes: f64): bool {
  if (failCountdown || !(bytes < <f64>MEMORY_LIMIT)) return false;
  if (!tail && !initialize()) return false;
  return grow(<usize>bytes) != 0;
}

/** Test hook: the n-th next alloc (n ≥ 1) fails as if memory were exhausted; n ≤ 0 disarms. */
export function failAllocAfter(n: i32): void {
  failCountdown = max(n, 0);
  quickEnd = failCountdown ? 0 : QUICK_MAX + 1;
}

/** Returns a 16-byte aligned block of at least `bytes` bytes, or 0 when memory is exhausted. */
export function alloc(bytes: usize): usize {
  if (bytes < quickEnd) { // a block of this size freed recently: the steady state of a loop
    let at = quick + (bytes <= UNIT ? 4 : ((bytes + 15) >> 4) << 2);
    let ptr = load<usize>(at);
    if (ptr) {
      store<usize>(at, load<usize>(ptr - HEADER, NEXT));
      return ptr;
    }
  }
  return allocSlow(bytes);
}

/** alloc when no quick list has a block of the size: search, merge, grow, or refuse. */
function allocSlow(bytes: usize): usize {
  if (failCountdown && --failCountdown == 0) {
    quickEnd = QUICK_MAX + 1;
    return refuse(bytes);
  }
  if (bytes > MAX_REQUEST) return refuse(bytes);
  let size = bytes <= UNIT ? UNIT : (bytes + 15) & ~15;
  if (!tail && !initialize()) return refuse(bytes);
  releaseLarge();
  let block = search(size);
  if (!block) {
    // Before growing or refusing, merge what waits in the quick lists and look again.
    if (flushQuick()) block = search(size);
    if (!block) {
      block = fallback(size);
      if (!block) return refuse(bytes);
    }
  }
  take(block, size);
  return block + HEADER;
}

/** Like alloc, and the block is zero-filled. */
export function allocZeroed(bytes: usize): usize {
  let block = alloc(bytes);
  if (!block) return 0;
  // Blocks are whole 16-byte units; small ones (scalars) are cheaper to clear with stores than memory.fill.
  if (bytes <= 64) for (let p: usize = 0; p < bytes; p += 16) v128.store(block + p, i64x2.splat(0));
  else memory.fill(block, 0, bytes);
  return block;
}

/**
 * Returns a block of `bytes` (what it was allocated with) to the quick list of that size, or one
 * of more than QUICK_MAX bytes to quick[0], from where the next allocSlow() merges it into the
 * free lists before it searches them. Inlined where it is called and without a branch, like the
 * free-list push it replaces: as a call, or with a call in a branch, it made small ops
 * measurably slower.
 */
// @ts-ignore: decorator
@inline export function free(ptr: usize, bytes: usize): void {
  if (!ptr) return;
  // The list of the size asked for: take() may have left up to 16 bytes more in the block,
  // which only its header knows; merging goes by the header's size.
  let at = quick + (bytes > QUICK_MAX ? 0 : bytes <= UNIT ? 4 : ((bytes + 15) >> 4) << 2);
  store<usize>(ptr - HEADER, load<usize>(at), NEXT);
  store<usize>(at, ptr);
}

/** Merges the large blocks freed since the last call (quick[0]) with their neighbours. */
// @ts-ignore: decorator
@inline function releaseLarge(): void {
  let ptr = load<usize>(quick);
  if (ptr) {
    store<usize>(quick, 0);
    do {
      let block = ptr - HEADER;
      ptr = load<usize>(block, NEXT);
      release(block, load<usize>(block, INFO));
    } while (ptr);
  }
}

/**
 * Puts a used block (INFO = `info`) in the free lists, merged with its free neighbours. When the
 * merged block keeps the class of a neighbour it absorbed (a small block returning to a large
 * free one), it takes that neighbour's place in its list: no bitmap to update.
 */
function release(block: usize, info: usize): void {
  let size = info & ~TAGS;
  let right = block + HEADER + size;
  let rightInfo = load<usize>(right, INFO);
  let absorbed: usize = 0; // the right neighbour, if free: merged in, still in its list
  let absorbedIndex: u32 = 0;
  if (rightInfo & FREE) {
    let rightSize = rightInfo & ~TAGS;
    absorbed = right;
    absorbedIndex = classOf(rightSize);
    size += HEADER + rightSize;
    right = block + HEADER + size;
    rightInfo = load<usize>(right, INFO);
  }
  let left: usize = 0; // the left neighbour, if free: the merged block starts there
  let leftIndex: u32 = 0;
  if (info & LEFT_FREE) {
    left = load<usize>(block, LEFT);
    let leftInfo = load<usize>(left, INFO);
    let leftSize = leftInfo & ~TAGS;
    leftIndex = classOf(leftSize);
    size += leftSize + HEADER;
    block = left;
    info = leftInfo;
  }
  store<usize>(block, size | (info & LEFT_FREE) | FREE, INFO);
  store<usize>(right, rightInfo | LEFT_FREE, INFO);
  store<usize>(right, block, LEFT);
  let index = classOf(size);
  if (absorbed && absorbedIndex == index) {
    if (left) unlink(left, leftIndex);
    replace(absorbed, block, index);
  } else {
    if (absorbed) unlink(absorbed, absorbedIndex);
    if (left) {
      if (leftIndex == index) return; // the left block grew within its class: it keeps its place
      unlink(left, leftIndex);
    }
    link(block, size);
  }
}

/** Merges every block waiting in a quick list into the free lists; false when there was none. */
function flushQuick(): bool {
  let any = false;
  for (let at = quick + 4, end = quick + ((QUICK_MAX >> 4) << 2); at <= end; at += 4) {
    let ptr = load<usize>(at);
    if (!ptr) continue;
    store<usize>(at, 0);
    any = true;
    do {
      let block = ptr - HEADER;
      ptr = load<usize>(block, NEXT);
      release(block, load<usize>(block, INFO));
    } while (ptr);
  }
  return any;
}
