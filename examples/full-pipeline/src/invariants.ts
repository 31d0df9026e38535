// What --smoke asserts about a finished run.
import type { DemoRunResult } from "./runDemo.js";

/** The smoke invariants: accounting of every stage, every injected defect removed by its stage, DPO pairs, three models evaluated. Returns the failures. */
export function checkInvariants(result: DemoRunResult): string[] {
  const failures: string[] = [];
  for (const f of result.curate.funnel) {
    if (f.in !== f.out + f.rejected + f.deduplicated) failures.push(`stage ${f.stage}: in ${f.in} ≠ out ${f.out} + rejected ${f.rejected} + deduplicated ${f.deduplicated}`);
  }
  const injected = Object.entries(result.sources.defects)
    .filter(([kind]) => /contam/i.test(kind))
    .reduce((a, [, n]) => a + n, 0);
  const caught = result.curate.contaminationByBenchmark.heldout ?? 0;
  if (injected === 0) failures.push("the generator reported no injected contamination, so the decontamination check proves nothing");
  else if (caught < injected) failures.push(`decontamination caught ${caught} held-out copies of ${injected} injected`);
  // The generator's defects are built so that each is caught exactly once, by its own stage.
  const removedBy = (prefix: string) => {
    const f = result.curate.funnel.find((row) => row.stage.startsWith(prefix));
    return f ? f.rejected + f.deduplicated : 0;
  };
  const d = result.sources.defects;
  const expected: Array<[string, number]> = [
    ["normalize", (d.answerless ?? 0) + (d.malformed ?? 0)],
    ["dedup", d.exactDuplicates ?? 0],
    ["quality", d.wrongSolutions ?? 0],
    ["near-dup", d.nearDuplicates ?? 0],
  ];
  for (const [stage, n] of expected) if (removedBy(stage) !== n) failures.push(`stage ${stage} removed ${removedBy(stage)} records; the generator injected ${n} defects of its kinds`);
  if (result.dpo.pairs === 0) failures.push("DPO trained on 0 pairs");
  if (result.evaluation.results.length !== 3) failures.push(`evaluated ${result.evaluation.results.length} models, expected base, sft and dpo`);
  return failures;
}
