// pretrain.ts: `electra pretrain` as work that yields events: data, model, the training loop with
// gradient accumulation, held-out evaluation, atomic checkpoints, exact resume, Ctrl-C handling and
// NaN detection. The engine does every step; this file schedules and keeps the books.
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, accessSync, constants } from "node:fs";
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { native, type LoadedBatch, type PretrainerHandle, type ShardLoaderHandle } from "../native/binding.js";
import { prepare, builtinPreparedDir, PREPARE_DEFAULTS } from "../prepare/prepare.js";
import type { WorkEvent } from "../report/events.js";
import { cleanPartial, listCheckpoints, saveCheckpoint, type TrainingState } from "./checkpoint.js";
import type { RunConfig } from "./config.js";
import { addEval, emptyEval, evalMetrics } from "./metrics.js";

export interface PretrainOptions {
  config: RunConfig;
  data?: string;
  out: string;
  resume: boolean;
  initFrom: string[];
  /** a signal that asks the run to checkpoint and stop after the current step */
  stop?: { requested: boolean };
}

interface DataInfo {
  dir: string;
  vocabFile: string;
  vocab: string[];
  lowerCase: boolean;
  train: string[];
  eval: string[];
  seqLen: number;
  vocabHash: string;
}

function readData(dir: string): DataInfo {
  const mf = join(dir, "manifest.json");
  if (!existsSync(mf)) throw new Error(`${dir}: not prepared data (no manifest.json); run \`electra prepare ... --out ${dir}\` first`);
  const m = JSON.parse(readFileSync(mf, "utf8"));
  const vocabFile = join(dir, "vocab.txt");
  if (!existsSync(vocabFile)) throw new Error(`${vocabFile}: missing; the shards' vocabulary must sit beside them (rerun electra prepare)`);
  const vocabHash = native().fileHash(vocabFile);
  if (m.vocab?.fnv1a64 && m.vocab.fnv1a64 !== vocabHash)
    throw new Error(`${vocabFile} is not the vocabulary the shards were made with (hash ${vocabHash}, manifest says ${m.vocab.fnv1a64}); rerun electra prepare`);
  const shards = (m.shards ?? []) as { file: string; split: string }[];
  for (const s of shards) if (!existsSync(join(dir, s.file))) throw new Error(`${join(dir, s.file)}: shard listed in manifest.json is missing; rerun electra prepare`);
  const train = shards.filter((s) => s.split === "train").map((s) => join(dir, s.file));
  if (train.length === 0) throw new Error(`${dir}: manifest.json lists no training shards`);
  const text = readFileSync(vocabFile, "utf8").split(/\r?\n/);
  if (text[text.length - 1] === "") text.pop();
  return {
    dir, vocabFile, vocab: text, lowerCase: m.vocab?.lower_case ?? true, train,
    eval: shards.filter((s) => s.split === "eval").map((s) => join(dir, s.file)),
    seqLen: m.options?.max_seq_length ?? 128, vocabHash,
  };
}

function specialIds(vocab: string[], file: string) {
  const id = (t: string) => {
    const i = vocab.indexOf(t);
    if (i < 0) throw new Error(`${file}: the vocabulary lacks ${t}`);
    return i;
  };
  return { pad: id("[PAD]"), unk: id("[UNK]"), cls: id("[CLS]"), sep: id("[SEP]"), mask: id("[MASK]") };
}

function hashConfig(c: RunConfig, vocabHash: string): string {
  const { discriminator, generator, objective, batchSize, accumulate, seed, maskProb } = c;
  return createHash("sha256").update(JSON.stringify({ discriminator, generator, objective, batchSize, accumulate, seed, maskProb, vocabHash })).digest("hex").slice(0, 16);
}

/** Which of the --init-from directories is a discriminator and which a generator (by config.json). */
function classifyInit(dirs: string[]): { disc: string | null; gen: string | null } {
  let disc: string | null = null, gen: string | null = null;
  for (const d0 of dirs) {
    const subs = existsSync(join(d0, "discriminator")) ? [join(d0, "discriminator"), join(d0, "generator")] : [d0];
    for (const d of subs) {
      const cf = join(d, "config.json");
      if (!existsSync(cf)) throw new Error(`--init-from ${d}: no config.json (expected a Hugging Face model directory or a checkpoint)`);
      const arch: string = JSON.parse(readFileSync(cf, "utf8")).architectures?.[0] ?? "";
      if (arch === "ElectraForMaskedLM") gen = d;
      else disc = d;
    }
  }
  return { disc, gen };
}

function modelConfigOf(dir: string) {
  return JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
}

export async function* pretrain(opts: PretrainOptions): AsyncGenerator<WorkEvent> {
  const c = opts.config;
  const n = native();
  if (c.threads > 0) n.setThreads(c.threads);
  const out = resolve(opts.out);

  // ---- data: given, or the built-in corpus prepared (or reused) on the spot
  let dataDir = opts.data ? resolve(opts.data) : builtinPreparedDir(PREPARE_DEFAULTS.maxSeqLength);
  if (!opts.data) {
    yield { type: "log", level: "info", message: "no --data: using the built-in corpus (nlp-corpus + Brown)" };
    yield* prepare({ inputs: [], cased: false, maxSeqLength: PREPARE_DEFAULTS.maxSeqLength, seed: PREPARE_DEFAULTS.seed, evalFraction: PREPARE_DEFAULTS.evalFraction, maxEvalExamples: PREPARE_DEFAULTS.maxEvalExamples, examplesPerShard: PREPARE_DEFAULTS.examplesPerShard, textField: "text", threads: c.threads, force: false });
    dataDir = builtinPreparedDir(PREPARE_DEFAULTS.maxSeqLength);
  }
  const data = readData(dataDir);
  const special = specialIds(data.vocab, data.vocabFile);

  // ---- model sizes: the preset's (or --init-from's), with the data's vocabulary
  const init = opts.initFrom.length ? classifyInit(opts.initFrom) : { disc: null, gen: null };
  const disc = { ...c.discriminator, ...(init.disc ? modelConfigOf(init.disc) : {}), vocab_size: data.vocab.length, pad_token_id: special.pad };
  const gen = { ...c.generator, ...(init.gen ? modelConfigOf(init.gen) : {}), vocab_size: data.vocab.length, pad_token_id: special.pad };
  for (const [d, m] of [[init.disc, init.disc && modelConfigOf(init.disc)], [init.gen, init.gen && modelConfigOf(init.gen)]] as const)
    if (d && m.vocab_size !== data.vocab.length)
      throw new Error(`--init-from ${d}: the model's vocabulary has ${m.vocab_size} entries but the data's (${data.vocabFile}) has ${data.vocab.length}; prepare the data with the model's vocab.txt`);
  if (data.seqLen > disc.max_position_embeddings)
    throw new Error(`the data's sequences (${data.seqLen} tokens) are longer than max_position_embeddings (${disc.max_position_embeddings})`);
  const config: RunConfig = { ...c, discriminator: disc, generator: gen };
  const configHash = hashConfig(config, data.vocabHash);

  // ---- run directory
  mkdirSync(out, { recursive: true });
  try {
    accessSync(out, constants.W_OK);
  } catch {
    throw new Error(`${out}: the run directory is not writable`);
  }
  const removed = cleanPartial(out);
  if (removed) yield { type: "log", level: "warn", message: `removed ${removed} unfinished checkpoint(s) left by an interrupted save` };
  const existing = listCheckpoints(out);
  if (existing.length && !opts.resume)
    throw new Error(`${out} already holds checkpoints (latest: step ${existing[existing.length - 1].step}); continue it with --resume, or choose another --out`);
  if (opts.resume && existing.length === 0) yield { type: "log", level: "warn", message: `--resume: ${out} has no checkpoint yet; starting from scratch` };

  const device = resolveDevice(config.device);
  yield { type: "log", level: "info", message: `device: ${device.message}` };
  const trainer: PretrainerHandle = new n.Pretrainer(JSON.stringify({
    discriminator: disc, generator: gen, objective: config.objective, mask_prob: config.maskProb, gen_weight: config.genWeight,
    disc_weight: config.discWeight, temperature: config.temperature, special_ids: special, lr: config.lr, warmup_steps: config.warmupSteps,
    total_steps: config.steps, weight_decay: config.weightDecay, clip_norm: config.clipNorm, adam_epsilon: config.adamEpsilon, seed: config.seed,
    precision: config.precision, device: device.device,
  }));
  const loader: ShardLoaderHandle = new n.ShardLoader(data.train, config.seed);
  if (loader.vocabHash !== data.vocabHash) throw new Error(`${data.train[0]}: made with another vocabulary than ${data.vocabFile}; rerun electra prepare`);

  let elapsedBefore = 0;
  const metricsFile = join(out, "metrics.jsonl");
  if (opts.resume && existing.length) {
    let resumed = false;
    for (const ck of [...existing].reverse()) {
      try {
        const stateText = trainer.loadState(join(ck.path, "training_state.safetensors"));
        const state = JSON.parse(stateText) as TrainingState;
        if (state.configHash !== configHash)
          throw new Error(`${ck.path} was made with another model, batch, seed or vocabulary than this command asks for; resume with the run's own settings (see ${join(out, "config.json")})`);
        trainer.loadModels(join(ck.path, "discriminator"), join(ck.path, "generator"));
        trainer.setStep(state.step);
        loader.seek(state.position);
        elapsedBefore = state.elapsedSec;
        // metrics after the checkpoint belong to steps that will be redone
        if (existsSync(metricsFile)) {
          const keep = readFileSync(metricsFile, "utf8").split("\n").filter((l) => l && JSON.parse(l).step <= state.step);
          writeFileSync(metricsFile + ".tmp", keep.map((l) => l + "\n").join(""));
          renameSync(metricsFile + ".tmp", metricsFile);
        }
        yield { type: "log", level: "info", message: `resumed from ${ck.path} (step ${state.step})` };
        resumed = true;
        break;
      } catch (e) {
        if ((e as Error).message.includes("was made with another")) throw e;
        yield { type: "log", level: "warn", message: `${ck.path} cannot be read (${(e as Error).message}); trying an older checkpoint` };
      }
    }
    if (!resumed) throw new Error(`${out}: no readable checkpoint to resume from`);
  } else {
    trainer.initWeights(0.02);
    if (init.disc || init.gen) {
      const unexpected = trainer.loadModels(init.disc, init.gen);
      yield { type: "log", level: "info", message: `initialised from ${[init.disc, init.gen].filter(Boolean).join(" and ")}` + (unexpected.length ? ` (${unexpected.length} unused tensors)` : "") };
    }
    writeFileSync(metricsFile, "");
  }
  writeFileSync(join(out, "config.json"), JSON.stringify({ ...config, data: data.dir, configHash }, null, 2) + "\n");

  const micro = config.batchSize / config.accumulate;
  const startStep = trainer.step;
  yield { type: "log", level: "info", message: `${config.objective === "electra" ? "ELECTRA" : "MLM"} pre-training, preset ${config.preset}: ${trainer.numParams.toLocaleString("en-US")} parameters, batch ${config.batchSize}${config.accumulate > 1 ? ` (${config.accumulate} x ${micro})` : ""}, ${data.seqLen} tokens, ${config.precision} matrix products, steps ${startStep}..${config.steps}, data ${data.dir} (${loader.examples} examples)` };

  const evalLoader = data.eval.length ? new n.ShardLoader(data.eval, config.seed, false) : null;
  async function evaluate(): Promise<Record<string, number>> {
    const acc = emptyEval();
    evalLoader!.seek({ epoch: 0, shard: 0, example: 0 });
    const batches = Math.min(config.evalBatches, Math.ceil(evalLoader!.examples / micro));
    for (let i = 0; i < batches; i++) {
      const b = await evalLoader!.next(micro);
      addEval(acc, await trainer.evaluate(b, i), b.attentionMask);
    }
    return evalMetrics(acc, config.objective === "electra");
  }

  const state = (step: number, position: LoadedBatch["position"], elapsed: number): TrainingState => ({
    format: "electra-training-state", version: 1, step, position, seed: config.seed, configHash, elapsedSec: elapsed,
  });
  const save = (step: number, position: LoadedBatch["position"], elapsed: number) =>
    saveCheckpoint(out, trainer, state(step, position, elapsed), data.vocabFile, { lowerCase: data.lowerCase, maxLength: data.seqLen }, config.keep);

  const t0 = Date.now();
  let asideMs = 0; // evaluation and checkpoints: not part of a training step's cost
  let engineMs = 0, lastLogTime = Date.now(), tokensSinceLog = 0;
  let position = loader.position;
  let pending = loader.next(micro); // prefetch: the next batch loads while a step runs
  for (let step = trainer.step; step < config.steps; step++) {
    const batches: LoadedBatch[] = [];
    for (let k = 0; k < config.accumulate; k++) {
      const b = await pending;
      batches.push(b);
      pending = loader.next(micro);
    }
    const te = Date.now();
    const s = await trainer.trainStep(batches);
    engineMs += Date.now() - te;
    position = batches[batches.length - 1].position;
    tokensSinceLog += s.tokens;
    const done = step + 1;
    if (!Number.isFinite(s.loss) || !Number.isFinite(s.gradNorm) || s.loss > 1e4) {
      const last = listCheckpoints(out).pop();
      throw new Error(`the loss became ${Number.isFinite(s.loss) ? `too large (${s.loss.toExponential(2)})` : "NaN"} at step ${done} (gradient norm ${s.gradNorm}); stopped without saving. ` +
        (last ? `The last good checkpoint is ${last.path}: resume from it with a lower --lr.` : "No checkpoint was written yet: retry with a lower --lr."));
    }
    const elapsed = elapsedBefore + (Date.now() - t0) / 1000;
    if (done % config.logEvery === 0 || done === config.steps) {
      const now = Date.now();
      const tps = (tokensSinceLog * 1000) / Math.max(now - lastLogTime, 1);
      const perStep = (now - t0) / 1000 / (done - startStep);
      const ev = { type: "step" as const, step: done, totalSteps: config.steps, loss: s.loss, genLoss: s.genLoss, discLoss: s.discLoss, lr: s.lr, gradNorm: s.gradNorm, tokensPerSec: tps, elapsedSec: elapsed, etaSec: perStep * (config.steps - done) };
      const hostOverhead = 1 - engineMs / Math.max(now - t0 - asideMs, 1);
      appendFileSync(metricsFile, JSON.stringify({ step: done, loss: s.loss, gen_loss: s.genLoss, disc_loss: s.discLoss, lr: s.lr, grad_norm: s.gradNorm, tokens_per_s: Math.round(tps), elapsed_s: Math.round(elapsed * 10) / 10, host_overhead: Math.round(hostOverhead * 1e4) / 1e4 }) + "\n");
      yield ev;
      lastLogTime = now;
      tokensSinceLog = 0;
    }
    const ta = Date.now();
    if (evalLoader && (done % config.evalEvery === 0 || done === config.steps)) {
      const metrics = await evaluate();
      appendFileSync(metricsFile, JSON.stringify({ step: done, eval: metrics }) + "\n");
      yield { type: "eval", step: done, metrics };
    }
    const stopping = opts.stop?.requested === true;
    if (done % config.saveEvery === 0 || done === config.steps || stopping) {
      const path = save(done, position, elapsed);
      yield { type: "checkpoint", step: done, path };
    }
    asideMs += Date.now() - ta;
    if (stopping) {
      yield { type: "log", level: "info", message: `stopped at step ${done} on request; continue with --resume` };
      break;
    }
  }
  await pending.catch(() => undefined);
  const wall = (Date.now() - t0) / 1000;
  // the share of a training step spent outside the engine (data, masking, logging, UI), evaluation and checkpoints aside
  const hostOverhead = 1 - engineMs / Math.max(wall * 1000 - asideMs, 1);
  yield { type: "done", summary: { out, steps: trainer.step, seconds: wall, engineSeconds: engineMs / 1000, hostOverhead } };
}

/** --device: auto takes the first CUDA device the runtime sees, else the CPU; cuda without one is an error. */
export function resolveDevice(want: "auto" | "cpu" | "cuda"): { device: "cpu" | "cuda"; message: string } {
  if (want === "cpu") return { device: "cpu", message: "cpu (--device cpu)" };
  const cuda = native().engineInfo().cuda;
  const gpu = cuda.devices[0];
  if (gpu) return { device: "cuda", message: `cuda: ${gpu.name} (compute ${gpu.computeCapability}, ${(gpu.memoryBytes / 2 ** 30).toFixed(0)} GiB)` };
  const why = cuda.compiled ? cuda.note : "this build has no CUDA backend";
  if (want === "cuda") throw new Error(`--device cuda: no CUDA device (${why}); use --device cpu or auto`);
  return { device: "cpu", message: `cpu (no CUDA device: ${why})` };
}
