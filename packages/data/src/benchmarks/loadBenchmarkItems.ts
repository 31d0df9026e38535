import { benchmarkError, readBenchmarkRecords } from "./benchmarkRecords.js";
import { benchmarkFile, defineBenchmark, isResolvedBenchmark, resolveBenchmark } from "./registry.js";
import type { BenchmarkDefinition, BenchmarkItem, BenchmarkRecord, LoadBenchmarkOptions, RegisteredBenchmark } from "./types.js";

/**
 * Loads a benchmark's items: by registry name (id, deprecated alias or `id:variant`), or from a definition that is
 * not registered (a one-off file). Items come in file order; ids must be unique. A broken record stops the load with
 * its file, line (or row), field and what was expected.
 */
export async function loadBenchmarkItems(benchmark: string | BenchmarkDefinition | RegisteredBenchmark, options: LoadBenchmarkOptions = {}): Promise<BenchmarkItem[]> {
  const def = typeof benchmark === "string" ? resolveBenchmark(benchmark) : isResolvedBenchmark(benchmark) ? benchmark : defineBenchmark(benchmark);
  const { format } = def;
  const limit = options.limit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) throw benchmarkError(`benchmark "${def.id}": limit must be a non-negative integer, got ${limit}`);
  if (options.options !== undefined && !format.options) throw benchmarkError(`benchmark "${def.id}": format "${format.name}" takes no options`);
  const ctx = {
    benchmark: def.id,
    textOnly: !!options.textOnly,
    fields: def.fields,
    options: options.options === undefined ? def.options : format.options!({ ...def.options, ...options.options }),
  };
  const label = format.label ?? "benchmark";
  const path = options.path ?? benchmarkFile(def);
  let records: AsyncIterable<BenchmarkRecord> | Iterable<BenchmarkRecord>;
  if (path !== undefined) records = readBenchmarkRecords(path, { label, ...(format.expected ? { expected: format.expected } : {}), ...(format.maxRecordBytes ? { maxRecordBytes: format.maxRecordBytes } : {}) });
  else if (def.records !== undefined) records = def.records.map((value, i) => ({ value, where: `benchmark "${def.id}" record ${i}`, position: String(i) }));
  else throw benchmarkError(`benchmark "${def.id}" needs the path of your ${def.obtain ?? "copy of its data"}: pass it as { path }`);

  const items: BenchmarkItem[] = [];
  const seen = new Map<string, string>();
  if (limit === 0) return items;
  for await (const record of records) {
    const item = format.parse(record, ctx);
    if (item === undefined) continue;
    const first = seen.get(item.id);
    if (first !== undefined) throw benchmarkError(`${record.where}: id "${item.id}" repeats ${first}; ids must be unique within a benchmark`);
    seen.set(item.id, record.where);
    items.push(item);
    if (limit !== undefined && items.length >= limit) break;
  }
  return items;
}
