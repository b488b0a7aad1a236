// tokenizerCorpus.test.ts: parity with Hugging Face's tokenizers on EVERY line of every file under
// ../shared/data/corpus with BERT's uncased vocabulary (and the cased path on the same text).
// Skips when ../shared/data is absent. Lines are '\n'-separated, as `electra tokenize` reads them.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { WordPieceTokenizer } from "../src/tokenizer/wordPiece.js";
import { hasSharedData, sharedData } from "./helpers.js";
import { hfBertTokenizer, hfEncodeAll } from "./hfReference.js";

function filesUnder(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? filesUnder(p) : [p];
    });
}

const noData = hasSharedData ? "" : " (skipped: ../shared/data is absent)";

describe("parity with Hugging Face on the shared corpus", () => {
  for (const cased of [false, true]) {
    it.skipIf(!hasSharedData)(`every line, BERT's uncased vocabulary, ${cased ? "cased" : "uncased"}${noData}`, async () => {
      const vocab = join(sharedData, "vocab", "bert-base-uncased-vocab.txt");
      const ours = WordPieceTokenizer.fromVocabFile(vocab, { cased });
      const ref = await hfBertTokenizer(vocab, cased);
      const files = filesUnder(join(sharedData, "corpus"));
      let lines = 0, tokens = 0;
      const differing: string[] = [];
      for (const file of files) {
        const buf = readFileSync(file);
        const textLines = buf.toString("utf8").split("\n");
        if (textLines[textLines.length - 1] === "") textLines.pop();
        const mine = await ours.encodeLines(buf);
        expect(mine.offsets.length - 1, file).toBe(textLines.length);
        const theirs = await hfEncodeAll(ref, textLines);
        for (let i = 0; i < textLines.length; i++) {
          const a = mine.ids.subarray(mine.offsets[i], mine.offsets[i + 1]);
          const b = theirs[i];
          if (a.length !== b.length || b.some((id, k) => id !== a[k])) differing.push(`${file}:${i + 1}`);
        }
        lines += textLines.length;
        tokens += mine.ids.length;
      }
      console.log(
        `tokenizer corpus parity (${cased ? "cased" : "uncased"}): ${lines} lines in ${files.length} files, ` +
          `${tokens} ids, ${differing.length} lines differ`,
      );
      expect(lines).toBeGreaterThan(400_000);
      expect(differing.slice(0, 10)).toEqual([]);
    });
  }
});
