// compare.ts (bench): puts our measurements and the PyTorch reference's side by side: per workload, ours,
// PyTorch's best fp32 and best bf16 run (over thread counts), speed ratios, achieved GFLOP/s against the
// per-core peak, peak memory. Pure functions over JSON lines; prints nothing itself.
import { ASSUMED_PEAK_GFLOPS_PER_CORE } from "./flops.js";
import { REFERENCE_WORKLOADS, type ReferenceLine } from "./reference.js";

/** The fields of a measurement line (ours or the reference's) that the comparison reads. */
export interface MeasuredLine {
  bench: string;
  dtype: string;
  threads: number;
  tokens_per_s?: number;
  gflops?: number;
  peak_rss_mb?: number;
  flops_per_token?: number;
  /** the reference's OpenMP wait policy (passive: waiting threads sleep; active: they spin) */
  omp_wait_policy?: string;
  /** GLUE workloads: "dynamic" (batches padded to their longest member) or the fixed padded length */
  padding?: string;
  /** per-kernel shares of one profiled step (ours) */
  kernels?: { name: string; ms: number; calls: number; share: number }[];
}

export interface CompareRun {
  impl: "electra" | "pytorch";
  dtype: string;
  threads: number;
  tokens_per_s: number;
  gflops: number | null;
  pct_peak: number | null;
  peak_rss_mb: number | null;
  /** our tokens/s divided by this run's (> 1: ours is faster) */
  ours_ratio: number | null;
  /** PyTorch runs: our run of the same dtype (not counting fixed padding) divided by this one */
  same_dtype_ratio?: number | null;
  omp_wait_policy?: string;
  padding?: string;
}

export interface CompareLine {
  bench: "compare";
  workload: string;
  flops_per_token: number | null;
  runs: CompareRun[];
}

export interface Peak {
  fp32: number;
  bf16: number;
  source: "measured" | "assumed";
  /** what each probe measured, per dtype: torch.mm's best square product, the register peak */
  probes?: { torch?: { fp32?: number; bf16?: number }; register?: { fp32?: number; bf16?: number } };
}

/** A single-thread peak probe: the reference's torch.mm, or bench_gemm --peak's register peak. */
export interface PeakLine {
  bench: string;
  impl?: string;
  dtype?: string;
  threads?: number;
  gflops?: number;
}

/**
 * Per-core peak GFLOP/s per dtype: the larger of the reference's single-thread torch.mm probe and
 * our register-peak probe (bench_gemm --peak) where they ran, else the issue's assumption. torch.mm
 * alone can understate it: OpenBLAS runs AVX2 kernels on Zen 5, whose 512-bit FMAs do twice that.
 */
export function peakPerCore(ref: PeakLine[], register: PeakLine[] = []): Peak {
  const probe = (lines: PeakLine[], d: string) => lines.find((l) => l.bench === "gemm_peak" && l.dtype === d && l.threads === 1)?.gflops;
  const torch = { fp32: probe(ref, "fp32"), bf16: probe(ref, "bf16") };
  const reg = { fp32: probe(register, "fp32"), bf16: probe(register, "bf16") };
  const pick = (d: "fp32" | "bf16") => Math.max(torch[d] ?? 0, reg[d] ?? 0);
  const fp32 = pick("fp32"), bf16 = pick("bf16");
  if (fp32 && bf16) return { fp32, bf16, source: "measured", probes: { torch, register: reg } };
  return { ...ASSUMED_PEAK_GFLOPS_PER_CORE, source: "assumed" };
}

/** GLUE runs padded to a fixed length (not counted in the ratios; dynamic padding is) */
const fixedPad = (l: { padding?: string }) => l.padding !== undefined && l.padding !== "dynamic";
const best = (lines: MeasuredLine[]) => lines.reduce<MeasuredLine | undefined>((a, l) => (!a || (l.tokens_per_s ?? 0) > (a.tokens_per_s ?? 0) ? l : a), undefined);
const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
/** The median of a list (the mean of the middle two when even). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
/** " (fp32 X, bf16 Y)" for a probe's values, or " (not run)" */
const probeText = (p?: { fp32?: number; bf16?: number }) => {
  const parts = (["fp32", "bf16"] as const).filter((d) => p?.[d]).map((d) => `${d} ${p![d]!.toFixed(0)}`);
  return parts.length ? ` (${parts.join(", ")})` : " (not run)";
};

export function compareLines(ours: MeasuredLine[], ref: ReferenceLine[], peak: Peak): CompareLine[] {
  const out: CompareLine[] = [];
  for (const workload of REFERENCE_WORKLOADS) {
    // ours: every run (fp32 and bf16; GLUE workloads also padded to 128), dynamically padded first; the
    // ratios use our fastest run without fixed padding
    const mineAll = ours.filter((l) => l.bench === workload).sort((a, b) => Number(fixedPad(a)) - Number(fixedPad(b)));
    const mine = best(mineAll.filter((l) => !fixedPad(l)));
    const sameDtype = (d: string) => best(mineAll.filter((l) => !fixedPad(l) && l.dtype === d));
    const theirs = ref.filter((l) => l.bench === workload && l.tokens_per_s);
    if (!mine && !theirs.length) continue;
    const picked: Array<[MeasuredLine, "electra" | "pytorch"]> = mineAll.map((l) => [l, "electra"]);
    for (const d of ["fp32", "bf16"]) {
      const b = best(theirs.filter((l) => l.dtype === d));
      if (b) picked.push([b, "pytorch"]);
    }
    const runs = picked.map(([l, impl]): CompareRun => {
      const perCore = l.dtype === "bf16" ? peak.bf16 : peak.fp32;
      return {
        impl,
        dtype: l.dtype,
        threads: l.threads,
        tokens_per_s: l.tokens_per_s ?? 0,
        gflops: l.gflops ?? null,
        pct_peak: l.gflops != null ? round((100 * l.gflops) / (perCore * l.threads), 1) : null,
        peak_rss_mb: l.peak_rss_mb ?? null,
        ours_ratio: mine?.tokens_per_s && l.tokens_per_s ? round(mine.tokens_per_s / l.tokens_per_s, 2) : null,
        ...(impl === "pytorch" ? { same_dtype_ratio: sameDtype(l.dtype)?.tokens_per_s && l.tokens_per_s ? round(sameDtype(l.dtype)!.tokens_per_s! / l.tokens_per_s, 2) : null } : {}),
        ...(l.threads > 1 && l.omp_wait_policy ? { omp_wait_policy: l.omp_wait_policy } : {}),
        ...(l.padding ? { padding: l.padding } : {}),
      };
    });
    out.push({ bench: "compare", workload, flops_per_token: mine?.flops_per_token ?? theirs[0]?.flops_per_token ?? null, runs });
  }
  return out;
}

/** The plain-text table printed after the JSON lines. */
export function formatCompareTable(
  lines: CompareLine[],
  peak: Peak,
  note: { torch?: string; batch: number; seq: number; cpuBusy?: number[]; cores?: number },
): string {
  const f = (x: number | null, digits = 0) => (x == null ? "-" : x.toFixed(digits));
  const flops = lines.map((l) => `${l.workload} ${f(l.flops_per_token == null ? null : l.flops_per_token / 1e6, 2)}`).join(", ");
  const head = [
    `ELECTRA-Small, B=${note.batch}, T=${note.seq}; matrix-product MFLOP/token (analytic): ${flops}.`,
    peak.source === "measured"
      ? `Peak per core: fp32 ${f(peak.fp32)} GFLOP/s, bf16 ${f(peak.bf16)} GFLOP/s (measured, 1 thread: the larger of the best square torch.mm${probeText(peak.probes?.torch)} and the register peak of independent vfmadd / vdpbf16ps chains${probeText(peak.probes?.register)}; the issue assumes ${ASSUMED_PEAK_GFLOPS_PER_CORE.fp32} and ${ASSUMED_PEAK_GFLOPS_PER_CORE.bf16}). % peak = GFLOP/s / (peak per core x threads).`
      : `Peak per core: fp32 ${ASSUMED_PEAK_GFLOPS_PER_CORE.fp32} GFLOP/s, bf16 ${ASSUMED_PEAK_GFLOPS_PER_CORE.bf16} GFLOP/s (assumed, not measured). % peak = GFLOP/s / (peak per core x threads).`,
    `PyTorch${note.torch ? " " + note.torch : ""}: the fastest of 1 and N threads (OpenMP threads waiting passive or active) per dtype; bf16 = CPU autocast, LayerNorm and losses in fp32. Ours: bf16 = bf16 matrix products with fp32 sums, everything else fp32. "ours/this": our fastest run (not counting fixed padding) / this run's tokens/s, > 1: ours is faster; "same dtype": our run in this run's dtype / this run.`,
  ];
  if (lines.some((l) => l.workload === "finetune_step" || l.workload.startsWith("sst2_")))
    head.push(
      `Fine-tuning and evaluation: MFLOP/token counts the whole model's products, as PyTorch runs them; our classifier runs its last layer for [CLS] only (keys and values for every position), about 7% fewer at T = 128, so its GFLOP/s there is an effective rate.`,
    );
  if (lines.some((l) => l.workload.startsWith("sst2_")))
    head.push(
      `sst2_finetune (batches of 32) and sst2_eval (the dev set in batches of 128) run SST-2's real lengths; their tokens/s count real tokens only and "dynamic pad" pads each batch to its longest member; MFLOP/token there is per real token.`,
    );
  if (note.cpuBusy?.length) {
    const busy = note.cpuBusy.map((b) => `${Math.round(100 * b)}%`).join(", ");
    head.push(
      `Other CPU use, 1 s samples before the round's workloads and after them: ${busy} of ${note.cores ?? "?"} cores` +
        (Math.max(...note.cpuBusy) > 0.1 ? ": other work was running, these numbers are disturbed." : "."),
    );
  }
  const cols = ["workload", "run", "threads", "tokens/s", "ours/this", "same dtype", "GFLOP/s", "% peak", "peak RSS MB"];
  const rows: string[][] = [];
  for (const l of lines)
    l.runs.forEach((r, i) =>
      rows.push([i ? "" : l.workload, `${r.impl} ${r.dtype}${r.padding ? (r.padding === "dynamic" ? " dynamic pad" : ` pad ${r.padding}`) : ""}${r.omp_wait_policy ? ` (OMP ${r.omp_wait_policy})` : ""}`, String(r.threads), f(r.tokens_per_s), f(r.ours_ratio, 2), f(r.same_dtype_ratio ?? null, 2), f(r.gflops, 1), f(r.pct_peak, 0), f(r.peak_rss_mb)]),
    );
  return [...head, "", ...columns(cols, rows)].join("\n");
}

/** Header and rows in aligned columns: the first two left-aligned (names), the rest right-aligned. */
function columns(cols: string[], rows: string[][]): string[] {
  const w = cols.map((c, j) => Math.max(c.length, ...rows.map((r) => r[j].length)));
  const fmt = (r: string[]) => r.map((c, j) => (j < 2 ? c.padEnd(w[j]) : c.padStart(w[j]))).join("  ").trimEnd();
  return [fmt(cols), ...rows.map(fmt)];
}

/**
 * Where our steps spend their time: per workload and precision, the kernels (matmuls per shape) that
 * take at least 1% of one profiled step, largest first, with the rest summed.
 */
export function formatKernelTable(lines: MeasuredLine[], minShare = 0.01): string {
  const out = ["Per-kernel time of one profiled step (matmul shapes are rows x in x out; fwd/bwd; bf16 = bf16 products):"];
  for (const l of lines) {
    if (!l.kernels?.length) continue;
    const total = l.kernels.reduce((a, k) => a + k.ms, 0);
    out.push("", `${l.bench} ${l.dtype}${l.padding ? ` (${l.padding === "dynamic" ? "dynamic padding" : `padded to ${l.padding}`})` : ""}: ${total.toFixed(0)} ms`);
    const big = l.kernels.filter((k) => k.share >= minShare);
    const small = l.kernels.filter((k) => k.share < minShare);
    const rows = big.map((k) => [k.name, `${(100 * k.share).toFixed(1)}%`, k.ms.toFixed(1), String(k.calls)]);
    if (small.length) rows.push([`(${small.length} more, each < ${100 * minShare}%)`, `${(100 * small.reduce((a, k) => a + k.share, 0)).toFixed(1)}%`, small.reduce((a, k) => a + k.ms, 0).toFixed(1), String(small.reduce((a, k) => a + k.calls, 0))]);
    const w = [0, 1, 2, 3].map((j) => Math.max(...rows.map((r) => r[j].length)));
    for (const r of rows) out.push(`  ${r[0].padEnd(w[0])}  ${r[1].padStart(w[1])}  ${r[2].padStart(w[2])} ms  ${r[3].padStart(w[3])} calls`);
  }
  return out.join("\n");
}

/** One row of the rounds summary: a workload in one dtype, or a derived ratio, over repeated rounds. */
export interface RoundsRow {
  workload: string;
  /** "bf16" / "fp32": ours against PyTorch's best in that dtype; else what the ratio is */
  what: string;
  ours: number[];
  theirs: number[];
  /** per round: ours / theirs */
  ratios: number[];
}

/**
 * The same-dtype ratios of every round (compareLines' output per round), per workload and dtype:
 * our run in the dtype (not counting fixed padding) against PyTorch's best in it, plus the peak-memory
 * ratio (ours / PyTorch's, bf16, lower is better) where both were measured. Rounds where one side is
 * missing are left out of that row.
 */
export function roundsRows(rounds: CompareLine[][]): RoundsRow[] {
  const rows = new Map<string, RoundsRow>();
  const add = (workload: string, what: string, ours: number, theirs: number) => {
    const key = `${workload}\u0000${what}`;
    const r = rows.get(key) ?? { workload, what, ours: [], theirs: [], ratios: [] };
    r.ours.push(ours), r.theirs.push(theirs), r.ratios.push(ours / theirs);
    rows.set(key, r);
  };
  for (const round of rounds)
    for (const l of round)
      for (const d of ["bf16", "fp32"]) {
        const theirs = l.runs.find((r) => r.impl === "pytorch" && r.dtype === d);
        const mine = l.runs.filter((r) => r.impl === "electra" && r.dtype === d && !fixedPad(r));
        const fastest = mine.reduce<CompareRun | undefined>((a, r) => (!a || r.tokens_per_s > a.tokens_per_s ? r : a), undefined);
        if (!theirs?.tokens_per_s || !fastest?.tokens_per_s) continue;
        add(l.workload, d, fastest.tokens_per_s, theirs.tokens_per_s);
        if (d === "bf16" && fastest.peak_rss_mb && theirs.peak_rss_mb) add(l.workload, "peak RSS MB, bf16", fastest.peak_rss_mb, theirs.peak_rss_mb);
      }
  return [...rows.values()];
}

/** The plain-text summary of repeated rounds: per row, each round's ratio, their median and range. */
export function formatRoundsTable(rows: RoundsRow[], extra: { what: string; values: number[] }[] = []): string {
  const n = Math.max(0, ...rows.map((r) => r.ratios.length), ...extra.map((e) => e.values.length));
  const head = [
    `Rounds: ${n} (each: every workload of ours followed by the PyTorch reference's, as above). Ratios are ours / PyTorch's best setting of the same dtype in the same round (peak RSS: ours / PyTorch's, lower is better); the median of the rounds, and their range as a measure of this machine's noise.`,
  ];
  const cols = ["workload", "measure", "ours (median)", "PyTorch (median)", "ratio per round", "median", "min-max"];
  const f = (x: number, d = 0) => x.toFixed(d);
  const spread = (v: number[]) => [v.map((x) => f(x, 2)).join(" "), f(median(v), 2), `${f(Math.min(...v), 2)}-${f(Math.max(...v), 2)}`];
  const table = rows.map((r) => [r.workload, r.what.startsWith("peak") ? r.what : `tokens/s, ${r.what}`, f(median(r.ours)), f(median(r.theirs)), ...spread(r.ratios)]);
  for (const e of extra) if (e.values.length) table.push(["", e.what, "", "", ...spread(e.values)]);
  return [...head, "", ...columns(cols, table)].join("\n");
}
