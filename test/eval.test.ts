// electra eval end to end: fine-tunes a small model on a small learnable task in GLUE's SST-2 format
// and beats the majority class; writes results.json, dev predictions and submission files.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { native } from "../src/native/binding.js";
import { hasSharedData, repoRoot, runCli, sharedData } from "./helpers.js";

let dir = "", model = "", glue = "";
const POS = ["good", "great", "fine", "nice"], NEG = ["bad", "awful", "poor", "sad"], FILL = ["the", "film", "was", "a", "story", "very", "and", "it", "plot", "acting"];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "electra-eval-"));
  const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ...POS, ...NEG, ...FILL];
  const cfg = (h: number, heads: number) => ({ vocab_size: vocab.length, embedding_size: 32, hidden_size: h, num_hidden_layers: 2, num_attention_heads: heads, intermediate_size: 2 * h, max_position_embeddings: 64 });
  const p = new (native().Pretrainer)(JSON.stringify({ discriminator: cfg(64, 2), generator: cfg(32, 1), special_ids: { pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 } }));
  p.initWeights(0.02);
  model = join(dir, "discriminator");
  p.saveModels(model, join(dir, "generator"));
  writeFileSync(join(model, "vocab.txt"), vocab.join("\n") + "\n");
  // SST-2 layout: header "sentence\tlabel"; test: "index\tsentence"
  let s = 3;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const pick = <T>(a: T[]) => a[Math.floor(rnd() * a.length)];
  const sentence = (label: number) => {
    const w = Array.from({ length: 6 + Math.floor(rnd() * 6) }, () => pick(FILL));
    w.splice(Math.floor(rnd() * w.length), 0, pick(label ? POS : NEG));
    return w.join(" ") + " .";
  };
  glue = join(dir, "glue");
  mkdirSync(join(glue, "SST-2"), { recursive: true });
  const rows = (n: number, biasPos: number) => Array.from({ length: n }, () => (rnd() < biasPos ? 1 : 0)).map((l) => `${sentence(l)}\t${l}`);
  writeFileSync(join(glue, "SST-2", "train.tsv"), ["sentence\tlabel", ...rows(400, 0.6)].join("\n") + "\n");
  writeFileSync(join(glue, "SST-2", "dev.tsv"), ["sentence\tlabel", ...rows(100, 0.6)].join("\n") + "\n");
  writeFileSync(join(glue, "SST-2", "test.tsv"), ["index\tsentence", ...Array.from({ length: 20 }, (_, i) => `${i}\t${sentence(i % 2)}`)].join("\n") + "\n");
});

describe("electra eval", () => {
  it("fine-tunes, beats the majority class, and writes results, predictions and a submission", () => {
    const out = join(dir, "out");
    const r = runCli(["eval", "--model", model, "--task", "sst2", "--data-dir", glue, "--out", out, "--epochs", "6", "--lr", "1e-3", "--seeds", "2", "--save", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const res = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    const t = res.tasks.sst2;
    expect(t.n_train).toBe(400);
    expect(t.n_dev.dev).toBe(100);
    expect(t.seeds).toHaveLength(2);
    const dev = readFileSync(join(glue, "SST-2", "dev.tsv"), "utf8").trim().split("\n").slice(1).map((l) => Number(l.split("\t")[1]));
    const majority = Math.max(dev.filter((l) => l === 1).length, dev.filter((l) => l === 0).length);
    expect(t.median.sst2.accuracy).toBeGreaterThan(majority + 5); // percent vs count of 100
    expect(res.glue_score).toBeCloseTo(t.median.sst2.accuracy, 6);
    const preds = readFileSync(join(out, "predictions", "sst2-dev.tsv"), "utf8").trim().split("\n");
    expect(preds[0]).toBe("index\tprediction\tlabel");
    expect(preds).toHaveLength(101);
    const sub = readFileSync(join(out, "submission", "SST-2.tsv"), "utf8").trim().split("\n");
    expect(sub[0]).toBe("index\tprediction");
    expect(sub).toHaveLength(21);
    expect(sub.slice(1).every((l) => /^\d+\t[01]$/.test(l))).toBe(true);
    const saved = JSON.parse(readFileSync(join(out, "models", "sst2", "config.json"), "utf8"));
    expect(saved.architectures).toEqual(["ElectraForSequenceClassification"]);
    expect(saved.id2label).toEqual({ 0: "0", 1: "1" });
    expect(r.stdout).toContain("| sst2 |");
  });

  it("runs every task on miniature GLUE files: reads, trains, scores and writes all submissions (AX by the MNLI model)", () => {
    const out = join(dir, "all");
    const r = runCli(["eval", "--model", model, "--task", "all", "--data-dir", join(repoRoot, "test", "fixtures", "glue"), "--out", out, "--epochs", "1", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const res = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    expect(Object.keys(res.tasks).sort()).toEqual(["cola", "mnli", "mrpc", "qnli", "qqp", "rte", "sst2", "stsb", "wnli"]);
    expect(Object.keys(res.tasks.mnli.median).sort()).toEqual(["mnli-m", "mnli-mm"]);
    expect(Object.keys(res.tasks.stsb.median.stsb).sort()).toEqual(["pearson", "spearman"]);
    expect(Number.isFinite(res.glue_score)).toBe(true);
    for (const f of ["CoLA", "SST-2", "MRPC", "STS-B", "QQP", "MNLI-m", "MNLI-mm", "QNLI", "RTE", "WNLI", "AX"])
      expect(existsSync(join(out, "submission", `${f}.tsv`))).toBe(true);
    const ax = readFileSync(join(out, "submission", "AX.tsv"), "utf8").trim().split("\n");
    expect(ax[0]).toBe("index\tprediction");
    expect(ax.slice(1).every((l) => /\t(entailment|neutral|contradiction)$/.test(l))).toBe(true);
  });

  it("explains bad input", () => {
    expect(runCli(["eval", "--model", model, "--task", "nope", "--data-dir", glue]).stderr).toMatch(/nope/);
    const missing = runCli(["eval", "--model", model, "--task", "rte", "--data-dir", glue, "--out", join(dir, "o2")]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/RTE/);
    expect(runCli(["eval", "--model", join(dir, "none"), "--task", "sst2", "--data-dir", glue]).stderr).toMatch(/not a model directory/);
    const bad = join(dir, "badglue");
    mkdirSync(join(bad, "SST-2"), { recursive: true });
    writeFileSync(join(bad, "SST-2", "train.tsv"), "sentence\tlabel\ngood film\t1\nbad film\t7\n");
    writeFileSync(join(bad, "SST-2", "dev.tsv"), "sentence\tlabel\ngood film\t1\n");
    expect(runCli(["eval", "--model", model, "--task", "sst2", "--data-dir", bad, "--out", join(dir, "o3")]).stderr).toMatch(/train\.tsv:3/);
  });
});

describe.skipIf(!hasSharedData)("electra eval on real GLUE files (needs ../shared/data)", () => {
  it("reads, trains briefly and scores RTE and STS-B", () => {
    const out = join(dir, "real");
    const r = runCli(["eval", "--model", model, "--task", "rte,stsb", "--data-dir", join(sharedData, "glue"), "--out", out, "--train-limit", "64", "--epochs", "1", "--json"]);
    expect(r.stderr).toBe("");
    const res = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    expect(res.tasks.rte.n_dev.dev).toBe(277);
    expect(res.tasks.stsb.n_dev.dev).toBe(1500);
    expect(existsSync(join(out, "submission", "RTE.tsv"))).toBe(true);
    expect(readFileSync(join(out, "submission", "RTE.tsv"), "utf8").trim().split("\n")).toHaveLength(3001);
    void repoRoot;
  });
});
