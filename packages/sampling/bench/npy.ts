import { closeSync, openSync, readSync, writeFileSync } from "node:fs";

/** Writes a row-major float32 matrix as a NumPy .npy file (format 1.0, little-endian '<f4'), which numpy.load reads. */
export function writeNpyFloat32(path: string, data: Float32Array, rows: number, cols: number): void {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64 and ended by "\n".
  header = header.padEnd(Math.ceil((10 + header.length + 1) / 64) * 64 - 10 - 1, " ") + "\n";
  const head = Buffer.alloc(10 + header.length);
  head.write("\x93NUMPY", 0, "latin1");
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  head.write(header, 10, "latin1");
  writeFileSync(path, Buffer.concat([head, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

/** Reads a float32 .npy file written by {@link writeNpyFloat32}, straight into the returned array (no second copy). */
export function readNpyFloat32(path: string): { data: Float32Array; rows: number; cols: number } {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(10);
    readSync(fd, head, 0, 10, 0);
    const headerLength = head.readUInt16LE(8);
    const header = Buffer.alloc(headerLength);
    readSync(fd, header, 0, headerLength, 10);
    const text = header.toString("latin1");
    const shape = /'shape': \((\d+), (\d+)\)/.exec(text);
    if (!text.includes("'<f4'") || !shape) throw new Error(`${path}: not a 2-D little-endian float32 .npy file (header ${text.trim()})`);
    const rows = Number(shape[1]);
    const cols = Number(shape[2]);
    const data = new Float32Array(rows * cols);
    const bytes = new Uint8Array(data.buffer);
    for (let done = 0; done < bytes.length; ) {
      const n = readSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 26), 10 + headerLength + done);
      if (n === 0) throw new Error(`${path}: ends after ${done} of ${bytes.length} data bytes`);
      done += n;
    }
    return { data, rows, cols };
  } finally {
    closeSync(fd);
  }
}
