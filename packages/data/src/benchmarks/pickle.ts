// A deliberately tiny reader for one shape of Python pickle: a single `str`, as written by
// `pickle.dumps(json.dumps(tests))` in LiveCodeBench's `code_generation_lite` (protocols 2–5).
// It interprets only opcodes that push or memoize strings; everything else (GLOBAL, REDUCE, BUILD, …)
// throws, so no pickle can make it construct objects, let alone run code.

/** Thrown for bytes outside the supported subset or a malformed stream; `offset` is where reading stopped. */
export class PickleError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`[infialign/data] pickle: byte ${offset}: ${message}`);
    this.name = "PickleError";
  }
}

// Opcode bytes from CPython's Lib/pickle.py (pickle protocol spec, PEP 3154 for FRAME/MEMOIZE/BINUNICODE8).
const PROTO = 0x80;
const FRAME = 0x95;
const SHORT_BINUNICODE = 0x8c;
const BINUNICODE = 0x58; // 'X'
const BINUNICODE8 = 0x8d;
const MEMOIZE = 0x94;
const BINPUT = 0x71; // 'q'
const LONG_BINPUT = 0x72; // 'r'
const STOP = 0x2e; // '.'

const NAMES = new Map<number, string>([
  [0x28, "MARK"],
  [0x5d, "EMPTY_LIST"],
  [0x7d, "EMPTY_DICT"],
  [0x63, "GLOBAL"],
  [0x93, "STACK_GLOBAL"],
  [0x52, "REDUCE"],
  [0x62, "BUILD"],
  [0x69, "INST"],
  [0x6f, "OBJ"],
  [0x81, "NEWOBJ"],
  [0x4b, "BININT1"],
  [0x4a, "BININT"],
  [0x43, "SHORT_BINBYTES"],
  [0x68, "BINGET"],
]);

/**
 * Decodes a pickle whose only value is a `str` and returns it. Supported opcodes: PROTO, FRAME,
 * SHORT_BINUNICODE, BINUNICODE, BINUNICODE8, MEMOIZE, BINPUT, LONG_BINPUT, STOP. Throws `PickleError`
 * on any other opcode, truncated data, invalid UTF-8 or a stream that does not leave exactly one string.
 */
export function readPickledString(bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const stack: string[] = [];
  let pos = 0;
  const need = (n: number, what: string): void => {
    if (pos + n > bytes.length) throw new PickleError(`truncated ${what} (needs ${n} bytes, ${bytes.length - pos} left)`, pos);
  };
  const readText = (len: number, at: number): void => {
    if (!Number.isSafeInteger(len) || pos + len > bytes.length) throw new PickleError(`string length ${len} runs past the end`, at);
    try {
      stack.push(utf8.decode(bytes.subarray(pos, pos + len)));
    } catch (e) {
      throw new PickleError(`string is not valid UTF-8 (${(e as Error).message})`, at);
    }
    pos += len;
  };
  while (pos < bytes.length) {
    const at = pos;
    const op = bytes[pos++] as number;
    switch (op) {
      case PROTO: {
        need(1, "PROTO");
        const v = bytes[pos++] as number;
        if (v < 2 || v > 5) throw new PickleError(`unsupported protocol ${v} (expected 2–5)`, at);
        break;
      }
      case FRAME: // Frame length only groups reads; the opcodes inside are read as usual.
        need(8, "FRAME");
        pos += 8;
        break;
      case SHORT_BINUNICODE:
        need(1, "SHORT_BINUNICODE length");
        pos += 1;
        readText(bytes[at + 1] as number, at);
        break;
      case BINUNICODE:
        need(4, "BINUNICODE length");
        pos += 4;
        readText(view.getUint32(at + 1, true), at);
        break;
      case BINUNICODE8: {
        need(8, "BINUNICODE8 length");
        pos += 8;
        readText(Number(view.getBigUint64(at + 1, true)), at);
        break;
      }
      case MEMOIZE: // The memo only serves back-references (BINGET), which a lone string never has.
        break;
      case BINPUT:
        need(1, "BINPUT index");
        pos += 1;
        break;
      case LONG_BINPUT:
        need(4, "LONG_BINPUT index");
        pos += 4;
        break;
      case STOP:
        if (pos !== bytes.length) throw new PickleError(`${bytes.length - pos} trailing bytes after STOP`, at);
        if (stack.length !== 1) throw new PickleError(`STOP with ${stack.length} values on the stack (expected one string)`, at);
        return stack[0] as string;
      default:
        throw new PickleError(
          `unsupported opcode 0x${op.toString(16).padStart(2, "0")}${NAMES.has(op) ? ` (${NAMES.get(op)})` : ""}; only a pickled str (PROTO, FRAME, *BINUNICODE*, MEMOIZE, BINPUT, STOP) is read`,
          at,
        );
    }
  }
  throw new PickleError("no STOP opcode", pos);
}
