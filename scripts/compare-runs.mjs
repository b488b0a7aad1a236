#!/usr/bin/env node
// compare-runs.mjs: two pre-training runs' loss curves side by side (e.g. --precision fp32 against
// bf16 with the same seed and data): the training loss averaged over windows of logged steps (single
// steps are noisy), and the held-out evaluations, with relative differences.
//   node scripts/compare-runs.mjs RUN_A RUN_B [--window 500]
import { readFileSync } from "node:fs";
import { join } from "node:path";

const [a, b] = process.argv.slice(2).filter((x) => !x.startsWith("--"));
const wi = process.argv.indexOf("--window");
const windowSteps = wi > 0 ? Number(process.argv[wi + 1]) : 500;
if (!a || !b) {
  console.error("usage: node scripts/compare-runs.mjs RUN_A RUN_B [--window STEPS]");
  process.exit(2);
}
const read = (run) => readFileSync(join(run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
const ma = read(a), mb = read(b);
const rel = (x, y) => (y - x) / x;
const pct = (r) => `${(100 * r).toFixed(2)}%`;

console.log(`A = ${a}\nB = ${b}\n\ntraining loss (total = gen + 50 disc), mean over windows of ${windowSteps} steps:`);
console.log("steps        A        B        B/A - 1");
let worstTrain = 0;
const last = Math.max(...ma.filter((m) => m.loss !== undefined).map((m) => m.step));
for (let lo = 0; lo < last; lo += windowSteps) {
  const pick = (ms) => ms.filter((m) => m.loss !== undefined && m.step > lo && m.step <= lo + windowSteps).map((m) => m.loss);
  const xa = pick(ma), xb = pick(mb);
  if (!xa.length || xa.length !== xb.length) continue;
  const mean = (v) => v.reduce((s, x) => s + x, 0) / v.length;
  const r = rel(mean(xa), mean(xb));
  worstTrain = Math.max(worstTrain, Math.abs(r));
  console.log(`${String(lo + 1).padStart(5)}-${String(lo + windowSteps).padEnd(5)} ${mean(xa).toFixed(3).padStart(8)} ${mean(xb).toFixed(3).padStart(8)}  ${pct(r).padStart(8)}`);
}

console.log("\nheld-out evaluation (the same examples in both runs):");
console.log(" step  MLM loss A / B (diff)        disc loss A / B (diff)        disc AUC A / B");
let worstEval = 0;
for (const ea of ma.filter((m) => m.eval)) {
  const eb = mb.find((m) => m.eval && m.step === ea.step);
  if (!eb) continue;
  const r1 = rel(ea.eval.masked_lm_loss, eb.eval.masked_lm_loss), r2 = rel(ea.eval.disc_loss, eb.eval.disc_loss);
  worstEval = Math.max(worstEval, Math.abs(r1));
  console.log(
    `${String(ea.step).padStart(5)}  ${ea.eval.masked_lm_loss.toFixed(4)} / ${eb.eval.masked_lm_loss.toFixed(4)} (${pct(r1)})` +
      `   ${ea.eval.disc_loss.toFixed(4)} / ${eb.eval.disc_loss.toFixed(4)} (${pct(r2)})` +
      `   ${ea.eval.disc_auc.toFixed(4)} / ${eb.eval.disc_auc.toFixed(4)}`,
  );
}
console.log(`\nlargest difference: training-loss windows ${pct(worstTrain)}, held-out MLM loss ${pct(worstEval)}`);
