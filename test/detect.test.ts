import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { native } from "../src/native/binding.js";
import { runCli } from "./helpers.js";

const tinyConfig = (hidden: number, heads: number, ffn: number) => ({
  vocab_size: 120, embedding_size: 16, hidden_size: hidden, num_hidden_layers: 2, num_attention_heads: heads,
  intermediate_size: ffn, hidden_act: "gelu", hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 32, type_vocab_size: 2, layer_norm_eps: 1e-12,
});

let root = "";
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "electra-detect-"));
  const p = new (native().Pretrainer)(JSON.stringify({
    discriminator: tinyConfig(32, 2, 64), generator: tinyConfig(16, 1, 32),
    special_ids: { pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 }, seed: 5,
  }));
  p.initWeights(0.2);
  p.saveModels(join(root, "discriminator"), join(root, "generator"));
  const special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
  writeFileSync(join(root, "discriminator", "vocab.txt"), Array.from({ length: 120 }, (_, i) => special[i] ?? `tok${i}`).join("\n") + "\n");
});

describe("electra detect", () => {
  it("--json gives one logit and probability per token", () => {
    const r = runCli(["detect", "--model", join(root, "discriminator"), "--ids", "2 17 18 19 3", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.ids).toEqual([2, 17, 18, 19, 3]);
    expect(o.logits).toHaveLength(5);
    expect(o.probs).toHaveLength(5);
    o.logits.forEach((l: number, i: number) => expect(o.probs[i]).toBeCloseTo(1 / (1 + Math.exp(-l)), 6));
    // the same ids twice give the same answer (no dropout at inference)
    const again = JSON.parse(runCli(["detect", "--model", join(root, "discriminator"), "--ids", "2 17 18 19 3", "--json"]).stdout);
    expect(again.logits).toEqual(o.logits);
  });

  it("shows a table with the vocabulary's tokens", () => {
    const r = runCli(["detect", "--model", join(root, "discriminator"), "--ids", "2,17,3"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("tok17");
    expect(r.stdout).toMatch(/p\(replaced\)/);
  });

  it("writes Hugging Face's layout for both halves", () => {
    const cfg = JSON.parse(readFileSync(join(root, "generator", "config.json"), "utf8"));
    expect(cfg.architectures).toEqual(["ElectraForMaskedLM"]);
    expect(cfg.model_type).toBe("electra");
    expect(cfg.hidden_size).toBe(16);
  });

  it("--text tokenizes with the model's vocab.txt", () => {
    const r = runCli(["detect", "--model", join(root, "discriminator"), "--text", "tok17 tok18", "--json"]);
    expect(r.stderr).toBe("");
    // [CLS]=2 ... [SEP]=3 with a vocabulary whose specials sit at 0..4
    expect(JSON.parse(r.stdout).ids).toEqual([2, 17, 18, 3]);
    const noVocab = runCli(["detect", "--model", join(root, "generator"), "--text", "hello"]);
    expect(noVocab.stderr).toMatch(/has no vocab\.txt/);
  });

  it("explains bad input", () => {
    const noDir = runCli(["detect", "--model", join(root, "nope"), "--ids", "1 2"]);
    expect(noDir.code).not.toBe(0);
    expect(noDir.stderr).toMatch(/not a model directory/);
    const badId = runCli(["detect", "--model", join(root, "discriminator"), "--ids", "2 999 3"]);
    expect(badId.code).not.toBe(0);
    expect(badId.stderr).toMatch(/outside the model's vocabulary/);
    const notNum = runCli(["detect", "--model", join(root, "discriminator"), "--ids", "2 x 3"]);
    expect(notNum.stderr).toMatch(/entry 2/);
    const gen = runCli(["detect", "--model", join(root, "generator"), "--ids", "2 3"]);
    expect(gen.code).not.toBe(0);
    expect(gen.stderr).toMatch(/not a discriminator/);
  });
});
