// What --smoke asserts about a finished run.
import type { DemoRunResult } from "./runDemo.js";

/** The smoke invariants: accounting of every stage, contamination caught, report written. Returns the failures. */
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
  if (result.dpo.pairs === 0) failures.push("DPO trained on 0 pairs");
  if (result.evaluation.results.length !== 3) failures.push(`evaluated ${result.evaluation.results.length} models, expected base, sft and dpo`);
  return failures;
}
