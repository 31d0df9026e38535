// Reader and writer of the safetensors format (https://github.com/huggingface/safetensors): 8-byte little-endian
// header length N, N bytes of JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}}`
// padded with spaces to a multiple of 8, then the tensors' bytes. Hand-written: no maintained JavaScript package reads
// F16/BF16 into float32 and writes files byte-identical to the reference (Rust) writer; the format is small.
import { type FileHandle, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { syncDir, tempPathFor } from "@infialign/data";
import type { HostTensor, NamedTensors } from "../engine.js";
import { ModelError } from "../errors.js";

/** Data types this module writes. F32 is exact; F16 and BF16 round to nearest even (as torch's `.to()` does). */
export type SafetensorsWriteDtype = "F32" | "F16" | "BF16";

export interface SafetensorsWriteOptions {
  /** Element type in the file. @default "F32" */
  dtype?: SafetensorsWriteDtype;
  /** String pairs stored under `__metadata__` (transformers writes `{ format: "pt" }`). @default none (no `__metadata__` key) */
  metadata?: Record<string, string>;
}

export interface SafetensorsContents {
  /** Tensors in file order (by offset), converted to float32. */
  tensors: NamedTensors;
  /** `__metadata__`, or `{}` when the file has none. */
  metadata: Record<string, string>;
}

/** Element sizes of every dtype the format defines; the float and integer ones up to F64/I64 are readable here. */
const DTYPE_SIZES: Record<string, number> = { BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8 };
const READABLE = new Set(["BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]);
/** The reference reader refuses larger headers (safetensors `MAX_HEADER_SIZE`). */
const MAX_HEADER_BYTES = 100_000_000;
/** Integers beyond ±2^24 are not exactly representable in float32; converting them would silently corrupt ids or counts. */
const MAX_EXACT_INT = 2 ** 24;
/** Tensors are read from files in pieces no larger than this (Node's single read is capped at 2 GiB). */
const READ_CHUNK_BYTES = 1 << 30;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

const fail = (source: string, message: string, cause?: unknown): never => {
  throw new ModelError("safetensors", `${source}: ${message}`, cause === undefined ? undefined : { cause });
};

function assertLittleEndian(source: string): void {
  if (!LITTLE_ENDIAN) fail(source, "this host is big-endian; safetensors data is little-endian and is only supported on little-endian hosts.");
}

/**
 * Validates a header the way the reference reader does (`Metadata::validate`): known dtypes, non-negative integer
 * shapes, offsets that tile the data buffer from 0 to its end without gaps or overlaps, and `end - begin` equal to
 * elements × element size. Returns the tensors sorted by offset.
 */
function parseHeader(headerBytes: Uint8Array, dataBytes: number, source: string): { entries: TensorEntry[]; metadata: Record<string, string> } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch (error) {
    return fail(source, "the header is not valid UTF-8.", error);
  }
  if (!text.startsWith("{")) fail(source, `the header must be a JSON object starting with "{"; it starts with ${JSON.stringify(text.slice(0, 16))}.`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return fail(source, `the header is not valid JSON (${error instanceof Error ? error.message : String(error)}).`, error);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) return fail(source, "the header must be a JSON object.");
  const metadata: Record<string, string> = {};
  const entries: TensorEntry[] = [];
  for (const [name, info] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (info === null || typeof info !== "object" || Array.isArray(info)) fail(source, '"__metadata__" must be an object of strings.');
      for (const [key, value] of Object.entries(info as Record<string, unknown>)) {
        if (typeof value !== "string") fail(source, `"__metadata__"."${key}" must be a string; got ${JSON.stringify(value)}.`);
        metadata[key] = value as string;
      }
      continue;
    }
    const where = `tensor "${name}"`;
    if (info === null || typeof info !== "object" || Array.isArray(info)) return fail(source, `${where}: expected {dtype, shape, data_offsets}; got ${JSON.stringify(info)}.`);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (typeof dtype !== "string" || !(dtype in DTYPE_SIZES)) fail(source, `${where}: unknown dtype ${JSON.stringify(dtype)}; expected one of ${Object.keys(DTYPE_SIZES).join(", ")}.`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(source, `${where}: shape must be a list of non-negative integers; got ${JSON.stringify(shape)}.`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) fail(source, `${where}: data_offsets must be [begin, end] with non-negative integers; got ${JSON.stringify(offsets)}.`);
    const [begin, end] = offsets as [number, number];
    entries.push({ name, dtype: dtype as string, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expectedBegin = 0;
  for (const e of entries) {
    const where = `tensor "${e.name}"`;
    if (e.begin !== expectedBegin) {
      fail(source, e.begin < expectedBegin ? `${where}: data_offsets [${e.begin}, ${e.end}] overlap the previous tensor (which ends at ${expectedBegin}).` : `${where}: data_offsets [${e.begin}, ${e.end}] leave a gap after byte ${expectedBegin}; tensors must tile the data buffer.`);
    }
    if (e.end < e.begin) fail(source, `${where}: data_offsets [${e.begin}, ${e.end}] end before they begin.`);
    const elements = e.shape.reduce((a, b) => a * b, 1);
    const size = elements * (DTYPE_SIZES[e.dtype] as number);
    if (e.end - e.begin !== size) fail(source, `${where}: shape [${e.shape}] × ${e.dtype} is ${size} bytes but data_offsets [${e.begin}, ${e.end}] span ${e.end - e.begin}.`);
    if (e.end > dataBytes) fail(source, `${where}: data_offsets end at ${e.end}, beyond the ${dataBytes} bytes of data in the file.`);
    expectedBegin = e.end;
  }
  if (expectedBegin !== dataBytes) fail(source, `the tensors cover ${expectedBegin} bytes of data but the file holds ${dataBytes} after the header (truncated or trailing bytes).`);
  return { entries, metadata };
}

/** Header length from the first 8 bytes, checked against the file size. */
function headerLength(prefix: Uint8Array, fileBytes: number, source: string): number {
  if (fileBytes < 8) fail(source, `the file is ${fileBytes} bytes; a safetensors file starts with an 8-byte header length.`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(source, `the header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit of the reference reader (not a safetensors file?).`);
  if (n > BigInt(fileBytes - 8)) fail(source, `the header length ${n} runs past the end of the ${fileBytes}-byte file.`);
  return Number(n);
}

let f16Table: Float32Array | undefined;

/** float32 value of every IEEE-754 binary16 bit pattern (subnormals, ±inf and NaN payloads included). */
function f16ToF32Table(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) bits[h] = sign | 0x7f800000 | (mant << 13);
    else if (exp !== 0) bits[h] = sign | ((exp + 112) << 23) | (mant << 13);
    else table[h] = (sign ? -1 : 1) * mant * 2 ** -24;
  }
  f16Table = table;
  return table;
}

/** A typed view of `bytes` when its offset is aligned to `size`, else of an aligned copy. */
function alignedBuffer(bytes: Uint8Array, size: number): { buffer: ArrayBufferLike; byteOffset: number } {
  if (bytes.byteOffset % size === 0) return { buffer: bytes.buffer, byteOffset: bytes.byteOffset };
  return { buffer: bytes.slice().buffer, byteOffset: 0 };
}

/**
 * float32 values of a tensor's bytes. F32 at an aligned offset is returned as a view over `bytes` (no copy); every other
 * dtype is converted into a new array. F16/BF16 convert exactly; F64 rounds to nearest float32 (as `tensor.float()`);
 * integers must fit float32 exactly (|v| ≤ 2^24).
 */
function decodeTensor(entry: TensorEntry, bytes: Uint8Array, source: string, copy: boolean): Float32Array {
  const n = entry.end - entry.begin === 0 ? 0 : (entry.end - entry.begin) / (DTYPE_SIZES[entry.dtype] as number);
  const where = `tensor "${entry.name}"`;
  if (!READABLE.has(entry.dtype)) fail(source, `${where}: dtype ${entry.dtype} cannot be converted to float32 here; save the checkpoint as F32, F16 or BF16.`);
  const size = DTYPE_SIZES[entry.dtype] as number;
  const { buffer, byteOffset } = alignedBuffer(bytes, size);
  switch (entry.dtype) {
    case "F32": {
      const view = new Float32Array(buffer, byteOffset, n);
      return copy && buffer === bytes.buffer ? view.slice() : view;
    }
    case "BF16": {
      // bfloat16 is the top half of a float32: shifting the bits back up is exact.
      const src = new Uint16Array(buffer, byteOffset, n);
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = (src[i] as number) << 16;
      return out;
    }
    case "F16": {
      const src = new Uint16Array(buffer, byteOffset, n);
      const table = f16ToF32Table();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[src[i] as number] as number;
      return out;
    }
    case "F64":
      return Float32Array.from(new Float64Array(buffer, byteOffset, n));
    default: {
      const src = integerView(entry.dtype, buffer, byteOffset, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const v = Number(src[i]);
        if (Math.abs(v) > MAX_EXACT_INT) fail(source, `${where}: ${entry.dtype} value ${src[i]} at index ${i} is not exactly representable in float32 (|v| > 2^24).`);
        out[i] = v;
      }
      return out;
    }
  }
}

function integerView(dtype: string, buffer: ArrayBufferLike, byteOffset: number, n: number): ArrayLike<number | bigint> {
  switch (dtype) {
    case "BOOL":
    case "U8":
      return new Uint8Array(buffer, byteOffset, n);
    case "I8":
      return new Int8Array(buffer, byteOffset, n);
    case "I16":
      return new Int16Array(buffer, byteOffset, n);
    case "U16":
      return new Uint16Array(buffer, byteOffset, n);
    case "I32":
      return new Int32Array(buffer, byteOffset, n);
    case "U32":
      return new Uint32Array(buffer, byteOffset, n);
    case "I64":
      return new BigInt64Array(buffer, byteOffset, n);
    default:
      return new BigUint64Array(buffer, byteOffset, n);
  }
}

/**
 * Parses a whole safetensors file held in memory. F32 tensors whose data is 4-byte aligned in `bytes` (always the
 * case for files written by the reference writer or by this module, read into a fresh buffer) are Float32Array views
 * over `bytes` — no copy; the caller must not reuse `bytes` for something else while the tensors are alive.
 *
 * @param source file name used in error messages
 */
export function parseSafetensors(bytes: Uint8Array, source = "<bytes>"): SafetensorsContents {
  assertLittleEndian(source);
  const n = headerLength(bytes, bytes.length, source);
  const dataStart = 8 + n;
  const { entries, metadata } = parseHeader(bytes.subarray(8, dataStart), bytes.length - dataStart, source);
  const tensors: NamedTensors = new Map();
  for (const e of entries) {
    tensors.set(e.name, { shape: [...e.shape], data: decodeTensor(e, bytes.subarray(dataStart + e.begin, dataStart + e.end), source, false) });
  }
  return { tensors, metadata };
}

/**
 * Reads a safetensors file tensor by tensor: F32 data is read straight into the returned Float32Array (one copy, from
 * the page cache); F16/BF16 pass through a reused scratch buffer. Unlike `readFile`, it handles files over 2 GiB
 * (Qwen2.5-7B shards are ~4 GB).
 */
export async function readSafetensors(path: string): Promise<SafetensorsContents> {
  assertLittleEndian(path);
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    return fail(path, `cannot open the file (${error instanceof Error ? error.message : String(error)}).`, error);
  }
  try {
    const fileBytes = (await handle.stat()).size;
    const prefix = new Uint8Array(8);
    await readExactly(handle, prefix, 0, Math.min(8, fileBytes));
    const n = headerLength(prefix, fileBytes, path);
    const header = new Uint8Array(n);
    await readExactly(handle, header, 8, n);
    const dataStart = 8 + n;
    const { entries, metadata } = parseHeader(header, fileBytes - dataStart, path);
    const tensors: NamedTensors = new Map();
    let scratch = new Uint8Array(0);
    for (const e of entries) {
      const length = e.end - e.begin;
      let data: Float32Array;
      if (e.dtype === "F32") {
        data = new Float32Array(length / 4);
        await readExactly(handle, new Uint8Array(data.buffer), dataStart + e.begin, length);
      } else {
        if (scratch.length < length) scratch = new Uint8Array(length);
        const bytes = scratch.subarray(0, length);
        await readExactly(handle, bytes, dataStart + e.begin, length);
        data = decodeTensor(e, bytes, path, true);
      }
      tensors.set(e.name, { shape: [...e.shape], data });
    }
    return { tensors, metadata };
  } finally {
    await handle.close();
  }
}

async function readExactly(handle: FileHandle, target: Uint8Array, position: number, length: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(target, done, Math.min(length - done, READ_CHUNK_BYTES), position + done);
    if (bytesRead === 0) throw new ModelError("safetensors", `unexpected end of file at byte ${position + done} (the file changed while being read?).`);
    done += bytesRead;
  }
}

/** Rounds float32 bits to bfloat16, nearest even; NaN becomes the canonical quiet NaN 0x7FC0 (c10's `round_to_nearest_even`). */
function f32BitsToBf16(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  return ((bits + (((bits >>> 16) & 1) + 0x7fff)) >>> 16) & 0xffff;
}

/**
 * Rounds float32 bits to IEEE binary16, nearest even, with gradual underflow and overflow to ±inf; NaN keeps its sign
 * and becomes the quiet NaN 0x7E00 (as the FP16 library behind torch's `.half()` does).
 */
function f32BitsToF16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | (mant ? 0x7e00 : 0x7c00);
  const e = exp - 112; // binary16 biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal: the value is (1.mant) × 2^(exp-127) = m × 2^-24, m = full >> (14 - e).
    const full = mant | 0x800000;
    const shift = 14 - e;
    const m = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    return sign | (rem > half || (rem === half && m & 1) ? m + 1 : m);
  }
  const r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to ±inf).
  return sign | (rem > 0x1000 || (rem === 0x1000 && r & 1) ? r + 1 : r);
}

const ELEMENT_BYTES: Record<SafetensorsWriteDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** Bytes of one tensor in `dtype`, little-endian. */
function encodeTensor(tensor: HostTensor, dtype: SafetensorsWriteDtype): Uint8Array {
  const { data } = tensor;
  if (dtype === "F32") return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  const convert = dtype === "BF16" ? f32BitsToBf16 : f32BitsToF16;
  for (let i = 0; i < out.length; i++) out[i] = convert(bits[i] as number);
  return new Uint8Array(out.buffer);
}

/** Rust's `str::cmp`: UTF-8 byte order (differs from JavaScript's UTF-16 order for characters above U+FFFF). */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/**
 * Header bytes (length prefix + padded JSON) and the tensors in file order. Mirrors the reference writer's `prepare`:
 * tensors sorted by descending dtype alignment, then by name (all tensors here share one dtype, so by name), compact
 * JSON with `__metadata__` first, spaces up to a multiple of 8 bytes. Metadata keys are sorted (the Rust writer's
 * HashMap order is unspecified, so only single-key metadata such as transformers' `{format: "pt"}` is reproducible).
 */
function layout(tensors: NamedTensors, options: SafetensorsWriteOptions, source: string): { prefix: Uint8Array; order: [string, HostTensor][]; dtype: SafetensorsWriteDtype } {
  assertLittleEndian(source);
  const dtype = options.dtype ?? "F32";
  if (!(dtype in ELEMENT_BYTES)) fail(source, `dtype must be one of F32, F16, BF16; got ${JSON.stringify(dtype)}.`);
  const order = [...tensors].sort(([a], [b]) => compareUtf8(a, b));
  const header: Record<string, unknown> = {};
  if (options.metadata) {
    const meta: Record<string, string> = {};
    for (const key of Object.keys(options.metadata).sort(compareUtf8)) {
      const value = options.metadata[key];
      if (typeof value !== "string") fail(source, `metadata "${key}" must be a string; got ${JSON.stringify(value)}.`);
      meta[key] = value as string;
    }
    header.__metadata__ = meta;
  }
  let offset = 0;
  for (const [name, t] of order) {
    if (name === "__metadata__" || name === "") fail(source, `tensor name ${JSON.stringify(name)} is reserved or empty.`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(source, `tensor "${name}": shape must be non-negative integers; got ${JSON.stringify(t.shape)}.`);
    const elements = t.shape.reduce((a, b) => a * b, 1);
    if (!(t.data instanceof Float32Array) || t.data.length !== elements) fail(source, `tensor "${name}": shape [${t.shape}] needs ${elements} float32 values; got ${t.data?.length ?? "no"} ${t.data?.constructor?.name ?? ""}.`);
    const bytes = elements * ELEMENT_BYTES[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const prefix = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(padded), true);
  prefix.set(json, 8);
  return { prefix, order, dtype };
}

/**
 * Serializes tensors to safetensors bytes, byte-identical to `safetensors.torch.save_file` of the same float tensors
 * (same dtype, single-key or no metadata). NaN payloads: F32 keeps them bit for bit; F16/BF16 write canonical NaNs.
 */
export function serializeSafetensors(tensors: NamedTensors, options: SafetensorsWriteOptions = {}): Uint8Array {
  const { prefix, order, dtype } = layout(tensors, options, "<serialize>");
  const total = prefix.length + order.reduce((sum, [, t]) => sum + t.data.length * ELEMENT_BYTES[dtype], 0);
  const out = new Uint8Array(total);
  out.set(prefix, 0);
  let at = prefix.length;
  for (const [, t] of order) {
    const bytes = encodeTensor(t, dtype);
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}

/**
 * Writes a safetensors file atomically: into a temporary file beside `path`, then renamed over it, so readers never see
 * a partial file. Tensors are converted and written one at a time (no whole-file buffer).
 */
export async function writeSafetensors(path: string, tensors: NamedTensors, options: SafetensorsWriteOptions = {}): Promise<void> {
  const { prefix, order, dtype } = layout(tensors, options, path);
  const temp = tempPathFor(path);
  try {
    const handle = await open(temp, "w");
    try {
      await writeAll(handle, prefix);
      for (const [, t] of order) await writeAll(handle, encodeTensor(t, dtype));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    await syncDir(dirname(path));
  } catch (error) {
    await rm(temp, { force: true });
    if (error instanceof ModelError) throw error;
    fail(path, `cannot write the file (${error instanceof Error ? error.message : String(error)}).`, error);
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += (await handle.write(bytes, at, Math.min(bytes.length - at, READ_CHUNK_BYTES))).bytesWritten;
}

/** Bytes `tensors` occupy as `dtype` (what sharding budgets against). */
export function tensorBytes(tensor: HostTensor, dtype: SafetensorsWriteDtype = "F32"): number {
  return tensor.data.length * ELEMENT_BYTES[dtype];
}
