// glue.ts (bench): the batch shapes of the GLUE workloads, `sst2_finetune` (fine-tuning steps) and
// `sst2_eval` (one evaluation pass over the dev set), taken from SST-2's real length distribution:
// SST-2 is tokenised with BERT's uncased vocabulary, training batches of 32 are drawn in a seeded
// random order (as `electra eval` draws them) and the dev set is cut into batches of 128 in file order
// (as `electra eval` predicts). Each batch is padded to its longest member (dynamic padding). The same
// shapes file goes to our workloads and to the PyTorch reference, so both run identical shapes.
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { packageRoot, native } from "../native/binding.js";
import { encodeExamples, permutation } from "../eval/features.js";
import { readSplit } from "../glue/reader.js";

export const GLUE_WORKLOADS = ["sst2_finetune", "sst2_eval"];

/** Token counts of every example of each batch; a batch runs padded to its longest member. */
export interface GlueShapes {
  source: string;
  maxSeqLength: number;
  /** fine-tuning: `train[i]` lists the lengths of batch i's examples */
  train: number[][];
  /** evaluation: the whole dev set, batch by batch */
  eval: number[][];
}

const TRAIN_BATCH = 32, EVAL_BATCH = 128, MAX_LEN = 128;

/** Where SST-2 and BERT's vocabulary are: ../shared/data when present, else why not. */
export function findSst2(): { glue: string; vocab: string } | { skip: string } {
  const shared = resolve(packageRoot, "..", "shared", "data");
  const glue = join(shared, "glue"), vocab = join(shared, "vocab", "bert-base-uncased-vocab.txt");
  if (!existsSync(join(glue, "SST-2", "train.tsv"))) return { skip: `${join(glue, "SST-2")} not found (the GLUE workloads need SST-2's real lengths)` };
  if (!existsSync(vocab)) return { skip: `${vocab} not found` };
  return { glue, vocab };
}

/** SST-2's batch shapes: `trainBatches` training batches of 32 and the whole dev set in batches of 128. */
export async function sst2Shapes(trainBatches: number): Promise<GlueShapes | { skip: string }> {
  const where = findSst2();
  if ("skip" in where) return where;
  const tok = new (native().WordPieceTokenizer)(where.vocab, true);
  const lengths = async (split: "train" | "dev") =>
    (await encodeExamples(tok, readSplit("sst2", where.glue, split).examples, MAX_LEN)).map((f) => f.ids.length);
  const train = await lengths("train"), dev = await lengths("dev");
  const order = permutation(train.length, 1);
  const shapes: GlueShapes = { source: "SST-2 (../shared/data/glue), BERT uncased vocabulary", maxSeqLength: MAX_LEN, train: [], eval: [] };
  for (let b = 0; b < trainBatches; b++) shapes.train.push(Array.from(order.subarray(b * TRAIN_BATCH, (b + 1) * TRAIN_BATCH), (i) => train[i]));
  for (let s = 0; s < dev.length; s += EVAL_BATCH) shapes.eval.push(dev.slice(s, s + EVAL_BATCH));
  return shapes;
}

export function writeShapes(file: string, shapes: GlueShapes): void {
  writeFileSync(file, JSON.stringify(shapes));
}

/** Real (non-padding) tokens, padded tokens when each batch is padded to its longest, and examples. */
export function shapeStats(batches: number[][], padTo?: number): { tokens: number; padded: number; examples: number } {
  let tokens = 0, padded = 0, examples = 0;
  for (const lens of batches) {
    const T = padTo ?? Math.max(...lens);
    tokens += lens.reduce((a, b) => a + b, 0);
    padded += T * lens.length;
    examples += lens.length;
  }
  return { tokens, padded, examples };
}
