import type { GlobalShardPlan, ShardPlan } from "../types.js";

/** Position encoding of sharded runs: order-preserving, and a task needs no count of the records before it. */
export const POSITION_TASK_STRIDE = 2 ** 32;

export function positionOf(taskIndex: number, offset: number): number {
  return taskIndex * POSITION_TASK_STRIDE + offset;
}

/**
 * Default combination of per-shard stats: numbers are summed, nested objects combined key by key, arrays and other
 * values kept when every part agrees; a disagreeing non-number keeps the first part's value.
 */
export function combineStats(parts: Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const part of parts) {
    for (const [key, value] of Object.entries(part)) out[key] = key in out ? combineValue(out[key], value) : structuredClone(value);
  }
  return out;
}

function combineValue(a: unknown, b: unknown): unknown {
  if (typeof a === "number" && typeof b === "number") return a + b;
  if (isPlainObject(a) && isPlainObject(b)) return combineStats([a, b]);
  return a;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The manifest stats of a sharded stage from its phases' stats. */
export function stageStats(
  plan: ShardPlan<unknown, unknown>,
  parts: { prepare?: Record<string, unknown>; reduce: Record<string, unknown>[]; merge?: Record<string, unknown>; apply: Record<string, unknown>[] },
): Record<string, unknown> {
  if (plan.kind === "records") return (plan.combineStats ?? combineStats)(parts.apply);
  const global = plan as GlobalShardPlan<unknown, unknown>;
  if (global.combineStats) return global.combineStats(parts);
  return { ...(parts.prepare ?? {}), ...combineStats(parts.reduce), ...(parts.merge ?? {}), ...combineStats(parts.apply) };
}
