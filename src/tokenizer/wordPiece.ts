// wordPiece.ts: the TypeScript face of the native BERT WordPiece tokenizer: load a vocabulary, encode
// texts, batches, lines and streams. No tokenization happens here; every call goes to native code.
import {
  native,
  type EncodedBatch,
  type NativeWordPieceTokenizer,
  type TokenizeStats,
  type TokenizeStreamOptions,
} from "../native/binding.js";

export type { EncodedBatch, TokenizeStats };

export interface WordPieceOptions {
  /** keep case and accents (a cased vocabulary); default false: lower-case and strip accents */
  cased?: boolean;
}

/**
 * BERT's tokenizer, giving the ids of Hugging Face's BertTokenizerFast with add_special_tokens=false
 * (no [CLS] / [SEP]). Literal "[MASK]" etc. in the text are ordinary text, as in google-research/bert.
 */
export class WordPieceTokenizer {
  private constructor(
    private readonly impl: NativeWordPieceTokenizer,
    readonly vocabPath: string,
  ) {}

  /** Loads a vocabulary file (one entry per line, id = line number). Throws an Error naming the file. */
  static fromVocabFile(vocabPath: string, options: WordPieceOptions = {}): WordPieceTokenizer {
    return new WordPieceTokenizer(new (native().WordPieceTokenizer)(vocabPath, !options.cased), vocabPath);
  }

  get vocabSize(): number {
    return this.impl.vocabSize;
  }
  get cased(): boolean {
    return !this.impl.lowerCase;
  }
  get specialIds(): { pad: number; unk: number; cls: number; sep: number; mask: number } {
    return this.impl.specialIds;
  }

  /** Ids of one text (a Uint8Array is read as UTF-8; newlines are whitespace). */
  encode(text: string | Uint8Array): Int32Array {
    return this.impl.encode(text);
  }

  /** Ids of each text, encoded off the main thread on `threads` threads (0: all cores). */
  async encodeBatch(texts: Array<string | Uint8Array>, threads = 0): Promise<Int32Array[]> {
    return splitBatch(await this.impl.encodeBatch(texts, threads));
  }

  /** Ids of each '\n'-separated line of UTF-8 text, as one flat array with offsets (no copies). */
  encodeLines(text: Uint8Array, threads = 0): Promise<EncodedBatch> {
    return this.impl.encodeLines(text, threads);
  }

  /** The words after normalization and pre-tokenization, before WordPiece. */
  preTokenize(text: string | Uint8Array): string[] {
    return this.impl.preTokenize(text);
  }

  /** The wordpieces of ids. */
  idsToTokens(ids: ArrayLike<number>): string[] {
    return Array.from(ids, (id) => this.impl.idToToken(id));
  }

  /** The id of an entry, or undefined. */
  tokenToId(token: string): number | undefined {
    const id = this.impl.tokenToId(token);
    return id < 0 ? undefined : id;
  }

  /** Reads `inFd` to its end and writes one line of ids (or wordpieces) per input line to `outFd`. */
  tokenizeStream(inFd: number, outFd: number, options: TokenizeStreamOptions): Promise<TokenizeStats> {
    return this.impl.tokenizeStream(inFd, outFd, options);
  }
}

/** One Int32Array view per text of a batch. */
export function splitBatch(batch: EncodedBatch): Int32Array[] {
  const out: Int32Array[] = [];
  for (let i = 0; i + 1 < batch.offsets.length; i++) out.push(batch.ids.subarray(batch.offsets[i], batch.offsets[i + 1]));
  return out;
}
