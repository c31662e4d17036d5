// tg.autograd: custom differentiable ops (PyTorch's torch.autograd.Function); see bindings/custom.ts.
export { Function, FunctionContext } from './custom';
