// prepare.ts: `electra prepare` options -> the prepare work, through the chosen reporter.
import type { Argv } from "yargs";
import { prepare, PREPARE_DEFAULTS } from "../prepare/prepare.js";
import { report } from "../report/run.js";

export const prepareDescription = "Tokenize raw text and pack it into ELECTRA training shards (no input: the built-in corpus)";

export function prepareOptions(y: Argv) {
  return y
    .positional("inputs", { type: "string", array: true, describe: ".txt (one sentence or paragraph per line, blank line between documents), .jsonl, .gz of either, directories or globs" })
    .option("out", { type: "string", describe: "output directory (default: ./prepared; the built-in corpus goes to electra's cache)" })
    .option("vocab", { type: "string", describe: "an existing WordPiece vocab.txt, e.g. BERT's uncased vocabulary" })
    .option("vocab-size", { type: "number", describe: "train a WordPiece vocabulary of this size on the inputs instead" })
    .option("cased", { type: "boolean", default: false, describe: "keep case and accents (default: lower-case and strip accents, as BERT uncased)" })
    .option("max-seq-length", { type: "number", default: PREPARE_DEFAULTS.maxSeqLength, describe: "tokens per example, [CLS] and [SEP]s included" })
    .option("seed", { type: "number", default: PREPARE_DEFAULTS.seed, describe: "random seed of the packing and the held-out split" })
    .option("eval-fraction", { type: "number", default: PREPARE_DEFAULTS.evalFraction, describe: "share of examples held out for evaluation" })
    .option("max-eval-examples", { type: "number", default: PREPARE_DEFAULTS.maxEvalExamples, describe: "at most this many held-out examples" })
    .option("shard-size", { type: "number", default: PREPARE_DEFAULTS.examplesPerShard, describe: "examples per shard file" })
    .option("text-field", { type: "string", default: PREPARE_DEFAULTS.textField, describe: "the field holding the text in .jsonl inputs" })
    .option("threads", { type: "number", default: 0, describe: "tokenizer threads (0: all cores)" })
    .option("force", { type: "boolean", default: false, describe: "redo the work even if the output already matches the inputs and options" })
    .option("json", { type: "boolean", default: false, describe: "print one JSON event per line" })
    .example("$0 prepare", "prepare the built-in corpus (nlp-corpus + Brown) with a trained 8k vocabulary")
    .example("$0 prepare books/ --vocab bert-base-uncased-vocab.txt --out data/books", "BERT's vocabulary, 128-token examples");
}

export async function prepareCommand(a: Record<string, unknown>): Promise<number> {
  const inputs = ((a.inputs as string[] | undefined) ?? []).map(String);
  const events = prepare({
    inputs,
    out: a.out as string | undefined,
    vocab: a.vocab as string | undefined,
    vocabSize: a.vocabSize as number | undefined,
    cased: Boolean(a.cased),
    maxSeqLength: Number(a.maxSeqLength),
    seed: Number(a.seed),
    evalFraction: Number(a.evalFraction),
    maxEvalExamples: Number(a.maxEvalExamples),
    examplesPerShard: Number(a.shardSize),
    textField: String(a.textField),
    threads: Number(a.threads),
    force: Boolean(a.force),
  });
  await report("electra prepare", events, Boolean(a.json));
  return 0;
}
