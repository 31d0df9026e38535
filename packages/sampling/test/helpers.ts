// Shared by the stage tests: a StageContext that records what a stage reports, and iterable helpers.
import { noProgress, type RejectCode, type Sample, type StageContext, silentLogger } from "@infialign/data";

export interface RecordingContext {
  ctx: StageContext;
  rejects: { code: RejectCode; message: string; id?: string; record: Sample }[];
  duplicates: { id: string; of: string }[];
  counts: Record<string, number>;
}

/** A quiet StageContext whose rejects, duplicates and counters land in plain arrays/objects. */
export function fakeCtx(options: { seed?: number; cacheDir?: string } = {}): RecordingContext {
  const rec: Omit<RecordingContext, "ctx"> = { rejects: [], duplicates: [], counts: {} };
  const ctx: StageContext = {
    reject: (record, code, message, extra) => rec.rejects.push({ code, message, id: extra?.id, record: record as Sample }),
    duplicate: (r, of) => rec.duplicates.push({ id: r.id, of }),
    count: (name, by = 1) => {
      rec.counts[name] = (rec.counts[name] ?? 0) + by;
    },
    logger: silentLogger,
    progress: noProgress,
    signal: new AbortController().signal,
    cacheDir: options.cacheDir ?? "/nonexistent",
    seed: options.seed ?? 0,
  };
  return { ctx, ...rec };
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export async function* from<T>(xs: T[]): AsyncIterable<T> {
  yield* xs;
}
