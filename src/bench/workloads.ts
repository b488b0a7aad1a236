// workloads.ts: the measured workloads of `npm run bench`, each run in its own process (so that its
// peak memory is its own) and reported as one JSON line.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { native, type BatchInput } from "../native/binding.js";
import { BERT_SPECIAL_IDS, PRESETS } from "../config/presets.js";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { packageRoot } from "../native/binding.js";
import { prepare, PREPARE_DEFAULTS } from "../prepare/prepare.js";
import { resolveConfig } from "../pretrain/config.js";
import { pretrain } from "../pretrain/pretrain.js";
import { matmulFlopsPerToken, type FlopWorkload } from "./flops.js";
import { shapeStats, type GlueShapes } from "./glue.js";
import { median } from "./compare.js";
import { readFileSync } from "node:fs";

export interface BenchLine {
  bench: string;
  impl: "electra";
  model: string;
  batch: number;
  seq: number;
  /** precision of the matrix products (bf16: bf16 operands, fp32 sums) */
  dtype: "fp32" | "bf16";
  threads: number;
  tokens_per_s: number;
  step_ms: number;
  steps: number;
  peak_rss_mb: number;
  /** achieved matrix-product GFLOP/s: flops_per_token x tokens_per_s (flops.ts) */
  gflops: number;
  flops_per_token: number;
  host_overhead?: number;
  data?: string;
  /** GLUE workloads: "dynamic" (each batch padded to its longest member) or the fixed length */
  padding?: string;
  examples_per_s?: number;
  /** GLUE workloads: padded tokens computed per real token */
  pad_overhead?: number;
  /** one more step with per-kernel timing on: each kernel's (matmuls: each shape's) share of that step */
  kernels?: KernelShare[];
}

export interface KernelShare {
  name: string;
  ms: number;
  calls: number;
  /** of the profiled step's wall time */
  share: number;
}

/** One untimed call of `fn` with the engine's per-kernel timing on; "other" is the rest of the step. */
async function profileStep(fn: () => Promise<unknown>): Promise<KernelShare[]> {
  const n = native();
  n.profile(true);
  const t0 = process.hrtime.bigint();
  await fn();
  const total = Number(process.hrtime.bigint() - t0) / 1e6;
  const entries = n.profile(false);
  const rest = total - entries.reduce((a, e) => a + e.ms, 0);
  const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
  return [...entries, { name: "other (outside kernels)", ms: rest, calls: 1 }].map((e) => ({ name: e.name, ms: round(e.ms, 2), calls: e.calls, share: round(e.ms / total, 4) }));
}

/** Uniform numbers in [0, 1) from a 32-bit linear congruential generator: the same seed, the same batch. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** A batch of random packed sequences: [CLS] A [SEP] B [SEP], every position a token. */
export function randomBatch(B: number, T: number, vocab: number, seed = 1): BatchInput {
  const rnd = lcg(seed);
  const ids = new Int32Array(B * T), tt = new Int32Array(B * T), mask = new Int32Array(B * T).fill(1);
  for (let b = 0; b < B; b++) {
    const split = 1 + Math.floor(T / 2);
    for (let t = 0; t < T; t++) {
      ids[b * T + t] = 1000 + Math.floor(rnd() * (vocab - 1000));
      tt[b * T + t] = t > split ? 1 : 0;
    }
    ids[b * T] = BERT_SPECIAL_IDS.cls;
    ids[b * T + split] = BERT_SPECIAL_IDS.sep;
    ids[b * T + T - 1] = BERT_SPECIAL_IDS.sep;
  }
  return { inputIds: ids, tokenTypeIds: tt, attentionMask: mask, batchSize: B, seqLen: T };
}

/** Single-sentence batches ([CLS] x .. x [SEP], then padding) with the given example lengths. */
export function lengthBatch(lens: number[], vocab: number, padTo?: number, seed = 1): BatchInput {
  const rnd = lcg(seed);
  const B = lens.length, T = padTo ?? Math.max(...lens);
  const ids = new Int32Array(B * T), tt = new Int32Array(B * T), mask = new Int32Array(B * T);
  lens.forEach((n, b) => {
    for (let t = 0; t < n; t++) {
      ids[b * T + t] = t === 0 ? BERT_SPECIAL_IDS.cls : t === n - 1 ? BERT_SPECIAL_IDS.sep : 1000 + Math.floor(rnd() * (vocab - 1000));
      mask[b * T + t] = 1;
    }
  });
  return { inputIds: ids, tokenTypeIds: tt, attentionMask: mask, batchSize: B, seqLen: T };
}

/**
 * The GLUE workloads on SST-2's shapes (glue.ts): `sst2_finetune` runs one fine-tuning step per training
 * batch, `sst2_eval` one prediction pass over the dev set; each timed once after one untimed batch.
 * tokens/s counts real tokens only; `padTo` pads every batch to that length instead of its longest.
 */
async function runGlueWorkload(name: string, shapes: GlueShapes, padTo: number | undefined, precision: "fp32" | "bf16"): Promise<BenchLine> {
  const n = native();
  const disc = PRESETS.small.discriminator;
  const f = new n.FineTuner(JSON.stringify({ model: disc, num_labels: 2, lr: 3e-4, warmup_steps: 10, total_steps: 1000, precision }));
  f.initWeights();
  const batches = name === "sst2_finetune" ? shapes.train : shapes.eval;
  const inputs = batches.map((lens, i) => lengthBatch(lens, disc.vocab_size, padTo, i + 1));
  const run = async (b: BatchInput) => {
    if (name === "sst2_finetune") await f.trainStep(b, Int32Array.from({ length: b.batchSize }, (_, i) => i % 2));
    else await f.predict(b);
  };
  await run(inputs[0]); // warm-up
  const t0 = process.hrtime.bigint();
  for (const b of inputs) await run(b);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const st = shapeStats(batches, padTo);
  const fw = name === "sst2_finetune" ? "finetune_step" : "predict";
  let flops = 0;
  for (const b of inputs) flops += matmulFlopsPerToken(fw, disc, PRESETS.small.generator, b.seqLen) * b.batchSize * b.seqLen;
  return {
    bench: name, impl: "electra", model: "electra-small", batch: batches[0].length, seq: shapes.maxSeqLength, dtype: precision,
    threads: n.engineInfo().threads, tokens_per_s: Math.round(st.tokens / seconds), step_ms: Math.round((1000 * seconds) / inputs.length),
    steps: inputs.length, peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    gflops: Math.round(flops / seconds / 1e8) / 10, flops_per_token: Math.round(flops / st.tokens),
    padding: padTo ? String(padTo) : "dynamic", examples_per_s: Math.round((10 * st.examples) / seconds) / 10,
    pad_overhead: Math.round((1000 * st.padded) / st.tokens) / 1000, data: shapes.source,
  };
}

let lastKernels: KernelShare[] | undefined;

/**
 * Median ms of `steps` calls after one warm-up call, then one profiled call (lastKernels). The
 * median, as the PyTorch reference reports (torch_reference.py): on a shared machine one slow
 * step would otherwise move the mean of three by 10-30%.
 */
async function timeSteps(steps: number, fn: () => Promise<unknown>): Promise<number> {
  await fn(); // warm-up: allocations, page faults
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  lastKernels = await profileStep(fn);
  return median(times);
}

export async function runWorkload(
  name: string,
  opts: { batch: number; seq: number; steps: number; threads: number; shapes?: string; padTo?: number; precision?: "fp32" | "bf16" },
): Promise<BenchLine> {
  const n = native();
  if (opts.threads > 0) n.setThreads(opts.threads);
  const precision = opts.precision ?? "fp32";
  if (name === "sst2_finetune" || name === "sst2_eval") {
    if (!opts.shapes) throw new Error(`${name} needs --shapes FILE (written by the parent process)`);
    return runGlueWorkload(name, JSON.parse(readFileSync(opts.shapes, "utf8")) as GlueShapes, opts.padTo, precision);
  }
  const small = PRESETS.small;
  const batch = randomBatch(opts.batch, opts.seq, small.discriminator.vocab_size);
  let stepMs: number;
  if (name === "pretrain_step") {
    const p = new n.Pretrainer(JSON.stringify({
      discriminator: small.discriminator, generator: small.generator, special_ids: BERT_SPECIAL_IDS,
      lr: small.lr, warmup_steps: small.warmupSteps, total_steps: small.steps, seed: 1, precision,
    }));
    p.initWeights();
    stepMs = await timeSteps(opts.steps, () => p.trainStep([batch]));
  } else if (name === "finetune_step") {
    const f = new n.FineTuner(JSON.stringify({ model: small.discriminator, num_labels: 2, lr: 3e-4, warmup_steps: 10, total_steps: 1000, precision }));
    f.initWeights();
    const labels = Int32Array.from({ length: opts.batch }, (_, i) => i % 2);
    stepMs = await timeSteps(opts.steps, () => f.trainStep(batch, labels));
  } else if (name === "inference") {
    const dir = mkdtempSync(join(tmpdir(), "electra-bench-"));
    try {
      const p = new n.Pretrainer(JSON.stringify({ discriminator: small.discriminator, generator: small.generator, special_ids: BERT_SPECIAL_IDS }));
      p.initWeights();
      p.saveModels(join(dir, "d"), join(dir, "g"));
      const d = new n.Discriminator(join(dir, "d"), precision);
      stepMs = await timeSteps(opts.steps, () => d.logits(batch));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else if (name === "pretrain_loop") {
    // the whole training loop (data loading, masking, logging included), on real data when present
    const shared = resolve(packageRoot, "..", "shared", "data");
    const tmp = mkdtempSync(join(tmpdir(), "electra-bench-loop-"));
    let dataDir: string | undefined;
    if (existsSync(join(shared, "corpus"))) {
      dataDir = join(tmpdir(), "electra-bench-shared-T128");
      for await (const _ of prepare({ inputs: [join(shared, "corpus")], out: dataDir, vocab: join(shared, "vocab", "bert-base-uncased-vocab.txt"), cased: false, maxSeqLength: 128, seed: 1, evalFraction: 0.01, maxEvalExamples: 1000, examplesPerShard: PREPARE_DEFAULTS.examplesPerShard, textField: "text", threads: opts.threads, force: false })) void _;
    }
    const config = resolveConfig({ preset: "small", steps: opts.steps + 1, batchSize: opts.batch, logEvery: 1, evalEvery: 1e9, saveEvery: 1e9, threads: opts.threads, precision });
    let summary: Record<string, unknown> = {};
    const stepTimes: number[] = [];
    let last = Date.now();
    try {
      for await (const e of pretrain({ config, data: dataDir, out: join(tmp, "run"), resume: false, initFrom: [] })) {
        if (e.type === "step") {
          stepTimes.push(Date.now() - last);
          last = Date.now();
        } else if (e.type === "done") summary = e.summary;
        else last = Date.now();
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    stepMs = median(stepTimes.length > 1 ? stepTimes.slice(1) : stepTimes); // the first step warms up
    const tps = (opts.batch * 128 * 1000) / stepMs;
    const flops = matmulFlopsPerToken("pretrain_loop", small.discriminator, small.generator, 128);
    return {
      bench: name, impl: "electra", model: "electra-small", batch: opts.batch, seq: 128, dtype: precision, threads: n.engineInfo().threads,
      tokens_per_s: Math.round(tps), step_ms: Math.round(stepMs), steps: opts.steps,
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      gflops: Math.round((flops * tps) / 1e8) / 10, flops_per_token: Math.round(flops),
      host_overhead: Math.round((summary.hostOverhead as number) * 1e4) / 1e4,
      data: dataDir ? "shared corpus, BERT uncased vocabulary" : "built-in corpus",
    };
  } else {
    throw new Error(`unknown workload ${name}`);
  }
  const tps = (opts.batch * opts.seq * 1000) / stepMs;
  const flops = matmulFlopsPerToken(name as FlopWorkload, small.discriminator, small.generator, opts.seq);
  return {
    bench: name,
    impl: "electra",
    model: "electra-small",
    batch: opts.batch,
    seq: opts.seq,
    dtype: precision,
    threads: n.engineInfo().threads,
    tokens_per_s: Math.round(tps),
    step_ms: Math.round(stepMs),
    steps: opts.steps,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    gflops: Math.round((flops * tps) / 1e8) / 10,
    flops_per_token: Math.round(flops),
    kernels: lastKernels,
  };
}
