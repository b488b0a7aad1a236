// metrics.ts: GLUE's official metrics (accuracy, F1, Matthews correlation, Pearson, Spearman), each
// task's metric set, the GLUE score, and median/spread for multi-seed reports. Pure functions.
//
// The plain metrics return fractions as sklearn and scipy do (accuracy 0..1, correlations -1..1).
// `taskMetrics` and `glueScore` report percentages (x100), as ELECTRA's scorers, its README and the
// GLUE leaderboard do: CoLA MCC 57.0, not 0.570.
import { TASKS, type MetricName, type SplitName, type TaskName, type TaskSpec } from "./tasks.js";

type Values = ArrayLike<number>;

function checkPair(a: Values, b: Values, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} predictions but ${b.length} labels`);
  if (a.length === 0) throw new Error(`${what}: no examples`);
}

/** Fraction of predictions equal to their label. */
export function accuracy(predictions: Values, labels: Values): number {
  checkPair(predictions, labels, "accuracy");
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) correct++;
  return correct / labels.length;
}

/** F1 of the positive class (GLUE: class "1", index 1), as sklearn's f1_score: 2TP / (2TP + FP + FN),
 * and 0 when there is no true or predicted positive (sklearn's zero_division). ELECTRA's own
 * F1Scorer counts predictions as gold and is not used here. */
export function f1(predictions: Values, labels: Values, positive = 1): number {
  checkPair(predictions, labels, "f1");
  let tp = 0, fp = 0, fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = predictions[i] === positive, g = labels[i] === positive;
    if (p && g) tp++;
    else if (p) fp++;
    else if (g) fn++;
  }
  return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

/** Matthews correlation coefficient for any number of classes, as sklearn's matthews_corrcoef:
 * (c*s - t.p) / sqrt((s^2 - p.p)(s^2 - t.t)) with t, p the true and predicted class counts, c the
 * correct count and s the total; 0 (not NaN) when the denominator is 0, i.e. when one class is
 * predicted everywhere or every label is the same. */
export function mcc(predictions: Values, labels: Values): number {
  checkPair(predictions, labels, "mcc");
  const t = new Map<number, number>(), p = new Map<number, number>();
  let c = 0;
  for (let i = 0; i < labels.length; i++) {
    t.set(labels[i], (t.get(labels[i]) ?? 0) + 1);
    p.set(predictions[i], (p.get(predictions[i]) ?? 0) + 1);
    if (predictions[i] === labels[i]) c++;
  }
  const s = labels.length;
  let tp = 0, pp = 0, tt = 0;
  for (const [k, n] of t) (tt += n * n), (tp += n * (p.get(k) ?? 0));
  for (const n of p.values()) pp += n * n;
  const den = (s * s - pp) * (s * s - tt);
  return den === 0 ? 0 : (c * s - tp) / Math.sqrt(den);
}

/** Pearson correlation (two-pass, centred). NaN when either side is constant, as scipy's pearsonr. */
export function pearson(x: Values, y: Values): number {
  checkPair(x, y, "pearson");
  const n = x.length;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) (mx += x[i]), (my += y[i]);
  mx /= n;
  my /= n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** 1-based ranks with ties given their average rank (scipy's rankdata "average"). */
export function averageRanks(values: Values): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]] === values[order[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

/** Spearman correlation: Pearson of tie-averaged ranks, as scipy's spearmanr. */
export function spearman(x: Values, y: Values): number {
  checkPair(x, y, "spearman");
  return pearson(averageRanks(x), averageRanks(y));
}

const METRIC_FNS: Record<MetricName, (predictions: Values, labels: Values) => number> = {
  accuracy, f1: (p, l) => f1(p, l, 1), mcc, pearson, spearman,
};

export type TaskMetrics = Partial<Record<MetricName, number>>;

/** The task's official GLUE metrics in percent: CoLA mcc; SST-2, MNLI, QNLI, RTE, WNLI accuracy;
 * MRPC and QQP f1 and accuracy; STS-B pearson and spearman. `predictions` and `labels` are class
 * indices (or scores for STS-B, unclipped). MNLI is scored once per dev set; see `resultKey`. */
export function taskMetrics(task: TaskSpec | TaskName, predictions: Values, labels: Values): TaskMetrics {
  const spec = typeof task === "string" ? TASKS[task] : task;
  const out: TaskMetrics = {};
  for (const m of spec.metrics) out[m] = 100 * METRIC_FNS[m](predictions, labels);
  return out;
}

/** Keys of a GLUE result set: the task names, with MNLI split into its matched and mismatched dev sets. */
export type ResultKey = Exclude<TaskName, "mnli"> | "mnli-m" | "mnli-mm";
export type GlueResults = Partial<Record<ResultKey, TaskMetrics>>;

/** The result key for a task's dev (or test) split: "mnli-m" / "mnli-mm" for MNLI, else the task name. */
export function resultKey(task: TaskName, split: SplitName): ResultKey {
  if (task !== "mnli") return task;
  return split.endsWith("mismatched") ? "mnli-mm" : "mnli-m";
}

/** The nine tasks of the GLUE score; AX (diagnostic) is reported on the leaderboard but not scored. */
export const GLUE_SCORE_TASKS: readonly Exclude<TaskName, "ax">[] = ["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli"];

export interface GlueScore {
  /** Unweighted mean of the per-task scores present, in percent; NaN when none is present. */
  score: number;
  perTask: Partial<Record<Exclude<TaskName, "ax">, number>>;
  /** GLUE tasks without results: a score over fewer than nine tasks is not comparable to published ones. */
  missing: Exclude<TaskName, "ax">[];
}

/** The GLUE score, as defined by the GLUE benchmark (Wang et al., ICLR 2019, §3 and the leaderboard's
 * "Score" column): the unweighted average over the nine tasks of one score per task, where a task
 * with several metrics (MRPC, QQP: F1 and accuracy; STS-B: Pearson and Spearman) scores the mean of
 * them, and MNLI counts as one task scoring the mean of its matched and mismatched accuracies. AX
 * is excluded. Tasks absent from `results` are listed in `missing` and left out of the average
 * (a dev-set score over the tasks at hand); a present task lacking one of its metrics is an error. */
export function glueScore(results: GlueResults): GlueScore {
  const perTask: GlueScore["perTask"] = {};
  const missing: GlueScore["missing"] = [];
  const metricMean = (key: ResultKey, spec: TaskSpec, r: TaskMetrics): number => {
    let sum = 0;
    for (const m of spec.metrics) {
      const v = r[m];
      if (v === undefined) throw new Error(`GLUE score: ${key} lacks its ${m} (has ${Object.keys(r).join(", ") || "nothing"})`);
      sum += v;
    }
    return sum / spec.metrics.length;
  };
  for (const task of GLUE_SCORE_TASKS) {
    const spec = TASKS[task];
    const keys: ResultKey[] = task === "mnli" ? ["mnli-m", "mnli-mm"] : [task];
    const scores = keys.filter((k) => results[k] !== undefined).map((k) => metricMean(k, spec, results[k]!));
    if (scores.length === 0) missing.push(task);
    else perTask[task] = scores.reduce((a, b) => a + b, 0) / scores.length;
  }
  const vals = Object.values(perTask);
  return { score: vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : NaN, perTask, missing };
}

/** Median (mean of the two middle values for an even count); NaN if empty or if any value is NaN. */
export function median(values: readonly number[]): number {
  if (values.length === 0 || values.some(Number.isNaN)) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

export interface Spread {
  n: number;
  min: number;
  max: number;
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator); 0 for a single value. */
  std: number;
}

/** How much multi-seed results vary: min, max, mean and sample standard deviation. NaN fields when
 * empty or when any value is NaN. */
export function spread(values: readonly number[]): Spread {
  const n = values.length;
  if (n === 0 || values.some(Number.isNaN)) return { n, min: NaN, max: NaN, mean: NaN, std: NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const ss = values.reduce((a, v) => a + (v - mean) * (v - mean), 0);
  return { n, min: Math.min(...values), max: Math.max(...values), mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0 };
}
