// Containers: ModuleList and ModuleDict, PyTorch's lists and dicts of child modules. Their children
// are registered under their index or key, so a model that keeps its blocks in one loads a PyTorch
// state dict unchanged (`blocks.0.weight`, `heads.query.weight`). Neither has a forward: call the
// modules it holds.
import type { Tensor } from '../tensor';
import { Module } from './module';
import { checkInt, show } from '../shape';

function moduleArg(m: unknown, op: string, what: string): Module {
  if (!(m instanceof Module)) throw new Error(`${op}: ${what} must be a Module, got ${show(m)}`);
  return m;
}

function notCallable(name: string): never {
  throw new Error(`${name} has no forward: call the modules it holds`);
}

/**
 * A list of child modules, registered as "0", "1", …, as PyTorch's nn.ModuleList.
 *
 * @example
 * ```ts
 * const blocks = new tg.nn.ModuleList([new tg.nn.Linear(2, 2), new tg.nn.ReLU()]);
 * blocks.append(new tg.nn.Linear(2, 1));
 * Object.keys(blocks.stateDict()); // → ['0.weight', '0.bias', '2.weight', '2.bias']
 * ```
 */
export class ModuleList extends Module {
  static readonly typeName = 'ModuleList';
  private _list: Module[] = [];

  constructor(modules: Iterable<Module> = []) {
    super();
    this.extend(modules);
  }

  /** Adds a module at the end; returns this. */
  append(m: Module): this {
    this._list.push(moduleArg(m, 'ModuleList.append', 'the module'));
    this.renumber();
    return this;
  }

  /** Adds every module of `modules` at the end; returns this. */
  extend(modules: Iterable<Module>): this {
    if (modules === null || typeof (modules as Iterable<Module>)?.[Symbol.iterator] !== 'function') {
      throw new Error(`ModuleList.extend: modules must be an iterable of Modules, got ${show(modules)}`);
    }
    const items = [...modules];
    items.forEach((m, i) => moduleArg(m, 'ModuleList.extend', `item ${i}`));
    this._list.push(...items);
    this.renumber();
    return this;
  }

  /** Inserts a module before `index` (negative counts from the end; past either end, at that end), as Python's list.insert. */
  insert(index: number, m: Module): void {
    checkInt(index, 'index', 'ModuleList.insert', -(2 ** 31));
    moduleArg(m, 'ModuleList.insert', 'the module');
    const n = this._list.length;
    this._list.splice(index < 0 ? Math.max(0, n + index) : Math.min(index, n), 0, m);
    this.renumber();
  }

  /** The module at `index` (negative counts from the end). */
  at(index: number): Module {
    return this._list[this.position(index, 'ModuleList.at')];
  }

  /** Removes and returns the module at `index` (default the last); the ones after it move down. */
  pop(index = -1): Module {
    const [m] = this._list.splice(this.position(index, 'ModuleList.pop'), 1);
    this.renumber();
    return m;
  }

  /** The number of modules. */
  get length(): number {
    return this._list.length;
  }

  /** Iterates over the modules in order. */
  [Symbol.iterator](): Iterator<Module> {
    return this._list[Symbol.iterator]();
  }

  forward(): Tensor {
    return notCallable('ModuleList');
  }

  private position(index: number, op: string): number {
    checkInt(index, 'index', op, -(2 ** 31));
    const i = index < 0 ? index + this._list.length : index;
    if (i < 0 || i >= this._list.length) throw new Error(`${op}: index ${index} is out of range for ${this._list.length} modules`);
    return i;
  }

  private renumber(): void {
    this.setModules(this._list.map((m, i) => [String(i), m]));
  }
}

/**
 * Child modules by name, in insertion order, as PyTorch's nn.ModuleDict.
 *
 * @example
 * ```ts
 * const heads = new tg.nn.ModuleDict({ mean: new tg.nn.Linear(4, 1), scale: new tg.nn.Linear(4, 1) });
 * heads.keys(); // → ['mean', 'scale']
 * heads.get('scale').forward(tg.ones([2, 4])).shape; // → [2, 1]
 * ```
 */
export class ModuleDict extends Module {
  static readonly typeName = 'ModuleDict';
  private _map = new Map<string, Module>();

  constructor(modules: Record<string, Module> | Iterable<[string, Module]> = {}) {
    super();
    this.update(modules);
  }

  /** The module under `key`. */
  get(key: string): Module {
    const m = this._map.get(this.key(key, 'ModuleDict.get'));
    if (m === undefined) throw new Error(`ModuleDict.get: no module under ${JSON.stringify(key)} (keys: ${this.keys().map((k) => JSON.stringify(k)).join(', ') || 'none'})`);
    return m;
  }

  /** Puts a module under `key` (a new key goes last; an existing one keeps its place); returns this. */
  set(key: string, m: Module): this {
    this._map.set(this.key(key, 'ModuleDict.set'), moduleArg(m, 'ModuleDict.set', `"${key}"`));
    this.sync();
    return this;
  }

  /** Removes the module under `key`; returns whether there was one. */
  delete(key: string): boolean {
    const had = this._map.delete(this.key(key, 'ModuleDict.delete'));
    this.sync();
    return had;
  }

  /** Whether a module is under `key`. */
  has(key: string): boolean {
    return this._map.has(this.key(key, 'ModuleDict.has'));
  }

  /** Puts every (key, module) of a plain object or an iterable of pairs, in order; returns this. */
  update(modules: Record<string, Module> | Iterable<[string, Module]>): this {
    if (modules === null || typeof modules !== 'object') throw new Error(`ModuleDict.update: modules must be an object or an iterable of [key, Module] pairs, got ${show(modules)}`);
    const pairs = Symbol.iterator in modules ? [...(modules as Iterable<[string, Module]>)] : Object.entries(modules);
    pairs.forEach((pair, i) => {
      if (!Array.isArray(pair) || pair.length !== 2) throw new Error(`ModuleDict.update: item ${i} must be a [key, Module] pair, got ${show(pair)}`);
      this.key(pair[0], 'ModuleDict.update');
      moduleArg(pair[1], 'ModuleDict.update', `"${pair[0]}"`);
    });
    for (const [k, m] of pairs) this._map.set(k, m);
    this.sync();
    return this;
  }

  /** The keys, in order. */
  keys(): string[] { return [...this._map.keys()]; }

  /** The modules, in the keys' order. */
  values(): Module[] { return [...this._map.values()]; }

  /** [key, module] pairs, in order. */
  items(): [string, Module][] { return [...this._map.entries()]; }

  /** The number of modules. */
  get length(): number {
    return this._map.size;
  }

  /** Iterates over the keys, as a Python dict does. */
  [Symbol.iterator](): Iterator<string> {
    return this._map.keys();
  }

  forward(): Tensor {
    return notCallable('ModuleDict');
  }

  private key(key: unknown, op: string): string {
    if (typeof key !== 'string' || key === '' || key.includes('.')) throw new Error(`${op}: key must be a non-empty string without ".", got ${show(key)}`);
    return key;
  }

  private sync(): void {
    this.setModules(this.items());
  }
}
