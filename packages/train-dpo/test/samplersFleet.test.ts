import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiskCache, OpenAIChatClient } from "@infialign/data";
import { type OpenAIServer, startOpenAIServer } from "@infialign/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { openAISampler } from "../src/pairs/samplers.js";

// The sampler takes an OpenAIChatClient, so a client built over several endpoints gives it a fleet with nothing else to change.
describe("openAISampler over an endpoint fleet", () => {
  const servers: OpenAIServer[] = [];
  const clients: OpenAIChatClient[] = [];
  let dir: string | undefined;
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(servers.splice(0).map((s) => s.close().catch(() => {})));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("draws every sample once, from the healthy endpoints, with the same id and cache as one endpoint", async () => {
    dir = await mkdtemp(join(tmpdir(), "dpo-fleet-"));
    const down = await startOpenAIServer();
    await down.close();
    const handler = (req: { seed?: number }) => `<think>seed ${req.seed}</think> \\boxed{${req.seed}}`;
    const failing = await startOpenAIServer({ faultFor: () => "500" });
    const a = await startOpenAIServer({ handler, delayMs: 5 });
    const b = await startOpenAIServer({ handler });
    servers.push(failing, a, b);
    const fleet = new OpenAIChatClient({ endpoints: [down.url, failing.url, a.url, b.url], model: "sft", concurrency: 2, cache: new DiskCache(join(dir, "fleet")), sleep: async () => {} });
    const single = new OpenAIChatClient({ baseURL: b.url, model: "sft", cache: new DiskCache(join(dir, "single")), sleep: async () => {} });
    clients.push(fleet, single);
    const messages = [{ role: "user" as const, content: "Add one to n=3." }];
    const indices = Array.from({ length: 16 }, (_, i) => i);

    const viaFleet = openAISampler({ client: fleet, seed: 10 });
    const viaOne = openAISampler({ client: single, seed: 10 });
    expect(viaFleet.id).toBe(viaOne.id);
    const seen: number[] = [];
    const fromFleet = await viaFleet.sample({ messages, indices, onSample: (i) => void seen.push(i) });
    expect(seen.sort((x, y) => x - y)).toEqual(indices);
    expect(fromFleet.map((r) => r.text)).toEqual(indices.map((i) => `<think>seed ${10 + i}</think> \\boxed{${10 + i}}`));
    expect(await viaOne.sample({ messages, indices })).toEqual(fromFleet);

    const stats = fleet.endpointStats();
    expect(stats[0]).toMatchObject({ state: "down", requests: 0 });
    expect(stats[1]).toMatchObject({ successes: 0 });
    expect(stats[1]!.failures).toBeGreaterThan(0);
    expect(stats[2]!.successes + stats[3]!.successes).toBe(16);
    expect(stats[2]!.successes).toBeGreaterThan(0);
    const files = async (d: string) => (await readdir(d, { recursive: true })).filter((f) => f.endsWith(".json")).sort();
    expect(await files(join(dir, "fleet"))).toEqual(await files(join(dir, "single")));
    expect(await files(join(dir, "fleet"))).toHaveLength(16);
  });
});
