// nn.Module: the base class of every layer. It finds a module's parameters and children the way
// PyTorch's __setattr__ registers them: every Tensor field is a parameter, every Module field a
// child, and an array field of modules (or of tensors) is a list whose items are named by index
// (`layers.0.weight`). Fields whose name starts with `_` are private and never scanned.
// registerParameter / registerModule add entries under names that are not fields. A buffer (a
// tensor saved with the module but not trained, PyTorch's register_buffer) cannot be told from a
// parameter by its type, so it is always registered, and then read and assigned as a property.
import { Tensor, live } from '../tensor';
import { noGrad } from '../autograd';
import { rand, randn, ones, zeros } from '../ops/creation';
import { keep, tidy } from '../memory';
import { fmt, sameShape, show, nameDict, readOptions, bool, hasOwn } from '../shape';

/** A module's parameters and buffers by dotted name, as `stateDict()` returns and `tg.save` takes. */
export type StateDict = Record<string, Tensor>;

/** Options of {@link Module.loadStateDict}. */
export interface LoadStateDictOptions {
  /** Require the keys to match exactly (default true). Shapes must match either way. */
  strict?: boolean;
}

/** What {@link Module.loadStateDict} did not match (always empty when strict). */
export interface LoadStateDictResult {
  /** The module's keys absent from the state dict. */
  missingKeys: string[];
  /** The state dict's keys the module does not have. */
  unexpectedKeys: string[];
}

/**
 * Marks `t` as a parameter: exempt from every tidy() scope (it lives until dispose()) and
 * requiring grad. Returns `t`.
 *
 * @example
 * ```ts
 * const w = tg.nn.parameter(tg.zeros([2, 3]));
 * w.requiresGrad; // → true
 * ```
 */
export function parameter(t: Tensor): Tensor {
  live(t, 'parameter');
  keep(t);
  t.requiresGrad_(true);
  return t;
}

/** Makes each parameter in turn; when one cannot be made, those made before it are released. */
export function makeAll<T extends (Tensor | null)[]>(...makers: { [K in keyof T]: () => T[K] }): T {
  const made: (Tensor | null)[] = [];
  try {
    for (const make of makers) made.push(make());
  } catch (err) {
    for (const t of made) t?.dispose();
    throw err;
  }
  return made as T;
}

/** A parameter of `shape` drawn from U(-bound, bound) with the seeded generator (tg.manualSeed). */
export function uniformParameter(shape: number[], bound: number): Tensor {
  return parameter(noGrad(() => tidy(() => rand(shape).mul(2 * bound).sub(bound))));
}

/** A parameter of `shape` drawn from N(0, 1) with the seeded generator. */
export function normalParameter(shape: number[]): Tensor {
  return parameter(noGrad(() => randn(shape)));
}

/** A parameter of `shape` filled with ones (fill = 1) or zeros (fill = 0). */
export function constantParameter(shape: number[], fill: 0 | 1): Tensor {
  return parameter(noGrad(() => (fill === 1 ? ones(shape) : zeros(shape))));
}

/** A normalization layer's weight (ones) and bias (zeros) of `shape`, or nulls without affine. */
export function affineParameters(shape: number[], affine: boolean): [Tensor, Tensor] | [null, null] {
  return affine ? makeAll<[Tensor, Tensor]>(() => constantParameter(shape, 1), () => constantParameter(shape, 0)) : [null, null];
}

/**
 * The class name shown in messages. The published bundle is minified, so the built-in layers
 * declare theirs in a static `typeName`; a user's subclass falls back to constructor.name.
 */
export function typeName(m: Module): string {
  const ctor = m.constructor as { typeName?: string; name: string };
  return hasOwn(ctor, 'typeName') && ctor.typeName ? ctor.typeName : ctor.name;
}

const quoted = (names: string[]): string => names.map((n) => JSON.stringify(n)).join(', ');


const LOAD_OPTIONS = { strict: bool };
const BUFFER_OPTIONS = { persistent: bool };

/** Checks a buffer's value: null or a live tensor that does not require grad (a buffer is never trained). */
function bufferValue(t: unknown, name: string, op: string): Tensor | null {
  if (t === null) return null;
  if (!(t instanceof Tensor)) throw new Error(`${op}: buffer "${name}" must be a Tensor or null, got ${show(t)}`);
  live(t, op);
  if (t.requiresGrad) throw new Error(`${op}: buffer "${name}" requires grad, but a buffer is never trained (register t.detach(), or a parameter)`);
  return keep(t);
}

/**
 * Writes every (destination, source) pair, all checked beforehand. A source that is also another
 * pair's destination (a dict that swaps two parameters) is copied aside first, so every
 * destination receives the value its source had before the load began.
 */
export function copyAll(copies: [Tensor, Tensor][]): void {
  const dsts = new Set(copies.map(([dst]) => dst.id)); // by node: two handles may name one tensor
  const aside: Tensor[] = [];
  try {
    const plan = copies.map(([dst, src]): [Tensor, Tensor] => {
      if (src.id === dst.id || !dsts.has(src.id)) return [dst, src];
      const copy = zeros(src.shape);
      aside.push(copy);
      copy.copy_(src);
      return [dst, copy];
    });
    for (const [dst, src] of plan) if (dst.id !== src.id) dst.copy_(src);
  } finally {
    for (const t of aside) t.dispose();
  }
}

/** `head`, then each line indented by two spaces, then `)` (PyTorch's repr layout). */
function reprBlock(head: string, lines: string[]): string {
  return `${head}\n${lines.map((l) => `  ${l.replace(/\n/g, '\n  ')}`).join('\n')}\n)`;
}

/** A boolean as Python prints it, for reprs that match PyTorch's. */
export const pyBool = (b: boolean): string => (b ? 'True' : 'False');

/** A float as Python's repr prints it: exponent form below 1e-4 with two exponent digits (1e-05). */
export const pyFloat = (v: number): string =>
  v !== 0 && Math.abs(v) < 1e-4 ? v.toExponential().replace(/e([+-])(\d)$/, 'e$10$2') : Number.isInteger(v) ? v.toFixed(1) : String(v);

/**
 * The base class of every layer, as PyTorch's nn.Module: every Tensor field is a parameter, every
 * Module field (or array of them) a child, named by field (`fc.weight`, `layers.0.bias`).
 * @example
 * ```ts
 * class Net extends tg.nn.Module {
 *   fc = new tg.nn.Linear(4, 2);
 *   forward(x: tg.Tensor): tg.Tensor { return this.fc.forward(x).relu(); }
 * }
 * const net = new Net();
 * net.forward(tg.randn([3, 4])).shape; // → [3, 2]
 * net.namedParameters().map(([name]) => name); // → ['fc.weight', 'fc.bias']
 * ```
 */
export class Module {
  /** The class name shown in messages and by toString() (the published bundle is minified). */
  static readonly typeName: string = 'Module';
  /** True in training mode (the default); eval() sets it false, which changes Dropout. */
  training = true;
  /** @internal entries added by registerParameter (null: a declared but absent parameter) */
  private readonly _parameters = new Map<string, Tensor | null>();
  /** @internal entries added by registerBuffer: saved in stateDict() but not trained */
  private readonly _buffers = new Map<string, Tensor | null>();
  /** @internal names of the buffers left out of stateDict() */
  private readonly _nonPersistent = new Set<string>();
  /** @internal entries added by registerModule */
  private readonly _modules = new Map<string, Module | null>();

  /**
   * The computation. Subclasses override it; call a module as `m.forward(x)` (or `m.call(x)`).
   * Most return a Tensor; some return more, as in PyTorch (MultiheadAttention: [output, weights]).
   */
  forward(..._args: any[]): any {
    throw new Error(`${typeName(this)}: forward() is not implemented`);
  }

  /** Same as forward(). */
  call(...args: any[]): any {
    return this.forward(...args);
  }

  // ── registration ──

  /** Adds a parameter under `name` (for names that are not fields); null declares it absent. */
  registerParameter(name: string, t: Tensor | null): Tensor | null {
    this.checkName(name, 'registerParameter');
    if (t !== null && !(t instanceof Tensor)) throw new Error(`registerParameter: "${name}" must be a Tensor or null, got ${show(t)}`);
    this._parameters.set(name, t === null ? null : parameter(t));
    return t;
  }

  /**
   * Adds a buffer, PyTorch's register_buffer: a tensor that belongs to the module but is not a
   * parameter (never trained, not in parameters(), so no optimizer sees it), such as a causal
   * mask or running statistics. It is read and assigned as the property `name` (declare it in
   * TypeScript: `declare mask: Tensor`) unless a method has that name, listed by buffers(),
   * released by dispose(), and, when `persistent` (the default), saved by stateDict() and loaded
   * by loadStateDict(). Registering a buffer's name again replaces it; null declares it absent.
   */
  registerBuffer(name: string, t: Tensor | null, options?: { persistent?: boolean }): Tensor | null {
    const persistent = readOptions(options, BUFFER_OPTIONS, 'registerBuffer').persistent ?? true;
    if (!this._buffers.has(name)) this.checkName(name, 'registerBuffer');
    this._buffers.set(name, bufferValue(t, name, 'registerBuffer'));
    if (persistent) this._nonPersistent.delete(name);
    else this._nonPersistent.add(name);
    // a property, unless the name is taken by a method or private field (`toString`, `_x`): then data only
    if (!(name in this)) Object.defineProperty(this, name, {
      configurable: true,
      get: () => this._buffers.get(name),
      set: (v: unknown) => { this._buffers.set(name, bufferValue(v, name, typeName(this))); },
    });
    return t;
  }

  /** Adds a child module under `name` (for names that are not fields, e.g. "0" in Sequential). */
  registerModule(name: string, m: Module | null): Module | null {
    this.checkName(name, 'registerModule');
    if (m !== null && !(m instanceof Module)) throw new Error(`registerModule: "${name}" must be a Module or null, got ${show(m)}`);
    this._modules.set(name, m);
    return m;
  }

  /** @internal Replaces every child module by `entries` (ModuleList renumbers, ModuleDict deletes). */
  protected setModules(entries: [string, Module][]): void {
    this._modules.clear();
    for (const [name, m] of entries) this._modules.set(name, m);
  }

  private checkName(name: string, op: string): void {
    if (typeof name !== 'string' || name === '' || name.includes('.')) {
      throw new Error(`${op}: name must be a non-empty string without ".", got ${show(name)}`);
    }
    const field = hasOwn(this, name) && !name.startsWith('_');
    const declared = field && (this as Record<string, unknown>)[name] === undefined; // `mask!: Tensor`, not yet assigned
    const taken = this._parameters.has(name) || this._buffers.has(name) || this._modules.has(name) || (field && !declared);
    if (taken) throw new Error(`${op}: "${name}" is already a parameter, buffer, child module or field of ${typeName(this)}`);
    if (declared) delete (this as Record<string, unknown>)[name];
  }

  // ── what the module holds ──

  /** This module's own parameters (not its children's), in registration order. */
  private ownParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const key of Object.keys(this)) {
      if (key.startsWith('_')) continue;
      const v = (this as Record<string, unknown>)[key];
      if (v instanceof Tensor) out.push([key, v]);
      else if (Array.isArray(v) && v.length > 0 && v.every((x) => x instanceof Tensor)) {
        v.forEach((t: Tensor, i) => out.push([`${key}.${i}`, t]));
      }
    }
    for (const [k, v] of this._parameters) if (v !== null) out.push([k, v]);
    return out;
  }

  /** This module's own buffers (all, or only those stateDict() saves), in registration order. */
  private ownBuffers(persistentOnly = false): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [k, v] of this._buffers) if (v && !(persistentOnly && this._nonPersistent.has(k))) out.push([k, v]);
    return out;
  }

  /** Direct children with their names, in registration order. */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const key of Object.keys(this)) {
      if (key.startsWith('_')) continue;
      const v = (this as Record<string, unknown>)[key];
      if (v instanceof Module) out.push([key, v]);
      else if (Array.isArray(v) && v.length > 0 && v.every((x) => x instanceof Module)) {
        v.forEach((m: Module, i) => out.push([`${key}.${i}`, m]));
      }
    }
    for (const [k, v] of this._modules) if (v !== null) out.push([k, v]);
    return out;
  }

  /** Direct children, in registration order. */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module (name "") and every descendant with its dotted name, parents first. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const visit = (m: Module, name: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([name, m]);
      for (const [k, c] of m.namedChildren()) visit(c, name ? `${name}.${k}` : k);
    };
    visit(this, prefix);
    return out;
  }

  /** This module and every descendant, parents first. */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Every parameter with its PyTorch dotted name (`0.weight`, `layers.1.bias`); a shared tensor once. */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      for (const [k, t] of m.ownParameters()) {
        if (seen.has(t)) continue;
        seen.add(t);
        out.push([prefix ? `${prefix}.${k}` : k, t]);
      }
    }
    return out;
  }

  /** Every parameter (a shared tensor once), e.g. to give an optimizer. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Every buffer (persistent or not) with its dotted name (`attn.mask`); a shared tensor once. */
  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      for (const [k, t] of m.ownBuffers()) {
        if (!seen.has(t)) out.push([prefix ? `${prefix}.${k}` : k, t]);
        seen.add(t);
      }
    }
    return out;
  }

  /** Every buffer, as namedBuffers() lists them. */
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, t]) => t);
  }

  // ── modes and gradients ──

  /** Sets training mode on this module and every descendant; returns this. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = !!mode;
    return this;
  }

  /** Evaluation mode (train(false)): Dropout passes its input through. Returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Zeroes the gradient of every parameter. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** Releases every parameter and buffer; the module cannot be used afterwards. */
  dispose(): void {
    for (const [, t] of this.namedParameters()) t.dispose();
    for (const [, t] of this.namedBuffers()) t.dispose();
  }

  // ── state dicts ──

  /**
   * The parameters and persistent buffers by dotted name, like PyTorch's state_dict(): the module's own
   * tensors (not copies; do not dispose them), in the order PyTorch lists them. Every name is an
   * entry of a dict with no prototype (a buffer named `__proto__` or `constructor` is ordinary data).
   *
   * @example
   * ```ts
   * const lin = new tg.nn.Linear(2, 1);
   * const bytes = tg.save(lin.stateDict());
   * const copy = new tg.nn.Linear(2, 1);
   * tg.tidy(() => { copy.loadStateDict(tg.load(bytes)); });
   * copy.weight.toArray(); // → lin.weight.toArray()
   * ```
   */
  stateDict(): StateDict {
    const out: StateDict = nameDict();
    for (const [prefix, m] of this.namedModules()) {
      for (const [k, t] of [...m.ownParameters(), ...m.ownBuffers(true)]) out[prefix ? `${prefix}.${k}` : k] = t;
    }
    return out;
  }

  /**
   * Copies the values of `stateDict` into this module's existing parameters and buffers (so an
   * optimizer holding them keeps working). Everything is checked before the first value is
   * written: it throws, changing nothing, when a key is missing or unexpected (with strict, the
   * default), an entry is not a live Tensor, a shape differs, or one of the module's own tensors
   * was disposed; the message names every such key. Keys are read as own properties only.
   */
  loadStateDict(stateDict: Record<string, Tensor>, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = readOptions(options, LOAD_OPTIONS, 'loadStateDict').strict ?? true;
    if (stateDict === null || typeof stateDict !== 'object' || Array.isArray(stateDict) || stateDict instanceof Tensor) {
      throw new Error(`loadStateDict: expected an object from names to tensors, got ${show(stateDict)}`);
    }
    const own = this.stateDict();
    const ownKeys = Object.keys(own);
    const missingKeys = ownKeys.filter((k) => !hasOwn(stateDict, k));
    const unexpectedKeys = Object.keys(stateDict).filter((k) => !hasOwn(own, k));
    const problems: string[] = [];
    const copies: [Tensor, Tensor][] = [];
    for (const k of ownKeys) {
      if (!hasOwn(stateDict, k)) continue;
      const dst = own[k];
      const src: unknown = stateDict[k]; // an own property: never the prototype's
      if (dst.isDisposed) problems.push(`the module's "${k}" was disposed`);
      if (!(src instanceof Tensor)) {
        problems.push(`"${k}" must be a Tensor, got ${show(src)}`);
      } else if (src.isDisposed) {
        problems.push(`"${k}" was disposed`);
      } else if (!sameShape(src.dims, dst.dims)) {
        problems.push(`size mismatch for "${k}": shape ${fmt(src.dims)} in the state dict, ${fmt(dst.dims)} in the module`);
      } else if (!dst.isDisposed) {
        copies.push([dst, src]);
      }
    }
    if (strict && unexpectedKeys.length > 0) problems.unshift(`unexpected keys: ${quoted(unexpectedKeys)}`);
    if (strict && missingKeys.length > 0) problems.unshift(`missing keys: ${quoted(missingKeys)}`);
    if (problems.length > 0) {
      throw new Error(`loadStateDict: cannot load into ${typeName(this)}: ${problems.join('; ')}`);
    }
    copyAll(copies); // in place: optimizers keep the same tensors
    return { missingKeys, unexpectedKeys };
  }

  // ── printing ──

  /** One line of settings shown by toString(), e.g. `in_features=4, out_features=8`. */
  extraRepr(): string {
    return '';
  }

  /** PyTorch's repr: the type, extraRepr() and the children, nested. */
  toString(): string {
    // children from an array field (`layers.0`, `layers.1`) print nested, as PyTorch's ModuleList does
    const lines: string[] = [];
    const children = this.namedChildren();
    for (let i = 0; i < children.length;) {
      const [name, child] = children[i];
      const dot = name.indexOf('.');
      if (dot < 0) {
        lines.push(`(${name}): ${child}`);
        i++;
        continue;
      }
      const field = name.slice(0, dot + 1), items: string[] = [];
      for (; i < children.length && children[i][0].startsWith(field); i++) items.push(`(${children[i][0].slice(dot + 1)}): ${children[i][1]}`);
      lines.push(reprBlock(`(${name.slice(0, dot)}): ModuleList(`, items));
    }
    const extra = this.extraRepr(); // on the head line alone, else the first line (as PyTorch)
    return lines.length === 0 ? `${typeName(this)}(${extra})` : reprBlock(`${typeName(this)}(`, extra ? [extra, ...lines] : lines);
  }

}
