import { readFileSync } from "node:fs";
import { describeWhen, sharedDataFile } from "@infialign/test-utils/vitest";
import { expect, it } from "vitest";
import { type Domain, KeywordLabeler, KnnLabeler, labelFromMetadata } from "../src/domain/index.js";
import { HashingEmbedder } from "../src/embed/index.js";

const math = sharedDataFile("pools", "math-test.jsonl");

interface Item {
  text: string;
  domain: Domain;
}

/**
 * MATH test with its `type` hidden from the labelers and used as the gold label; seeded 50/50
 * split by a hash of `idx`. The keyword rules were tuned looking at the train half only.
 */
function load(): { train: Item[]; test: Item[] } {
  const train: Item[] = [];
  const test: Item[] = [];
  for (const line of readFileSync(math.path, "utf8").trim().split("\n")) {
    const r = JSON.parse(line) as { problem: string; type: string; idx: number };
    const domain = labelFromMetadata({ source: "math", domain: r.type.toLowerCase(), meta: {} });
    if (!domain) throw new Error(`unmapped MATH type ${r.type}`);
    ((Math.imul(r.idx + 1, 2654435761) >>> 0) % 2 === 0 ? train : test).push({ text: r.problem, domain });
  }
  return { train, test };
}

describeWhen(math.missing)("domain labelers on MATH test (metadata hidden)", () => {
  const { train, test } = math.missing ? { train: [], test: [] } : load();

  it("keywords: accuracy on the held-out half (abstentions count as wrong)", () => {
    const kl = new KeywordLabeler();
    let correct = 0;
    let answered = 0;
    for (const item of test) {
      const got = kl.label(item.text);
      if (got) answered++;
      if (got?.domain === item.domain) correct++;
    }
    const accuracy = correct / test.length;
    console.log(`[domain-eval] keywords: accuracy ${accuracy.toFixed(3)}, coverage ${(answered / test.length).toFixed(3)}, accuracy when answering ${(correct / answered).toFixed(3)} (n=${test.length})`);
    expect(accuracy).toBeGreaterThan(0.58);
  });

  it("kNN with the HashingEmbedder (IDF fitted on train): accuracy on the held-out half", async () => {
    const embedder = new HashingEmbedder({ dim: 256, seed: 0 }).fit(train.map((t) => t.text));
    const knn = await KnnLabeler.build(train, embedder, { k: 10 });
    const got = await knn.label(test.map((t) => t.text));
    const accuracy = got.filter((g, i) => g.domain === test[i]?.domain).length / test.length;
    console.log(`[domain-eval] knn (hashing d=256, k=10, ${train.length} seeds): accuracy ${accuracy.toFixed(3)} (n=${test.length})`);
    expect(accuracy).toBeGreaterThan(0.72);
  });
});
