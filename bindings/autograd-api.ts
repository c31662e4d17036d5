// tg.autograd: custom differentiable ops (PyTorch's torch.autograd.Function); see bindings/custom.ts.
export { Function, FunctionContext, kernelOp } from './custom';
export type { KernelOpDefinition } from './custom';
