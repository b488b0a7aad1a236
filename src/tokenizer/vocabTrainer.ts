// vocabTrainer.ts: WordPiece vocabulary training from text files: read each file in chunks (node:fs
// streams; .gz through node:zlib; a UTF-8 byte-order mark dropped) and feed the native trainer, which
// counts words on several threads and then merges (Hugging Face WordPieceTrainer's algorithm). No
// counting or merging happens here.
import { createReadStream, readdirSync, statSync } from "node:fs";
import { accessSync, constants } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { createGunzip } from "node:zlib";
import { VOCAB_DEFAULTS } from "../config/presets.js";
import { native, type NativeVocabResult, type NativeVocabTrainer, type VocabCountStats } from "../native/binding.js";

export type { VocabCountStats };

export interface VocabTrainerOptions {
  /** entries wanted, special tokens included (default 30522, BERT's) */
  vocabSize?: number;
  /** keep case and accents (default false: lower-case and strip accents, BERT uncased) */
  cased?: boolean;
  /** a pair merges only if it occurs at least this often (default 2) */
  minFrequency?: number;
  /** characters kept, most frequent first; 0: all (default 1000) */
  limitAlphabet?: number;
  /** default [PAD], [UNK], [CLS], [SEP], [MASK]: ids 0..4 */
  specialTokens?: string[];
  /** characters always in the alphabet, even if unseen */
  initialAlphabet?: string;
  /** counting threads (0: all cores); the vocabulary is the same for any number */
  threads?: number;
  /** parity tests only: the order of the "##c" entries (default: code point order) */
  continuationOrder?: string[];
}

/** The vocabulary (id order) and how it was made. */
export type VocabResult = NativeVocabResult;

/** WordPiece vocabulary training over bytes you feed (any chunking). One call at a time. */
export class VocabTrainer {
  private readonly impl: NativeVocabTrainer;
  constructor(options: VocabTrainerOptions = {}) {
    this.impl = new (native().VocabTrainer)({
      lowerCase: !options.cased,
      vocabSize: options.vocabSize ?? VOCAB_DEFAULTS.vocabSize,
      minFrequency: options.minFrequency ?? VOCAB_DEFAULTS.minFrequency,
      limitAlphabet: options.limitAlphabet ?? VOCAB_DEFAULTS.limitAlphabet,
      specialTokens: options.specialTokens ?? [...VOCAB_DEFAULTS.specialTokens],
      initialAlphabet: options.initialAlphabet,
      continuationOrder: options.continuationOrder,
      threads: options.threads ?? 0,
    });
  }
  /** Counts the words of UTF-8 bytes (copied; text after the last whitespace waits for the next feed). */
  feed(bytes: Uint8Array): Promise<void> {
    return this.impl.feed(bytes);
  }
  /** The end of one input: its last word does not join the next input's first. */
  endInput(): Promise<void> {
    return this.impl.endInput();
  }
  /** Trains; with outPath, writes vocab.txt (one entry per line) there atomically. */
  finish(outPath?: string): Promise<VocabResult> {
    return this.impl.finish(outPath);
  }
  /** Counts so far; null while a call is running or after finish(). */
  get stats(): VocabCountStats | null {
    return this.impl.stats;
  }
}

/** Progress of trainVocabFromFiles: counting moves through the files, then one "train" report. */
export interface VocabProgress {
  phase: "count" | "train";
  /** the file being read ("" in the train phase) */
  file: string;
  /** 0-based index of that file */
  fileIndex: number;
  files: number;
  /** bytes read from disk so far, all files (compressed bytes for .gz) */
  bytesRead: number;
  /** all files' sizes on disk */
  totalBytes: number;
  elapsedSec: number;
}

export interface TrainVocabOptions extends VocabTrainerOptions {
  /** write vocab.txt here, atomically (checked for writability before any counting) */
  out?: string;
  /** bytes handed to the native counter per call (default 8 MiB) */
  chunkBytes?: number;
  onProgress?: (p: VocabProgress) => void;
}

export interface TrainVocabResult extends VocabResult {
  /** the files read, in order */
  files: string[];
  /** files with invalid UTF-8 (replaced by U+FFFD and dropped, as Buffer.toString() would), and how many */
  invalidUtf8Files: { file: string; count: number }[];
  /** where vocab.txt was written, if asked */
  out?: string;
  countSec: number;
  trainSec: number;
}

function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case "ENOENT": return "no such file or directory";
    case "EACCES": return "permission denied";
    case "EISDIR": return "it is a directory";
    case "ENOTDIR": return "a part of the path is not a directory";
    default: return err.message;
  }
}

/**
 * The files to read: each input as is, or, for a directory, every file under it (recursively, sorted by
 * path, hidden names skipped). Throws an Error naming an input that does not exist.
 */
export function expandInputs(inputs: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith(".")) continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(p);
    }
  };
  for (const input of inputs) {
    let st;
    try {
      st = statSync(input);
    } catch (e) {
      throw new Error(`cannot read ${input}: ${describeFsError(e)}`);
    }
    if (st.isDirectory()) walk(input);
    else out.push(input);
  }
  return out;
}

/** Throws an Error naming `path` when a file cannot be written there (before hours of work, not after). */
export function checkWritable(path: string): void {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    // absent: the directory must exist and be writable
  }
  if (isDir) throw new Error(`cannot write ${path}: it is a directory`);
  const dir = dirname(resolve(path));
  try {
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error(), { code: "ENOTDIR" });
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new Error(`cannot write ${path}: ${describeFsError(e)} (${dir})`);
  }
}

function namesOf(files: string[]): string {
  if (files.length === 1) return files[0];
  const shown = files.slice(0, 3).map((f) => basename(f)).join(", ");
  return `${files.length} files (${shown}${files.length > 3 ? ", ..." : ""})`;
}

const BOM = [0xef, 0xbb, 0xbf];

/**
 * Trains a WordPiece vocabulary on text files (directories are expanded, .gz files decompressed) and,
 * with `out`, writes vocab.txt atomically. Throws an Error naming the file at fault: a missing or
 * unreadable input, bad gzip data, no text at all ("no text found in ..."), an unwritable output.
 */
export async function trainVocabFromFiles(inputs: string[], options: TrainVocabOptions = {}): Promise<TrainVocabResult> {
  const started = performance.now();
  const files = expandInputs(inputs);
  if (files.length === 0) throw new Error(`no text found in ${inputs.join(", ")}: no files`);
  if (options.out !== undefined) checkWritable(options.out);
  const sizes = files.map((f) => statSync(f).size);
  const totalBytes = sizes.reduce((a, b) => a + b, 0);
  const chunkBytes = options.chunkBytes ?? 8 << 20;
  const trainer = new VocabTrainer(options);
  const elapsed = () => (performance.now() - started) / 1000;
  let bytesDone = 0;
  let invalidBefore = 0;
  const invalidUtf8Files: { file: string; count: number }[] = [];

  for (const [fileIndex, file] of files.entries()) {
    let fileRead = 0;
    const report = () =>
      options.onProgress?.({ phase: "count", file, fileIndex, files: files.length, bytesRead: bytesDone + fileRead, totalBytes, elapsedSec: elapsed() });
    report();
    const raw = createReadStream(file, { highWaterMark: 1 << 20 });
    raw.on("data", (c) => (fileRead += c.length));
    const gz = file.endsWith(".gz");
    const stream = gz ? raw.pipe(createGunzip()) : raw;
    if (gz) raw.on("error", (e) => stream.destroy(e));
    let pending: Promise<void> | null = null;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    let head = true; // the first bytes of the file: drop a byte-order mark
    const flush = async () => {
      if (batchBytes === 0) return;
      let buf = batch.length === 1 ? batch[0] : Buffer.concat(batch, batchBytes);
      batch = [];
      batchBytes = 0;
      if (head) {
        if (buf.length < 3 && BOM.slice(0, buf.length).every((b, i) => buf[i] === b)) {
          batch = [buf]; // too short to tell yet
          batchBytes = buf.length;
          return;
        }
        head = false;
        if (buf[0] === BOM[0] && buf[1] === BOM[1] && buf[2] === BOM[2]) buf = buf.subarray(3);
      }
      if (pending) await pending;
      pending = trainer.feed(buf); // counting overlaps the next read
      report();
    };
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes >= chunkBytes || (head && batchBytes >= 3)) await flush();
      }
      head = false;
      await flush();
      if (pending) await pending;
    } catch (e) {
      if (pending) await (pending as Promise<void>).catch(() => undefined);
      const err = e as NodeJS.ErrnoException;
      const why = err.code === "Z_DATA_ERROR" || err.code === "Z_BUF_ERROR" ? `not valid gzip data (${err.message})` : err.code ? describeFsError(err) : err.message;
      throw new Error(`cannot read ${file}: ${why}`);
    }
    await trainer.endInput();
    bytesDone += sizes[fileIndex];
    const invalid = trainer.stats!.invalidUtf8 - invalidBefore;
    if (invalid > 0) invalidUtf8Files.push({ file, count: invalid });
    invalidBefore += invalid;
  }

  const counted = trainer.stats!;
  if (counted.words === 0) throw new Error(`no text found in ${namesOf(files)}`);
  const countSec = elapsed();
  options.onProgress?.({ phase: "train", file: "", fileIndex: files.length, files: files.length, bytesRead: bytesDone, totalBytes, elapsedSec: countSec });
  const result = await trainer.finish(options.out);
  return { ...result, files, invalidUtf8Files, out: options.out, countSec, trainSec: elapsed() - countSec };
}
