// save / load in the safetensors format (https://github.com/huggingface/safetensors), so weights
// move to and from PyTorch and Hugging Face tools. Pure TypeScript over Uint8Array / DataView:
// no Node built-ins, so it works in browsers.
//
// Layout: 8 bytes little-endian u64 N, then N bytes of UTF-8 JSON
//   {"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}
// padded with spaces so the data starts 8-byte aligned, then the data; offsets count from the
// start of the data and every tensor is row-major little-endian.
//
// load() checks what the reference implementation (safetensors/src/tensor.rs, Metadata::validate
// and SafeTensors::read_metadata) checks — header length ≤ 100 MB and inside the file, UTF-8 JSON,
// known dtypes, shapes of integers ≥ 0 whose byte size does not overflow and equals the entry's
// data_offsets, entries that tile the data section from 0 to its end with no overlap, gap or
// trailing byte — plus what JSON.parse would hide: duplicate keys (JSON.parse keeps the last) and
// numbers written as 1.0 or 1e2 where an integer is required. Everything is checked, integer
// values included, before the first tensor is created, so a bad file leaks nothing.
import { Tensor, newTensor, notRecording } from './tensor';
import { core, heapF32, MAX_RANK } from './core';
import { nameDict, show as showValue } from './shape';

/** The dtypes load() reads, each converted to float32, with their size in bytes; save() writes F32. */
const DTYPE_BYTES: ReadonlyMap<string, number> = new Map([
  ['F32', 4], ['F16', 2], ['BF16', 2], ['F64', 8],
  ['I8', 1], ['I16', 2], ['I32', 4], ['I64', 8],
  ['U8', 1], ['U16', 2], ['U32', 4], ['U64', 8],
  ['BOOL', 1],
]);
/** Dtypes of the format (safetensors/src/tensor.rs) that tapegrad does not read. */
const UNSUPPORTED_DTYPES: ReadonlySet<string> = new Set(['F4', 'F6_E2M3', 'F6_E3M2', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F8_E4M3FNUZ', 'F8_E5M2FNUZ', 'C64']);
const READ = [...DTYPE_BYTES.keys()].join(', ');

/** Larger headers are rejected, as the reference implementation does (100 MB). */
const MAX_HEADER_BYTES = 100_000_000;
/** serde_json's recursion limit: deeper headers are rejected (and cannot overflow our stack). */
const MAX_DEPTH = 128;
/** Sizes are int32 in the core. */
const MAX_DIM = 2 ** 31 - 1;
/** A float32 tensor larger than this cannot live in 32-bit WebAssembly memory. */
const MAX_TENSOR_BYTES = 2 ** 31;
const U64_MAX = (1n << 64n) - 1n;

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** True when `s` has no unpaired surrogate (it then encodes to UTF-8 and back unchanged). */
function wellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff) return false; // a low surrogate first
    const d = s.charCodeAt(++i);
    if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
  }
  return true;
}

// ───────────────────────────────────────────────────────────────────────────── save

/**
 * Serialises a state dict (names to float32 tensors, as Module.stateDict() returns) in the
 * safetensors format. `metadata` (string values) goes in the header's `__metadata__`. Names are
 * written sorted, each tensor's data in the same order. Only own properties are read, so any
 * name (`__proto__`, `constructor`) is an ordinary entry.
 *
 * @example
 * ```ts
 * const bytes = tg.save({ w: tg.tensor([1, 2]) }, { epoch: '3' });
 * tg.load(bytes).w.toArray(); // → [1, 2]
 * ```
 */
export function save(stateDict: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  notRecording('save');
  if (stateDict === null || typeof stateDict !== 'object' || Array.isArray(stateDict) || stateDict instanceof Tensor) {
    throw new Error(`save: expected an object from names to tensors, got ${showValue(stateDict)}`);
  }
  // the header is written as text, pair by pair: a plain object would put integer-like names first
  const pair = (k: string, v: unknown): string => `${JSON.stringify(k)}:${JSON.stringify(v)}`;
  const parts: string[] = [];
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) throw new Error(`save: metadata must be an object from strings to strings, got ${showValue(metadata)}`);
    const entries: string[] = [];
    for (const k of Object.keys(metadata)) {
      const v: unknown = metadata[k];
      if (typeof v !== 'string') throw new Error(`save: metadata value for ${JSON.stringify(k)} must be a string, got ${showValue(v)}`);
      if (!wellFormed(k) || !wellFormed(v)) throw new Error(`save: metadata entry ${JSON.stringify(k)} has an unpaired UTF-16 surrogate, which UTF-8 cannot encode`);
      entries.push(pair(k, v));
    }
    parts.push(`"__metadata__":{${entries.join(',')}}`);
  }
  const names = Object.keys(stateDict).sort();
  const tensors: Tensor[] = [];
  for (const name of names) {
    if (name === '__metadata__') throw new Error('save: "__metadata__" is reserved for metadata and cannot name a tensor');
    if (name === '') throw new Error('save: a tensor name cannot be empty');
    if (!wellFormed(name)) throw new Error(`save: the name ${JSON.stringify(name)} has an unpaired UTF-16 surrogate, which UTF-8 cannot encode`);
    const t: unknown = stateDict[name]; // an own key (from Object.keys): never the prototype's
    if (!(t instanceof Tensor)) throw new Error(`save: ${JSON.stringify(name)} must be a Tensor, got ${showValue(t)}`);
    if (t.isDisposed) throw new Error(`save: ${JSON.stringify(name)} was disposed and cannot be saved`);
    tensors.push(t);
  }
  const datas: Float32Array[] = [];
  let offset = 0;
  names.forEach((name, i) => {
    const data = tensors[i].data();
    parts.push(pair(name, { dtype: 'F32', shape: tensors[i].shape, data_offsets: [offset, offset + data.length * 4] }));
    datas.push(data);
    offset += data.length * 4;
  });
  const text = `{${parts.join(',')}}`;
  const json = new TextEncoder().encode(text);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength, true);
  view.setUint32(4, 0, true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const data of datas) {
    if (littleEndian) {
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    } else {
      for (let i = 0; i < data.length; i++) view.setFloat32(at + i * 4, data[i], true);
    }
    at += data.byteLength;
  }
  return out;
}

// ───────────────────────────────────────────────────────────────────────────── a strict JSON reader

/**
 * A JSON value as the header parser returns it: objects are Maps (no prototype to collide with,
 * and duplicate keys are an error), integer literals are bigints (exact at any size), other
 * numbers (with a fraction or an exponent) are numbers.
 */
type Json = string | bigint | number | boolean | null | Json[] | Map<string, Json>;

const ESCAPES: ReadonlyMap<string, string> = new Map([['"', '"'], ['\\', '\\'], ['/', '/'], ['b', '\b'], ['f', '\f'], ['n', '\n'], ['r', '\r'], ['t', '\t']]);
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

/** RFC 8259 JSON, as serde_json reads it: no duplicate keys, no unpaired surrogate escapes, depth ≤ 128. */
class JsonReader {
  private pos = 0;
  private depth = 0;
  constructor(private readonly text: string, private readonly op: string) {}

  read(): Json {
    const value = this.value();
    this.space();
    if (this.pos < this.text.length) this.fail(`unexpected ${this.what()} after the end of the JSON value`);
    return value;
  }

  private fail(message: string): never {
    throw new Error(`${this.op}: the header is not valid JSON: ${message} at character ${this.pos}`);
  }

  private what(): string {
    return this.pos < this.text.length ? `character ${JSON.stringify(this.text[this.pos])}` : 'end of the header';
  }

  private space(): void {
    const s = this.text;
    let c: number;
    while (this.pos < s.length && ((c = s.charCodeAt(this.pos)) === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) this.pos++;
  }

  private value(): Json {
    this.space();
    const c = this.text[this.pos];
    if (c === '{' || c === '[') {
      if (++this.depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
      const v = c === '{' ? this.object() : this.array();
      this.depth--;
      return v;
    }
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.text.startsWith(word, this.pos)) { this.pos += word.length; return v; }
    }
    return this.fail(`unexpected ${this.what()}`);
  }

  private object(): Map<string, Json> {
    const out = new Map<string, Json>();
    this.pos++; // {
    this.space();
    if (this.text[this.pos] === '}') { this.pos++; return out; }
    for (;;) {
      this.space();
      if (this.text[this.pos] !== '"') this.fail(`expected a key (a string) but found ${this.what()}`);
      const at = this.pos;
      const key = this.string();
      if (out.has(key)) { this.pos = at; this.fail(`duplicate key ${JSON.stringify(key)}`); }
      this.space();
      if (this.text[this.pos] !== ':') this.fail(`expected ":" but found ${this.what()}`);
      this.pos++;
      out.set(key, this.value());
      this.space();
      const c = this.text[this.pos++];
      if (c === '}') return out;
      if (c !== ',') { this.pos--; this.fail(`expected "," or "}" but found ${this.what()}`); }
    }
  }

  private array(): Json[] {
    const out: Json[] = [];
    this.pos++; // [
    this.space();
    if (this.text[this.pos] === ']') { this.pos++; return out; }
    for (;;) {
      out.push(this.value());
      this.space();
      const c = this.text[this.pos++];
      if (c === ']') return out;
      if (c !== ',') { this.pos--; this.fail(`expected "," or "]" but found ${this.what()}`); }
    }
  }

  private string(): string {
    const s = this.text;
    let out = '';
    let start = ++this.pos; // after the opening quote
    for (;;) {
      if (this.pos >= s.length) this.fail('unterminated string');
      const c = s.charCodeAt(this.pos);
      if (c === 0x22) { out += s.slice(start, this.pos++); return out; }
      if (c < 0x20) this.fail(`control character U+${c.toString(16).padStart(4, '0')} in a string (it must be escaped)`);
      if (c !== 0x5c) { this.pos++; continue; }
      out += s.slice(start, this.pos);
      const e = s[this.pos + 1];
      const simple = e === undefined ? undefined : ESCAPES.get(e);
      if (simple !== undefined) {
        out += simple;
        this.pos += 2;
      } else if (e === 'u') {
        const unit = this.hex4(this.pos + 2);
        this.pos += 6;
        if (unit >= 0xdc00 && unit <= 0xdfff) { this.pos -= 6; this.fail('unpaired surrogate escape'); }
        if (unit >= 0xd800 && unit <= 0xdbff) {
          const low = s[this.pos] === '\\' && s[this.pos + 1] === 'u' ? this.hex4(this.pos + 2) : -1;
          if (!(low >= 0xdc00 && low <= 0xdfff)) this.fail('unpaired surrogate escape');
          out += String.fromCharCode(unit, low);
          this.pos += 6;
        } else {
          out += String.fromCharCode(unit);
        }
      } else {
        this.fail(`invalid escape ${JSON.stringify(s.slice(this.pos, this.pos + 2))}`);
      }
      start = this.pos;
    }
  }

  private hex4(at: number): number {
    const h = this.text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) { this.pos = at; this.fail('invalid \\u escape'); }
    return parseInt(h, 16);
  }

  private number(): bigint | number {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (!m) this.fail(`invalid number`);
    this.pos += m[0].length;
    // an integer literal of more than 20 digits is beyond u64 (JSON has no leading zeros): a
    // float then, as serde reads it — and BigInt() would take minutes on a 100 MB literal
    const integer = m[1] === undefined && m[2] === undefined && m[0].length <= 21;
    return integer ? BigInt(m[0]) : Number(m[0]);
  }
}

/** A name as messages show it: quoted, and cut at 100 characters (a name can be megabytes long). */
function quote(name: string): string {
  return name.length > 100 ? `${JSON.stringify(name.slice(0, 100))}…` : JSON.stringify(name);
}

/** How a JSON value is shown in messages (bigints without JSON.stringify's complaint), at most ~200 characters. */
function show(v: Json | undefined): string {
  const text = showAll(v);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
function showAll(v: Json | undefined): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'bigint' || typeof v === 'number') return v.toString();
  if (Array.isArray(v)) return `[${v.map(showAll).join(',')}]`;
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `${JSON.stringify(k)}:${showAll(x)}`).join(',')}}`;
  return JSON.stringify(v);
}

function kind(v: Json | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Map) return 'an object';
  if (typeof v === 'bigint') return `the number ${v}`;
  if (typeof v === 'number') return `the number ${show(v)}`;
  return `${typeof v} ${show(v)}`;
}

// ───────────────────────────────────────────────────────────────────────────── load

interface Entry { name: string; dtype: string; shape: number[]; count: number; begin: number; end: number }

interface Header { entries: Entry[]; metadata: [string, string][]; data: Uint8Array }

/** float16 bits → number. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const isArrayBuffer = (x: unknown): x is ArrayBuffer =>
  x instanceof ArrayBuffer || Object.prototype.toString.call(x) === '[object ArrayBuffer]' ||
  Object.prototype.toString.call(x) === '[object SharedArrayBuffer]';

/**
 * The file's bytes as a plain Uint8Array over exactly them. A Node Buffer is re-viewed: its
 * slice() shares memory instead of copying, and its .buffer is often a shared pool.
 */
function toBytes(bytes: unknown, op: string): Uint8Array {
  const isView = ArrayBuffer.isView(bytes);
  if (!isView && !isArrayBuffer(bytes)) {
    throw new Error(`${op}: expected the file's bytes as a Uint8Array (a Node Buffer included), another ArrayBufferView or an ArrayBuffer, got ${showValue(bytes)}`);
  }
  let out: Uint8Array;
  try {
    out = isView ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes as ArrayBuffer);
  } catch {
    throw new Error(`${op}: the bytes' ArrayBuffer was detached (transferred to a worker or closed), so there is nothing to read`);
  }
  // bytes inside tapegrad's own memory would move when a tensor is allocated: copy them first
  return out.buffer === core.memory.buffer ? out.slice() : out;
}

/** Reads and checks the header: every entry, sorted by offset, and the data section. */
function parseHeader(buf: Uint8Array, op: string): Header {
  if (buf.length < 8) {
    throw new Error(`${op}: truncated file: ${buf.length} bytes, but a safetensors file starts with an 8-byte header length`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw new Error(`${op}: header length ${n} is larger than the limit of ${MAX_HEADER_BYTES} bytes (not a safetensors file?)`);
  const headerBytes = Number(n);
  if (8 + headerBytes > buf.length) {
    throw new Error(`${op}: truncated file: the header is ${headerBytes} bytes but only ${buf.length - 8} follow the length field`);
  }
  let text: string;
  try {
    // browsers' TextDecoder refuses views of a SharedArrayBuffer: decode a copy of those
    const shared = Object.prototype.toString.call(buf.buffer) === '[object SharedArrayBuffer]';
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(shared ? buf.slice(8, 8 + headerBytes) : buf.subarray(8, 8 + headerBytes));
  } catch {
    throw new Error(`${op}: the header is not valid UTF-8`);
  }
  const header = new JsonReader(text, op).read();
  if (!(header instanceof Map)) throw new Error(`${op}: the header must be a JSON object, got ${kind(header)}`);
  const data = buf.subarray(8 + headerBytes);
  const dataLength = BigInt(data.length);
  const entries: Entry[] = [];
  const metadata: [string, string][] = [];
  for (const [name, info] of header) {
    if (name === '__metadata__') {
      if (info === null) continue; // an absent map, as the reference reads it
      if (!(info instanceof Map)) throw new Error(`${op}: "__metadata__" must be an object from strings to strings, got ${kind(info)}`);
      for (const [k, v] of info) {
        if (typeof v !== 'string') throw new Error(`${op}: "__metadata__" must be an object from strings to strings, but ${quote(k)} is ${kind(v)}`);
        metadata.push([k, v]);
      }
      continue;
    }
    const at = `${op}: ${quote(name)}`;
    if (!(info instanceof Map)) throw new Error(`${at}: expected {dtype, shape, data_offsets}, got ${kind(info)}`);
    const dtype = info.get('dtype'), shape = info.get('shape'), offsets = info.get('data_offsets');
    if (typeof dtype !== 'string') throw new Error(`${at}: dtype must be a string, got ${kind(dtype)}`);
    const size = DTYPE_BYTES.get(dtype);
    if (size === undefined) {
      throw new Error(UNSUPPORTED_DTYPES.has(dtype)
        ? `${at}: dtype ${dtype} is not supported (tapegrad reads ${READ}, converting to float32)`
        : `${at}: unknown dtype ${JSON.stringify(dtype)} (tapegrad reads ${READ}, converting to float32)`);
    }
    if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'bigint' || d < 0n)) {
      throw new Error(`${at}: shape must be an array of integers ≥ 0, got ${show(shape)}`);
    }
    const dims = shape as bigint[];
    if (dims.length > MAX_RANK) throw new Error(`${at}: shape ${show(shape)} has ${dims.length} dims; tapegrad supports at most ${MAX_RANK}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => typeof o !== 'bigint' || o < 0n)) {
      throw new Error(`${at}: data_offsets must be [begin, end] integers ≥ 0, got ${show(offsets)}`);
    }
    const [begin, end] = offsets as bigint[];
    if (begin > end) throw new Error(`${at}: data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLength) {
      throw new Error(`${at}: data_offsets [${begin}, ${end}] are outside the buffer (the data section has ${dataLength} bytes; truncated file?)`);
    }
    // as the reference: a checked u64 product, left to right (so [2^32, 2^32, 0] overflows too)
    let count = 1n;
    for (const d of dims) if ((count *= d) > U64_MAX) break;
    if (count > U64_MAX || count * BigInt(size * 8) > U64_MAX) {
      throw new Error(`${at}: the element count of shape ${show(shape)} overflows (more than 2^64 bits of ${dtype})`);
    }
    if (count * BigInt(size) !== end - begin) {
      throw new Error(`${at}: shape ${show(shape)} of ${dtype} needs ${count * BigInt(size)} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    if (dims.some((d) => d > BigInt(MAX_DIM))) throw new Error(`${at}: shape ${show(shape)} has a size above ${MAX_DIM}, tapegrad's limit`);
    if (count * 4n > BigInt(MAX_TENSOR_BYTES)) {
      throw new Error(`${at}: shape ${show(shape)} as float32 needs ${count * 4n} bytes, more than WebAssembly memory can hold (${MAX_TENSOR_BYTES} bytes)`);
    }
    entries.push({ name, dtype, shape: dims.map(Number), count: Number(count), begin: Number(begin), end: Number(end) });
  }
  // The reference sorts by offsets and requires the entries to tile the data section exactly.
  const byOffset = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (let i = 0; i < byOffset.length; i++) {
    const e = byOffset[i];
    if (e.begin < covered) {
      const prev = byOffset[i - 1];
      throw new Error(`${op}: ${quote(prev.name)} [${prev.begin}, ${prev.end}] and ${quote(e.name)} [${e.begin}, ${e.end}] have overlapping data_offsets`);
    }
    if (e.begin > covered) {
      throw new Error(`${op}: bytes [${covered}, ${e.begin}) of the data section belong to no tensor (the next is ${quote(e.name)} at [${e.begin}, ${e.end}]); the data_offsets must tile the data with no gap`);
    }
    covered = e.end;
  }
  if (covered !== data.length) {
    throw new Error(`${op}: the data section has ${data.length} bytes but the tensors cover ${covered}: ${data.length - covered} trailing bytes belong to no tensor`);
  }
  return { entries, metadata, data };
}

/**
 * Checks that every value of an integer or bool tensor is exactly a float32 (BOOL: a byte 0 or
 * 1), naming the tensor, the index and the value otherwise. 8- and 16-bit integers always are.
 */
function checkValues(data: Uint8Array, e: Entry, op: string): void {
  if (e.count === 0) return;
  const view = new DataView(data.buffer, data.byteOffset + e.begin, e.end - e.begin);
  const bad = (i: number, value: string | number | bigint): never => {
    throw new Error(`${op}: ${quote(e.name)}: ${e.dtype} value ${value} at index ${i} ${e.dtype === 'BOOL' ? 'is not a bool (a byte 0 or 1)' : 'is not exactly representable in float32'}`);
  };
  switch (e.dtype) {
    case 'BOOL':
      for (let i = 0; i < e.count; i++) if (view.getUint8(i) > 1) bad(i, view.getUint8(i));
      break;
    case 'I32':
      for (let i = 0; i < e.count; i++) { const v = view.getInt32(i * 4, true); if (Math.fround(v) !== v) bad(i, v); }
      break;
    case 'U32':
      for (let i = 0; i < e.count; i++) { const v = view.getUint32(i * 4, true); if (Math.fround(v) !== v) bad(i, v); }
      break;
    case 'I64': case 'U64': {
      // v = hi·2^32 + lo. Below 2^53 that sum is exact; above, float32 holds only multiples of
      // 2^30 or more, whose sum is exact too — anything else has a low bit set in lo.
      const signed = e.dtype === 'I64';
      for (let i = 0; i < e.count; i++) {
        const lo = view.getUint32(i * 8, true);
        const hi = signed ? view.getInt32(i * 8 + 4, true) : view.getUint32(i * 8 + 4, true);
        const v = hi * 2 ** 32 + lo;
        const exact = (Math.abs(v) < 2 ** 53 || (lo & 0x3fffffff) === 0) && Math.fround(v) === v;
        if (!exact) bad(i, signed ? view.getBigInt64(i * 8, true) : view.getBigUint64(i * 8, true));
      }
      break;
    }
  }
}

/** Writes an entry's values, converted to float32, at element `at` of the WebAssembly heap. */
function fill(data: Uint8Array, e: Entry, at: number): void {
  const heap = heapF32();
  const n = e.count;
  if (e.dtype === 'F32' && littleEndian) {
    new Uint8Array(heap.buffer, at * 4, n * 4).set(data.subarray(e.begin, e.end));
    return;
  }
  const view = new DataView(data.buffer, data.byteOffset + e.begin, e.end - e.begin);
  switch (e.dtype) {
    case 'F32': for (let i = 0; i < n; i++) heap[at + i] = view.getFloat32(i * 4, true); break;
    case 'F64': for (let i = 0; i < n; i++) heap[at + i] = view.getFloat64(i * 8, true); break;
    case 'F16': for (let i = 0; i < n; i++) heap[at + i] = halfToFloat(view.getUint16(i * 2, true)); break;
    case 'BF16': {
      const bits = new Uint32Array(heap.buffer, at * 4, n);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      break;
    }
    case 'I8': for (let i = 0; i < n; i++) heap[at + i] = view.getInt8(i); break;
    case 'U8': case 'BOOL': for (let i = 0; i < n; i++) heap[at + i] = view.getUint8(i); break;
    case 'I16': for (let i = 0; i < n; i++) heap[at + i] = view.getInt16(i * 2, true); break;
    case 'U16': for (let i = 0; i < n; i++) heap[at + i] = view.getUint16(i * 2, true); break;
    case 'I32': for (let i = 0; i < n; i++) heap[at + i] = view.getInt32(i * 4, true); break;
    case 'U32': for (let i = 0; i < n; i++) heap[at + i] = view.getUint32(i * 4, true); break;
    // checked exact beforehand, so hi·2^32 + lo is computed exactly
    case 'I64': for (let i = 0; i < n; i++) heap[at + i] = view.getInt32(i * 8 + 4, true) * 2 ** 32 + view.getUint32(i * 8, true); break;
    case 'U64': for (let i = 0; i < n; i++) heap[at + i] = view.getUint32(i * 8 + 4, true) * 2 ** 32 + view.getUint32(i * 8, true); break;
  }
}

/**
 * Reads a safetensors file into a state dict {name: Tensor}, ready for Module.loadStateDict().
 * F32 is read as is; F16, BF16, F64, the integer dtypes (I8 I16 I32 I64 U8 U16 U32 U64) and BOOL
 * are converted to float32 — an integer that float32 cannot hold exactly is an error naming the
 * tensor. `bytes` is any ArrayBufferView (a Node Buffer from fs.readFileSync included) or an
 * ArrayBuffer or SharedArrayBuffer. The whole file is checked before any tensor is made: a bad
 * file throws an Error and creates nothing. The result has no prototype, so every name,
 * `__proto__` included, is plain data. The tensors are ordinary (not kept): load inside tidy() and copy them into a
 * module, or dispose them.
 *
 * @example
 * ```ts
 * const bytes = tg.save({ w: tg.tensor([[1, 2]]) });
 * tg.load(bytes).w.shape; // → [1, 2]
 * ```
 */
export function load(bytes: ArrayBufferView | ArrayBufferLike): Record<string, Tensor> {
  const buf = toBytes(bytes, 'load');
  const { entries, data } = parseHeader(buf, 'load');
  for (const e of entries) checkValues(data, e, 'load');
  const out = nameDict<Tensor>();
  const made: Tensor[] = [];
  try {
    for (const e of entries) {
      const t = newTensor(e.shape, 'load');
      made.push(t);
      if (e.count > 0) fill(data, e, core.dataOf(t.id) >>> 2);
      out[e.name] = t;
    }
  } catch (err) {
    for (const t of made) t.dispose();
    throw err;
  }
  return out;
}

/**
 * The `__metadata__` of a safetensors file ({} when it has none), after checking the whole header.
 *
 * @example
 * ```ts
 * const bytes = tg.save({ w: tg.zeros([1]) }, { epoch: '3' });
 * tg.loadMetadata(bytes); // → { epoch: '3' }
 * ```
 */
export function loadMetadata(bytes: ArrayBufferView | ArrayBufferLike): Record<string, string> {
  const { metadata } = parseHeader(toBytes(bytes, 'loadMetadata'), 'loadMetadata');
  const out = nameDict<string>();
  for (const [k, v] of metadata) out[k] = v;
  return out;
}
