// Bad input gets a clear error, and nothing is lost: every error names the op and the offending
// shapes/arguments, leaks nothing, changes no existing tensor, and the engine keeps working.
import { describe, it, expect, beforeAll } from 'vitest';
import * as tg from '../dist/index.js';

type T = tg.Tensor;

// state that exists before any error and must survive all of them
let keep: T;
let param: T;

beforeAll(() => {
  keep = tg.tensor([[1.5, -2], [3, 4.25]]);
  param = tg.tensor([0.5, -1, 2], { requiresGrad: true });
  tg.tidy(() => param.mul(param).sum().backward()); // param.grad = 2 * param = [1, -2, 4]
});

function expectEngineIntact() {
  expect(keep.isDisposed).toBe(false);
  expect(keep.toArray()).toEqual([[1.5, -2], [3, 4.25]]);
  expect(param.toArray()).toEqual([0.5, -1, 2]);
  expect(param.requiresGrad).toBe(true);
  tg.tidy(() => {
    expect(Array.from(param.grad!.data())).toEqual([1, -2, 4]);
  });
  tg.tidy(() => {
    // [[1,2],[3,4]] @ [[5],[6]] = [[17],[39]], sum = 56
    const A = tg.tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const B = tg.tensor([[5], [6]], { requiresGrad: true });
    const L = A.matmul(B).sum();
    expect(L.item()).toBe(56);
    L.backward();
    expect(A.grad!.toArray()).toEqual([[5, 6], [5, 6]]);
    expect(B.grad!.toArray()).toEqual([[4], [6]]);
  });
}

/** runs fn, which must throw; returns the error. Also checks that the failed call leaked nothing. */
function thrown(fn: () => unknown): Error {
  const before = tg.memory();
  let err: unknown = undefined;
  let threw = false;
  try {
    fn();
  } catch (e) {
    threw = true;
    err = e;
  }
  expect(threw, 'expected the call to throw').toBe(true);
  expect(err).toBeInstanceOf(Error);
  const after = tg.memory();
  expect(after.tensors, 'live tensors after the failed call').toBe(before.tensors);
  expect(after.bytes, 'bytes in use after the failed call').toBe(before.bytes);
  return err as Error;
}

function expectError(fn: () => unknown, ...patterns: RegExp[]): Error {
  const err = thrown(fn);
  for (const p of patterns) expect(err.message).toMatch(p);
  return err;
}

describe('shape mismatch names the op and both shapes', () => {
  it('add / sub / mul (broadcasting)', () => {
    const a = tg.zeros([2, 3]);
    const b = tg.zeros([4]);
    const c = tg.ones([3, 3]);
    const d = tg.ones([2, 2]);
    expectError(() => a.add(b), /add.*\[2,\s?3\].*\[4\]/s);
    expectError(() => tg.add(a, b), /add.*\[2,\s?3\].*\[4\]/s);
    expectError(() => b.add(a), /add.*\[4\].*\[2,\s?3\]/s);
    expectError(() => a.mul(b), /mul.*\[2,\s?3\].*\[4\]/s);
    expectError(() => a.sub(c), /sub.*\[2,\s?3\].*\[3,\s?3\]/s);
    expectError(() => a.maximum(d), /maximum.*\[2,\s?3\].*\[2,\s?2\]/s);
    tg.dispose([a, b, c, d]);
    expectEngineIntact();
  });

  it('matmul', () => {
    const a = tg.ones([2, 3]);
    const b = tg.ones([4, 5]);
    const v3 = tg.ones([3]);
    const v4 = tg.ones([4]);
    const p = tg.ones([2, 2, 3]);
    const q = tg.ones([3, 3, 2]);
    expectError(() => a.matmul(b), /matmul.*\[2,\s?3\].*\[4,\s?5\]/s);
    expectError(() => tg.matmul(v3, v4), /matmul.*\[3\].*\[4\]/s);
    expectError(() => v4.matmul(a), /matmul.*\[4\].*\[2,\s?3\]/s);
    expectError(() => tg.matmul(p, q), /matmul.*\[2,\s?2,\s?3\].*\[3,\s?3,\s?2\]/s);
    tg.dispose([a, b, v3, v4, p, q]);
    expectEngineIntact();
  });

  it('cat', () => {
    const a = tg.ones([2, 3]);
    const b = tg.ones([2, 4]);
    const v = tg.ones([3]);
    expectError(() => tg.cat([a, b]), /cat.*\[2,\s?3\].*\[2,\s?4\]/s);
    expectError(() => tg.cat([a, b], 0), /cat.*\[2,\s?3\].*\[2,\s?4\]/s);
    expectError(() => tg.cat([a, v], 0), /cat.*\[2,\s?3\].*\[3\]/s);
    expectError(() => tg.stack([a, b]), /stack.*\[2,\s?3\].*\[2,\s?4\]/s);
    // along dim 1 the same pair is fine: [2, 7]
    tg.tidy(() => expect(tg.cat([a, b], 1).shape).toEqual([2, 7]));
    tg.dispose([a, b, v]);
    expectEngineIntact();
  });

  it('reshape to a different number of elements', () => {
    const a = tg.ones([2, 3]);
    expectError(() => a.reshape([4, 2]), /reshape/, /\[4,\s?2\]/);
    expectError(() => a.view(5), /view|reshape/, /5/);
    expectError(() => a.reshape([4, -1]), /reshape/, /\[4,\s?-1\]/);
    a.dispose();
    expectEngineIntact();
  });

  it('expand to an incompatible shape', () => {
    const a = tg.ones([3, 2]);
    expectError(() => a.expand([3, 4]), /expand.*\[3,\s?2\].*\[3,\s?4\]/s);
    a.dispose();
    expectEngineIntact();
  });
});

describe('bad axis / out-of-range arguments', () => {
  it('sum(5) on a 2-D tensor', () => {
    const x = tg.ones([2, 3]);
    expectError(() => x.sum(5), /sum/, /\b5\b/);
    expectError(() => x.sum([0, 5]), /sum/, /\b5\b/);
    expectError(() => x.mean(-3), /mean/, /-3/);
    x.dispose();
    expectEngineIntact();
  });

  it('softmax(-3) on a 2-D tensor', () => {
    const x = tg.ones([2, 3]);
    expectError(() => x.softmax(-3), /softmax/, /-3/);
    expectError(() => x.logSoftmax(2), /logSoftmax/, /\b2\b/);
    x.dispose();
    expectEngineIntact();
  });

  it('other dims and ranges', () => {
    const x = tg.ones([2, 3]);
    expectError(() => x.transpose(0, 2), /transpose/, /\b2\b/);
    expectError(() => x.unsqueeze(3), /unsqueeze/, /\b3\b/);
    expectError(() => x.permute([0, 0]), /permute/);
    expectError(() => x.narrow(1, 2, 2), /narrow/);
    expectError(() => x.indexSelect(1, [0, 5]), /indexSelect/, /\b5\b/);
    expectError(() => x.gather(1, [[0, 3], [1, 1]]), /gather/, /\b3\b/);
    x.dispose();
    expectEngineIntact();
  });
});

describe('bad data', () => {
  it('ragged nested arrays', () => {
    expectError(() => tg.tensor([[1, 2], [3]]), /tensor/, /ragged|inconsistent|jagged|length|shape/i);
    expectError(() => tg.tensor([[1, 2], 3] as unknown as number[][]), /tensor/);
    expectError(() => tg.tensor([[[1], [2]], [[3], [4, 5]]]), /tensor/);
    expectEngineIntact();
  });

  it('wrong data length for a shape', () => {
    expectError(() => tg.tensor([1, 2, 3, 4, 5], { shape: [2, 3] }), /tensor/, /\[2,\s?3\]/, /\b5\b/);
    expectError(() => tg.tensor(new Float32Array(4), { shape: [3] }), /tensor/, /\[3\]/, /\b4\b/);
    expectEngineIntact();
  });
});

describe('NaN / fractional / negative sizes', () => {
  it('zeros([2.5]), zeros([NaN]), zeros([-1]), ones([Infinity])', () => {
    expectError(() => tg.zeros([2.5]), /zeros/, /2\.5/);
    expectError(() => tg.zeros([NaN]), /zeros/, /NaN/);
    expectError(() => tg.zeros([-1]), /zeros/, /-1/);
    expectError(() => tg.zeros(2, 2.5), /zeros/, /2\.5/);
    expectError(() => tg.ones([Infinity]), /ones/, /Infinity/);
    expectError(() => tg.full([3, NaN], 1), /full/, /NaN/);
    expectError(() => tg.randn([1.5]), /randn/, /1\.5/);
    expectEngineIntact();
  });

  it('reshape with two -1 and with a fractional size', () => {
    const x = tg.ones([2, 3]);
    expectError(() => x.reshape([-1, -1]), /reshape/, /-1/);
    expectError(() => x.reshape([2.5, 2]), /reshape/, /2\.5/);
    expectError(() => x.reshape([NaN]), /reshape/, /NaN/);
    x.dispose();
    expectEngineIntact();
  });
});

describe('backward() misuse', () => {
  it('backward() on a non-scalar without a gradient names the shape', () => {
    const x = tg.tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const y = x.mul(2);
    expectError(() => y.backward(), /backward/, /\[2,\s?2\]/);
    expect(x.grad).toBeNull();
    // with a wrongly shaped gradient
    expectError(() => y.backward([1, 2, 3]), /backward/, /\[2,\s?2\]/, /\[3\]/);
    expect(x.grad).toBeNull();
    // and the graph still works afterwards
    y.backward([[1, 1], [1, 1]]);
    tg.tidy(() => expect(x.grad!.toArray()).toEqual([[2, 2], [2, 2]]));
    tg.dispose([x, y]);
    expectEngineIntact();
  });
});

describe('use after release', () => {
  it('after dispose(): the message contains "disposed"', () => {
    const t = tg.tensor([1, 2, 3]);
    expect(t.isDisposed).toBe(false);
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expectError(() => t.toArray(), /disposed/);
    expectError(() => t.data(), /disposed/);
    expectError(() => t.item(), /disposed/);
    expectError(() => t.add(1), /disposed/);
    expectError(() => keep.add(t), /disposed/);
    const kf = keep.flatten();
    expectError(() => tg.cat([kf, t]), /disposed/);
    kf.dispose();
    expectEngineIntact();
  });

  it('a stale handle still throws after its slot is reused', () => {
    const before = tg.memory().tensors;
    const stale = tg.ones([3]);
    stale.dispose();
    const fresh = Array.from({ length: 8 }, () => tg.zeros([3]));
    expectError(() => stale.data(), /disposed/);
    for (const f of fresh) expect(Array.from(f.data())).toEqual([0, 0, 0]);
    tg.dispose(fresh);
    expect(tg.memory().tensors).toBe(before);
    expectEngineIntact();
  });

  it('after tidy released it', () => {
    let inner: T | undefined;
    const kept = tg.tidy(() => {
      inner = tg.ones([2]);
      return inner.mul(3);
    });
    expect(inner!.isDisposed).toBe(true);
    expectError(() => inner!.data(), /disposed/);
    expectError(() => inner!.mul(2), /disposed/);
    expectError(() => kept.add(inner!), /disposed/);
    expect(Array.from(kept.data())).toEqual([3, 3]);
    kept.dispose();
    expectEngineIntact();
  });

  it('tg.dispose of an array and an object', () => {
    const a = tg.ones([2]);
    const b = tg.ones([2]);
    const c = tg.ones([2]);
    tg.dispose([a, b]);
    tg.dispose({ c });
    for (const t of [a, b, c]) {
      expect(t.isDisposed).toBe(true);
      expectError(() => t.sum(), /disposed/);
    }
    expectEngineIntact();
  });
});

describe('allocation too large', () => {
  it('tg.zeros([1e6, 1e6]) throws a RangeError naming the size in bytes; nothing changes', () => {
    const before = tg.memory();
    const err = thrown(() => tg.zeros([1e6, 1e6]));
    expect(err).toBeInstanceOf(RangeError);
    // 1e12 float32 = 4e12 bytes
    expect(err.message).toMatch(/4000000000000|4,000,000,000,000|4(\.0+)?e\+?12/);
    expect(err.message).toMatch(/bytes/i);
    expect(tg.memory()).toEqual(before);
    expectEngineIntact();
  });

  it('a 2^32-element tensor: 17179869184 bytes', () => {
    const before = tg.memory();
    const err = thrown(() => tg.ones([65536, 65536]));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toMatch(/17179869184|17,179,869,184|1\.7179869184e\+?10/);
    expect(tg.memory()).toEqual(before);
    expectEngineIntact();
  });

  it('an op whose output is too large (matmul [70000,1] @ [1,70000])', () => {
    const a = tg.ones([70000, 1]);
    const b = tg.ones([1, 70000]);
    const before = tg.memory();
    const err = thrown(() => a.matmul(b));
    expect(err).toBeInstanceOf(RangeError);
    // 4.9e9 float32 = 19600000000 bytes
    expect(err.message).toMatch(/19600000000|19,600,000,000|1\.96e\+?10/);
    expect(tg.memory()).toEqual(before);
    tg.dispose([a, b]);
    expectEngineIntact();
  });
});

describe('wrong argument types', () => {
  it("tg.tensor('abc')", () => {
    expectError(() => tg.tensor('abc' as unknown as number), /tensor/, /string|abc/);
    expectError(() => tg.tensor([1, 'a'] as unknown as number[]), /tensor/);
    expectError(() => tg.tensor({} as unknown as number), /tensor/);
    expectEngineIntact();
  });

  it("x.add('1')", () => {
    const x = tg.ones([2]);
    expectError(() => x.add('1' as unknown as number), /add/, /string|'1'|"1"/);
    expectError(() => tg.mul(x, null as unknown as number), /mul/);
    expectError(() => x.sub({} as unknown as number), /sub/);
    expectError(() => x.sum('0' as unknown as number), /sum/);
    expectError(() => tg.zeros(['2'] as unknown as number[]), /zeros/);
    expect(Array.from(x.data())).toEqual([1, 1]);
    x.dispose();
    expectEngineIntact();
  });
});

describe('errors inside tidy', () => {
  it('an error thrown inside tidy propagates, releases the scope, and leaks nothing', () => {
    const before = tg.memory();
    let inner: T | undefined;
    expect(() =>
      tg.tidy(() => {
        inner = tg.ones([3]);
        return tg.zeros([2]).add(tg.zeros([3]));
      }),
    ).toThrow(/add.*\[2\].*\[3\]/s);
    expect(tg.memory().tensors).toBe(before.tensors);
    expect(tg.memory().bytes).toBe(before.bytes);
    expect(inner!.isDisposed).toBe(true);
    // a tensor made afterwards, outside any scope, is not captured by the failed scope
    const after = tg.ones([2]);
    tg.tidy(() => tg.ones([1]));
    expect(after.isDisposed).toBe(false);
    after.dispose();
    expectEngineIntact();
  });
});

// ── issue 8: validation at the façade (rows 2, 3, 16, 19, 20) ──────────────────────────────────
// Every case must throw a plain Error (not a TypeError or RangeError from JavaScript itself) whose
// message starts with the op, and must change nothing (expectEngineIntact, thrown's memory check).

const F = tg.nn.functional;

/** An Error of class Error itself whose message starts with `op:`; and the patterns. */
function expectOpError(fn: () => unknown, op: string, ...patterns: RegExp[]): Error {
  const err = thrown(fn);
  expect(err.constructor, `${op}: ${err.message}`).toBe(Error);
  expect(err.message.startsWith(`${op}:`), err.message).toBe(true);
  for (const p of patterns) expect(err.message).toMatch(p);
  return err;
}

describe('row 2: option values are compared, never looked up on a prototype', () => {
  const protoNames = ['toString', 'constructor', '__proto__', 'valueOf', 'hasOwnProperty', 'isPrototypeOf'];

  it('every loss rejects a reduction named like an Object.prototype member, and neighbours survive', () => {
    const x = tg.tensor([[1, 2, 3], [3, 2, 1]], { requiresGrad: true });
    const p = tg.tensor([0.5, -1, 2]);
    const q = tg.tensor([1, 1, 1]);
    const neighbour = tg.tensor([4, 5, 6]);
    for (const r of protoNames) {
      const reduction = r as 'mean';
      expectOpError(() => F.crossEntropy(x, [0, 2], { reduction }), 'crossEntropy', /reduction/);
      expectOpError(() => F.nllLoss(x, [0, 2], { reduction }), 'nllLoss', /reduction/);
      expectOpError(() => F.mseLoss(p, q, { reduction }), 'mseLoss', /reduction/);
      expectOpError(() => F.binaryCrossEntropyWithLogits(p, q, { reduction }), 'binaryCrossEntropyWithLogits', /reduction/);
    }
    expect(Array.from(neighbour.data())).toEqual([4, 5, 6]);
    expect(x.grad).toBeNull();
    tg.dispose([x, p, q, neighbour]);
    expectEngineIntact();
  });

  it('the valid reductions still give the arithmetic answers', () => {
    tg.tidy(() => {
      const a = tg.tensor([1, 2]), b = tg.tensor([3, 5]); // squared errors 4 and 9
      expect(F.mseLoss(a, b, { reduction: 'sum' }).item()).toBe(13);
      expect(F.mseLoss(a, b, { reduction: 'mean' }).item()).toBe(6.5);
      expect(F.mseLoss(a, b).item()).toBe(6.5);
      expect(Array.from(F.mseLoss(a, b, { reduction: 'none' }).data())).toEqual([4, 9]);
      expect(Array.from(F.mseLoss(a, b, { reduction: undefined }).data())).toEqual([6.5]); // undefined = omitted
      // nllLoss picks -input[i, label]: -(-1) + -(-5) = 6
      const lp = tg.tensor([[-1, -2], [-4, -5]]);
      expect(F.nllLoss(lp, [0, 1], { reduction: 'sum' }).item()).toBe(6);
    });
    expectEngineIntact();
  });

  it('options are own properties of a plain object: inherited ones and "__proto__" keys are refused', () => {
    const a = tg.tensor([1, 2]), b = tg.tensor([3, 5]);
    const inherited = Object.create({ reduction: 'sum' }) as { reduction: 'sum' };
    expectOpError(() => F.mseLoss(a, b, inherited), 'mseLoss', /plain object/);
    const ownProto = JSON.parse('{"__proto__": {"reduction": "sum"}}');
    expectOpError(() => F.mseLoss(a, b, ownProto), 'mseLoss', /unknown option "__proto__"/);
    expectOpError(() => F.mseLoss(a, b, { toString: () => 'sum' } as never), 'mseLoss', /unknown option "toString"/);
    expectOpError(() => F.mseLoss(a, b, { [Symbol('r')]: 'sum' } as never), 'mseLoss', /unknown option Symbol\(r\)/);
    expectOpError(() => tg.gelu(a, { approximate: 'constructor' as 'tanh' }), 'gelu', /approximate/);
    expectOpError(() => new tg.nn.GELU({ approximate: 'valueOf' as 'tanh' }), 'GELU', /approximate/);
    expectOpError(() => new tg.nn.MLP(2, [3], 1, { activation: 'toString' as 'relu' }), 'MLP', /activation/);
    // a null-prototype object is a fine options object
    tg.tidy(() => {
      const o = Object.assign(Object.create(null), { reduction: 'sum' });
      expect(F.mseLoss(a, b, o).item()).toBe(13);
    });
    tg.dispose([a, b]);
    expectEngineIntact();
  });
});

describe('row 3: any nesting depth gives a clear error before anything is written', () => {
  it('8 levels (rank 8 > 7) as a tensor and as an operand', () => {
    const t2 = tg.tensor([4, 5, 6]);
    const deep8 = [[[[[[[[9]]]]]]]];
    expectOpError(() => tg.tensor(deep8 as never), 'tensor', /7/);
    expectOpError(() => t2.add(deep8 as never), 'add', /7/);
    expectOpError(() => tg.add(deep8 as never, t2), 'add', /7/);
    expectOpError(() => tg.matmul(deep8 as never, t2), 'matmul', /7/);
    expect(t2.toArray()).toEqual([4, 5, 6]);
    // 7 levels are fine
    tg.tidy(() => expect(tg.tensor([[[[[[[9]]]]]]]).shape).toEqual([1, 1, 1, 1, 1, 1, 1]));
    t2.dispose();
    expectEngineIntact();
  });

  it('10,000 levels and a cyclic array: an Error, not a stack overflow', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    expectOpError(() => tg.tensor(deep as never), 'tensor', /deeper than 7/);
    const two = tg.ones([2]);
    expectOpError(() => two.mul(deep as never), 'mul');
    two.dispose();
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    expectOpError(() => tg.tensor(cyclic as never), 'tensor');
    // ragged depth below the first element: named where it happens
    expectOpError(() => tg.tensor([[1], [deep]] as never), 'tensor', /\[1\]\[0\]/);
    expectEngineIntact();
  });
});

describe('row 16: options that are not objects are an Error naming the op', () => {
  it('functions', () => {
    const x = tg.ones([1, 1, 4, 4]);
    const w = tg.ones([1, 1, 2, 2]);
    const s = tg.tensor([[1, 2], [3, 4]]);
    const v = tg.tensor([1, 2]);
    const cases: [string, () => unknown][] = [
      ['gelu', () => tg.gelu(s, null as never)],
      ['gelu', () => s.gelu('tanh' as never)],
      ['layerNorm', () => F.layerNorm(s, 'abc' as never)],
      ['layerNorm', () => F.layerNorm(s, null as never)],
      ['maxPool2d', () => F.maxPool2d(x, 2, null as never)],
      ['avgPool2d', () => F.avgPool2d(x, 2, 'abc' as never)],
      ['conv2d', () => F.conv2d(x, w, null, null as never)],
      ['conv2d', () => F.conv2d(x, w, null, [1] as never)],
      ['crossEntropy', () => F.crossEntropy(s, [0, 1], null as never)],
      ['nllLoss', () => F.nllLoss(s, [0, 1], 'sum' as never)],
      ['mseLoss', () => F.mseLoss(v, v, null as never)],
      ['binaryCrossEntropyWithLogits', () => F.binaryCrossEntropyWithLogits(v, v, 5 as never)],
      ['tensor', () => tg.tensor([1, 2], null as never)],
      ['tensor', () => tg.tensor([1, 2], 'abc' as never)],
      ['zeros', () => tg.zeros([2], null as never)],
      ['full', () => tg.full([2], 1, null as never)],
      ['arange', () => tg.arange(3, undefined, 1, null as never)],
      ['gradcheck', () => tg.gradcheck((a) => a.sum(), [v], null as never)],
    ];
    for (const [op, fn] of cases) expectOpError(fn, op);
    tg.dispose([x, w, s, v]);
    expectEngineIntact();
  });

  it('constructors', () => {
    const p = tg.tensor([1, 2], { requiresGrad: true });
    const opt = new tg.optim.SGD([p], { lr: 0.1 });
    const cases: [string, () => unknown][] = [
      ['Linear', () => new tg.nn.Linear(2, 3, null as never)],
      ['MLP', () => new tg.nn.MLP(2, [3], 1, null as never)],
      ['LayerNorm', () => new tg.nn.LayerNorm(3, 'abc' as never)],
      ['Conv2d', () => new tg.nn.Conv2d(1, 1, 3, null as never)],
      ['MaxPool2d', () => new tg.nn.MaxPool2d(2, null as never)],
      ['AvgPool2d', () => new tg.nn.AvgPool2d(2, [] as never)],
      ['GELU', () => new tg.nn.GELU(null as never)],
      ['SGD', () => new tg.optim.SGD([p], null as never)],
      ['SGD', () => new tg.optim.SGD([p], undefined as never)],
      ['Adam', () => new tg.optim.Adam([p], null as never)],
      ['AdamW', () => new tg.optim.AdamW([p], 'abc' as never)],
      ['Adam', () => new tg.optim.Adam([p], { betas: null as never })],
      ['StepLR', () => new tg.optim.StepLR(opt, null as never)],
      ['CosineAnnealingLR', () => new tg.optim.CosineAnnealingLR(opt, 3 as never)],
    ];
    for (const [op, fn] of cases) expectOpError(fn, op);
    opt.dispose();
    p.dispose();
    expectEngineIntact();
  });
});

describe('row 19: integers are integers in range', () => {
  it('conv and pool parameters of 2^31 and more are refused, not wrapped', () => {
    const x = tg.ones([1, 1, 4, 4]);
    const w = tg.ones([1, 1, 2, 2]);
    // 2^32 + 1 would wrap to 1 in an i32
    expectOpError(() => F.conv2d(x, w, null, { stride: 2 ** 32 + 1 }), 'conv2d', /stride/, /out of range/);
    expectOpError(() => F.conv2d(x, w, null, { padding: [0, 2 ** 31] }), 'conv2d', /padding\[1\]/);
    expectOpError(() => F.conv2d(x, w, null, { padding: 2 ** 30 }), 'conv2d', /padding/);
    expectOpError(() => F.maxPool2d(x, 2 ** 32 + 2), 'maxPool2d', /kernelSize/, /out of range/);
    expectOpError(() => F.avgPool2d(x, 2, { stride: 1.5 }), 'avgPool2d', /stride/, /integer/);
    expectOpError(() => new tg.nn.Conv2d(1, 1, [3, 2 ** 31]), 'Conv2d', /kernelSize\[1\]/);
    expectOpError(() => new tg.nn.Linear(2 ** 32 + 2, 1), 'Linear', /inFeatures/);
    expectOpError(() => new tg.nn.Embedding(4, NaN), 'Embedding', /embeddingDim/);
    tg.dispose([x, w]);
    expectEngineIntact();
  });

  it('zeros(shape, undefined) is zeros(shape): an unset options argument is not a size', () => {
    tg.tidy(() => {
      expect(tg.zeros([2, 3], undefined).shape).toEqual([2, 3]);
      expect(tg.ones(2, 3, undefined).shape).toEqual([2, 3]);
      expect(tg.full([2], 4, undefined).toArray()).toEqual([4, 4]);
    });
    expectEngineIntact();
  });

  it('sizes of 2^31 and more are refused even when the tensor would be empty', () => {
    expectOpError(() => tg.zeros([0, 2 ** 32]), 'zeros', /2147483647|4294967296/);
    expectOpError(() => tg.ones(0, 2 ** 31), 'ones');
    expectOpError(() => tg.tensor([], { shape: [0, 2 ** 33] }), 'tensor');
    const e = tg.zeros([0, 3]);
    expectOpError(() => e.reshape([0, 2 ** 32]), 'reshape');
    expectOpError(() => e.expand([2 ** 32, 0, 3]), 'expand');
    e.dispose();
    expectEngineIntact();
  });

  it('narrow, dims and other integer arguments: not an integer vs out of range', () => {
    const x = tg.ones([2, 3]);
    expectOpError(() => x.narrow(1, 0, 2 ** 31), 'narrow', /length/);
    expectOpError(() => x.narrow(1, 0.5, 1), 'narrow', /start/, /integer/);
    expectOpError(() => x.narrow(1, 0, 4), 'narrow', /exceeds/);
    expectOpError(() => x.sum(1.5), 'sum', /must be an integer, got 1.5/);
    expectOpError(() => x.sum(NaN), 'sum', /must be an integer, got NaN/);
    expectOpError(() => x.sum(2), 'sum', /out of range/);
    expectOpError(() => x.softmax(Infinity), 'softmax', /integer/);
    expectOpError(() => x.sum(0, 'yes' as never), 'sum', /keepdim/);
    expectOpError(() => new tg.nn.Flatten(1.5), 'Flatten', /startDim/);
    expectOpError(() => new tg.nn.Sequential(new tg.nn.ReLU()).at(0.5), 'Sequential.at', /integer/);
    expectOpError(() => tg.manualSeed(1.5), 'manualSeed', /seed/);
    x.dispose();
    expectEngineIntact();
  });

  it('index 1.5 and NaN are "not an integer"; integers outside are "out of range"', () => {
    const x = tg.tensor([[1, 2, 3], [4, 5, 6]]);
    expectOpError(() => x.indexSelect(1, [0, 1.5]), 'indexSelect', /1\.5/, /not an integer/);
    expectOpError(() => x.indexSelect(1, [NaN]), 'indexSelect', /NaN/, /not an integer/);
    expectOpError(() => x.indexSelect(1, [3]), 'indexSelect', /out of range/);
    expectOpError(() => x.gather(1, [[0], [2.5]]), 'gather', /2\.5/, /not an integer/);
    expectOpError(() => x.gather(1, [[0], [-1]]), 'gather', /out of range/);
    const idx = tg.tensor([0.5]);
    expectOpError(() => x.indexSelect(0, idx), 'indexSelect', /not an integer/);
    expectOpError(() => F.crossEntropy(x, [0, 1.25]), 'crossEntropy', /not an integer/);
    expectOpError(() => F.nllLoss(x, [0, 3]), 'nllLoss', /out of range/);
    tg.dispose([x, idx]);
    expectEngineIntact();
  });

  it('sum/mean/max/min over dim [] reduce every dim, as PyTorch 1.13 does', () => {
    // torch.tensor([[1., 2.], [3., 4.]]).sum(dim=[]) = 10; keepdim=True gives shape [1, 1]
    tg.tidy(() => {
      const x = tg.tensor([[1, 2], [3, 4]], { requiresGrad: true });
      expect(x.sum([]).shape).toEqual([]);
      expect(x.sum([]).item()).toBe(10);
      expect(x.sum([], true).shape).toEqual([1, 1]);
      expect(x.sum([], true).toArray()).toEqual([[10]]);
      expect(x.mean([]).item()).toBe(2.5);
      expect(x.max([]).item()).toBe(4);
      expect(x.min([]).item()).toBe(1);
      x.sum([]).backward();
      expect(x.grad!.toArray()).toEqual([[1, 1], [1, 1]]);
      expect(tg.tensor(5).sum([]).item()).toBe(5);
    });
    expectEngineIntact();
  });

  it('a 0×0 conv kernel and a mis-shaped layerNorm weight or bias are refused (PyTorch raises too)', () => {
    const x = tg.ones([1, 1, 3, 3]);
    const w0 = tg.zeros([1, 1, 0, 0]);
    const w1 = tg.zeros([1, 1, 2, 0]);
    expectOpError(() => F.conv2d(x, w0), 'conv2d', /kernel/);
    expectOpError(() => F.conv2d(x, w1), 'conv2d', /kernel/);
    const y = tg.ones([2, 3]);
    const w13 = tg.ones([1, 3]); // broadcasts, but PyTorch requires the normalized shape exactly
    const b1 = tg.ones([1]);
    const good = tg.ones([3]);
    expectOpError(() => F.layerNorm(y, [3], w13), 'layerNorm', /weight of shape \[1,3\]/);
    expectOpError(() => F.layerNorm(y, [3], good, b1), 'layerNorm', /bias of shape \[1\]/);
    expectOpError(() => F.layerNorm(y, [1.5]), 'layerNorm', /normalizedShape/);
    expectOpError(() => F.layerNorm(y, [3], good, null, -1), 'layerNorm', /eps/);
    tg.tidy(() => {
      // [1, 2, 3] → mean 2, var 2/3: (x − 2)/√(2/3 + 1e-5)
      const out = F.layerNorm(tg.tensor([[1, 2, 3]]), [3], good).data();
      const s = Math.sqrt(2 / 3 + 1e-5);
      expect(out[0]).toBeCloseTo(-1 / s, 5);
      expect(out[2]).toBeCloseTo(1 / s, 5);
    });
    tg.dispose([x, w0, w1, y, w13, b1, good]);
    expectEngineIntact();
  });
});

describe('row 20: unknown option keys are refused, naming the op, the key and the accepted ones', () => {
  it('Conv2d: a misspelled dilation, and paddingMode (tapegrad pads with zeros only)', () => {
    const before = tg.memory().tensors;
    expectOpError(() => new tg.nn.Conv2d(1, 8, 3, { dialation: 2 } as never), 'Conv2d', /"dialation"/, /stride, padding, dilation, groups, bias/);
    expectOpError(() => new tg.nn.Conv2d(1, 8, 3, { paddingMode: 'reflect' } as never), 'Conv2d', /"paddingMode"/);
    expectOpError(() => new tg.nn.Conv2d(3, 8, 3, { groups: 2 }), 'Conv2d', /inChannels 3 and outChannels 8 must both be divisible by groups 2/);
    expect(tg.memory().tensors).toBe(before); // no parameter was made and left behind
    const x = tg.ones([1, 4, 5, 5]), w = tg.ones([2, 2, 3, 3]), wt = tg.ones([4, 1, 3, 3]);
    expectOpError(() => F.conv2d(x, w, null, { dilation: 3, groups: 2 }), 'conv2d', /too small for kernel 3 dilated 3/);
    expectOpError(() => F.conv2d(x, w, null, { groups: 3 }), 'conv2d', /the 4 input channels of shape \[1,4,5,5\] do not split into groups 3/);
    expectOpError(() => F.conv2d(x, w, null, { groups: 4 }), 'conv2d', /weight of shape \[2,2,3,3\] does not fit input of shape \[1,4,5,5\] \(expected \[O, 1, KH, KW\]/);
    expectOpError(() => F.conv1d(x, w), 'conv1d', /input must be 3-D \[N, C, L\], got shape \[1,4,5,5\]/);
    expectOpError(() => F.convTranspose2d(x, wt, null, { stride: 2, outputPadding: 2 }), 'convTranspose2d', /outputPadding \[2, 2\] must be smaller than either stride \[2, 2\] or dilation \[1, 1\]/);
    expectOpError(() => F.convTranspose2d(x, w), 'convTranspose2d', /weight of shape \[2,2,3,3\] does not fit input of shape \[1,4,5,5\] \(expected \[4, Cout \/ groups, KH, KW\]\)/);
    expectOpError(() => new tg.nn.ConvTranspose2d(4, 6, 3, { outputPading: 1 } as never), 'ConvTranspose2d', /"outputPading"/, /outputPadding/);
    tg.dispose([x, w, wt]);
    expectEngineIntact();
  });

  it('misspelled keys everywhere', () => {
    const p = tg.tensor([1, 2], { requiresGrad: true });
    const x = tg.tensor([[1, 2], [3, 4]]);
    const img = tg.ones([1, 1, 4, 4]);
    const opt = new tg.optim.SGD([p], { lr: 0.1 });
    const cases: [string, string, () => unknown][] = [
      ['tensor', 'requires_grad', () => tg.tensor([1], { requires_grad: true } as never)],
      ['zeros', 'requiresgrad', () => tg.zeros([2], { requiresgrad: true } as never)],
      ['full', 'dtype', () => tg.full([2], 1, { dtype: 'float32' } as never)],
      ['arange', 'requires_grad', () => tg.arange(0, 3, 1, { requires_grad: true } as never)],
      ['gelu', 'approx', () => x.gelu({ approx: 'tanh' } as never)],
      ['crossEntropy', 'labelsmoothing', () => F.crossEntropy(x, [0, 1], { labelsmoothing: 0.1 } as never)],
      ['crossEntropy', 'ignoreIndex', () => F.crossEntropy(x, [0, 1], { ignoreIndex: 1 } as never)],
      ['nllLoss', 'weight', () => F.nllLoss(x, [0, 1], { weight: x } as never)],
      ['mseLoss', 'reduce', () => F.mseLoss(x, x, { reduce: false } as never)],
      ['maxPool2d', 'dilation', () => F.maxPool2d(img, 2, { dilation: 1 } as never)],
      ['avgPool2d', 'ceilMode', () => F.avgPool2d(img, 2, { ceilMode: true } as never)],
      ['Linear', 'Bias', () => new tg.nn.Linear(2, 2, { Bias: false } as never)],
      ['MLP', 'activations', () => new tg.nn.MLP(2, [2], 2, { activations: 'tanh' } as never)],
      ['LayerNorm', 'elementwise_affine', () => new tg.nn.LayerNorm(2, { elementwise_affine: false } as never)],
      ['MaxPool2d', 'strides', () => new tg.nn.MaxPool2d(2, { strides: 1 } as never)],
      ['GELU', 'approx', () => new tg.nn.GELU({ approx: 'tanh' } as never)],
      ['SGD', 'momentun', () => new tg.optim.SGD([p], { lr: 0.1, momentun: 0.9 } as never)],
      ['Adam', 'weight_decay', () => new tg.optim.Adam([p], { weight_decay: 0.1 } as never)],
      ['AdamW', 'amsgrad', () => new tg.optim.AdamW([p], { amsgrad: true } as never)],
      ['StepLR', 'step_size', () => new tg.optim.StepLR(opt, { step_size: 2 } as never)],
      ['CosineAnnealingLR', 'T_max', () => new tg.optim.CosineAnnealingLR(opt, { T_max: 2 } as never)],
      ['gradcheck', 'epsilon', () => tg.gradcheck((a) => a.sum(), [p], { epsilon: 1e-3 } as never)],
    ];
    for (const [op, key, fn] of cases) expectOpError(fn, op, new RegExp(`unknown option "${key}"`), /accepted: /);
    // the behaviour with known keys is unchanged: SGD with momentum moves p by lr·grad on step 1
    tg.tidy(() => {
      const q = tg.tensor([1, 2], { requiresGrad: true });
      const sgd = new tg.optim.SGD([q], { lr: 0.5, momentum: 0.9 });
      q.mul(q).sum().backward(); // grad 2q = [2, 4]
      sgd.step();
      expect(Array.from(q.data())).toEqual([0, 0]);
      sgd.dispose();
    });
    opt.dispose();
    tg.dispose([p, x, img]);
    expectEngineIntact();
  });
});

describe('found by the sentinel harness', () => {
  it('MLP and Sequential forward outside tidy leave nothing once the output is disposed; backward still gives the right gradients', () => {
    tg.manualSeed(3);
    const mlp = new tg.nn.MLP(3, [4], 2, { activation: 'tanh' });
    const xs = [[1, 2, 3], [-1, 0.5, 2]];
    const x = tg.tensor(xs);
    const before = tg.memory().tensors;
    const y = mlp.forward(x);
    const loss = y.sum();
    loss.backward();
    // the same in float64 by hand: h = tanh(x W0ᵀ + b0), L = Σ (h W1ᵀ + b1)
    const [l0, l1] = mlp.layers;
    const W0 = l0.weight.toArray() as number[][], b0 = Array.from(l0.bias!.data());
    const W1 = l1.weight.toArray() as number[][];
    const h = xs.map((row) => W0.map((w, j) => Math.tanh(w.reduce((s, wi, i) => s + wi * row[i], b0[j]))));
    const dh = W0.map((_, j) => W1.reduce((s, w) => s + w[j], 0)); // ∂L/∂h[n][j], the same for every n
    const dpre = h.map((hn) => hn.map((v, j) => dh[j] * (1 - v * v)));
    const gW0 = W0.map((w, j) => w.map((_, i) => dpre.reduce((s, d, n) => s + d[j] * xs[n][i], 0)));
    const gW1 = W1.map((w) => w.map((_, j) => h.reduce((s, hn) => s + hn[j], 0)));
    tg.tidy(() => {
      const got0 = l0.weight.grad!.toArray() as number[][], got1 = l1.weight.grad!.toArray() as number[][];
      gW0.forEach((row, j) => row.forEach((v, i) => expect(got0[j][i]).toBeCloseTo(v, 5)));
      gW1.forEach((row, o) => row.forEach((v, j) => expect(got1[o][j]).toBeCloseTo(v, 5)));
      expect(Array.from(l1.bias!.grad!.data())).toEqual([2, 2]);
    });
    // the graph keeps the intermediates it needs while y lives; they go with it
    tg.dispose([y, loss]);
    expect(tg.memory().tensors).toBe(before + 3); // + the three .grad views read above, owned by their parameters
    const seq = new tg.nn.Sequential(new tg.nn.Linear(3, 2), new tg.nn.ReLU(), new tg.nn.Identity());
    const n = tg.memory().tensors;
    seq.forward(x).dispose();
    const z = tg.noGrad(() => seq.forward(x)); // nothing records: only z is alive
    expect(tg.memory().tensors).toBe(n + 1);
    z.dispose();
    // an activation a layer keep()s for later is not released (tidy() spares it too)
    class Remember extends tg.nn.Module {
      _last: T | null = null; // private (underscore): not a parameter
      forward(t: T): T { this._last = tg.keep(t.mul(2)); return this._last; }
    }
    const remember = new Remember();
    const seq2 = new tg.nn.Sequential(remember, new tg.nn.ReLU());
    seq2.forward(x).dispose();
    expect(remember._last!.isDisposed).toBe(false);
    expect(remember._last!.toArray()).toEqual([[2, 4, 6], [-2, 1, 4]]);
    remember._last!.dispose();
    expect(tg.memory().tensors).toBe(n);
    expect(tg.memory().tensors).toBe(n);
    tg.dispose(x);
    mlp.dispose();
    seq.dispose();
    expectEngineIntact();
  });

  it('activation layers and functional ops accept arrays and numbers, and release what they made', () => {
    const before = tg.memory().tensors;
    const outs = [
      new tg.nn.ReLU().forward([-1, 2] as never), new tg.nn.Tanh().forward(0 as never),
      new tg.nn.Sigmoid().forward([0] as never), new tg.nn.LeakyReLU(0.5).forward([-2] as never),
      new tg.nn.Flatten(0).forward([[1, 2]] as never), tg.sum([1, 2, 3]), tg.reshape([[1, 2]], [2]),
      tg.detach([4]), F.mseLoss([1, 2], [3, 5], { reduction: 'sum' }),
    ];
    expect(outs.map((t) => Array.from(t.data()))).toEqual([[0, 2], [0], [0.5], [-1], [1, 2], [6], [1, 2], [4], [13]]);
    // Flatten and reshape return views: the tensors made from their arrays live on as the views' bases
    expect(tg.memory().tensors).toBe(before + outs.length + 2);
    tg.dispose(outs);
    expect(tg.memory().tensors).toBe(before);
    expectEngineIntact();
  });

  it('a bias that does not fit is a linear error; Optimizer is abstract', () => {
    const x = tg.ones([3, 3]), w = tg.ones([2, 3]), b5 = tg.ones([5]), p = tg.ones([2], { requiresGrad: true });
    expectOpError(() => F.linear(x, w, b5), 'linear', /bias of shape \[5\]/);
    expectOpError(() => new (tg.optim.Optimizer as unknown as new (...a: unknown[]) => unknown)([p], 0.1, 'X'), 'Optimizer');
    expectOpError(() => new tg.optim.StepLR({} as never, { stepSize: 1 }), 'StepLR');
    tg.dispose([x, w, b5, p]);
    expectEngineIntact();
  });
});

describe('labels are called labels, whichever path checks them', () => {
  it('plain arrays (checked in JS) and tensors (checked by the kernel) give the same words', () => {
    const logits = tg.tensor([[1, 2, 3], [3, 2, 1]]);
    const message = (labels: number[] | InstanceType<typeof tg.Tensor>) => {
      try {
        tg.nn.functional.crossEntropy(logits, labels);
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(message([0, 3])).toBe('crossEntropy: label 3 at position 1 is out of range [0, 3)');
    expect(message(tg.tensor([0, 3]))).toBe('crossEntropy: label 3 at position 1 is out of range [0, 3)');
    expect(message([0.5, 1])).toBe('crossEntropy: label 0.5 at position 0 is not an integer');
    expect(message(tg.tensor([0.5, 1]))).toBe('crossEntropy: label 0.5 at position 0 is not an integer');
  });
});
