// The preference-loss table: every loss `preferenceLoss` computes, by its `lossType` name, with what the rest of the
// package reads about it: the loss function, whether it needs reference log-probs, its hyperparameters (option name,
// zod schema, default, description) and its LLaMA-Factory counterpart. The run config's `loss` section, the option
// defaults, the CLI help and the LLaMA-Factory export all come from here; `registerLoss` adds a loss with its own
// hyperparameters from outside the package.
import { BUILTIN_LOSSES } from "./builtin.js";
import { DPO_LOSS_TYPES, type PreferenceLossDefinition, REFERENCE_FREE_LOSS_TYPES } from "./definition.js";
import { type LossHyperparameter, type LossHyperparameters, SHARED_HYPERPARAMETERS } from "./hyperparameters.js";

const PREFIX = "[infialign/train-dpo] losses";

/** Option names that are not hyperparameters. */
const RESERVED = new Set(["lossType", "lossTypes", "lossWeights", "bcoRunningMean"]);
const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

const losses = new Map<string, PreferenceLossDefinition>();
const hyperparameters = new Map<string, LossHyperparameter>(Object.entries(SHARED_HYPERPARAMETERS));

/**
 * Adds a loss to the table, so that `preferenceLoss`, `trainDpo`, the run config (its hyperparameters become fields of
 * `loss`, validated by their schemas, with their defaults), `infialign-dpo --help` and the LLaMA-Factory export know it.
 * Throws, naming the problem, for a taken or malformed name, a hyperparameter name already in the table, a default its
 * schema refuses, or a `reads` entry the table does not have.
 */
export function registerLoss<H extends LossHyperparameters = Record<never, LossHyperparameter>>(definition: PreferenceLossDefinition<H>): void {
  const d = definition as unknown as PreferenceLossDefinition;
  const problems: string[] = [];
  if (typeof d.name !== "string" || !NAME.test(d.name)) problems.push(`name ${JSON.stringify(d.name)} must start with a letter and use letters, digits and "_"`);
  else if (losses.has(d.name)) problems.push(`a loss named "${d.name}" is already registered; pick another name`);
  if (typeof d.compute !== "function") problems.push("compute must be a function (inputs, options) => { losses }");
  if (typeof d.needsReference !== "boolean") problems.push("needsReference must be true or false");
  const own = Object.entries(d.hyperparameters ?? {});
  for (const [name, spec] of own) {
    if (!NAME.test(name) || RESERVED.has(name)) problems.push(`hyperparameter "${name}" is not a usable option name`);
    else if (hyperparameters.has(name)) problems.push(`hyperparameter "${name}" is already in the table (${ownerOf(name)}); give yours another name, or list it in reads to use it`);
    else if (spec.default !== undefined && !spec.schema.safeParse(spec.default).success) problems.push(`hyperparameter "${name}": its schema refuses its own default ${JSON.stringify(spec.default)}`);
  }
  for (const name of d.reads ?? []) if (!hyperparameters.has(name)) problems.push(`reads "${name}", which is not a hyperparameter of the table (${[...hyperparameters.keys()].join(", ")})`);
  for (const name of [d.rewardScale, typeof d.llamaFactory === "object" ? d.llamaFactory.prefBeta : undefined]) {
    if (name !== undefined && !hyperparameters.has(name) && !own.some(([n]) => n === name)) problems.push(`"${name}" (rewardScale or llamaFactory.prefBeta) is not a hyperparameter of the table or of this loss`);
  }
  if (problems.length > 0) throw new Error(`${PREFIX}: registerLoss: ${problems.join("; ")}.`);
  losses.set(d.name, d);
  for (const [name, spec] of own) hyperparameters.set(name, spec);
}

function ownerOf(hyperparameter: string): string {
  const owner = [...losses.values()].find((l) => Object.hasOwn(l.hyperparameters ?? {}, hyperparameter));
  return owner ? `of loss "${owner.name}"` : "shared by the DPO family";
}

/** The definition of a loss, or undefined when no loss has that name. */
export function preferenceLossDefinition(name: string): PreferenceLossDefinition | undefined {
  return losses.get(name);
}

/** Every registered loss, built-ins first (TRL DPOTrainer's, then SimPO and ORPO), then in registration order. */
export function preferenceLosses(): PreferenceLossDefinition[] {
  return [...losses.values()];
}

/** Every hyperparameter of the table by option name, in table order (shared ones first). */
export function lossHyperparameters(): ReadonlyMap<string, LossHyperparameter> {
  return hyperparameters;
}

/** The hyperparameters a loss reads: `reads` and its own, in that order. */
export function hyperparametersOf(definition: PreferenceLossDefinition): string[] {
  return [...(definition.reads ?? []), ...Object.keys(definition.hyperparameters ?? {})];
}

for (const name of [...DPO_LOSS_TYPES, ...REFERENCE_FREE_LOSS_TYPES]) registerLoss({ name, ...BUILTIN_LOSSES[name] } as PreferenceLossDefinition);
