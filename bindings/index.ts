// tapegrad: automatic differentiation with a WebAssembly core.
export { build } from './core';
/** @internal Test hooks (see bindings/core.ts); not public API. */
export { __testing } from './core';
export {
  Tensor, tensor, zeros, ones, full, arange, rand, randn, manualSeed,
  add, sub, mul, div, pow, maximum, minimum, neg, abs, exp, log, sqrt, tanh, sigmoid, relu, leakyRelu, gelu,
  matmul, sum, mean, max, min, logsumexp, argmax, argmin, softmax, logSoftmax,
  reshape, flatten, transpose, permute, squeeze, unsqueeze, expand, cat, stack, narrow, indexSelect, gather,
  backward, noGrad, detach,
} from './tensor';
export type { TensorLike, NestedArray, Index, CreateOptions, TensorOptions } from './tensor';
export { grad, gradcheck } from './functional';
export type { GradcheckOptions } from './functional';
export { tidy, dispose, keep, memory } from './memory';
export { trace, Trace } from './trace';
export type { MemoryInfo } from './memory';
export * as optim from './optim';
export * as nn from './nn';
export { save, load, loadMetadata } from './safetensors';
