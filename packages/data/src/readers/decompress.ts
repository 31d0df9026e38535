import { createReadStream } from "node:fs";
import { Transform, type TransformCallback } from "node:stream";
import { createGunzip } from "node:zlib";
import { Decompress } from "fzstd";
import { DataError } from "../errors.js";
import type { InputFile } from "./types.js";

export type Compression = InputFile["compression"];

/** Bytes per read: large reads keep the per-chunk overhead of the line splitter negligible. */
export const READ_CHUNK_BYTES = 1 << 20;

export function compressionFromPath(path: string): Compression {
  const lower = path.toLowerCase();
  if (lower.endsWith(".gz")) return "gzip";
  if (lower.endsWith(".zst")) return "zstd";
  return "none";
}

/**
 * zstd as a stream transform. Node 20 has no zstd in zlib, so this wraps fzstd's
 * streaming decoder (pure JS, handles multi-frame files).
 */
export function createZstdDecompress(): Transform {
  let out: Uint8Array[] = [];
  const decoder = new Decompress((data) => {
    if (data.length > 0) out.push(data);
  });
  const drain = (stream: Transform) => {
    for (const chunk of out) stream.push(chunk);
    out = [];
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      try {
        decoder.push(chunk);
      } catch (error) {
        callback(error as Error);
        return;
      }
      drain(this);
      callback();
    },
    flush(callback: TransformCallback) {
      try {
        decoder.push(new Uint8Array(0), true);
      } catch (error) {
        callback(error as Error);
        return;
      }
      drain(this);
      callback();
    },
  });
}

/**
 * Opens `path` as a stream of decompressed bytes. Decoder failures surface as a
 * DataError naming the file, since a corrupt archive is something the user must fix.
 */
export async function* openDecompressed(path: string, compression: Compression = compressionFromPath(path), signal?: AbortSignal): AsyncGenerator<Buffer> {
  const file = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
  let stream: NodeJS.ReadableStream = file;
  if (compression === "gzip") stream = file.pipe(createGunzip({ chunkSize: 256 * 1024 }));
  else if (compression === "zstd") stream = file.pipe(createZstdDecompress());
  const decoder = stream as NodeJS.ReadableStream & { destroy(error?: Error): void };
  if (decoder !== file) file.on("error", (error) => decoder.destroy(error));
  try {
    for await (const chunk of stream) {
      signal?.throwIfAborted();
      yield chunk as Buffer;
    }
  } catch (error) {
    if (isFsError(error)) {
      if (error.code === "ENOENT") throw new DataError("reader", `file "${path}" does not exist. Check the path.`, { cause: error });
      throw error;
    }
    if (compression !== "none" && !signal?.aborted) {
      const kind = compression === "gzip" ? "gzip" : "zstd";
      throw new DataError("reader", `"${path}" is not a readable ${kind} file (${(error as Error).message}). Check that the file is complete, or rename it if it is not compressed.`, {
        cause: error,
      });
    }
    throw error;
  } finally {
    file.destroy();
    decoder.destroy();
  }
}

function isFsError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === "string";
}
