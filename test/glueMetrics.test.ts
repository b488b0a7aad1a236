// glueMetrics.test.ts: GLUE metrics against values worked out by hand (in the comments), the
// per-task metric sets, the GLUE score's averaging, and median/spread.
import { describe, expect, it } from "vitest";
import {
  accuracy, averageRanks, f1, glueScore, mcc, median, pearson, resultKey, spearman, spread, taskMetrics,
} from "../src/glue/metrics.js";

/** Labels and predictions spelling out a binary confusion matrix. */
function binary(tp: number, tn: number, fp: number, fn: number): { p: number[]; l: number[] } {
  const p: number[] = [], l: number[] = [];
  const add = (n: number, pred: number, label: number) => { for (let i = 0; i < n; i++) (p.push(pred), l.push(label)); };
  add(tp, 1, 1); add(tn, 0, 0); add(fp, 1, 0); add(fn, 0, 1);
  return { p, l };
}

describe("accuracy and F1", () => {
  it("accuracy", () => {
    expect(accuracy([1, 0, 2, 2], [1, 1, 2, 0])).toBe(0.5);
    expect(() => accuracy([1], [1, 0])).toThrow(/1 predictions but 2 labels/);
    expect(() => accuracy([], [])).toThrow(/no examples/);
  });

  it("F1 of class 1: 2TP / (2TP + FP + FN)", () => {
    // TP 2 (rows 0, 3), FP 1 (row 1), FN 1 (row 2): 4 / 6.
    expect(f1([1, 1, 0, 1, 0, 0], [1, 0, 1, 1, 0, 0])).toBeCloseTo(2 / 3, 15);
    const { p, l } = binary(4, 3, 1, 2); // P = 4/5, R = 4/6, F1 = 2PR/(P+R) = 8/11
    expect(f1(p, l)).toBeCloseTo(8 / 11, 15);
    expect(f1([0, 0, 0], [1, 1, 0])).toBe(0); // no predicted positive
    expect(f1([0, 0], [0, 0])).toBe(0); // no positive at all (sklearn's zero_division)
    expect(f1([2, 2, 1], [2, 1, 1], 2)).toBeCloseTo(2 / 3, 15); // positive class as an argument
  });
});

describe("Matthews correlation", () => {
  it("a 2x2 confusion matrix: TP 4, TN 3, FP 1, FN 2", () => {
    // (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (12 - 2) / sqrt(5*6*4*5) = 10/sqrt(600) = 1/sqrt(6)
    const { p, l } = binary(4, 3, 1, 2);
    expect(mcc(p, l)).toBeCloseTo(1 / Math.sqrt(6), 15);
  });

  it("three classes, sklearn's formula worked by hand", () => {
    // labels [0,0,1,1,2,2], predictions [0,1,1,1,2,0]: true counts t = (2,2,2), predicted p = (2,3,1),
    // correct c = 4, s = 6. (c*s - t.p) / sqrt((s^2 - p.p)(s^2 - t.t)) = (24 - 12) / sqrt(22 * 24).
    expect(mcc([0, 1, 1, 1, 2, 0], [0, 0, 1, 1, 2, 2])).toBeCloseTo(12 / Math.sqrt(528), 15);
  });

  it("0, not NaN, when one class is predicted everywhere or all labels are one class", () => {
    expect(mcc([1, 1, 1, 1], [0, 1, 0, 1])).toBe(0);
    expect(mcc([0, 0, 0], [0, 1, 1])).toBe(0);
    expect(mcc([0, 1, 0], [1, 1, 1])).toBe(0);
    expect(mcc([1], [1])).toBe(0);
  });

  it("perfect and inverted, and agrees with the binary textbook formula on random matrices", () => {
    expect(mcc([0, 1, 1, 0], [0, 1, 1, 0])).toBe(1);
    expect(mcc([1, 0, 0, 1], [0, 1, 1, 0])).toBe(-1);
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
    for (let k = 0; k < 50; k++) {
      const [tp, tn, fp, fn] = [rnd(30) + 1, rnd(30) + 1, rnd(30) + 1, rnd(30) + 1];
      const { p, l } = binary(tp, tn, fp, fn);
      const want = (tp * tn - fp * fn) / Math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
      expect(mcc(p, l)).toBeCloseTo(want, 12);
    }
  });
});

describe("Pearson and Spearman", () => {
  it("Pearson worked by hand", () => {
    // x = 1..4 (mean 2.5), y = 2,4,5,9 (mean 5): Sxy = 4.5+0.5+0+6 = 11, Sxx = 5, Syy = 26.
    expect(pearson([1, 2, 3, 4], [2, 4, 5, 9])).toBeCloseTo(11 / Math.sqrt(130), 15);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBe(-1);
    expect(pearson([1, 2, 3], [2, 4, 6])).toBe(1);
  });

  it("NaN for a constant side, as scipy", () => {
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(spearman([1, 2, 3], [2, 2, 2])).toBeNaN();
  });

  it("average ranks for ties", () => {
    expect([...averageRanks([10, 20, 20, 5, 20])]).toEqual([2, 4, 4, 1, 4]);
    expect([...averageRanks([1, 2, 2, 3])]).toEqual([1, 2.5, 2.5, 4]);
  });

  it("Spearman with ties: [1,2,2,3] vs [1,3,2,4]", () => {
    // Ranks (1, 2.5, 2.5, 4) and (1, 3, 2, 4), both mean 2.5; deviations (-1.5, 0, 0, 1.5) and
    // (-1.5, 0.5, -0.5, 1.5): Sxy = 4.5, Sxx = 4.5, Syy = 5, rho = 4.5 / sqrt(22.5) = sqrt(0.9).
    expect(spearman([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(Math.sqrt(0.9), 15);
    expect(spearman([1, 2, 3, 4, 5], [1, 8, 27, 64, 125])).toBeCloseTo(1, 15);
    expect(spearman([1, 2, 3, 4, 5], [5, 4, 3, 2, 1])).toBeCloseTo(-1, 15);
  });
});

describe("task metrics (percent)", () => {
  it("each task's official set", () => {
    const { p, l } = binary(4, 3, 1, 2);
    expect(taskMetrics("cola", p, l).mcc).toBeCloseTo(100 / Math.sqrt(6), 12);
    expect(Object.keys(taskMetrics("cola", p, l))).toEqual(["mcc"]);
    const m = taskMetrics("mrpc", p, l);
    expect(Object.keys(m)).toEqual(["f1", "accuracy"]);
    expect(m.f1).toBeCloseTo(800 / 11, 12);
    expect(m.accuracy).toBeCloseTo(70, 12);
    expect(Object.keys(taskMetrics("qqp", p, l))).toEqual(["f1", "accuracy"]);
    for (const t of ["sst2", "mnli", "qnli", "rte", "wnli"] as const) expect(taskMetrics(t, [0, 1, 2, 1], [0, 1, 1, 1])).toEqual({ accuracy: 75 });
    const s = taskMetrics("stsb", [1, 2, 2, 3], [1, 3, 2, 4]);
    expect(Object.keys(s)).toEqual(["pearson", "spearman"]);
    expect(s.spearman).toBeCloseTo(100 * Math.sqrt(0.9), 12);
  });

  it("MNLI's dev sets are reported as mnli-m and mnli-mm", () => {
    expect(resultKey("mnli", "dev_matched")).toBe("mnli-m");
    expect(resultKey("mnli", "dev")).toBe("mnli-m");
    expect(resultKey("mnli", "dev_mismatched")).toBe("mnli-mm");
    expect(resultKey("rte", "dev")).toBe("rte");
  });
});

describe("GLUE score", () => {
  const full = {
    cola: { mcc: 50 },
    sst2: { accuracy: 90 },
    mrpc: { f1: 90, accuracy: 86 }, // 88
    stsb: { pearson: 86, spearman: 84 }, // 85
    qqp: { f1: 70, accuracy: 88 }, // 79
    "mnli-m": { accuracy: 80 },
    "mnli-mm": { accuracy: 82 }, // 81
    qnli: { accuracy: 88 },
    rte: { accuracy: 66 },
    wnli: { accuracy: 65 },
    ax: { mcc: 30 }, // not scored
  };

  it("averages per task: multi-metric tasks first, MNLI m/mm as one task, AX excluded", () => {
    const g = glueScore(full);
    // (50 + 90 + 88 + 85 + 79 + 81 + 88 + 66 + 65) / 9 = 692 / 9
    expect(g.score).toBeCloseTo(692 / 9, 12);
    expect(g.perTask).toEqual({ cola: 50, sst2: 90, mrpc: 88, stsb: 85, qqp: 79, mnli: 81, qnli: 88, rte: 66, wnli: 65 });
    expect(g.missing).toEqual([]);
  });

  it("partial results: the tasks present, the rest listed as missing", () => {
    const g = glueScore({ cola: { mcc: 50 }, rte: { accuracy: 66 }, "mnli-m": { accuracy: 80 } });
    expect(g.score).toBeCloseTo((50 + 66 + 80) / 3, 12);
    expect(g.missing).toEqual(["sst2", "mrpc", "stsb", "qqp", "qnli", "wnli"]);
    expect(glueScore({}).score).toBeNaN();
    expect(glueScore({ ax: { mcc: 10 } }).missing.length).toBe(9);
  });

  it("a task lacking one of its metrics is an error", () => {
    expect(() => glueScore({ mrpc: { accuracy: 86 } })).toThrow(/mrpc lacks its f1 \(has accuracy\)/);
  });
});

describe("multi-seed summaries", () => {
  it("median", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([])).toBeNaN();
    expect(median([1, NaN, 3])).toBeNaN();
    const v = [3, 1, 2];
    median(v);
    expect(v).toEqual([3, 1, 2]); // not sorted in place
  });

  it("spread: min, max, mean, sample std", () => {
    const s = spread([1, 2, 3, 4]);
    expect(s).toMatchObject({ n: 4, min: 1, max: 4, mean: 2.5 });
    expect(s.std).toBeCloseTo(Math.sqrt(5 / 3), 15); // (2.25 + 0.25 + 0.25 + 2.25) / 3
    expect(spread([5])).toEqual({ n: 1, min: 5, max: 5, mean: 5, std: 0 });
    expect(spread([]).mean).toBeNaN();
  });
});
