// detect.ts: `electra detect`: runs a discriminator on token ids and shows, per token, the
// probability that it was replaced.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { native } from "../native/binding.js";

export interface DetectOptions {
  model: string;
  ids?: string;
  text?: string;
  typeIds?: string;
  json: boolean;
}

export interface DetectResult {
  ids: number[];
  logits: number[];
  probs: number[];
}

/** Parses "101 1996 102" (spaces or commas) into ids; throws naming the bad entry. */
export function parseIds(text: string): number[] {
  const parts = text.split(/[\s,]+/).filter((p) => p.length > 0);
  if (parts.length === 0) throw new Error("--ids is empty; give token ids like \"101 1996 4937 102\"");
  return parts.map((p, i) => {
    if (!/^\d+$/.test(p)) throw new Error(`--ids: entry ${i + 1} ("${p}") is not a non-negative integer`);
    return Number(p);
  });
}

/** Segment ids of "[CLS] A [SEP] B [SEP]": 0 through the first [SEP], 1 after it. */
export function segmentIds(ids: number[], sepId: number): number[] {
  const first = ids.indexOf(sepId);
  return ids.map((_, i) => (first >= 0 && i > first ? 1 : 0));
}

export async function detect(modelDir: string, ids: number[], typeIds?: number[]): Promise<DetectResult> {
  const model = new (native().Discriminator)(modelDir);
  const cfg = JSON.parse(model.config) as { vocab_size: number; max_position_embeddings: number };
  const bad = ids.findIndex((id) => id >= cfg.vocab_size);
  if (bad >= 0) throw new Error(`--ids: id ${ids[bad]} (entry ${bad + 1}) is outside the model's vocabulary of ${cfg.vocab_size}`);
  if (ids.length > cfg.max_position_embeddings)
    throw new Error(`--ids: ${ids.length} tokens exceed the model's max_position_embeddings (${cfg.max_position_embeddings})`);
  const logits = await model.logits({
    inputIds: Int32Array.from(ids),
    attentionMask: new Int32Array(ids.length).fill(1),
    tokenTypeIds: Int32Array.from(typeIds ?? segmentIds(ids, sepIdOf(modelDir))),
    batchSize: 1,
    seqLen: ids.length,
  });
  const l = Array.from(logits);
  return { ids, logits: l, probs: l.map((x) => 1 / (1 + Math.exp(-x))) };
}

function readVocab(dir: string): string[] | undefined {
  const p = join(dir, "vocab.txt");
  return existsSync(p) ? readFileSync(p, "utf8").split(/\r?\n/) : undefined;
}

/** [SEP]'s id from the model's vocab.txt, else BERT's (102). */
function sepIdOf(dir: string): number {
  const i = readVocab(dir)?.indexOf("[SEP]") ?? -1;
  return i >= 0 ? i : 102;
}

/** [CLS] text [SEP] with the model directory's vocab.txt (and tokenizer_config.json's do_lower_case). */
export function textToIds(modelDir: string, text: string): number[] {
  const vocabPath = join(modelDir, "vocab.txt");
  if (!existsSync(vocabPath)) throw new Error(`${modelDir} has no vocab.txt, so --text cannot be tokenized; use --ids, or copy the vocabulary the model was trained with into it`);
  let lower = true;
  const tc = join(modelDir, "tokenizer_config.json");
  if (existsSync(tc)) {
    const cfg = JSON.parse(readFileSync(tc, "utf8")) as { do_lower_case?: boolean };
    if (typeof cfg.do_lower_case === "boolean") lower = cfg.do_lower_case;
  }
  const tok = new (native().WordPieceTokenizer)(vocabPath, lower);
  return [tok.specialIds.cls, ...Array.from(tok.encode(text)), tok.specialIds.sep];
}

export async function detectCommand(opts: DetectOptions): Promise<number> {
  if (!opts.ids && opts.text === undefined) throw new Error("give the input with --text \"...\" or --ids \"101 1996 ... 102\"");
  if (opts.ids && opts.text !== undefined) throw new Error("give either --text or --ids, not both");
  const ids = opts.ids ? parseIds(opts.ids) : textToIds(opts.model, opts.text!);
  let typeIds: number[] | undefined;
  if (opts.typeIds !== undefined) {
    typeIds = parseIds(opts.typeIds);
    if (typeIds.length !== ids.length) throw new Error(`--type-ids has ${typeIds.length} entries but --ids has ${ids.length}`);
  }
  const r = await detect(opts.model, ids, typeIds);
  if (opts.json) {
    process.stdout.write(JSON.stringify(r) + "\n");
    return 0;
  }
  const vocab = readVocab(opts.model);
  const rows = r.ids.map((id, i) => {
    const tok = vocab?.[id] ?? "";
    const bar = "█".repeat(Math.round(r.probs[i] * 20));
    return `${String(i).padStart(4)}  ${String(id).padStart(6)}  ${tok.padEnd(14).slice(0, 14)}  ${r.probs[i].toFixed(3)}  ${bar}`;
  });
  process.stdout.write(` pos      id  token           p(replaced)\n${rows.join("\n")}\n`);
  return 0;
}
