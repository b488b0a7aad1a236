// glueSubmission.test.ts: the GLUE submission files (names, header, label spellings, STS-B clipping)
// and dev prediction files, written from the miniature test sets; atomic writes leave no temp files.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readSplit } from "../src/glue/reader.js";
import {
  SUBMISSION_FILES, formatPrediction, missingSubmissionFiles, submissionFileName, writeDevPredictions, writeSubmission,
} from "../src/glue/submission.js";
import { TASKS, TASK_NAMES } from "../src/glue/tasks.js";
import { repoRoot } from "./helpers.js";

const fixtures = join(repoRoot, "test", "fixtures", "glue");
const tmp = mkdtempSync(join(tmpdir(), "electra-glue-sub-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const rows = (path: string) => readFileSync(path, "utf8").split("\n");

describe("GLUE submission", () => {
  it("file names", () => {
    const names = TASK_NAMES.flatMap((t) => TASKS[t].testSplits.map((s) => submissionFileName(t, s)));
    expect(names).toEqual(["CoLA.tsv", "SST-2.tsv", "MRPC.tsv", "STS-B.tsv", "QQP.tsv", "MNLI-m.tsv", "MNLI-mm.tsv", "QNLI.tsv", "RTE.tsv", "WNLI.tsv", "AX.tsv"]);
    expect([...SUBMISSION_FILES].sort()).toEqual([...names].sort());
    expect(() => submissionFileName("rte", "dev")).toThrow(/test predictions/);
  });

  it("label spellings: 0/1, entailment / not_entailment, NLI names, STS-B clipped to [0, 5] with 3 decimals", () => {
    expect(formatPrediction("cola", 1)).toBe("1");
    expect(formatPrediction("qqp", 0)).toBe("0");
    expect(formatPrediction("rte", 1)).toBe("not_entailment");
    expect(formatPrediction("qnli", 0)).toBe("entailment");
    expect([0, 1, 2].map((p) => formatPrediction("mnli", p))).toEqual(["contradiction", "entailment", "neutral"]);
    expect(formatPrediction("ax", 2)).toBe("neutral");
    expect(formatPrediction("stsb", 3.14159)).toBe("3.142");
    expect(formatPrediction("stsb", -0.4)).toBe("0.000");
    expect(formatPrediction("stsb", 5.7)).toBe("5.000");
    expect(() => formatPrediction("rte", 2)).toThrow(/not a class index 0\.\.1/);
    expect(() => formatPrediction("cola", 0.5)).toThrow(/not a class index/);
    expect(() => formatPrediction("stsb", NaN)).toThrow(/not a finite score/);
  });

  it("writes every task's test split: header, the file's indices, one row per example", () => {
    const dir = join(tmp, "submission");
    expect(missingSubmissionFiles(dir)).toEqual([...SUBMISSION_FILES]);
    for (const task of TASK_NAMES) {
      for (const split of TASKS[task].testSplits) {
        const { examples } = readSplit(task, fixtures, split);
        const preds = examples.map((_, i) => (task === "stsb" ? 4.9996 + i : i % (TASKS[task].labels?.length ?? 1)));
        const path = writeSubmission(dir, task, split, examples, preds);
        const lines = rows(path);
        expect(lines[0]).toBe("index\tprediction");
        expect(lines.at(-1)).toBe(""); // final newline
        expect(lines.slice(1, -1).map((l) => l.split("\t")[0])).toEqual(examples.map((e) => e.index));
        expect(lines.slice(1, -1).every((l) => l.split("\t").length === 2)).toBe(true);
      }
    }
    expect(missingSubmissionFiles(dir)).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual([...SUBMISSION_FILES].sort()); // no temp files left
    expect(rows(join(dir, "RTE.tsv")).slice(1, -1)).toEqual(["0\tentailment", "1\tnot_entailment"]);
    expect(rows(join(dir, "MNLI-mm.tsv")).slice(1, -1)).toEqual(["0\tcontradiction", "1\tentailment", "2\tneutral"]);
    expect(rows(join(dir, "QQP.tsv")).slice(1, -1)).toEqual(["0\t0", "1\t1"]);
    expect(rows(join(dir, "STS-B.tsv")).slice(1, -1)).toEqual(["0\t5.000", "1\t5.000"]);
  });

  it("replaces an existing file whole; a count mismatch writes nothing", () => {
    const dir = join(tmp, "replace");
    const { examples } = readSplit("rte", fixtures, "test");
    writeSubmission(dir, "rte", "test", examples, [1, 1]);
    writeSubmission(dir, "rte", "test", examples, [0, 0]);
    expect(readFileSync(join(dir, "RTE.tsv"), "utf8")).toBe("index\tprediction\n0\tentailment\n1\tentailment\n");
    expect(() => writeSubmission(dir, "rte", "test", examples, [0])).toThrow(/RTE: 1 predictions for 2 examples/);
    expect(() => writeSubmission(dir, "rte", "test", examples, [0, 5])).toThrow(/not a class index/);
    expect(readFileSync(join(dir, "RTE.tsv"), "utf8")).toBe("index\tprediction\n0\tentailment\n1\tentailment\n");
    expect(readdirSync(dir)).toEqual(["RTE.tsv"]);
  });
});

describe("dev predictions", () => {
  it("predictions/<task>-dev.tsv with index, prediction, label", () => {
    const { examples } = readSplit("rte", fixtures, "dev");
    const path = writeDevPredictions(tmp, "rte", examples, [1, 0, 1]);
    expect(path).toBe(join(tmp, "predictions", "rte-dev.tsv"));
    expect(readFileSync(path, "utf8")).toBe(
      "index\tprediction\tlabel\n0\tnot_entailment\tnot_entailment\n1\tentailment\tentailment\n2\tnot_entailment\tnot_entailment\n",
    );
  });

  it("CoLA's row numbers, STS-B scores, MNLI's named dev sets", () => {
    const cola = readSplit("cola", fixtures, "dev").examples;
    expect(rows(writeDevPredictions(tmp, "cola", cola, [1, 1, 0])).slice(0, 4)).toEqual(["index\tprediction\tlabel", "0\t1\t1", "1\t1\t0", "2\t0\t1"]);
    const sts = readSplit("stsb", fixtures, "dev").examples;
    expect(rows(writeDevPredictions(tmp, "stsb", sts, [4.2, 5.3, -1])).slice(1, 4)).toEqual(["0\t4.200\t5.000", "1\t5.000\t4.750", "2\t0.000\t0.400"]);
    const mm = readSplit("mnli", fixtures, "dev_mismatched").examples;
    const path = writeDevPredictions(tmp, "mnli", mm, [0, 2], "dev_mismatched");
    expect(path).toBe(join(tmp, "predictions", "mnli-dev_mismatched.tsv"));
    expect(rows(path).slice(1, 3)).toEqual(["0\tcontradiction\tcontradiction", "1\tneutral\tcontradiction"]);
  });

  it("refuses unlabelled examples and test splits", () => {
    const test = readSplit("rte", fixtures, "test").examples;
    expect(() => writeDevPredictions(tmp, "rte", test, [0, 1])).toThrow(/RTE example 0 has no label/);
    expect(() => writeDevPredictions(tmp, "rte", test, [0, 1], "test")).toThrow(/labelled split/);
    expect(readdirSync(join(tmp, "predictions")).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });
});
