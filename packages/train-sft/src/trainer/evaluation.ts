// Held-out evaluation of an SFT phase: TRL's eval metrics (`eval_loss`, `eval_mean_token_accuracy`, `eval_entropy`)
// over the eval split's scored tokens, during training (evalSteps) and once more at the end of the phase.
import { join } from "node:path";
import type { ModelTokenizer, Qwen2Model, TrainingEngine } from "@infialign/model";
import type { TrainLoopResult } from "../core/loop.js";
import { MetricsLogger, type MetricsRecord } from "../core/metrics.js";
import type { PhaseConfig } from "../curriculum.js";
import { padBatch, type TrainingBatch } from "../data/batch.js";
import { IGNORE_INDEX, type TokenizedSample } from "../data/tokenize.js";
import { toEngineBatch } from "./batches.js";

/** Held-out metrics, without the `eval_` prefix (trainLoop and {@link phaseEndEvalLoss} add it). */
export type Evaluate = () => Promise<Record<string, number>>;

/**
 * An evaluator over the eval split (cut to the phase's maxLength, right-padded micro-batches of its batch size), or
 * undefined when the split is empty. It scores with the model in eval mode (no dropout) and restores the mode after.
 */
export function phaseEvaluator(evalSet: readonly TokenizedSample[], phase: PhaseConfig, model: Qwen2Model, engine: TrainingEngine, tokenizer: ModelTokenizer): Evaluate | undefined {
  const batches: TrainingBatch[] = [];
  const rows = evalSet.map((s) => ({ inputIds: s.inputIds.slice(0, phase.maxLength), labels: s.labels.slice(0, phase.maxLength) }));
  for (let at = 0; at < rows.length; at += phase.batchSize) batches.push(padBatch(rows.slice(at, at + phase.batchSize), { padTokenId: tokenizer.padTokenId }));
  if (batches.length === 0) return undefined;
  return async () => {
    const wasTraining = model.training;
    model.training = false;
    let nll = 0;
    let correct = 0;
    let entropy = 0;
    let items = 0;
    try {
      for (const batch of batches) {
        const scores = await engine.score(toEngineBatch(batch));
        for (let i = 0; i < scores.labels.length; i++) {
          if (scores.labels[i] === IGNORE_INDEX) continue;
          nll -= scores.logProbs[i] as number;
          correct += scores.correct[i] as number;
          entropy += scores.entropy[i] as number;
          items += 1;
        }
      }
    } finally {
      model.training = wasTraining;
    }
    const n = Math.max(1, items);
    return { loss: nll / n, mean_token_accuracy: correct / n, entropy: entropy / n };
  };
}

/**
 * The phase's held-out loss at its last step: the eval logged at that step when there is one, else a fresh evaluation
 * appended to `<dir>/metrics.jsonl` (always, so the summary has a held-out loss).
 */
export async function phaseEndEvalLoss(result: TrainLoopResult, evaluate: Evaluate, dir: string, epoch: number): Promise<number> {
  const lastEval = result.logHistory.findLast((r) => typeof r.eval_loss === "number");
  if (lastEval?.step === result.globalStep) return lastEval.eval_loss as number;
  const metrics = await MetricsLogger.open(join(dir, "metrics.jsonl"), { resumeFromStep: result.globalStep });
  const values = await evaluate();
  const record: MetricsRecord = { eval_num_tokens: result.numTokens, ...Object.fromEntries(Object.entries(values).map(([k, v]) => [`eval_${k}`, v])), epoch, step: result.globalStep };
  await metrics.log(record);
  await metrics.close();
  return values.loss as number;
}
