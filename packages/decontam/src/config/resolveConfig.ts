import type { z } from "zod";

/**
 * Merges `options` over `defaults` (undefined fields keep the default) and validates the result with `schema`,
 * reporting every invalid field at once: the one resolution path of each decontam config.
 */
export function resolveConfig<T>(component: string, schema: z.ZodType<T>, defaults: Readonly<T>, options: Partial<T>): T {
  const merged = { ...defaults, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`[infialign/decontam] ${component}: invalid config (${issues})`);
  }
  return parsed.data;
}
