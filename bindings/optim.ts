// Optimizers: the update loops run in WebAssembly over a list of parameter ids kept in linear
// memory, so step() and zeroGrad() are one call each whatever the number of parameters.
import { forgetGraphGrad } from './higher';
import { core, issue, heapI32, heapF32, outOfMemory, isLeaf } from './core';
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

/**
 * Checks a list of tensors (or, with `groups`, returns a list whose first item is a group as it
 * is). With `leaves` (an optimizer's), each must be a leaf, as PyTorch's optimizers require: an
 * op's output gets no gradient of its own, so it would silently never move.
 */
function paramList(params: Iterable<Tensor>, op: string, groups = false, leaves = false): Tensor[] {
  const iterable = params !== null && params !== undefined && typeof (params as Partial<Iterable<Tensor>>)[Symbol.iterator] === 'function';
  if (!iterable || typeof params === 'string') throw new Error(`${op}: params must be an array (or iterable) of tensors, got ${show(params)}`);
  const list = Array.from(params);
  if (list.length === 0) throw new Error(`${op}: got an empty parameter list`);
  if (groups && isGroup(list[0])) return list;
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new Error(`${op}: parameter ${i} is not a Tensor, got ${show(p)}`);
    live(p, op);
    if (leaves && !isLeaf(p.id)) throw new Error(`${op}: parameter ${i} is not a leaf (an op computed it, so it gets no gradient); detach() it or pass the tensor it came from`);
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

/** Where each numeric option sits in the config block (betas fill BETA1 and BETA2; nesterov is a flag). */
const FIELD: Record<string, number> = { lr: LR, momentum: BETA1, dampening: BETA2, eps: EPS, weightDecay: WEIGHT_DECAY };
/** "a list of 3" for an array (of tensors, say), else what show() says. */
const got = (v: unknown): string => (Array.isArray(v) ? `a list of ${v.length}` : show(v));

/**
 * A parameter group, as an entry of PyTorch's `param_groups`: its `params` and every option of
 * its optimizer. Options read back as given and can be set (`group.lr = 0.01`); a new value is
 * checked and takes effect at the next step(), in replays of a trace too.
 */
export interface ParamGroup {
  /** The tensors this group updates. */
  readonly params: readonly Tensor[];
  /** Learning rate. */
  lr: number;
  /** Weight decay (L2 for SGD and Adam, decoupled for AdamW). */
  weightDecay: number;
  /** SGD's options. */
  momentum?: number;
  /** SGD's dampening. */
  dampening?: number;
  /** SGD's Nesterov momentum. */
  nesterov?: boolean;
  /** Adam's and AdamW's options (betas is a frozen pair: assign a new one). */
  betas?: readonly [number, number];
  /** Adam's and AdamW's eps. */
  eps?: number;
  [option: string]: unknown;
}

/**
 * What `new SGD([...])` and addParamGroup take: tensors, and options that override the defaults.
 * @property params - the tensors of the group
 */
export type ParamGroupInput<O> = { params: Iterable<Tensor> | Tensor } & Partial<O>;

/** The core's side of a group: its options, id list, config block, and state tensors (one list per kind) with their id lists. */
interface Slot { group: ParamGroup; values: Record<string, unknown>; ids: IdList; config: Config; state: Tensor[][]; lists: IdList[] }
type Plan = { step: number; values: Record<string, unknown> };

function freeSlot(s: Partial<Slot>): void {
  s.ids?.free();
  s.config?.free();
  for (const l of s.lists ?? []) l.free();
  for (const list of s.state ?? []) for (const t of list) t.dispose();
}

/** Adds one zero state tensor per parameter of each slot lacking `kinds` lists (momentum, moments), with their id lists. */
function ensureState(slots: Slot[], kinds: number, op: string): void {
  for (const s of slots) {
    while (s.lists.length < kinds) {
      const made = stateLike(s.group.params as Tensor[]);
      try {
        s.lists.push(new IdList(made.map((t) => t.id), op));
      } catch (err) {
        for (const t of made) t.dispose();
        throw err;
      }
      s.state.push(made);
    }
  }
}

/** Sets an option the group keeps as given (a pair frozen) and the float32 copy the update loop reads. */
function write(s: Slot, key: string, value: any): void {
  s.values[key] = Array.isArray(value) ? Object.freeze(value.slice()) : value;
  if (key === 'nesterov') s.config.flags = value ? NESTEROV : 0;
  else if (key === 'betas') { s.config.set(BETA1, value[0]); s.config.set(BETA2, value[1]); }
  else s.config.set(FIELD[key], value);
}

const optionsOf = (s: Slot): Record<string, unknown> =>
  Object.fromEntries(Object.entries(s.values).map(([k, v]) => [k, Array.isArray(v) ? [...v] : v]));

const isGroup = (x: unknown): boolean => x !== null && typeof x === 'object' && !(x instanceof Tensor) && !Array.isArray(x);

/**
 * The base of {@link SGD}, {@link Adam} and {@link AdamW}: parameter groups, step(), zeroGrad() and state dicts.
 */
export abstract class Optimizer {
  /** Every parameter, group after group. */
  readonly params: Tensor[] = [];
  protected readonly name: string;
  protected readonly slots: Slot[] = [];
  private readonly spec: Record<string, Check<unknown>>;
  private readonly defaults: Record<string, unknown>;
  /** The keys of the state tensors in stateDict(), one per kind; SGD makes its momentum buffers on first use. */
  private readonly stateKeys: string[];
  private readonly lazyState: boolean;
  private readonly flags: number;
  private disposed = false;
  /** Traces whose program runs this optimizer's update: its buffers must outlive them. */
  private holds = 0;

  /**
   * `params` is a list of tensors (one group) or of groups `{params, ...options}`; `defaults` are
   * the checked options, which a group's own override.
   * @internal
   */
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<object>>, defaults: Record<string, unknown>,
    spec: Record<string, Check<unknown>>, name: string, stateKeys: string[], lazyState = false, flags = 0) {
    if (new.target === Optimizer) throw new Error('Optimizer: an abstract base class; use tg.optim.SGD, Adam or AdamW');
    this.name = name;
    this.spec = spec;
    this.defaults = defaults;
    this.stateKeys = stateKeys;
    this.lazyState = lazyState;
    this.flags = flags;
    const list = paramList(params as Iterable<Tensor>, name, true);
    this.addGroups(isGroup(list[0]) ? list : [{ params: list }], name, !isGroup(list[0]));
  }

  /** The parameter groups, in order (PyTorch's `param_groups`); set an option on a group to change it. */
  get paramGroups(): ParamGroup[] { return this.slots.map((s) => s.group); }

  /**
   * Adds a group `{params, ...options}` (options default to the constructor's), as PyTorch's
   * add_param_group; its state starts fresh (step 0).
   */
  addParamGroup(group: ParamGroupInput<SGDOptions | AdamOptions>): void {
    this.checkNotDisposed('addParamGroup');
    this.addGroups([group], `${this.name}.addParamGroup`);
  }

  /** The first group's learning rate; setting it sets every group's. */
  get lr(): number { return this.slots[0].group.lr; }
  /** Sets every group's learning rate. */
  set lr(value: number) { for (const g of this.paramGroups) g.lr = value; }
  /** The first group's weight decay; setting it sets every group's. */
  get weightDecay(): number { return this.slots[0].values.weightDecay as number; }
  /** Sets every group's weight decay. */
  set weightDecay(value: number) { for (const g of this.paramGroups) g.weightDecay = value; }
  /** Steps taken so far (by the first group). */
  get steps(): number { return this.slots[0].config.step; }

  /** Sets every parameter's gradient to zero. */
  zeroGrad(): void {
    this.checkLive();
    forgetGraphGrad(); // (graph gradients of a createGraph backward: their buffers are zeroed)
    for (const s of this.slots) issue(Cmd.ZERO_GRADS, -1, -1, -1, s.ids.ptr, s.ids.count);
    this.holdWhileTraced();
  }

  /** One update of every group (PyTorch's formulas; see each optimizer). */
  step(): void {
    this.checkLive();
    if (this.lazyState && this.slots.some((s) => s.values.momentum !== 0)) ensureState(this.slots, 1, this.name);
    for (const { ids, lists, config } of this.slots) {
      if (this.lazyState) issue(Cmd.SGD, -1, -1, -1, ids.ptr, lists.length ? lists[0].ptr : 0, ids.count, config.ptr);
      else issue(Cmd.ADAM, -1, -1, -1, ids.ptr, lists[0].ptr, lists[1].ptr, ids.count, config.ptr);
    }
    this.holdWhileTraced();
  }

  /**
   * The state: the first group's `step` and options at the top (as before groups), the state
   * tensors of every parameter (the optimizer's own, not copies), and `paramGroups`: each group's
   * options, step, and its parameters' indices.
   */
  stateDict(): OptimizerState {
    let index = 0;
    const groups = this.slots.map((s) => ({ ...optionsOf(s), step: s.config.step, params: s.group.params.map(() => index++) }));
    const lists = Object.fromEntries(this.stateKeys.map((key, k) => [key, this.slots.flatMap((s) => s.state[k] ?? [])]));
    return { step: this.steps, ...optionsOf(this.slots[0]), ...lists, paramGroups: groups } as unknown as OptimizerState;
  }

  /**
   * Loads a state from stateDict(): each group's step and options (from `paramGroups`, or the
   * top-level ones for every group when it is absent), and the state tensors, one per parameter
   * (SGD's momentumBuffers may be empty without momentum or at step 0), copied into the
   * optimizer's own. Everything is checked before anything is written: on error nothing has changed.
   */
  loadStateDict(state: OptimizerState): void {
    this.checkNotDisposed('loadStateDict');
    const op = `${this.name}.loadStateDict`;
    if (!isGroup(state)) throw new Error(`${op}: expected a state object such as stateDict() returns, got ${show(state)}`);
    const field = (key: string, from: unknown = state): unknown => (hasOwn(from as object, key) ? (from as Record<string, unknown>)[key] : undefined);
    checkStep(field('step'), 'step', op);
    checkRate(field('lr'), 'lr', op);
    const groups = field('paramGroups');
    const n = this.slots.length;
    if (groups !== undefined && (!Array.isArray(groups) || groups.length !== n)) {
      throw new Error(`${op}: paramGroups must be a list of ${n} groups (one per parameter group), got ${got(groups)}`);
    }
    const plans: Plan[] = this.slots.map((s, i) => {
      const entry: unknown = groups === undefined ? state : groups[i];
      const at = groups === undefined ? '' : `paramGroups[${i}].`;
      if (!isGroup(entry)) throw new Error(`${op}: paramGroups[${i}] must be an object, got ${show(entry)}`);
      const ids = field('params', entry), size = s.group.params.length;
      if (groups !== undefined && (!Array.isArray(ids) || ids.length !== size)) {
        throw new Error(`${op}: ${at}params must list the group's ${size} parameters, got ${got(ids)}`);
      }
      const values: Record<string, unknown> = { lr: checkRate(field('lr', entry), `${at}lr`, op) };
      for (const key of Object.keys(this.spec)) {
        const v = field(key, entry);
        if (v !== undefined) values[key] = this.checkOption(s, key, v, `${at}${key}`, op);
      }
      return { step: checkStep(field('step', entry), `${at}step`, op), values };
    });
    const owned = this.stateKeys.map((_, k) => this.slots.flatMap((s) => s.state[k] ?? []));
    owned.forEach((list, k) => list.forEach((t, i) => {
      if (t.isDisposed) throw new Error(`${op}: the optimizer's own ${this.stateKeys[k]}[${i}] was disposed, so it cannot take a state`);
    }));
    const given = this.stateKeys.map((key) => field(key));
    const empty = given.every((l) => l === undefined || (Array.isArray(l) && l.length === 0));
    let copies: [Tensor, Tensor][] = [];
    if (this.lazyState && !plans.some((p, i) => (p.values.momentum ?? this.slots[i].values.momentum) !== 0)) {
      if (!empty) throw new Error(`${op}: this SGD has no momentum, so momentumBuffers must be absent or empty, got ${got(given[0])}`);
    } else if (!(this.lazyState && empty && plans.every((p) => p.step === 0))) { // SGD's buffers may wait for the first step
      given.forEach((list, k) => this.checkBuffers(list, this.stateKeys[k], op));
      ensureState(this.slots, this.stateKeys.length, this.name); // allocates, but writes no value a step has made
      copies = this.stateKeys.flatMap((_, k) => this.slots.flatMap((s) => s.state[k]).map((dst, i): [Tensor, Tensor] => [dst, (given[k] as Tensor[])[i]]));
    }
    copyAll(copies);
    this.slots.forEach((s, i) => {
      s.config.step = plans[i].step;
      for (const [key, v] of Object.entries(plans[i].values)) write(s, key, v);
    });
  }

  /** Frees the optimizer's state (once no live trace replays its update). Using it afterwards throws. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.freeWhenUnused();
  }

  /** Checks and adds groups, all or none; each gets its id list, config block and (Adam) state. */
  private addGroups(inputs: unknown[], op: string, plain = false): void {
    const seen = new Set(this.params.map((p) => p.id));
    const checked = inputs.map((g, i) => {
      const where = plain ? op : `${op}: parameter group ${this.slots.length + i}`;
      if (!isGroup(g)) throw new Error(`${where} must be an object {params, ...options}, got ${show(g)}`);
      const o = readOptions(g, { ...this.spec, params: (v: unknown) => paramList(v instanceof Tensor ? [v] : v as Tensor[], where, false, true) }, where);
      const values: Record<string, unknown> = { ...this.defaults, ...o };
      if (!o.params) throw new Error(`${where} has no params`);
      if (values.lr === undefined && plain) checkRate(undefined, 'lr', op); // the message as before groups existed
      if (values.lr === undefined) throw new Error(`${where} has no lr (give it in the group or the options)`);
      if (values.nesterov && ((values.momentum as number) <= 0 || values.dampening !== 0)) {
        throw new Error(`${where}: nesterov momentum requires a momentum > 0 and zero dampening`);
      }
      for (const p of o.params as Tensor[]) {
        if (seen.has(p.id)) throw new Error(`${op}: some parameters appear more than once (in one group or in more than one parameter group)`);
        seen.add(p.id);
      }
      return values;
    });
    const made: Slot[] = [];
    try {
      for (const values of checked) {
        const params = Object.freeze(values.params as Tensor[]);
        delete values.params;
        const s = { values, state: [], lists: [] } as unknown as Slot;
        made.push(s);
        s.ids = new IdList(params.map((p) => p.id), op);
        s.config = new Config(op);
        s.group = this.makeGroup(s, params);
        s.config.flags = this.flags;
        for (const key of Object.keys(values)) write(s, key, values[key]);
        if (!this.lazyState) ensureState([s], this.stateKeys.length, op);
      }
    } catch (err) {
      for (const s of made) freeSlot(s);
      throw err;
    }
    this.slots.push(...made);
    for (const s of made) this.params.push(...s.group.params);
  }

  /** A group object: `params`, and an accessor per option that checks and writes a new value. */
  private makeGroup(s: Slot, params: readonly Tensor[]): ParamGroup {
    const group = { params } as unknown as ParamGroup;
    for (const key of Object.keys(this.spec)) {
      Object.defineProperty(group, key, {
        enumerable: true,
        get: () => s.values[key],
        set: (v: unknown) => {
          this.checkNotDisposed(key);
          write(s, key, this.checkOption(s, key, v, key, `${this.name}.paramGroups[${this.slots.indexOf(s)}]`));
        },
      });
    }
    return Object.seal(group);
  }

  /** Checks an option's new value, alone and against the group's state. */
  private checkOption(s: Slot, key: string, value: unknown, name: string, op: string): unknown {
    const v = this.spec[key](value, name, op);
    if (key === 'momentum' && v !== 0 && s.lists.length === 0 && this.holds > 0) {
      throw new Error(`${op}: cannot turn momentum on while a trace replays a step made without momentum buffers`);
    }
    return v;
  }

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
    for (const s of this.slots) freeSlot(s);
  }

  /** Checks `from` is a list of live tensors shaped like the parameters, one each. */
  protected checkBuffers(from: unknown, key: string, op: string): void {
    if (!Array.isArray(from) || from.length !== this.params.length) {
      throw new Error(`${op}: ${key} must be a list of ${this.params.length} tensors (one per parameter), got ${got(from)}`);
    }
    from.forEach((t: unknown, i) => {
      const p = this.params[i];
      if (!(t instanceof Tensor)) throw new Error(`${op}: ${key}[${i}] must be a Tensor, got ${show(t)}`);
      if (t.isDisposed) throw new Error(`${op}: ${key}[${i}] was disposed`);
      if (!sameShape(t.dims, p.dims)) throw new Error(`${op}: ${key}[${i}] has shape ${fmt(t.dims)} but parameter ${i} has shape ${fmt(p.dims)}`);
    });
  }
}

function checkStep(step: unknown, name: string, op: string): number {
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 0 || step > MAX_STEP) {
    throw new Error(`${op}: ${name} must be an integer in [0, ${MAX_STEP}], got ${show(step)}`);
  }
  return step;
}

/**
 * An optimizer's state as {@link Optimizer.stateDict} returns it (with its state tensors and `paramGroups`).
 * @property step - steps taken
 * @property lr - the first group's learning rate
 */
export interface OptimizerState { step: number; lr: number; [key: string]: unknown }

/**
 * Options of {@link SGD}.
 * @property lr - learning rate (required)
 * @property momentum - momentum factor (default 0)
 * @property dampening - dampening of the momentum (default 0)
 * @property nesterov - Nesterov momentum (default false)
 * @property weightDecay - L2 penalty added to the gradient (default 0)
 */
export interface SGDOptions { lr: number; momentum?: number; dampening?: number; nesterov?: boolean; weightDecay?: number }

/**
 * Stochastic gradient descent with PyTorch's momentum, dampening, Nesterov and weight decay.
 * `params`: tensors, or parameter groups `{params, ...options}` whose options override `options`
 * (then `lr` may be given per group instead).
 *
 * @example
 * ```ts
 * const w = tg.tensor([1, 2], { requiresGrad: true });
 * const opt = new tg.optim.SGD([w], { lr: 0.1 });
 * w.square().sum().backward(); // gradient 2w
 * opt.step();
 * w.toArray(); // → [0.8, 1.6]
 * ```
 */
export class SGD extends Optimizer {
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<SGDOptions>>, options: SGDOptions) {
    // every option is checked before the base class allocates anything
    if (options === undefined) throw new Error('SGD: options with a learning rate are required, e.g. {lr: 0.1}');
    const o = readOptions(options, SGD_OPTIONS, 'SGD');
    super(params, { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, ...o }, SGD_OPTIONS, 'SGD', ['momentumBuffers'], true);
  }

  /** The first group's momentum. */
  get momentum(): number { return this.slots[0].values.momentum as number; }
  /** The first group's dampening. */
  get dampening(): number { return this.slots[0].values.dampening as number; }
  /** The first group's nesterov. */
  get nesterov(): boolean { return this.slots[0].values.nesterov as boolean; }
}

/**
 * Options of {@link Adam} and {@link AdamW}.
 * @property lr - learning rate (default 1e-3)
 * @property betas - decay rates of the moment estimates (default [0.9, 0.999])
 * @property eps - added to the denominator (default 1e-8)
 * @property weightDecay - weight decay (default 0 for Adam, 0.01 for AdamW)
 */
export interface AdamOptions { lr?: number; betas?: [number, number]; eps?: number; weightDecay?: number }

/**
 * Adam (L2 weight decay added to the gradient), with PyTorch's bias corrections. `params`:
 * tensors, or parameter groups `{params, ...options}` whose options override `options`.
 *
 * @example
 * ```ts
 * const w = tg.tensor([1, 2], { requiresGrad: true });
 * const opt = new tg.optim.Adam([w], { lr: 0.1 });
 * w.square().sum().backward();
 * opt.step(); // the first step moves each weight by lr against its gradient's sign
 * w.toArray(); // → [0.9, 1.9]
 * ```
 */
export class Adam extends Optimizer {
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<AdamOptions>>, options?: AdamOptions, name = 'Adam', decoupledDecay?: number) {
    // every option is checked before the base class allocates anything
    const o = readOptions(options, ADAM_OPTIONS, typeof name === 'string' ? name : 'Adam');
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: decoupledDecay ?? 0, ...o }, ADAM_OPTIONS, name, ['expAvg', 'expAvgSq'], false,
      decoupledDecay === undefined ? 0 : DECOUPLED);
  }

  /** The first group's betas. */
  get betas(): readonly [number, number] { return this.slots[0].values.betas as [number, number]; }
  /** The first group's eps. */
  get eps(): number { return this.slots[0].values.eps as number; }
}

/**
 * Adam with decoupled weight decay (p −= lr·λ·p before the update), default λ = 0.01.
 *
 * @example
 * ```ts
 * const w = tg.tensor([1, 2], { requiresGrad: true });
 * const opt = new tg.optim.AdamW([w], { lr: 0.1, weightDecay: 0.01 });
 * w.square().sum().backward();
 * opt.step(); // w − lr·λ·w, then Adam's step
 * w.toArray(); // → [0.899, 1.898]
 * ```
 */
export class AdamW extends Adam {
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<AdamOptions>>, options?: AdamOptions) {
    super(params, options, 'AdamW', 1e-2);
  }
}

/**
 * Scales the gradients of `params` in place so their joint norm is at most maxNorm; returns the
 * norm before clipping (normType 2 by default, Infinity for the max norm).
 *
 * @example
 * ```ts
 * const w = tg.tensor([3, 4], { requiresGrad: true });
 * w.square().mul(0.5).sum().backward(); // gradient w, norm 5
 * tg.optim.clipGradNorm([w], 1); // → 5
 * w.grad!.toArray(); // → [0.6, 0.8]
 * ```
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

/** Base of the learning-rate schedules: step() once per epoch (after optimizer.step()); every group's lr follows its own base. */
abstract class LRScheduler {
  /** The optimizer whose groups the schedule drives. */
  readonly optimizer: Optimizer;
  /** Each group's learning rate when the schedule was made (PyTorch's base_lrs). */
  readonly baseLrs: number[];
  /** The first group's base learning rate. */
  readonly baseLr: number;
  /** Epochs stepped so far. */
  lastEpoch = 0;
  constructor(optimizer: Optimizer, op: string) {
    if (!(optimizer instanceof Optimizer)) throw new Error(`${op}: expected an optimizer from tg.optim, got ${show(optimizer)}`);
    this.optimizer = optimizer;
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
    this.baseLr = this.baseLrs[0];
  }
  /** Ends an epoch: sets each group's lr for the next one. */
  step(): void {
    this.lastEpoch++;
    scheduled(this).forEach((g, i) => { g.lr = this.lrAt(this.lastEpoch, this.baseLrs[i]); });
  }
  /** Each scheduled group's current learning rate. */
  getLastLr(): number[] {
    return scheduled(this).map((g) => g.lr);
  }
  protected abstract lrAt(epoch: number, baseLr: number): number;
}

/** The groups a schedule drives: those that existed when it was made, as in PyTorch. */
const scheduled = (s: LRScheduler): ParamGroup[] => s.optimizer.paramGroups.slice(0, s.baseLrs.length);

/**
 * lr = baseLr · gamma^⌊epoch / stepSize⌋.
 *
 * @example
 * ```ts
 * const opt = new tg.optim.SGD([tg.zeros([1], { requiresGrad: true })], { lr: 1 });
 * const sched = new tg.optim.StepLR(opt, { stepSize: 2, gamma: 0.5 });
 * for (let epoch = 0; epoch < 4; epoch++) { opt.step(); sched.step(); }
 * opt.lr; // → 0.25
 * ```
 */
export class StepLR extends LRScheduler {
  /** Epochs between decays. */
  readonly stepSize: number;
  /** Factor of each decay. */
  readonly gamma: number;
  constructor(optimizer: Optimizer, options: { stepSize: number; gamma?: number }) {
    const o = readOptions(options, STEP_LR_OPTIONS, 'StepLR');
    if (o.stepSize === undefined) throw new Error('StepLR: stepSize must be an integer ≥ 1, got undefined');
    super(optimizer, 'StepLR');
    this.stepSize = o.stepSize;
    this.gamma = o.gamma ?? 0.1;
  }
  protected lrAt(epoch: number, baseLr: number): number {
    return baseLr * this.gamma ** Math.floor(epoch / this.stepSize);
  }
}

/**
 * lr = etaMin + (baseLr − etaMin) · (1 + cos(π · epoch / tMax)) / 2.
 *
 * @example
 * ```ts
 * const opt = new tg.optim.SGD([tg.zeros([1], { requiresGrad: true })], { lr: 1 });
 * const sched = new tg.optim.CosineAnnealingLR(opt, { tMax: 10 });
 * for (let epoch = 0; epoch < 5; epoch++) { opt.step(); sched.step(); }
 * opt.lr; // → 0.5
 * ```
 */
export class CosineAnnealingLR extends LRScheduler {
  /** Epochs from the base lr down to etaMin. */
  readonly tMax: number;
  /** The lowest learning rate. */
  readonly etaMin: number;
  constructor(optimizer: Optimizer, options: { tMax: number; etaMin?: number }) {
    const o = readOptions(options, COSINE_OPTIONS, 'CosineAnnealingLR');
    if (o.tMax === undefined) throw new Error('CosineAnnealingLR: tMax must be a positive number, got undefined');
    super(optimizer, 'CosineAnnealingLR');
    this.tMax = o.tMax;
    this.etaMin = o.etaMin ?? 0;
  }
  protected lrAt(epoch: number, baseLr: number): number {
    return this.etaMin + ((baseLr - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }
}
