// features.ts: GLUE examples -> token ids ([CLS] a [SEP] b [SEP], BERT's pair truncation) and
// dynamically padded batches (each batch padded to its longest member, not to the maximum length).
import type { BatchInput, NativeWordPieceTokenizer } from "../native/binding.js";

export interface TextPair {
  textA: string;
  textB?: string;
}

export interface Feature {
  ids: Int32Array; // [CLS] a [SEP] (b [SEP])
  lenA: number; // tokens of [CLS] a [SEP] (segment 0)
}

/** BERT's _truncate_seq_pair: drop tokens from the end of the longer side until both fit. */
export function truncatePair(a: Int32Array, b: Int32Array | null, maxTokens: number): [number, number] {
  let la = a.length, lb = b ? b.length : 0;
  while (la + lb > maxTokens) {
    if (la > lb) la--;
    else lb--;
  }
  return [la, lb];
}

/** Tokenizes every example (natively, off the main thread) into features of at most maxLen tokens. */
export async function encodeExamples(tok: NativeWordPieceTokenizer, examples: TextPair[], maxLen: number): Promise<Feature[]> {
  const texts: string[] = [];
  for (const e of examples) {
    texts.push(e.textA);
    if (e.textB !== undefined) texts.push(e.textB);
  }
  const enc = await tok.encodeBatch(texts);
  const { cls, sep } = tok.specialIds;
  const out: Feature[] = [];
  let t = 0;
  for (const e of examples) {
    const a = enc.ids.subarray(enc.offsets[t], enc.offsets[t + 1]);
    t++;
    let b: Int32Array | null = null;
    if (e.textB !== undefined) {
      b = enc.ids.subarray(enc.offsets[t], enc.offsets[t + 1]);
      t++;
    }
    const [la, lb] = truncatePair(a, b, maxLen - (b ? 3 : 2));
    const ids = new Int32Array(la + 2 + (b ? lb + 1 : 0));
    ids[0] = cls;
    ids.set(a.subarray(0, la), 1);
    ids[la + 1] = sep;
    if (b) {
      ids.set(b.subarray(0, lb), la + 2);
      ids[ids.length - 1] = sep;
    }
    out.push({ ids, lenA: la + 2 });
  }
  return out;
}

/** One batch of the given features, padded to the longest. */
export function makeBatch(features: Feature[], order: ArrayLike<number>, start: number, end: number, padId: number): BatchInput {
  const B = end - start;
  let T = 0;
  for (let i = start; i < end; i++) T = Math.max(T, features[order[i]].ids.length);
  const ids = new Int32Array(B * T).fill(padId), tt = new Int32Array(B * T), mask = new Int32Array(B * T);
  for (let r = 0; r < B; r++) {
    const f = features[order[start + r]];
    ids.set(f.ids, r * T);
    mask.fill(1, r * T, r * T + f.ids.length);
    tt.fill(1, r * T + f.lenA, r * T + f.ids.length);
  }
  return { inputIds: ids, tokenTypeIds: tt, attentionMask: mask, batchSize: B, seqLen: T };
}

/** A seeded permutation (mulberry32 + Fisher-Yates): the same seed, the same epoch order. */
export function permutation(n: number, seed: number): Uint32Array {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const x = p[i];
    p[i] = p[j];
    p[j] = x;
  }
  return p;
}
