// Buffer allocator over memory.grow: power-of-two size classes with one free list each.
//
// Blocks carry no header: every caller knows the byte size it asked for (a node knows its element
// count), so `free(ptr, bytes)` finds the class again. Every block is 16-byte aligned, so v128
// loads and stores on tensor data are aligned.
//
//   free block:  ┌──────────────┬────────────────────────────────┐
//                │ next: usize  │ (unused until handed out)      │   freeHeads[class] → block → …
//                └──────────────┴────────────────────────────────┘
//
// Power-of-two classes waste at most half a block and make reuse exact: a training step that
// allocates the same sizes every time takes them straight back off the free lists, so memory
// stays flat across steps.

// @ts-ignore: decorator
@inline const MIN_CLASS: u32 = 4; // 16 bytes
// @ts-ignore: decorator
@inline const CLASS_COUNT: u32 = 32;

const freeHeads: usize = memory.data(<i32>(CLASS_COUNT * sizeof<usize>()));
let bumpPtr: usize = (__heap_base + 15) & ~15;
/** The size of the last request that could not be served (for the RangeError message). */
export let failedRequest: f64 = 0;
/** Counts failed requests, so a long operation (backward) can tell whether one failed. */
export let allocFailures: i32 = 0;

// @ts-ignore: decorator
@inline function sizeClass(bytes: usize): u32 {
  return bytes <= (<usize>1 << MIN_CLASS) ? MIN_CLASS : <u32>(32 - clz<u32>(<u32>bytes - 1));
}

/** Grows memory so that `end` is addressable; false when the runtime refuses. */
function ensureMemory(end: u64): bool {
  let have = <u64>memory.size() << 16;
  if (end <= have) return true;
  if (end > (<u64>1 << 32)) return false;
  let need = <i32>((end - have + 0xffff) >>> 16);
  // Grow by at least the current size so a growing model does not call memory.grow per step.
  let want = max(need, min(memory.size(), 16384));
  if (memory.grow(want) >= 0) return true;
  return memory.grow(need) >= 0;
}

function refuse(bytes: usize): usize {
  failedRequest = <f64>bytes;
  allocFailures++;
  return 0;
}

/**
 * Whether `bytes` more could be bump-allocated while staying under 1 GiB of memory: far enough
 * below the 4 GiB limit (and below what browsers refuse) that growing there does not fail.
 */
export function roomToGrow(bytes: f64): bool {
  return <f64>bumpPtr + bytes <= <f64>(1 << 30);
}

/** Returns a 16-byte aligned block of at least `bytes` bytes, or 0 when memory is exhausted. */
export function alloc(bytes: usize): usize {
  if (bytes > (<usize>1 << 31)) return refuse(bytes);
  let cls = sizeClass(bytes);
  let head = freeHeads + (<usize>cls << alignof<usize>());
  let block = load<usize>(head);
  if (block) {
    store<usize>(head, load<usize>(block));
  } else {
    let blockSize = <usize>1 << cls;
    if (!ensureMemory(<u64>bumpPtr + <u64>blockSize)) return refuse(bytes);
    block = bumpPtr;
    bumpPtr += blockSize;
  }
  return block;
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

export function free(block: usize, bytes: usize): void {
  let cls = sizeClass(bytes);
  let head = freeHeads + (<usize>cls << alignof<usize>());
  store<usize>(block, load<usize>(head));
  store<usize>(head, block);
}
