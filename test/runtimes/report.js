// What each runtime prints for run.mjs, as the last line of its output: which runtime and version
// this is, whether it validates relaxed SIMD by itself (probed with a tiny module of our own, apart
// from tapegrad's choice), which build tapegrad loaded, and the losses.

const zero = [0xfd, 0x0c, ...new Array(16).fill(0)]; // v128.const 0
const code = [0, ...zero, ...zero, ...zero, 0xfd, 0x85, 0x02, 0x0b]; // no locals; f32x4.relaxed_madd(0, 0, 0); end
/** (module (func (result v128) (f32x4.relaxed_madd (v128.const 0) (v128.const 0) (v128.const 0)))) */
const relaxedMadd = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, // magic, version 1
  1, 5, 1, 0x60, 0, 1, 0x7b, //          types: () → v128
  3, 2, 1, 0, //                         functions: one of type 0
  10, code.length + 2, 1, code.length, ...code,
]);

/**
 * Prints the result of `trainMLP` run with tapegrad `tg` loaded by `module` ('import' or
 * 'require'), and whether a product large enough to split over threads was split and is right.
 */
export function report(module, { build, losses }, tg) {
  const [runtime, version] = globalThis.Deno ? ['deno', Deno.version.deno]
    : globalThis.Bun ? ['bun', Bun.version] : ['node', process.versions.node];
  const relaxedSimd = WebAssembly.validate(relaxedMadd);
  const jobs = tg.__testing.threads.jobs, a = tg.ones([300, 300]);
  const product = a.matmul(a).sum().item(); // 300³, however it is split
  const split = tg.__testing.threads.jobs > jobs;
  console.log(JSON.stringify({ runtime, version, module, relaxedSimd, build, losses, threads: tg.getNumThreads(), split, product }));
}
