// submission.ts: writes predictions as files: test-set predictions in the GLUE server's submission
// format (one TSV per task, zipped by the user), and dev-set predictions beside their labels.
// Files are written atomically (temporary file, then rename), so a crash never leaves half a file.
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Example } from "./reader.js";
import { TASKS, isTestSplit, type SplitName, type TaskName, type TaskSpec } from "./tasks.js";

/** Every file a complete GLUE submission holds (gluebenchmark.com, "Submission"). */
export const SUBMISSION_FILES = [
  "CoLA.tsv", "SST-2.tsv", "MRPC.tsv", "STS-B.tsv", "QQP.tsv", "MNLI-m.tsv", "MNLI-mm.tsv",
  "QNLI.tsv", "RTE.tsv", "WNLI.tsv", "AX.tsv",
] as const;

/** The submission file of a task's test split: "RTE.tsv", MNLI's "MNLI-m.tsv" / "MNLI-mm.tsv". */
export function submissionFileName(task: TaskSpec | TaskName, split: SplitName = "test"): string {
  const spec = typeof task === "string" ? TASKS[task] : task;
  if (!isTestSplit(split)) throw new Error(`GLUE submissions hold test predictions; got split "${split}"`);
  if (spec.name === "mnli") return split === "test_mismatched" ? "MNLI-mm.tsv" : "MNLI-m.tsv";
  return `${spec.title}.tsv`;
}

/** One prediction as GLUE expects it: the label name (0/1 for the binary tasks, entailment /
 * not_entailment, contradiction / entailment / neutral), or for STS-B the score clipped to [0, 5]
 * with 3 decimals. `prediction` is a class index, or a score for STS-B. */
export function formatPrediction(task: TaskSpec | TaskName, prediction: number): string {
  const spec = typeof task === "string" ? TASKS[task] : task;
  if (spec.labels === null) {
    if (!Number.isFinite(prediction)) throw new Error(`${spec.title}: prediction ${prediction} is not a finite score`);
    const [lo, hi] = spec.scoreRange ?? [-Infinity, Infinity];
    return Math.min(hi, Math.max(lo, prediction)).toFixed(3);
  }
  const label = Number.isInteger(prediction) ? spec.labels[prediction] : undefined;
  if (label === undefined) throw new Error(`${spec.title}: prediction ${prediction} is not a class index 0..${spec.labels.length - 1}`);
  return label;
}

function formatLabel(spec: TaskSpec, e: Example): string {
  if (spec.labels === null) {
    if (e.score === undefined) throw new Error(`${spec.title} example ${e.index} has no score`);
    return e.score.toFixed(3);
  }
  if (e.label === undefined) throw new Error(`${spec.title} example ${e.index} has no label`);
  return spec.labels[e.label];
}

/** Writes `text` to `path` through a temporary file in the same folder and a rename. */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

function checkCounts(spec: TaskSpec, examples: readonly Example[], predictions: ArrayLike<number>): void {
  if (examples.length !== predictions.length) {
    throw new Error(`${spec.title}: ${predictions.length} predictions for ${examples.length} examples`);
  }
}

/** Writes a task's test predictions to `<dir>/<GLUE file name>` with the header `index\tprediction`,
 * one row per example in the given order, and returns the path. */
export function writeSubmission(
  dir: string, task: TaskSpec | TaskName, split: SplitName, examples: readonly Example[], predictions: ArrayLike<number>,
): string {
  const spec = typeof task === "string" ? TASKS[task] : task;
  const path = join(dir, submissionFileName(spec, split));
  checkCounts(spec, examples, predictions);
  const rows = new Array<string>(examples.length + 1);
  rows[0] = "index\tprediction";
  for (let i = 0; i < examples.length; i++) rows[i + 1] = `${examples[i].index}\t${formatPrediction(spec, predictions[i])}`;
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(path, rows.join("\n") + "\n");
  return path;
}

/** The submission files not yet in `dir`: empty when the folder is ready to zip and upload. */
export function missingSubmissionFiles(dir: string): string[] {
  return SUBMISSION_FILES.filter((f) => !existsSync(join(dir, f)));
}

/** Writes dev predictions to `<dir>/predictions/<task>-<split>.tsv` (`rte-dev.tsv`,
 * `mnli-dev_mismatched.tsv`) with the header `index\tprediction\tlabel`, prediction and label
 * formatted as in a submission, and returns the path. */
export function writeDevPredictions(
  dir: string, task: TaskSpec | TaskName, examples: readonly Example[], predictions: ArrayLike<number>, split: SplitName = "dev",
): string {
  const spec = typeof task === "string" ? TASKS[task] : task;
  if (isTestSplit(split)) throw new Error(`dev predictions need a labelled split; got "${split}" (use writeSubmission)`);
  checkCounts(spec, examples, predictions);
  const rows = new Array<string>(examples.length + 1);
  rows[0] = "index\tprediction\tlabel";
  for (let i = 0; i < examples.length; i++) {
    rows[i + 1] = `${examples[i].index}\t${formatPrediction(spec, predictions[i])}\t${formatLabel(spec, examples[i])}`;
  }
  const out = join(dir, "predictions");
  mkdirSync(out, { recursive: true });
  const path = join(out, `${spec.name}-${split}.tsv`);
  writeFileAtomic(path, rows.join("\n") + "\n");
  return path;
}
