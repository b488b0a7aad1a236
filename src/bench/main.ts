// main.ts: `npm run bench`: each workload in a fresh process, one JSON line per measurement.
//   npm run bench -- [--only tokenizer,pretrain_step,finetune_step,inference] [--steps N] [--threads N]
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { benchTokenizer } from "./tokenizer.js";
import { runWorkload } from "./workloads.js";

const WORKLOADS = ["tokenizer", "pretrain_step", "pretrain_loop", "finetune_step", "inference"];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function main(): Promise<number> {
  const child = arg("child", "");
  const steps = Number(arg("steps", "3"));
  const threads = Number(arg("threads", "0"));
  if (child) {
    const line = await runWorkload(child, { batch: 32, seq: 128, steps, threads });
    process.stdout.write(JSON.stringify(line) + "\n");
    return 0;
  }
  const only = arg("only", WORKLOADS.join(",")).split(",");
  let failed = 0;
  for (const w of only) {
    if (w === "tokenizer") {
      await benchTokenizer();
      continue;
    }
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--child", w, "--steps", String(steps), "--threads", String(threads)], {
      stdio: ["ignore", "inherit", "inherit"],
    });
    if (r.status !== 0) failed++;
  }
  return failed ? 1 : 0;
}

process.exitCode = await main();
