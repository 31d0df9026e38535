import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { extractReadmeBlocks, readmeJargon, readmeLinkProblems, readmeLinks, readmeSectionProblems, runShellBlock } from "../src/readme.js";

const dirs: string[] = [];
function tempPackage(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "readme-utils-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("extractReadmeBlocks", () => {
  it("keeps executable languages with their line and directives, and leaves prose blocks out", () => {
    const md = [
      "# x", //                                     1
      "```", //                                      2
      "runs/<name>/ layout, not code", //            3
      "```", //                                      4
      "<!-- readme-test: skip — needs a GPU -->", // 5
      "```sh", //                                    6
      "nvidia-smi", //                               7
      "```", //                                      8
      "", //                                         9
      "<!-- readme-test: file run.yaml -->", //      10
      "", //                                         11
      "```yml", //                                   12
      "a: 1", //                                     13
      "```", //                                      14
      "- list item:", //                             15
      "  ```typescript", //                          16
      "  const x = 1;", //                           17
      "  ```", //                                    18
      "````md", //                                   19
      "```ts", //                                    20
      "not extracted", //                            21
      "```", //                                      22
      "````", //                                     23
    ].join("\n");
    expect(extractReadmeBlocks(md)).toEqual([
      { lang: "sh", code: "nvidia-smi\n", line: 6, skip: "needs a GPU" },
      { lang: "yaml", code: "a: 1\n", line: 12, file: "run.yaml" },
      { lang: "ts", code: "const x = 1;\n", line: 16 },
    ]);
  });

  it("refuses a skip without a reason", () => {
    expect(() => extractReadmeBlocks("<!-- readme-test: skip -->\n```sh\nls\n```\n")).toThrow(/needs a reason/);
  });
});

describe("links", () => {
  it("reads inline links, images, html and reference definitions, never inside code", () => {
    const md = '[a](docs/a.md#x) ![i](img.png "t") <a href="b.md">b</a> `[c](c.md)`\n[ref]: ref.md\n```\n[d](d.md)\n```\n';
    expect(readmeLinks(md).map((l) => l.target)).toEqual(["docs/a.md#x", "img.png", "b.md", "ref.md"]);
  });

  it("accepts published files and absolute URLs; flags files outside `files`, outside the package, or missing", () => {
    const dir = tempPackage({
      "package.json": JSON.stringify({ name: "x", files: ["dist", "data"] }),
      "README.md": "[ok](data/README.md) [web](https://example.com) [anchor](#api) [src](src/index.ts) [up](../../docs/a.md) [gone](data/none.md)\n",
      "data/README.md": "",
      "src/index.ts": "",
    });
    const problems = readmeLinkProblems(dir);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/src\/index\.ts is not in package\.json "files"/);
    expect(problems[1]).toMatch(/\.\.\/\.\.\/docs\/a\.md leaves the package; link https:\/\/github\.com\/infialign\/infialign-ts\/blob\/main\/<path>/);
    expect(problems[2]).toMatch(/data\/none\.md does not exist/);
  });
});

describe("sections and jargon", () => {
  it("wants exactly STYLE.md's sections in order", () => {
    const all = ["Overview", "Quick start", "Data format", "How it works", "Logged metrics", "Options", "API"];
    expect(readmeSectionProblems(all.map((h) => `## ${h}\n`).join(""))).toEqual([]);
    const swapped = ["Overview", "Quick start", "How it works", "Data format", "Logged metrics", "Options", "API", "Benchmarks"];
    expect(readmeSectionProblems(swapped.map((h) => `## ${h}\n`).join(""))).toEqual([
      '"## Benchmarks" is not one of Overview, Quick start, Data format, How it works, Logged metrics, Options, API; make it a ### inside one',
      '"## How it works" is out of order (expected: Overview, Quick start, Data format, How it works, Logged metrics, Options, API)',
    ]);
  });

  it("finds issue numbers, design-reference sections and status notes", () => {
    expect(readmeJargon("**Status:** issue #5 done.\nSee REFERENCE §3.2 and issue 7.\nGitHub issues are welcome.")).toEqual([
      'line 1: "issue #5"',
      'line 1: "**Status:**"',
      'line 2: "issue 7"',
      'line 2: "REFERENCE §"',
      'line 2: "§3.2"',
    ]);
  });
});

describe("runShellBlock", () => {
  const pkg = tempPackage({ "package.json": JSON.stringify({ name: "@x/y", bin: { "y-cli": "cli.js" } }), "cli.js": 'console.log("y-cli", process.argv.slice(2).join(" "));' });

  it("runs the package's bins through npx from PATH and fails on the first failing command", async () => {
    const work = mkdtempSync(join(tmpdir(), "readme-work-"));
    dirs.push(work);
    const ok = await runShellBlock(pkg, work, "npx y-cli a b\nnpm install @x/y\n");
    expect(ok).toMatchObject({ code: 0, stdout: "y-cli a b\n" });
    const bad = await runShellBlock(pkg, work, "npm install left-pad-that-is-not-here\necho unreachable\n");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/left-pad-that-is-not-here is neither this package nor installed beside it/);
    expect(bad.stdout).toBe("");
  });

  it("kills what a block left running in the background when it ends", async () => {
    const work = mkdtempSync(join(tmpdir(), "readme-work-"));
    dirs.push(work);
    const r = await runShellBlock(pkg, work, "sleep 300 &\necho started\n");
    expect(r).toMatchObject({ code: 0, stdout: "started\n" });
  });
});
