// prepare.ts: `electra prepare` as work that yields events: raw text -> (trained or given) WordPiece
// vocabulary -> ELECTRA-packed shards, a held-out split, vocab.txt and manifest.json. The native
// PrepareWriter does the per-token work; this file finds inputs, feeds bytes and keeps the books.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, accessSync, constants } from "node:fs";
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { native, type PrepareStats } from "../native/binding.js";
import type { WorkEvent } from "../report/events.js";
import { VocabTrainer } from "../tokenizer/vocabTrainer.js";
import { builtinCorpusFile, cacheDir, BUILTIN_CORPUS_VERSION } from "./builtinCorpus.js";
import { readChunks, resolveInputs, type InputFile } from "./inputs.js";

export const SHARD_FORMAT_VERSION = 1;

export interface PrepareOptions {
  inputs: string[]; // empty: the built-in corpus
  out?: string; // default: ./prepared, or the cache for the built-in corpus
  vocab?: string; // an existing vocab.txt (e.g. BERT's)
  vocabSize?: number; // or train one of this size
  cased: boolean;
  maxSeqLength: number;
  seed: number;
  evalFraction: number;
  maxEvalExamples: number;
  examplesPerShard: number;
  textField: string;
  threads: number;
  force: boolean;
}

export const PREPARE_DEFAULTS = {
  maxSeqLength: 128, // ELECTRA's max_seq_length (build_pretraining_dataset.py)
  seed: 12345,
  evalFraction: 0.01,
  maxEvalExamples: 10000,
  examplesPerShard: 100000,
  textField: "text",
  builtinVocabSize: 8192, // a vocabulary trained on the built-in corpus (small: fast tiny models)
} as const;

/** The default output for the built-in corpus: reused by `electra pretrain` with no --data. */
export function builtinPreparedDir(maxSeqLength: number = PREPARE_DEFAULTS.maxSeqLength): string {
  return join(cacheDir(), `builtin-v${BUILTIN_CORPUS_VERSION}-T${maxSeqLength}`);
}

const OWN_FILE = /^(train|eval)-\d{5}\.shard$|\.tmp-|^manifest\.json$|^vocab\.txt$/;

function fingerprint(inputs: InputFile[], opts: PrepareOptions, vocabHash: string): string {
  const h = createHash("sha256");
  h.update(JSON.stringify({
    inputs: inputs.map((f) => [resolve(f.path), f.bytes, Math.round(f.mtimeMs)]),
    vocabHash, cased: opts.cased, maxSeqLength: opts.maxSeqLength, seed: opts.seed, evalFraction: opts.evalFraction,
    maxEvalExamples: opts.maxEvalExamples, examplesPerShard: opts.examplesPerShard, textField: opts.textField,
    format: SHARD_FORMAT_VERSION,
  }));
  return h.digest("hex");
}

function checkVocab(path: string): void {
  if (!existsSync(path)) throw new Error(`${path}: vocabulary file not found`);
  const lines = readFileSync(path, "utf8").split(/\r?\n/);
  for (const t of ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    if (!lines.includes(t)) throw new Error(`${path}: the vocabulary lacks ${t}; BERT-style vocabularies need [PAD], [UNK], [CLS], [SEP] and [MASK]`);
}

/** An existing, complete preparation of the same inputs and options, or null. */
function reusable(outDir: string, fp: string): Record<string, unknown> | null {
  const mf = join(outDir, "manifest.json");
  if (!existsSync(mf)) return null;
  try {
    const m = JSON.parse(readFileSync(mf, "utf8"));
    if (m.fingerprint !== fp) return null;
    for (const s of m.shards as { file: string }[]) if (!existsSync(join(outDir, s.file))) return null;
    return m;
  } catch {
    return null;
  }
}

function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n");
  renameSync(tmp, path);
}

export async function* prepare(opts: PrepareOptions): AsyncGenerator<WorkEvent> {
  const t0 = Date.now();
  const builtin = opts.inputs.length === 0;
  const inputs = resolveInputs(builtin ? [builtinCorpusFile()] : opts.inputs);
  const outDir = resolve(opts.out ?? (builtin ? builtinPreparedDir(opts.maxSeqLength) : "prepared"));
  if (opts.maxSeqLength < 5 || opts.maxSeqLength > 65535) throw new Error(`--max-seq-length must be in 5..65535 (got ${opts.maxSeqLength})`);
  if (!(opts.evalFraction >= 0 && opts.evalFraction < 1)) throw new Error(`--eval-fraction must be in [0, 1) (got ${opts.evalFraction})`);
  mkdirSync(outDir, { recursive: true });
  try {
    accessSync(outDir, constants.W_OK);
  } catch {
    throw new Error(`${outDir}: the output directory is not writable`);
  }

  // ---- the vocabulary: given, or trained on the inputs
  let vocabPath: string;
  if (opts.vocab) {
    vocabPath = resolve(opts.vocab);
    checkVocab(vocabPath);
  } else {
    const size = opts.vocabSize ?? (builtin ? PREPARE_DEFAULTS.builtinVocabSize : undefined);
    if (!size) throw new Error("give a vocabulary with --vocab vocab.txt (e.g. BERT's) or train one with --vocab-size N");
    vocabPath = join(outDir, `trained-vocab-${size}${opts.cased ? "-cased" : ""}.txt`);
    const trained = yield* trainVocabulary(inputs, vocabPath, size, opts);
    if (!trained) throw new Error("vocabulary training is not available in this build");
  }
  const vocabHash = native().fileHash(vocabPath);
  const fp = fingerprint(inputs, opts, vocabHash);
  const totalBytes = inputs.reduce((a, f) => a + f.bytes, 0);

  const done = !opts.force && reusable(outDir, fp);
  if (done) {
    yield { type: "log", level: "info", message: `${outDir} already holds these inputs prepared with these options; reusing it (--force redoes it)` };
    yield { type: "prepare-done", outDir, manifest: done };
    return;
  }
  // a fresh start: remove only what an earlier (possibly interrupted) run of ours left
  for (const f of readdirSync(outDir)) if (OWN_FILE.test(f) && !f.startsWith("trained-vocab")) rmSync(join(outDir, f), { force: true });

  yield { type: "prepare-start", inputs: inputs.map((f) => f.path), totalBytes, outDir, vocab: vocabPath };
  const writer = new (native().PrepareWriter)(vocabPath, !opts.cased, JSON.stringify({
    out_dir: outDir, max_seq_length: opts.maxSeqLength, seed: opts.seed, examples_per_shard: opts.examplesPerShard,
    eval_fraction: opts.evalFraction, max_eval_examples: opts.maxEvalExamples, threads: opts.threads,
  }));
  let stats: PrepareStats | undefined;
  let doneBytes = 0;
  let lastReport = 0;
  for (const file of inputs) {
    writer.beginFile(file.path, file.jsonl, opts.textField);
    let consumed = 0;
    for await (const [chunk, c] of readChunks(file)) {
      stats = await writer.feed(chunk);
      consumed = c;
      const now = Date.now();
      if (now - lastReport > 500) {
        lastReport = now;
        const bytes = doneBytes + consumed, sec = (now - t0) / 1000;
        const rate = bytes / Math.max(sec, 1e-3);
        yield { type: "prepare-progress", file: file.path, bytes, totalBytes, lines: stats.lines, examples: stats.trainExamples + stats.evalExamples, mbPerSec: rate / 1e6, etaSec: rate > 0 ? (totalBytes - bytes) / rate : null };
      }
    }
    stats = await writer.endFile();
    doneBytes += file.bytes;
  }
  stats = await writer.finish();
  if (stats.trainExamples === 0)
    throw new Error(`no text found in ${inputs.length === 1 ? inputs[0].path : `the ${inputs.length} inputs`}: nothing to pack (empty or whitespace-only input)`);

  // vocab.txt beside the shards (the one the ids refer to)
  if (resolve(vocabPath) !== join(outDir, "vocab.txt")) {
    const tmp = join(outDir, `vocab.txt.tmp-${process.pid}`);
    copyFileSync(vocabPath, tmp);
    chmodSync(tmp, 0o644);
    renameSync(tmp, join(outDir, "vocab.txt"));
  }
  const shardInfo = stats.shards.map((f) => ({ file: f, split: f.startsWith("eval") ? "eval" : "train", examples: native().shardInfo(join(outDir, f)).examples }));
  const vocabSize = readFileSync(vocabPath, "utf8").split(/\r?\n/).filter((l, i, a) => i < a.length - 1 || l.length > 0).length;
  const manifest = {
    format: "electra-shards",
    shard_format_version: SHARD_FORMAT_VERSION,
    fingerprint: fp,
    inputs: inputs.map((f) => ({ path: resolve(f.path), bytes: f.bytes })),
    builtin_corpus: builtin,
    documents: stats.documents,
    lines: stats.lines,
    blank_lines: stats.blankLines,
    tokens: stats.tokens,
    unk_tokens: stats.unknown,
    unk_rate: stats.tokens ? stats.unknown / stats.tokens : 0,
    replaced_invalid_utf8: stats.invalidUtf8,
    examples: { train: stats.trainExamples, eval: stats.evalExamples },
    shards: shardInfo,
    vocab: { file: "vocab.txt", source: vocabPath, size: vocabSize, fnv1a64: vocabHash, lower_case: !opts.cased },
    options: {
      max_seq_length: opts.maxSeqLength, seed: opts.seed, eval_fraction: opts.evalFraction, max_eval_examples: opts.maxEvalExamples,
      examples_per_shard: opts.examplesPerShard, text_field: opts.textField, cased: opts.cased,
    },
    seed: opts.seed,
    elapsed_sec: (Date.now() - t0) / 1000,
    created: new Date().toISOString(),
  };
  writeJsonAtomic(join(outDir, "manifest.json"), manifest);
  yield { type: "prepare-done", outDir, manifest };
}

/** Trains a WordPiece vocabulary on exactly the text that will be packed (a .jsonl's text field,
 * not its JSON), writing it atomically to `out`. Yields progress while counting. */
async function* trainVocabulary(inputs: InputFile[], out: string, size: number, opts: PrepareOptions): AsyncGenerator<WorkEvent, boolean> {
  const t0 = Date.now();
  const trainer = new VocabTrainer({ vocabSize: size, cased: opts.cased, threads: opts.threads });
  const totalBytes = inputs.reduce((a, f) => a + f.bytes, 0);
  yield { type: "log", level: "info", message: `training a ${size}-entry WordPiece vocabulary on ${inputs.length} input(s)` };
  let done = 0, last = 0;
  const enc = new TextEncoder();
  for (const f of inputs) {
    let carry = "";
    let line = 0;
    for await (const [chunk, consumed] of readChunks(f)) {
      if (f.jsonl) {
        const text = carry + Buffer.from(chunk).toString("utf8");
        const lines = text.split("\n");
        carry = lines.pop() ?? "";
        const docs: string[] = [];
        for (const l of lines) {
          line++;
          if (!l.trim()) continue;
          let v: Record<string, unknown>;
          try {
            v = JSON.parse(l);
          } catch (e) {
            throw new Error(`${f.path}:${line}: invalid JSON (${(e as Error).message})`);
          }
          const t = v[opts.textField];
          if (typeof t !== "string") throw new Error(`${f.path}:${line}: no string field "${opts.textField}" in this JSON line (choose the field with --text-field)`);
          docs.push(t);
        }
        await trainer.feed(enc.encode(docs.join("\n") + "\n"));
      } else {
        await trainer.feed(chunk);
      }
      const now = Date.now();
      if (now - last > 500) {
        last = now;
        const bytes = done + consumed, rate = bytes / Math.max((now - t0) / 1000, 1e-3);
        yield { type: "prepare-progress", file: f.path, bytes, totalBytes, lines: 0, examples: 0, mbPerSec: rate / 1e6, etaSec: rate > 0 ? (totalBytes - bytes) / rate : null };
      }
    }
    if (f.jsonl && carry.trim()) {
      let v: Record<string, unknown>;
      try {
        v = JSON.parse(carry);
      } catch (e) {
        throw new Error(`${f.path}:${line + 1}: invalid JSON (${(e as Error).message})`);
      }
      if (typeof v[opts.textField] !== "string") throw new Error(`${f.path}:${line + 1}: no string field "${opts.textField}" in this JSON line (choose the field with --text-field)`);
      await trainer.feed(enc.encode(v[opts.textField] + "\n"));
    }
    await trainer.endInput();
    done += f.bytes;
  }
  const r = await trainer.finish(out);
  yield { type: "log", level: "info", message: `vocabulary: ${r.tokens.length} entries (${((Date.now() - t0) / 1000).toFixed(1)} s) -> ${out}` };
  return true;
}

