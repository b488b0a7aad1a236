// reference.ts (bench): runs the PyTorch reference (native/bench/torch_reference.py) under an interpreter
// that has torch, echoes its JSON lines and returns them. Not a measurement of its own: the script measures.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { packageRoot } from "../native/binding.js";

/** One JSON line of the reference: a workload measurement or the GEMM peak probe (`bench: "gemm_peak"`). */
export interface ReferenceLine {
  bench: string;
  impl: "pytorch";
  dtype: "fp32" | "bf16";
  threads: number;
  gflops: number;
  model?: string;
  batch?: number;
  seq?: number;
  tokens_per_s?: number;
  step_ms?: number;
  steps?: number;
  peak_rss_mb?: number;
  flops_per_token?: number;
  omp_wait_policy?: string;
  torch?: string;
  padding?: string;
  examples_per_s?: number;
}

export const REFERENCE_WORKLOADS = ["pretrain_step", "finetune_step", "inference", "sst2_finetune", "sst2_eval"];
export const REFERENCE_SCRIPT = join(packageRoot, "native", "bench", "torch_reference.py");
// Debian's interpreter, where python3-torch installs; the python3 first on PATH may lack torch.
const DEFAULT_PYTHON = "/usr/bin/python3";

/** The interpreter to use and its torch version, or why there is none. */
export function findTorch(python = process.env.ELECTRA_BENCH_PYTHON || DEFAULT_PYTHON): { python: string; torch: string } | { skip: string } {
  if (!existsSync(REFERENCE_SCRIPT)) return { skip: `${REFERENCE_SCRIPT} is missing` };
  if (!existsSync(python)) return { skip: `${python} not found (set ELECTRA_BENCH_PYTHON to an interpreter with torch)` };
  const r = spawnSync(python, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) return { skip: `${python} cannot import torch (apt install python3-torch, or set ELECTRA_BENCH_PYTHON)` };
  return { python, torch: r.stdout.trim() };
}

/**
 * Runs the reference for `workloads` (those it knows), fp32 and bf16 (or `dtypes`), at 1 thread and at
 * `threads` threads, with `steps` timed steps each; every JSON line goes to `print` as it comes.
 */
export async function runReference(opts: {
  python: string;
  workloads: string[];
  steps: number;
  threads: number;
  /** the GLUE workloads' batch shapes (glue.ts); without it they are not run */
  shapes?: string;
  /** the precisions to measure (default fp32 and bf16) */
  dtypes?: string[];
  /** run the GEMM peak probe first (default true) */
  peak?: boolean;
  print?: (line: string) => void;
}): Promise<{ lines: ReferenceLine[]; ok: boolean }> {
  const print = opts.print ?? ((l: string) => process.stdout.write(l + "\n"));
  const workloads = opts.workloads.filter((w) => REFERENCE_WORKLOADS.includes(w) && (opts.shapes || !w.startsWith("sst2_")));
  const threads = [...new Set([1, Math.max(1, opts.threads)])].join(",");
  const args = [REFERENCE_SCRIPT, "--only", workloads.join(","), "--threads", threads, "--steps", String(opts.steps)];
  if (opts.shapes) args.push("--shapes", opts.shapes);
  if (opts.dtypes) args.push("--dtypes", opts.dtypes.join(","));
  if (opts.peak === false) args.push("--no-peak");
  const child = spawn(opts.python, args, {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const closed = new Promise<number>((res) => {
    child.on("error", () => res(1));
    child.on("close", (c) => res(c ?? 1));
  });
  const lines: ReferenceLine[] = [];
  for await (const text of createInterface({ input: child.stdout })) {
    print(text);
    if (text.startsWith("{")) lines.push(JSON.parse(text) as ReferenceLine);
  }
  return { lines, ok: (await closed) === 0 };
}
