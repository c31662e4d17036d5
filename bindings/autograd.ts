// Autograd from JavaScript: backward() on a root, noGrad() and detach() (core: assembly/autograd.ts).
import { core, issue } from './core';
import { Op, Cmd } from './opcodes';
import { fmt, sameShape, readOptions, bool } from './shape';
import { Tensor, type TensorLike, live, run, asTensor, viaTensor, notRecording } from './tensor';
import { backwardAsGraph, forgetGraphGrad } from './higher';
import { finishWalk, withLeafHooks, walkFloor } from './custom';

/** Options of {@link backward}. */
export interface BackwardOptions {
  /** Keep the graph walkable: without it a second backward() through the same graph throws, as in PyTorch. */
  retainGraph?: boolean;
  /**
   * Make each leaf's gradient a tensor on the tape, differentiable again (PyTorch's create_graph):
   * `.grad` is then that tensor (its buffer holds the same values, for the optimizers), until a
   * plain backward or zeroGrad changes the buffer. Gradient hooks do not run on this path.
   */
  createGraph?: boolean;
}

/**
 * Accumulates d(root)/d(leaf) into every leaf's `.grad`. `grad` is the gradient of root (needed
 * unless root has one element); `backward(options)` and `backward(grad, options)` both work.
 *
 * @example
 * ```ts
 * const x = tg.tensor([1, 2, 3], { requiresGrad: true });
 * tg.backward(x.square().sum()); // or x.square().sum().backward()
 * x.grad!.toArray(); // → [2, 4, 6]
 * ```
 */
export function backward(root: Tensor, grad?: TensorLike | BackwardOptions, options?: BackwardOptions): void {
  const id = live(root, 'backward');
  if (options === undefined && isOptionsObject(grad)) { options = grad as BackwardOptions; grad = undefined; }
  const o = options === undefined ? {} : readOptions(options, BACKWARD_OPTIONS, 'backward');
  const retain = o.retainGraph === true;
  if (!root.requiresGrad) throw new Error(`backward: the tensor of shape ${fmt(root.dims)} does not require grad (no input had requiresGrad, or it was made under noGrad)`);
  let seed = -1;
  let owned: Tensor | null = null;
  if (grad === undefined) {
    if (root.size !== 1) {
      throw new Error(`backward: a gradient can be implied only for a tensor with one element, got shape ${fmt(root.dims)}; pass backward(grad) with a gradient of that shape`);
    }
  } else {
    const g = grad instanceof Tensor ? asTensor(grad, 'backward') : (owned = asTensor(grad, 'backward'));
    if (g.size !== root.size || (g.dims.length > 0 && !sameShape(g.dims, root.dims))) {
      owned?.dispose();
      throw new Error(`backward: gradient of shape ${fmt(g.dims)} does not match the tensor's shape ${fmt(root.dims)}`);
    }
    seed = g.id;
  }
  try {
    if (o.createGraph) {
      notRecording('backward (createGraph)');
      backwardAsGraph(root, seed < 0 ? null : (grad instanceof Tensor ? grad : owned));
      return;
    }
    // the buffers change: graph gradients of a createGraph backward no longer match them (released
    // after the walk, which may start from one)
    const stale = forgetGraphGrad(undefined, true);
    try {
      withLeafHooks(() => finishWalk(issue(Cmd.BACKWARD, -1, id, seed, retain ? 1 : 0, walkFloor()), 'backward'));
    } finally {
      for (const t of stale) t.dispose();
    }
  } finally {
    owned?.dispose();
  }
}

const BACKWARD_OPTIONS = { retainGraph: bool, createGraph: bool };

/** backward(options): a plain object that is not an operand (backward(grad) takes tensors and arrays). */
function isOptionsObject(x: unknown): boolean {
  return x !== null && typeof x === 'object' && !Array.isArray(x) && !(x instanceof Tensor) && !ArrayBuffer.isView(x);
}

/**
 * Runs fn with gradient tracking off: nothing is recorded and results do not require grad.
 *
 * @example
 * ```ts
 * const x = tg.ones([2], { requiresGrad: true });
 * tg.noGrad(() => x.mul(2)).requiresGrad; // → false
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new Error(`noGrad: expected a function, got ${typeof fn}`);
  const was = core.setGradEnabled(0);
  try {
    return fn();
  } finally {
    core.setGradEnabled(was);
  }
}

/**
 * A new tensor with the same values that is not part of any graph.
 *
 * @example
 * ```ts
 * const x = tg.ones([2], { requiresGrad: true });
 * tg.detach(x).requiresGrad; // → false
 * ```
 */
export function detach(x: TensorLike): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('detach', x, (t) => detach(t));
  const a = x;
  live(a, 'detach');
  return noGrad(() => run(Op.RESHAPE, 'detach', a.dims, a, null, null));
}
