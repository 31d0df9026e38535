import { lshBandHash } from "@infialign/decontam";

// The pieces of near-duplicate removal that the streaming pass (`nearDupStage`'s `run`) and its sharded plan share, so
// both decide alike by construction: LSH bucket keys, the choice among candidates, and the greedy replay over edges.

/** Value of every slot of the MinHash signature of a text with no words (`EMPTY_SIGNATURE_VALUE` of decontam). */
const EMPTY = 0xffffffff;

/** Whether a signature is that of a text with no words; such a text never looks for a match. */
export function isEmptySignature(sig: Uint32Array): boolean {
  return sig.every((v) => v === EMPTY);
}

/**
 * One LSH bucket key per band: `band · 2^32 + h`, h the 32-bit murmur3-style hash of the band's rows (the hash of
 * decontam's `LshIndex`, so the candidates are those it returns: two records are candidates when one of their bands
 * hashes alike). The band is part of the key, so equal hashes of different bands never meet.
 */
export function lshBucketKeys(sig: Uint32Array, bands: number, rowsPerBand: number): number[] {
  const keys = new Array<number>(bands);
  for (let band = 0; band < bands; band++) keys[band] = band * 2 ** 32 + (lshBandHash(sig, band, rowsPerBand) >>> 0);
  return keys;
}

/** A kept record a later one may duplicate: its order (position or kept index), id and estimated Jaccard. */
export interface NearDupCandidate {
  order: number;
  id: string;
  jaccard: number;
}

/**
 * Whether candidate `a` beats `b` as the record a duplicate points to: the higher estimated Jaccard, then the earlier
 * record. A total order, so the choice does not depend on the order candidates are found in (LSH buckets, partitions).
 */
export function betterCandidate(a: NearDupCandidate, b: NearDupCandidate | undefined): boolean {
  return b === undefined || a.jaccard > b.jaccard || (a.jaccard === b.jaccard && a.order < b.order);
}

/**
 * What the sharded plan's reduce emits for a later record (position): an edge to an earlier record at or above the
 * threshold, carrying the later record's own id too (a clone of the earlier record may need it as its candidate); or
 * `cloneOf`, the earlier record whose signature is identical and the first with it (its representative).
 */
export type NearDupLink = (NearDupCandidate & { laterId?: string }) | { cloneOf: number; id: string };

/** An edge of the sharded plan: a later record and an earlier one (`NearDupLink`). */
export type NearDupEdge = [later: number, earlier: NearDupLink];

const isClone = (link: NearDupLink): link is { cloneOf: number; id: string } => "cloneOf" in link;

/**
 * The streaming decision replayed over the edges between records (positions), in position order: a record is a
 * duplicate when it has an edge to an earlier record that is itself kept, and it points to the best such record
 * (`betterCandidate`); otherwise it is kept. Records without edges are kept and need no entry. Returns the duplicates,
 * in position order, with the id they duplicate. Memory is O(edges).
 *
 * This is the merge the sharded plan needs in place of a plain union-find over the edges: connected components would
 * also merge A and C in a chain A~B, B~C with A≁C, where the streaming pass keeps C (its only match, B, was dropped).
 *
 * A clone j of representative f (identical signatures, f the first with it) has no edges of its own. Exact because:
 * if f is kept, j duplicates f (Jaccard 1 is the maximum, and any other record at 1 has the same signature and comes
 * after f). If f is a duplicate, j's candidates are the kept records x < j with J(x, j) = J(x, f) ≥ threshold, which
 * are f's edges in both directions (j shares f's buckets, so the same records are LSH candidates); the best one is
 * picked as for any record. Clones are never kept, so no record needs an edge to a clone.
 */
export function replayNearDuplicates(edges: Iterable<NearDupEdge>): Array<[position: number, duplicateOf: string]> {
  const byLater = new Map<number, NearDupCandidate[]>();
  const clones = new Map<number, { cloneOf: number; id: string }>();
  const reverse: NearDupEdge[] = [];
  for (const edge of edges) {
    const [later, link] = edge;
    if (isClone(link)) {
      clones.set(later, link);
      continue;
    }
    const list = byLater.get(later);
    if (list) list.push(link);
    else byLater.set(later, [link]);
    reverse.push(edge);
  }
  // Each representative's candidates in both directions, by position; walked once, as its clones come in order.
  const adjacency = new Map<number, { list: NearDupCandidate[]; next: number; best?: NearDupCandidate }>();
  for (const { cloneOf } of clones.values()) if (!adjacency.has(cloneOf)) adjacency.set(cloneOf, { list: [], next: 0 });
  if (adjacency.size > 0) {
    for (const [later, link] of reverse) {
      const c = link as NearDupCandidate & { laterId?: string };
      adjacency.get(later)?.list.push({ order: c.order, id: c.id, jaccard: c.jaccard });
      const earlier = adjacency.get(c.order);
      if (!earlier) continue;
      if (c.laterId === undefined) throw new Error(`[infialign/sampling] near-dup merge: the edge ${later} → ${c.order} has no "laterId", which the clones of ${c.order} need`);
      earlier.list.push({ order: later, id: c.laterId, jaccard: c.jaccard });
    }
    for (const a of adjacency.values()) a.list.sort((x, y) => x.order - y.order);
  }
  const duplicate = new Set<number>();
  const out: Array<[number, string]> = [];
  for (const later of [...new Set([...byLater.keys(), ...clones.keys()])].sort((a, b) => a - b)) {
    let best: NearDupCandidate | undefined;
    const clone = clones.get(later);
    if (clone && !duplicate.has(clone.cloneOf)) best = { order: clone.cloneOf, id: clone.id, jaccard: 1 };
    else if (clone) {
      // Every record before `later` is decided, so the best kept candidate so far only grows as the clones go on.
      const a = adjacency.get(clone.cloneOf)!;
      for (; a.next < a.list.length && a.list[a.next]!.order < later; a.next++) {
        const c = a.list[a.next]!;
        if (!duplicate.has(c.order) && betterCandidate(c, a.best)) a.best = c;
      }
      best = a.best;
    } else {
      for (const c of byLater.get(later)!) if (!duplicate.has(c.order) && betterCandidate(c, best)) best = c;
    }
    if (!best) continue;
    duplicate.add(later);
    out.push([later, best.id]);
  }
  return out;
}

/** A signature as base64 of its little-endian bytes (a third of its JSON array's length). */
export function encodeSignature(sig: Uint32Array): string {
  const buf = Buffer.allocUnsafe(sig.length * 4);
  for (let i = 0; i < sig.length; i++) buf.writeUInt32LE(sig[i]!, i * 4);
  return buf.toString("base64");
}

export function decodeSignature(text: string): Uint32Array {
  const buf = Buffer.from(text, "base64");
  const sig = new Uint32Array(buf.length / 4);
  for (let i = 0; i < sig.length; i++) sig[i] = buf.readUInt32LE(i * 4);
  return sig;
}
