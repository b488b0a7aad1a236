// flops.ts (bench): the matrix-product FLOPs of one step of each workload, counted analytically, and the
// per-core peak that achieved GFLOP/s is compared with. The same count as native/bench/torch_reference.py
// (whose --check verifies it against the products PyTorch actually runs); not a profiler.
//   B batch, T sequence length, N masked slots per sequence, C hidden size, E embedding size,
//   V vocabulary, L layers, F feed-forward size; 2 FLOPs per multiply-add.
import type { ElectraConfigJson } from "../config/presets.js";

/** ELECTRA's max_predictions_per_seq: int((mask_prob + 0.005) * T), 19 at T = 128. */
export function maxPredictions(maskProb: number, T: number): number {
  return Math.floor((maskProb + 0.005) * T);
}

/** Encoder forward per token: embeddings_project 2EC + L × (QKV 6C² + output 2C² + FFN 4CF + QKᵀ 2TC + PV 2TC). */
function encoderPerToken(c: ElectraConfigJson, T: number): number {
  const C = c.hidden_size, F = c.intermediate_size;
  return 2 * c.embedding_size * C + c.num_hidden_layers * (6 * C * C + 2 * C * C + 4 * C * F + 4 * T * C);
}

export type FlopWorkload = "pretrain_step" | "pretrain_loop" | "finetune_step" | "inference" | "predict";

/**
 * Matrix-product FLOPs per token of one step. Heads: discriminator 2C² + 2C per token; generator
 * 2·Cg·E + 2·E·V per masked slot (N/T of the tokens); classifier 2·C·labels per sequence. A training
 * step is 3 × forward (backward computes dX and dW of every product); "predict" is the classifier's
 * forward (GLUE evaluation). ELECTRA-Small at T = 128:
 * pre-training 70.2 MFLOP/token, fine-tuning 61.5, inference 20.6. Fine-tuning and "predict" count every
 * position of the last layer, as PyTorch runs it; our classifier forms that layer's queries, attention,
 * projection and FFN for [CLS] only (Encoder::set_cls_only), the same result from ~7% fewer FLOPs.
 */
export function matmulFlopsPerToken(
  workload: FlopWorkload,
  disc: ElectraConfigJson,
  gen: ElectraConfigJson,
  T: number,
  opts: { maskProb?: number; numLabels?: number } = {},
): number {
  const C = disc.hidden_size;
  const discFwd = encoderPerToken(disc, T) + 2 * C * C + 2 * C;
  if (workload === "inference") return discFwd;
  if (workload === "finetune_step") return 3 * (encoderPerToken(disc, T) + (2 * C * (opts.numLabels ?? 2)) / T);
  if (workload === "predict") return encoderPerToken(disc, T) + (2 * C * (opts.numLabels ?? 2)) / T; // classifier forward
  const N = maxPredictions(opts.maskProb ?? 0.15, T);
  const genFwd = encoderPerToken(gen, T) + ((2 * gen.hidden_size * gen.embedding_size + 2 * gen.embedding_size * gen.vocab_size) * N) / T;
  return 3 * (discFwd + genFwd);
}

/**
 * Assumed peak per core when none was measured (the project's performance issue): 100 GFLOP/s fp32
 * (2 × 256-bit FMA pipes × ~3 GHz, as on Zen 4 and recent Xeons), 200 GFLOP/s bf16 (AVX512-BF16 dot
 * products, twice the fp32 rate). `npm run bench` measures it with the PyTorch reference's GEMM probe.
 */
export const ASSUMED_PEAK_GFLOPS_PER_CORE = { fp32: 100, bf16: 200 } as const;
