import { OpenAIChatClient } from "@infialign/data";
import { type OpenAIServer, startOpenAIServer } from "@infialign/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { createJudge } from "../src/judge/index.js";

// The judge takes an OpenAIChatClient, so a client built over several endpoints gives it a fleet with nothing else to change.
describe("createJudge over an endpoint fleet", () => {
  const servers: OpenAIServer[] = [];
  let client: OpenAIChatClient | undefined;
  afterEach(async () => {
    await client?.close();
    await Promise.all(servers.splice(0).map((s) => s.close().catch(() => {})));
  });

  it("scores and compares through the healthy endpoints, failing over from a down and a failing one", async () => {
    const down = await startOpenAIServer();
    await down.close();
    const judgeReply = (content: string) => (content.includes("rate the response") ? "Rating: [[8]]" : "[[A]]");
    const failing = await startOpenAIServer({ faultFor: () => "503" });
    const healthy = await startOpenAIServer({ handler: (req) => judgeReply(req.messages.at(-1)?.content ?? "") });
    servers.push(failing, healthy);
    client = new OpenAIChatClient({ endpoints: [down.url, failing.url, healthy.url], model: "judge", maxRetries: 1, sleep: async () => {} });
    const judge = createJudge({ client, samples: 3 });

    expect(await judge.scoreRubric("q", "resp", "correctness")).toEqual({ score: 8, passed: true, samples: [8, 8, 8], parseFailures: 0, requestErrors: 0 });
    expect(await judge.comparePair("q", "a", "b")).toMatchObject({ forward: "A", consistent: false });
    const stats = client.endpointStats();
    expect(stats.map((s) => s.state)).toEqual(["down", expect.any(String), "up"]);
    expect(stats[0]!.requests).toBe(0);
    expect(stats[1]!.successes).toBe(0);
    expect(stats[2]!.successes).toBe(5);
  });
});
