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
