// binding.ts: the one typed description of the native addon. Untyped values from C++ become typed
// here and nowhere else. The addon is loaded once, lazily, with a clear message if it was not built.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface EngineInfo {
  version: string;
  compiler: string;
  buildType: string;
  isa: "avx512" | "avx2" | "scalar";
  avx512Bf16: boolean;
  threads: number;
  hardwareThreads: number;
  cudaCompiled: boolean;
}

/** A batch of packed sequences, row-major (batchSize, seqLen). */
export interface BatchInput {
  inputIds: Int32Array;
  tokenTypeIds?: Int32Array | null;
  attentionMask?: Int32Array | null;
  batchSize: number;
  seqLen: number;
}

/** Losses and metric counts of one optimizer step (counts summed over micro-batches). */
export interface StepStats {
  step: number;
  loss: number;
  genLoss: number;
  discLoss: number;
  lr: number;
  gradNorm: number;
  mlmWeight: number;
  mlmCorrect: number;
  sampledCorrect: number;
  tokens: number;
  discCorrect: number;
  discTp: number;
  discFp: number;
  discFn: number;
  replaced: number;
}

/** A discriminator (ElectraForPreTraining) loaded from a Hugging Face model directory. */
export interface DiscriminatorHandle {
  /** Per-token "replaced" logits, (batchSize, seqLen). */
  logits(batch: BatchInput): Promise<Float32Array>;
  /** The model's config.json as the engine understood it (JSON text). */
  readonly config: string;
  /** Tensors in the file that the model does not use (e.g. a classifier head). */
  readonly unexpected: string[];
}

export interface PretrainerHandle {
  initWeights(range?: number): void;
  /** One optimizer step; gradients are accumulated over the given micro-batches. */
  trainStep(batches: BatchInput[]): Promise<StepStats>;
  /** Writes discriminator/ and generator/ Hugging Face directories (config.json + model.safetensors). */
  saveModels(discriminatorDir: string, generatorDir: string): void;
  readonly numParams: number;
  readonly step: number;
}

export interface FineTunerHandle {
  initWeights(range?: number): void;
  trainStep(batch: BatchInput, labels: Int32Array | null, targets?: Float32Array | null): Promise<StepStats>;
  /** Logits (batchSize, numLabels) without dropout. */
  predict(batch: BatchInput): Promise<Float32Array>;
}

/** The native module's exports. Each binding file in native/addon adds its own part. */
export interface NativeBinding {
  engineInfo(): EngineInfo;
  setThreads(n: number): void;
  Discriminator: new (modelDir: string) => DiscriminatorHandle;
  /** Options: JSON of {discriminator, generator, objective, mask_prob, gen_weight, disc_weight,
   * temperature, special_ids, lr, warmup_steps, total_steps, weight_decay, clip_norm, seed}. */
  Pretrainer: new (optionsJson: string) => PretrainerHandle;
  /** Options: JSON of {model, num_labels, head, classifier_dropout, lr, warmup_steps, total_steps, seed}. */
  FineTuner: new (optionsJson: string) => FineTunerHandle;
}

export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

let cached: NativeBinding | undefined;

/** Loads build/Release/electra.node (once). Throws an Error that says how to build it. */
export function native(): NativeBinding {
  if (cached) return cached;
  const candidates = [
    process.env.ELECTRA_ADDON,
    join(packageRoot, "build", "Release", "electra.node"),
    join(packageRoot, "build", "Debug", "electra.node"),
  ].filter((p): p is string => !!p);
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new Error(
      `the native engine is not built (looked for ${candidates.join(", ")}). ` +
        `Run \`npm run build:native\` in ${packageRoot} (needs cmake and a C++17 compiler).`,
    );
  }
  const require = createRequire(import.meta.url);
  cached = require(path) as NativeBinding;
  return cached;
}
