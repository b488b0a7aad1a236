// tokenize.ts: `electra tokenize`: options in, src/tokenizer/tokenizeFile.ts does the work; no logic here.
import type { Argv } from "yargs";
import { tokenizeFile } from "../tokenizer/tokenizeFile.js";

export const tokenizeDescription = "Turn text into BERT WordPiece ids (one line of ids per input line)";

export function tokenizeOptions(y: Argv) {
  return y
    .usage(
      "$0 tokenize --vocab FILE [--input FILE] [options]\n\n" +
        "Reads text (stdin by default) and writes, for each input line, one line of space-separated " +
        "WordPiece ids (or, with --tokens, the wordpieces). No [CLS]/[SEP] are added; an empty input " +
        "line gives an empty output line.\n\n" +
        "The ids are those of Hugging Face's BertTokenizerFast: text cleaning, CJK characters split, " +
        "lower-casing and accent stripping (unless --cased), punctuation splitting, then greedy " +
        "longest-match-first WordPiece; a word longer than 100 characters or not covered by the " +
        "vocabulary is [UNK]. Invalid UTF-8 is dropped, with a warning on stderr.",
    )
    .option("vocab", { type: "string", demandOption: true, describe: "vocabulary file, one entry per line (e.g. bert-base-uncased-vocab.txt)" })
    .option("cased", { type: "boolean", default: false, describe: "keep case and accents (for a cased vocabulary)" })
    .option("input", { type: "string", describe: "text file to read (default: stdin; - also means stdin)" })
    .option("output", { type: "string", describe: "file to write (default: stdout)" })
    .option("tokens", { type: "boolean", default: false, describe: "write the wordpieces instead of ids" })
    .option("threads", { type: "number", default: 0, describe: "encoding threads (0: all cores); the output is the same for any number" })
    .check((a) => {
      if (!Number.isInteger(a.threads) || a.threads < 0) throw new Error("--threads must be a whole number >= 0");
      return true;
    })
    .example("$0 tokenize --vocab vocab.txt --input corpus.txt > ids.txt", "ids of each line of corpus.txt")
    .example("echo 'Hello, world!' | $0 tokenize --vocab vocab.txt --tokens", "prints: hello , world !");
}

export async function tokenizeCommand(a: {
  vocab: string;
  cased: boolean;
  input?: string;
  output?: string;
  tokens: boolean;
  threads: number;
}): Promise<number> {
  const r = await tokenizeFile(a);
  if (r.invalidUtf8 > 0) {
    process.stderr.write(
      `electra tokenize: ${r.invalidUtf8} invalid UTF-8 sequence(s) in ${a.input && a.input !== "-" ? a.input : "stdin"} were dropped\n`,
    );
  }
  return 0;
}
