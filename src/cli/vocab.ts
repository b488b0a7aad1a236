// vocab.ts: `electra vocab`: options in, src/tokenizer/vocabTrainer.ts does the work; a progress line per
// file on stderr (on a terminal), the summary on stdout (or one JSON object with --json). No logic here.
import { relative } from "node:path";
import type { Argv } from "yargs";
import { VOCAB_DEFAULTS } from "../config/presets.js";
import { trainVocabFromFiles, type VocabProgress } from "../tokenizer/vocabTrainer.js";

export const vocabDescription = "Train a WordPiece vocabulary (vocab.txt) on text files";

export function vocabOptions(y: Argv) {
  return y
    .usage(
      "$0 vocab --input FILE_OR_DIR... [--vocab-size N] [options]\n\n" +
        "Counts the words of the input text as BERT's tokenizer splits them (lower-cased and accents " +
        "stripped unless --cased) and trains a WordPiece vocabulary with the algorithm of Hugging Face's " +
        "WordPieceTrainer: [PAD] [UNK] [CLS] [SEP] [MASK] (ids 0-4), the alphabet, '##' continuations, then " +
        "the most frequent merges. Directories are read recursively; .gz files are decompressed. The same " +
        "text always gives the same vocab.txt, whatever the number of threads.",
    )
    .option("input", { type: "string", array: true, demandOption: true, describe: "text files or directories" })
    .option("vocab-size", { type: "number", default: VOCAB_DEFAULTS.vocabSize, describe: "entries, special tokens included" })
    .option("out", { type: "string", default: "vocab.txt", describe: "the vocabulary file to write (atomically)" })
    .option("cased", { type: "boolean", default: false, describe: "keep case and accents" })
    .option("min-frequency", { type: "number", default: VOCAB_DEFAULTS.minFrequency, describe: "a pair merges only if it occurs at least this often" })
    .option("limit-alphabet", { type: "number", default: VOCAB_DEFAULTS.limitAlphabet, describe: "characters kept, most frequent first (0: all)" })
    .option("threads", { type: "number", default: 0, describe: "counting threads (0: all cores)" })
    .option("json", { type: "boolean", default: false, describe: "print the summary as one JSON object" })
    .check((a) => {
      const whole = (v: number, min: number) => Number.isInteger(v) && v >= min;
      if (!whole(a["vocab-size"], 1)) throw new Error("--vocab-size must be a whole number >= 1");
      if (!whole(a["min-frequency"], 0)) throw new Error("--min-frequency must be a whole number >= 0");
      if (!whole(a["limit-alphabet"], 0)) throw new Error("--limit-alphabet must be a whole number >= 0");
      if (!whole(a.threads, 0)) throw new Error("--threads must be a whole number >= 0");
      return true;
    })
    .example("$0 vocab --input corpus/ --vocab-size 30522 --out vocab.txt", "train BERT-sized uncased vocabulary");
}

export async function vocabCommand(a: {
  input: string[];
  vocabSize: number;
  out: string;
  cased: boolean;
  minFrequency: number;
  limitAlphabet: number;
  threads: number;
  json: boolean;
}): Promise<number> {
  const tty = !a.json && process.stderr.isTTY && !process.env.CI;
  const onProgress = (p: VocabProgress) => {
    if (!tty) return;
    const pct = p.totalBytes > 0 ? ((100 * p.bytesRead) / p.totalBytes).toFixed(0) : "?";
    const what = p.phase === "train" ? "merging" : `${p.fileIndex + 1}/${p.files} ${relative(process.cwd(), p.file)}`;
    const width = Math.max(20, (process.stderr.columns || 80) - 1);
    const line = `vocab: ${pct}% ${what}`;
    process.stderr.write("\r" + (line.length > width ? line.slice(0, width) : line.padEnd(width)) + (p.phase === "train" ? "\n" : ""));
  };
  const r = await trainVocabFromFiles(a.input, {
    vocabSize: a.vocabSize,
    cased: a.cased,
    minFrequency: a.minFrequency,
    limitAlphabet: a.limitAlphabet,
    threads: a.threads,
    out: a.out,
    onProgress,
  });
  const seconds = r.countSec + r.trainSec;
  if (a.json) {
    const { tokens, files, invalidUtf8Files, ...rest } = r;
    process.stdout.write(JSON.stringify({ ...rest, files: files.length, vocabSize: tokens.length, seconds }) + "\n");
  } else {
    const s = r.stats;
    const lines = [
      `vocab: ${r.out}: ${r.tokens.length} entries (${r.special} special, ${r.alphabet} characters, ${r.continuation} ##characters, ${r.merged} merged)`,
      `  ${s.words} words counted, ${s.distinctWords} distinct, in ${r.files.length} file(s), ${(s.bytes / 1e6).toFixed(1)} MB`,
      `  ${seconds.toFixed(2)} s (counting ${r.countSec.toFixed(2)} s, merging ${r.trainSec.toFixed(2)} s)`,
    ];
    process.stdout.write(lines.join("\n") + "\n");
  }
  if (r.tokens.length < a.vocabSize) {
    const why = r.stop === "min-frequency" ? `no pair occurs at least ${a.minFrequency} times (--min-frequency)` : "every word is already one entry";
    process.stderr.write(`electra vocab: the vocabulary has ${r.tokens.length} entries, fewer than --vocab-size ${a.vocabSize}: ${why}\n`);
  }
  const bad = r.invalidUtf8Files;
  if (bad.length > 0) {
    const where = bad.slice(0, 3).map((b) => `${b.file} (${b.count})`).join(", ") + (bad.length > 3 ? ` and ${bad.length - 3} more file(s)` : "");
    process.stderr.write(`electra vocab: ${r.stats.invalidUtf8} invalid UTF-8 sequence(s) were dropped: ${where}\n`);
  }
  return 0;
}
