import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenAIServer, type OpenAIServerOptions, startOpenAIServer } from "./openaiServer.js";
import {
  extractReadmeBlocks,
  listFiles,
  type ReadmeBlock,
  type RunResult,
  readmeJargon,
  readmeLinkProblems,
  readmeSectionProblems,
  runCodeFile,
  runShellBlock,
  typecheckFiles,
  writeCodeBlocks,
} from "./readme.js";

export interface ReadmeSuiteOptions {
  /** Creates the files the blocks read (inputs, configs) in the work directory, before the first block. */
  setup?: (workDir: string) => void | Promise<void>;
  /**
   * Starts the local OpenAI-protocol server before the blocks; each of `serverUrls` in a block is replaced by its URL
   * (so a README can show the usual `http://localhost:8000/v1` and still run here), and `OPENAI_BASE_URL` is set.
   */
  openAIServer?: OpenAIServerOptions;
  /** Base URLs the README uses for an OpenAI-compatible server. @default localhost and 127.0.0.1, port 8000 */
  serverUrls?: string[];
  /** Validates a yaml/json block with the package's own schema, given the file it was written to. */
  config?: (file: string, block: ReadmeBlock, workDir: string) => unknown;
  /**
   * Ports a README's own servers listen on (`infialign-serve --port 8000`): each is replaced in every block (`:8000`,
   * `--port 8000`) by a port that is free here, so the test never collides with another process.
   */
  ports?: number[];
  /** Extra environment for every block. */
  env?: NodeJS.ProcessEnv;
  /** Checks after a block ran (keyed by the block's opening-fence line is brittle, so by a substring of its code). */
  after?: Array<{ contains: string; check: (result: RunResult, workDir: string) => void | Promise<void> }>;
  /** `"published"`: relative links must be files in package.json `files` (npm packages); `"repository"`: must exist. */
  links?: "published" | "repository";
  /** Require STYLE.md's sections. @default true */
  sections?: boolean;
  /** Per-block timeout in ms. @default 180_000 */
  timeout?: number;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolvePort(port));
    });
  });
}

function tail(text: string, chars = 4000): string {
  return text.length > chars ? `…${text.slice(-chars)}` : text;
}

function failure(block: ReadmeBlock, result: RunResult, workDir: string): string {
  return [
    `README block at line ${block.line} (${block.lang}) exited ${result.code}`,
    `--- block\n${block.code}`,
    `--- stdout\n${tail(result.stdout)}`,
    `--- stderr\n${tail(result.stderr)}`,
    `--- files in the work directory\n${listFiles(workDir).slice(0, 60).join("\n")}`,
  ].join("\n");
}

/**
 * Runs a package README as a test: its relative links, its sections, no internal jargon, then every ts/js/sh/bash
 * block in order in one work directory (so a later block sees what an earlier one wrote), ts blocks type-checked
 * first, yaml/json blocks validated by `config`. Blocks marked `<!-- readme-test: skip — reason -->` are skipped
 * with the reason.
 */
export function describeReadme(pkgDir: string, options: ReadmeSuiteOptions = {}): void {
  const readmePath = join(pkgDir, "README.md");
  const markdown = readFileSync(readmePath, "utf8");
  const blocks = extractReadmeBlocks(markdown);
  const timeout = options.timeout ?? 180_000;
  const serverUrls = options.serverUrls ?? ["http://localhost:8000/v1", "http://127.0.0.1:8000/v1"];
  let workDir = "";
  let server: OpenAIServer | undefined;

  const portMap = new Map<number, number>();
  const substitute = (code: string) => {
    let out = server ? serverUrls.reduce((c, u) => c.split(u).join(server?.url ?? u), code) : code;
    for (const [from, to] of portMap) out = out.replace(new RegExp(`(:|--port )${from}\\b`, "g"), `$1${to}`);
    return out;
  };
  const env = () => ({ ...options.env, ...(server ? { OPENAI_BASE_URL: server.url } : {}) });

  describe(`${basename(pkgDir)} README`, () => {
    beforeAll(async () => {
      workDir = mkdtempSync(join(tmpdir(), `readme-${basename(pkgDir)}-`));
      if (options.openAIServer) server = await startOpenAIServer(options.openAIServer);
      for (const port of options.ports ?? []) portMap.set(port, await freePort());
      await options.setup?.(workDir);
    }, timeout);
    afterAll(async () => {
      await server?.close();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    it("links only to files that ship with it", () => {
      const problems = readmeLinkProblems(pkgDir);
      if (options.links === "repository") {
        expect(problems.filter((p) => !p.includes('is not in package.json "files"') && !p.includes("leaves the package"))).toEqual([]);
      } else {
        expect(problems).toEqual([]);
      }
    });

    if (options.sections !== false) {
      it("has STYLE.md's sections, in order", () => {
        expect(readmeSectionProblems(markdown).join("\n")).toBe("");
      });
    }

    it("has no internal references (issue numbers, design-reference sections, status notes)", () => {
      expect(readmeJargon(markdown).join("\n")).toBe("");
    });

    const code = blocks.filter((b) => (b.lang === "ts" || b.lang === "js") && !b.skip);
    if (code.length > 0) {
      it(
        "ts blocks type-check",
        async () => {
          expect((await typecheckFiles(pkgDir, writeCodeBlocks(pkgDir, code))).join("\n")).toBe("");
        },
        timeout,
      );
    }

    for (const block of blocks) {
      const title = `block at line ${block.line} (${block.lang})`;
      if (block.skip) {
        it.skip(`${title} [skipped: ${block.skip}]`, () => {});
        continue;
      }
      it(
        title,
        async () => {
          let result: RunResult | undefined;
          if (block.lang === "yaml" || block.lang === "json") {
            const file = join(workDir, block.file ?? `readme-line-${block.line}.${block.lang}`);
            writeFileSync(file, substitute(block.code));
            if (!options.config) throw new Error(`README line ${block.line}: a ${block.lang} block but no config validator in describeReadme`);
            await options.config(file, block, workDir);
          } else if (block.lang === "sh" || block.lang === "bash") {
            if (block.file) writeFileSync(join(workDir, block.file), block.code);
            result = await runShellBlock(pkgDir, workDir, substitute(block.code), env());
          } else {
            const [file] = writeCodeBlocks(pkgDir, [{ ...block, code: substitute(block.code) }]);
            result = await runCodeFile(pkgDir, workDir, file ?? "", env());
          }
          if (result && result.code !== 0) throw new Error(failure(block, result, workDir));
          for (const a of options.after ?? []) if (result && block.code.includes(a.contains)) await a.check(result, workDir);
        },
        timeout,
      );
    }
  });
}
