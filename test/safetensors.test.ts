// tg.save / tg.load (safetensors). Files written by PyTorch (scripts/gen_nn_fixtures.py, with a
// pure-Python writer) are loaded into tapegrad models whose outputs must match PyTorch's; files
// written by tg.save are checked byte by byte with an independent parser here, and are also left
// in test-artifacts/ for scripts/check_safetensors.py, which reads them with torch.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { expectClose } from './helpers.js';

type Tensor = InstanceType<typeof tg.Tensor>;
type Module = InstanceType<typeof tg.nn.Module>;

interface Data { shape: number[]; data: number[] }
interface Spec { module: string; args: unknown[]; kwargs: Record<string, unknown>; children?: Spec[] }
interface ModelFixture { file: string; spec: Spec; keys: string[]; metadata?: Record<string, string>; input: Data; out: Data }

const fixture = JSON.parse(readFileSync(new URL('./fixtures/nn_safetensors.json', import.meta.url), 'utf8')) as {
  mlp: ModelFixture;
  cnn: ModelFixture;
  dtypes: { file: string; tensors: Record<string, Data & { dtype: string }> };
};
const readFixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`./fixtures/${name}`, import.meta.url)));

const RTOL = 1e-4;
const ATOL = 1e-5;

function buildModule(spec: Spec): Module {
  const nn = tg.nn as unknown as Record<string, new (...a: unknown[]) => Module>;
  if (spec.module === 'Sequential') return new tg.nn.Sequential(...(spec.children ?? []).map(buildModule));
  const args = Object.keys(spec.kwargs ?? {}).length > 0 ? [...spec.args, spec.kwargs] : spec.args;
  return new nn[spec.module](...args);
}

const toTensor = (d: Data): Tensor => tg.tensor(d.data, { shape: d.shape });

// ----------------------------------------------------------------------------- an independent reader

interface Parsed {
  headerLength: number;
  headerText: string;
  header: Record<string, any>;
  data: Uint8Array;
}

/** Parses the format from its description, without tapegrad: used to check tg.save's bytes. */
function parse(bytes: Uint8Array): Parsed {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  return { headerLength: n, headerText, header: JSON.parse(headerText), data: bytes.subarray(8 + n) };
}

function floatsAt(p: Parsed, name: string): Float32Array {
  const [begin, end] = p.header[name].data_offsets as number[];
  const view = new DataView(p.data.buffer, p.data.byteOffset + begin, end - begin);
  return Float32Array.from({ length: (end - begin) / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

/** A file from a header (object, or raw text) and data bytes, padded like the format asks. */
function makeFile(header: unknown, data: Uint8Array = new Uint8Array(0), pad = true): Uint8Array {
  let text = typeof header === 'string' ? header : JSON.stringify(header);
  if (pad) text += ' '.repeat((8 - (text.length % 8)) % 8);
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const f32Bytes = (values: number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);

// ----------------------------------------------------------------------------- files from PyTorch

describe('loading files written by PyTorch', () => {
  for (const key of ['mlp', 'cnn'] as const) {
    const f = fixture[key];
    it(`${f.file}: the loaded weights give PyTorch's outputs`, () => {
      const model = buildModule(f.spec);
      try {
        tg.tidy(() => {
          const sd = tg.load(readFixture(f.file));
          expect(Object.keys(sd).sort()).toEqual([...f.keys].sort());
          expect(Object.keys(model.stateDict())).toEqual(f.keys);
          model.loadStateDict(sd);
          model.eval();
          const out = model.forward(toTensor(f.input));
          expect(out.shape).toEqual(f.out.shape);
          expectClose(out.data(), f.out.data, RTOL, ATOL, `${f.file}: output`, f.out.shape);
        });
      } finally {
        model.dispose();
      }
    });
  }

  it('nn_mlp.safetensors: metadata', () => {
    expect(tg.loadMetadata(readFixture(fixture.mlp.file))).toEqual(fixture.mlp.metadata);
    expect(tg.loadMetadata(readFixture(fixture.cnn.file))).toEqual({});
  });

  it('nn_dtypes.safetensors: F32, F16, BF16 and F64 become float32; 0-d and empty tensors', () => {
    tg.tidy(() => {
      const bytes = readFixture(fixture.dtypes.file);
      const sd = tg.load(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
      expect(Object.keys(sd).sort()).toEqual(Object.keys(fixture.dtypes.tensors).sort());
      for (const [name, want] of Object.entries(fixture.dtypes.tensors)) {
        expect(sd[name].shape, name).toEqual(want.shape);
        expectClose(sd[name].data(), want.data, 1e-6, 1e-30, `${name} (${want.dtype})`, want.shape);
      }
      expect(sd.scalar.item()).toBe(2.5);
      expect(Object.is(sd.f16_specials.data()[1], -0)).toBe(true);
      expect(tg.loadMetadata(bytes)).toEqual({ note: 'mixed dtypes' });
    });
  });
});

// ----------------------------------------------------------------------------- tg.save

describe('tg.save writes the format', () => {
  it('header length, padding, sorted keys, F32 dtype, contiguous offsets, little-endian data', () => {
    tg.tidy(() => {
      const sd: Record<string, Tensor> = {
        'b.weight': tg.tensor([[1.5, -2], [3, 4.25]]),
        a: tg.tensor([0.1, 0.2, 0.3]),
        '10': tg.tensor(7),
        '2': tg.zeros([0, 3]),
        'layers.0.bias': tg.arange(5),
      };
      const bytes = tg.save(sd, { format: 'pt', note: 'héllo "quoted"' });
      expect(bytes).toBeInstanceOf(Uint8Array);
      const p = parse(bytes);
      expect(p.headerLength % 8).toBe(0);
      expect(p.headerText.trimEnd().length).toBeGreaterThan(p.headerLength - 8);
      expect(/^ *$/.test(p.headerText.slice(p.headerText.trimEnd().length))).toBe(true);
      // keys in the text: __metadata__ first, then names sorted (not JS's integer-first order)
      const keys = [...p.headerText.matchAll(/"([^"]+)":\{"dtype"/g)].map((m) => m[1]);
      expect(keys).toEqual(['10', '2', 'a', 'b.weight', 'layers.0.bias']);
      expect(p.headerText.startsWith('{"__metadata__":')).toBe(true);
      expect(p.header.__metadata__).toEqual({ format: 'pt', note: 'héllo "quoted"' });
      let offset = 0;
      for (const k of keys) {
        const e = p.header[k];
        expect(e.dtype).toBe('F32');
        expect(e.shape).toEqual(sd[k].shape);
        expect(e.data_offsets).toEqual([offset, offset + sd[k].size * 4]);
        offset += sd[k].size * 4;
        expect(Array.from(floatsAt(p, k))).toEqual(Array.from(sd[k].data()));
      }
      expect(p.data.length).toBe(offset);
      expect(p.header['10'].shape).toEqual([]);
    });
  });

  it('round-trips through tg.load bit for bit, special values included', () => {
    tg.tidy(() => {
      const special = [0, -0, 1e-40, -3.4028234663852886e38, Infinity, -Infinity, NaN, Math.fround(Math.PI)];
      const sd: Record<string, Tensor> = {
        special: tg.tensor(special),
        cube: tg.randn([2, 3, 4]),
        scalar: tg.tensor(-1.25),
        empty: tg.zeros([3, 0]),
      };
      const back = tg.load(tg.save(sd));
      expect(Object.keys(back).sort()).toEqual(Object.keys(sd).sort());
      for (const [k, t] of Object.entries(sd)) {
        expect(back[k].shape).toEqual(t.shape);
        expect(Array.from(new Uint32Array(back[k].data().buffer))).toEqual(Array.from(new Uint32Array(t.data().buffer)));
      }
    });
  });

  it("a model's stateDict round-trips into a fresh model", () => {
    tg.manualSeed(11);
    const a = new tg.nn.Sequential(new tg.nn.Conv2d(1, 2, 3), new tg.nn.Flatten(), new tg.nn.Linear(8, 2), new tg.nn.LayerNorm(2));
    const b = new tg.nn.Sequential(new tg.nn.Conv2d(1, 2, 3), new tg.nn.Flatten(), new tg.nn.Linear(8, 2), new tg.nn.LayerNorm(2));
    try {
      const before = tg.memory().tensors;
      tg.tidy(() => b.loadStateDict(tg.load(tg.save(a.stateDict()))));
      expect(tg.memory().tensors).toBe(before); // the loaded tensors were released by tidy
      tg.tidy(() => {
        const x = tg.randn([2, 1, 4, 4]);
        expect(Array.from(b.forward(x).data())).toEqual(Array.from(a.forward(x).data()));
      });
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('writes test-artifacts/ for scripts/check_safetensors.py (PyTorch reads them back)', () => {
    const dir = new URL('../test-artifacts/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    tg.manualSeed(2024);
    const model = new tg.nn.MLP(4, [8, 6], 3, { activation: 'tanh' });
    try {
      tg.tidy(() => {
        const x = tg.randn([5, 4]);
        const out = model.forward(x);
        const misc: Record<string, Tensor> = {
          scalar: tg.tensor(3.5),
          empty: tg.zeros([0, 4]),
          cube: tg.arange(24).reshape([2, 3, 4]).mul(0.5).sub(3),
          specials: tg.tensor([0, -0, 1e-40, 3.4028234663852886e38, -1.5]),
        };
        const metadata = { format: 'pt', producer: 'tapegrad test/safetensors.test.ts' };
        const modelBytes = tg.save(model.stateDict(), metadata);
        const miscBytes = tg.save(misc);
        writeFileSync(new URL('tapegrad_mlp.safetensors', dir), modelBytes);
        writeFileSync(new URL('tapegrad_misc.safetensors', dir), miscBytes);
        const json = (t: Tensor) => ({ shape: t.shape, data: Array.from(t.data()) });
        writeFileSync(new URL('tapegrad_expected.json', dir), JSON.stringify({
          model: { file: 'tapegrad_mlp.safetensors', inFeatures: 4, hidden: [8, 6], outFeatures: 3, activation: 'tanh', metadata,
            keys: Object.keys(model.stateDict()), input: json(x), output: json(out) },
          // bits: the float32 bit patterns (JSON has no -0)
          misc: { file: 'tapegrad_misc.safetensors', tensors: Object.fromEntries(Object.entries(misc).map(([k, t]) => [k, { ...json(t), bits: Array.from(new Uint32Array(t.data().buffer)) }])) },
        }));
        // what the Python check will see, checked here too (CI has no Python)
        expect(Object.keys(parse(modelBytes).header).sort()).toEqual(['__metadata__', ...Object.keys(model.stateDict())].sort());
        expect(Array.from(floatsAt(parse(miscBytes), 'cube'))).toEqual(Array.from(misc.cube.data()));
      });
    } finally {
      model.dispose();
    }
  });

  it('save: clear errors', () => {
    tg.tidy(() => {
      const t = tg.zeros([2]);
      expect(() => tg.save({ a: t, b: [1, 2] as unknown as Tensor })).toThrow('save: "b" must be a Tensor, got an array');
      expect(() => tg.save({ __metadata__: t })).toThrow(/reserved for metadata/);
      expect(() => tg.save({ a: t }, { n: 3 as unknown as string })).toThrow('save: metadata value for "n" must be a string, got number');
      expect(() => tg.save(t as unknown as Record<string, Tensor>)).toThrow(/expected an object from names to tensors/);
      const gone = tg.zeros([1]);
      gone.dispose();
      expect(() => tg.save({ gone })).toThrow('save: "gone" was disposed');
    });
  });
});

// ----------------------------------------------------------------------------- load errors

describe('tg.load: clear errors for bad files', () => {
  const good = (): Uint8Array => makeFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32Bytes([1, 2]));

  const cases: [string, () => Uint8Array | ArrayBuffer, RegExp | string][] = [
    ['shorter than the length field', () => new Uint8Array([1, 0, 0]), 'load: truncated file: 3 bytes, but a safetensors file starts with an 8-byte header length'],
    ['header longer than the file', () => good().subarray(0, 20), /load: truncated file: the header is \d+ bytes but only 12 follow the length field/],
    ['data cut short', () => good().subarray(0, good().length - 4), 'load: "w": data_offsets [0, 8] are outside the buffer (the data section has 4 bytes; truncated file?)'],
    ['absurd header length', () => { const b = good(); new DataView(b.buffer).setUint32(4, 1, true); return b; }, /header length \d+ is larger than the limit/],
    ['header that is not JSON', () => makeFile('{"w": {dtype: F32}'), /load: the header is not valid UTF-8 JSON/],
    ['header that is not UTF-8', () => { const b = makeFile('{"a":1}'); b[9] = 0xff; return b; }, /not valid UTF-8 JSON/],
    ['header that is an array', () => makeFile([1, 2]), 'load: the header must be a JSON object, got an array'],
    ['an entry that is not an object', () => makeFile({ w: 3 }), 'load: "w": expected {dtype, shape, data_offsets}, got number'],
    ['unsupported dtype', () => makeFile({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), 'load: "ids": unsupported dtype I64 (tapegrad reads F32, F16, BF16, F64, converting to float32)'],
    ['negative size in shape', () => makeFile({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /"w": shape must be an array of integers ≥ 0, got \[-1\]/],
    ['offsets that end before they begin', () => makeFile({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, new Uint8Array(8)), 'load: "w": data_offsets [8, 4] end before they begin'],
    ['offsets that are not a pair', () => makeFile({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, new Uint8Array(4)), /"w": data_offsets must be \[begin, end\]/],
    ['offsets outside the buffer', () => makeFile({ w: { dtype: 'F32', shape: [4], data_offsets: [8, 24] } }, new Uint8Array(16)), 'load: "w": data_offsets [8, 24] are outside the buffer (the data section has 16 bytes; truncated file?)'],
    ['overlapping offsets', () => makeFile({
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    }, new Uint8Array(12)), 'load: "a" [0, 8] and "b" [4, 12] have overlapping data_offsets'],
    ['shape and offsets that disagree', () => makeFile({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 8] } }, new Uint8Array(8)), 'load: "w": shape [2,2] of F32 needs 16 bytes but data_offsets [0, 8] hold 8'],
    ['F16 shape and offsets that disagree', () => makeFile({ h: { dtype: 'F16', shape: [3], data_offsets: [0, 4] } }, new Uint8Array(4)), 'load: "h": shape [3] of F16 needs 6 bytes but data_offsets [0, 4] hold 4'],
    ['metadata that is not strings', () => makeFile({ __metadata__: { epoch: 3 } }), 'load: "__metadata__" must be an object from strings to strings'],
    ['not bytes at all', () => 'weights.safetensors' as unknown as Uint8Array, 'load: expected the file\'s bytes as a Uint8Array or ArrayBuffer, got string'],
  ];

  for (const [label, make, message] of cases) {
    it(label, () => {
      const before = tg.memory().tensors;
      expect(() => tg.load(make())).toThrow(message);
      expect(tg.memory().tensors).toBe(before); // nothing leaked
    });
  }

  it('accepts the valid file these errors were made from, unpadded headers, gaps and empty files', () => {
    tg.tidy(() => {
      expect(tg.load(good()).w.toArray()).toEqual([1, 2]);
      const unpadded = makeFile({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32Bytes([5]), false);
      expect(tg.load(unpadded).w.toArray()).toEqual([5]);
      const gap = makeFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32Bytes([9, 6]));
      expect(tg.load(gap).a.toArray()).toEqual([6]);
      expect(tg.load(makeFile({}))).toEqual({});
      expect(tg.load(tg.save({}))).toEqual({});
    });
  });
});
