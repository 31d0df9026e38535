import { OpenAIChatClient } from "@infialign/data";
import { type ChatHandler, type OpenAIServer, type OpenAIServerOptions, startOpenAIServer } from "@infialign/test-utils";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { createJudge, parsePairVerdict, parseScore } from "../src/judge/index.js";

type ChatRequestBody = Parameters<ChatHandler>[0];

describe("parseScore", () => {
  it.each([
    ["The answer is fine. Rating: [[7]]", 7],
    ["Score: 7/10", 7],
    ["I'd give it 7 out of 10.", 7],
    ["Overall: **8**", 8],
    ["rating: 6.5", 6.5],
    ["First I thought [[3]], but on reflection [[9]]", 9],
    ["It fixes 2 of 3 bugs. Rating: [[4]]", 4],
  ])("reads %j as %d", (text, score) => {
    expect(parseScore(text)).toBe(score);
  });

  it.each(["no score here", "Rating: [[11]]", "Rating: [[0]]", "Score: 15/10", ""])("fails on %j", (text) => {
    expect(parseScore(text)).toBeUndefined();
  });

  it("reads back any in-range score it is given (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.string(), (score, noise) => {
        return parseScore(`${noise.replace(/[[\]*\d]/g, "")}\nRating: [[${score}]]`) === score;
      }),
    );
  });

  it("parsePairVerdict takes the last verdict", () => {
    expect(parsePairVerdict("[[A]] hmm no, [[B]]")).toBe("B");
    expect(parsePairVerdict("[[C]]")).toBe("tie");
    expect(parsePairVerdict("A is better")).toBeUndefined();
  });
});

describe("createJudge", () => {
  let server: OpenAIServer | undefined;
  let client: OpenAIChatClient | undefined;
  afterEach(async () => {
    await client?.close();
    await server?.close();
  });

  async function judgeWith(handler: (req: ChatRequestBody) => string, faults: OpenAIServerOptions = {}) {
    server = await startOpenAIServer({ handler, ...faults });
    client = new OpenAIChatClient({ baseURL: server.url, model: "judge", maxRetries: 1, sleep: async () => {} });
    return client;
  }

  it("scores a rubric as the median of samples, counting unparsable replies", async () => {
    const replies: Record<number, string> = { 0: "Rating: [[8]]", 1: "I cannot rate this.", 2: "Score: 6/10", 3: "Rating: [[9]]" };
    const c = await judgeWith((req) => replies[req.seed ?? 0] ?? "");
    const r = await createJudge({ client: c, samples: 4, threshold: 8 }).scoreRubric("q", "resp", "correctness");
    expect(r).toEqual({ score: 8, passed: true, samples: [8, 6, 9], parseFailures: 1, requestErrors: 0 });
    const body = server?.requests[0]?.body as ChatRequestBody;
    const prompt = body.messages[0]?.content;
    expect(prompt).toContain("correctness");
    expect(prompt).toContain("resp");
  });

  it("survives a failed request and reports it", async () => {
    const c = await judgeWith(() => "Rating: [[5]]", { faultFor: (req) => (req.seed === 1 ? "500" : undefined) });
    const r = await createJudge({ client: c, samples: 3 }).scoreRubric("q", "r", "x");
    expect(r).toEqual({ score: 5, passed: false, samples: [5, 5], parseFailures: 0, requestErrors: 1 });
  });

  it("gives a null score when nothing parses", async () => {
    const c = await judgeWith(() => "Rating: [[42]]");
    const r = await createJudge({ client: c }).scoreRubric("q", "r", "x");
    expect(r).toMatchObject({ score: null, passed: false, parseFailures: 3 });
  });

  it("declares a winner when both orders agree", async () => {
    // A judge that always prefers the answer containing "good", wherever it is shown.
    const c = await judgeWith((req) => {
      const text = req.messages[0]?.content ?? "";
      return text.indexOf("good") < text.indexOf("bad") ? "[[A]]" : "[[B]]";
    });
    const judge = createJudge({ client: c });
    expect(await judge.comparePair("q", "good answer", "bad answer")).toEqual({ winner: "A", forward: "A", swapped: "A", consistent: true });
    expect((await judge.comparePair("q", "bad answer", "good answer")).winner).toBe("B");
  });

  it("calls position-biased verdicts a tie", async () => {
    const c = await judgeWith(() => "The first one. [[A]]");
    const r = await createJudge({ client: c }).comparePair("q", "x", "y");
    expect(r).toEqual({ winner: "tie", forward: "A", swapped: "B", consistent: false });
  });
});
