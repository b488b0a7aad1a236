// electra pretrain, end to end through the CLI: learning, exact resume, crash safety, Ctrl-C, bad input.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, truncateSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { patternedCorpus, repoRoot, runCli } from "./helpers.js";

let dir = "";
let data = "";
let small = "";

function prepareData(name: string, text: string, vocab: string[], seq = 32): string {
  writeFileSync(join(dir, `${name}.txt`), text);
  writeFileSync(join(dir, `${name}-vocab.txt`), vocab.join("\n") + "\n");
  const out = join(dir, name);
  const r = runCli(["prepare", join(dir, `${name}.txt`), "--vocab", join(dir, `${name}-vocab.txt`), "--out", out, "--max-seq-length", String(seq), "--eval-fraction", "0.05"]);
  if (r.code !== 0) throw new Error(r.stderr);
  return out;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "electra-pretrain-"));
  // one word repeated along each line: a replaced token is plain to see, so a few hundred steps show learning
  const { vocab } = patternedCorpus(1);
  const words = vocab.slice(6);
  let s = 7;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const docs = Array.from({ length: 300 }, () => Array.from({ length: 3 }, () => Array(40).fill(words[Math.floor(rnd() * words.length)]).join(" ")).join("\n"));
  data = prepareData("repeat", docs.join("\n\n") + "\n", vocab);
  small = join(dir, "small.json");
  writeFileSync(small, JSON.stringify({
    discriminator: { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, embedding_size: 16 },
    generator: { hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 1, intermediate_size: 32, embedding_size: 16 },
  }));
});

const events = (stdout: string) => stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
const metrics = (run: string) => readFileSync(join(run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));

describe("electra pretrain", () => {
  it("learns: the losses fall and the discriminator beats 'nothing was replaced' on held-out data", () => {
    const out = join(dir, "learn");
    const r = runCli(["pretrain", "--data", data, "--preset", "tiny", "--steps", "300", "--batch-size", "16", "--lr", "1e-4", "--log-every", "25", "--eval-every", "300", "--out", out, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const ev = events(r.stdout);
    const steps = ev.filter((e) => e.type === "step");
    expect(steps[steps.length - 1].loss).toBeLessThan(steps[0].loss);
    expect(steps[steps.length - 1].genLoss).toBeLessThan(steps[0].genLoss);
    const evalEv = ev.filter((e) => e.type === "eval").pop();
    expect(evalEv.metrics.disc_accuracy).toBeGreaterThan(evalEv.metrics.disc_trivial_accuracy + 0.01);
    expect(evalEv.metrics.disc_auc).toBeGreaterThan(0.55);
    // the run directory: resolved config, metrics, a checkpoint in Hugging Face's layout
    expect(JSON.parse(readFileSync(join(out, "config.json"), "utf8")).preset).toBe("tiny");
    expect(metrics(out).some((m) => m.eval)).toBe(true);
    const ck = join(out, "checkpoint-300");
    for (const f of ["discriminator/config.json", "discriminator/model.safetensors", "discriminator/vocab.txt", "discriminator/tokenizer_config.json", "generator/model.safetensors", "training_state.safetensors"])
      expect(existsSync(join(ck, f))).toBe(true);
    // the checkpoint's discriminator works with electra detect --text (its vocab.txt is beside it)
    const d = runCli(["detect", "--model", join(ck, "discriminator"), "--text", "cat cat cat cat sun cat cat cat", "--json"]);
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout).probs).toHaveLength(10);
  });

  for (const precision of ["fp32", "bf16"])
    it(`resumes exactly: N steps straight equal N/2, stop, --resume, N/2 (${precision})`, () => {
      const args = (out: string) => ["pretrain", "--data", data, "--config", small, "--steps", "12", "--batch-size", "8", "--accumulate", "2", "--log-every", "1", "--eval-every", "6", "--save-every", "6", "--precision", precision, "--out", out, "--json"];
      const a = join(dir, `straight-${precision}`), b = join(dir, `halves-${precision}`);
      expect(runCli(args(a)).code).toBe(0);
      expect(runCli(args(b)).code).toBe(0);
      // forget the second half of run b, as if it had stopped at step 6
      spawnSync("rm", ["-rf", join(b, "checkpoint-12")]);
      const r = runCli([...args(b), "--resume"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/resumed from .*checkpoint-6/);
      const strip = (m: Record<string, unknown>) => ({ ...m, tokens_per_s: 0, elapsed_s: 0, host_overhead: 0 });
      expect(metrics(b).map(strip)).toEqual(metrics(a).map(strip));
      expect(readFileSync(join(b, "checkpoint-12", "discriminator", "model.safetensors"))).toEqual(readFileSync(join(a, "checkpoint-12", "discriminator", "model.safetensors")));
    });

  it("--precision bf16 trains with bf16 matrix products, close to fp32 and recorded in the run's config", () => {
    const run = (precision: string) => {
      const out = join(dir, `prec-${precision}`);
      const r = runCli(["pretrain", "--data", data, "--config", small, "--steps", "4", "--batch-size", "4", "--log-every", "1", "--precision", precision, "--out", out, "--json"]);
      expect(r.code).toBe(0);
      expect(JSON.parse(readFileSync(join(out, "config.json"), "utf8")).precision).toBe(precision);
      return events(r.stdout).filter((e) => e.type === "step").map((e) => e.loss as number);
    };
    const f32 = run("fp32"), b16 = run("bf16");
    expect(b16).toHaveLength(4);
    expect(b16).not.toEqual(f32); // the products really ran in bf16
    for (let i = 0; i < 4; i++) expect(Math.abs(b16[i] / f32[i] - 1)).toBeLessThan(0.02);
    expect(runCli(["pretrain", "--data", data, "--precision", "fp16", "--out", join(dir, "prec-bad")]).code).not.toBe(0);
  });

  it("--device: auto says where it trains; cuda without a GPU is refused before any work", () => {
    const cuda = JSON.parse(runCli(["info", "--json"]).stdout).engine.cuda;
    const args = (out: string, device: string) => ["pretrain", "--data", data, "--config", small, "--steps", "1", "--batch-size", "2", "--out", join(dir, out), "--json", "--device", device];
    const r = runCli(args("dev-auto", "auto"));
    expect(r.code).toBe(0);
    const logs = events(r.stdout).filter((e) => e.type === "log").map((e) => e.message as string);
    if (cuda.devices.length > 0) {
      expect(logs.some((m) => m.startsWith("device: cuda: "))).toBe(true);
    } else {
      expect(logs.some((m) => m.startsWith("device: cpu (no CUDA device: "))).toBe(true);
      const c = runCli(args("dev-cuda", "cuda"));
      expect(c.code).not.toBe(0);
      expect(c.stderr).toMatch(/--device cuda: no CUDA device .*use --device cpu or auto/);
    }
  });

  it("--init-from starts from existing weights in Hugging Face's layout", () => {
    const from = join(dir, "straight-fp32", "checkpoint-12");
    const out = join(dir, "init");
    const r = runCli(["pretrain", "--data", data, "--config", small, "--steps", "2", "--batch-size", "4", "--log-every", "1", "--out", out, "--init-from", join(from, "discriminator"), join(from, "generator"), "--json"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain(`initialised from ${join(from, "discriminator")} and ${join(from, "generator")}`);
    // the first step's loss is the trained model's, well below a fresh model's
    const fresh = runCli(["pretrain", "--data", data, "--config", small, "--steps", "2", "--batch-size", "4", "--log-every", "1", "--out", join(dir, "fresh"), "--json"]);
    const first = (s: string) => events(s).find((e) => e.type === "step").loss;
    expect(first(r.stdout)).toBeLessThan(first(fresh.stdout));
  });

  it("survives kill -9 at random moments: --resume always finds a complete checkpoint", async () => {
    const out = join(dir, "crash");
    const base = ["pretrain", "--data", data, "--config", small, "--batch-size", "4", "--keep", "2", "--log-every", "50", "--eval-every", "100000", "--out", out, "--json"];
    let s = 11;
    for (let i = 0; i < 6; i++) {
      // a checkpoint every step, so that most kills land in or near a checkpoint write
      const args = [...base, "--steps", "100000", "--save-every", "1", ...(i === 0 ? [] : ["--resume"])];
      const child = spawn(process.execPath, [join(repoRoot, "bin", "electra.js"), ...args], { stdio: "ignore" });
      s = (s * 48271) % 2147483647;
      await new Promise((r) => setTimeout(r, 800 + (s % 1200)));
      child.kill("SIGKILL");
      await new Promise((r) => child.on("exit", r));
    }
    const steps = readdirSync(out).map((n) => /^checkpoint-(\d+)$/.exec(n)).filter((m) => m).map((m) => Number(m![1]));
    expect(steps.length).toBeGreaterThan(0);
    const latest = Math.max(...steps);
    const r = runCli([...base, "--steps", String(latest + 2), "--save-every", "1000", "--resume"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`resumed from ${join(out, `checkpoint-${latest}`)}`);
    expect(readdirSync(out).filter((n) => n.includes(".tmp-"))).toEqual([]);
  }, 90_000);

  it("explains bad input before any work is lost", () => {
    const nodata = runCli(["pretrain", "--data", join(dir, "nope"), "--out", join(dir, "r1")]);
    expect(nodata.stderr).toMatch(/nope: not prepared data \(no manifest\.json\)/);

    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ discriminator: { hidden_size: 30, num_attention_heads: 4 } }));
    expect(runCli(["pretrain", "--data", data, "--config", bad, "--out", join(dir, "r2")]).stderr).toMatch(/num_attention_heads \(4\) must divide hidden_size \(30\)/);
    expect(runCli(["pretrain", "--data", data, "--batch-size", "10", "--accumulate", "3", "--out", join(dir, "r3")]).stderr).toMatch(/multiple of --accumulate/);

    // a damaged shard is named
    const broken = prepareData("broken", readFileSync(join(dir, "repeat.txt"), "utf8"), readFileSync(join(dir, "repeat-vocab.txt"), "utf8").trim().split("\n"));
    truncateSync(join(broken, "train-00000.shard"), 1000);
    expect(runCli(["pretrain", "--data", broken, "--config", small, "--out", join(dir, "r4")]).stderr).toMatch(/train-00000\.shard: truncated/);

    // a vocabulary that does not match the shards
    const mism = prepareData("mism", readFileSync(join(dir, "repeat.txt"), "utf8"), readFileSync(join(dir, "repeat-vocab.txt"), "utf8").trim().split("\n"));
    appendFileSync(join(mism, "vocab.txt"), "extra\n");
    expect(runCli(["pretrain", "--data", mism, "--config", small, "--out", join(dir, "r5")]).stderr).toMatch(/vocab\.txt is not the vocabulary the shards were made with/);

    // an output directory that cannot be created
    expect(runCli(["pretrain", "--data", data, "--config", small, "--out", join(dir, "repeat.txt", "run")]).code).not.toBe(0);

    // an existing run is never overwritten without --resume
    const again = runCli(["pretrain", "--data", data, "--config", small, "--steps", "2", "--out", join(dir, "straight-fp32")]);
    expect(again.stderr).toMatch(/already holds checkpoints .* --resume/);
  });

  it("stops on a NaN or exploding loss, keeping the last good checkpoint", () => {
    const out = join(dir, "nan");
    const r = runCli(["pretrain", "--data", data, "--config", small, "--steps", "20", "--batch-size", "4", "--lr", "1e8", "--warmup-steps", "1", "--save-every", "1", "--out", out]);
    expect(r.code).not.toBe(0);
    const m = /the loss became (?:NaN|too large .*?) at step (\d+).*last good checkpoint is (\S+checkpoint-(\d+)):/.exec(r.stderr);
    expect(m).not.toBeNull();
    expect(Number(m![3])).toBeLessThan(Number(m![1]));
    expect(existsSync(join(m![2], "training_state.safetensors"))).toBe(true);
    expect(existsSync(join(out, `checkpoint-${m![1]}`))).toBe(false);
  });

  it("Ctrl-C writes a checkpoint and exits; --resume continues", async () => {
    const out = join(dir, "sigint");
    const args = ["pretrain", "--data", data, "--config", small, "--steps", "100000", "--batch-size", "4", "--save-every", "100000", "--log-every", "1", "--out", out, "--json"];
    const child = spawn(process.execPath, [join(repoRoot, "bin", "electra.js"), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    await new Promise<void>((res) => {
      const t = setInterval(() => {
        if (stdout.includes('"type":"step"')) {
          clearInterval(t);
          child.kill("SIGINT");
          res();
        }
      }, 50);
    });
    const code = await new Promise((r) => child.on("exit", r));
    expect(code).toBe(130);
    const ev = events(stdout);
    const ck = ev.find((e) => e.type === "checkpoint");
    expect(ck).toBeTruthy();
    expect(existsSync(join(ck.path, "training_state.safetensors"))).toBe(true);
    const r = runCli(["pretrain", "--data", data, "--config", small, "--steps", String(ck.step + 2), "--batch-size", "4", "--out", out, "--resume", "--json"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`resumed from ${ck.path}`);
  }, 60_000);
});
