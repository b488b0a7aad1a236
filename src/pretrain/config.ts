// config.ts: the resolved configuration of a pre-training run: preset, then a JSON config file, then
// flags, each overriding the one before; checked before any work starts.
import { existsSync, readFileSync } from "node:fs";
import { LOSS_DEFAULTS, OPTIMIZER_DEFAULTS, PRESETS, type ElectraConfigJson } from "../config/presets.js";

export type PresetName = keyof typeof PRESETS;

export interface RunConfig {
  preset: PresetName;
  objective: "electra" | "mlm";
  discriminator: ElectraConfigJson;
  generator: ElectraConfigJson;
  steps: number;
  batchSize: number;
  accumulate: number;
  lr: number;
  warmupSteps: number;
  maskProb: number;
  genWeight: number;
  discWeight: number;
  temperature: number;
  weightDecay: number;
  clipNorm: number;
  adamEpsilon: number;
  seed: number;
  logEvery: number;
  saveEvery: number;
  evalEvery: number;
  evalBatches: number;
  keep: number;
  threads: number;
  /** of the matrix products: fp32, or bf16 (bf16 operands, fp32 sums; weights, optimizer, LayerNorm, softmax and losses stay fp32) */
  precision: "fp32" | "bf16";
  /** where the engine runs: auto (a CUDA device when there is one, else the CPU), cpu or cuda */
  device: "auto" | "cpu" | "cuda";
}

export type RunFlags = Partial<Omit<RunConfig, "discriminator" | "generator">> & { config?: string };

const CONFIG_KEYS = new Set<string>([
  "preset", "objective", "discriminator", "generator", "steps", "batchSize", "accumulate", "lr", "warmupSteps", "maskProb", "genWeight",
  "discWeight", "temperature", "weightDecay", "clipNorm", "adamEpsilon", "seed", "logEvery", "saveEvery", "evalEvery", "evalBatches", "keep", "threads", "precision", "device",
]);

export function resolveConfig(flags: RunFlags): RunConfig {
  let file: Partial<RunConfig> = {};
  if (flags.config) {
    if (!existsSync(flags.config)) throw new Error(`${flags.config}: config file not found`);
    try {
      file = JSON.parse(readFileSync(flags.config, "utf8"));
    } catch (e) {
      throw new Error(`${flags.config}: not valid JSON (${(e as Error).message})`);
    }
    for (const k of Object.keys(file)) if (!CONFIG_KEYS.has(k)) throw new Error(`${flags.config}: unknown setting "${k}" (known: ${[...CONFIG_KEYS].join(", ")})`);
  }
  const presetName = (flags.preset ?? file.preset ?? "tiny") as PresetName;
  const preset = PRESETS[presetName];
  if (!preset) throw new Error(`--preset must be one of ${Object.keys(PRESETS).join(", ")} (got "${presetName}")`);
  const pick = <K extends keyof RunConfig>(k: K, fallback: RunConfig[K]): RunConfig[K] =>
    ((flags as Record<string, unknown>)[k] ?? (file as Record<string, unknown>)[k] ?? fallback) as RunConfig[K];
  const steps = pick("steps", preset.steps);
  const c: RunConfig = {
    preset: presetName,
    objective: pick("objective", "electra"),
    discriminator: { ...preset.discriminator, ...(file.discriminator ?? {}) },
    generator: { ...preset.generator, ...(file.generator ?? {}) },
    steps,
    batchSize: pick("batchSize", preset.batchSize),
    accumulate: pick("accumulate", 1),
    lr: pick("lr", preset.lr),
    // ELECTRA warms up over 10,000 steps; a shorter run warms up over its first 10% at most
    warmupSteps: pick("warmupSteps", Math.min(preset.warmupSteps, Math.max(1, Math.ceil(steps / 10)))),
    maskProb: pick("maskProb", preset.maskProb),
    genWeight: pick("genWeight", LOSS_DEFAULTS.genWeight),
    discWeight: pick("discWeight", LOSS_DEFAULTS.discWeight),
    temperature: pick("temperature", LOSS_DEFAULTS.temperature),
    weightDecay: pick("weightDecay", OPTIMIZER_DEFAULTS.weightDecay),
    clipNorm: pick("clipNorm", OPTIMIZER_DEFAULTS.clipNorm),
    adamEpsilon: pick("adamEpsilon", OPTIMIZER_DEFAULTS.adamEpsilon),
    seed: pick("seed", 1),
    logEvery: pick("logEvery", 10),
    saveEvery: pick("saveEvery", 1000),
    evalEvery: pick("evalEvery", 500),
    evalBatches: pick("evalBatches", 20),
    keep: pick("keep", 3),
    threads: pick("threads", 0),
    precision: pick("precision", "fp32"),
    device: pick("device", "auto"),
  };
  validate(c);
  return c;
}

function validate(c: RunConfig): void {
  const posInt = (v: number, name: string) => {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer (got ${v})`);
  };
  posInt(c.steps, "--steps");
  posInt(c.batchSize, "--batch-size");
  posInt(c.accumulate, "--accumulate");
  posInt(c.logEvery, "--log-every");
  posInt(c.saveEvery, "--save-every");
  posInt(c.evalEvery, "--eval-every");
  posInt(c.keep, "--keep");
  if (c.batchSize % c.accumulate !== 0) throw new Error(`--batch-size (${c.batchSize}) must be a multiple of --accumulate (${c.accumulate})`);
  if (!(c.lr > 0)) throw new Error(`--lr must be positive (got ${c.lr})`);
  if (c.objective !== "electra" && c.objective !== "mlm") throw new Error(`--objective must be electra or mlm (got ${c.objective})`);
  if (c.precision !== "fp32" && c.precision !== "bf16") throw new Error(`--precision must be fp32 or bf16 (got ${c.precision})`);
  if (!["auto", "cpu", "cuda"].includes(c.device)) throw new Error(`--device must be auto, cpu or cuda (got ${c.device})`);
  if (!(c.maskProb > 0 && c.maskProb < 1)) throw new Error(`mask probability must be in (0, 1) (got ${c.maskProb})`);
  for (const [name, m] of [["discriminator", c.discriminator], ["generator", c.generator]] as const) {
    if (m.hidden_size % m.num_attention_heads !== 0)
      throw new Error(`${name}: num_attention_heads (${m.num_attention_heads}) must divide hidden_size (${m.hidden_size})`);
  }
  if (c.generator.embedding_size !== c.discriminator.embedding_size)
    throw new Error("the generator shares the discriminator's embeddings: their embedding_size must be equal");
}
