// tokenizeFile.ts: the work of `electra tokenize`: open the input and output (files or stdin / stdout)
// and let the native stream path turn each input line into one line of ids or wordpieces.
import { closeSync, openSync } from "node:fs";
import { WordPieceTokenizer, type TokenizeStats } from "./wordPiece.js";

export interface TokenizeFileOptions {
  /** vocabulary file, one entry per line */
  vocab: string;
  /** keep case and accents (a cased vocabulary) */
  cased: boolean;
  /** input file; undefined or "-": stdin */
  input?: string;
  /** output file; undefined or "-": stdout */
  output?: string;
  /** write wordpieces instead of ids */
  tokens: boolean;
  /** encoding threads; 0: all cores */
  threads: number;
}

export interface TokenizeFileResult extends TokenizeStats {
  /** the reader of stdout went away before the end (e.g. `| head`); the rest was not written */
  outputClosed: boolean;
}

function openOrExplain(path: string, flags: "r" | "w"): number {
  try {
    return openSync(path, flags);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === "ENOENT" ? "no such file or directory" : err.code === "EACCES" ? "permission denied" : err.code === "EISDIR" ? "it is a directory" : err.message;
    throw new Error(`cannot ${flags === "r" ? "read" : "write"} ${path}: ${why}`);
  }
}

/** Tokenizes `input` (or stdin) to `output` (or stdout). Throws an Error that names the file at fault. */
export async function tokenizeFile(opts: TokenizeFileOptions): Promise<TokenizeFileResult> {
  const tokenizer = WordPieceTokenizer.fromVocabFile(opts.vocab, { cased: opts.cased });
  const fromStdin = opts.input === undefined || opts.input === "-";
  const toStdout = opts.output === undefined || opts.output === "-";
  const inFd = fromStdin ? 0 : openOrExplain(opts.input!, "r");
  let outFd = 1;
  try {
    outFd = toStdout ? 1 : openOrExplain(opts.output!, "w");
    const stats = await tokenizer.tokenizeStream(inFd, outFd, {
      tokens: opts.tokens,
      threads: opts.threads,
      inName: fromStdin ? "stdin" : opts.input!,
      outName: toStdout ? "stdout" : opts.output!,
    });
    return { ...stats, outputClosed: false };
  } catch (e) {
    if (toStdout && /^cannot write stdout: Broken pipe/.test((e as Error).message)) {
      return { lines: 0, bytes: 0, tokens: 0, unknown: 0, invalidUtf8: 0, outputClosed: true };
    }
    throw e;
  } finally {
    if (!fromStdin) closeSync(inFd);
    if (!toStdout && outFd !== 1) closeSync(outFd);
  }
}
