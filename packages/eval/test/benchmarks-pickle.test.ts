import { deflateSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeTestCases } from "../src/benchmarks/liveCodeBench.js";
import { PickleError, readPickledString } from "../src/benchmarks/pickle.js";

// Hand-built from the pickle spec (CPython Lib/pickle.py, PEP 3154): PROTO v, FRAME <u64 len>, then
// SHORT_BINUNICODE <u8 len> / BINUNICODE <u32 len> / BINUNICODE8 <u64 len> + UTF-8, MEMOIZE, STOP.
function pickleStr(s: string, opts: { proto?: number; op?: "short" | "4" | "8"; frame?: boolean; memo?: "memoize" | "binput" | "none" } = {}): Uint8Array {
  const text = Buffer.from(s, "utf8");
  const op = opts.op ?? (text.length < 256 ? "short" : "4");
  const head = op === "short" ? Buffer.from([0x8c, text.length]) : Buffer.alloc(op === "4" ? 5 : 9);
  if (op === "4") {
    head[0] = 0x58;
    head.writeUInt32LE(text.length, 1);
  } else if (op === "8") {
    head[0] = 0x8d;
    head.writeBigUInt64LE(BigInt(text.length), 1);
  }
  const memo = opts.memo ?? "memoize";
  const body = Buffer.concat([head, text, memo === "memoize" ? Buffer.from([0x94]) : memo === "binput" ? Buffer.from([0x71, 0]) : Buffer.alloc(0), Buffer.from([0x2e])]);
  const proto = Buffer.from([0x80, opts.proto ?? 4]);
  if (opts.frame === false) return Buffer.concat([proto, body]);
  const frame = Buffer.alloc(9);
  frame[0] = 0x95;
  frame.writeBigUInt64LE(BigInt(body.length), 1);
  return Buffer.concat([proto, frame, body]);
}

const TESTS = [
  { input: "3\n1 2 3\n", output: "6\n", testtype: "stdin" },
  { input: "2\n-5 5\n", output: "0\n", testtype: "stdin" },
];

// Produced by Python 3.11: base64.b64encode(zlib.compress(pickle.dumps(json.dumps(TESTS), protocol=P))).
const PYTHON_FIXTURES: Record<number, string> = {
  3: "eJxrYI6oZWBgiK5WyswrKC1RslJQMo7JM1QwUgBSSjoKSvmlJVBxM4hASWpxSUllQSpIqLgkJTNPqVZHAUm7UUyerqmCKbpuA5y6YwsZ9AA+vyeG",
  4: "eJxrYJnayAABPbXR1UqZeQWlJUpWCkrGMXmGCkYKQEpJR0Epv7QEKm4GEShJLS4pqSxIBQkVl6Rk5inV6iggaTeKydM1VTBF122AU3fsFD0AyGAo9A==",
  5: "eJxrYJ3ayAABPbXR1UqZeQWlJUpWCkrGMXmGCkYKQEpJR0Epv7QEKm4GEShJLS4pqSxIBQkVl6Rk5inV6iggaTeKydM1VTBF122AU3fsFD0AyOso9Q==",
};

describe("readPickledString", () => {
  it("reads the exact bytes Python writes for a short str (protocol 4 and 5)", () => {
    // pickle.dumps('é∑', protocol=5).hex()
    expect(readPickledString(Buffer.from("80059509000000000000008c05c3a9e28891942e", "hex"))).toBe("é∑");
  });

  it("reads hand-built pickles with every supported string opcode", () => {
    for (const op of ["short", "4", "8"] as const) {
      for (const memo of ["memoize", "binput", "none"] as const) {
        expect(readPickledString(pickleStr("hello [1, 2]", { op, memo }))).toBe("hello [1, 2]");
      }
    }
    expect(readPickledString(pickleStr("x".repeat(70_000), { proto: 2, frame: false }))).toBe("x".repeat(70_000));
  });

  it("round-trips any string (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), fc.constantFrom("short", "4", "8") as fc.Arbitrary<"short" | "4" | "8">, (s, op) => {
        const useOp = op === "short" && Buffer.byteLength(s) > 255 ? "4" : op;
        expect(readPickledString(pickleStr(s, { op: useOp }))).toBe(s);
      }),
    );
  });

  it("refuses anything but a string, naming the opcode", () => {
    // pickle.dumps(os.system) style: GLOBAL 'os\nsystem' then STOP.
    const global = Buffer.concat([Buffer.from([0x80, 0x02, 0x63]), Buffer.from("os\nsystem\n"), Buffer.from([0x2e])]);
    expect(() => readPickledString(global)).toThrow(/byte 2: unsupported opcode 0x63 \(GLOBAL\)/);
    const reduce = Buffer.concat([pickleStr("echo").subarray(0, -1), Buffer.from([0x52, 0x2e])]);
    expect(() => readPickledString(reduce)).toThrow(PickleError);
    expect(() => readPickledString(Buffer.from([0x80, 0x04, 0x5d, 0x94, 0x2e]))).toThrow(/EMPTY_LIST/);
  });

  it("rejects malformed streams", () => {
    expect(() => readPickledString(Buffer.from([0x80, 0x04, 0x8c, 0x05, 0x61]))).toThrow(/runs past the end/);
    expect(() => readPickledString(Buffer.from([0x80, 0x04, 0x8c, 0x01, 0x61]))).toThrow(/no STOP/);
    expect(() => readPickledString(Buffer.from([0x80, 0x04, 0x2e]))).toThrow(/0 values/);
    expect(() => readPickledString(Buffer.from([0x80, 0x04, 0x8c, 0x01, 0x61, 0x8c, 0x01, 0x62, 0x2e]))).toThrow(/2 values/);
    expect(() => readPickledString(Buffer.from([0x80, 0x04, 0x8c, 0x01, 0xff, 0x2e]))).toThrow(/UTF-8/);
    expect(() => readPickledString(Buffer.from([0x80, 0x09, 0x2e]))).toThrow(/protocol 9/);
    expect(() => readPickledString(Buffer.concat([pickleStr("a"), Buffer.from([0])]))).toThrow(/trailing/);
  });

  it("only ever returns a string or throws PickleError on random bytes (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          expect(typeof readPickledString(bytes)).toBe("string");
        } catch (e) {
          expect(e).toBeInstanceOf(PickleError);
        }
      }),
    );
  });
});

describe("decodeTestCases", () => {
  it("decodes Python's base64 → zlib → pickle fixtures (protocols 3, 4, 5)", () => {
    for (const p of [3, 4, 5]) expect(decodeTestCases(PYTHON_FIXTURES[p])).toEqual(TESTS);
  });

  it("decodes plain JSON, already-parsed lists and empty values", () => {
    expect(decodeTestCases(JSON.stringify(TESTS))).toEqual(TESTS);
    expect(decodeTestCases(TESTS)).toEqual(TESTS);
    expect(decodeTestCases("")).toEqual([]);
    expect(decodeTestCases(undefined)).toEqual([]);
  });

  it("decodes a hand-built compressed pickle and reports bad payloads", () => {
    const b64 = deflateSync(pickleStr(JSON.stringify(TESTS))).toString("base64");
    expect(decodeTestCases(b64)).toEqual(TESTS);
    expect(() => decodeTestCases("bm90IHpsaWI=", "private_test_cases")).toThrow(/private_test_cases are neither JSON nor base64/);
    expect(() => decodeTestCases('[{"input": 1}]')).toThrow(/\[0\] must be \{input: string/);
  });
});
