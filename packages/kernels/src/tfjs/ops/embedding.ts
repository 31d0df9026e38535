// Token embedding lookup whose gradient works on every backend: tf.gather's gradient needs UnsortedSegmentSum, which the
// wasm backend lacks, so the table gradient is a scatterND (which sums duplicate ids) instead.
import * as tf from "@tensorflow/tfjs-core";

// The references (and the ops users chain around the fused ones) differentiate through tfjs' registered gradients,
// which tfjs-core only registers on request.

function checkShapes(table: tf.Tensor, ids: tf.Tensor): { vocab: number; dim: number; n: number } {
  const where = "[infialign/kernels] embeddingLookup";
  if (table.rank !== 2) throw new Error(`${where}: table must be [vocab, dim]; got [${table.shape}].`);
  if (table.dtype !== "float32") throw new Error(`${where}: table must be float32; got ${table.dtype}.`);
  if (ids.dtype !== "int32") throw new Error(`${where}: ids must be int32; got ${ids.dtype}. Build them with tf.tensor(ids, shape, "int32").`);
  const [vocab, dim] = table.shape as [number, number];
  return { vocab, dim, n: ids.size };
}

/**
 * Rows of `table` for every id: `out[..., :] = table[ids[...], :]`, shape `[...ids.shape, dim]`.
 *
 * Gradient: dtable = scatterND(ids, dy) into `[vocab, dim]`, which adds the rows of repeated ids (the same sum tf.gather's
 * UnsortedSegmentSum gradient computes, but available on cpu, wasm, webgl and tfjs-node). The forward saves only the ids.
 * Ids must lie in [0, vocab): they are not range-checked (that would need a device read).
 *
 * @param table `[vocab, dim]` float32 (`model.embed_tokens.weight`)
 * @param ids int32 token ids, any shape (typically `[batch, seq]`)
 * @returns `[...ids.shape, dim]`
 */
export function embeddingLookup(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  const { vocab, dim, n } = checkShapes(table, ids);
  const outShape = [...ids.shape, dim];
  const fused = tf.customGrad((tableIn, save) => {
    (save as tf.GradSaveFunc)([ids]);
    return {
      value: tf.reshape(tf.gather(tableIn as tf.Tensor, tf.reshape(ids, [n])), outShape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const flatIds = tf.reshape(saved[0] as tf.Tensor, [n, 1]);
        return [tf.scatterND(flatIds, tf.reshape(dy, [n, dim]), [vocab, dim])];
      },
    };
  });
  return fused(table);
}

/**
 * {@link embeddingLookup} as a one-hot matrix product `oneHot(ids, vocab) · table` in plain differentiable tfjs ops: the
 * definition of the lookup, with an autodiff gradient (a matmul) that runs on every backend. O(n · vocab · dim): for
 * tests only.
 */
export function referenceEmbeddingLookup(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  const { vocab, dim, n } = checkShapes(table, ids);
  return tf.tidy(() => tf.reshape(tf.matMul(tf.oneHot(tf.reshape(ids, [n]), vocab), table), [...ids.shape, dim]));
}
