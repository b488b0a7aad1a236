// gemm.ts (bench): our GEMM kernels against the libraries PyTorch uses (OpenBLAS for fp32, oneDNN for
// bf16) on the linear-layer shapes of an ELECTRA-Small pre-training step, one thread each:
// native/bench/bench_gemm (built with the addon) and torch_reference.py --gemm-shapes.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../native/binding.js";
import { findTorch, REFERENCE_SCRIPT } from "./reference.js";

export interface GemmLine {
  bench: "gemm_shape";
  impl: "electra" | "pytorch";
  layer?: string;
  m: number;
  k: number;
  n: number;
  dtype: "fp32" | "bf16";
  /** "bf16": ours with x already bf16, read in place (torch.mm's bf16 operands are bf16 too) */
  x?: "bf16";
  gflops: number;
  library?: string;
}

const parse = <T = GemmLine>(out: string) => out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as T);
const benchGemmExe = () => [join(packageRoot, "build", "bench_gemm"), join(packageRoot, "build", "Release", "bench_gemm")].find(existsSync);

/** Our register-peak probe (bench_gemm --peak): gemm_peak lines per dtype the CPU has, [] without the binary. */
export function registerPeak(): GemmPeakLine[] {
  const exe = benchGemmExe();
  return exe ? parse<GemmPeakLine>(spawnSync(exe, ["--peak"], { encoding: "utf8" }).stdout ?? "") : [];
}

export interface GemmPeakLine {
  bench: "gemm_peak";
  impl: "electra";
  dtype: "fp32" | "bf16";
  threads: number;
  gflops: number;
  what: string;
}

/** Runs ours, then (unless told not to, or without torch) the reference on the same shapes; prints every line. */
export function benchGemmShapes(noReference: boolean): GemmLine[] {
  const exe = benchGemmExe();
  if (!exe) {
    process.stdout.write("gemm_shapes skipped: build/bench_gemm not built (npm run build:native)\n");
    return [];
  }
  const ours = spawnSync(exe, ["5"], { encoding: "utf8" });
  process.stdout.write(ours.stdout ?? "");
  const lines = parse(ours.stdout ?? "");
  if (noReference || !lines.length) return lines;
  const torch = findTorch();
  if ("skip" in torch) return lines;
  const shapes = [...new Set(lines.map((l) => `${l.m},${l.k},${l.n}`))].join(";");
  const ref = spawnSync(torch.python, [REFERENCE_SCRIPT, "--gemm-shapes", shapes], { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1" } });
  process.stdout.write(ref.stdout ?? "");
  return [...lines, ...parse(ref.stdout ?? "")];
}

/** Per shape: ours and the library's GFLOP/s per dtype, and ours / library. */
export function formatGemmTable(lines: GemmLine[]): string {
  const f = (x: number | undefined, d = 0) => (x == null ? "-" : x.toFixed(d));
  const rows: string[][] = [];
  for (const o of lines.filter((l) => l.impl === "electra")) {
    const lib = lines.find((l) => l.impl === "pytorch" && l.m === o.m && l.k === o.k && l.n === o.n && l.dtype === o.dtype);
    rows.push([`${o.layer ?? ""} ${o.m}x${o.k}x${o.n}`, o.x ? `${o.dtype}, x ${o.x}` : o.dtype, f(o.gflops, 1), lib ? `${f(lib.gflops, 1)} (${lib.library})` : "-", lib ? f(o.gflops / lib.gflops, 2) : "-"]);
  }
  const cols = ["shape (M x K x N, out = x W^T)", "dtype", "ours GFLOP/s", "library GFLOP/s", "ours/library"];
  const w = cols.map((c, j) => Math.max(c.length, ...rows.map((r) => r[j].length)));
  const fmt = (r: string[]) => r.map((c, j) => (j < 2 ? c.padEnd(w[j]) : c.padStart(w[j]))).join("  ").trimEnd();
  return [
    "GEMM kernels, one thread, on the pre-training step's linear-layer shapes. Ours takes x in fp32 (rounding and packing it inside the product) or, \"x bf16\", already bf16 as the library's bf16 operands are:",
    fmt(cols),
    ...rows.map(fmt),
  ].join("\n");
}
