// eval.ts: `electra eval` options -> GLUE fine-tuning and scoring through the chosen reporter.
import type { Argv } from "yargs";
import { FINETUNE_DEFAULTS } from "../config/presets.js";
import { evaluate } from "../eval/eval.js";
import { resolveTasks } from "../glue/tasks.js";
import { report } from "../report/run.js";

export const evalDescription = "Fine-tune a discriminator on GLUE tasks and report the official dev metrics";

export function evalOptions(y: Argv) {
  return y
    .option("model", { type: "string", demandOption: true, describe: "a discriminator in Hugging Face's layout (config.json, model.safetensors, vocab.txt), e.g. RUN/checkpoint-N/discriminator" })
    .option("task", { type: "string", demandOption: true, describe: "cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli, ax, a comma list, or all" })
    .option("data-dir", { type: "string", demandOption: true, describe: "the GLUE root (CoLA/, SST-2/, MRPC/, STS-B/, QQP/, MNLI/, QNLI/, RTE/, WNLI/, diagnostic/)" })
    .option("out", { type: "string", default: "glue-results", describe: "results directory: results.json, predictions/, submission/, models/" })
    .option("epochs", { type: "number", describe: "training epochs (default: ELECTRA's, 3; 10 for RTE and STS-B)" })
    .option("lr", { type: "number", describe: "peak learning rate (default: ELECTRA's for the model size: 3e-4 small, 1e-4 base, 5e-5 large)" })
    .option("batch-size", { type: "number", default: FINETUNE_DEFAULTS.batchSize, describe: "examples per step" })
    .option("max-seq-length", { type: "number", default: FINETUNE_DEFAULTS.maxSeqLength, describe: "tokens per example; batches are padded to their longest member only" })
    .option("layerwise-lr-decay", { type: "number", describe: "layer-wise learning-rate decay (default 0.8; 0.9 for large)" })
    .option("layerwise-mode", { type: "string", choices: ["electra", "corrected"], default: "electra", describe: "electra: the published depths (head at L+2, an off-by-one); corrected: head at L+1" })
    .option("head", { type: "string", choices: ["electra", "hf"], default: "electra", describe: "electra: [CLS] -> dropout -> linear; hf: Hugging Face's ElectraClassificationHead" })
    .option("seeds", { type: "number", default: 1, describe: "fine-tuning runs per task (medians and spread are reported)" })
    .option("save", { type: "boolean", default: false, describe: "save each task's classifier (ElectraForSequenceClassification layout)" })
    .option("random-init", { type: "boolean", default: false, describe: "fine-tune the same network from random weights (a baseline)" })
    .option("train-limit", { type: "number", describe: "use at most this many training examples per task (quick checks)" })
    .option("threads", { type: "number", default: 0, describe: "CPU threads (0: all cores)" })
    .option("precision", { type: "string", choices: ["fp32", "bf16"], default: "fp32", describe: "matrix products in fp32 or bf16 (fp32 sums, weights, softmax and losses)" })
    .option("json", { type: "boolean", default: false, describe: "print one JSON event per line" })
    .example("$0 eval --model runs/tiny/checkpoint-2500/discriminator --task rte,mrpc,stsb,cola --data-dir glue_data", "")
    .example("$0 eval --model electra-small-discriminator --task all --data-dir glue_data --seeds 5", "medians over 5 runs, as ELECTRA reports");
}

export async function evalCommand(a: Record<string, unknown>): Promise<number> {
  const seeds = Number(a.seeds);
  if (!Number.isInteger(seeds) || seeds < 1) throw new Error(`--seeds must be a positive integer (got ${a.seeds})`);
  const batchSize = Number(a.batchSize);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`--batch-size must be a positive integer (got ${a.batchSize})`);
  await report(
    "electra eval",
    evaluate({
      model: String(a.model),
      tasks: resolveTasks(String(a.task)),
      dataDir: String(a.dataDir),
      out: String(a.out),
      epochs: a.epochs as number | undefined,
      lr: a.lr as number | undefined,
      batchSize,
      maxSeqLength: Number(a.maxSeqLength),
      layerwiseLrDecay: a.layerwiseLrDecay as number | undefined,
      layerwiseMode: a.layerwiseMode as "electra" | "corrected",
      head: a.head as "electra" | "hf",
      seeds,
      save: Boolean(a.save),
      threads: Number(a.threads),
      precision: a.precision as "fp32" | "bf16",
      randomInit: Boolean(a.randomInit),
      trainLimit: a.trainLimit as number | undefined,
    }),
    Boolean(a.json),
  );
  return 0;
}
