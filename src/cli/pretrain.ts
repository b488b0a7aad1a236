// pretrain.ts: `electra pretrain` options -> the pre-training work through the chosen reporter.
// Ctrl-C (SIGINT) or SIGTERM asks the run to write a checkpoint and stop after the current step;
// a second one stops at once (the last complete checkpoint is never damaged).
import type { Argv } from "yargs";
import { PRESETS } from "../config/presets.js";
import { resolveConfig, type RunFlags } from "../pretrain/config.js";
import { pretrain } from "../pretrain/pretrain.js";
import { report } from "../report/run.js";

export const pretrainDescription = "Pre-train an ELECTRA generator and discriminator (no --data: the built-in corpus)";

export function pretrainOptions(y: Argv) {
  return y
    .option("data", { type: "string", describe: "prepared data (a directory `electra prepare` wrote); default: the built-in corpus" })
    .option("preset", { type: "string", choices: Object.keys(PRESETS), describe: "model and schedule preset (default tiny)" })
    .option("config", { type: "string", describe: "JSON file of settings (preset, discriminator, generator, steps, lr, ...); flags override it" })
    .option("objective", { type: "string", choices: ["electra", "mlm"], describe: "electra: replaced-token detection (default); mlm: a BERT-style masked-LM baseline of the discriminator's size" })
    .option("steps", { type: "number", describe: "total optimizer steps (the learning-rate schedule is laid out over them)" })
    .option("batch-size", { type: "number", describe: "sequences per optimizer step" })
    .option("accumulate", { type: "number", describe: "split each step's batch into this many micro-batches (gradient accumulation)" })
    .option("lr", { type: "number", describe: "peak learning rate" })
    .option("warmup-steps", { type: "number", describe: "linear warm-up steps (default: the preset's 10,000, at most 10% of --steps)" })
    .option("mask-prob", { type: "number", describe: "share of tokens masked (0.15; 0.25 for large)" })
    .option("seed", { type: "number", describe: "random seed (weights, masking, sampling, dropout, data order)" })
    .option("out", { type: "string", default: "runs/electra", describe: "run directory: config.json, metrics.jsonl, checkpoint-STEP/" })
    .option("log-every", { type: "number", describe: "steps between log lines (default 10)" })
    .option("save-every", { type: "number", describe: "steps between checkpoints (default 1000)" })
    .option("eval-every", { type: "number", describe: "steps between held-out evaluations (default 500)" })
    .option("eval-batches", { type: "number", describe: "held-out batches per evaluation (default 20)" })
    .option("keep", { type: "number", describe: "checkpoints kept (default 3)" })
    .option("resume", { type: "boolean", default: false, describe: "continue the run in --out from its latest checkpoint, exactly" })
    .option("init-from", { type: "string", array: true, describe: "start from Hugging Face model directories (discriminator and/or generator) or a checkpoint" })
    .option("threads", { type: "number", describe: "CPU threads (default: all cores)" })
    .option("precision", { type: "string", choices: ["fp32", "bf16"], describe: "matrix products in fp32 (default) or bf16 (fp32 sums, master weights, LayerNorm, softmax and losses; faster on CPUs with AVX512-BF16)" })
    .option("device", { type: "string", choices: ["auto", "cpu", "cuda"], describe: "where to train: auto (default: the first CUDA GPU when there is one, else the CPU), cpu, or cuda (electra info lists the GPUs)" })
    .option("json", { type: "boolean", default: false, describe: "print one JSON event per line" })
    .example("$0 pretrain", "train the tiny preset on the built-in corpus")
    .example("$0 pretrain --data data/books --preset small --batch-size 128 --accumulate 4 --out runs/small", "ELECTRA-Small")
    .example("$0 pretrain --out runs/small --resume", "continue after a stop or a crash");
}

export async function pretrainCommand(a: Record<string, unknown>): Promise<number> {
  const flags: RunFlags = {
    config: a.config as string | undefined,
    preset: a.preset as RunFlags["preset"],
    objective: a.objective as RunFlags["objective"],
    steps: a.steps as number | undefined,
    batchSize: a.batchSize as number | undefined,
    accumulate: a.accumulate as number | undefined,
    lr: a.lr as number | undefined,
    warmupSteps: a.warmupSteps as number | undefined,
    maskProb: a.maskProb as number | undefined,
    seed: a.seed as number | undefined,
    logEvery: a.logEvery as number | undefined,
    saveEvery: a.saveEvery as number | undefined,
    evalEvery: a.evalEvery as number | undefined,
    evalBatches: a.evalBatches as number | undefined,
    keep: a.keep as number | undefined,
    threads: a.threads as number | undefined,
    precision: a.precision as RunFlags["precision"],
    device: a.device as RunFlags["device"],
  };
  const config = resolveConfig(flags);
  const stop = { requested: false };
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop.requested) {
      process.stderr.write(`\n${sig} again: stopping now; the last complete checkpoint is intact\n`);
      process.exit(130);
    }
    stop.requested = true;
    process.stderr.write(`\n${sig}: saving a checkpoint after this step, then stopping (press again to stop at once)\n`);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await report(
      "electra pretrain",
      pretrain({ config, data: a.data as string | undefined, out: String(a.out), resume: Boolean(a.resume), initFrom: ((a.initFrom as string[] | undefined) ?? []).map(String), stop }),
      Boolean(a.json),
    );
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return stop.requested ? 130 : 0;
}
