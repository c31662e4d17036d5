// Mutation fuzzing of tg.load (issue 8: "mutation fuzzing of safetensors files").
//
// Valid files — the committed fixtures written by PyTorch and files made with tg.save — are
// mutated thousands of times with a seeded generator (test/helpers.ts rng): byte flips in the
// length field, the header and the data, truncations, appended bytes, header-length changes,
// and edits of the JSON itself (dtype, shape, data_offsets, names such as __proto__ and
// __metadata__, duplicate keys, deleted and added entries, metadata values). Each mutant is
// handed to tg.load inside a larger pool of bytes, and:
//   - an independent reader below (a regex tokenizer and the rules of safetensors/src/tensor.rs,
//     not tapegrad's code) decides whether the file is valid and what it holds; load must agree:
//     return exactly those names and values, or throw;
//   - a throw is an Error (not a RangeError / TypeError / SyntaxError from inside) whose message
//     starts with "load: ";
//   - memory().tensors is unchanged once the result is disposed (nothing leaks on either path);
//   - a ring of sentinel tensors made before keeps its values.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { rng, safetensorsFile } from './helpers.js';

type Tensor = InstanceType<typeof tg.Tensor>;

// ----------------------------------------------------------------------------- an independent reader

type JVal =
  | { t: 'obj'; pairs: [string, JVal][] }
  | { t: 'arr'; items: JVal[] }
  | { t: 'str'; v: string }
  | { t: 'num'; text: string }
  | { t: 'lit'; text: 'true' | 'false' | 'null' }
  | { t: 'raw'; text: string }; // only in mutants: text written as is

const TOKEN = /[ \t\n\r]*(?:([{}[\]:,])|("(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*")|(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)|(true|false|null))/y;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** JSON text → tokens → a tree; null when the text is not JSON as the reference reads it. */
function readJson(text: string): JVal | null {
  const toks: { p?: string; s?: string; n?: string; l?: string }[] = [];
  TOKEN.lastIndex = 0;
  for (;;) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (!m) {
      if (/^[ \t\n\r]*$/.test(text.slice(at))) break;
      return null;
    }
    toks.push(m[1] ? { p: m[1] } : m[2] ? { s: m[2] } : m[3] ? { n: m[3] } : { l: m[4] });
  }
  let i = 0;
  const value = (depth: number): JVal | null => {
    const tok = toks[i++];
    if (!tok) return null;
    if (tok.s !== undefined) {
      const v = JSON.parse(tok.s) as string;
      return LONE_SURROGATE.test(v) ? null : { t: 'str', v };
    }
    if (tok.n !== undefined) return { t: 'num', text: tok.n };
    if (tok.l !== undefined) return { t: 'lit', text: tok.l as 'true' };
    if (depth >= 128) return null;
    if (tok.p === '[') {
      const items: JVal[] = [];
      if (toks[i]?.p === ']') { i++; return { t: 'arr', items }; }
      for (;;) {
        const v = value(depth + 1);
        if (!v) return null;
        items.push(v);
        const sep = toks[i++]?.p;
        if (sep === ']') return { t: 'arr', items };
        if (sep !== ',') return null;
      }
    }
    if (tok.p === '{') {
      const pairs: [string, JVal][] = [];
      const seen = new Set<string>();
      if (toks[i]?.p === '}') { i++; return { t: 'obj', pairs }; }
      for (;;) {
        const k = toks[i++];
        if (k?.s === undefined) return null;
        const key = JSON.parse(k.s) as string;
        if (LONE_SURROGATE.test(key) || seen.has(key)) return null; // duplicate keys are an error
        seen.add(key);
        if (toks[i++]?.p !== ':') return null;
        const v = value(depth + 1);
        if (!v) return null;
        pairs.push([key, v]);
        const sep = toks[i++]?.p;
        if (sep === '}') return { t: 'obj', pairs };
        if (sep !== ',') return null;
      }
    }
    return null;
  };
  const root = value(0);
  return root && i === toks.length ? root : null;
}

/** Bytes per element of every dtype the reference knows; undefined marks those tapegrad does not read. */
const SIZES: Record<string, number | undefined> = {
  BOOL: 1, U8: 1, I8: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
  F4: undefined, F6_E2M3: undefined, F6_E3M2: undefined, F8_E5M2: undefined, F8_E4M3: undefined,
  F8_E8M0: undefined, F8_E4M3FNUZ: undefined, F8_E5M2FNUZ: undefined, C64: undefined,
};

interface Expected { shape: number[]; bits: number[] } // float32 bit patterns
type Verdict = { ok: true; tensors: Map<string, Expected> } | { ok: false; why: string };

const uint = (v: JVal): bigint | null => (v.t === 'num' && /^-?[0-9]+$/.test(v.text) && BigInt(v.text) >= 0n ? BigInt(v.text) : null);

function f16(h: number): number {
  const s = h >> 15 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  if (e === 31) return m ? NaN : s * Infinity;
  return e === 0 ? s * m * 2 ** -24 : s * (1024 + m) * 2 ** (e - 25);
}

/** What a reader following the reference (plus tapegrad's limits) makes of `file`. */
function oracle(file: Uint8Array): Verdict {
  const no = (why: string): Verdict => ({ ok: false, why });
  if (file.length < 8) return no('short');
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const n = dv.getBigUint64(0, true);
  if (n > 100_000_000n || 8n + n > BigInt(file.length)) return no('header length');
  let text: string;
  try { text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(file.subarray(8, 8 + Number(n))); } catch { return no('utf-8'); }
  const root = readJson(text);
  if (!root || root.t !== 'obj') return no('json');
  const dataStart = 8 + Number(n), dataLen = BigInt(file.length - dataStart);
  const entries: { name: string; dtype: string; shape: bigint[]; s: bigint; e: bigint }[] = [];
  for (const [name, v] of root.pairs) {
    if (name === '__metadata__') {
      if (v.t === 'lit' && v.text === 'null') continue;
      if (v.t !== 'obj' || v.pairs.some(([, x]) => x.t !== 'str')) return no('metadata');
      continue;
    }
    if (v.t !== 'obj') return no('entry');
    const get = (k: string) => v.pairs.find(([key]) => key === k)?.[1];
    const dtype = get('dtype'), shape = get('shape'), offs = get('data_offsets');
    if (dtype?.t !== 'str' || !Object.prototype.hasOwnProperty.call(SIZES, dtype.v) || SIZES[dtype.v] === undefined) return no('dtype');
    if (shape?.t !== 'arr' || shape.items.some((d) => uint(d) === null)) return no('shape');
    if (offs?.t !== 'arr' || offs.items.length !== 2 || offs.items.some((d) => uint(d) === null)) return no('offsets');
    entries.push({ name, dtype: dtype.v, shape: shape.items.map((d) => uint(d)!), s: uint(offs.items[0])!, e: uint(offs.items[1])! });
  }
  const MAX = (1n << 64n) - 1n;
  for (const x of entries) {
    if (x.e < x.s || x.e > dataLen) return no('range');
    let count = 1n;
    for (const d of x.shape) { count *= d; if (count > MAX) return no('overflow'); }
    if (count * BigInt(SIZES[x.dtype]! * 8) > MAX) return no('overflow');
    if (count * BigInt(SIZES[x.dtype]!) !== x.e - x.s) return no('size');
    // tapegrad's own limits
    if (x.shape.length > 7 || x.shape.some((d) => d > 2147483647n) || count * 4n > 2n ** 31n) return no('limits');
  }
  const sorted = entries.slice().sort((a, b) => (a.s < b.s ? -1 : a.s > b.s ? 1 : a.e < b.e ? -1 : a.e > b.e ? 1 : 0));
  let at = 0n;
  for (const x of sorted) {
    if (x.s !== at) return no('tiling');
    at = x.e;
  }
  if (at !== dataLen) return no('trailing');
  const tensors = new Map<string, Expected>();
  const f32 = new DataView(new ArrayBuffer(4));
  const bitsOf = (v: number): number => { f32.setFloat32(0, v, true); return f32.getUint32(0, true); };
  for (const x of entries) {
    const size = SIZES[x.dtype]!, count = Number(x.e - x.s) / size, base = dataStart + Number(x.s);
    const bits: number[] = [];
    for (let i = 0; i < count; i++) {
      const p = base + i * size;
      let v: number;
      switch (x.dtype) {
        case 'F32': bits.push(dv.getUint32(p, true)); continue;
        case 'BF16': bits.push(dv.getUint16(p, true) * 65536); continue;
        case 'F64': v = dv.getFloat64(p, true); break;
        case 'F16': v = f16(dv.getUint16(p, true)); break;
        case 'BOOL': v = dv.getUint8(p); if (v > 1) return no('bool'); break;
        default: {
          const big = x.dtype === 'I64' ? dv.getBigInt64(p, true) : x.dtype === 'U64' ? dv.getBigUint64(p, true)
            : BigInt(({ I8: dv.getInt8(p), U8: dv.getUint8(p), I16: dv.getInt16(p, true), U16: dv.getUint16(p, true), I32: dv.getInt32(p, true), U32: dv.getUint32(p, true) } as Record<string, number>)[x.dtype]);
          v = Number(big);
          if (!Number.isFinite(Math.fround(v)) || BigInt(Math.fround(v)) !== big) return no('inexact');
        }
      }
      bits.push(Number.isNaN(v) ? -1 : bitsOf(v)); // NaN: any NaN pattern
    }
    tensors.set(x.name, { shape: x.shape.map(Number), bits });
  }
  return { ok: true, tensors };
}

// ----------------------------------------------------------------------------- files and mutations

function ser(v: JVal): string {
  switch (v.t) {
    case 'obj': return `{${v.pairs.map(([k, x]) => `${JSON.stringify(k)}:${ser(x)}`).join(',')}}`;
    case 'arr': return `[${v.items.map(ser).join(',')}]`;
    case 'str': return JSON.stringify(v.v);
    case 'num': case 'lit': case 'raw': return v.text;
  }
}


const readFixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`./fixtures/${name}`, import.meta.url)));

const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__metadata__', '', 'w', 'é😀', '0', '1.weight'];
const DTYPES = [...Object.keys(SIZES), 'X', '', 'f32', 'F32 '];

/** One mutant of `file` (whose header is valid JSON). Returns the bytes and the kind of mutation. */
function mutate(file: Uint8Array, r: () => number): [Uint8Array, string] {
  const int = (k: number): number => Math.floor(r() * k);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  const kind = int(10);
  if (kind <= 3) { // JSON edits, then maybe a byte-level mutation on top
    const root = readJson(new TextDecoder().decode(file.subarray(8, 8 + n))) as Extract<JVal, { t: 'obj' }>;
    let data = file.slice(8 + n);
    const tensors = root.pairs.filter(([k]) => k !== '__metadata__');
    const edits = 1 + int(2);
    const what: string[] = [];
    for (let k = 0; k < edits; k++) {
      const pair = tensors.length > 0 ? pick(tensors) : null;
      const info = pair && pair[1].t === 'obj' ? pair[1] : null;
      const field = (name: string): [string, JVal] | undefined => info?.pairs.find(([f]) => f === name);
      const num = (x: bigint | number | string): JVal => ({ t: 'num', text: String(x) });
      const e = int(12);
      if (e === 0 && field('dtype')) { field('dtype')![1] = r() < 0.9 ? { t: 'str', v: pick(DTYPES) } : pick([num(3), { t: 'lit', text: 'null' }] as JVal[]); what.push('dtype'); }
      else if (e === 1 && field('shape')?.[1].t === 'arr') {
        const s = field('shape')![1] as Extract<JVal, { t: 'arr' }>;
        const op = int(6);
        if (op === 0 && s.items.length) s.items[int(s.items.length)] = num(pick([0, 1, 2, 3, 7, -1, 2 ** 31, '9007199254740993', '18446744073709551617']));
        else if (op === 1) s.items.push(num(pick([0, 1, 2])));
        else if (op === 2) s.items.pop();
        else if (op === 3 && s.items.length) s.items[int(s.items.length)] = { t: 'raw', text: pick(['1.0', '2e0', '1.5', '"2"', '[2]', 'null', '-0']) };
        else if (op === 4) field('shape')![1] = pick([num(2), { t: 'lit', text: 'null' }, { t: 'obj', pairs: [] }] as JVal[]);
        else s.items = [...s.items, ...Array(8).fill(num(1))];
        what.push('shape');
      } else if (e === 2 && field('data_offsets')?.[1].t === 'arr') {
        const o = field('data_offsets')![1] as Extract<JVal, { t: 'arr' }>;
        const op = int(6);
        const at = int(o.items.length || 1);
        const cur = o.items[at] && o.items[at].t === 'num' ? BigInt((o.items[at] as { text: string }).text) : 0n;
        if (op <= 1) o.items[at] = num(cur + BigInt(pick([-8, -4, -2, -1, 1, 2, 4, 8])));
        else if (op === 2) o.items.reverse();
        else if (op === 3) o.items[at] = num(pick(['18446744073709551616', '18446744073709551615', '9007199254740993', '-4', '4.5', '4e0']));
        else if (op === 4) o.items = pick([[], [num(0)], [num(0), num(4), num(8)]]);
        else field('data_offsets')![1] = { t: 'str', v: '0,4' };
        what.push('offsets');
      } else if (e === 3 && pair) { pair[0] = pick(NAMES); what.push('name'); }
      else if (e === 4 && pair) { root.pairs.push([pair[0], pair[1]]); what.push('duplicate key'); }
      else if (e === 5 && pair) { root.pairs.splice(root.pairs.indexOf(pair), 1); tensors.splice(tensors.indexOf(pair), 1); what.push('delete'); }
      else if (e === 6 && info) { info.pairs.push([pick(['extra', 'dtype', 'shape']), { t: 'arr', items: [num(1)] }]); what.push('field'); }
      else if (e === 7 && pair) { pair[1] = pick([num(3), { t: 'lit', text: 'null' }, { t: 'arr', items: [] }, { t: 'str', v: 'F32' }] as JVal[]); what.push('entry'); }
      else if (e === 8) {
        const md = root.pairs.find(([k]) => k === '__metadata__');
        const v = pick([{ t: 'obj', pairs: [['a', num(1)]] }, { t: 'lit', text: 'null' }, { t: 'arr', items: [] }, { t: 'str', v: 'x' }, { t: 'obj', pairs: [['__proto__', { t: 'str', v: 'p' }]] }] as JVal[]);
        if (md) md[1] = v; else root.pairs.unshift(['__metadata__', v]);
        what.push('metadata');
      } else if (e === 9 && info) { // same-size dtype swap: often still valid, exercises the integer checks
        const d = field('dtype');
        if (d && d[1].t === 'str') {
          const same = Object.keys(SIZES).filter((x) => SIZES[x] !== undefined && SIZES[x] === SIZES[(d[1] as { v: string }).v]);
          if (same.length) d[1] = { t: 'str', v: pick(same) };
        }
        what.push('dtype swap');
      } else if (e === 10 && pair) { // a new empty tensor somewhere (valid at the end, overlapping inside)
        const end = data.length;
        root.pairs.push([`${pick(NAMES)}${int(3)}`, { t: 'obj', pairs: [['dtype', { t: 'str', v: 'F32' }], ['shape', { t: 'arr', items: [num(0), num(int(3))] }], ['data_offsets', { t: 'arr', items: [num(r() < 0.5 ? end : int(end + 1)), num(r() < 0.5 ? end : int(end + 1))] }]] }]);
        what.push('add');
      } else { // data section edits
        const op = int(3);
        if (op === 0 && data.length) data[int(data.length)] ^= 1 + int(255);
        else if (op === 1) data = data.slice(0, int(data.length + 1));
        else { const more = new Uint8Array(data.length + 1 + int(8)); more.set(data); data = more; }
        what.push('data');
      }
    }
    return [safetensorsFile(ser(root), data, r() < 0.8), `json: ${what.join(', ')}`];
  }
  const out = file.slice();
  if (kind <= 6) { // byte flips, mostly in the header
    const flips = 1 + int(4);
    for (let k = 0; k < flips; k++) {
      const inHeader = r() < 0.75;
      const at = inHeader ? int(Math.min(8 + n, out.length)) : 8 + n + int(Math.max(out.length - 8 - n, 1));
      if (at < out.length) out[at] ^= 1 + int(255);
    }
    return [out, 'flip'];
  }
  if (kind === 7) return [file.slice(0, r() < 0.1 ? int(9) : int(file.length)), 'truncate'];
  if (kind === 8) {
    const more = new Uint8Array(file.length + 1 + int(16));
    more.set(file);
    for (let i = file.length; i < more.length; i++) more[i] = int(256);
    return [more, 'append'];
  }
  const v = new DataView(out.buffer);
  const op = int(5);
  if (op === 0) v.setUint32(0, Math.max(0, n + pick([-16, -8, -1, 1, 8, 16])), true);
  else if (op === 1) v.setUint32(0, int(2 ** 32), true);
  else if (op === 2) v.setUint32(4, 1 + int(2 ** 32 - 1), true);
  else if (op === 3) v.setUint32(0, pick([0, 1, 100_000_000, 100_000_001]), true);
  else v.setUint32(0, int(n + 1), true);
  return [out, 'header length'];
}

// ----------------------------------------------------------------------------- the run

describe('mutation fuzzing of tg.load', () => {
  it('thousands of mutants: load agrees with an independent reader, throws only Errors, leaks nothing, corrupts nothing', () => {
    // the valid files the mutants come from
    const bases: [string, Uint8Array][] = ['nn_mlp.safetensors', 'nn_cnn.safetensors', 'nn_dtypes.safetensors', 'st_ints.safetensors', 'st_batchnorm.safetensors']
      .map((f) => [f, readFixture(f)]);
    tg.tidy(() => {
      tg.manualSeed(5);
      const sd: Record<string, Tensor> = { 'layer.weight': tg.randn([3, 4]), scalar: tg.tensor(-2.5), empty: tg.zeros([0, 2]), specials: tg.tensor([NaN, -0, Infinity, 1e-40]) };
      for (const name of ['__proto__', 'constructor', 'toString']) Object.defineProperty(sd, name, { value: tg.arange(3).mul(name.length), enumerable: true });
      const metadata: Record<string, string> = { format: 'pt' };
      Object.defineProperty(metadata, '__proto__', { value: 'x', enumerable: true });
      bases.push(['save: names and specials', tg.save(sd, metadata)]);
      const mlp = new tg.nn.MLP(4, [5], 2);
      bases.push(['save: MLP', tg.save(mlp.stateDict())]);
      mlp.dispose();
    });
    for (const [name, file] of bases) expect(oracle(file).ok, `${name} is valid`).toBe(true);

    tg.manualSeed(77);
    const sentinels = Array.from({ length: 8 }, (_, i) => tg.randn([1 + i * 3]));
    const sentinelBits = sentinels.map((t) => Array.from(new Uint32Array(t.data().buffer)));
    const r = rng(20261201);
    const PER_BASE = 600;
    let accepted = 0, rejected = 0;
    const reasons = new Map<string, number>();
    const failures: string[] = [];
    try {
      for (const [baseName, base] of bases) {
        for (let k = 0; k < PER_BASE && failures.length < 5; k++) {
          const [mutant, how] = mutate(base, r);
          const label = `${baseName} #${k} (${how})`;
          const want = oracle(mutant);
          // hand it over inside a pool of other bytes, at an odd offset, as a Buffer, a subarray or a DataView
          const pool = new Uint8Array(mutant.length + 32).fill(0x5a);
          const at = 1 + Math.floor(r() * 23);
          pool.set(mutant, at);
          const view = [Buffer.from(pool.buffer, at, mutant.length), pool.subarray(at, at + mutant.length), new DataView(pool.buffer, at, mutant.length)][k % 3];
          const before = tg.memory().tensors;
          let got: Record<string, Tensor> | null = null;
          let error: unknown = null;
          try {
            got = tg.load(view);
          } catch (err) {
            error = err;
          }
          try {
            if (error !== null) {
              const e = error as Error;
              if (Object.getPrototypeOf(e) !== Error.prototype || !/^load: /.test(e.message)) {
                failures.push(`${label}: threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
              } else if (want.ok) {
                failures.push(`${label}: valid for the reader, but load threw: ${e.message}`);
              } else {
                rejected++;
                reasons.set(want.why, (reasons.get(want.why) ?? 0) + 1);
              }
            } else if (!want.ok) {
              failures.push(`${label}: invalid for the reader (${want.why}), but load returned ${Object.keys(got!).join(', ')}`);
            } else {
              accepted++;
              const names = Object.keys(got!);
              if (names.slice().sort().join('\n') !== [...want.tensors.keys()].sort().join('\n')) failures.push(`${label}: names ${names} instead of ${[...want.tensors.keys()]}`);
              for (const [nm, exp] of want.tensors) {
                const t = Object.getOwnPropertyDescriptor(got!, nm)?.value as Tensor | undefined;
                if (!t) continue;
                const bits = Array.from(new Uint32Array(t.data().buffer));
                const same = t.shape.join() === exp.shape.join() && bits.length === exp.bits.length &&
                  bits.every((b, i) => b === exp.bits[i] || (exp.bits[i] === -1 && Number.isNaN(new Float32Array(new Uint32Array([b]).buffer)[0])));
                if (!same) failures.push(`${label}: "${nm}" holds other values than the file`);
              }
            }
          } finally {
            if (got) tg.dispose(got);
          }
          if (tg.memory().tensors !== before) failures.push(`${label}: ${tg.memory().tensors - before} tensors leaked`);
          {
            sentinels.forEach((t, i) => {
              if (Array.from(new Uint32Array(t.data().buffer)).join() !== sentinelBits[i].join()) failures.push(`${label}: sentinel ${i} changed`);
            });
          }
        }
      }
    } finally {
      for (const t of sentinels) t.dispose();
    }
    expect(failures).toEqual([]);
    // the mutants reach both outcomes and most of the reader's reasons to refuse
    expect(accepted + rejected).toBe(PER_BASE * bases.length);
    expect(accepted).toBeGreaterThan(300);
    expect(rejected).toBeGreaterThan(2000);
    const kinds = ['short', 'header length', 'utf-8', 'json', 'metadata', 'entry', 'dtype', 'shape', 'offsets', 'range', 'size', 'tiling', 'trailing', 'inexact', 'limits'];
    for (const why of kinds) expect(reasons.get(why) ?? 0, `mutants refused for "${why}"`).toBeGreaterThan(0);
  });
});
