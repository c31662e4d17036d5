// Loaders are atomic (issue 8 row 11): Module.loadStateDict and the optimizers' loadStateDict
// check everything, then write. Each failing load below puts its bad entry last in iteration
// order, so a loader that writes as it goes would already have changed the others; afterwards
// every parameter and every state value must be bit-identical to a snapshot taken before.
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { thrown } from './helpers.js';

type Tensor = InstanceType<typeof tg.Tensor>;
type Module = InstanceType<typeof tg.nn.Module>;
type Optimizer = InstanceType<typeof tg.optim.SGD> | InstanceType<typeof tg.optim.Adam>;
type State = ReturnType<Optimizer['stateDict']>;

const bits = (t: Tensor): number[] => Array.from(new Uint32Array(t.data().buffer));

/** Every tensor of a module by name, as bit patterns (a disposed one as 'disposed'). */
function snapshot(m: Module): Record<string, number[] | string> {
  return Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, t.isDisposed ? 'disposed' : bits(t)]));
}

/** An optimizer's step, lr and every state tensor, as bit patterns. */
function optSnapshot(opt: Optimizer): unknown {
  const state = opt.stateDict() as Record<string, unknown>;
  return Object.fromEntries(Object.entries(state).map(([k, v]) => [k, Array.isArray(v) && v.length > 0 && v[0] instanceof tg.Tensor
    ? (v as Tensor[]).map((t) => (t.isDisposed ? 'disposed' : bits(t))) : v]));
}

function model(seed: number): Module {
  tg.manualSeed(seed);
  return new tg.nn.Sequential(new tg.nn.Linear(3, 4), new tg.nn.LayerNorm(4), new tg.nn.Linear(4, 2));
}
const KEYS = ['0.weight', '0.bias', '1.weight', '1.bias', '2.weight', '2.bias'];

/** `steps` training steps on data drawn from `seed`. */
function train(m: Module, opt: Optimizer, steps: number, seed: number): void {
  tg.manualSeed(seed);
  for (let i = 0; i < steps; i++) {
    tg.tidy(() => {
      opt.zeroGrad();
      const x = tg.randn([5, 3]);
      const y = tg.randn([5, 2]);
      m.forward(x).sub(y).pow(2).mean().backward();
      opt.step();
    });
  }
}

/** The error `fn` throws (fails the test when it returns). */

// ----------------------------------------------------------------------------- Module.loadStateDict

describe('Module.loadStateDict checks every entry before writing any', () => {
  /** A full dict of fresh tensors (values the module does not have), in the module's key order. */
  const goodDict = (m: Module): Record<string, unknown> =>
    Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, tg.full(t.shape, 7)]));

  const bad: [string, (d: Record<string, unknown>) => void, string][] = [
    ['a disposed tensor', (d) => { (d['2.bias'] as Tensor).dispose(); }, 'loadStateDict: cannot load into Sequential: "2.bias" was disposed'],
    ['a number', (d) => { d['2.bias'] = 3; }, 'loadStateDict: cannot load into Sequential: "2.bias" must be a Tensor, got 3'],
    ['an array of numbers', (d) => { d['2.bias'] = [1, 2]; }, 'loadStateDict: cannot load into Sequential: "2.bias" must be a Tensor, got [1,2]'],
    ['null', (d) => { d['2.bias'] = null; }, 'loadStateDict: cannot load into Sequential: "2.bias" must be a Tensor, got null'],
    ['undefined', (d) => { d['2.bias'] = undefined; }, 'loadStateDict: cannot load into Sequential: "2.bias" must be a Tensor, got undefined'],
    ['a plain object', (d) => { d['2.bias'] = { shape: [2] }; }, 'loadStateDict: cannot load into Sequential: "2.bias" must be a Tensor, got an object'],
    ['a wrong shape', (d) => { d['2.bias'] = tg.zeros([3]); }, 'loadStateDict: cannot load into Sequential: size mismatch for "2.bias": shape [3] in the state dict, [2] in the module'],
    ['an extra dim', (d) => { d['2.bias'] = tg.zeros([1, 2]); }, 'loadStateDict: cannot load into Sequential: size mismatch for "2.bias": shape [1,2] in the state dict, [2] in the module'],
    ['a missing key', (d) => { delete d['2.bias']; }, 'loadStateDict: cannot load into Sequential: missing keys: "2.bias"'],
    ['an unexpected key', (d) => { d['2.extra'] = tg.zeros([2]); }, 'loadStateDict: cannot load into Sequential: unexpected keys: "2.extra"'],
    ['a key only on the prototype', (d) => { delete d['2.bias']; Object.setPrototypeOf(d, { '2.bias': tg.zeros([2]) }); }, 'loadStateDict: cannot load into Sequential: missing keys: "2.bias"'],
  ];

  for (const [label, spoil, message] of bad) {
    it(`${label} as the last entry: nothing written`, () => {
      const m = model(1);
      try {
        const before = snapshot(m);
        tg.tidy(() => {
          const d = goodDict(m);
          expect(Object.keys(d)).toEqual(KEYS);
          spoil(d);
          const err = thrown(() => m.loadStateDict(d as Record<string, Tensor>));
          expect(Object.getPrototypeOf(err)).toBe(Error.prototype);
          expect(err.message).toBe(message);
        });
        expect(snapshot(m)).toEqual(before);
      } finally {
        m.dispose();
      }
    });
  }

  it("the module's own last parameter disposed: an error naming it, the others unchanged", () => {
    const m = model(2);
    try {
      m.stateDict()['2.bias'].dispose();
      const before = snapshot(m);
      expect(before['2.bias']).toBe('disposed');
      tg.tidy(() => {
        expect(() => m.loadStateDict(goodDict(m) as Record<string, Tensor>)).toThrow('loadStateDict: cannot load into Sequential: the module\'s "2.bias" was disposed');
        // strict: false does not skip it either: the entry would be written into nothing
        expect(() => m.loadStateDict(goodDict(m) as Record<string, Tensor>, { strict: false })).toThrow('the module\'s "2.bias" was disposed');
      });
      expect(snapshot(m)).toEqual(before);
      // a dict that does not name it loads the rest with strict: false (nothing is written into it)
      tg.tidy(() => {
        const d = goodDict(m);
        delete d['2.bias'];
        expect(m.loadStateDict(d as Record<string, Tensor>, { strict: false })).toEqual({ missingKeys: ['2.bias'], unexpectedKeys: [] });
      });
      expect(m.stateDict()['0.weight'].data().every((v) => v === 7)).toBe(true);
    } finally {
      m.dispose();
    }
  });

  it('every problem is named in one message', () => {
    const m = model(3);
    try {
      tg.tidy(() => {
        const d = goodDict(m);
        delete d['0.weight'];
        d['1.bias'] = 'x';
        d['2.weight'] = tg.zeros([1]);
        d.extra = tg.zeros([1]);
        expect(() => m.loadStateDict(d as Record<string, Tensor>)).toThrow(
          'loadStateDict: cannot load into Sequential: missing keys: "0.weight"; unexpected keys: "extra"; "1.bias" must be a Tensor, got the string "x"; size mismatch for "2.weight": shape [1] in the state dict, [2,4] in the module');
      });
    } finally {
      m.dispose();
    }
  });

  it('a valid dict is copied in full; strict: false reports and skips missing and unexpected keys', () => {
    const m = model(4);
    try {
      tg.tidy(() => {
        m.loadStateDict(goodDict(m) as Record<string, Tensor>);
        for (const t of Object.values(m.stateDict())) expect(Array.from(t.data()).every((v) => v === 7)).toBe(true);
        const d: Record<string, Tensor> = { '0.bias': tg.full([4], -1), other: tg.zeros([5]) };
        expect(m.loadStateDict(d, { strict: false })).toEqual({
          missingKeys: ['0.weight', '1.weight', '1.bias', '2.weight', '2.bias'],
          unexpectedKeys: ['other'],
        });
        expect(m.stateDict()['0.bias'].toArray()).toEqual([-1, -1, -1, -1]);
        expect(m.stateDict()['0.weight'].data().every((v) => v === 7)).toBe(true);
      });
    } finally {
      m.dispose();
    }
  });

  it('a dict that swaps two parameters loads the values they had before the load', () => {
    const m = new tg.nn.Module();
    m.registerParameter('p', tg.tensor([1, 2]));
    m.registerParameter('q', tg.tensor([3, 4]));
    try {
      const { p, q } = m.stateDict();
      m.loadStateDict({ p: q, q: p });
      expect([p.toArray(), q.toArray()]).toEqual([[3, 4], [1, 2]]);
      m.loadStateDict({ p: q, q });
      expect([p.toArray(), q.toArray()]).toEqual([[1, 2], [1, 2]]);
      m.loadStateDict(m.stateDict()); // itself: unchanged
      expect([p.toArray(), q.toArray()]).toEqual([[1, 2], [1, 2]]);
      const before = tg.memory().tensors;
      m.loadStateDict({ p: q, q: p });
      expect(tg.memory().tensors).toBe(before); // the copies made aside are released
    } finally {
      m.dispose();
    }
  });

  it('a null-prototype dict and a dict whose keys include __proto__ are read by own keys', () => {
    const m = new tg.nn.Module();
    m.registerParameter('w', tg.tensor([1, 2]));
    try {
      tg.tidy(() => {
        const d = Object.create(null) as Record<string, Tensor>;
        d.w = tg.tensor([5, 6]);
        m.loadStateDict(d);
        expect(m.stateDict().w.toArray()).toEqual([5, 6]);
        const e: Record<string, Tensor> = { w: tg.tensor([7, 8]) };
        Object.defineProperty(e, '__proto__', { value: tg.zeros([1]), enumerable: true });
        expect(() => m.loadStateDict(e)).toThrow('loadStateDict: cannot load into Module: unexpected keys: "__proto__"');
        expect(m.stateDict().w.toArray()).toEqual([5, 6]);
        expect(m.loadStateDict(e, { strict: false }).unexpectedKeys).toEqual(['__proto__']);
        expect(m.stateDict().w.toArray()).toEqual([7, 8]);
      });
    } finally {
      m.dispose();
    }
  });

  it('options: own properties only, a boolean strict, no unknown key', () => {
    const m = model(5);
    try {
      const before = snapshot(m);
      tg.tidy(() => {
        const d = goodDict(m) as Record<string, Tensor>;
        delete d['2.bias'];
        expect(() => m.loadStateDict(d, { strict: 'false' } as never)).toThrow('loadStateDict: strict must be true or false, got the string "false"');
        expect(() => m.loadStateDict(d, { strict: false, stric: true } as never)).toThrow('loadStateDict: unknown option "stric" (accepted: strict)');
        expect(() => m.loadStateDict(d, null as never)).toThrow('loadStateDict: options must be a plain object (accepted: strict), got null');
        expect(() => m.loadStateDict(d, 'strict' as never)).toThrow('loadStateDict: options must be a plain object (accepted: strict), got the string "strict"');
        // a strict inherited from a prototype is not an option: such an object is refused
        expect(() => m.loadStateDict(d, Object.create({ strict: false }))).toThrow('loadStateDict: options must be a plain object (accepted: strict), got an object');
      });
      expect(snapshot(m)).toEqual(before);
    } finally {
      m.dispose();
    }
  });
});

// ----------------------------------------------------------------------------- optimizers

const OPTIMIZERS: [string, (params: Tensor[]) => Optimizer, string[]][] = [
  ['SGD', (p) => new tg.optim.SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true }), ['momentumBuffers']],
  ['Adam', (p) => new tg.optim.Adam(p, { lr: 0.01 }), ['expAvg', 'expAvgSq']],
  ['AdamW', (p) => new tg.optim.AdamW(p, { lr: 0.01, weightDecay: 0.1 }), ['expAvg', 'expAvgSq']],
];

for (const [name, make, lists] of OPTIMIZERS) {
  describe(`${name}.loadStateDict checks everything before writing anything`, () => {
    /** A trained source (3 steps) and a target trained differently (1 step), so their states differ. */
    function setup(): { a: Module; b: Module; optA: Optimizer; optB: Optimizer; dispose: () => void } {
      const a = model(10), b = model(10);
      const optA = make(a.parameters()), optB = make(b.parameters());
      train(a, optA, 3, 100);
      train(b, optB, 1, 200);
      return { a, b, optA, optB, dispose: () => { optA.dispose(); optB.dispose(); a.dispose(); b.dispose(); } };
    }

    const last = lists[lists.length - 1];
    const spoilers: [string, (s: Record<string, unknown>, params: Tensor[]) => void, RegExp | string][] = [
      [`${last}'s last tensor disposed`, (s) => { const l = (s[last] as Tensor[]).slice(); l[5] = l[5].mul(1); l[5].dispose(); s[last] = l; }, `${name}.loadStateDict: ${last}[5] was disposed`],
      [`${last}'s last tensor of a wrong shape`, (s) => { const l = (s[last] as Tensor[]).slice(); l[5] = tg.zeros([3]); s[last] = l; }, `${name}.loadStateDict: ${last}[5] has shape [3] but parameter 5 has shape [2]`],
      [`${last}'s last entry not a tensor`, (s) => { const l = (s[last] as unknown[]).slice(); l[5] = [0, 0]; s[last] = l; }, `${name}.loadStateDict: ${last}[5] must be a Tensor, got [0,0]`],
      [`${last} one short`, (s) => { s[last] = (s[last] as Tensor[]).slice(0, 5); }, `${name}.loadStateDict: ${last} must be a list of 6 tensors (one per parameter), got a list of 5`],
      [`${last} one too many`, (s, p) => { s[last] = [...(s[last] as Tensor[]), tg.zeros(p[0].shape)]; }, `${name}.loadStateDict: ${last} must be a list of 6 tensors (one per parameter), got a list of 7`],
      [`${last} not a list`, (s) => { s[last] = { 0: 1 }; }, `${name}.loadStateDict: ${last} must be a list of 6 tensors (one per parameter), got an object`],
      [`${last} absent`, (s) => { delete s[last]; }, `${name}.loadStateDict: ${last} must be a list of 6 tensors (one per parameter), got undefined`],
      ['a negative step', (s) => { s.step = -1; }, `${name}.loadStateDict: step must be an integer in [0, 2147483647], got -1`],
      ['a fractional step', (s) => { s.step = 2.5; }, `${name}.loadStateDict: step must be an integer in [0, 2147483647], got 2.5`],
      ['a step that is a string', (s) => { s.step = '3'; }, `${name}.loadStateDict: step must be an integer in [0, 2147483647], got the string "3"`],
      ['a step beyond int32', (s) => { s.step = 2 ** 31; }, `${name}.loadStateDict: step must be an integer in [0, 2147483647], got 2147483648`],
      ['a NaN step', (s) => { s.step = NaN; }, `${name}.loadStateDict: step must be an integer in [0, 2147483647], got NaN`],
      ['no step', (s) => { delete s.step; }, `${name}.loadStateDict: step must be an integer in [0, 2147483647], got undefined`],
      ['a negative lr', (s) => { s.lr = -0.5; }, `${name}.loadStateDict: lr must be a number in [0, ∞), got -0.5`],
      ['a NaN lr', (s) => { s.lr = NaN; }, `${name}.loadStateDict: lr must be a number in [0, ∞), got NaN`],
      ['an lr that is a string', (s) => { s.lr = '0.1'; }, `${name}.loadStateDict: lr must be a number in [0, ∞), got the string "0.1"`],
      ['a step only on the prototype', (s) => { const step = s.step; delete s.step; Object.setPrototypeOf(s, { step }); }, `${name}.loadStateDict: step must be an integer in [0, 2147483647], got undefined`],
    ];

    for (const [label, spoil, message] of spoilers) {
      it(`${label}: throws, and every parameter, state tensor, step and lr is unchanged`, () => {
        const { a, b, optA, optB, dispose } = setup();
        try {
          const before = { params: snapshot(b), opt: optSnapshot(optB), steps: optB.steps, lr: optB.lr };
          expect(before.steps).toBe(1);
          tg.tidy(() => {
            const state = { ...optA.stateDict() } as Record<string, unknown>;
            expect(state.step).toBe(3);
            spoil(state, b.parameters());
            const err = thrown(() => optB.loadStateDict(state as State));
            expect(Object.getPrototypeOf(err)).toBe(Error.prototype);
            if (typeof message === 'string') expect(err.message).toBe(message);
            else expect(err.message).toMatch(message);
          });
          expect({ params: snapshot(b), opt: optSnapshot(optB), steps: optB.steps, lr: optB.lr }).toEqual(before);
        } finally {
          dispose();
        }
      });
    }

    it('a state that is not an object', () => {
      const { optB, dispose } = setup();
      try {
        const before = optSnapshot(optB);
        for (const [value, got] of [[null, 'null'], [[1], '[1]'], [3, '3'], [undefined, 'undefined']] as const) {
          expect(() => optB.loadStateDict(value as unknown as State)).toThrow(`${name}.loadStateDict: expected a state object such as stateDict() returns, got ${got}`);
        }
        expect(optSnapshot(optB)).toEqual(before);
      } finally {
        dispose();
      }
    });

    it("the optimizer's own last state tensor disposed: an error, and its other state unchanged", () => {
      const { optA, optB, dispose } = setup();
      try {
        (optB.stateDict() as Record<string, Tensor[]>)[last][5].dispose();
        const before = optSnapshot(optB);
        const steps = optB.steps;
        expect(() => optB.loadStateDict(optA.stateDict())).toThrow(`${name}.loadStateDict: the optimizer's own ${last}[5] was disposed, so it cannot take a state`);
        expect(optSnapshot(optB)).toEqual(before);
        expect(optB.steps).toBe(steps);
      } finally {
        dispose();
      }
    });

    it('a valid state is loaded in full: training then continues exactly as the source would', () => {
      const { a, b, optA, optB, dispose } = setup();
      try {
        b.loadStateDict(a.stateDict());
        optB.loadStateDict(optA.stateDict());
        expect(optB.steps).toBe(3);
        expect(optSnapshot(optB)).toEqual(optSnapshot(optA));
        train(a, optA, 2, 300);
        train(b, optB, 2, 300);
        expect(snapshot(b)).toEqual(snapshot(a));
        expect(optSnapshot(optB)).toEqual(optSnapshot(optA));
        // its own state: nothing changes
        const before = optSnapshot(optB);
        optB.loadStateDict(optB.stateDict());
        expect(optSnapshot(optB)).toEqual(before);
      } finally {
        dispose();
      }
    });

    it('a fresh optimizer (no step taken, no buffers yet) takes a trained state and continues as the source', () => {
      const a = model(30), c = model(31);
      const optA = make(a.parameters()), optC = make(c.parameters());
      try {
        train(a, optA, 3, 400);
        c.loadStateDict(a.stateDict());
        optC.loadStateDict(optA.stateDict());
        expect(optSnapshot(optC)).toEqual(optSnapshot(optA));
        train(a, optA, 2, 500);
        train(c, optC, 2, 500);
        expect(snapshot(c)).toEqual(snapshot(a));
      } finally {
        optA.dispose(); optC.dispose(); a.dispose(); c.dispose();
      }
    });

    it('a disposed optimizer refuses', () => {
      const { optA, optB, dispose } = setup();
      try {
        const state = optA.stateDict();
        optB.dispose();
        expect(() => optB.loadStateDict(state)).toThrow(`${name}.loadStateDict: the optimizer was disposed`);
      } finally {
        dispose();
      }
    });
  });
}

describe('SGD: momentum buffers that do not exist yet', () => {
  it("a fresh SGD's state (step 0, no buffers) loads into a trained one, which then steps like the fresh one", () => {
    const a = model(20), b = model(20);
    const optA = new tg.optim.SGD(a.parameters(), { lr: 0.1, momentum: 0.9, dampening: 0.5 });
    const optB = new tg.optim.SGD(b.parameters(), { lr: 0.1, momentum: 0.9, dampening: 0.5 });
    try {
      train(b, optB, 2, 7);
      const fresh = optA.stateDict();
      expect(fresh.momentumBuffers).toEqual([]);
      b.loadStateDict(a.stateDict());
      optB.loadStateDict(fresh);
      expect(optB.steps).toBe(0);
      train(a, optA, 2, 8);
      train(b, optB, 2, 8);
      expect(snapshot(b)).toEqual(snapshot(a));
      // at a later step an empty list is not a state
      const later = { ...optA.stateDict(), momentumBuffers: [] };
      expect(() => optB.loadStateDict(later)).toThrow('SGD.loadStateDict: momentumBuffers must be a list of 6 tensors (one per parameter), got a list of 0');
    } finally {
      optA.dispose(); optB.dispose(); a.dispose(); b.dispose();
    }
  });

  it('an SGD without momentum takes no buffers', () => {
    const a = model(21);
    const opt = new tg.optim.SGD(a.parameters(), { lr: 0.1 });
    try {
      train(a, opt, 1, 9);
      tg.tidy(() => {
        const buffers = a.parameters().map((p) => tg.zeros(p.shape));
        expect(() => opt.loadStateDict({ step: 4, lr: 0.2, momentumBuffers: buffers })).toThrow('SGD.loadStateDict: this SGD has no momentum, so momentumBuffers must be absent or empty, got a list of 6');
      });
      expect([opt.steps, opt.lr]).toEqual([1, 0.1]);
      opt.loadStateDict({ step: 4, lr: 0.2 });
      expect([opt.steps, opt.lr]).toEqual([4, 0.2]);
    } finally {
      opt.dispose(); a.dispose();
    }
  });
});
