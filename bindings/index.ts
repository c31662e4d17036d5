// tapegrad: automatic differentiation with a WebAssembly core.
export { build } from './core';
/** @internal Test hooks (see bindings/core.ts); not public API. */
export { __testing } from './core';
export { Tensor } from './tensor';
export { backward, noGrad, detach } from './autograd';
export { tensor, zeros, ones, full, arange, rand, randn, manualSeed } from './ops/creation';
export { add, sub, mul, div, pow, maximum, minimum, neg, abs, exp, log, sqrt, tanh, sigmoid, relu, leakyRelu, gelu } from './ops/elementwise';
export { sin, cos, square, rsqrt, silu, softplus, clamp, clampMin, clampMax } from './ops/elementwise';
export type { SoftplusOptions, ClampOptions } from './ops/elementwise';
export { where, maskedFill, tril, triu, eq, ne, lt, le, gt, ge } from './ops/mask';
export { matmul } from './ops/matmul';
export { sum, mean, max, min, logsumexp, argmax, argmin } from './ops/reduce';
export { reshape, flatten, transpose, permute, squeeze, unsqueeze, expand, cat, stack, narrow, indexSelect, gather } from './ops/shape';
export { softmax, logSoftmax } from './ops/softmax';
export type { TensorLike, NestedArray, Index } from './tensor';
export type { CreateOptions, TensorOptions } from './ops/creation';
export { grad, gradcheck } from './functional';
export type { GradcheckOptions } from './functional';
export { tidy, dispose, keep, memory } from './memory';
export { trace, Trace } from './trace';
export type { MemoryInfo } from './memory';
export * as optim from './optim';
export * as nn from './nn';
export { save, load, loadMetadata } from './safetensors';
