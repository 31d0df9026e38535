// Writing one JSON Lines file from a stream of records, as the LLaMA-Factory exports of this package and of
// @infialign/train-dpo do.
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { syncDir, tempPathFor } from "@infialign/data";

export interface WriteJsonlOptions {
  /**
   * What an empty stream does: `"write"` an empty file, or `"discard"` it, leaving `path` as it was (the caller then
   * reports the missing records). @default "write"
   */
  empty?: "write" | "discard";
}

/**
 * Streams records to `path` as JSON Lines, one `JSON.stringify` per line, through a temporary file beside it that is
 * renamed into place once complete (readers never see a partial file; a failed write leaves `path` untouched).
 * Returns the number of records.
 */
export async function writeJsonl(path: string, records: Iterable<unknown> | AsyncIterable<unknown>, options: WriteJsonlOptions = {}): Promise<number> {
  const temp = tempPathFor(path);
  const out = createWriteStream(temp);
  let count = 0;
  try {
    for await (const record of records) {
      if (!out.write(`${JSON.stringify(record)}\n`)) await once(out, "drain");
      count++;
    }
    out.end();
    await once(out, "finish");
    if (count === 0 && options.empty === "discard") await rm(temp, { force: true });
    else await rename(temp, path);
  } catch (error) {
    out.destroy();
    await rm(temp, { force: true });
    throw error;
  }
  await syncDir(dirname(path));
  return count;
}
