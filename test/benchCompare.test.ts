// benchCompare.test.ts: the bench's analytic FLOP count and its comparison table, fed recorded lines.
// No Python, no timing: the numbers below are made up; only the arithmetic and layout are checked.
import { describe, expect, it } from "vitest";
import { PRESETS } from "../src/config/presets.js";
import { compareLines, formatCompareTable, formatRoundsTable, median, peakPerCore, roundsRows } from "../src/bench/compare.js";
import { matmulFlopsPerToken, maxPredictions } from "../src/bench/flops.js";
import type { ReferenceLine } from "../src/bench/reference.js";

const { discriminator: d, generator: g } = PRESETS.small;

describe("matmul FLOP count", () => {
  it("matches native/bench/torch_reference.py's count (verified there against the products torch runs)", () => {
    expect(maxPredictions(0.15, 128)).toBe(19);
    // the values torch_reference.py --check prints for ELECTRA-Small at T = 128
    expect(Math.round(matmulFlopsPerToken("pretrain_step", d, g, 128))).toBe(70187604);
    expect(Math.round(matmulFlopsPerToken("finetune_step", d, g, 128))).toBe(61538328);
    expect(Math.round(matmulFlopsPerToken("inference", d, g, 128))).toBe(20644352);
  });

  it("is a training step's 3 x forward, by hand for the discriminator's inference", () => {
    const C = 256, F = 1024, E = 128, T = 128, L = 12;
    const perLayer = 3 * 2 * C * C + 2 * C * C + 2 * 2 * C * F + 2 * T * C + 2 * T * C;
    expect(matmulFlopsPerToken("inference", d, g, T)).toBe(2 * E * C + L * perLayer + 2 * C * C + 2 * C);
  });
});

const ref: ReferenceLine[] = [
  { bench: "gemm_peak", impl: "pytorch", dtype: "fp32", threads: 1, gflops: 100 },
  { bench: "gemm_peak", impl: "pytorch", dtype: "bf16", threads: 1, gflops: 200 },
  { bench: "inference", impl: "pytorch", dtype: "fp32", threads: 1, tokens_per_s: 3000, gflops: 60, peak_rss_mb: 400 },
  { bench: "inference", impl: "pytorch", dtype: "fp32", threads: 2, tokens_per_s: 2000, gflops: 40, peak_rss_mb: 410 },
  { bench: "inference", impl: "pytorch", dtype: "bf16", threads: 1, tokens_per_s: 4000, gflops: 80, peak_rss_mb: 380 },
  { bench: "inference", impl: "pytorch", dtype: "bf16", threads: 2, tokens_per_s: 4500, gflops: 90, peak_rss_mb: 390, omp_wait_policy: "passive" },
  { bench: "inference", impl: "pytorch", dtype: "bf16", threads: 2, tokens_per_s: 5000, gflops: 100, peak_rss_mb: 390, omp_wait_policy: "active" },
];
const ours = [{ bench: "inference", dtype: "fp32", threads: 2, tokens_per_s: 6000, gflops: 120, peak_rss_mb: 900, flops_per_token: 20644352 }];

describe("median", () => {
  it("is the middle value, or the mean of the middle two, whatever the order", () => {
    expect(median([30, 10, 20])).toBe(20);
    expect(median([40, 10, 30, 20])).toBe(25);
    expect(median([7])).toBe(7);
  });
});

describe("comparison", () => {
  it("takes PyTorch's faster thread count per dtype, ratios ours / theirs, % of peak per core x threads", () => {
    const peak = peakPerCore(ref);
    expect(peak).toMatchObject({ fp32: 100, bf16: 200, source: "measured" });
    const [c] = compareLines(ours, ref, peak);
    expect(c.workload).toBe("inference");
    expect(c.runs.map((r) => [r.impl, r.dtype, r.threads, r.ours_ratio, r.pct_peak])).toEqual([
      ["electra", "fp32", 2, 1, 60],
      ["pytorch", "fp32", 1, 2, 60],
      ["pytorch", "bf16", 2, 1.2, 25],
    ]);
    const table = formatCompareTable([c], peak, { torch: "1.13", batch: 32, seq: 128 });
    expect(table).toContain("inference 20.64");
    // ours (fp32 only here) against PyTorch bf16: no run of ours in bf16, so no same-dtype ratio
    expect(table).toMatch(/pytorch bf16 \(OMP active\)\s+2\s+5000\s+1\.20\s+-\s+100\.0\s+25\s+390/);
    expect(table).toMatch(/pytorch fp32\s+1\s+3000\s+2\.00\s+2\.00\s/);
  });

  it("takes the larger of torch.mm's peak and our register peak per dtype, and says which was which", () => {
    const reg = [
      { bench: "gemm_peak", impl: "electra", dtype: "fp32", threads: 1, gflops: 215 },
      { bench: "gemm_peak", impl: "electra", dtype: "bf16", threads: 1, gflops: 190 },
    ];
    const peak = peakPerCore(ref, reg);
    expect(peak).toMatchObject({ fp32: 215, bf16: 200, source: "measured" });
    const [c] = compareLines(ours, ref, peak);
    expect(c.runs[0].pct_peak).toBe(27.9); // 120 / (215 x 2)
    const table = formatCompareTable([c], peak, { torch: "1.13", batch: 32, seq: 128 });
    expect(table).toContain("torch.mm (fp32 100, bf16 200)");
    expect(table).toContain("vdpbf16ps chains (fp32 215, bf16 190)");
    // the register probe alone (no reference) is a measured peak too
    expect(peakPerCore([], reg)).toMatchObject({ fp32: 215, bf16: 190, source: "measured" });
  });

  it("falls back to the assumed peak without a probe, and shows ours alone without a reference", () => {
    const peak = peakPerCore([]);
    expect(peak.source).toBe("assumed");
    const [c] = compareLines(ours, [], peak);
    expect(c.runs).toHaveLength(1);
    expect(c.runs[0].pct_peak).toBe(60);
    expect(formatCompareTable([c], peak, { batch: 32, seq: 128 })).toContain("assumed, not measured");
    expect(formatCompareTable([c], peak, { batch: 32, seq: 128, cpuBusy: [0.01, 0.6], cores: 2 })).toContain("these numbers are disturbed");
    expect(formatCompareTable([c], peak, { batch: 32, seq: 128, cpuBusy: [0.01, 0.02], cores: 2 })).not.toContain("disturbed");
  });
});

describe("rounds", () => {
  it("collects each round's same-dtype ratio and memory ratio, with median and range", () => {
    const peak = peakPerCore(ref);
    const round = (mine: number, rss: number) =>
      compareLines([{ bench: "inference", dtype: "bf16", threads: 2, tokens_per_s: mine, gflops: 1, peak_rss_mb: rss }, { bench: "inference", dtype: "fp32", threads: 2, tokens_per_s: 6000, gflops: 1 }], ref, peak);
    const rows = roundsRows([round(15000, 200), round(10000, 195), round(12500, 190)]);
    // PyTorch's best bf16 in `ref` is 5000 tokens/s (2 threads, active), its RSS 390 MB
    expect(rows.map((r) => [r.workload, r.what, r.ratios])).toEqual([
      ["inference", "bf16", [3, 2, 2.5]],
      ["inference", "peak RSS MB, bf16", [200 / 390, 195 / 390, 190 / 390]],
      ["inference", "fp32", [2, 2, 2]],
    ]);
    const table = formatRoundsTable(rows, [{ what: "pretrain_step bf16: 2+ threads / 1 thread", values: [1.8, 1.7] }]);
    expect(table).toContain("Rounds: 3");
    expect(table).toMatch(/inference\s+tokens\/s, bf16\s+12500\s+5000\s+3\.00 2\.00 2\.50\s+2\.50\s+2\.00-3\.00/);
    expect(table).toMatch(/peak RSS MB, bf16\s+195\s+390\s+0\.51 0\.50 0\.49\s+0\.50\s+0\.49-0\.51/);
    expect(table).toMatch(/2\+ threads \/ 1 thread\s+1\.80 1\.70\s+1\.75\s+1\.70-1\.80/);
  });

  it("leaves out rounds where one side is missing", () => {
    const peak = peakPerCore(ref);
    const withRef = compareLines(ours, ref, peak);
    const without = compareLines(ours, [], peak);
    const [fp32] = roundsRows([withRef, without]);
    expect(fp32.ratios).toEqual([2]); // 6000 / 3000, the second round had no reference
  });
});

describe("GLUE workloads", () => {
  it("counts real and padded tokens of SST-2-shaped batches, dynamic or fixed padding", async () => {
    const { shapeStats } = await import("../src/bench/glue.js");
    expect(shapeStats([[3, 5], [4]])).toEqual({ tokens: 12, padded: 14, examples: 3 });
    expect(shapeStats([[3, 5], [4]], 8)).toEqual({ tokens: 12, padded: 24, examples: 3 });
    const { lengthBatch } = await import("../src/bench/workloads.js");
    const b = lengthBatch([3, 5], 30522);
    expect(b.seqLen).toBe(5);
    expect(Array.from(b.attentionMask)).toEqual([1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
    expect([b.inputIds[0], b.inputIds[2], b.inputIds[3], b.inputIds[9]]).toEqual([101, 102, 0, 102]);
  });

  it("puts our dynamically padded run first, then the padded one, then PyTorch's", () => {
    const mine = [
      { bench: "sst2_eval", dtype: "fp32", threads: 1, tokens_per_s: 900, padding: "128" },
      { bench: "sst2_eval", dtype: "fp32", threads: 1, tokens_per_s: 2700, padding: "dynamic" },
    ];
    const theirs: ReferenceLine[] = [{ bench: "sst2_eval", impl: "pytorch", dtype: "bf16", threads: 1, tokens_per_s: 3000, gflops: 100, padding: "dynamic" }];
    const [c] = compareLines(mine, theirs, peakPerCore([]));
    expect(c.runs.map((r) => [r.impl, r.padding, r.ours_ratio])).toEqual([
      ["electra", "dynamic", 1],
      ["electra", "128", 3],
      ["pytorch", "dynamic", 0.9],
    ]);
    const table = formatCompareTable([c], peakPerCore([]), { batch: 32, seq: 128 });
    expect(table).toMatch(/electra fp32 pad 128\s+1\s+900\s+3\.00/);
    expect(table).toContain("real tokens only");
  });
});

describe("GEMM shapes", () => {
  it("puts each shape's kernel beside the library's, with the ratio", async () => {
    const { formatGemmTable } = await import("../src/bench/gemm.js");
    const t = formatGemmTable([
      { bench: "gemm_shape", impl: "electra", layer: "qkv", m: 4096, k: 256, n: 768, dtype: "bf16", gflops: 150 },
      { bench: "gemm_shape", impl: "pytorch", m: 4096, k: 256, n: 768, dtype: "bf16", gflops: 200, library: "oneDNN" },
      { bench: "gemm_shape", impl: "electra", layer: "qkv", m: 4096, k: 256, n: 768, dtype: "fp32", gflops: 90 },
    ]);
    expect(t).toMatch(/qkv 4096x256x768\s+bf16\s+150\.0\s+200\.0 \(oneDNN\)\s+0\.75/);
    expect(t).toMatch(/qkv 4096x256x768\s+fp32\s+90\.0\s+-\s+-/);
  });
});
