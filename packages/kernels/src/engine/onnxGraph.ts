// The small ONNX graphs the onnxruntime engine runs, serialized by hand (a few protobuf fields of onnx.proto3) so
// that this package stays dependency-free. All inputs have dynamic shapes, so one session serves every call.
//   product: a [m, d], b [n, d]                    → scores [m, n] = a·bᵀ                  (Gemm transB=1)
//   assign:  rows [m, d], centroids [k, d]          → index int32 [m], score [m]     (Gemm → TopK k=1 → Cast)
//   assign_rows: data [N, d], rows int32 [m], centroids [k, d] → as assign for rows `rows` of data (Gather → assign)
//   cluster_sums: data [N, d], rows int32 [m], index int32 [m, 1], shape int64 [2] = [k, d] → sums [k, d]
//            (Gather → ScatterND add, on a one-thread session)
//   topk:    queries [m, d], keys [n, d], k int64 [1] → scores [m, k], indices int64 [m, k] (Gemm → TopK)
// TopK orders equal scores by lower index (k = 1: the first maximum), the tie rule of the JS kernels.

/** ONNX opset the graphs use (ScatterND's `reduction` needs ≥ 16). */
const OPSET = 17;
const IR_VERSION = 8;
const FLOAT = 1;
const INT32 = 6;
const INT64 = 7;
const ATTR_INT = 2;
const ATTR_FLOAT = 1;
const ATTR_STRING = 3;
const ATTR_INTS = 7;

type Field = Uint8Array;

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function concat(parts: readonly Field[]): Field {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Varint field (wire type 0); `value` must be a non-negative integer. */
const int = (field: number, value: number): Field => Uint8Array.from([...varint(field << 3), ...varint(value)]);
/** Length-delimited field (wire type 2). */
const bytes = (field: number, payload: Field): Field => concat([Uint8Array.from([...varint((field << 3) | 2), ...varint(payload.length)]), payload]);
const str = (field: number, s: string): Field => bytes(field, new TextEncoder().encode(s));
/** 32-bit float field (wire type 5). */
const float = (field: number, value: number): Field => {
  const b = new Uint8Array(5);
  b[0] = (field << 3) | 5;
  new DataView(b.buffer).setFloat32(1, value, true);
  return b;
};

function attribute(name: string, value: number, type: "int" | "float" = "int"): Field {
  // AttributeProto: name 1, f 2, i 3, type 20.
  const v = type === "int" ? int(3, value) : float(2, value);
  return concat([str(1, name), v, int(20, type === "int" ? ATTR_INT : ATTR_FLOAT)]);
}

/** STRING attribute (field s = 4). */
const stringAttribute = (name: string, value: string): Field => concat([str(1, name), str(4, value), int(20, ATTR_STRING)]);
/** INTS attribute (field ints = 8, one varint each). */
const intsAttribute = (name: string, values: number[]): Field => concat([str(1, name), ...values.map((v) => int(8, v)), int(20, ATTR_INTS)]);

function node(opType: string, inputs: string[], outputs: string[], attributes: Field[] = []): Field {
  // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5.
  return concat([...inputs.map((i) => str(1, i)), ...outputs.map((o) => str(2, o)), str(3, outputs[0]!), str(4, opType), ...attributes.map((a) => bytes(5, a))]);
}

function valueInfo(name: string, elemType: number, dims: (string | number)[]): Field {
  // ValueInfoProto{name 1, type 2: TypeProto{tensor_type 1: {elem_type 1, shape 2: {dim 1: {dim_value 1 | dim_param 2}}}}}.
  const shape = concat(dims.map((d) => bytes(1, typeof d === "number" ? int(1, d) : str(2, d))));
  return concat([str(1, name), bytes(2, bytes(1, concat([int(1, elemType), bytes(2, shape)])))]);
}

function model(name: string, nodes: Field[], inputs: Field[], outputs: Field[]): Uint8Array {
  // GraphProto: node 1, name 2, input 11, output 12. ModelProto: ir_version 1, producer_name 2, graph 7, opset_import 8.
  const graph = concat([...nodes.map((n) => bytes(1, n)), str(2, name), ...inputs.map((i) => bytes(11, i)), ...outputs.map((o) => bytes(12, o))]);
  return concat([int(1, IR_VERSION), str(2, "@infialign/kernels"), bytes(7, graph), bytes(8, concat([str(1, ""), int(2, OPSET)]))]);
}

const gemmNT = (a: string, b: string, out: string): Field => node("Gemm", [a, b], [out], [attribute("transB", 1), attribute("alpha", 1, "float")]);

/** Graph input/output names, shared with the engine. */
export const GRAPH_NAMES = {
  a: "a",
  b: "b",
  k: "k",
  data: "data",
  rows: "rows",
  batch: "batch",
  shape: "shape",
  sums: "sums",
  scores: "scores",
  index: "index",
  best: "best",
  topScores: "top_scores",
  topIndices: "top_indices",
} as const;

const N = GRAPH_NAMES;

/** a [m, d] · b [n, d]ᵀ → scores [m, n]. */
export function productGraph(): Uint8Array {
  return model("product", [gemmNT(N.a, N.b, N.scores)], [valueInfo(N.a, FLOAT, ["m", "d"]), valueInfo(N.b, FLOAT, ["n", "d"])], [valueInfo(N.scores, FLOAT, ["m", "n"])]);
}

/**
 * Row-wise max and its first index of the scores `s`: TopK with k = 1, whose CPU kernel finds both in one pass over a
 * row (a strictly larger value replaces the best: the first maximum wins) and splits the rows over the threads.
 * ArgMax + ReduceMax took two passes, ArgMax on one thread: ≈ 10 % of a mini-batch step more.
 */
const bestNodes = (): Field[] => [
  node("Constant", [], ["one"], [intsAttribute("value_ints", [1])]),
  node("TopK", ["s", "one"], ["top1", "arg1"], [attribute("axis", 1), attribute("largest", 1), attribute("sorted", 1)]),
  node("Squeeze", ["top1", "one"], [N.best]),
  node("Squeeze", ["arg1", "one"], ["argmax"]),
  node("Cast", ["argmax"], [N.index], [attribute("to", INT32)]),
];

/** Row-wise arg max and max of a·bᵀ: index int32 [m] (first maximum), best float [m]. */
export function assignGraph(): Uint8Array {
  return model(
    "assign",
    [
      gemmNT(N.a, N.b, "s"),
      ...bestNodes(),
    ],
    [valueInfo(N.a, FLOAT, ["m", "d"]), valueInfo(N.b, FLOAT, ["n", "d"])],
    [valueInfo(N.index, INT32, ["m"]), valueInfo(N.best, FLOAT, ["m"])],
  );
}

/** {@link assignGraph} of rows `rows` of `data`, gathered inside the graph (a mini-batch without a copy in JS). */
export function assignRowsGraph(): Uint8Array {
  return model(
    "assign_rows",
    [node("Gather", [N.data, N.rows], [N.a], [attribute("axis", 0)]), gemmNT(N.a, N.b, "s"), ...bestNodes()],
    [valueInfo(N.data, FLOAT, ["total", "d"]), valueInfo(N.rows, INT32, ["m"]), valueInfo(N.b, FLOAT, ["n", "d"])],
    [valueInfo(N.index, INT32, ["m"]), valueInfo(N.best, FLOAT, ["m"])],
  );
}

/**
 * Per-cluster sums of the rows `rows` of `data`: sums[index[i]] += data[rows[i]], float32, in batch order (Gather, then
 * ScatterND with reduction add into zeros of shape `shape` = [k, d]). ScatterND's CPU kernel splits the rows over the
 * intra-op threads with no care for repeated indices, so this graph must run on a one-thread session (racy and
 * non-deterministic otherwise). The rows are gathered again rather than taken from the assignment graph: an output of
 * the batch's size comes back from onnxruntime-node as a fresh copy (4 MiB per step), which cost more than the gather.
 */
export function clusterSumsGraph(): Uint8Array {
  return model(
    "cluster_sums",
    [
      node("Gather", [N.data, N.rows], [N.batch], [attribute("axis", 0)]),
      node("Cast", [N.index], ["index64"], [attribute("to", INT64)]),
      node("ConstantOfShape", [N.shape], ["zeros"]),
      node("ScatterND", ["zeros", "index64", N.batch], [N.sums], [stringAttribute("reduction", "add")]),
    ],
    [valueInfo(N.data, FLOAT, ["total", "d"]), valueInfo(N.rows, INT32, ["m"]), valueInfo(N.index, INT32, ["m", 1]), valueInfo(N.shape, INT64, [2])],
    [valueInfo(N.sums, FLOAT, ["k", "d"])],
  );
}

/** The `k` largest entries of every row of a·bᵀ, sorted descending (equal scores: lower index first). */
export function topKGraph(): Uint8Array {
  return model(
    "topk",
    [gemmNT(N.a, N.b, "s"), node("TopK", ["s", N.k], [N.topScores, N.topIndices], [attribute("axis", 1), attribute("largest", 1), attribute("sorted", 1)])],
    [valueInfo(N.a, FLOAT, ["m", "d"]), valueInfo(N.b, FLOAT, ["n", "d"]), valueInfo(N.k, INT64, [1])],
    [valueInfo(N.topScores, FLOAT, ["m", "t"]), valueInfo(N.topIndices, INT64, ["m", "t"])],
  );
}
