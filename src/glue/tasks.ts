// tasks.ts: the GLUE tasks as `electra eval` reads them: files, columns, labels, metrics, and
// every fine-tuning default per task, in one place, with its source. Data only; reading is reader.ts.
//
// Sources: columns and label lists follow google-research/electra finetune/classification/
// classification_tasks.py (ELECTRA has no WNLI task; WNLI follows Hugging Face transformers'
// data/processors/glue.py WnliProcessor, AX follows ELECTRA's MNLI "diagnostic" split). Epochs
// follow configure_finetuning.py. Metrics are GLUE's official ones (Wang et al., ICLR 2019, Table 1).

export type TaskName = "cola" | "sst2" | "mrpc" | "stsb" | "qqp" | "mnli" | "qnli" | "rte" | "wnli" | "ax";
export type SplitName = "train" | "dev" | "test" | "dev_matched" | "dev_mismatched" | "test_matched" | "test_mismatched";
export type MetricName = "accuracy" | "f1" | "mcc" | "pearson" | "spearman";

/** Where a split's fields sit in each row. Column numbers are 0-based; a negative one counts from the
 * end (-1: the last column), as ELECTRA's `line[-1]`. */
export interface Layout {
  /** The first line is a header (checked for its column count, otherwise skipped). */
  header: boolean;
  /** Columns in every row: exactly this many, or at least this many when `extraColumns`. */
  columns: number;
  /** Rows may carry more columns than `columns` (MNLI: train has 1 annotator label, dev 5). */
  extraColumns?: boolean;
  /** Column holding the example's id; absent: the 0-based row number after the header (ELECTRA's eid). */
  index?: number;
  textA: number;
  textB?: number;
  /** Column holding the label (classification) or score (regression); absent on test splits. */
  label?: number;
}

export interface TaskSpec {
  name: TaskName;
  /** GLUE's own spelling, used in messages and submission file names: "CoLA", "SST-2", … */
  title: string;
  /** The folder under the GLUE data directory (download_glue_data.py layout); AX has none of its own. */
  folder: string;
  /** Per split, the paths (relative to the GLUE data directory) tried in order; the first that exists is read. */
  files: Partial<Record<SplitName, readonly string[]>>;
  /** Layout of train and dev files (labelled). Absent for AX, which has a test file only. */
  labeled?: Layout;
  /** Layout of test files (no labels). */
  test: Layout;
  /** Class names in class-index order (ELECTRA's label_list); null for regression (STS-B). */
  labels: readonly string[] | null;
  /** Regression only: the allowed score range, inclusive (ELECTRA asserts min <= label <= max). */
  scoreRange?: readonly [number, number];
  /** Train on both sentence orders too (ELECTRA's double_unordered, on by default, for MRPC and STS-B). */
  swapTrainPairs: boolean;
  /** The official GLUE metrics, headline first. */
  metrics: readonly MetricName[];
  /** Fine-tuning epochs: 3, except RTE and STS-B 10 (configure_finetuning.py). */
  epochs: number;
  /** The dev splits to evaluate (MNLI: matched and mismatched); empty for AX. */
  devSplits: readonly SplitName[];
  /** The test splits to predict for a GLUE submission. */
  testSplits: readonly SplitName[];
}

/** Label lists, in ELECTRA's order (class index = position). */
const BINARY = ["0", "1"] as const;
const NLI3 = ["contradiction", "entailment", "neutral"] as const;
const NLI2 = ["entailment", "not_entailment"] as const;

/** ELECTRA's configure_finetuning.py: num_train_epochs = 3, and 10 when the single task is rte or sts. */
const DEFAULT_EPOCHS = 3;
const SMALL_TASK_EPOCHS = 10;

const std = (folder: string) => ({
  train: [`${folder}/train.tsv`],
  dev: [`${folder}/dev.tsv`],
  test: [`${folder}/test.tsv`],
});

/** GLUE's diagnostic set, wherever the common download scripts put it. */
export const AX_CANDIDATES = ["diagnostic/diagnostic.tsv", "AX/AX.tsv", "AX.tsv", "diagnostic.tsv"] as const;

export const TASKS: Record<TaskName, TaskSpec> = {
  // CoLA train/dev: no header; source, label, original label (often empty), sentence. Test: index, sentence.
  cola: {
    name: "cola", title: "CoLA", folder: "CoLA", files: std("CoLA"),
    labeled: { header: false, columns: 4, textA: 3, label: 1 },
    test: { header: true, columns: 2, index: 0, textA: 1 },
    labels: BINARY, swapTrainPairs: false, metrics: ["mcc"], epochs: DEFAULT_EPOCHS,
    devSplits: ["dev"], testSplits: ["test"],
  },
  // SST-2: header `sentence\tlabel`; test: index, sentence.
  sst2: {
    name: "sst2", title: "SST-2", folder: "SST-2", files: std("SST-2"),
    labeled: { header: true, columns: 2, textA: 0, label: 1 },
    test: { header: true, columns: 2, index: 0, textA: 1 },
    labels: BINARY, swapTrainPairs: false, metrics: ["accuracy"], epochs: DEFAULT_EPOCHS,
    devSplits: ["dev"], testSplits: ["test"],
  },
  // MRPC: Quality, #1 ID, #2 ID, #1 String, #2 String (train/dev start with a UTF-8 BOM); test: index first.
  mrpc: {
    name: "mrpc", title: "MRPC", folder: "MRPC", files: std("MRPC"),
    labeled: { header: true, columns: 5, textA: 3, textB: 4, label: 0 },
    test: { header: true, columns: 5, index: 0, textA: 3, textB: 4 },
    labels: BINARY, swapTrainPairs: true, metrics: ["f1", "accuracy"], epochs: DEFAULT_EPOCHS,
    devSplits: ["dev"], testSplits: ["test"],
  },
  // STS-B: index, genre, filename, year, old_index, source1, source2, sentence1, sentence2, score.
  // ELECTRA reads the texts as columns -3/-2 (train/dev) and -2/-1 (test): 7 and 8 at these widths.
  stsb: {
    name: "stsb", title: "STS-B", folder: "STS-B", files: std("STS-B"),
    labeled: { header: true, columns: 10, index: 0, textA: 7, textB: 8, label: -1 },
    test: { header: true, columns: 9, index: 0, textA: 7, textB: 8 },
    labels: null, scoreRange: [0, 5], swapTrainPairs: true, metrics: ["pearson", "spearman"],
    epochs: SMALL_TASK_EPOCHS, devSplits: ["dev"], testSplits: ["test"],
  },
  // QQP: id, qid1, qid2, question1, question2, is_duplicate; test: id, question1, question2.
  qqp: {
    name: "qqp", title: "QQP", folder: "QQP", files: std("QQP"),
    labeled: { header: true, columns: 6, index: 0, textA: 3, textB: 4, label: 5 },
    test: { header: true, columns: 3, index: 0, textA: 1, textB: 2 },
    labels: BINARY, swapTrainPairs: false, metrics: ["f1", "accuracy"], epochs: DEFAULT_EPOCHS,
    devSplits: ["dev"], testSplits: ["test"],
  },
  // MNLI: index, promptID, pairID, genre, 4 parse columns, sentence1, sentence2, then annotator labels
  // (train: label1; dev: label1..label5) and gold_label LAST. Test stops at sentence2.
  // "dev" and "test" alone mean the matched sets, as ELECTRA's MNLI.get_examples.
  mnli: {
    name: "mnli", title: "MNLI", folder: "MNLI",
    files: {
      train: ["MNLI/train.tsv"],
      dev: ["MNLI/dev_matched.tsv"], dev_matched: ["MNLI/dev_matched.tsv"], dev_mismatched: ["MNLI/dev_mismatched.tsv"],
      test: ["MNLI/test_matched.tsv"], test_matched: ["MNLI/test_matched.tsv"], test_mismatched: ["MNLI/test_mismatched.tsv"],
    },
    labeled: { header: true, columns: 11, extraColumns: true, index: 0, textA: 8, textB: 9, label: -1 },
    test: { header: true, columns: 10, index: 0, textA: 8, textB: 9 },
    labels: NLI3, swapTrainPairs: false, metrics: ["accuracy"], epochs: DEFAULT_EPOCHS,
    devSplits: ["dev_matched", "dev_mismatched"], testSplits: ["test_matched", "test_mismatched"],
  },
  // QNLI: index, question, sentence, label.
  qnli: {
    name: "qnli", title: "QNLI", folder: "QNLI", files: std("QNLI"),
    labeled: { header: true, columns: 4, index: 0, textA: 1, textB: 2, label: 3 },
    test: { header: true, columns: 3, index: 0, textA: 1, textB: 2 },
    labels: NLI2, swapTrainPairs: false, metrics: ["accuracy"], epochs: DEFAULT_EPOCHS,
    devSplits: ["dev"], testSplits: ["test"],
  },
  // RTE: index, sentence1, sentence2, label.
  rte: {
    name: "rte", title: "RTE", folder: "RTE", files: std("RTE"),
    labeled: { header: true, columns: 4, index: 0, textA: 1, textB: 2, label: 3 },
    test: { header: true, columns: 3, index: 0, textA: 1, textB: 2 },
    labels: NLI2, swapTrainPairs: false, metrics: ["accuracy"], epochs: SMALL_TASK_EPOCHS,
    devSplits: ["dev"], testSplits: ["test"],
  },
  // WNLI: index, sentence1, sentence2, label (0/1). Not in ELECTRA; shaped as RTE (HF WnliProcessor).
  wnli: {
    name: "wnli", title: "WNLI", folder: "WNLI", files: std("WNLI"),
    labeled: { header: true, columns: 4, index: 0, textA: 1, textB: 2, label: 3 },
    test: { header: true, columns: 3, index: 0, textA: 1, textB: 2 },
    labels: BINARY, swapTrainPairs: false, metrics: ["accuracy"], epochs: DEFAULT_EPOCHS,
    devSplits: ["dev"], testSplits: ["test"],
  },
  // AX (the diagnostic set): index, sentence1, sentence2, no label; predicted by the MNLI model.
  ax: {
    name: "ax", title: "AX", folder: "diagnostic", files: { test: AX_CANDIDATES },
    test: { header: true, columns: 3, index: 0, textA: 1, textB: 2 },
    labels: NLI3, swapTrainPairs: false, metrics: ["mcc"], epochs: DEFAULT_EPOCHS,
    devSplits: [], testSplits: ["test"],
  },
};

export const TASK_NAMES = Object.keys(TASKS) as TaskName[];

/** Spellings accepted besides the canonical names: GLUE's folder names and HF's ("sst-2", "sts-b"). */
const ALIASES: Record<string, TaskName> = {
  "sst-2": "sst2", "sts-b": "stsb", sts: "stsb", sst: "sst2", diagnostic: "ax",
};

/** Resolves "all" (the nine GLUE tasks and AX) or a comma-separated list ("rte,mrpc", "STS-B") into
 * task specs, in the order given, without duplicates. Throws naming the unknown task and the valid ones. */
export function resolveTasks(list: string): TaskSpec[] {
  const out: TaskSpec[] = [];
  const names = list.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0);
  if (names.length === 0) throw new Error(`no GLUE task given; expected "all" or a comma-separated list of ${TASK_NAMES.join(", ")}`);
  for (const raw of names) {
    const batch = raw === "all" ? TASK_NAMES : [(raw in TASKS ? raw : ALIASES[raw]) as TaskName | undefined];
    for (const name of batch) {
      if (name === undefined) throw new Error(`unknown GLUE task "${raw}"; expected "all" or some of ${TASK_NAMES.join(", ")}`);
      if (!out.some((t) => t.name === name)) out.push(TASKS[name]);
    }
  }
  return out;
}

/** The splits a task can read (train, dev, test, and MNLI's named ones). */
export function splitsOf(task: TaskSpec): SplitName[] {
  return Object.keys(task.files) as SplitName[];
}

/** Test splits have no labels: test, test_matched, test_mismatched. */
export const isTestSplit = (split: SplitName): boolean => split.startsWith("test");
