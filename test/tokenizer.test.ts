// tokenizer.test.ts: the native WordPiece tokenizer against Hugging Face's `tokenizers` (BertTokenizerFast's
// pipeline), uncased and cased: the committed hard strings, invalid UTF-8, and every Unicode code point;
// then the TypeScript API (batches, lines, threads, vocabulary errors).
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { splitBatch, WordPieceTokenizer } from "../src/tokenizer/wordPiece.js";
import { hasSharedData, repoRoot, sharedData } from "./helpers.js";
import { hfBertTokenizer, hfEncodeAll, hfWords, writeSyntheticVocab } from "./hfReference.js";

interface HardStrings {
  strings: { what: string; text: string }[];
  invalidUtf8: { what: string; hex: string }[];
}
const hard: HardStrings = JSON.parse(readFileSync(join(repoRoot, "test", "fixtures", "tokenizer-hard-strings.json"), "utf8"));
const texts = hard.strings.map((s) => s.text);
const bertVocab = join(sharedData, "vocab", "bert-base-uncased-vocab.txt");
const noData = hasSharedData ? "" : " (skipped: ../shared/data is absent)";

/** Ids that differ, as readable lines (empty when all agree). */
function differences(what: string[], ours: ArrayLike<number>[], theirs: ArrayLike<number>[]): string[] {
  const out: string[] = [];
  what.forEach((w, i) => {
    const a = Array.from(ours[i]).join(" "), b = Array.from(theirs[i]).join(" ");
    if (a !== b) out.push(`${w}:\n  ours   ${a}\n  theirs ${b}`);
  });
  return out;
}

// U+FFFD that Buffer.toString() made from invalid bytes (not counting literal U+FFFD in the input).
function replacementsFromInvalid(buf: Buffer): number {
  const all = [...buf.toString("utf8")].filter((c) => c === "\uFFFD").length;
  let literal = 0;
  for (let i = buf.indexOf("efbfbd", 0, "hex"); i >= 0; i = buf.indexOf("efbfbd", i + 3, "hex")) literal++;
  return all - literal;
}

for (const cased of [false, true]) {
  const mode = cased ? "cased" : "uncased";
  describe(`parity with Hugging Face, ${mode}`, () => {
    const syntheticVocab = writeSyntheticVocab(texts, cased);

    it("hard strings, a vocabulary built from them", async () => {
      const ours = WordPieceTokenizer.fromVocabFile(syntheticVocab, { cased });
      const ref = await hfBertTokenizer(syntheticVocab, cased);
      const theirs = await hfEncodeAll(ref, texts);
      expect(differences(hard.strings.map((s) => s.what), texts.map((t) => ours.encode(t)), theirs)).toEqual([]);
      expect(differences(hard.strings.map((s) => s.what), await ours.encodeBatch(texts, 2), theirs)).toEqual([]);
      // The vocabulary really exercises WordPiece: pieces, [UNK]s and whole words all occur.
      const all = theirs.flat();
      expect(all.filter((id) => id === 1).length).toBeGreaterThan(10);
      expect(new Set(all).size).toBeGreaterThan(200);
    });

    it.skipIf(!hasSharedData)(`hard strings, BERT's uncased vocabulary${noData}`, async () => {
      const ours = WordPieceTokenizer.fromVocabFile(bertVocab, { cased });
      const theirs = await hfEncodeAll(await hfBertTokenizer(bertVocab, cased), texts);
      expect(differences(hard.strings.map((s) => s.what), texts.map((t) => ours.encode(t)), theirs)).toEqual([]);
    });

    it("invalid UTF-8 is dropped like Buffer.toString()'s U+FFFD, and counted", async () => {
      const ours = WordPieceTokenizer.fromVocabFile(syntheticVocab, { cased });
      const ref = await hfBertTokenizer(syntheticVocab, cased);
      const bufs = hard.invalidUtf8.map((x) => Buffer.from(x.hex, "hex"));
      const theirs = await hfEncodeAll(ref, bufs.map((b) => b.toString("utf8")));
      expect(differences(hard.invalidUtf8.map((x) => x.what), bufs.map((b) => ours.encode(b)), theirs)).toEqual([]);
      for (const [i, b] of bufs.entries()) {
        const stats = (await ours.encodeLines(b, 1)).stats;
        expect(stats.invalidUtf8, hard.invalidUtf8[i].what).toBe(replacementsFromInvalid(b));
      }
    });

    it("every code point: the same words before WordPiece", () => {
      const ours = WordPieceTokenizer.fromVocabFile(syntheticVocab, { cased });
      // Each code point between letters (punctuation splitting, cleaning, marks, lower-casing, NFD) and
      // between two spacing marks whose order NFD swaps (combining classes); units are space-separated,
      // so they do not interact, and are checked 4096 at a time.
      const unit = (c: number) => {
        const x = String.fromCodePoint(c);
        return `a${x}b \u{1D16D}${x}\u{1D165}`;
      };
      const bad: string[] = [];
      for (let start = 0; start <= 0x10ffff; start += 4096) {
        const cps: number[] = [];
        for (let c = start; c < start + 4096 && c <= 0x10ffff; c++) if (c < 0xd800 || c > 0xdfff) cps.push(c);
        if (cps.length === 0) continue;
        const text = cps.map(unit).join(" ");
        if (ours.preTokenize(text).join("\u0001") === hfWords(text, cased).join("\u0001")) continue;
        for (const c of cps) {
          const a = ours.preTokenize(unit(c)).join("|"), b = hfWords(unit(c), cased).join("|");
          if (a !== b) bad.push(`U+${c.toString(16).toUpperCase()}: ours ${JSON.stringify(a)}, theirs ${JSON.stringify(b)}`);
        }
      }
      expect(bad.slice(0, 20)).toEqual([]);
    });
  });
}

describe("the TypeScript API", () => {
  const vocabDir = mkdtempSync(join(tmpdir(), "electra-tok-"));
  const vocab = join(vocabDir, "vocab.txt");
  writeFileSync(vocab, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", ",", "!", "un", "##aff", "##able"].join("\n"));

  it("encodes, maps ids to wordpieces and back", () => {
    const t = WordPieceTokenizer.fromVocabFile(vocab);
    expect(t.vocabSize).toBe(12);
    expect(t.cased).toBe(false);
    expect(t.specialIds).toEqual({ pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 });
    expect(Array.from(t.encode("Hello, World! unaffable zz"))).toEqual([5, 7, 6, 8, 9, 10, 11, 1]);
    expect(t.idsToTokens([9, 10, 11])).toEqual(["un", "##aff", "##able"]);
    expect(t.tokenToId("##aff")).toBe(10);
    expect(t.tokenToId("nope")).toBeUndefined();
    expect(() => t.idsToTokens([12])).toThrow(/outside the vocabulary/);
    expect(t.preTokenize("Héllo, WORLD")).toEqual(["hello", ",", "world"]);
    expect(Array.from(WordPieceTokenizer.fromVocabFile(vocab, { cased: true }).encode("Hello hello"))).toEqual([1, 5]);
  });

  it("batches and lines give the same ids whatever the thread count", async () => {
    const t = WordPieceTokenizer.fromVocabFile(vocab);
    const lines = Array.from({ length: 30000 }, (_, i) => ["hello, world!", "", "unaffable hello", "zz !"][i % 4] + " hello".repeat(i % 5));
    const single = lines.map((l) => Array.from(t.encode(l)).join(" "));
    for (const threads of [1, 2, 3]) {
      expect((await t.encodeBatch(lines, threads)).map((ids) => Array.from(ids).join(" "))).toEqual(single);
      const r = await t.encodeLines(Buffer.from(lines.join("\n") + "\n"), threads);
      expect(r.stats.lines).toBe(lines.length);
      expect(splitBatch(r).map((ids) => Array.from(ids).join(" "))).toEqual(single);
    }
  });

  it("vocabulary errors name the file (and line)", () => {
    expect(() => WordPieceTokenizer.fromVocabFile(join(vocabDir, "missing.txt"))).toThrow(/cannot read the vocabulary .*missing\.txt/);
    const dup = join(vocabDir, "dup.txt");
    writeFileSync(dup, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nhello\n");
    expect(() => WordPieceTokenizer.fromVocabFile(dup)).toThrow(`${dup}:7: duplicate entry "hello" (already on line 6)`);
    const noMask = join(vocabDir, "nomask.txt");
    writeFileSync(noMask, "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
    expect(() => WordPieceTokenizer.fromVocabFile(noMask)).toThrow(`${noMask}: the vocabulary lacks [MASK]`);
  });
});
