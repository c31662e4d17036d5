// tg.save / tg.load (safetensors). Files written by PyTorch (scripts/gen_nn_fixtures.py, with a
// pure-Python writer) are loaded into tapegrad models whose outputs must match PyTorch's; files
// written by tg.save are checked byte by byte with an independent parser here, and are also left
// in test-artifacts/ for scripts/check_safetensors.py, which reads them with torch.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { expectClose, safetensorsFile, thrown } from './helpers.js';

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
const makeFile = (header: unknown, data: Uint8Array = new Uint8Array(0), pad = true): Uint8Array =>
  safetensorsFile(typeof header === 'string' ? header : JSON.stringify(header), data, pad);

const f32Bytes = (values: number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);

/** The error `fn` throws (fails the test when it returns). */

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
      expect(() => tg.save({ a: t, b: [1, 2] as unknown as Tensor })).toThrow('save: "b" must be a Tensor, got [1,2]');
      expect(() => tg.save({ __metadata__: t })).toThrow(/reserved for metadata/);
      expect(() => tg.save({ a: t }, { n: 3 as unknown as string })).toThrow('save: metadata value for "n" must be a string, got 3');
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
    ['header that is not JSON', () => makeFile('{"w": {dtype: F32}'), 'load: the header is not valid JSON: expected a key (a string) but found character "d" at character 7'],
    ['header that is not UTF-8', () => { const b = makeFile('{"a":1}'); b[9] = 0xff; return b; }, 'load: the header is not valid UTF-8'],
    ['header that is an array', () => makeFile([1, 2]), 'load: the header must be a JSON object, got an array'],
    ['an entry that is not an object', () => makeFile({ w: 3 }), 'load: "w": expected {dtype, shape, data_offsets}, got the number 3'],
    ['unsupported dtype', () => makeFile({ z: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), 'load: "z": dtype C64 is not supported (tapegrad reads F32, F16, BF16, F64, I8, I16, I32, I64, U8, U16, U32, U64, BOOL, converting to float32)'],
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
    ['metadata that is not strings', () => makeFile({ __metadata__: { epoch: 3 } }), 'load: "__metadata__" must be an object from strings to strings, but "epoch" is the number 3'],
    ['not bytes at all', () => 'weights.safetensors' as unknown as Uint8Array, 'load: expected the file\'s bytes as a Uint8Array (a Node Buffer included), another ArrayBufferView or an ArrayBuffer, got the string "weights.safetensors"'],

    // what the reference implementation (safetensors/src/tensor.rs) also rejects
    ['header length above 100 MB', () => { const b = good(); new DataView(b.buffer).setUint32(0, 100_000_001, true); return b; }, 'load: header length 100000001 is larger than the limit of 100000000 bytes (not a safetensors file?)'],
    ['header length with the high word set', () => { const b = good(); new DataView(b.buffer).setUint32(4, 0x80000000, true); return b; }, /^load: header length 9223372036854775\d+ is larger than the limit/],
    ['header length one past the file', () => { const b = good(); const v = new DataView(b.buffer); v.setUint32(0, b.length - 7, true); return b; }, /^load: truncated file: the header is \d+ bytes but only \d+ follow the length field$/],
    ['an empty header', () => makeFile('', new Uint8Array(0), false), 'load: the header is not valid JSON: unexpected end of the header at character 0'],
    ['a header of spaces', () => makeFile('        '), 'load: the header is not valid JSON: unexpected end of the header at character 8'],
    ['text after the JSON object', () => makeFile('{} {}'), 'load: the header is not valid JSON: unexpected character "{" after the end of the JSON value at character 3'],
    ['a byte-order mark before the JSON', () => makeFile('\ufeff{}'), 'load: the header is not valid JSON: unexpected character "\ufeff" at character 0'],
    ['a raw control character in a name', () => makeFile('{"a\u0001":{}}'), 'load: the header is not valid JSON: control character U+0001 in a string (it must be escaped) at character 3'],
    ['an unpaired surrogate escape in a name', () => makeFile('{"\\ud800x":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}'), 'load: the header is not valid JSON: unpaired surrogate escape at character 8'],
    ['a header nested 200 deep (no stack overflow)', () => makeFile(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[0,0],"x":${'['.repeat(200)}${']'.repeat(200)}}}`), /^load: the header is not valid JSON: nested deeper than 128 levels at character \d+$/],
    ['duplicate tensor names (JSON.parse would keep the last)', () => makeFile('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32Bytes([1, 2])), 'load: the header is not valid JSON: duplicate key "w" at character 54'],
    ['duplicate names written differently', () => makeFile('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\\u0077":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32Bytes([1, 2])), 'load: the header is not valid JSON: duplicate key "w" at character 54'],
    ['a duplicate field inside an entry', () => makeFile('{"w":{"dtype":"F32","shape":[1],"shape":[2],"data_offsets":[0,8]}}', f32Bytes([1, 2])), 'load: the header is not valid JSON: duplicate key "shape" at character 32'],
    ['two __metadata__', () => makeFile('{"__metadata__":{"a":"1"},"__metadata__":{"a":"2"}}'), 'load: the header is not valid JSON: duplicate key "__metadata__" at character 26'],
    ['an entry that is null', () => makeFile({ w: null }), 'load: "w": expected {dtype, shape, data_offsets}, got null'],
    ['an entry that is an array', () => makeFile({ w: ['F32', [1], [0, 4]] }, new Uint8Array(4)), 'load: "w": expected {dtype, shape, data_offsets}, got an array'],
    ['an entry without dtype', () => makeFile({ w: { shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), 'load: "w": dtype must be a string, got nothing'],
    ['a dtype that is not a string', () => makeFile({ w: { dtype: 4, shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), 'load: "w": dtype must be a string, got the number 4'],
    ['an unknown dtype', () => makeFile({ w: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /^load: "w": unknown dtype "F33" \(tapegrad reads F32, .*BOOL, converting to float32\)$/],
    ['a lower-case dtype', () => makeFile({ w: { dtype: 'f32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /^load: "w": unknown dtype "f32"/],
    ['an 8-bit float dtype', () => makeFile({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /^load: "w": dtype F8_E4M3 is not supported/],
    ['a shape that is not an array', () => makeFile({ w: { dtype: 'F32', shape: 2, data_offsets: [0, 8] } }, new Uint8Array(8)), 'load: "w": shape must be an array of integers ≥ 0, got 2'],
    ['a shape without the field', () => makeFile({ w: { dtype: 'F32', data_offsets: [0, 4] } }, new Uint8Array(4)), 'load: "w": shape must be an array of integers ≥ 0, got nothing'],
    ['a fractional size', () => makeFile({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, new Uint8Array(4)), 'load: "w": shape must be an array of integers ≥ 0, got [1.5]'],
    ['a size written 2.0 (serde reads no float as an integer)', () => makeFile('{"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}', new Uint8Array(8)), 'load: "w": shape must be an array of integers ≥ 0, got [2]'],
    ['a size written 2e0', () => makeFile('{"w":{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}}', new Uint8Array(8)), 'load: "w": shape must be an array of integers ≥ 0, got [2]'],
    ['a size that is a string', () => makeFile({ w: { dtype: 'F32', shape: ['2'], data_offsets: [0, 8] } }, new Uint8Array(8)), 'load: "w": shape must be an array of integers ≥ 0, got ["2"]'],
    ['a nested shape', () => makeFile({ w: { dtype: 'F32', shape: [[2]], data_offsets: [0, 8] } }, new Uint8Array(8)), 'load: "w": shape must be an array of integers ≥ 0, got [[2]]'],
    ['an element count that overflows 64 bits', () => makeFile('{"v":{"dtype":"F32","shape":[4294967296,1073741824],"data_offsets":[0,0]}}'), 'load: "v": the element count of shape [4294967296,1073741824] overflows (more than 2^64 bits of F32)'],
    ['a product that overflows before a 0 (checked left to right, as the reference)', () => makeFile('{"w":{"dtype":"F32","shape":[4294967296,4294967296,0,2],"data_offsets":[0,0]}}'), 'load: "w": the element count of shape [4294967296,4294967296,0,2] overflows (more than 2^64 bits of F32)'],
    ['a size beyond 2^53 (exact, not rounded)', () => makeFile('{"w":{"dtype":"U8","shape":[9007199254740993],"data_offsets":[0,1]}}', new Uint8Array(1)), 'load: "w": shape [9007199254740993] of U8 needs 9007199254740993 bytes but data_offsets [0, 1] hold 1'],
    ['8 dims', () => makeFile({ w: { dtype: 'F32', shape: [1, 1, 1, 1, 1, 1, 1, 1], data_offsets: [0, 4] } }, new Uint8Array(4)), 'load: "w": shape [1,1,1,1,1,1,1,1] has 8 dims; tapegrad supports at most 7'],
    ['an empty tensor with a size of 2^31', () => makeFile({ w: { dtype: 'F32', shape: [0, 2 ** 31], data_offsets: [0, 0] } }), 'load: "w": shape [0,2147483648] has a size above 2147483647, tapegrad\'s limit'],
    ['offsets without the field', () => makeFile({ w: { dtype: 'F32', shape: [1] } }, new Uint8Array(4)), 'load: "w": data_offsets must be [begin, end] integers ≥ 0, got nothing'],
    ['negative offsets', () => makeFile({ w: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, new Uint8Array(4)), 'load: "w": data_offsets must be [begin, end] integers ≥ 0, got [-4,0]'],
    ['fractional offsets', () => makeFile({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4.5] } }, new Uint8Array(4)), 'load: "w": data_offsets must be [begin, end] integers ≥ 0, got [0,4.5]'],
    ['three offsets', () => makeFile({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }, new Uint8Array(4)), 'load: "w": data_offsets must be [begin, end] integers ≥ 0, got [0,4,8]'],
    ['offsets beyond 2^64', () => makeFile('{"w":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551616,18446744073709551620]}}', new Uint8Array(4)), 'load: "w": data_offsets [18446744073709551616, 18446744073709551620] are outside the buffer (the data section has 4 bytes; truncated file?)'],
    ['a gap before the first tensor', () => makeFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32Bytes([9, 6])), 'load: bytes [0, 4) of the data section belong to no tensor (the next is "a" at [4, 8]); the data_offsets must tile the data with no gap'],
    ['a gap between tensors', () => makeFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, f32Bytes([1, 2, 3])), 'load: bytes [4, 8) of the data section belong to no tensor (the next is "b" at [8, 12]); the data_offsets must tile the data with no gap'],
    ['trailing bytes after the last tensor', () => makeFile({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32Bytes([1, 2])), 'load: the data section has 8 bytes but the tensors cover 4: 4 trailing bytes belong to no tensor'],
    ['data and no tensor', () => makeFile({}, new Uint8Array(3)), 'load: the data section has 3 bytes but the tensors cover 0: 3 trailing bytes belong to no tensor'],
    ['two tensors on the same bytes', () => makeFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'I32', shape: [1], data_offsets: [0, 4] } }, f32Bytes([1])), 'load: "a" [0, 4] and "b" [0, 4] have overlapping data_offsets'],
    ['an empty tensor inside another', () => makeFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, e: { dtype: 'F32', shape: [0], data_offsets: [4, 4] } }, f32Bytes([1, 2])), 'load: "a" [0, 8] and "e" [4, 4] have overlapping data_offsets'],
    ['metadata that is an array', () => makeFile({ __metadata__: ['a'] }), 'load: "__metadata__" must be an object from strings to strings, got an array'],
    ['metadata with a null value', () => makeFile({ __metadata__: { a: null } }), 'load: "__metadata__" must be an object from strings to strings, but "a" is null'],
    ['metadata that is a string', () => makeFile({ __metadata__: 'pt' }), 'load: "__metadata__" must be an object from strings to strings, got string "pt"'],
    ['a number', () => 42 as unknown as Uint8Array, /^load: expected the file's bytes as a Uint8Array .* got 42$/],
    ['null', () => null as unknown as Uint8Array, /^load: expected the file's bytes as a Uint8Array .* got null$/],
    ['an array of bytes', () => [1, 2, 3] as unknown as Uint8Array, /^load: expected the file's bytes as a Uint8Array .* got \[1,2,3\]$/],
  ];

  for (const [label, make, message] of cases) {
    it(label, () => {
      const before = tg.memory().tensors;
      const err = thrown(() => tg.load(make()));
      expect(Object.getPrototypeOf(err)).toBe(Error.prototype); // an Error, not a RangeError / TypeError from inside
      if (typeof message === 'string') expect(err.message).toBe(message);
      else expect(err.message).toMatch(message);
      expect(tg.memory().tensors).toBe(before); // nothing leaked
    });
  }

  it('a bad entry last in the file creates no tensor for the good ones before it', () => {
    const before = tg.memory().tensors;
    const bytes = makeFile({
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
      z: { dtype: 'F32', shape: [1], data_offsets: [12, 17] },
    }, new Uint8Array(17));
    expect(() => tg.load(bytes)).toThrow('load: "z": shape [1] of F32 needs 4 bytes but data_offsets [12, 17] hold 5');
    expect(tg.memory().tensors).toBe(before);
  });

  it('accepts the valid file these errors were made from, unpadded headers, whitespace, extra fields and empty files', () => {
    tg.tidy(() => {
      expect(tg.load(good()).w.toArray()).toEqual([1, 2]);
      const unpadded = makeFile({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32Bytes([5]), false);
      expect(tg.load(unpadded).w.toArray()).toEqual([5]);
      const spaced = makeFile(' \n{ "w" : {\t"shape" : [ 1 ] , "data_offsets":[0,4],"dtype":"F32","x":{"y":[1.5e3,null,true]}} }\r\n', f32Bytes([7]));
      expect(tg.load(spaced).w.toArray()).toEqual([7]); // the reference ignores fields it does not know
      const escaped = makeFile('{"\\u0077\\n\\ud83d\\ude00":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}', f32Bytes([3]));
      expect(Object.keys(tg.load(escaped))).toEqual(['w\n😀']);
      const empties = makeFile({ e: { dtype: 'F32', shape: [0], data_offsets: [0, 0] }, w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, f: { dtype: 'I64', shape: [2, 0], data_offsets: [4, 4] } }, f32Bytes([8]));
      const sd = tg.load(empties);
      expect([sd.e.shape, sd.w.toArray(), sd.f.shape]).toEqual([[0], [8], [2, 0]]);
      expect(tg.load(makeFile({ __metadata__: null }))).toEqual({}); // serde reads null as no metadata
      expect(tg.loadMetadata(makeFile({ __metadata__: null }))).toEqual({});
      expect(tg.load(makeFile({}))).toEqual({});
      expect(tg.load(tg.save({}))).toEqual({});
    });
  });

  it('loadMetadata checks the whole header too', () => {
    expect(() => tg.loadMetadata(makeFile({ __metadata__: { a: 'b' } }, new Uint8Array(4)))).toThrow('loadMetadata: the data section has 4 bytes but the tensors cover 0: 4 trailing bytes belong to no tensor');
    expect(() => tg.loadMetadata('x' as unknown as Uint8Array)).toThrow(/^loadMetadata: expected the file's bytes/);
    expect(() => tg.loadMetadata(makeFile('{"a":'))).toThrow('loadMetadata: the header is not valid JSON: unexpected end of the header at character 8'); // after the padding
  });

  it('huge headers are refused in linear time, with short messages', () => {
    // a 2-million-digit size: BigInt() of it takes seconds, of 100 MB hours; beyond u64 it is a float, as serde reads it
    const digits = makeFile(`{"w":{"dtype":"F32","shape":[${'7'.repeat(2_000_000)}],"data_offsets":[0,4]}}`, new Uint8Array(4));
    const e1 = thrown(() => tg.load(digits));
    expect(e1.message).toMatch(/^load: "w": shape must be an array of integers ≥ 0, got \[Infinity\]$/);
    // a million dims
    const dims = makeFile(`{"w":{"dtype":"F32","shape":[${Array(1_000_000).fill(1).join(',')}],"data_offsets":[0,4]}}`, new Uint8Array(4));
    const e2 = thrown(() => tg.load(dims));
    expect(e2.message).toMatch(/^load: "w": shape \[1,1,1,[1,]*… has 1000000 dims; tapegrad supports at most 7$/);
    expect(e2.message.length).toBeLessThan(300);
    // a name of a million characters
    const name = 'n'.repeat(1_000_000);
    const e3 = thrown(() => tg.load(makeFile({ [name]: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } })));
    expect(e3.message).toBe(`load: "${'n'.repeat(100)}"…: data_offsets [0, 4] are outside the buffer (the data section has 0 bytes; truncated file?)`);
    // 21 digits is still read exactly (beyond u64, so outside any file)
    expect(() => tg.load(makeFile('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,100000000000000000000]}}'))).toThrow('load: "w": data_offsets [0, 100000000000000000000] are outside the buffer');
  });

  it('bytes whose ArrayBuffer was transferred away: an Error, not a TypeError', () => {
    const file = good();
    const view = file.subarray(0);
    const buffer = file.buffer;
    structuredClone(buffer, { transfer: [buffer] });
    for (const detached of [view, buffer, new DataView(new ArrayBuffer(0))]) {
      if (detached instanceof DataView) structuredClone(detached.buffer, { transfer: [detached.buffer] });
      const err = thrown(() => tg.load(detached));
      expect(Object.getPrototypeOf(err)).toBe(Error.prototype);
      expect(err.message).toBe("load: the bytes' ArrayBuffer was detached (transferred to a worker or closed), so there is nothing to read");
    }
  });
});

// ----------------------------------------------------------------------------- bytes in any view

describe('tg.load takes any ArrayBufferView at any offset, or an ArrayBuffer', () => {
  const files = ['nn_mlp.safetensors', 'nn_cnn.safetensors', 'nn_dtypes.safetensors'];

  /** name → float32 bit patterns, from a load of a fresh, exactly sized Uint8Array. */
  const bitsOf = (sd: Record<string, Tensor>): Record<string, number[]> =>
    Object.fromEntries(Object.entries(sd).map(([k, t]) => [k, [...t.shape, -1, ...new Uint32Array(t.data().buffer)]]));

  for (const file of files) {
    it(`${file}: Buffer in a larger pool at an odd offset, readFileSync's Buffer, subarray, DataView, ArrayBuffer, Float64Array view`, () => {
      tg.tidy(() => {
        const exact = new Uint8Array(readFixture(file)); // its own ArrayBuffer, offset 0
        const want = bitsOf(tg.load(exact));
        expect(Object.keys(want).length).toBeGreaterThan(0);
        // a pool: the file sits at byte 13 of a 64 KB ArrayBuffer, with other bytes around it
        const pool = new ArrayBuffer(65536);
        new Uint8Array(pool).fill(0xab);
        new Uint8Array(pool, 13, exact.length).set(exact);
        const pooled = Buffer.from(pool, 13, exact.length);
        expect(pooled.byteOffset).toBe(13);
        expect(pooled.buffer.byteLength).toBe(65536);
        const aligned = new ArrayBuffer(exact.length + 16);
        new Uint8Array(aligned, 8, exact.length).set(exact);
        const views: [string, ArrayBufferView | ArrayBuffer][] = [
          ['Buffer in a pool', pooled],
          ['readFileSync', readFileSync(new URL(`./fixtures/${file}`, import.meta.url))],
          ['Uint8Array subarray', new Uint8Array(pool).subarray(13, 13 + exact.length)],
          ['DataView', new DataView(pool, 13, exact.length)],
          ['ArrayBuffer', exact.buffer.slice(0)],
          ['Float64Array at byte 8', new Float64Array(aligned, 8, exact.length / 8)],
        ];
        for (const [label, view] of views) {
          if (label === 'Float64Array at byte 8' && exact.length % 8 !== 0) continue;
          expect(bitsOf(tg.load(view)), `${file} from a ${label}`).toEqual(want);
          if (file === 'nn_mlp.safetensors') expect(tg.loadMetadata(view), label).toEqual(fixture.mlp.metadata);
        }
      });
    });
  }

  it('a SharedArrayBuffer and views of one', () => {
    tg.tidy(() => {
      const exact = readFixture('nn_dtypes.safetensors');
      const want = bitsOf(tg.load(exact));
      const sab = new SharedArrayBuffer(exact.length + 5);
      new Uint8Array(sab, 5).set(exact);
      expect(bitsOf(tg.load(new Uint8Array(sab, 5)))).toEqual(want);
      expect(bitsOf(tg.load(new DataView(sab, 5)))).toEqual(want);
      const whole = new SharedArrayBuffer(exact.length);
      new Uint8Array(whole).set(exact);
      expect(bitsOf(tg.load(whole))).toEqual(want);
    });
  });

  it('a Buffer holding a saved state dict round-trips, and the bytes around it are not read', () => {
    tg.tidy(() => {
      const sd = { w: tg.tensor([[1.5, -2], [3, 4.25]]), b: tg.tensor([0.25]) };
      const bytes = tg.save(sd);
      const pool = Buffer.alloc(bytes.length + 100, 0x7f);
      pool.set(bytes, 37);
      const back = tg.load(pool.subarray(37, 37 + bytes.length));
      expect(back.w.toArray()).toEqual([[1.5, -2], [3, 4.25]]);
      expect(back.b.toArray()).toEqual([0.25]);
      // one byte more or less than the file is a clear error, not garbage from the neighbours
      expect(() => tg.load(pool.subarray(37, 38 + bytes.length))).toThrow(/trailing bytes belong to no tensor/);
      expect(() => tg.load(pool.subarray(37, 36 + bytes.length))).toThrow(/outside the buffer/);
    });
  });
});

// ----------------------------------------------------------------------------- names are plain data

describe('names are plain data: __proto__, constructor, toString, hasOwnProperty', () => {
  const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];
  const fileWithNames = (): Uint8Array => {
    // written as text: JSON.stringify of an object literal would drop "__proto__"
    const entries = names.map((n, i) => `${JSON.stringify(n)}:{"dtype":"F32","shape":[2],"data_offsets":[${i * 8},${i * 8 + 8}]}`);
    return makeFile(`{${entries.join(',')}}`, f32Bytes(names.flatMap((_, i) => [i, -i])));
  };

  it('load: the result has no prototype; every name is an entry, seen by Object.keys, dispose() and tidy()', () => {
    const before = tg.memory().tensors;
    const sd = tg.load(fileWithNames());
    expect(Object.keys(sd).sort()).toEqual([...names].sort());
    expect(Object.getPrototypeOf(sd)).toBeNull(); // no inherited names; tidy and dispose walk it
    expect(sd.isPrototypeOf).toBeUndefined(); // a name the file does not have finds nothing
    names.forEach((n, i) => {
      expect(Object.prototype.hasOwnProperty.call(sd, n), n).toBe(true);
      const t = Object.getOwnPropertyDescriptor(sd, n)!.value as Tensor;
      expect(t).toBeInstanceOf(tg.Tensor);
      expect(t.toArray(), n).toEqual([i, -i]);
    });
    expect(sd.__proto__).toBeInstanceOf(tg.Tensor); // the own entry shadows Object.prototype's accessor
    expect(tg.memory().tensors).toBe(before + names.length);
    tg.dispose(sd);
    expect(tg.memory().tensors).toBe(before);
    // returned from tidy: every tensor moves to the caller (none is released with the scope)
    const kept = tg.tidy(() => tg.load(fileWithNames()));
    expect(tg.memory().tensors).toBe(before + names.length);
    expect((Object.getOwnPropertyDescriptor(kept, '__proto__')!.value as Tensor).toArray()).toEqual([0, -0]);
    tg.dispose(kept);
    expect(tg.memory().tensors).toBe(before);
  });

  it('save writes such names from own properties, and load reads them back', () => {
    tg.tidy(() => {
      const sd: Record<string, Tensor> = {};
      names.forEach((n, i) => Object.defineProperty(sd, n, { value: tg.tensor([i + 0.5]), enumerable: true }));
      const bytes = tg.save(sd);
      const p = parse(bytes); // JSON.parse: "__proto__" is an own key of its result
      expect(Object.keys(p.header).sort()).toEqual([...names].sort());
      const back = tg.load(bytes);
      names.forEach((n, i) => expect((Object.getOwnPropertyDescriptor(back, n)!.value as Tensor).toArray(), n).toEqual([i + 0.5]));
      // a name only on the prototype is not an entry
      expect(parse(tg.save(Object.create({ inherited: tg.tensor([1]) }) as Record<string, Tensor>)).header).toEqual({});
    });
  });

  it('a module with parameters and buffers named so: stateDict, save, load, loadStateDict', () => {
    const make = (): Module => {
      const m = new tg.nn.Module();
      m.registerParameter('constructor', tg.zeros([2]));
      m.registerBuffer('__proto__', tg.zeros([3]));
      m.registerParameter('toString', tg.zeros([1]));
      m.registerModule('hasOwnProperty', new tg.nn.Linear(2, 1));
      return m;
    };
    const a = make(), b = make();
    try {
      const keys = ['constructor', 'toString', '__proto__', 'hasOwnProperty.weight', 'hasOwnProperty.bias'];
      const sa = a.stateDict();
      expect(Object.keys(sa)).toEqual(keys);
      expect(Object.getPrototypeOf(sa)).toBeNull();
      tg.noGrad(() => {
        (Object.getOwnPropertyDescriptor(sa, 'constructor')!.value as Tensor).copy_([1, 2]);
        (Object.getOwnPropertyDescriptor(sa, '__proto__')!.value as Tensor).copy_([3, 4, 5]);
        (Object.getOwnPropertyDescriptor(sa, 'toString')!.value as Tensor).copy_([6]);
      });
      const before = tg.memory().tensors;
      const result = tg.tidy(() => b.loadStateDict(tg.load(tg.save(sa))));
      expect(result).toEqual({ missingKeys: [], unexpectedKeys: [] });
      expect(tg.memory().tensors).toBe(before);
      const sb = b.stateDict();
      for (const k of keys) {
        const get = (sd: Record<string, Tensor>) => (Object.getOwnPropertyDescriptor(sd, k)!.value as Tensor).toArray();
        expect(get(sb), k).toEqual(get(sa));
      }
      expect((Object.getOwnPropertyDescriptor(sb, '__proto__')!.value as Tensor).toArray()).toEqual([3, 4, 5]);
      // a dict that lacks "toString" reports it missing (not found on Object.prototype)
      const partial: Record<string, Tensor> = {};
      for (const k of keys) if (k !== 'toString') Object.defineProperty(partial, k, { value: Object.getOwnPropertyDescriptor(sa, k)!.value, enumerable: true });
      expect(() => b.loadStateDict(partial)).toThrow('loadStateDict: cannot load into Module: missing keys: "toString"');
      expect(b.loadStateDict(partial, { strict: false })).toEqual({ missingKeys: ['toString'], unexpectedKeys: [] });
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('loadMetadata: "__proto__" and "constructor" are ordinary metadata keys', () => {
    const bytes = makeFile('{"__metadata__":{"__proto__":"p","constructor":"c"}}');
    const md = tg.loadMetadata(bytes);
    expect(Object.keys(md).sort()).toEqual(['__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(md, '__proto__')!.value).toBe('p');
    const md2: Record<string, string> = {};
    Object.defineProperty(md2, '__proto__', { value: 'q', enumerable: true });
    expect(parse(tg.save({}, md2)).headerText.startsWith('{"__metadata__":{"__proto__":"q"}}')).toBe(true);
  });

  it('save refuses names that UTF-8 cannot hold (an unpaired surrogate would turn into U+FFFD)', () => {
    tg.tidy(() => {
      expect(() => tg.save({ '\ud800': tg.zeros([1]), '\udc00': tg.zeros([1]) })).toThrow('save: the name "\\ud800" has an unpaired UTF-16 surrogate, which UTF-8 cannot encode');
      expect(() => tg.save({}, { k: 'v\udfff' })).toThrow('save: metadata entry "k" has an unpaired UTF-16 surrogate, which UTF-8 cannot encode');
      expect(Object.keys(tg.load(tg.save({ 'w😀': tg.zeros([1]) })))).toEqual(['w😀']);
    });
  });
});
