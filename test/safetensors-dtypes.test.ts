// tg.load of the integer and bool dtypes (issue 8 row 21): each becomes float32 when float32
// holds its value exactly, and is an error naming the tensor, the index and the value otherwise.
// The oracles: files written from PyTorch / numpy tensors' own bytes with their values in JSON
// (scripts/gen_safetensors_int_fixtures.py), including a real BatchNorm state dict with its int64
// num_batches_tracked; and bytes written here with DataView, whose exactness is decided by BigInt
// arithmetic on the float32 spacing, not by the loader's test.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { expectClose } from './helpers.js';

type Tensor = InstanceType<typeof tg.Tensor>;
interface Expected { dtype: string; shape: number[]; data: number[] }
interface FileFixture { file: string; keys: string[]; tensors: Record<string, Expected> }

const fixtures = JSON.parse(readFileSync(new URL('./fixtures/st_ints.json', import.meta.url), 'utf8')) as {
  batchnorm: FileFixture & { eps: number; input: { shape: number[]; data: number[] }; out: { shape: number[]; data: number[] } };
  ints: FileFixture;
};
const readFixture = (name: string): Buffer => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));

/** A file from entries [name, dtype, shape, bytes] laid out in order. */
function makeFile(entries: [string, string, number[], Uint8Array][]): Uint8Array {
  let offset = 0;
  const header: Record<string, unknown> = {};
  for (const [name, dtype, shape, bytes] of entries) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
  }
  const text = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  let at = 8 + text.length;
  for (const [, , , bytes] of entries) { out.set(bytes, at); at += bytes.length; }
  return out;
}

const SETTERS: Record<string, [number, (v: DataView, at: number, x: bigint) => void]> = {
  I8: [1, (v, at, x) => v.setInt8(at, Number(x))],
  U8: [1, (v, at, x) => v.setUint8(at, Number(x))],
  BOOL: [1, (v, at, x) => v.setUint8(at, Number(x))],
  I16: [2, (v, at, x) => v.setInt16(at, Number(x), true)],
  U16: [2, (v, at, x) => v.setUint16(at, Number(x), true)],
  I32: [4, (v, at, x) => v.setInt32(at, Number(x), true)],
  U32: [4, (v, at, x) => v.setUint32(at, Number(x), true)],
  I64: [8, (v, at, x) => v.setBigInt64(at, x, true)],
  U64: [8, (v, at, x) => v.setBigUint64(at, x, true)],
};
function intBytes(dtype: string, values: bigint[]): Uint8Array {
  const [size, set] = SETTERS[dtype];
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  values.forEach((x, i) => set(view, i * size, x));
  return out;
}

/**
 * Whether float32 holds the integer x exactly, by its spacing: below 2^24 every integer; in
 * [2^k, 2^(k+1)) with k ≥ 24, multiples of 2^(k-23).
 */
function exactInFloat32(x: bigint): boolean {
  const a = x < 0n ? -x : x;
  if (a <= 1n << 24n) return true;
  const k = a.toString(2).length - 1;
  return a % (1n << BigInt(k - 23)) === 0n;
}

describe('integer and bool dtypes written by PyTorch / numpy', () => {
  it('st_ints.safetensors: I8 I16 I32 I64 U8 U16 U32 U64 BOOL, their exact extremes, 0-d and empty', () => {
    const f = fixtures.ints;
    tg.tidy(() => {
      const sd = tg.load(readFixture(f.file));
      expect(Object.keys(sd)).toEqual(f.keys);
      const dtypes = new Set(Object.values(f.tensors).map((e) => e.dtype));
      expect([...dtypes].sort()).toEqual(['BOOL', 'I16', 'I32', 'I64', 'I8', 'U16', 'U32', 'U64', 'U8']);
      for (const [name, want] of Object.entries(f.tensors)) {
        expect(sd[name].shape, name).toEqual(want.shape);
        expect(Array.from(sd[name].data()), `${name} (${want.dtype})`).toEqual(want.data.map(Number));
      }
      // the extremes, spelled out (each a float32 exactly)
      expect(Array.from(sd.i64.data())).toContain(-(2 ** 63));
      expect(Array.from(sd.u64.data())).toContain(2 ** 64 - 2 ** 40);
      expect(Array.from(sd.i32.data())).toContain(2 ** 31 - 128);
      expect(sd.bool.toArray()).toEqual([[1, 0, 0], [0, 1, 1]]);
      expect(sd.i32_scalar.item()).toBe(-42);
    });
  });

  it("st_batchnorm.safetensors: PyTorch's BatchNorm1d state dict with its int64 num_batches_tracked", () => {
    const f = fixtures.batchnorm;
    tg.tidy(() => {
      const sd = tg.load(readFixture(f.file));
      expect(Object.keys(sd)).toEqual(f.keys);
      expect(f.tensors['1.num_batches_tracked'].dtype).toBe('I64');
      expect(sd['1.num_batches_tracked'].shape).toEqual([]);
      expect(sd['1.num_batches_tracked'].item()).toBe(3);
      for (const [name, want] of Object.entries(f.tensors)) {
        expect(sd[name].shape, name).toEqual(want.shape);
        expect(Array.from(sd[name].data()), name).toEqual(want.data); // float32 values, exact
      }
      // the loaded statistics give PyTorch's eval-mode output: (xWᵀ + b − mean) / √(var + eps) · γ + β
      const x = tg.tensor(f.input.data, { shape: f.input.shape });
      const h = x.matmul(sd['0.weight'].transpose(0, 1)).add(sd['0.bias']);
      const y = h.sub(sd['1.running_mean']).div(sd['1.running_var'].add(f.eps).sqrt()).mul(sd['1.weight']).add(sd['1.bias']);
      expect(y.shape).toEqual(f.out.shape);
      expectClose(y.data(), f.out.data, 1e-5, 1e-6, 'BatchNorm eval output', f.out.shape);
    });
  });

  it('the Linear part loads into tg.nn, the BatchNorm entries are reported unexpected (strict: false)', () => {
    const model = new tg.nn.Sequential(new tg.nn.Linear(3, 4));
    try {
      const result = tg.tidy(() => model.loadStateDict(tg.load(readFixture(fixtures.batchnorm.file)), { strict: false }));
      expect(result).toEqual({
        missingKeys: [],
        unexpectedKeys: ['1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked'],
      });
      expect(Array.from(model.stateDict()['0.weight'].data())).toEqual(fixtures.batchnorm.tensors['0.weight'].data);
    } finally {
      model.dispose();
    }
  });
});

describe('integer values that float32 cannot hold are errors naming the tensor, index and value', () => {
  const cases: [string, bigint[], number][] = [
    ['I64', [0n, (1n << 53n) + 1n], 1], // 9007199254740993: rounds to 2^53 in float64 already
    ['I64', [-(1n << 63n) + 1n], 0],
    ['I64', [(1n << 24n) + 1n], 0],
    ['I64', [(1n << 62n) + (1n << 38n)], 0], // half the spacing at 2^62
    ['I64', [(1n << 53n) + (1n << 30n), (1n << 53n) + (1n << 29n)], 1], // the spacing at 2^53 is 2^30
    ['I64', [(1n << 62n) + (1n << 30n)], 0],
    ['I64', [-((1n << 53n) + 1n)], 0],
    ['U64', [(1n << 63n) + (1n << 39n)], 0], // the spacing at 2^63 is 2^40
    ['U64', [(1n << 64n) - 1n], 0],
    ['U64', [5n, 7n, (1n << 63n) + 1n], 2],
    ['I32', [16777216n, 16777217n], 1],
    ['I32', [(1n << 31n) - 1n], 0],
    ['U32', [(1n << 32n) - 1n], 0],
    ['U32', [0n, 33554433n], 1],
  ];
  for (const [dtype, values, index] of cases) {
    it(`${dtype} ${values[index]}`, () => {
      expect(exactInFloat32(values[index])).toBe(false);
      values.slice(0, index).forEach((v) => expect(exactInFloat32(v)).toBe(true));
      const before = tg.memory().tensors;
      const bytes = makeFile([
        ['ok', 'F32', [2], new Uint8Array(Float32Array.from([1, 2]).buffer)],
        ['bad', dtype, [values.length], intBytes(dtype, values)],
      ]);
      expect(() => tg.load(bytes)).toThrow(`load: "bad": ${dtype} value ${values[index]} at index ${index} is not exactly representable in float32`);
      expect(tg.memory().tensors).toBe(before); // "ok" was not created either
    });
  }

  it('BOOL bytes other than 0 and 1', () => {
    const before = tg.memory().tensors;
    expect(() => tg.load(makeFile([['mask', 'BOOL', [3], new Uint8Array([1, 0, 2])]]))).toThrow('load: "mask": BOOL value 2 at index 2 is not a bool (a byte 0 or 1)');
    expect(tg.memory().tensors).toBe(before);
  });

  it('every exactly representable extreme loads, checked against the spacing rule', () => {
    const exact: [string, bigint[]][] = [
      ['I64', [-(1n << 63n), (1n << 63n) - (1n << 39n), (1n << 60n), (1n << 53n) + (1n << 30n), -((1n << 24n) + 2n), 0n]],
      ['U64', [(1n << 64n) - (1n << 40n), 1n << 63n, (1n << 24n) + 4n]],
      ['I32', [-(1n << 31n), (1n << 31n) - 128n, 16777218n]],
      ['U32', [(1n << 32n) - 256n, 1n << 31n]],
      ['I16', [-32768n, 32767n]], ['U16', [65535n]], ['I8', [-128n, 127n]], ['U8', [255n, 0n]],
    ];
    tg.tidy(() => {
      for (const [dtype, values] of exact) {
        values.forEach((v) => expect(exactInFloat32(v), `${v}`).toBe(true));
        const sd = tg.load(makeFile([['t', dtype, [values.length], intBytes(dtype, values)]]));
        expect(Array.from(sd.t.data()).map((v) => BigInt(v)), dtype).toEqual(values);
      }
    });
  });

  it('random integers of every width agree with the spacing rule (load succeeds exactly when it holds)', () => {
    let s = 0x9e3779b97f4a7c15n;
    const next = (): bigint => { s = (s * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n); return s; };
    const widths: [string, bigint, bigint][] = [['I32', -(1n << 31n), 1n << 32n], ['U32', 0n, 1n << 32n], ['I64', -(1n << 63n), 1n << 64n], ['U64', 0n, 1n << 64n]];
    let accepted = 0, rejected = 0;
    for (let i = 0; i < 2000; i++) {
      const [dtype, lo, span] = widths[i % 4];
      // a random magnitude class, then a random value in it, sometimes rounded to the spacing
      const bits = BigInt(Number(next() % (span === 1n << 32n ? 32n : 64n)));
      let v = lo < 0n && (next() & 1n) ? -(next() % (1n << bits)) : next() % (1n << bits);
      if (next() % 2n === 0n && bits > 24n) v -= v % (1n << (bits - 24n));
      if (v < lo || v >= lo + span) continue;
      const bytes = makeFile([['v', dtype, [], intBytes(dtype, [v])]]);
      if (exactInFloat32(v)) {
        accepted++;
        tg.tidy(() => expect(BigInt(tg.load(bytes).v.item()), `${dtype} ${v}`).toBe(v));
      } else {
        rejected++;
        expect(() => tg.load(bytes), `${dtype} ${v}`).toThrow(`load: "v": ${dtype} value ${v} at index 0 is not exactly representable in float32`);
      }
    }
    expect(accepted).toBeGreaterThan(300);
    expect(rejected).toBeGreaterThan(300);
  });
});
