import { PassThrough, Readable, type Writable } from "node:stream";

/** The `main(argv, io)` shape every package CLI exports, so tests run it in-process without spawning node. */
export type CliMain = (argv: readonly string[], io: { stdin: Readable; stdout: Writable; stderr: Writable }) => Promise<number>;

/**
 * Runs a CLI's `main` on `input` as stdin and collects its exit code and output. `lines` parses stdout as JSON lines
 * when `jsonLines` says the command speaks the line protocol and it exited 0; otherwise it is empty.
 */
export async function runCli(main: CliMain, argv: string[], input: string, jsonLines: (argv: string[]) => boolean) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d) => (out += d));
  stderr.on("data", (d) => (err += d));
  const code = await main(argv, { stdin: Readable.from([input]), stdout, stderr });
  const lines = jsonLines(argv) && code === 0 ? out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>) : [];
  return { code, lines, out, err };
}
