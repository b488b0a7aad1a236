// detect.ts: `electra detect`: runs a discriminator on token ids and shows, per token, the
// probability that it was replaced.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { native } from "../native/binding.js";

export interface DetectOptions {
  model: string;
  ids?: string;
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

export async function detect(modelDir: string, ids: number[]): Promise<DetectResult> {
  const model = new (native().Discriminator)(modelDir);
  const cfg = JSON.parse(model.config) as { vocab_size: number; max_position_embeddings: number };
  const bad = ids.findIndex((id) => id >= cfg.vocab_size);
  if (bad >= 0) throw new Error(`--ids: id ${ids[bad]} (entry ${bad + 1}) is outside the model's vocabulary of ${cfg.vocab_size}`);
  if (ids.length > cfg.max_position_embeddings)
    throw new Error(`--ids: ${ids.length} tokens exceed the model's max_position_embeddings (${cfg.max_position_embeddings})`);
  const logits = await model.logits({
    inputIds: Int32Array.from(ids),
    attentionMask: new Int32Array(ids.length).fill(1),
    tokenTypeIds: new Int32Array(ids.length),
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

export async function detectCommand(opts: DetectOptions): Promise<number> {
  if (!opts.ids) throw new Error("give the tokens with --ids \"101 1996 ... 102\"");
  const r = await detect(opts.model, parseIds(opts.ids));
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
