import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { NamedTensors } from "../src/engine.js";
import { ModelError } from "../src/errors.js";
import { parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors } from "../src/weights/safetensors.js";

const dir = mkdtempSync(join(tmpdir(), "infialign-safetensors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const f32 = (bits: readonly number[]) => new Float32Array(new Uint32Array(bits).buffer);
const bitsOf = (data: Float32Array) => [...new Uint32Array(data.buffer, data.byteOffset, data.length)];
const one = (name: string, shape: number[], data: Float32Array): NamedTensors => new Map([[name, { shape, data }]]);

/** A file from a header (object or raw string) and data bytes, with the 8-byte length prefix. */
function file(header: unknown, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe("byte layout of the reference writer (safetensors/src/tensor.rs tests)", () => {
  const values = new Float32Array([0, 1, 2, 3, 4, 5]);
  it("test_serialization: one F32 tensor", () => {
    const out = serializeSafetensors(one("attn.0", [1, 2, 3], values));
    expect([...out]).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
      58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
      0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
    const parsed = parseSafetensors(out);
    expect(parsed.tensors.get("attn.0")).toEqual({ shape: [1, 2, 3], data: values });
    expect(parsed.metadata).toEqual({});
  });

  it("test_serialization_forced_alignement: header padded with spaces to a multiple of 8", () => {
    const out = serializeSafetensors(one("attn0", [1, 1, 2, 3], values));
    expect([...out]).toEqual([
      72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
      91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
      32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
  });

  it("test_empty: no tensors, with and without metadata", () => {
    expect([...serializeSafetensors(new Map())]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    expect([...serializeSafetensors(new Map(), { metadata: { framework: "pt" } })]).toEqual([
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
      116, 34, 125, 125, 32, 32, 32, 32, 32,
    ]);
    expect(parseSafetensors(serializeSafetensors(new Map(), { metadata: { framework: "pt" } })).metadata).toEqual({ framework: "pt" });
  });

  it("orders tensors by name in UTF-8 byte order (Rust's str::cmp), not insertion or UTF-16 order", () => {
    const names = ["b", "\u{10000}", "a.10", "\uffff", "a.9", "B"];
    const tensors: NamedTensors = new Map(names.map((n) => [n, { shape: [1], data: new Float32Array([names.indexOf(n)]) }]));
    const parsed = parseSafetensors(serializeSafetensors(tensors));
    expect([...parsed.tensors.keys()]).toEqual(["B", "a.10", "a.9", "b", "\uffff", "\u{10000}"]);
    for (const n of names) expect(parsed.tensors.get(n)?.data[0]).toBe(names.indexOf(n));
  });
});

describe("round trips", () => {
  const name = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).filter((s) => s !== "__metadata__");
  const shape = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 });
  const tensors = fc.uniqueArray(fc.tuple(name, shape), { selector: ([n]) => n, maxLength: 6 });

  it("F32 is bit-exact for any values (-0, ±inf, NaN payloads included) and names", () => {
    fc.assert(
      fc.property(tensors, fc.integer(), (specs, seed) => {
        let state = seed >>> 0;
        const input: NamedTensors = new Map();
        for (const [n, s] of specs) {
          const size = s.reduce((a, b) => a * b, 1);
          // Random 32-bit patterns cover every float32 class, NaNs with arbitrary payloads too.
          const bits = Array.from({ length: size }, () => {
            state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
            return state;
          });
          input.set(n, { shape: s, data: f32(bits) });
        }
        const parsed = parseSafetensors(serializeSafetensors(input, { metadata: { format: "pt" } }));
        expect(parsed.tensors.size).toBe(input.size);
        for (const [n, t] of input) {
          const got = parsed.tensors.get(n);
          expect(got?.shape).toEqual(t.shape);
          expect(bitsOf(got?.data ?? new Float32Array())).toEqual(bitsOf(t.data));
        }
      }),
      { seed: 42, numRuns: 150 },
    );
  });

  it("BF16 is exact for every bfloat16-representable value; NaN becomes 0x7FC0", () => {
    const patterns = Array.from({ length: 65536 }, (_, h) => h << 16);
    const data = f32(patterns);
    const parsed = parseSafetensors(serializeSafetensors(one("w", [256, 256], data), { dtype: "BF16" }));
    const got = bitsOf(parsed.tensors.get("w")?.data as Float32Array);
    const expected = patterns.map((bits, h) => ((h & 0x7fff) > 0x7f80 ? 0x7fc00000 : bits >>> 0));
    expect(got).toEqual(expected);
  });

  it("BF16 rounds to nearest even", () => {
    const x = f32([0x3f808000, 0x3f818000, 0x3f808001, 0x7f7fffff, 0x80000001]); // 1+2^-8 (tie), 1+3·2^-8 (tie), just above a tie, max float, -denormal
    const out = serializeSafetensors(one("w", [5], x), { dtype: "BF16" });
    expect([...new Uint16Array(out.slice(out.length - 10).buffer)]).toEqual([0x3f80, 0x3f82, 0x3f81, 0x7f80, 0x8000]);
  });

  it("F16 decodes every bit pattern and re-encodes it unchanged (subnormals, ±inf; NaN → 0x7E00 with its sign)", () => {
    const bytes = new Uint16Array(65536).map((_, h) => h);
    const parsed = parseSafetensors(file({ h: { dtype: "F16", shape: [65536], data_offsets: [0, 131072] } }, new Uint8Array(bytes.buffer)));
    const values = parsed.tensors.get("h")?.data as Float32Array;
    expect(values[0x0001]).toBe(2 ** -24);
    expect(values[0x03ff]).toBe(1023 * 2 ** -24);
    expect(values[0x3c00]).toBe(1);
    expect(values[0x7bff]).toBe(65504);
    expect(values[0x7c00]).toBe(Number.POSITIVE_INFINITY);
    expect(values[0xfc00]).toBe(Number.NEGATIVE_INFINITY);
    expect(Object.is(values[0x8000], -0)).toBe(true);
    const out = serializeSafetensors(one("h", [65536], values), { dtype: "F16" });
    const back = new Uint16Array(out.slice(out.length - 131072).buffer);
    const expected = [...bytes].map((h) => ((h & 0x7fff) > 0x7c00 ? (h & 0x8000) | 0x7e00 : h));
    expect([...back]).toEqual(expected);
  });

  it("F16 rounding equals numpy's float32 → float16 cast (nearest even, gradual underflow, overflow to inf)", () => {
    // [float32 bits, float16 bits] from numpy 2.4: np.float32(v).astype(np.float16)
    const golden = [
      [0x3dfbef77, 0x2fdf], [0x36487c18, 0x0032], [0xc6d62b92, 0xf6b1], [0xbc11ea21, 0xa08f], [0xbb94fc8d, 0x9ca8], [0xbdcb16d7, 0xae59],
      [0x3d765923, 0x2bb3], [0x3e093cf0, 0x304a], [0xbd499b98, 0xaa4d], [0xc7725f7d, 0xfb93], [0x43f4ebc8, 0x5fa7], [0x43b27189, 0x5d94],
      [0x477fef00, 0x7bff], [0x477ff000, 0x7c00], [0x33000000, 0x0000], [0x33400000, 0x0001], [0x33c00000, 0x0002], [0x34200000, 0x0002],
      [0x3f801000, 0x3c00], [0x3f803000, 0x3c02], [0x80000000, 0x8000], [0x0da24260, 0x0000], [0x4788b800, 0x7c00],
    ] as const;
    const out = serializeSafetensors(one("x", [golden.length], f32(golden.map(([b]) => b))), { dtype: "F16" });
    expect([...new Uint16Array(out.slice(out.length - 2 * golden.length).buffer)]).toEqual(golden.map(([, h]) => h));
  });

  it("returns F32 tensors as views over the input bytes (no copy)", () => {
    const bytes = serializeSafetensors(new Map([["a", { shape: [3], data: new Float32Array([1, 2, 3]) }], ["b", { shape: [1], data: new Float32Array([4]) }]]));
    const parsed = parseSafetensors(bytes);
    expect(parsed.tensors.get("a")?.data.buffer).toBe(bytes.buffer);
    // Misaligned input (a subarray at an odd offset) is copied instead.
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const copy = parseSafetensors(shifted.subarray(1));
    expect(copy.tensors.get("b")?.data).toEqual(new Float32Array([4]));
  });

  it("writes atomically and reads back from disk bit-exact in every dtype", async () => {
    const tensors: NamedTensors = new Map([
      ["model.embed_tokens.weight", { shape: [2, 3], data: new Float32Array([0.5, -1, 3.25, 0, -0, 1024]) }],
      ["model.norm.weight", { shape: [3], data: new Float32Array([1, 2, 4]) }],
      ["scalar", { shape: [], data: new Float32Array([7]) }],
      ["empty", { shape: [0, 4], data: new Float32Array(0) }],
    ]);
    for (const dtype of ["F32", "F16", "BF16"] as const) {
      const path = join(dir, `rt-${dtype}.safetensors`);
      await writeSafetensors(path, tensors, { dtype, metadata: { format: "pt" } });
      expect(readFileSync(path)).toEqual(Buffer.from(serializeSafetensors(tensors, { dtype, metadata: { format: "pt" } })));
      const read = await readSafetensors(path);
      expect(read.metadata).toEqual({ format: "pt" });
      for (const [n, t] of tensors) {
        expect(read.tensors.get(n)?.shape).toEqual(t.shape);
        expect(bitsOf(read.tensors.get(n)?.data as Float32Array)).toEqual(bitsOf(t.data));
      }
    }
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });
});

describe("other dtypes on read", () => {
  it("converts F64 (rounded), integers and BOOL to float32", () => {
    const f64 = new Float64Array([0.1, -2.5]);
    const i64 = new BigInt64Array([-3n, 16777216n]);
    const i32 = new Int32Array([7, -8]);
    const u8 = new Uint8Array([255, 0, 1, 0]);
    const data = new Uint8Array(16 + 16 + 8 + 4);
    data.set(new Uint8Array(f64.buffer), 0);
    data.set(new Uint8Array(i64.buffer), 16);
    data.set(new Uint8Array(i32.buffer), 32);
    data.set(u8, 40);
    const parsed = parseSafetensors(
      file(
        {
          d: { dtype: "F64", shape: [2], data_offsets: [0, 16] },
          l: { dtype: "I64", shape: [2], data_offsets: [16, 32] },
          i: { dtype: "I32", shape: [2], data_offsets: [32, 40] },
          u: { dtype: "U8", shape: [2], data_offsets: [40, 42] },
          b: { dtype: "BOOL", shape: [2], data_offsets: [42, 44] },
        },
        data,
      ),
    );
    expect(parsed.tensors.get("d")?.data).toEqual(new Float32Array([0.1, -2.5]));
    expect([...(parsed.tensors.get("l")?.data ?? [])]).toEqual([-3, 16777216]);
    expect([...(parsed.tensors.get("i")?.data ?? [])]).toEqual([7, -8]);
    expect([...(parsed.tensors.get("u")?.data ?? [])]).toEqual([255, 0]);
    expect([...(parsed.tensors.get("b")?.data ?? [])]).toEqual([1, 0]);
  });

  it("rejects integers float32 cannot hold exactly and FP8", () => {
    const big = new Uint8Array(new BigInt64Array([16777217n]).buffer);
    expect(() => parseSafetensors(file({ l: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, big))).toThrow(/tensor "l": I64 value 16777217 .*not exactly representable/);
    expect(() => parseSafetensors(file({ q: { dtype: "F8_E4M3", shape: [2], data_offsets: [0, 2] } }, new Uint8Array(2)))).toThrow(/tensor "q": dtype F8_E4M3 cannot be converted/);
  });
});

describe("malformed files are rejected with the file, tensor and expectation named", () => {
  const ok = { w: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  const cases: [string, Uint8Array, RegExp][] = [
    ["shorter than the length prefix", new Uint8Array(5), /bad\.safetensors: the file is 5 bytes/],
    ["header length beyond the file", file(ok, new Uint8Array(8), 1000n), /header length 1000 runs past the end/],
    ["absurd header length", file(ok, new Uint8Array(8), 2n ** 62n), /exceeds the 100000000-byte limit/],
    ["header not UTF-8", file("{\xff}"), /not valid UTF-8|not valid JSON/],
    ["header not an object", file("[1,2]"), /must be a JSON object starting with "\{"/],
    ["header not JSON", file("{nope"), /not valid JSON/],
    ["unknown dtype", file({ w: { dtype: "F12", shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8)), /tensor "w": unknown dtype "F12"; expected one of BOOL/],
    ["bad shape", file({ w: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, new Uint8Array(8)), /tensor "w": shape must be a list of non-negative integers/],
    ["bad offsets", file({ w: { dtype: "F32", shape: [2], data_offsets: [0] } }, new Uint8Array(8)), /tensor "w": data_offsets must be \[begin, end\]/],
    ["tensor info not an object", file({ w: 3 }), /tensor "w": expected \{dtype, shape, data_offsets\}/],
    ["shape × dtype ≠ span", file({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), /tensor "w": shape \[3\] × F32 is 12 bytes but data_offsets \[0, 8\] span 8/],
    [
      "overlapping tensors",
      file({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)),
      /tensor "b": data_offsets \[4, 8\] overlap the previous tensor/,
    ],
    ["a gap", file({ a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), /tensor "a": data_offsets \[4, 8\] leave a gap after byte 0/],
    ["truncated data", file(ok, new Uint8Array(4)), /tensor "w": data_offsets end at 8, beyond the 4 bytes/],
    ["trailing bytes", file(ok, new Uint8Array(12)), /cover 8 bytes of data but the file holds 12/],
    ["metadata value not a string", file({ __metadata__: { format: 1 } }), /"__metadata__"\."format" must be a string/],
  ];
  it.each(cases)("%s", (_name, bytes, message) => {
    const error = (() => {
      try {
        parseSafetensors(bytes, "bad.safetensors");
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ModelError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain("bad.safetensors");
  });

  it("readSafetensors names the path (missing file, malformed file)", async () => {
    await expect(readSafetensors(join(dir, "missing.safetensors"))).rejects.toThrow(/missing\.safetensors: cannot open the file/);
    const path = join(dir, "truncated.safetensors");
    writeFileSync(path, file(ok, new Uint8Array(4)));
    await expect(readSafetensors(path)).rejects.toThrow(/truncated\.safetensors: tensor "w": data_offsets end at 8/);
  });

  it("rejects tensors whose data does not match their shape on write", () => {
    expect(() => serializeSafetensors(one("w", [2, 2], new Float32Array(3)))).toThrow(/tensor "w": shape \[2,2\] needs 4 float32 values; got 3/);
    expect(() => serializeSafetensors(one("__metadata__", [1], new Float32Array(1)))).toThrow(/reserved/);
  });
});
