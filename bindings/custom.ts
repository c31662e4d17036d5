// Autograd that runs JavaScript: tensor hooks, retained gradients of non-leaves, custom ops
// (tg.autograd.Function, as torch.autograd.Function) and checkpointing.
//
// The core walks the tape (assembly/autograd.ts). Before a custom op's record, and when a hooked
// tensor's gradient is complete, the walk pauses and returns PAUSED; finishWalk runs the op's
// backward or the hooks here and resumes it. A leaf's hooks run after the walk (its gradient is
// complete only then): the walk accumulates into a fresh gradient, the hooks see that alone, and
// their result is added to what .grad held before, as in PyTorch.
//
// A custom op is recorded as CUSTOM records on one packed output P (the outputs' values, flat):
//
//   record 0  ┌────────┬─────┬─────┬─────┬──────────┬──────────┐   parts 1…  ┌─────┬─────┬─────┬────┐
//             │ CUSTOM │  P  │ in0 │ in1 │ i0 = key │ i1 = 0   │             │ in0 │ x   │ x   │ k  │
//             └────────┴─────┴─────┴─────┴──────────┴──────────┘             └─────┴─────┴─────┴────┘
//
// a, b, c name the tracked inputs and then the saved tensors, three to a record (each later part
// repeats a tracked input first, so it is recorded whenever record 0 is): the records hold them
// (refs, versions) as long as the graph lives. The outputs the caller gets are views of P.
import { core, heapF32, outOfMemory, isLeaf, PAUSED } from './core';
import { Op } from './opcodes';
import { Tensor, live, fail, newTensor } from './tensor';
import { tidy, keep } from './memory';
import { isRecording } from './trace';
import { fmt, show, sameShape, numel } from './shape';
import { narrow, reshape } from './ops/shape';
import { zeros, tensor } from './ops/creation';
import { detach } from './autograd';

/** Runs fn with gradient tracking on (on = true) or off. */
function withGrad<T>(on: boolean, fn: () => T): T {
  const was = core.setGradEnabled(on ? 1 : 0);
  try {
    return fn();
  } finally {
    core.setGradEnabled(was);
  }
}

/** A new tensor holding a copy of node `id`'s gradient (shape `dims`). */
function gradOfNode(id: number, dims: readonly number[], op: string): Tensor {
  const out = newTensor(dims, op, true);
  const g = core.gradOf(id);
  if (g !== 0) heapF32().copyWithin(core.dataOf(out.id) >>> 2, g >>> 2, (g >>> 2) + numel(dims));
  return out;
}

/** Adds (or, with `replace`, writes) t's values into node `id`'s gradient (made when it has none), or into its values. */
function addToGrad(id: number, t: Tensor, replace: boolean, intoValues = false): void {
  const g = intoValues ? core.dataOf(id) : core.ensureGrad(id);
  if (g === 0) return; // a leaf grad() does not capture, or out of memory (reported by the walk)
  const src = core.dataOf(t.id);
  if (replace) heapF32().copyWithin(g >>> 2, src >>> 2, (src >>> 2) + t.size);
  else core.addFloats(g, src, t.size);
}

// ── hooks ───────────────────────────────────────────────────────────────────────────────────────

/** A hook sees the gradient flowing into its tensor and may return a replacement of the same shape. */
export type GradHook = (grad: Tensor) => Tensor | void | null | undefined;

/** What registerHook returns: `remove()` takes the hook off again. */
export interface RemovableHandle {
  /** Takes the hook off (again: nothing). */
  remove(): void;
}

/** A tensor's hooks; `retains` when retainGrad added one (its sum so far in `retained`). */
interface Hooked { tensor: Tensor; hooks: Map<number, GradHook>; retains?: boolean; retained?: Tensor }
const hooked = new Map<number, Hooked>();
let nextHookKey = 1;

/**
 * Registers `fn` on tensor t (which must require grad): each backward calls it with the gradient
 * flowing into t, complete, and a Tensor it returns replaces that gradient (for a leaf, before it
 * is added to `.grad`). Hooks run in the order registered, each seeing the previous one's result;
 * they live until removed or until t is disposed, and do not run in a tg.trace replay.
 */
export function registerHook(t: Tensor, fn: GradHook): RemovableHandle {
  const id = live(t, 'registerHook');
  if (typeof fn !== 'function') throw new Error(`registerHook: expected a function, got ${show(fn)}`);
  if (!t.requiresGrad) throw new Error(`registerHook: the tensor of shape ${fmt(t.dims)} does not require grad, so no gradient reaches it`);
  if (isRecording()) throw new Error('registerHook: a hook runs JavaScript, which a tg.trace replay cannot; register it outside tg.trace');
  let entry = hooked.get(id);
  if (!entry || entry.tensor !== t) {
    if (!isLeaf(id) && !core.setHooked(id, 1)) outOfMemory('registerHook');
    entry = { tensor: t, hooks: new Map() };
    hooked.set(id, entry);
  }
  const key = nextHookKey++, mine = entry;
  mine.hooks.set(key, fn);
  return {
    remove() {
      mine.hooks.delete(key);
      if (mine.hooks.size === 0 && hooked.get(id) === mine) unhook(id);
    },
  };
}

function unhook(id: number): void {
  hooked.get(id)?.retained?.dispose();
  hooked.delete(id);
  core.setHooked(id, 0);
}

/** The hooks of node `id` if its tensor is still the one they were registered on. */
function hooksOf(id: number): Hooked | null {
  const entry = hooked.get(id);
  if (entry && entry.tensor.isDisposed) unhook(id);
  return entry && !entry.tensor.isDisposed ? entry : null;
}

/** Runs t's hooks on `grad` and returns the final gradient (all inside the caller's tidy). */
function applyHooks(entry: Hooked, grad: Tensor): Tensor {
  const t = entry.tensor;
  for (const fn of [...entry.hooks.values()]) {
    const r = withGrad(false, () => fn(grad));
    if (r === undefined || r === null) continue;
    if (!(r instanceof Tensor)) throw new Error(`registerHook: a hook must return a Tensor or nothing, got ${show(r)}`);
    live(r, 'registerHook');
    if (!sameShape(r.dims, t.dims)) throw new Error(`registerHook: a hook returned a gradient of shape ${fmt(r.dims)} for a tensor of shape ${fmt(t.dims)}`);
    grad = r;
  }
  return grad;
}

/** At a pause for a hooked non-leaf: its gradient, complete, goes through its hooks. */
function runNodeHooks(id: number): void {
  const entry = hooksOf(id);
  if (!entry) { core.setHooked(id, 0); return; } // its tensor was disposed (a node now in that row)
  tidy(() => {
    const g = gradOfNode(id, entry.tensor.dims, 'registerHook');
    const r = applyHooks(entry, g);
    if (r !== g) addToGrad(id, r, true);
  });
}

/** Nested walks (a checkpoint's, during the outer walk's pause) leave leaf hooks to the outer one. */
let walkDepth = 0;

/**
 * Runs `walk` (a backward) with the hooks of every hooked leaf applied to the gradient it adds:
 * each such leaf's gradient is set aside first, and after the walk .grad = old + hooks(new).
 */
export function withLeafHooks(walk: () => void): void {
  const leaves = walkDepth > 0 || leafHooksOff > 0 ? [] : [...hooked.keys()].map(hooksOf).filter((e): e is Hooked => e !== null && isLeaf(e.tensor.id) && e.hooks.size > 0);
  const parked = leaves.map(({ tensor }) => {
    const g = core.gradOf(tensor.id);
    const old = g ? heapF32().slice(g >>> 2, (g >>> 2) + tensor.size) : null;
    core.dropGrad(tensor.id);
    return old;
  });
  walkDepth++;
  let failed = true;
  try {
    walk();
    failed = false;
  } finally {
    walkDepth--;
    // every leaf gets its old gradient back, whatever a hook does; the first hook error is thrown after
    let error: unknown = null;
    leaves.forEach((entry, i) => {
      const id = entry.tensor.id, old = parked[i];
      if (!failed && error === null && core.gradOf(id)) { // the walk reached it
        if (isRecording()) error = new Error('backward: a leaf has a tensor hook, which runs JavaScript that a tg.trace replay cannot; remove it or call backward outside tg.trace');
        else try {
          tidy(() => addToGrad(id, applyHooks(entry, gradOfNode(id, entry.tensor.dims, 'registerHook')), true));
        } catch (e) {
          error = e;
        }
      }
      if (!old) return;
      const g = core.ensureGrad(id);
      if (g === 0) outOfMemory('backward');
      const h = heapF32(), at = g >>> 2;
      for (let k = 0; k < old.length; k++) h[at + k] += old[k];
    });
    if (error !== null) throw error;
  }
}

/** While positive, leaf hooks do not run: tg.grad gives its inputs' gradients and leaves every .grad alone. */
let leafHooksOff = 0;
export function withoutLeafHooks<T>(fn: () => T): T {
  leafHooksOff++;
  try {
    return fn();
  } finally {
    leafHooksOff--;
  }
}

/**
 * The lowest record a backward may walk: 0, or, while a walk is paused (a backward run by a custom
 * op's backward, as a checkpoint's), the first record made since the pause: below it lie the paused
 * walk's records, whose nodes hold gradients that walk has yet to pass on.
 */
let floorNow = 0;
export function walkFloor(): number { return floorNow; }

/**
 * Resumes a walk the core paused (status PAUSED) until it finishes: a custom op's backward or a
 * hooked tensor's hooks run at each pause. If one throws, the walk is abandoned (gradients added
 * so far stay, as in PyTorch) and the error propagates.
 */
export function finishWalk(status: number, op: string): void {
  while (status === PAUSED) {
    const at = core.pausedAt.value as number, out = core.pausedOut.value as number;
    const custom = (core.pausedForCustom.value as number) !== 0, retain = core.pausedRetain.value as number, prepared = core.pausedPrepared.value as number;
    const floor = core.pausedFloor.value as number;
    try {
      if (isRecording()) {
        throw new Error(`${op}: the graph has ${custom ? 'a custom op' : 'a tensor hook'}, which runs JavaScript that a tg.trace replay cannot; call backward outside tg.trace`);
      }
      const outer = floorNow;
      floorNow = core.tapeSize();
      try {
        if (custom) runCustomBackward(out, retain !== 0);
        else runNodeHooks(out);
      } finally {
        floorNow = outer;
      }
    } catch (e) {
      core.abandonBackward(at, prepared, floor);
      throw e;
    }
    status = core.resumeBackward(at, retain, prepared, custom ? 1 : 0, floor);
  }
  if (status < 0) fail(status, op);
}

/**
 * Keeps the gradient of this non-leaf tensor after backward, readable as `.grad` (PyTorch's
 * retain_grad); on a leaf it does nothing (leaves keep theirs).
 */
export function retainGrad(t: Tensor): void {
  const id = live(t, 'retainGrad');
  if (!t.requiresGrad) throw new Error(`retainGrad: the tensor of shape ${fmt(t.dims)} does not require grad`);
  if (isLeaf(id) || hooksOf(id)?.retains) return;
  if (isRecording()) throw new Error('retainGrad: it keeps the gradient by a hook, which runs JavaScript that a tg.trace replay cannot; call it outside tg.trace');
  // PyTorch's way: a hook that adds each complete gradient into a tensor of its own
  registerHook(t, (g) => {
    const entry = hooksOf(id)!;
    if (entry.retained && !entry.retained.isDisposed) addToGrad(entry.retained.id, g, false, true);
    else entry.retained = keep(g.mul(1));
  });
  hooksOf(id)!.retains = true;
}

/** A non-leaf's retained gradient (retainGrad), the same tensor at each read, or null. */
export function retainedGradOf(t: Tensor): Tensor | null {
  const r = hooksOf(t.id)?.retained;
  return r && !r.isDisposed ? r : null;
}

// ── custom ops ──────────────────────────────────────────────────────────────────────────────────

/** The `ctx` a custom op's forward and backward share (PyTorch's FunctionCtx). Other fields are the op's own. */
export class FunctionContext {
  /** For each argument of apply(): whether it is a tensor whose gradient backward must return. */
  readonly needsInputGrad: boolean[];
  /** @internal */ _saved: Tensor[] = [];
  /** @internal handles made for saved tensors whose own were disposed (by index; released after backward) */
  _adopted: (Tensor | undefined)[] = [];
  /** @internal the op's packed output and key, to tell that its records (which hold the saved tensors) live */
  _owner: { id: number; key: number; name: string } | null = null;
  [field: string]: unknown;

  /** @internal */
  constructor(needsInputGrad: boolean[]) { this.needsInputGrad = needsInputGrad; }

  /** Keeps tensors for backward (inputs or outputs of forward), held by the graph, not copied. */
  saveForBackward(...tensors: Tensor[]): void {
    tensors.forEach((t, i) => { if (!(t instanceof Tensor)) throw new Error(`saveForBackward: argument ${i} must be a Tensor, got ${show(t)}`); live(t, 'saveForBackward'); });
    this._saved = tensors;
  }

  /** The tensors saveForBackward kept, in order (live handles, even if the originals were disposed). */
  get savedTensors(): Tensor[] {
    return this._saved.map((t, i) => {
      if (!t.isDisposed) return t;
      const had = this._adopted[i];
      if (had && !had.isDisposed) return had;
      const owner = this._owner;
      if (!owner || !core.customRecordLive(owner.id, owner.key) || !core.adoptNode(t.id)) {
        throw new Error(`${owner?.name ?? 'savedTensors'}: a saved tensor is no longer held by the graph (was backward run before without retainGraph?)`);
      }
      return (this._adopted[i] = new Tensor(t.id, t.dims));
    });
  }
}

/** A custom op's forward and backward (see {@link Function}). */
interface CustomOp {
  name: string;
  ctx: FunctionContext;
  backward: (ctx: FunctionContext, ...grads: Tensor[]) => unknown;
  /** the tensor arguments whose gradient backward returns, by position in apply()'s arguments */
  inputs: (Tensor | null)[];
  outputs: (readonly number[])[];
  key: number;
  /** a kernelOp: its backward's arrays are constants to the tape */
  firstOrderOnly: boolean;
}
/** Live custom ops by their packed output's node id. */
const customOps = new Map<number, CustomOp>();
let nextCustomKey = 1;
let sweepAt = 64;

/** Forgets custom ops whose graph is gone (made but never walked, or walked with retainGraph). */
function sweepCustomOps(): void {
  if (customOps.size < sweepAt) return;
  for (const [id, op] of customOps) if (!core.customRecordLive(id, op.key)) release(id, op);
  sweepAt = 2 * Math.max(64, customOps.size);
}

function release(id: number, op: CustomOp): void {
  customOps.delete(id);
  for (const h of op.ctx._adopted) h?.dispose();
  op.ctx._adopted = [];
}

/**
 * A differentiable operation written in JavaScript, PyTorch's torch.autograd.Function: subclass
 * it with a static `forward(ctx, ...args)` that computes the outputs with tapegrad ops (it runs
 * without recording) and a static `backward(ctx, ...gradOutputs)` that returns one gradient per
 * argument of apply() (null for those that need none; `ctx.needsInputGrad` says which), then call
 * `MyOp.apply(...args)`. Non-tensor arguments pass through to forward. Its backward runs with
 * recording off: gradients of gradients through it are not computed. A custom op cannot be
 * recorded by tg.trace (its JavaScript would not run in a replay): apply() throws there.
 *
 * @example
 * ```ts
 * class Square extends tg.autograd.Function {
 *   static forward(ctx: tg.autograd.FunctionContext, x: tg.Tensor) { ctx.saveForBackward(x); return x.mul(x); }
 *   static backward(ctx: tg.autograd.FunctionContext, g: tg.Tensor) { const [x] = ctx.savedTensors; return [g.mul(x).mul(2)]; }
 * }
 * const x = tg.tensor([1, 2, 3], { requiresGrad: true });
 * Square.apply(x).sum().backward();
 * x.grad!.toArray(); // → [2, 4, 6]
 * ```
 */
export class Function {
  /** Computes the outputs from the arguments of apply() (one Tensor or an array of them). */
  static forward(_ctx: FunctionContext, ..._args: any[]): Tensor | Tensor[] {
    throw new Error(`${this.name}: static forward(ctx, ...args) is not implemented`);
  }

  /** Returns the gradient of each argument of apply() from the outputs' gradients. */
  static backward(_ctx: FunctionContext, ..._gradOutputs: Tensor[]): Tensor | null | (Tensor | null | undefined)[] {
    throw new Error(`${this.name}: static backward(ctx, ...gradOutputs) is not implemented`);
  }

  /** Runs the op: forward now, backward when a backward() reaches its outputs. */
  static apply(...args: any[]): any {
    const name = this.name || 'Function';
    if (isRecording()) throw new Error(`${name}.apply: a custom op runs JavaScript, which a tg.trace replay cannot; call it outside tg.trace`);
    args.forEach((a, i) => { if (a instanceof Tensor) live(a, `${name}.apply: argument ${i}`); });
    const gradOn = core.setGradEnabled(0) !== 0;
    core.setGradEnabled(gradOn ? 1 : 0);
    const needs = args.map((a) => gradOn && a instanceof Tensor && a.requiresGrad);
    const ctx = new FunctionContext(needs);
    // forward runs in a scope of its own: its temporaries go when it returns, and what it made of
    // its outputs and saved tensors is ours to release once copied and held by the records
    if (!core.beginScope()) outOfMemory(name);
    let result: Tensor | Tensor[], outs: Tensor[], made: Tensor[] = [];
    const keepers: Tensor[] = [];
    try {
      result = withGrad(false, () => this.forward(ctx, ...args));
      outs = Array.isArray(result) ? result : [result];
      outs.forEach((o, i) => { if (!(o instanceof Tensor) || o.isDisposed) throw new Error(`${name}.forward must return a Tensor or an array of Tensors, got ${show(o)} at ${i}`); });
      keepers.push(...outs, ...ctx._saved.filter((t) => !t.isDisposed));
      made = keepers.filter((t) => core.madeInScope(t.id));
      for (const t of keepers) core.markReturned(t.id, 1);
    } finally {
      core.endScope();
      for (const t of keepers) if (!t.isDisposed) core.markReturned(t.id, 0);
    }
    if (!needs.some((n) => n)) {
      for (const t of made) if (!outs.includes(t)) t.dispose(); // saved for a backward that cannot come
      return result;
    }
    sweepCustomOps();
    const tracked = args.filter((a, i): a is Tensor => needs[i]);
    const held = [...tracked, ...ctx._saved.filter((t) => !tracked.includes(t))];
    const key = nextCustomKey++;
    const shapes = outs.map((o) => o.dims.slice());
    const packed = newTensor([shapes.reduce((n, s) => n + numel(s), 0)], name);
    let views: Tensor[];
    try {
      let at = core.dataOf(packed.id) >>> 2;
      const h = heapF32();
      for (const o of outs) { const src = core.dataOf(o.id) >>> 2; h.copyWithin(at, src, src + o.size); at += o.size; }
      for (let part = 0, k = 0; k < held.length; part++) {
        const ids = part === 0 ? held.slice(0, 3) : [held[0], ...held.slice(k, k + 2)];
        k += part === 0 ? 3 : 2;
        const [a, b, c] = [0, 1, 2].map((j) => (ids[j] ? ids[j].id : -1));
        const status = core.runOpInto(Op.CUSTOM, packed.id, a, b, c, key, part, 0, 0, 0, 0, 0);
        if (status < 0) fail(status, name);
      }
      views = unpack(packed, shapes);
    } finally {
      packed.dispose(); // the views (and the records) keep it
    }
    customOps.set(packed.id, { name, ctx, backward: this.backward.bind(this), inputs: args.map((a, i) => (needs[i] ? a : null)), outputs: shapes, key,
      firstOrderOnly: (this as unknown as { firstOrderOnly?: boolean }).firstOrderOnly === true });
    ctx._owner = { id: packed.id, key, name };
    for (const t of new Set(made)) t.dispose(); // outputs copied into the packed one; saved ones held by its records
    return Array.isArray(result) ? views : views[0];
  }
}

/** The flat tensor `flat` as consecutive tensors of `shapes` (views: no copy). */
function unpack(flat: Tensor, shapes: (readonly number[])[]): Tensor[] {
  let offset = 0;
  return tidy(() => shapes.map((s) => { const v = reshape(narrow(flat, 0, offset, numel(s)), [...s]); offset += numel(s); return v; }));
}

/** At a pause for custom op output `id`: runs its backward and adds the gradients to its inputs'. */
function runCustomBackward(id: number, retain: boolean): void {
  const op = customOps.get(id);
  if (!op) throw new Error('backward: a custom op\'s context is gone (its graph was walked before without retainGraph)');
  tidy(() => {
    const g = gradOfNode(id, [op.outputs.reduce((n, s) => n + numel(s), 0)], op.name);
    for (const [input, r] of inputGrads(op, g, false)) addToGrad(input.id, r, false);
  });
  if (!retain) release(id, op);
}

/** The op's backward on its packed output's gradient g: [input, gradient] pairs, checked. `recorded`: with gradients on (createGraph). */
function inputGrads(op: CustomOp, g: Tensor, recorded: boolean): [Tensor, Tensor][] {
  const result = withGrad(recorded, () => op.backward(op.ctx, ...unpack(g, op.outputs)));
  const list = Array.isArray(result) ? result : [result];
  if (list.length < op.inputs.length && list.length !== 1) {
    throw new Error(`${op.name}.backward returned ${list.length} gradients for ${op.inputs.length} arguments`);
  }
  const out: [Tensor, Tensor][] = [];
  op.inputs.forEach((input, i) => {
    const r = list[i];
    if (!input || r === null || r === undefined) return;
    if (!(r instanceof Tensor)) throw new Error(`${op.name}.backward: gradient ${i} must be a Tensor or null, got ${show(r)}`);
    live(r, `${op.name}.backward`);
    if (!sameShape(r.dims, input.dims)) throw new Error(`${op.name}.backward: gradient ${i} has shape ${fmt(r.dims)}, but argument ${i} has shape ${fmt(input.dims)}`);
    out.push([input, r]);
  });
  return out;
}

/**
 * createGraph's rule for custom op output `id` (bindings/higher.ts): its backward run with
 * gradients recorded, so it is differentiable again where its backward's ops are.
 */
export function customOpGraphGrads(id: number, g: Tensor): [number, Tensor][] {
  const op = customOps.get(id);
  if (!op) throw new Error('grad: a custom op\'s context is gone (its graph was walked before without retainGraph)');
  if (op.firstOrderOnly) throw new Error(`grad: ${op.name} is a kernelOp, whose backward works on plain arrays: it has no second derivative (createGraph)`);
  return inputGrads(op, g, true).map(([t, r]) => [t.id, r]);
}

// ── kernel ops: forward and backward over Float32Arrays ───────────────────────────────────────────

/** A custom op written over plain arrays (see {@link kernelOp}). */
export interface KernelOpDefinition {
  /** Names the op in errors (default 'kernelOp'). */
  name?: string;
  /** The outputs' values from the inputs' (row-major copies), one Float32Array per output. */
  forward(inputs: Float32Array[], shapes: number[][]): Float32Array[];
  /** The outputs' shapes from the inputs' (default: one output shaped as the first input). */
  outputShapes?(shapes: number[][]): number[][];
  /** Each input's gradient (null for none) from the outputs' gradients, the inputs and the outputs. */
  backward(gradOutputs: Float32Array[], inputs: Float32Array[], outputs: Float32Array[]): (Float32Array | null)[];
}

/**
 * A differentiable op whose forward and backward are plain JavaScript over Float32Arrays, for a
 * computation that is not made of tensor ops (a simulator, a lookup, a special function). The
 * returned function takes tensors and gives one Tensor per output (an array when several).
 * Built on {@link Function}: the same rules hold (not inside tg.trace; first-order only).
 *
 * @example
 * ```ts
 * const cube = tg.autograd.kernelOp({
 *   forward: ([x]) => [x.map((v) => v ** 3)],
 *   backward: ([g], [x]) => [g.map((gi, i) => 3 * x[i] ** 2 * gi)],
 * });
 * const x = tg.tensor([1, 2], { requiresGrad: true });
 * (cube(x) as tg.Tensor).sum().backward();
 * x.grad!.toArray(); // → [3, 12]
 * ```
 */
export function kernelOp(def: KernelOpDefinition): (...inputs: Tensor[]) => Tensor | Tensor[] {
  if (def === null || typeof def !== 'object' || typeof def.forward !== 'function' || typeof def.backward !== 'function') {
    throw new Error(`kernelOp: expected {forward, backward} functions, got ${show(def)}`);
  }
  const name = def.name ?? 'kernelOp';
  const arrays = (list: unknown, count: number, sizes: number[], what: string): Float32Array[] => {
    if (!Array.isArray(list) || list.length !== count) throw new Error(`${name}: ${what} must return an array of ${count} Float32Arrays, got ${show(list)}`);
    list.forEach((a, i) => {
      if (a === null && what === 'backward') return;
      if (!(a instanceof Float32Array) || a.length !== sizes[i]) throw new Error(`${name}: ${what} result ${i} must be a Float32Array of ${sizes[i]} values, got ${show(a)}`);
    });
    return list;
  };
  class Kernel extends Function {
    static firstOrderOnly = true;
    static forward(ctx: FunctionContext, ...inputs: Tensor[]): Tensor[] {
      inputs.forEach((t, i) => { if (!(t instanceof Tensor)) throw new Error(`${name}: input ${i} must be a Tensor, got ${show(t)}`); });
      const shapes = inputs.map((t) => t.shape), values = inputs.map((t) => t.data());
      const outShapes = def.outputShapes ? def.outputShapes(shapes) : [shapes[0] ?? []];
      const outs = arrays(def.forward(values, shapes), outShapes.length, outShapes.map(numel), 'forward');
      ctx.kernel = { shapes, values, outs };
      return outs.map((o, i) => tensor(o, { shape: outShapes[i] }));
    }

    static backward(ctx: FunctionContext, ...grads: Tensor[]): (Tensor | null)[] {
      const { shapes, values, outs } = ctx.kernel as { shapes: number[][]; values: Float32Array[]; outs: Float32Array[] };
      const result = arrays(def.backward(grads.map((g) => g.data()), values, outs), shapes.length, shapes.map(numel), 'backward');
      return result.map((r, i) => (r ? tensor(r, { shape: shapes[i] }) : null));
    }
  }
  Object.defineProperty(Kernel, 'name', { value: name });
  return (...inputs: Tensor[]) => {
    const out = Kernel.apply(...inputs) as Tensor[];
    return out.length === 1 ? out[0] : out;
  };
}

// ── checkpointing ───────────────────────────────────────────────────────────────────────────────

/** Recomputes its segment during backward: forward runs without recording. */
class Checkpoint extends Function {
  static forward(ctx: FunctionContext, fn: (...xs: Tensor[]) => Tensor, _token: Tensor, ...inputs: Tensor[]): Tensor {
    ctx.fn = fn;
    ctx.saveForBackward(...inputs);
    const out = fn(...inputs);
    if (!(out instanceof Tensor)) throw new Error(`checkpoint: fn must return a Tensor, got ${show(out)}`);
    return out;
  }

  static backward(ctx: FunctionContext, grad: Tensor): (Tensor | null)[] {
    const saved = ctx.savedTensors, fn = ctx.fn as (...xs: Tensor[]) => Tensor;
    const needs = ctx.needsInputGrad.slice(2);
    return withGrad(true, () => {
      // (captured, so that a walk inside tg.grad, which gives gradients to its inputs alone, gives them theirs)
      const xs = saved.map((t, i) => { const x = detach(t); if (needs[i]) { x.requiresGrad_(); core.setCapture(x.id, 1); } return x; });
      const out = fn(...xs);
      if (out.requiresGrad) out.backward(grad); // the parameters fn reads get theirs here, as leaves
      return [null, null, ...xs.map((x, i) => (needs[i] ? x.grad : null))];
    });
  }
}

/**
 * Runs fn(...inputs) without keeping its intermediate results, and runs it again during backward
 * to get them (PyTorch's torch.utils.checkpoint): memory for time. fn must compute the same
 * result when run again (no dropout, no sampling); parameters it reads get their gradients as usual.
 *
 * @example
 * ```ts
 * const lin = new tg.nn.Linear(4, 4);
 * const x = tg.randn([2, 4], { requiresGrad: true });
 * tg.checkpoint((h) => lin.forward(h).relu(), x).sum().backward();
 * x.grad!.shape; // → [2, 4]
 * ```
 */
export function checkpoint(fn: (...inputs: Tensor[]) => Tensor, ...inputs: Tensor[]): Tensor {
  if (typeof fn !== 'function') throw new Error(`checkpoint: expected a function, got ${show(fn)}`);
  inputs.forEach((t, i) => { if (!(t instanceof Tensor)) throw new Error(`checkpoint: input ${i} must be a Tensor, got ${show(t)}`); });
  // a tracked token makes the op recorded when only the parameters inside fn require grad
  const token = zeros([]).requiresGrad_();
  try {
    return Checkpoint.apply(fn, token, ...inputs) as Tensor;
  } finally {
    token.dispose();
  }
}
