// A LLaMA-Factory training config as the flat YAML its examples use, with numbers PyYAML (YAML 1.1) reads back as
// numbers.
import { type LlamaFactoryTrainConfig, LlamaFactoryTrainConfigSchema } from "./trainConfig.js";

const PREFIX = "[infialign/train-sft] llamafactory-export";

/**
 * A number as PyYAML reads it back as a float: PyYAML (YAML 1.1) takes `2e-5` for a string, and only `2.0e-5` (a dot
 * in the mantissa, a signed exponent) for a number; LLaMA-Factory's examples write `1.0e-5` for that reason.
 */
export function pyYamlNumber(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`${PREFIX}: cannot write ${x} to a LLaMA-Factory YAML; expected a finite number.`);
  if (Number.isInteger(x) && Math.abs(x) < 1e21) return String(x);
  // Exponent form below 1e-3, as learning rates are usually written (2.0e-5 rather than 0.00002).
  const text = x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential() : x.toString();
  const [mantissa = "", exponent] = text.split("e");
  if (exponent === undefined) return mantissa;
  return `${mantissa.includes(".") ? mantissa : `${mantissa}.0`}e${exponent.startsWith("-") || exponent.startsWith("+") ? exponent : `+${exponent}`}`;
}

const PLAIN_STRING = /^[A-Za-z_./][\w./-]*$/;
const YAML_WORDS = /^(true|false|yes|no|on|off|null|y|n|~)$/i;

/**
 * Writes a LLaMA-Factory training config as YAML after validating it against {@link LlamaFactoryTrainConfigSchema}.
 * The config is flat (scalars only), so it is written by hand: numbers in PyYAML-safe form ({@link pyYamlNumber}),
 * strings plain when unambiguous, else double-quoted. `header` lines become `#` comments at the top.
 */
export function stringifyLlamaFactoryConfig(config: LlamaFactoryTrainConfig, header: readonly string[] = []): string {
  const parsed = LlamaFactoryTrainConfigSchema.safeParse(config);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(config)"}: ${i.message}`).join("; ");
    throw new Error(`${PREFIX}: invalid LLaMA-Factory training config (${problems}).`);
  }
  const lines = header.map((h) => `# ${h}`);
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined) continue;
    let text: string;
    if (value === null) text = "null";
    else if (typeof value === "boolean") text = String(value);
    else if (typeof value === "number") text = pyYamlNumber(value);
    else text = PLAIN_STRING.test(value) && !YAML_WORDS.test(value) ? value : JSON.stringify(value);
    lines.push(`${key}: ${text}`);
  }
  return `${lines.join("\n")}\n`;
}
