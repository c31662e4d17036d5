// nn.ModuleList and nn.ModuleDict (issue 12, item 5). The expected reprs and state-dict keys are
// PyTorch 1.13's own output for the same constructions (printed by /usr/bin/python3 with
// torch.nn.ModuleList / ModuleDict, 2026-12-01), so a model that keeps its blocks in these
// containers loads a PyTorch state dict unchanged.
import { describe, it, expect } from 'vitest';
import * as tg from '../dist/index.js';

const { nn } = tg;

class Net extends nn.Module {
  blocks = new nn.ModuleList([new nn.Linear(2, 3), new nn.Linear(3, 1)]);
  heads = new nn.ModuleDict({ mean: new nn.Linear(1, 1) });
  forward(x: tg.Tensor): tg.Tensor {
    for (const b of this.blocks) x = b.forward(x);
    return this.heads.get('mean').forward(x);
  }
}

describe('nn.ModuleList', () => {
  it("registers its modules under their index, renumbered after an insert, as PyTorch's repr and keys show", () => {
    const l = new nn.ModuleList([new nn.Linear(2, 2), new nn.ReLU()]);
    l.insert(0, new nn.Tanh());
    expect(String(l)).toBe('ModuleList(\n  (0): Tanh()\n  (1): Linear(in_features=2, out_features=2, bias=True)\n  (2): ReLU()\n)');
    expect(Object.keys(l.stateDict())).toEqual(['1.weight', '1.bias']);
  });

  it('pop removes a module and the ones after it move down (PyTorch: keys 0 and 1, out_features [1, 3])', () => {
    const l = new nn.ModuleList([new nn.Linear(1, 1), new nn.Linear(1, 2), new nn.Linear(2, 3)]);
    const popped = l.pop(1) as tg.nn.Linear;
    expect(popped.outFeatures).toBe(2);
    expect(Object.keys(l.stateDict())).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    expect([...l].map((m) => (m as tg.nn.Linear).outFeatures)).toEqual([1, 3]);
    expect(l.length).toBe(2);
    const last = l.at(-1);
    expect(l.pop()).toBe(last); // the default: the last
    expect(Object.keys(l.stateDict())).toEqual(['0.weight', '0.bias']);
  });

  it('insert and at follow Python lists: negative indices count from the end, inserts past either end clamp', () => {
    const [a, b, c, d] = [new nn.ReLU(), new nn.Tanh(), new nn.Sigmoid(), new nn.Identity()];
    const l = new nn.ModuleList([a]);
    l.insert(-5, b); // before everything
    l.insert(10, c); // after everything
    l.insert(-1, d); // before the last
    expect([...l]).toEqual([b, a, d, c]);
    expect(l.at(-1)).toBe(c);
    expect(() => l.at(4)).toThrow('ModuleList.at: index 4 is out of range for 4 modules');
    expect(() => l.append({} as tg.nn.Module)).toThrow('ModuleList.append: the module must be a Module, got an object');
    expect(() => l.extend([a, 3 as unknown as tg.nn.Module])).toThrow('ModuleList.extend: item 1 must be a Module, got 3');
    expect(l.length).toBe(4); // a refused extend adds nothing
  });

  it('has no forward, as PyTorch (NotImplementedError there)', () => {
    expect(() => new nn.ModuleList([new nn.ReLU()]).forward()).toThrow('ModuleList has no forward: call the modules it holds');
  });
});

describe('nn.ModuleDict', () => {
  it("keeps insertion order, and set on an existing key keeps its place, as PyTorch's repr and keys show", () => {
    const d = new nn.ModuleDict({ a: new nn.Linear(2, 1) });
    d.set('b', new nn.ReLU());
    expect(String(d)).toBe('ModuleDict(\n  (a): Linear(in_features=2, out_features=1, bias=True)\n  (b): ReLU()\n)');
    expect(d.keys()).toEqual(['a', 'b']);
    expect(Object.keys(d.stateDict())).toEqual(['a.weight', 'a.bias']);
    const relu = new nn.ReLU();
    d.set('a', relu);
    expect(d.keys()).toEqual(['a', 'b']);
    expect(d.get('a')).toBe(relu);
    expect(Object.keys(d.stateDict())).toEqual([]);
  });

  it('delete, has, update from pairs, values, items and iteration over keys', () => {
    const [x, y, z] = [new nn.ReLU(), new nn.Tanh(), new nn.Sigmoid()];
    const d = new nn.ModuleDict([['x', x], ['y', y]]);
    d.update({ z });
    expect([...d]).toEqual(['x', 'y', 'z']);
    expect(d.values()).toEqual([x, y, z]);
    expect(d.delete('y')).toBe(true);
    expect(d.delete('y')).toBe(false);
    expect(d.has('y')).toBe(false);
    expect(d.items()).toEqual([['x', x], ['z', z]]);
    expect(d.length).toBe(2);
    expect(String(d)).toBe('ModuleDict(\n  (x): ReLU()\n  (z): Sigmoid()\n)');
    expect(() => d.get('y')).toThrow('ModuleDict.get: no module under "y" (keys: "x", "z")');
    expect(() => d.set('a.b', x)).toThrow('ModuleDict.set: key must be a non-empty string without ".", got the string "a.b"');
    expect(() => d.update([['w', x], ['v', 1 as unknown as tg.nn.Module]])).toThrow('ModuleDict.update: "v" must be a Module, got 1');
    expect(d.keys()).toEqual(['x', 'z']); // a refused update adds nothing
  });
});

describe('containers inside a model', () => {
  it("give PyTorch's state-dict keys and nested repr, and load a state dict by them", () => {
    const net = new Net();
    expect(Object.keys(net.stateDict())).toEqual(['blocks.0.weight', 'blocks.0.bias', 'blocks.1.weight', 'blocks.1.bias', 'heads.mean.weight', 'heads.mean.bias']);
    expect(String(net)).toBe('Net(\n  (blocks): ModuleList(\n    (0): Linear(in_features=2, out_features=3, bias=True)\n' +
      '    (1): Linear(in_features=3, out_features=1, bias=True)\n  )\n  (heads): ModuleDict(\n' +
      '    (mean): Linear(in_features=1, out_features=1, bias=True)\n  )\n)');
    // hand-set weights: blocks sum the inputs, scale by 2, then the head adds 1
    const sd: Record<string, tg.Tensor> = {
      'blocks.0.weight': tg.tensor([[1, 1], [0, 0], [0, 0]]), 'blocks.0.bias': tg.zeros([3]),
      'blocks.1.weight': tg.tensor([[2, 0, 0]]), 'blocks.1.bias': tg.zeros([1]),
      'heads.mean.weight': tg.tensor([[1]]), 'heads.mean.bias': tg.tensor([1]),
    };
    net.loadStateDict(sd);
    expect(net.forward(tg.tensor([[3, 4]])).toArray()).toEqual([[15]]); // (3 + 4)·2 + 1
    expect(net.parameters().length).toBe(6);
    net.eval();
    expect(net.blocks.at(1).training).toBe(false);
    expect(net.heads.get('mean').training).toBe(false);
  });
});
