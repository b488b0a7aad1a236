// metrics.ts: ELECTRA's evaluation metrics (run_pretraining.py metric_fn) from counts and scores.
import type { StepStats } from "../native/binding.js";

/** Area under the ROC curve of scores for binary labels (Mann-Whitney U, ties averaged). */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let pos = 0, rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[idx[j + 1]] === scores[idx[i]]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (labels[idx[k]]) (pos++, (rankSum += avgRank));
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

export interface EvalAccumulator {
  batches: number;
  genLossSum: number;
  mlmWeight: number;
  mlmCorrect: number;
  sampledCorrect: number;
  discLossSum: number;
  tokens: number;
  discCorrect: number;
  tp: number;
  fp: number;
  fn: number;
  scores: number[];
  labels: number[];
}

export const emptyEval = (): EvalAccumulator => ({ batches: 0, genLossSum: 0, mlmWeight: 0, mlmCorrect: 0, sampledCorrect: 0, discLossSum: 0, tokens: 0, discCorrect: 0, tp: 0, fp: 0, fn: 0, scores: [], labels: [] });

export function addEval(a: EvalAccumulator, s: StepStats & { discLogits: Float32Array; discLabels: Int32Array }, mask: Int32Array): void {
  a.batches++;
  a.genLossSum += s.genLoss * s.mlmWeight;
  a.mlmWeight += s.mlmWeight;
  a.mlmCorrect += s.mlmCorrect;
  a.sampledCorrect += s.sampledCorrect;
  a.discLossSum += s.discLoss * s.tokens;
  a.tokens += s.tokens;
  a.discCorrect += s.discCorrect;
  a.tp += s.discTp;
  a.fp += s.discFp;
  a.fn += s.discFn;
  for (let i = 0; i < s.discLogits.length; i++)
    if (mask[i]) {
      a.scores.push(s.discLogits[i]);
      a.labels.push(s.discLabels[i]);
    }
}

export function evalMetrics(a: EvalAccumulator, electra: boolean): Record<string, number> {
  const m: Record<string, number> = {
    masked_lm_loss: a.genLossSum / Math.max(a.mlmWeight, 1e-9),
    masked_lm_accuracy: a.mlmCorrect / Math.max(a.mlmWeight, 1e-9),
  };
  if (!electra) return m;
  const trivial = 1 - (a.tp + a.fn) / Math.max(a.tokens, 1e-9); // accuracy of "nothing was replaced"
  return {
    ...m,
    sampled_masked_lm_accuracy: a.sampledCorrect / Math.max(a.mlmWeight, 1e-9),
    disc_loss: a.discLossSum / Math.max(a.tokens, 1e-9),
    disc_accuracy: a.discCorrect / Math.max(a.tokens, 1e-9),
    disc_trivial_accuracy: trivial,
    disc_precision: a.tp + a.fp > 0 ? a.tp / (a.tp + a.fp) : 0,
    disc_recall: a.tp + a.fn > 0 ? a.tp / (a.tp + a.fn) : 0,
    disc_auc: auc(a.scores, a.labels),
  };
}
