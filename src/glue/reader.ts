// reader.ts: reads GLUE's original TSV files into examples, strictly: a row that does not fit the
// task's layout is an error naming the file and line. It does not tokenize.
//
// The files are parsed as ELECTRA's read_tsv does (csv.reader, delimiter "\t", quotechar None):
// fields are split on tabs only and quotes are ordinary characters. A leading UTF-8 BOM is dropped,
// CRLF line ends are accepted, and a missing final newline is fine; an empty line anywhere but at
// the very end is a malformed row. The file is scanned as bytes (tabs and newlines cannot occur
// inside a UTF-8 sequence) and only the needed columns are decoded: MNLI's parse columns never
// become strings, and the example texts do not keep the whole file alive.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TASKS, isTestSplit, type Layout, type SplitName, type TaskName, type TaskSpec } from "./tasks.js";

export interface Example {
  /** The file's id column (what a GLUE submission needs), or the 0-based row number when it has none. */
  index: string;
  textA: string;
  textB?: string;
  /** Class index into the task's `labels` (classification, train/dev). */
  label?: number;
  /** Similarity score (regression, train/dev). */
  score?: number;
}

export interface SplitData {
  examples: Example[];
  /** The file that was read. */
  file: string;
}

export interface ReadOptions {
  /** Skip malformed rows (wrong column count, empty text, bad score) instead of throwing, and list
   * them in `skipped`; ELECTRA's _load_glue logs and skips such rows. Labels outside the task's set
   * still throw. Default false: GLUE's files have none, so one is a sign of a wrong or damaged file. */
  skipMalformed?: boolean;
}

const TAB = 0x09, LF = 0x0a, CR = 0x0d;
const GLUE_FOLDERS = "CoLA/, SST-2/, MRPC/, STS-B/, QQP/, MNLI/, QNLI/, RTE/, WNLI/";
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The path a split would be read from, or an error listing every path tried. */
export function splitFile(task: TaskSpec | TaskName, dataDir: string, split: SplitName): string {
  const spec = typeof task === "string" ? TASKS[task] : task;
  const candidates = spec.files[split];
  if (!candidates) {
    const have = Object.keys(spec.files).join(", ");
    throw new Error(`${spec.title} has no "${split}" split; it has ${have}`);
  }
  const paths = candidates.map((c) => join(dataDir, c));
  const found = paths.find((p) => existsSync(p));
  if (found) return found;
  const tried = paths.length === 1 ? paths[0] : `any of ${paths.join(", ")}`;
  const [first] = candidates;
  const base = first.slice(first.lastIndexOf("/") + 1);
  const direct = spec.name !== "ax" && existsSync(join(dataDir, base))
    ? ` (${join(dataDir, base)} exists: pass the folder above ${dataDir} instead)` : "";
  throw new Error(
    `GLUE ${spec.title} ${split} file not found: tried ${tried}${direct}. ` +
    `The data directory should hold GLUE's task folders ${GLUE_FOLDERS} and the diagnostic set ` +
    `(as download_glue_data.py writes them).`,
  );
}

/** Reads one split of a task. `skipped` lists the rows passed over when `skipMalformed` is set. */
export function readSplit(
  task: TaskSpec | TaskName, dataDir: string, split: SplitName, options: ReadOptions = {},
): SplitData & { skipped: string[] } {
  const spec = typeof task === "string" ? TASKS[task] : task;
  const file = splitFile(spec, dataDir, split);
  return { file, ...parseGlueTsv(spec, split, readFileSync(file), file, options) };
}

/** Parses a GLUE TSV file's bytes for a task and split; `file` names it in error messages. */
export function parseGlueTsv(
  spec: TaskSpec, split: SplitName, buf: Buffer, file: string, options: ReadOptions = {},
): { examples: Example[]; skipped: string[] } {
  const layout = isTestSplit(split) ? spec.test : spec.labeled;
  if (!layout) throw new Error(`${spec.title} has no labelled splits; read its "test" split`);
  const labels = isTestSplit(split) ? null : spec.labels;
  const labelIds = new Map((labels ?? []).map((l, i) => [l, i]));
  const regression = !isTestSplit(split) && spec.labels === null;

  const examples: Example[] = [];
  const skipped: string[] = [];
  const tabs: number[] = [];
  let pos = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  let line = 0;
  let nextTab = buf.indexOf(TAB, pos); // kept across lines, so that every byte is scanned once

  while (pos < buf.length) {
    line++;
    let nl = buf.indexOf(LF, pos);
    const next = nl < 0 ? buf.length : nl + 1;
    if (nl < 0) nl = buf.length;
    const end = nl > pos && buf[nl - 1] === CR ? nl - 1 : nl;
    tabs.length = 0;
    while (nextTab >= 0 && nextTab < end) {
      tabs.push(nextTab);
      nextTab = buf.indexOf(TAB, nextTab + 1);
    }
    const n = tabs.length + 1;
    const start = pos;
    pos = next;

    const col = (c: number): string => {
      const k = c < 0 ? n + c : c;
      return buf.toString("utf8", k === 0 ? start : tabs[k - 1] + 1, k === n - 1 ? end : tabs[k]);
    };
    const fail = (what: string): void => {
      const msg = `${file}:${line}: ${what}`;
      if (!options.skipMalformed) throw new Error(msg);
      skipped.push(msg);
    };

    const countOk = layout.extraColumns ? n >= layout.columns : n === layout.columns;
    if (!countOk) {
      const want = `${layout.extraColumns ? "at least " : ""}${layout.columns} tab-separated columns`;
      const got = end === start ? "an empty line" : `${n} column${n === 1 ? "" : "s"}`;
      fail(`expected ${want} for ${spec.title} ${split}${line === 1 && layout.header ? " (header)" : ""}, got ${got}`);
      continue;
    }
    if (line === 1 && layout.header) continue;

    // Without an id column: the row number after the header, skipped rows counted (ELECTRA's eid).
    const index = layout.index === undefined ? String(line - 1 - (layout.header ? 1 : 0)) : col(layout.index);
    const textA = col(layout.textA);
    const textB = layout.textB === undefined ? undefined : col(layout.textB);
    if (textA.trim() === "" || (textB !== undefined && textB.trim() === "")) {
      const which = textA.trim() === "" ? layout.textA : layout.textB!;
      fail(`expected text in column ${which + 1} of ${n} (${spec.title} ${split}), got an empty field`);
      continue;
    }
    const ex: Example = textB === undefined ? { index, textA } : { index, textA, textB };

    if (layout.label !== undefined && regression) {
      const raw = col(layout.label);
      const score = NUMBER.test(raw.trim()) ? Number(raw) : NaN;
      const [lo, hi] = spec.scoreRange ?? [-Infinity, Infinity];
      if (!(score >= lo && score <= hi)) {
        fail(`expected a score from ${lo} to ${hi} in the last column (${spec.title} ${split}), got "${raw}" (${n} columns)`);
        continue;
      }
      ex.score = score;
    } else if (layout.label !== undefined && labels) {
      const raw = col(layout.label);
      const id = labelIds.get(raw);
      if (id === undefined) {
        const where = layout.label < 0 ? "the last column" : `column ${layout.label + 1}`;
        throw new Error(`${file}:${line}: label "${raw}" in ${where} is not one of ${spec.title}'s labels ${labels.map((l) => `"${l}"`).join(", ")}`);
      }
      ex.label = id;
    }
    examples.push(ex);
  }
  // A completely empty final line is the last row's newline: the loop stops before it, since pos
  // reaches buf.length. A file with no rows at all is an error.
  if (examples.length === 0 && skipped.length === 0) throw new Error(`${file}: no examples (${spec.title} ${split})`);
  return { examples, skipped };
}

/** Training examples as ELECTRA builds them: when the task trains on both orders (MRPC, STS-B;
 * ELECTRA's double_unordered), every pair is followed, after all originals, by a swapped copy whose
 * index carries a "-swapped" suffix. Other tasks' examples come back unchanged. */
export function withSwappedPairs(task: TaskSpec | TaskName, examples: Example[]): Example[] {
  const spec = typeof task === "string" ? TASKS[task] : task;
  if (!spec.swapTrainPairs) return examples;
  const swapped = examples.map((e): Example => ({ ...e, index: `${e.index}-swapped`, textA: e.textB ?? e.textA, textB: e.textA }));
  return [...examples, ...swapped];
}
