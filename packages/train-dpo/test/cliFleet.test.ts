import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeSample } from "@infialign/data";
import { type OpenAIServer, runCli, startOpenAIServer } from "@infialign/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../src/cli/program.js";

describe("infialign-dpo pairs with several --base-url", () => {
  const servers: OpenAIServer[] = [];
  let dir: string | undefined;
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close().catch(() => {})));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("samples through a fleet given repeated and comma-separated, and prints each server's stats", async () => {
    dir = await mkdtemp(join(tmpdir(), "dpo-cli-fleet-"));
    const handler = (req: { messages: Array<{ content: string }>; seed?: number }) => {
      const n = Number(/n=(\d+)/.exec(req.messages.at(-1)!.content)![1]);
      return `So \\boxed{${(req.seed ?? 0) < 2 ? n + 1 : n + 2}}.`;
    };
    const down = await startOpenAIServer();
    await down.close();
    const [a, b] = [await startOpenAIServer({ handler }), await startOpenAIServer({ handler })];
    servers.push(a, b);
    const samples = Array.from({ length: 4 }, (_, n) => makeSample({ source: "synthetic", prompt: `n=${n}; n+1?`, gold: String(n + 1), response: `\\boxed{${n + 1}}` }));
    await writeFile(join(dir, "in.jsonl"), `${samples.map((s) => JSON.stringify(s)).join("\n")}\n`);
    const pairs = await runCli(main, ["pairs", "--input", join(dir, "in.jsonl"), "--out", join(dir, "run"), "--base-url", `${down.url},${a.url}`, "--base-url", b.url, "--model", "sft", "--k", "4", "--band", "0.25,0.75"], "", () => false);
    expect(pairs.code).toBe(0);
    expect(pairs.out).toContain("prompts 4  pairs 4  rejected 0");
    const chats = (s: OpenAIServer) => s.requests.filter((r) => r.path === "/v1/chat/completions").length;
    expect(chats(a) + chats(b)).toBe(16);
    const lines = pairs.err.split("\n").filter((l) => l.includes(" requests, "));
    expect(lines).toEqual([expect.stringContaining(`${down.url} [down]: 0 requests`), expect.stringContaining(`${a.url} [up]`), expect.stringContaining(`${b.url} [up]`)]);
  });
});
