import { endianness } from "node:os";

interface ArchTable {
  /** AUDIT_ARCH_* of the native ABI. */
  arch: number;
  /** x86-64 also accepts x32 calls (numbers with bit 30 set); they are all denied. */
  x32: boolean;
  /** unshare, clone and clone3: creating a user namespace is denied; clone3 hides its flags, so it answers ENOSYS and glibc falls back to clone. */
  unshare: number;
  clone: number;
  clone3: number;
  /** Denied outright. */
  denied: Record<string, number>;
}

/**
 * System calls the sandbox denies (EPERM), by Node's `process.arch`. The keyring calls are the reason for the list:
 * keys belong to the host uid (nobody), not to a namespace, so without it one run can leave data that the next run,
 * or a host service running as nobody, reads in /proc/keys. The rest is kernel attack surface no Python solution needs,
 * denied as Docker's default profile does.
 */
const TABLES: Record<string, ArchTable> = {
  x64: {
    arch: 0xc000003e,
    x32: true,
    unshare: 272,
    clone: 56,
    clone3: 435,
    denied: { add_key: 248, request_key: 249, keyctl: 250, perf_event_open: 298, bpf: 321, userfaultfd: 323, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427 },
  },
  arm64: {
    arch: 0xc00000b7,
    x32: false,
    unshare: 97,
    clone: 220,
    clone3: 435,
    denied: { add_key: 217, request_key: 218, keyctl: 219, perf_event_open: 241, bpf: 280, userfaultfd: 282, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427 },
  },
};

// Classic BPF opcodes, seccomp_data offsets and seccomp return values (linux/filter.h, linux/seccomp.h).
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JSET_K = 0x45;
const RET_K = 0x06;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
const EPERM = 1;
const ENOSYS = 38;
const X32_SYSCALL_BIT = 0x40000000;
const CLONE_NEWUSER = 0x10000000;
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
// Low 32 bits of args[0] (a u64 at offset 16).
const OFFSET_ARG0_LOW = endianness() === "LE" ? 16 : 20;

type Line = { label: string } | { code: number; k: number; jt?: string; jf?: string };

/** Resolves labels into the relative jumps of `struct sock_filter` (host byte order). */
function assemble(lines: Line[]): Buffer {
  const at = new Map<string, number>();
  const insns: Exclude<Line, { label: string }>[] = [];
  for (const line of lines) {
    if ("label" in line) at.set(line.label, insns.length);
    else insns.push(line);
  }
  const le = endianness() === "LE";
  const out = Buffer.alloc(insns.length * 8);
  insns.forEach((insn, i) => {
    const jump = (label: string | undefined) => {
      if (label === undefined) return 0;
      const offset = (at.get(label) as number) - (i + 1);
      if (!(offset >= 0 && offset <= 255)) throw new Error(`[infialign/verify] seccomp: jump to ${label} out of range (${offset})`);
      return offset;
    };
    if (le) {
      out.writeUInt16LE(insn.code, i * 8);
      out.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
    } else {
      out.writeUInt16BE(insn.code, i * 8);
      out.writeUInt32BE(insn.k >>> 0, i * 8 + 4);
    }
    out.writeUInt8(jump(insn.jt), i * 8 + 2);
    out.writeUInt8(jump(insn.jf), i * 8 + 3);
  });
  return out;
}

/**
 * The seccomp program for `bwrap --seccomp`, or `undefined` on an architecture without a table here (the sandbox then
 * runs without it). Calls through another ABI than the native one (i386 `int 0x80` on x86-64, x32) are all denied,
 * since their numbers differ. Creating a user namespace is denied here as well as by bwrap's `--disable-userns`.
 */
export function seccompFilter(arch: string = process.arch): Buffer | undefined {
  const t = TABLES[arch];
  if (!t) return undefined;
  return assemble([
    { code: LD_W_ABS, k: OFFSET_ARCH },
    { code: JEQ_K, k: t.arch, jf: "deny" },
    { code: LD_W_ABS, k: OFFSET_NR },
    ...(t.x32 ? [{ code: JSET_K, k: X32_SYSCALL_BIT, jt: "deny" }] : []),
    { code: JEQ_K, k: t.unshare, jt: "flags" },
    { code: JEQ_K, k: t.clone, jt: "flags" },
    { code: JEQ_K, k: t.clone3, jt: "enosys" },
    ...Object.values(t.denied).map((nr) => ({ code: JEQ_K, k: nr, jt: "deny" })),
    { code: RET_K, k: RET_ALLOW },
    { label: "flags" },
    { code: LD_W_ABS, k: OFFSET_ARG0_LOW },
    { code: JSET_K, k: CLONE_NEWUSER, jt: "deny" },
    { code: RET_K, k: RET_ALLOW },
    { label: "enosys" },
    { code: RET_K, k: RET_ERRNO | ENOSYS },
    { label: "deny" },
    { code: RET_K, k: RET_ERRNO | EPERM },
  ]);
}
