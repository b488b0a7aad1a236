// Hugging Face layout: a directory in the format transformers writes (fixture made by the committed
// reference script native/test/golden/hf_fixture.py) loads here with the reference's logits; what this
// project writes passes the reference's strict key/shape check (when python3-torch is installed).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { native } from "../src/native/binding.js";
import { repoRoot, runCli } from "./helpers.js";

const fixture = join(repoRoot, "test", "fixtures", "hf-tiny");
const expected = JSON.parse(readFileSync(join(fixture, "expected.json"), "utf8"));

function relErr(a: ArrayLike<number>, b: number[]): number {
  let d = 0, n = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / n);
}

describe("a Hugging Face model directory", () => {
  it("loads and gives the reference's discriminator logits (batch with padding)", async () => {
    const d = new (native().Discriminator)(join(fixture, "discriminator"));
    expect(d.unexpected).toEqual([]); // position_ids buffer is tolerated
    const B = expected.ids.length, T = expected.ids[0].length;
    const logits = await d.logits({
      inputIds: Int32Array.from(expected.ids.flat()),
      tokenTypeIds: Int32Array.from(expected.token_type_ids.flat()),
      attentionMask: Int32Array.from(expected.attention_mask.flat()),
      batchSize: B,
      seqLen: T,
    });
    // fp32 engine vs float64 reference: 1e-5 relative, as the golden tests
    expect(relErr(logits, expected.discriminator_logits.flat())).toBeLessThan(1e-5);
  });

  it("works through electra detect", () => {
    const r = runCli(["detect", "--model", join(fixture, "discriminator"), "--ids", expected.ids[0].join(" "), "--json"]);
    expect(r.code).toBe(0);
    expect(relErr(JSON.parse(r.stdout).logits, expected.discriminator_logits[0])).toBeLessThan(1e-5);
  });
});

const python = "/usr/bin/python3";
const hasTorch = existsSync(python) && spawnSync(python, ["-c", "import torch"]).status === 0;

describe.skipIf(!hasTorch)("what electra writes, read by the reference (needs python3-torch)", () => {
  it("has exactly Hugging Face's tensor names and the same logits", async () => {
    const root = mkdtempSync(join(tmpdir(), "electra-hf-"));
    const cfg = (h: number, heads: number) => ({
      vocab_size: 64, embedding_size: 16, hidden_size: h, num_hidden_layers: 2, num_attention_heads: heads,
      intermediate_size: 2 * h, max_position_embeddings: 32,
    });
    const p = new (native().Pretrainer)(JSON.stringify({ discriminator: cfg(32, 4), generator: cfg(8, 2), special_ids: { pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 } }));
    p.initWeights(0.3);
    p.saveModels(join(root, "discriminator"), join(root, "generator"));
    const ids = [2, 10, 11, 12, 3, 20, 21, 3];
    for (const kind of ["discriminator", "generator"]) {
      const r = spawnSync(python, [join(repoRoot, "native/test/golden/hf_fixture.py"), "check", join(root, kind), "--kind", kind, "--ids", ids.join(" "), "--token-type-ids", "0 0 0 0 0 1 1 1"], { encoding: "utf8" });
      expect(r.stderr + r.stdout).not.toMatch(/missing|unexpected/i);
      expect(r.status).toBe(0);
      if (kind === "discriminator") {
        const ref = JSON.parse(r.stdout.trim().split("\n").pop()!).logits.flat();
        const ours = JSON.parse(runCli(["detect", "--model", join(root, kind), "--ids", ids.join(" "), "--type-ids", "0 0 0 0 0 1 1 1", "--json"]).stdout).logits;
        expect(relErr(ours, ref)).toBeLessThan(1e-5);
      }
    }
  });
});
