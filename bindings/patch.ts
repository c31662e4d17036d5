// The relaxed-SIMD build ships as a patch over the SIMD build (scripts/build-wasm.mjs makes it):
// a list of instructions, each a tag byte and LEB128 numbers —
//   0, offset, length          copy `length` bytes of the SIMD build from `offset`
//   1, length, …bytes          insert `length` literal bytes
// The builds differ only where relaxed instructions replace SIMD ones (and in the sizes around
// them), so the patch is a few hundred bytes where a second copy would be tens of KB.

/** Rebuilds the target bytes from `base` and `patch`. */
export function applyPatch(base: Uint8Array, patch: Uint8Array): Uint8Array<ArrayBuffer> {
  const out: number[] = [];
  let p = 0;
  const varint = (): number => {
    let value = 0, shift = 0, byte: number;
    do { byte = patch[p++]; value += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80);
    return value;
  };
  while (p < patch.length) {
    const tag = patch[p++];
    if (tag === 0) {
      const offset = varint(), length = varint();
      for (let i = 0; i < length; i++) out.push(base[offset + i]);
    } else {
      const length = varint();
      for (let i = 0; i < length; i++) out.push(patch[p++]);
    }
  }
  return Uint8Array.from(out);
}
