// tokenizer.ts (bench): throughput of `electra tokenize` (the whole process: start-up, reading and writing
// included) against Hugging Face's `tokenizers` called as a user would (encodeBatch over batches of lines),
// on the shared corpus concatenated, on the same cores. Prints JSON lines; not a test (asserts nothing).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { packageRoot } from "../native/binding.js";
import { median } from "./compare.js";

export interface TokenizerBenchOptions {
  /** folder of text files, all concatenated (default ../shared/data/corpus) */
  corpusDir?: string;
  /** vocabulary (default ../shared/data/vocab/bert-base-uncased-vocab.txt) */
  vocab?: string;
  /** runs of each contender; the median is reported (default 3) */
  repeats?: number;
  /** lines per encodeBatch call for the reference (default 1000) */
  batchLines?: number;
  /** where each JSON line goes (default: stdout) */
  print?: (line: string) => void;
}

export interface TokenizerBenchResult {
  bench: "tokenizer";
  what: string;
  mbPerSec?: number;
  seconds?: number[];
  bytes?: number;
  ratio?: number;
  skipped?: string;
  [k: string]: unknown;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => (statSync(join(dir, n)).isDirectory() ? filesUnder(join(dir, n)) : [join(dir, n)]));
}
const round = (x: number, digits = 2) => Number(x.toFixed(digits));

/** Runs the benchmark, prints one JSON line per measurement, and returns them. */
export async function benchTokenizer(opts: TokenizerBenchOptions = {}): Promise<TokenizerBenchResult[]> {
  const shared = resolve(packageRoot, "..", "shared", "data");
  const corpusDir = opts.corpusDir ?? join(shared, "corpus");
  const vocab = opts.vocab ?? join(shared, "vocab", "bert-base-uncased-vocab.txt");
  const repeats = opts.repeats ?? 3;
  const batchLines = opts.batchLines ?? 1000;
  const print = opts.print ?? ((l: string) => process.stdout.write(l + "\n"));
  const results: TokenizerBenchResult[] = [];
  const emit = (r: TokenizerBenchResult) => {
    results.push(r);
    print(JSON.stringify(r));
  };
  if (!existsSync(corpusDir) || !existsSync(vocab)) {
    emit({ bench: "tokenizer", what: "all", skipped: `${existsSync(corpusDir) ? vocab : corpusDir} is absent` });
    return results;
  }

  const dir = mkdtempSync(join(tmpdir(), "electra-bench-tok-"));
  try {
    const input = join(dir, "corpus.txt");
    const output = join(dir, "ids.txt");
    const corpus = Buffer.concat(filesUnder(corpusDir).map((f) => readFileSync(f)));
    writeFileSync(input, corpus);
    const bytes = corpus.length;
    const cores = cpus().length;
    const common = { bench: "tokenizer" as const, bytes, cores, corpus: corpusDir, vocab };

    // (a) the electra tokenize process, as a user runs it.
    const bin = join(packageRoot, "bin", "electra.js");
    const ours: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [bin, "tokenize", "--vocab", vocab, "--input", input, "--output", output], {
        stdio: ["ignore", "ignore", "pipe"],
        encoding: "utf8",
      });
      const s = (performance.now() - t0) / 1000;
      if (r.status !== 0) throw new Error(`electra tokenize failed (exit ${r.status}): ${r.stderr}`);
      ours.push(s);
    }
    const oursMBps = bytes / 1e6 / median(ours);
    emit({ ...common, what: "electra tokenize (whole process: start-up, read, encode, write ids)", mbPerSec: round(oursMBps), seconds: ours.map((s) => round(s, 3)), threads: "all cores" });

    // (b) the reference, as a user calls it: read, split into lines, encodeBatch, take the ids.
    let tk: typeof import("tokenizers");
    try {
      tk = (await import("tokenizers")).default as unknown as typeof import("tokenizers");
    } catch (e) {
      emit({ ...common, what: "hf tokenizers encodeBatch", skipped: `the tokenizers package is not installed (${(e as Error).message})` });
      return results;
    }
    const model = await tk.WordPiece.fromFile(vocab, { unkToken: "[UNK]" });
    const ref = new tk.Tokenizer(model);
    ref.setNormalizer(tk.bertNormalizer({ lowercase: true, stripAccents: true }));
    ref.setPreTokenizer(tk.bertPreTokenizer());
    const theirs: number[] = [];
    let refIds = 0;
    for (let i = 0; i < repeats; i++) {
      const t0 = performance.now();
      const lines = readFileSync(input, "utf8").split("\n");
      refIds = 0;
      for (let k = 0; k < lines.length; k += batchLines) {
        const enc = await ref.encodeBatch(lines.slice(k, k + batchLines), { addSpecialTokens: false });
        for (const e of enc) refIds += e.getIds().length;
      }
      theirs.push((performance.now() - t0) / 1000);
    }
    const theirsMBps = bytes / 1e6 / median(theirs);
    emit({ ...common, what: `hf tokenizers encodeBatch (in-process: read, split, ${batchLines} lines per batch, getIds)`, mbPerSec: round(theirsMBps), seconds: theirs.map((s) => round(s, 3)), ids: refIds, threads: "all cores (rayon)" });
    emit({ bench: "tokenizer", what: "electra tokenize / hf tokenizers", ratio: round(oursMBps / theirsMBps), target: 3 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await benchTokenizer();
}
