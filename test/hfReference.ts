// hfReference.ts: the parity reference for the tokenizer tests and benchmark: Hugging Face's `tokenizers`
// (Rust, npm), set up as BertTokenizerFast is (BertNormalizer, BertPreTokenizer, WordPiece), no special
// tokens added. Also builds small vocabularies so that parity runs without ../shared/data.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tokenizers from "tokenizers";

const { Tokenizer, WordPiece, bertNormalizer, bertPreTokenizer } = tokenizers;
export type HfTokenizer = InstanceType<typeof Tokenizer>;

/** BertTokenizerFast's pipeline on `vocabPath`: uncased (lowercase + strip accents) unless `cased`. */
export async function hfBertTokenizer(vocabPath: string, cased: boolean): Promise<HfTokenizer> {
  const model = await WordPiece.fromFile(vocabPath, { unkToken: "[UNK]", continuingSubwordPrefix: "##", maxInputCharsPerWord: 100 });
  const t = new Tokenizer(model);
  t.setNormalizer(bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: !cased, lowercase: !cased }));
  t.setPreTokenizer(bertPreTokenizer());
  return t;
}

/** Ids of each text, no [CLS]/[SEP], in batches as a user would call it. */
export async function hfEncodeAll(t: HfTokenizer, texts: string[], batch = 4096): Promise<number[][]> {
  const out: number[][] = [];
  for (let i = 0; i < texts.length; i += batch) {
    const enc = await t.encodeBatch(texts.slice(i, i + batch), { addSpecialTokens: false });
    for (const e of enc) out.push(e.getIds());
  }
  return out;
}

/** The reference's words (normalized and pre-tokenized, before WordPiece). */
export function hfWords(text: string, cased: boolean): string[] {
  const n = bertNormalizer({ stripAccents: !cased, lowercase: !cased });
  return bertPreTokenizer()
    .preTokenizeString(n.normalizeString(text))
    .map((w) => w[0]);
}

/**
 * A small vocabulary for `texts`: the special tokens, most single characters of their words (with
 * "##" variants) and the halves of short words, so that WordPiece finds whole words, pieces and [UNK]s.
 * Written to a temporary file; returns its path.
 */
export function writeSyntheticVocab(texts: string[], cased: boolean): string {
  const entries = new Set<string>();
  for (const text of texts) {
    for (const w of hfWords(text, cased)) {
      const cs = [...w];
      cs.forEach((c, i) => {
        if ((c.codePointAt(0)! + i) % 11 === 0) return; // leave some out: [UNK]s
        entries.add(c);
        entries.add("##" + c);
      });
      if (cs.length > 1 && cs.length <= 12) {
        const half = Math.ceil(cs.length / 2);
        entries.add(cs.slice(0, half).join(""));
        entries.add("##" + cs.slice(half).join(""));
        if (cs.length % 3 === 0) entries.add(w);
      }
    }
  }
  for (const s of ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]) entries.delete(s);
  const dir = mkdtempSync(join(tmpdir(), "electra-vocab-"));
  const path = join(dir, "vocab.txt");
  writeFileSync(path, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ...entries].join("\n") + "\n");
  return path;
}

/**
 * Hugging Face's WordPieceTrainer on `files` (UTF-8 text), through BertTokenizerFast's normalizer and
 * pre-tokenizer. The JavaScript binding only exposes the model's default trainer: vocab_size 30000,
 * min_frequency 0, no special tokens, no alphabet limit. Returns the vocabulary in id order. Its "##c"
 * entries come in the order of a Rust hash map, which changes from run to run.
 */
export function hfTrainWordPiece(files: string[], cased: boolean): string[] {
  const t = new Tokenizer(WordPiece.empty());
  t.setNormalizer(bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: !cased, lowercase: !cased }));
  t.setPreTokenizer(bertPreTokenizer());
  t.train(files);
  return Object.entries(t.getVocab(false))
    .sort((a, b) => a[1] - b[1])
    .map((e) => e[0]);
}
