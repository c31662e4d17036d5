// Optimizers: the update loops run in WebAssembly over a list of parameter ids kept in linear
// memory, so step() and zeroGrad() are one call each whatever the number of parameters.
import { core, issue, heapI32, heapF32, outOfMemory } from './core';
import { Cmd } from './opcodes';
import { afterTrace, isRecording } from './trace';
import { Tensor, live } from './tensor';
import { zeros } from './ops/creation';
import { keep } from './memory';
import { readOptions, checkInt, checkBool, show, fmt, sameShape, hasOwn, type Check } from './shape';
import { copyAll, makeAll } from './nn/module';

/** An i32 list of node ids in WebAssembly memory. */
class IdList {
  readonly ptr: number;
  readonly count: number;
  constructor(ids: number[], op: string) {
    this.count = ids.length;
    this.ptr = core.allocBuffer(Math.max(ids.length, 1) * 4);
    if (this.ptr === 0) outOfMemory(op);
    heapI32().set(ids, this.ptr >>> 2);
  }
  free(): void { core.freeBuffer(this.ptr, Math.max(this.count, 1) * 4); }
}

function paramList(params: Iterable<Tensor>, op: string): Tensor[] {
  const iterable = params !== null && params !== undefined && typeof (params as Partial<Iterable<Tensor>>)[Symbol.iterator] === 'function';
  if (!iterable || typeof params === 'string') throw new Error(`${op}: params must be an array (or iterable) of tensors, got ${show(params)}`);
  const list = Array.from(params);
  if (list.length === 0) throw new Error(`${op}: got an empty parameter list`);
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new Error(`${op}: parameter ${i} is not a Tensor, got ${show(p)}`);
    live(p, op);
  });
  return list;
}

function checkRate(value: unknown, name: string, op: string, upper = Infinity): number {
  if (typeof value !== 'number' || !(value >= 0 && value < upper)) {
    throw new Error(`${op}: ${name} must be a number in [0, ${upper === Infinity ? '∞' : upper}), got ${show(value)}`);
  }
  return value;
}
const rate = (upper = Infinity): Check<number> => (v, name, op) => checkRate(v, name, op, upper);
const betasPair: Check<[number, number]> = (v, name, op) => {
  if (!Array.isArray(v) || v.length !== 2) throw new Error(`${op}: ${name} must be a pair [beta1, beta2] of numbers in [0, 1), got ${show(v)}`);
  return [checkRate(v[0], `${name}[0]`, op, 1), checkRate(v[1], `${name}[1]`, op, 1)];
};
const SGD_OPTIONS = { lr: rate(), momentum: rate(), dampening: rate(), nesterov: checkBool, weightDecay: rate() };
const ADAM_OPTIONS = { lr: rate(), betas: betasPair, eps: rate(), weightDecay: rate() };

/** State buffers shaped like the parameters, zero-filled and exempt from tidy; on running out of memory, none (nothing leaks). */
function stateLike(params: Tensor[]): Tensor[] {
  return makeAll<Tensor[]>(...params.map((p) => () => keep(zeros(p.shape))));
}

/**
 * The optimizer's config block in WebAssembly memory (layout in assembly/ops/optim.ts): the
 * step count and hyperparameters the update loop reads, so a schedule's new learning rate or a
 * replayed trace always uses the current values.
 */
class Config {
  static readonly BYTES = 28;
  readonly ptr: number;
  constructor(op: string) {
    this.ptr = core.allocBuffer(Config.BYTES);
    if (this.ptr === 0) outOfMemory(op);
    heapI32().fill(0, this.ptr >>> 2, (this.ptr + Config.BYTES) >>> 2);
  }
  get step(): number { return heapI32()[this.ptr >>> 2]; }
  set step(v: number) { heapI32()[this.ptr >>> 2] = v; }
  /** Float field k (1 = lr, 2 = momentum or beta1, 3 = dampening or beta2, 4 = eps, 5 = weight decay). */
  get(k: number): number { return heapF32()[(this.ptr >>> 2) + k]; }
  set(k: number, v: number): void { heapF32()[(this.ptr >>> 2) + k] = v; }
  set flags(v: number) { heapI32()[(this.ptr >>> 2) + 6] = v; }
  free(): void { core.freeBuffer(this.ptr, Config.BYTES); }
}
/** The step count is an i32 in the config block. */
const MAX_STEP = 2 ** 31 - 1;

const LR = 1, BETA1 = 2, BETA2 = 3, EPS = 4, WEIGHT_DECAY = 5;
const NESTEROV = 1, DECOUPLED = 2;

export abstract class Optimizer {
  readonly params: Tensor[];
  protected readonly ids: IdList;
  protected readonly config: Config;
  protected readonly name: string;
  private rate = 0;
  private disposed = false;
  /** Traces whose program runs this optimizer's update: its buffers must outlive them. */
  private holds = 0;

  constructor(params: Iterable<Tensor>, lr: number, name: string) {
    if (new.target === Optimizer) throw new Error('Optimizer: an abstract base class; use tg.optim.SGD, Adam or AdamW');
    this.name = name;
    this.params = paramList(params, name);
    const rate = checkRate(lr, 'lr', name);
    this.ids = new IdList(this.params.map((p) => p.id), name);
    try {
      this.config = new Config(name);
    } catch (err) {
      this.ids.free();
      throw err;
    }
    this.lr = rate;
  }

  /** The learning rate the next step() uses (the update loop reads its float32 copy). */
  get lr(): number { return this.rate; }
  set lr(value: number) {
    this.checkNotDisposed('lr');
    this.rate = checkRate(value, 'lr', this.name);
    this.config.set(LR, value);
  }
  get weightDecay(): number { return this.config.get(WEIGHT_DECAY); }
  /** Steps taken so far. */
  get steps(): number { return this.config.step; }

  /** Sets every parameter's gradient to zero. */
  zeroGrad(): void {
    this.checkLive();
    issue(Cmd.ZERO_GRADS, -1, -1, -1, this.ids.ptr, this.ids.count);
    this.holdWhileTraced();
  }

  abstract step(): void;
  abstract stateDict(): OptimizerState;
  abstract loadStateDict(state: OptimizerState): void;

  /** Frees the optimizer's state (once no live trace replays its update). Using it afterwards throws. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.freeWhenUnused();
  }

  protected abstract stateTensors(): Tensor[];

  protected checkNotDisposed(what: string): void {
    if (this.disposed) throw new Error(`${this.name}.${what}: the optimizer was disposed`);
  }

  protected checkLive(): void {
    this.checkNotDisposed('step');
    for (const p of this.params) live(p, `${this.name}.step`);
  }

  /** Called after issuing an update: a recording trace's program now refers to our buffers. */
  protected holdWhileTraced(): void {
    if (!isRecording()) return;
    this.holds++;
    afterTrace(() => {
      this.holds--;
      this.freeWhenUnused();
    });
  }

  private freeWhenUnused(): void {
    if (!this.disposed || this.holds > 0) return;
    for (const t of this.stateTensors()) t.dispose();
    this.ids.free();
    this.config.free();
  }

  /**
   * Checks a state to load, as own properties, before anything is written: an object, `step` an
   * integer in [0, 2^31), `lr` a rate, and each of the optimizer's own state tensors still alive.
   */
  protected checkState(state: unknown, own: [string, Tensor[]][]): { step: number; lr: number; field: (key: string) => unknown } {
    const op = `${this.name}.loadStateDict`;
    if (state === null || typeof state !== 'object' || Array.isArray(state) || state instanceof Tensor) {
      throw new Error(`${op}: expected a state object such as stateDict() returns, got ${show(state)}`);
    }
    const field = (key: string): unknown => (hasOwn(state as object, key) ? (state as Record<string, unknown>)[key] : undefined);
    const step = field('step');
    if (typeof step !== 'number' || !Number.isInteger(step) || step < 0 || step > MAX_STEP) {
      throw new Error(`${op}: step must be an integer in [0, ${MAX_STEP}], got ${show(step)}`);
    }
    const lr = checkRate(field('lr'), 'lr', op);
    for (const [key, list] of own) {
      list.forEach((t, i) => {
        if (t.isDisposed) throw new Error(`${op}: the optimizer's own ${key}[${i}] was disposed, so it cannot take a state`);
      });
    }
    return { step, lr, field };
  }

  /**
   * Checks `from` is a list of live tensors shaped like the parameters, one each; returns the
   * (destination, source) pairs to copy.
   */
  protected checkBuffers(into: Tensor[] | null, from: unknown, key: string): [Tensor, Tensor][] {
    const op = `${this.name}.loadStateDict`;
    if (!Array.isArray(from) || from.length !== this.params.length) {
      const got = Array.isArray(from) ? `a list of ${from.length}` : show(from);
      throw new Error(`${op}: ${key} must be a list of ${this.params.length} tensors (one per parameter), got ${got}`);
    }
    from.forEach((t: unknown, i) => {
      const p = this.params[i];
      if (!(t instanceof Tensor)) throw new Error(`${op}: ${key}[${i}] must be a Tensor, got ${show(t)}`);
      if (t.isDisposed) throw new Error(`${op}: ${key}[${i}] was disposed`);
      if (!sameShape(t.dims, p.dims)) throw new Error(`${op}: ${key}[${i}] has shape ${fmt(t.dims)} but parameter ${i} has shape ${fmt(p.dims)}`);
    });
    return into === null ? [] : into.map((dst, i): [Tensor, Tensor] => [dst, from[i] as Tensor]);
  }

  /** Writes a checked state: the tensors (as copyAll does), then the step count and lr. */
  protected commitState(copies: [Tensor, Tensor][], step: number, lr: number): void {
    copyAll(copies);
    this.config.step = step;
    this.lr = lr;
  }
}

export interface OptimizerState { step: number; lr: number; [key: string]: unknown }

export interface SGDOptions { lr: number; momentum?: number; dampening?: number; nesterov?: boolean; weightDecay?: number }

/** Stochastic gradient descent with PyTorch's momentum, dampening, Nesterov and weight decay. */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  private buffers: Tensor[] = [];
  private bufferIds: IdList | null = null;

  constructor(params: Iterable<Tensor>, options: SGDOptions) {
    // every option is checked before the base class allocates the optimizer's buffers
    if (options === undefined) throw new Error('SGD: options with a learning rate are required, e.g. {lr: 0.1}');
    const o = readOptions(options, SGD_OPTIONS, 'SGD');
    const momentum = o.momentum ?? 0, dampening = o.dampening ?? 0, nesterov = o.nesterov ?? false;
    if (nesterov && (momentum <= 0 || dampening !== 0)) {
      throw new Error('SGD: nesterov momentum requires a momentum > 0 and zero dampening');
    }
    super(params, o.lr as number, 'SGD'); // undefined: the base class's check names lr
    this.momentum = momentum;
    this.dampening = dampening;
    this.nesterov = nesterov;
    this.config.set(BETA1, this.momentum);
    this.config.set(BETA2, this.dampening);
    this.config.set(WEIGHT_DECAY, o.weightDecay ?? 0);
    this.config.flags = this.nesterov ? NESTEROV : 0;
  }

  step(): void {
    this.checkLive();
    this.ensureBuffers();
    issue(Cmd.SGD, -1, -1, -1, this.ids.ptr, this.bufferIds?.ptr ?? 0, this.ids.count, this.config.ptr);
    this.holdWhileTraced();
  }

  stateDict(): OptimizerState {
    return { step: this.steps, lr: this.lr, momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov,
      weightDecay: this.weightDecay, momentumBuffers: this.buffers.slice() };
  }

  /**
   * Loads a state from stateDict(): step, lr and, with momentum, momentumBuffers (one tensor per
   * parameter, or an empty list at step 0, before the buffers exist). Everything is checked
   * before anything is written: on error nothing has changed. The other hyperparameters are the
   * constructor's and are not read.
   */
  loadStateDict(state: OptimizerState): void {
    this.checkNotDisposed('loadStateDict');
    const op = `${this.name}.loadStateDict`;
    const { step, lr, field } = this.checkState(state, [['momentumBuffers', this.buffers]]);
    const given = field('momentumBuffers');
    const none = given === undefined || (Array.isArray(given) && given.length === 0);
    if (this.momentum === 0) {
      if (!none) throw new Error(`${op}: this SGD has no momentum, so momentumBuffers must be absent or empty, got ${Array.isArray(given) ? `a list of ${given.length}` : show(given)}`);
      this.commitState([], step, lr);
    } else if (Array.isArray(given) && given.length === 0 && step === 0) {
      this.commitState([], step, lr); // no buffers yet: the first step sets them from the gradient
    } else {
      this.checkBuffers(null, given, 'momentumBuffers');
      this.ensureBuffers(); // allocates, but writes no value a step has made
      this.commitState(this.checkBuffers(this.buffers, given, 'momentumBuffers'), step, lr);
    }
  }

  /** Momentum buffers, made on first use (plain SGD has none). */
  private ensureBuffers(): void {
    if (this.momentum === 0 || this.bufferIds) return;
    const buffers = stateLike(this.params);
    try {
      this.bufferIds = new IdList(buffers.map((b) => b.id), 'SGD');
    } catch (err) {
      for (const b of buffers) b.dispose();
      throw err;
    }
    this.buffers = buffers;
  }

  protected stateTensors(): Tensor[] {
    this.bufferIds?.free();
    this.bufferIds = null;
    return this.buffers;
  }
}

export interface AdamOptions { lr?: number; betas?: [number, number]; eps?: number; weightDecay?: number }

/** Adam (L2 weight decay added to the gradient), with PyTorch's bias corrections. */
export class Adam extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  private readonly m: Tensor[];
  private readonly v: Tensor[];
  private readonly mIds: IdList;
  private readonly vIds: IdList;

  constructor(params: Iterable<Tensor>, options?: AdamOptions, name = 'Adam', decoupledDecay?: number) {
    // every option is checked before the base class allocates the optimizer's buffers
    const o = readOptions(options, ADAM_OPTIONS, typeof name === 'string' ? name : 'Adam');
    super(params, o.lr ?? 1e-3, name);
    this.betas = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    this.config.set(BETA1, this.betas[0]);
    this.config.set(BETA2, this.betas[1]);
    this.config.set(EPS, this.eps);
    this.config.set(WEIGHT_DECAY, o.weightDecay ?? decoupledDecay ?? 0);
    this.config.flags = decoupledDecay === undefined ? 0 : DECOUPLED;
    const made: Tensor[] = [];
    let mIds: IdList | null = null;
    try { // running out of memory here releases everything the constructor made
      this.m = stateLike(this.params);
      made.push(...this.m);
      this.v = stateLike(this.params);
      made.push(...this.v);
      mIds = this.mIds = new IdList(this.m.map((t) => t.id), name);
      this.vIds = new IdList(this.v.map((t) => t.id), name);
    } catch (err) {
      mIds?.free();
      for (const t of made) t.dispose();
      this.ids.free();
      this.config.free();
      throw err;
    }
  }

  step(): void {
    this.checkLive();
    issue(Cmd.ADAM, -1, -1, -1, this.ids.ptr, this.mIds.ptr, this.vIds.ptr, this.ids.count, this.config.ptr);
    this.holdWhileTraced();
  }

  stateDict(): OptimizerState {
    return { step: this.steps, lr: this.lr, betas: [...this.betas], eps: this.eps, weightDecay: this.weightDecay,
      expAvg: this.m.slice(), expAvgSq: this.v.slice() };
  }

  /**
   * Loads a state from stateDict(): step, lr, expAvg and expAvgSq (one tensor per parameter
   * each). Everything is checked before anything is written: on error nothing has changed. The
   * other hyperparameters are the constructor's and are not read.
   */
  loadStateDict(state: OptimizerState): void {
    this.checkNotDisposed('loadStateDict');
    const { step, lr, field } = this.checkState(state, [['expAvg', this.m], ['expAvgSq', this.v]]);
    const copies = [
      ...this.checkBuffers(this.m, field('expAvg'), 'expAvg'),
      ...this.checkBuffers(this.v, field('expAvgSq'), 'expAvgSq'),
    ];
    this.commitState(copies, step, lr);
  }

  protected stateTensors(): Tensor[] {
    this.mIds.free();
    this.vIds.free();
    return [...this.m, ...this.v];
  }
}

/** Adam with decoupled weight decay (p −= lr·λ·p before the update), default λ = 0.01. */
export class AdamW extends Adam {
  constructor(params: Iterable<Tensor>, options?: AdamOptions) {
    super(params, options, 'AdamW', 1e-2);
  }
}

/**
 * Scales the gradients of `params` in place so their joint norm is at most maxNorm; returns the
 * norm before clipping (normType 2 by default, Infinity for the max norm).
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, normType = 2): number {
  const list = paramList(params, 'clipGradNorm');
  checkRate(maxNorm, 'maxNorm', 'clipGradNorm');
  if (typeof normType !== 'number' || !(normType > 0)) throw new Error(`clipGradNorm: normType must be a positive number or Infinity, got ${show(normType)}`);
  const ids = new IdList(list.map((p) => p.id), 'clipGradNorm');
  try {
    const status = issue(Cmd.CLIP, -1, -1, -1, ids.ptr, ids.count, 0, 0, 0, maxNorm, normType);
    if (status < 0) outOfMemory('clipGradNorm');
    return core.lastNorm.value as number;
  } finally {
    afterTrace(() => ids.free()); // a recording trace's program still refers to the list
  }
}

const STEP_LR_OPTIONS = { stepSize: (v: unknown, name: string, op: string) => checkInt(v, name, op, 1), gamma: rate() };
const COSINE_OPTIONS = {
  tMax: (v: unknown, name: string, op: string): number => {
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new Error(`${op}: ${name} must be a positive number, got ${show(v)}`);
    return v;
  },
  etaMin: rate(),
};

/** Base of the learning-rate schedules: step() once per epoch (after optimizer.step()). */
abstract class LRScheduler {
  readonly optimizer: Optimizer;
  readonly baseLr: number;
  lastEpoch = 0;
  constructor(optimizer: Optimizer, op: string) {
    if (!(optimizer instanceof Optimizer)) throw new Error(`${op}: expected an optimizer from tg.optim, got ${show(optimizer)}`);
    this.optimizer = optimizer;
    this.baseLr = optimizer.lr;
  }
  step(): void {
    this.lastEpoch++;
    this.optimizer.lr = this.lrAt(this.lastEpoch);
  }
  getLastLr(): number[] {
    return [this.optimizer.lr];
  }
  protected abstract lrAt(epoch: number): number;
}

/** lr = baseLr · gamma^⌊epoch / stepSize⌋. */
export class StepLR extends LRScheduler {
  readonly stepSize: number;
  readonly gamma: number;
  constructor(optimizer: Optimizer, options: { stepSize: number; gamma?: number }) {
    const o = readOptions(options, STEP_LR_OPTIONS, 'StepLR');
    if (o.stepSize === undefined) throw new Error('StepLR: stepSize must be an integer ≥ 1, got undefined');
    super(optimizer, 'StepLR');
    this.stepSize = o.stepSize;
    this.gamma = o.gamma ?? 0.1;
  }
  protected lrAt(epoch: number): number {
    return this.baseLr * this.gamma ** Math.floor(epoch / this.stepSize);
  }
}

/** lr = etaMin + (baseLr − etaMin) · (1 + cos(π · epoch / tMax)) / 2. */
export class CosineAnnealingLR extends LRScheduler {
  readonly tMax: number;
  readonly etaMin: number;
  constructor(optimizer: Optimizer, options: { tMax: number; etaMin?: number }) {
    const o = readOptions(options, COSINE_OPTIONS, 'CosineAnnealingLR');
    if (o.tMax === undefined) throw new Error('CosineAnnealingLR: tMax must be a positive number, got undefined');
    super(optimizer, 'CosineAnnealingLR');
    this.tMax = o.tMax;
    this.etaMin = o.etaMin ?? 0;
  }
  protected lrAt(epoch: number): number {
    return this.etaMin + ((this.baseLr - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }
}
