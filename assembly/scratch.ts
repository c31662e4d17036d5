// Kernel scratch: one buffer, grown to the largest request and kept, so a kernel that needs room
// for an intermediate (conv's column matrix) takes it without allocating per call. It never
// shrinks, so a backward kernel finds the size its forward pass asked for already there.

import { alloc, free } from "./alloc";

let scratch: usize = 0;
let scratchBytes: usize = 0;

/** A buffer of at least `bytes` bytes (contents undefined), or 0 when memory is exhausted. */
export function scratchFor(bytes: usize): usize {
  if (bytes <= scratchBytes) return scratch;
  let grown = alloc(bytes);
  if (!grown) return 0;
  if (scratch) free(scratch, scratchBytes);
  scratch = grown;
  scratchBytes = bytes;
  return grown;
}
