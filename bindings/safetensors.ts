// save / load in the safetensors format (https://github.com/huggingface/safetensors), so weights
// move to and from PyTorch and Hugging Face tools. Pure TypeScript over Uint8Array / DataView:
// no Node built-ins, so it works in browsers.
//
// Layout: 8 bytes little-endian u64 N, then N bytes of UTF-8 JSON
//   {"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}
// padded with spaces so the data starts 8-byte aligned, then the data; offsets count from the
// start of the data and every tensor is row-major little-endian.
import { Tensor, tensor } from './tensor';
import { fmt } from './shape';

/** The dtypes load() reads (each converted to float32); save() writes F32. */
const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** Larger headers are rejected, as the reference implementation does (100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? (x.constructor?.name ?? 'object') : typeof x;
}

/**
 * Serialises a state dict (names to float32 tensors, as Module.stateDict() returns) in the
 * safetensors format. `metadata` (string values) goes in the header's `__metadata__`. Names are
 * written sorted, each tensor's data in the same order.
 */
export function save(stateDict: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  if (stateDict === null || typeof stateDict !== 'object' || Array.isArray(stateDict) || stateDict instanceof Tensor) {
    throw new Error(`save: expected an object from names to tensors, got ${describe(stateDict)}`);
  }
  const names = Object.keys(stateDict).sort();
  const header: [string, unknown][] = []; // built as pairs: a plain object would put integer-like names first
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) throw new Error(`save: metadata must be an object from strings to strings, got ${describe(metadata)}`);
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`save: metadata value for "${k}" must be a string, got ${describe(v)}`);
    }
    header.push(['__metadata__', { ...metadata }]);
  }
  const datas: Float32Array[] = [];
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new Error('save: "__metadata__" is reserved for metadata and cannot name a tensor');
    if (name === '') throw new Error('save: a tensor name cannot be empty');
    const t = stateDict[name];
    if (!(t instanceof Tensor)) throw new Error(`save: "${name}" must be a Tensor, got ${describe(t)}`);
    if (t.isDisposed) throw new Error(`save: "${name}" was disposed and cannot be saved`);
    const data = t.data();
    header.push([name, { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + data.length * 4] }]);
    datas.push(data);
    offset += data.length * 4;
  }
  const json = new TextEncoder().encode(`{${header.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
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

interface Entry { name: string; dtype: string; shape: number[]; begin: number; end: number }

/** float16 bits → number. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function decode(bytes: Uint8Array, e: Entry, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + e.begin, e.end - e.begin);
  const out = new Float32Array(count);
  switch (e.dtype) {
    case 'F32':
      if (littleEndian) out.set(new Float32Array(bytes.slice(e.begin, e.end).buffer));
      else for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      break;
    case 'BF16': {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      break;
    }
  }
  return out;
}

function toBytes(bytes: unknown): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new Error(`load: expected the file's bytes as a Uint8Array or ArrayBuffer, got ${describe(bytes)}`);
}

/** Reads and checks the header: the tensor entries (by offset) and where the data starts. */
function parseHeader(bytes: Uint8Array): { entries: Entry[]; dataStart: number } {
  if (bytes.length < 8) {
    throw new Error(`load: truncated file: ${bytes.length} bytes, but a safetensors file starts with an 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const low = view.getUint32(0, true), high = view.getUint32(4, true);
  const n = high * 2 ** 32 + low;
  if (n > MAX_HEADER_BYTES) throw new Error(`load: header length ${n} is larger than the limit of ${MAX_HEADER_BYTES} bytes (not a safetensors file?)`);
  if (8 + n > bytes.length) {
    throw new Error(`load: truncated file: the header is ${n} bytes but only ${bytes.length - 8} follow the length field`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (err) {
    throw new Error(`load: the header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new Error(`load: the header must be a JSON object, got ${describe(header)}`);
  }
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (info === null || typeof info !== 'object' || Array.isArray(info) || Object.values(info).some((v) => typeof v !== 'string')) {
        throw new Error('load: "__metadata__" must be an object from strings to strings');
      }
      continue;
    }
    if (info === null || typeof info !== 'object' || Array.isArray(info)) {
      throw new Error(`load: "${name}": expected {dtype, shape, data_offsets}, got ${describe(info)}`);
    }
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (typeof dtype !== 'string') throw new Error(`load: "${name}": dtype must be a string, got ${describe(dtype)}`);
    if (!Object.prototype.hasOwnProperty.call(DTYPE_BYTES, dtype)) {
      throw new Error(`load: "${name}": unsupported dtype ${dtype} (tapegrad reads ${Object.keys(DTYPE_BYTES).join(', ')}, converting to float32)`);
    }
    if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)) {
      throw new Error(`load: "${name}": shape must be an array of integers ≥ 0, got ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => typeof o !== 'number' || !Number.isInteger(o) || o < 0)) {
      throw new Error(`load: "${name}": data_offsets must be [begin, end] integers ≥ 0, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (begin > end) throw new Error(`load: "${name}": data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLength) {
      throw new Error(`load: "${name}": data_offsets [${begin}, ${end}] are outside the buffer (the data section has ${dataLength} bytes; truncated file?)`);
    }
    const count = shape.reduce((a: number, d: number) => a * d, 1);
    const expected = count * DTYPE_BYTES[dtype];
    if (end - begin !== expected) {
      throw new Error(`load: "${name}": shape ${fmt(shape)} of ${dtype} needs ${expected} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    entries.push({ name, dtype, shape: shape.slice(), begin, end });
  }
  const byOffset = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1], cur = byOffset[i];
    if (cur.begin < prev.end) {
      throw new Error(`load: "${prev.name}" [${prev.begin}, ${prev.end}] and "${cur.name}" [${cur.begin}, ${cur.end}] have overlapping data_offsets`);
    }
  }
  return { entries, dataStart };
}

/**
 * Reads a safetensors file (F32, or F16 / BF16 / F64 converted to float32) into a state dict:
 * {name: Tensor}, ready for Module.loadStateDict(). The tensors are ordinary (not kept):
 * load inside tidy() and copy them into a module, or dispose them when done.
 */
export function load(bytes: Uint8Array | ArrayBuffer): Record<string, Tensor> {
  const buf = toBytes(bytes);
  const { entries, dataStart } = parseHeader(buf);
  const data = buf.subarray(dataStart);
  const out: Record<string, Tensor> = {};
  try {
    for (const e of entries) {
      const count = e.shape.reduce((a, d) => a * d, 1);
      out[e.name] = tensor(decode(data, e, count), { shape: e.shape }, 'load');
    }
  } catch (err) {
    for (const t of Object.values(out)) t.dispose();
    throw err;
  }
  return out;
}

/** The `__metadata__` of a safetensors file ({} when it has none). */
export function loadMetadata(bytes: Uint8Array | ArrayBuffer): Record<string, string> {
  const buf = toBytes(bytes);
  parseHeader(buf);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + n))) as Record<string, unknown>;
  return { ...((header.__metadata__ as Record<string, string> | undefined) ?? {}) };
}
