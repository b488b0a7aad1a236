// eval.ts: `electra eval` as work that yields events: for each GLUE task and seed, fine-tune a
// classifier on top of a discriminator (ELECTRA's recipe), score the dev sets with the official
// metrics, and write dev predictions, test-set submission files and results.json. The engine does
// every step; this file reads data, schedules and keeps the books.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { FINETUNE_DEFAULTS, finetuneRecipe } from "../config/presets.js";
import { native, type FineTunerHandle, type NativeWordPieceTokenizer } from "../native/binding.js";
import type { WorkEvent } from "../report/events.js";
import { glueScore, median, resultKey, spread, taskMetrics, type GlueResults, type TaskMetrics } from "../glue/metrics.js";
import { readSplit, withSwappedPairs, type Example } from "../glue/reader.js";
import { writeDevPredictions, writeFileAtomic, writeSubmission } from "../glue/submission.js";
import { TASKS, type SplitName, type TaskSpec } from "../glue/tasks.js";
import { encodeExamples, makeBatch, permutation, type Feature } from "./features.js";

export interface EvalOptions {
  model: string;
  tasks: TaskSpec[];
  dataDir: string;
  out: string;
  epochs?: number;
  lr?: number;
  batchSize: number;
  maxSeqLength: number;
  layerwiseLrDecay?: number;
  layerwiseMode: "electra" | "corrected";
  head: "electra" | "hf";
  seeds: number;
  save: boolean;
  threads: number;
  /** of the matrix products (default fp32) */
  precision?: "fp32" | "bf16";
  /** fine-tune the same network from random weights instead of the model's (a baseline) */
  randomInit?: boolean;
  /** use at most this many training examples (quick checks) */
  trainLimit?: number;
  logEvery?: number;
}

interface ModelInfo {
  config: Record<string, unknown> & { hidden_size: number; num_hidden_layers: number; vocab_size: number; max_position_embeddings?: number };
  vocab: string;
  lowerCase: boolean;
}

function readModel(dir: string): ModelInfo {
  const cf = join(dir, "config.json");
  if (!existsSync(cf)) throw new Error(`${dir}: not a model directory (no config.json); give a discriminator in Hugging Face's layout`);
  const config = JSON.parse(readFileSync(cf, "utf8"));
  const vocab = join(dir, "vocab.txt");
  if (!existsSync(vocab)) throw new Error(`${dir}: no vocab.txt beside the model; copy the vocabulary it was trained with into it`);
  let lowerCase = true;
  const tc = join(dir, "tokenizer_config.json");
  if (existsSync(tc)) {
    const t = JSON.parse(readFileSync(tc, "utf8"));
    if (typeof t.do_lower_case === "boolean") lowerCase = t.do_lower_case;
  }
  return { config, vocab, lowerCase };
}

/** Predictions for features, batched by length (dynamic padding), in the original order. */
async function predict(ft: FineTunerHandle, feats: Feature[], batchSize: number, padId: number, regression: boolean, numLabels: number): Promise<Float64Array> {
  const order = Array.from({ length: feats.length }, (_, i) => i).sort((a, b) => feats[a].ids.length - feats[b].ids.length);
  const out = new Float64Array(feats.length);
  for (let s = 0; s < order.length; s += batchSize) {
    const e = Math.min(order.length, s + batchSize);
    const logits = await ft.predict(makeBatch(feats, order, s, e, padId));
    for (let r = 0; r < e - s; r++) {
      if (regression) out[order[s + r]] = logits[r];
      else {
        let best = 0;
        for (let c = 1; c < numLabels; c++) if (logits[r * numLabels + c] > logits[r * numLabels + best]) best = c;
        out[order[s + r]] = best;
      }
    }
  }
  return out;
}

interface SeedResult {
  seed: number;
  metrics: Record<string, TaskMetrics>; // per dev split key (mnli-m, mnli-mm, or the task)
}

export async function* evaluate(opts: EvalOptions): AsyncGenerator<WorkEvent> {
  const n = native();
  if (opts.threads > 0) n.setThreads(opts.threads);
  const info = readModel(opts.model);
  const tok: NativeWordPieceTokenizer = new n.WordPieceTokenizer(info.vocab, info.lowerCase);
  const recipe = finetuneRecipe(info.config.hidden_size);
  const out = resolve(opts.out);
  mkdirSync(join(out, "predictions"), { recursive: true });
  mkdirSync(join(out, "submission"), { recursive: true });
  const padId = tok.specialIds.pad;
  const maxPos = Number(info.config.max_position_embeddings ?? 512);
  if (opts.maxSeqLength > maxPos) {
    yield { type: "log", level: "warn", message: `--max-seq-length ${opts.maxSeqLength} exceeds the model's max_position_embeddings; using ${maxPos}` };
    opts = { ...opts, maxSeqLength: maxPos };
  }
  const results: Record<string, unknown> = {};
  const glue: GlueResults = {};
  // AX is predicted by the MNLI model: train MNLI when AX is asked for
  const wanted = opts.tasks.map((t) => t.name);
  const order = wanted.includes("ax") && !wanted.includes("mnli") ? [...opts.tasks.filter((t) => t.name !== "ax"), TASKS.mnli, TASKS.ax] : opts.tasks;
  let mnliModel: FineTunerHandle | null = null;
  const t0 = Date.now();
  yield { type: "log", level: "info", message: `fine-tuning ${opts.randomInit ? "a randomly initialised copy of " : ""}${opts.model} (${recipe.size}-sized: lr ${opts.lr ?? recipe.lr}, layer-wise decay ${opts.layerwiseLrDecay ?? recipe.layerwiseLrDecay}) on ${order.map((t) => t.title).join(", ")}` };

  for (const task of order) {
    if (task.name === "ax") {
      if (!mnliModel) throw new Error("AX is predicted with the MNLI model, which was not trained");
      const test = readSplit(task, opts.dataDir, "test");
      const feats = await encodeExamples(tok, test.examples, opts.maxSeqLength);
      const preds = await predict(mnliModel, feats, 128, padId, false, TASKS.mnli.labels!.length);
      const file = writeSubmission(join(out, "submission"), task, "test", test.examples, Array.from(preds));
      yield { type: "log", level: "info", message: `AX: ${test.examples.length} diagnostic predictions (MNLI model) -> ${file}` };
      continue;
    }
    const regression = task.labels === null;
    const numLabels = regression ? 1 : task.labels!.length;
    let train = readSplit(task, opts.dataDir, "train").examples;
    if (opts.trainLimit) train = train.slice(0, opts.trainLimit);
    const nTrainFile = train.length;
    if (task.swapTrainPairs) train = withSwappedPairs(task, train);
    const trainFeats = await encodeExamples(tok, train, opts.maxSeqLength);
    const devSets = task.devSplits.map((split) => ({ split, ...readSplit(task, opts.dataDir, split) }));
    const devFeats = await Promise.all(devSets.map((d) => encodeExamples(tok, d.examples, opts.maxSeqLength)));
    const labelsOf = (ex: Example[]) => ex.map((e) => (regression ? e.score! : e.label!));
    const trainLabels = Int32Array.from(regression ? [] : train.map((e) => e.label!));
    const trainTargets = Float32Array.from(regression ? train.map((e) => e.score!) : []);
    const epochs = opts.epochs ?? task.epochs;
    const stepsPerEpoch = Math.ceil(trainFeats.length / opts.batchSize);
    const totalSteps = epochs * stepsPerEpoch;
    const lr = opts.lr ?? recipe.lr;
    const decay = opts.layerwiseLrDecay ?? recipe.layerwiseLrDecay;
    const hyper = {
      lr, layerwise_lr_decay: decay, layerwise_mode: opts.layerwiseMode, epochs, batch_size: opts.batchSize, max_seq_length: opts.maxSeqLength,
      warmup_steps: Math.round(FINETUNE_DEFAULTS.warmupFraction * totalSteps), total_steps: totalSteps, head: opts.head,
      adam_epsilon: FINETUNE_DEFAULTS.adamEpsilon, clip_norm: FINETUNE_DEFAULTS.clipNorm, weight_decay: FINETUNE_DEFAULTS.weightDecay,
      classifier_dropout: FINETUNE_DEFAULTS.classifierDropout, swapped_pairs: task.swapTrainPairs, random_init: Boolean(opts.randomInit),
      precision: opts.precision ?? "fp32",
    };
    const seedResults: SeedResult[] = [];
    for (let seed = 1; seed <= opts.seeds; seed++) {
      const ft: FineTunerHandle = new n.FineTuner(JSON.stringify({
        model: info.config, num_labels: numLabels, head: opts.head, classifier_dropout: FINETUNE_DEFAULTS.classifierDropout,
        lr, warmup_steps: hyper.warmup_steps, total_steps: totalSteps, seed, layerwise_lr_decay: decay, layerwise_mode: opts.layerwiseMode,
        weight_decay: FINETUNE_DEFAULTS.weightDecay, clip_norm: FINETUNE_DEFAULTS.clipNorm, adam_epsilon: FINETUNE_DEFAULTS.adamEpsilon,
        precision: hyper.precision,
      }));
      ft.initWeights(0.02);
      if (!opts.randomInit) ft.loadEncoder(opts.model);
      const ts = Date.now();
      let step = 0;
      for (let epoch = 1; epoch <= epochs; epoch++) {
        const perm = permutation(trainFeats.length, seed * 1000 + epoch);
        for (let s = 0; s < perm.length; s += opts.batchSize) {
          const e = Math.min(perm.length, s + opts.batchSize);
          const batch = makeBatch(trainFeats, perm, s, e, padId);
          const idx = Array.from(perm.subarray(s, e));
          const r = await ft.trainStep(batch, regression ? null : Int32Array.from(idx, (i) => trainLabels[i]), regression ? Float32Array.from(idx, (i) => trainTargets[i]) : null);
          step++;
          if (!Number.isFinite(r.loss)) throw new Error(`${task.title}: the loss became NaN at step ${step}; try a lower --lr`);
          if (step % (opts.logEvery ?? 20) === 0 || step === totalSteps) {
            const el = (Date.now() - ts) / 1000;
            yield { type: "ft-step", task: task.title, seed, epoch, step, totalSteps, loss: r.loss, lr: r.lr, elapsedSec: el, etaSec: (el / step) * (totalSteps - step) };
          }
        }
      }
      // score every dev set
      const metrics: Record<string, TaskMetrics> = {};
      for (let d = 0; d < devSets.length; d++) {
        const preds = await predict(ft, devFeats[d], 128, padId, regression, numLabels);
        const key = resultKey(task.name, devSets[d].split as SplitName);
        metrics[key] = taskMetrics(task, Array.from(preds), labelsOf(devSets[d].examples));
        if (seed === 1) writeDevPredictions(out, task, devSets[d].examples, Array.from(preds), devSets[d].split as SplitName);
      }
      seedResults.push({ seed, metrics });
      const flat: Record<string, number> = {};
      for (const [k, m] of Object.entries(metrics)) for (const [mn, v] of Object.entries(m)) flat[`${k}:${mn}`] = v as number;
      yield { type: "task-result", task: task.title, seed, metrics: flat, nTrain: nTrainFile, nDev: devSets.reduce((a, d) => a + d.examples.length, 0) };
      // test-set predictions (first seed) in GLUE's submission format
      if (seed === 1) {
        for (const split of task.testSplits) {
          let test: Example[] | null = null;
          try {
            test = readSplit(task, opts.dataDir, split).examples;
          } catch (e) {
            if (!/no such file|not found|missing/i.test((e as Error).message)) throw e;
          }
          if (!test) continue;
          const preds = await predict(ft, await encodeExamples(tok, test, opts.maxSeqLength), 128, padId, regression, numLabels);
          writeSubmission(join(out, "submission"), task, split, test, Array.from(preds));
        }
        if (opts.save) {
          const dir = join(out, "models", task.name);
          ft.save(dir, {
            id2label: Object.fromEntries((task.labels ?? ["score"]).map((l, i) => [String(i), l])),
            label2id: Object.fromEntries((task.labels ?? ["score"]).map((l, i) => [l, i])),
            problem_type: regression ? "regression" : "single_label_classification",
            classifier_head: opts.head,
            finetuning_task: task.name,
          });
          yield { type: "log", level: "info", message: `saved the ${task.title} classifier -> ${dir}` };
        }
      }
      if (task.name === "mnli" && seed === 1) mnliModel = ft;
    }
    // medians over seeds
    const med: Record<string, TaskMetrics> = {};
    const spreads: Record<string, unknown> = {};
    for (const key of Object.keys(seedResults[0].metrics)) {
      med[key] = {};
      for (const mn of Object.keys(seedResults[0].metrics[key])) {
        const vals = seedResults.map((r) => r.metrics[key][mn as keyof TaskMetrics] as number);
        (med[key] as Record<string, number>)[mn] = median(vals);
        spreads[`${key}:${mn}`] = spread(vals);
      }
      (glue as Record<string, TaskMetrics>)[key] = med[key];
    }
    results[task.name] = {
      task: task.name, n_train: nTrainFile, n_train_with_swapped: train.length, n_dev: Object.fromEntries(devSets.map((d) => [d.split, d.examples.length])),
      hyperparameters: hyper, seeds: seedResults, median: med, spread: spreads,
    };
  }
  const score = glueScore(glue);
  const summary = {
    model: resolve(opts.model), random_init: Boolean(opts.randomInit), data_dir: resolve(opts.dataDir), tasks: results,
    glue_score: score.score, glue_tasks: score.perTask, glue_missing: score.missing, seconds: (Date.now() - t0) / 1000, created: new Date().toISOString(),
  };
  writeFileAtomic(join(out, "results.json"), JSON.stringify(summary, null, 2) + "\n");
  for (const line of markdownTable(glue, score.score)) yield { type: "log", level: "info", message: line };
  yield { type: "done", summary: { out, glueScore: score.score } };
}

/** The dev results as a Markdown table (medians over seeds). */
export function markdownTable(glue: GlueResults, score: number): string[] {
  const rows = Object.entries(glue).map(([k, m]) => `| ${k} | ${Object.entries(m ?? {}).map(([mn, v]) => `${mn} ${(v as number).toFixed(1)}`).join(", ")} |`);
  return ["| task | dev (median over seeds) |", "|---|---|", ...rows, `| GLUE score (tasks above) | ${Number.isFinite(score) ? score.toFixed(1) : "n/a"} |`];
}
