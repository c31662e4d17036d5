// Module.registerBuffer against PyTorch (test/fixtures/param_groups.json "buffers" and
// test/fixtures/buffers.safetensors, scripts/gen_param_group_fixtures.py): a model with a
// persistent buffer on the root and in each of two blocks, and a non-persistent buffer per block.
// Its state-dict keys, buffers and parameters are PyTorch's; PyTorch's saved state dict loads
// (strictly) and gives PyTorch's output; a non-strict load reports PyTorch's missing and
// unexpected keys. Then the rules: buffers are not parameters and no optimizer touches them,
// they are properties, names are checked, and dispose() releases them.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { expectClose } from './helpers.js';

type Tensor = InstanceType<typeof tg.Tensor>;
interface Data { shape: number[]; data: number[] }
const fixture = (JSON.parse(readFileSync(new URL('./fixtures/param_groups.json', import.meta.url), 'utf8')) as {
  buffers: {
    stateDictKeys: string[];
    namedBuffers: string[];
    namedParameters: string[];
    input: Data;
    out: Data;
    partialLoad: { removed: string; added: string; missingKeys: string[]; unexpectedKeys: string[] };
  };
}).buffers;
const saved = readFileSync(new URL('./fixtures/buffers.safetensors', import.meta.url));
const { nn } = tg;

const lowerOnes = (n: number): number[][] => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (j <= i ? 1 : 0)));

/** PyTorch's Block: a Linear, a causal mask (persistent) and a scratch buffer (not persistent). */
class Block extends nn.Module {
  proj = new nn.Linear(3, 3);
  declare mask: Tensor;
  declare scratch: Tensor;
  constructor() {
    super();
    this.registerBuffer('mask', tg.tensor(lowerOnes(4)));
    this.registerBuffer('scratch', tg.zeros([2]), { persistent: false });
  }
  forward(x: Tensor): Tensor {
    return this.mask.matmul(this.proj.forward(x));
  }
}

/** PyTorch's BufferNet: a buffer registered before a parameter (the state dict lists parameters first). */
class BufferNet extends nn.Module {
  declare scale: Tensor;
  gain: Tensor;
  blocks = [new Block(), new Block()];
  head = new nn.Linear(3, 2);
  constructor() {
    super();
    this.registerBuffer('scale', tg.tensor([2]));
    this.gain = nn.parameter(tg.ones([3]));
  }
  forward(x: Tensor): Tensor {
    for (const b of this.blocks) x = b.forward(x).tanh();
    return this.head.forward(x.mul(this.gain).mul(this.scale));
  }
}

function using<M extends InstanceType<typeof nn.Module>>(m: M, fn: (m: M) => void): void {
  try {
    fn(m);
  } finally {
    m.dispose();
  }
}

describe('buffers vs PyTorch', () => {
  it("state-dict keys, buffers and parameters are PyTorch's", () => {
    using(new BufferNet(), (m) => {
      expect(Object.keys(m.stateDict())).toEqual(fixture.stateDictKeys);
      expect(m.namedBuffers().map(([k]) => k)).toEqual(fixture.namedBuffers);
      expect(m.namedParameters().map(([k]) => k)).toEqual(fixture.namedParameters);
    });
  });

  it("PyTorch's saved state dict (safetensors) loads strictly and gives PyTorch's output", () => {
    using(new BufferNet(), (m) => {
      tg.tidy(() => {
        const state = tg.load(saved);
        expect(Object.keys(state).sort()).toEqual([...fixture.stateDictKeys].sort());
        expect(m.loadStateDict(state)).toEqual({ missingKeys: [], unexpectedKeys: [] });
        expect((m as unknown as Record<string, unknown>).mask).toBeUndefined(); // the root has no mask: a property only where registered
        expect(Array.from(m.blocks[1].mask.data())).toEqual(Array.from(state['blocks.1.mask'].data()));
        const out = m.forward(tg.tensor(fixture.input.data, { shape: fixture.input.shape }));
        expectClose(out.data(), fixture.out.data, 1e-5, 1e-6, 'output', out.shape);
      });
    });
  });

  it("a non-strict load reports PyTorch's missing and unexpected keys (a non-persistent buffer's key is unexpected)", () => {
    using(new BufferNet(), (m) => {
      tg.tidy(() => {
        const p = fixture.partialLoad;
        const state = { ...tg.load(saved) };
        delete state[p.removed];
        state[p.added] = tg.ones([2]);
        const before = Array.from(m.blocks[1].mask.data());
        expect(() => m.loadStateDict(state)).toThrow(`loadStateDict: cannot load into BufferNet: missing keys: "${p.missingKeys[0]}"; unexpected keys: "${p.unexpectedKeys[0]}"`);
        expect(Array.from(m.blocks[0].scratch.data())).toEqual([0, 0]);
        expect(m.loadStateDict(state, { strict: false })).toEqual({ missingKeys: p.missingKeys, unexpectedKeys: p.unexpectedKeys });
        expect(Array.from(m.blocks[0].scratch.data())).toEqual([0, 0]); // never loaded
        expect(Array.from(m.blocks[1].mask.data())).toEqual(before); // missing: unchanged
      });
    });
  });

  it('save → load round trip through safetensors carries the persistent buffers only', () => {
    using(new BufferNet(), (a) => using(new BufferNet(), (b) => {
      tg.noGrad(() => { a.scale.copy_([5]); a.blocks[0].mask.copy_(tg.full([4, 4], 3)); a.blocks[0].scratch.copy_([7, 7]); });
      tg.tidy(() => {
        const state = tg.load(tg.save(a.stateDict()));
        expect(Object.keys(state)).toEqual([...fixture.stateDictKeys].sort()); // save sorts its header
        b.loadStateDict(state);
      });
      expect(b.scale.item()).toBe(5);
      expect(Array.from(b.blocks[0].mask.data())).toEqual(new Array(16).fill(3));
      expect(Array.from(b.blocks[0].scratch.data())).toEqual([0, 0]);
    }));
  });
});

describe('buffers: rules', () => {
  it('are not parameters, never require grad, and no optimizer changes them', () => {
    using(new BufferNet(), (m) => {
      expect(m.parameters()).not.toContain(m.scale);
      expect(m.buffers()).toEqual([m.scale, m.blocks[0].mask, m.blocks[0].scratch, m.blocks[1].mask, m.blocks[1].scratch]);
      expect(m.buffers().every((t) => !t.requiresGrad)).toBe(true);
      const opt = new tg.optim.AdamW(m.parameters(), { lr: 0.1, weightDecay: 0.5 });
      const before = m.buffers().map((t) => Array.from(t.data()));
      tg.tidy(() => {
        m.forward(tg.ones([4, 3])).sum().backward();
        opt.step();
      });
      expect(m.buffers().map((t) => t.grad)).toEqual([null, null, null, null, null]);
      expect(m.buffers().map((t) => Array.from(t.data()))).toEqual(before);
      expect(Array.from(m.gain.data())).not.toEqual([1, 1, 1]);
      opt.dispose();
    });
  });

  it('survive the tidy() scope they were registered in, and dispose() releases every one', () => {
    const m = tg.tidy(() => new BufferNet());
    const all = m.buffers();
    expect(all.every((t) => !t.isDisposed)).toBe(true);
    m.dispose();
    expect(all.every((t) => t.isDisposed)).toBe(true);
  });

  it('assigning the property replaces the buffer; a shared buffer is listed once', () => {
    using(new BufferNet(), (m) => {
      const old = m.scale;
      m.scale = tg.tidy(() => tg.tensor([3]));
      expect(m.stateDict().scale).toBe(m.scale);
      expect(m.scale.isDisposed).toBe(false); // kept: outlives the scope it was made in
      expect(() => { (m as unknown as Record<string, unknown>).scale = 4; }).toThrow('BufferNet: buffer "scale" must be a Tensor or null, got 4');
      expect(() => { m.scale = tg.ones([1], { requiresGrad: true }); }).toThrow('BufferNet: buffer "scale" requires grad, but a buffer is never trained');
      expect(m.stateDict().scale.item()).toBe(3);
      old.dispose();
      m.blocks[1].registerBuffer('mask', m.blocks[0].mask); // re-registering a buffer's name replaces it, as in PyTorch
      expect(m.namedBuffers().map(([k]) => k)).toEqual(['scale', 'blocks.0.mask', 'blocks.0.scratch', 'blocks.1.scratch']);
      m.scale = null as unknown as Tensor; // declared absent: not saved
      expect(Object.keys(m.stateDict())).not.toContain('scale');
    });
  });

  it('persistence can be changed by registering the name again', () => {
    using(new Block(), (b) => {
      b.registerBuffer('scratch', b.scratch, { persistent: true });
      b.registerBuffer('mask', b.mask, { persistent: false });
      expect(Object.keys(b.stateDict())).toEqual(['scratch', 'proj.weight', 'proj.bias']);
    });
  });

  it('names and values are checked, with PyTorch-like errors, and nothing changes', () => {
    using(new Block(), (b) => {
      const t = tg.zeros([1]);
      const cases: [() => unknown, string][] = [
        [() => b.registerBuffer('', t), 'registerBuffer: name must be a non-empty string without ".", got the string ""'],
        [() => b.registerBuffer('a.b', t), 'registerBuffer: name must be a non-empty string without ".", got the string "a.b"'],
        [() => b.registerBuffer(3 as never, t), 'registerBuffer: name must be a non-empty string without ".", got 3'],
        [() => b.registerBuffer('proj', t), 'registerBuffer: "proj" is already a parameter, buffer, child module or field of Block'],
        [() => b.proj.registerBuffer('weight', t), 'registerBuffer: "weight" is already a parameter, buffer, child module or field of Linear'],
        [() => b.registerBuffer('training', t), 'registerBuffer: "training" is already a parameter, buffer, child module or field of Block'],
        [() => b.registerBuffer('x', 5 as never), 'registerBuffer: buffer "x" must be a Tensor or null, got 5'],
        [() => b.registerBuffer('x', tg.ones([1], { requiresGrad: true })), 'registerBuffer: buffer "x" requires grad, but a buffer is never trained'],
        [() => b.registerBuffer('x', t, { persistent: 'no' } as never), 'registerBuffer: persistent must be true or false, got the string "no"'],
        [() => b.registerBuffer('x', t, { persist: false } as never), 'registerBuffer: unknown option "persist" (accepted: persistent)'],
      ];
      const keys = Object.keys(b.stateDict());
      for (const [call, message] of cases) {
        expect(call).toThrow(message);
        expect(Object.keys(b.stateDict())).toEqual(keys);
        expect(b.namedBuffers().map(([k]) => k)).toEqual(['mask', 'scratch']);
      }
      const gone = tg.zeros([1]);
      gone.dispose();
      expect(() => b.registerBuffer('x', gone)).toThrow(/registerBuffer: .*disposed/);
      t.dispose();
    });
  });

  it('a field declared but not yet assigned may become a buffer; the name of a method stays data only', () => {
    class Declared extends nn.Module {
      running!: Tensor; // an own field holding undefined under [[Define]] semantics
      constructor() {
        super();
        this.registerBuffer('running', tg.zeros([2]));
      }
    }
    using(new Declared(), (m) => {
      expect(m.running.shape).toEqual([2]);
      expect(m.parameters()).toEqual([]);
      expect(Object.keys(m.stateDict())).toEqual(['running']);
      m.registerBuffer('toString', tg.ones([1]));
      expect(typeof m.toString()).toBe('string');
      expect(Object.keys(m.stateDict())).toEqual(['running', 'toString']);
    });
  });
});
