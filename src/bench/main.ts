// main.ts: `npm run bench`: each workload in a fresh process, one JSON line per measurement, then the
// PyTorch reference (native/bench/torch_reference.py) on the same workloads and a comparison: `compare`
// JSON lines and a plain-text table, after all other lines.
//   npm run bench -- [--only tokenizer,pretrain_step,pretrain_loop,finetune_step,inference,sst2_finetune,sst2_eval] [--steps N]
//                    [--threads N] [--precision fp32,bf16] [--no-reference] [--rounds R]
// Each workload and precision of ours is followed at once by the reference's (the GLUE workloads' at the
// end of the round). --rounds R repeats the whole R times and ends with each same-dtype ratio per round,
// its median and range (this machine's noise, measured).
import { spawnSync } from "node:child_process";
import { availableParallelism, cpus } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { compareLines, formatCompareTable, formatKernelTable, formatRoundsTable, peakPerCore, roundsRows, type CompareLine, type MeasuredLine } from "./compare.js";
import { findTorch, REFERENCE_WORKLOADS, runReference, type ReferenceLine } from "./reference.js";
import { benchTokenizer } from "./tokenizer.js";
import { runWorkload } from "./workloads.js";
import { GLUE_WORKLOADS, sst2Shapes, writeShapes } from "./glue.js";
import { benchGemmShapes, formatGemmTable, registerPeak, type GemmLine } from "./gemm.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const WORKLOADS = ["tokenizer", "gemm_shapes", "pretrain_step", "pretrain_loop", "finetune_step", "inference", ...GLUE_WORKLOADS];
/** training batches of the sst2_finetune workload */
const GLUE_TRAIN_BATCHES = 16;
const BATCH = 32, SEQ = 128;

/** Share of all cores busy over the next `ms` (other work, when nothing of ours runs). */
async function cpuBusy(ms = 1000): Promise<number> {
  const total = () => cpus().reduce((a, c) => ({ idle: a.idle + c.times.idle, all: a.all + Object.values(c.times).reduce((x, y) => x + y, 0) }), { idle: 0, all: 0 });
  const a = total();
  await sleep(ms);
  const b = total();
  return b.all > a.all ? 1 - (b.idle - a.idle) / (b.all - a.all) : 0;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function main(): Promise<number> {
  const child = arg("child", "");
  const steps = Number(arg("steps", "3"));
  const threads = Number(arg("threads", "0"));
  if (child) {
    const padTo = Number(arg("pad-to", "0")) || undefined;
    const precision = arg("precision", "fp32") as "fp32" | "bf16";
    const line = await runWorkload(child, { batch: BATCH, seq: SEQ, steps, threads, shapes: arg("shapes", "") || undefined, padTo, precision });
    process.stdout.write(JSON.stringify(line) + "\n");
    return 0;
  }
  const only = arg("only", WORKLOADS.join(",")).split(",");
  const rounds = Math.max(1, Math.floor(Number(arg("rounds", "1"))) || 1);
  let failed = 0;
  const tmp = mkdtempSync(join(tmpdir(), "electra-bench-"));
  process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
  let shapesFile: string | undefined;
  if (only.some((w) => GLUE_WORKLOADS.includes(w))) {
    const shapes = await sst2Shapes(GLUE_TRAIN_BATCHES);
    if ("skip" in shapes) process.stdout.write(`GLUE workloads skipped: ${shapes.skip}\n`);
    else writeShapes((shapesFile = join(tmp, "sst2-shapes.json")), shapes);
  }
  const spawnChild = (w: string, extra: string[], into: MeasuredLine[], childThreads = threads) => {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--child", w, "--steps", String(steps), "--threads", String(childThreads), ...extra], {
      stdio: ["ignore", "pipe", "inherit"],
      encoding: "utf8",
    });
    process.stdout.write(r.stdout ?? "");
    for (const l of (r.stdout ?? "").split("\n")) if (l.startsWith("{")) into.push(JSON.parse(l) as MeasuredLine);
    if (r.status !== 0) failed++;
  };
  const precisions = arg("precision", "fp32,bf16").split(",");
  for (const p of precisions) if (p !== "fp32" && p !== "bf16") throw new Error(`--precision: fp32 and/or bf16 (got ${p})`);
  const refWorkloads = only.filter((w) => REFERENCE_WORKLOADS.includes(w));
  const torch = refWorkloads.length && !process.argv.includes("--no-reference") ? findTorch() : undefined;
  const perRound: CompareLine[][] = [];
  const scalingRounds = new Map<string, number[]>(); // precision -> 2-thread / 1-thread tokens/s per round
  const torchOk = torch && !("skip" in torch) ? torch : undefined;
  for (let round = 1; round <= rounds; round++) {
    if (rounds > 1) process.stdout.write(`\n=== round ${round} of ${rounds} ===\n`);
    const busyStart = refWorkloads.length ? await cpuBusy() : 0; // other work running?
    const ours: MeasuredLine[] = [];
    const refLines: ReferenceLine[] = [];
    let peakDone = false;
    // The reference on the same workloads, right after ours (this machine's speed drifts over minutes:
    // pairs run back to back see the same machine); PyTorch at 1 thread and at as many as ours ran with.
    const reference = async (workloads: string[], dtypes?: string[]) => {
      if (!torchOk || !workloads.length) return;
      const ourThreads = ours.find((l) => refWorkloads.includes(l.bench))?.threads ?? (threads || availableParallelism());
      const ref = await runReference({ python: torchOk.python, workloads, steps, threads: ourThreads, shapes: shapesFile, dtypes, peak: !peakDone });
      peakDone = true;
      refLines.push(...ref.lines);
      if (!ref.ok) failed++;
    };
    let gemmLines: GemmLine[] = [];
    for (const w of only) {
      if (w === "tokenizer") {
        if (round === 1) await benchTokenizer();
        continue;
      }
      if (w === "gemm_shapes") {
        if (round === 1) gemmLines = benchGemmShapes(process.argv.includes("--no-reference"));
        continue;
      }
      if (GLUE_WORKLOADS.includes(w) && !shapesFile) continue;
      for (const p of precisions) {
        if (!GLUE_WORKLOADS.includes(w)) {
          spawnChild(w, ["--precision", p], ours);
          if (refWorkloads.includes(w)) await reference([w], [p]);
        } else spawnChild(w, ["--shapes", shapesFile!, "--precision", p], ours); // dynamic padding
      }
      // every batch padded to 128, for the gain of dynamic padding
      if (GLUE_WORKLOADS.includes(w)) spawnChild(w, ["--shapes", shapesFile!, "--pad-to", "128", "--precision", precisions[0]], ours);
    }
    // the GLUE workloads' reference after all of ours (its batches go in one call)
    await reference(refWorkloads.filter((w) => GLUE_WORKLOADS.includes(w) && shapesFile));

    // thread scaling of the pre-training step: all threads (above) against one
    const scaling: string[] = [];
    if (only.includes("pretrain_step") && threads !== 1 && availableParallelism() > 1)
      for (const p of precisions) {
        const one: MeasuredLine[] = [];
        spawnChild("pretrain_step", ["--precision", p], one, 1);
        const many = ours.find((l) => l.bench === "pretrain_step" && l.dtype === p);
        if (one[0]?.tokens_per_s && many?.tokens_per_s) {
          scaling.push(`pretrain_step ${p}: ${many.threads} threads ${many.tokens_per_s} tokens/s, 1 thread ${one[0].tokens_per_s}: ${(many.tokens_per_s / one[0].tokens_per_s).toFixed(2)}x`);
          scalingRounds.set(p, [...(scalingRounds.get(p) ?? []), many.tokens_per_s / one[0].tokens_per_s]);
        }
      }
    if (scaling.length) process.stdout.write("\nThread scaling: " + scaling.join("; ") + "\n");

    if (gemmLines.length) process.stdout.write("\n" + formatGemmTable(gemmLines) + "\n");
    const profiled = ours.filter((l) => l.kernels?.length);
    if (profiled.length && round === 1) process.stdout.write("\n" + formatKernelTable(profiled) + "\n");

    if (!refWorkloads.length) continue;
    if (!torch) {
      if (round === 1) process.stdout.write("PyTorch reference skipped: --no-reference\n");
      continue;
    }
    if ("skip" in torch) {
      if (round === 1) process.stdout.write(`PyTorch reference skipped: ${torch.skip}\n`);
      continue;
    }
    const reg = registerPeak();
    for (const l of reg) process.stdout.write(JSON.stringify(l) + "\n");
    const peak = peakPerCore(refLines, reg);
    const cmp = compareLines(ours, refLines, peak);
    for (const l of cmp) process.stdout.write(JSON.stringify(l) + "\n");
    process.stdout.write("\n" + formatCompareTable(cmp, peak, { torch: torch.torch, batch: BATCH, seq: SEQ, cpuBusy: [busyStart, await cpuBusy()], cores: availableParallelism() }) + "\n");
    perRound.push(cmp);
  }
  if (rounds > 1 && perRound.length) {
    const extra = [...scalingRounds].map(([p, values]) => ({ what: `pretrain_step ${p}: 2+ threads / 1 thread`, values }));
    process.stdout.write("\n" + formatRoundsTable(roundsRows(perRound), extra) + "\n");
  }
  return failed ? 1 : 0;
}

process.exitCode = await main();
