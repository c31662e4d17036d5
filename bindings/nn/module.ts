// nn.Module: the base class of every layer. It finds a module's parameters and children the way
// PyTorch's __setattr__ registers them: every Tensor field is a parameter, every Module field a
// child, and an array field of modules (or of tensors) is a list whose items are named by index
// (`layers.0.weight`). Fields whose name starts with `_` are private and never scanned.
// registerParameter / registerModule / registerBuffer add entries under names that are not fields.
import { Tensor, live } from '../tensor';
import { noGrad } from '../autograd';
import { rand, randn, ones, zeros } from '../ops/creation';
import { keep, tidy } from '../memory';
import { fmt, sameShape, show, nameDict, readOptions, bool, hasOwn } from '../shape';

/** A module's parameters and buffers by dotted name, as `stateDict()` returns and `tg.save` takes. */
export type StateDict = Record<string, Tensor>;

export interface LoadStateDictOptions {
  /** Require the keys to match exactly (default true). Shapes must match either way. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/**
 * Marks `t` as a parameter: exempt from every tidy() scope (it lives until dispose()) and
 * requiring grad. Returns `t`.
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

/**
 * The class name shown in messages. The published bundle is minified, so the built-in layers
 * declare theirs in a static `typeName`; a user's subclass falls back to constructor.name.
 */
function typeName(m: Module): string {
  const ctor = m.constructor as { typeName?: string; name: string };
  return hasOwn(ctor, 'typeName') && ctor.typeName ? ctor.typeName : ctor.name;
}

const quoted = (names: string[]): string => names.map((n) => JSON.stringify(n)).join(', ');


const LOAD_OPTIONS = { strict: bool };

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

export class Module {
  static readonly typeName: string = 'Module';
  /** True in training mode (the default); eval() sets it false, which changes Dropout. */
  training = true;
  /** @internal entries added by registerParameter (null: a declared but absent parameter) */
  private readonly _parameters = new Map<string, Tensor | null>();
  /** @internal entries added by registerBuffer: saved in stateDict() but not trained */
  private readonly _buffers = new Map<string, Tensor | null>();
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

  /** Adds a tensor that is saved in stateDict() but is not a parameter (not trained). */
  registerBuffer(name: string, t: Tensor | null): Tensor | null {
    this.checkName(name, 'registerBuffer');
    if (t !== null && !(t instanceof Tensor)) throw new Error(`registerBuffer: "${name}" must be a Tensor or null, got ${show(t)}`);
    if (t !== null) keep(t);
    this._buffers.set(name, t);
    return t;
  }

  /** Adds a child module under `name` (for names that are not fields, e.g. "0" in Sequential). */
  registerModule(name: string, m: Module | null): Module | null {
    this.checkName(name, 'registerModule');
    if (m !== null && !(m instanceof Module)) throw new Error(`registerModule: "${name}" must be a Module or null, got ${show(m)}`);
    this._modules.set(name, m);
    return m;
  }

  private checkName(name: string, op: string): void {
    if (typeof name !== 'string' || name === '' || name.includes('.')) {
      throw new Error(`${op}: name must be a non-empty string without ".", got ${show(name)}`);
    }
    const taken = this._parameters.has(name) || this._buffers.has(name) || this._modules.has(name) ||
      (hasOwn(this, name) && !name.startsWith('_'));
    if (taken) throw new Error(`${op}: "${name}" is already a parameter, buffer, child module or field of ${typeName(this)}`);
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

  private ownBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [k, v] of this._buffers) if (v !== null) out.push([k, v]);
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

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, m] of this.namedModules()) {
      for (const [k, t] of m.ownBuffers()) out.push([prefix ? `${prefix}.${k}` : k, t]);
    }
    return out;
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
   * The parameters and buffers by dotted name, like PyTorch's state_dict(): the module's own
   * tensors (not copies; do not dispose them), in the order PyTorch lists them. Every name is an
   * entry of a dict with no prototype (a buffer named `__proto__` or `constructor` is ordinary data).
   */
  stateDict(): StateDict {
    const out: StateDict = nameDict();
    for (const [prefix, m] of this.namedModules()) {
      for (const [k, t] of [...m.ownParameters(), ...m.ownBuffers()]) out[prefix ? `${prefix}.${k}` : k] = t;
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

  toString(): string {
    const children = this.namedChildren();
    const head = `${typeName(this)}(${this.extraRepr()}`;
    if (children.length === 0) return `${head})`;
    const lines = children.map(([k, m]) => `  (${k}): ${m.toString().replace(/\n/g, '\n  ')}`);
    return `${head}\n${lines.join('\n')}\n)`;
  }
}
